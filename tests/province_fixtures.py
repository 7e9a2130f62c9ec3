"""One small province run the way a data officer runs it, shared by the modules that need a real run of
it: generate 2 colleges × 2024 (seed 3, no defects), date every file an hour back (so that the run's
input listing is settled and recorded), then `zhengai run --as-of 2024-12-01` with its own Dagster home.

Session-scoped (registered in conftest.py's pytest_plugins; its modules are one unit of work there, so
it is built once): tests/test_run_inputs.py runs again in this very home (a copy would change the
inodes and ctimes its run fingerprint holds), tests/test_publish.py reads a copy of its warehouses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.demo.province import generate_province
from pipelines.files import CTIME_TICK_NS

AS_OF = "2024-12-01"
AN_HOUR_AGO = time.time() - 3600


def aged(root: Path) -> None:
    """Every file below `root` dated an hour ago, its ctime left to age past the racy window."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))
    time.sleep(CTIME_TICK_NS / 1e9 * 2)


@pytest.fixture(scope="session")
def small_province(tmp_path_factory) -> Path:
    """The home of the province after one successful `zhengai run`."""
    home = tmp_path_factory.mktemp("small-province") / "home"
    (home / "registry").mkdir(parents=True)
    generate_province(
        home / "inbox", schools=2, years=[2024], seed=3, defects=False, registry=home / "registry" / "schools.csv"
    )
    aged(home)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHENGAI_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        assert main(["run", "--as-of", AS_OF]) == 0
    return home
