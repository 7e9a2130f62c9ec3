"""The Makefile is the project's interface: every module and script its targets run must exist,
so that moving a module (e.g. the suites into a package) carries `make suites` along."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def makefile_commands() -> tuple[list[str], list[str]]:
    """The modules (`python -m X`) and the scripts (`python path.py`) the Makefile runs."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return re.findall(r"python -m ([\w.]+)", text), re.findall(r"python ([\w./-]+\.py)", text)


def test_every_module_and_script_the_makefile_runs_exists():
    modules, scripts = makefile_commands()
    assert "pytest" in modules and scripts  # the patterns still read the Makefile
    assert [m for m in modules if importlib.util.find_spec(m) is None] == []
    assert [s for s in scripts if not (ROOT / s).is_file()] == []
