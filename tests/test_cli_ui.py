"""`zhengai ui` as the README starts it: no run starts with an as-of date the user did not choose.

The UI runs for real (`dagster dev` in a subprocess, its daemon ticking the inbox sensor). The home
is a demo home after `make demo`: its as-of date pinned in settings.env and its inbox already read by
`zhengai run` (the recorded fingerprint). The sensor must skip that inbox; a new export then starts a
run, which must carry the pinned date, not today's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.schedules import AS_OF_TAG, inbox_fingerprint, record_ingested_inbox
from pipelines.settings import write_home_setting

PINNED = "2024-12-01"
WAIT_SECONDS = 420  # dagster dev on a shared 2-CPU machine can take minutes to start its daemon
REGISTRY = (
    "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"
    "13830,广西示例职业技术学院,理工,公办,active,,2000,\n"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, what: str, log: Path):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(2)
    pytest.fail(f"timed out waiting for {what}; dagster dev said:\n{log.read_text(errors='replace')[-3000:]}")


def sensor_ticks(instance) -> list:
    states = [state for state in instance.all_instigator_state() if state.name == "inbox_sensor"]
    return [tick for state in states for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id)]


@pytest.fixture
def demo_home(zhengai_home):
    (zhengai_home / "registry").mkdir()
    (zhengai_home / "registry" / "schools.csv").write_text(REGISTRY, encoding="utf-8")
    export = zhengai_home / "inbox" / "13830" / "2024" / "表6.1 校内专任教师.csv"
    export.parent.mkdir(parents=True)
    export.write_text("教工号,姓名\n0001,甲\n", encoding="utf-8")
    write_home_setting("ZHENGAI_AS_OF", PINNED)  # what `make demo` (`zhengai run --keep-as-of`) leaves
    record_ingested_inbox(inbox_fingerprint())
    return zhengai_home


@pytest.fixture
def ui(demo_home, tmp_path):
    log = tmp_path / "dagster-dev.log"
    zhengai = Path(sys.executable).with_name("zhengai")
    env = {**os.environ, "ZHENGAI_HOME": str(demo_home)}
    env.pop("DAGSTER_HOME", None)  # `zhengai ui` sets it to the home's dagster folder itself
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(zhengai), "ui", "--port", str(free_port())],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # its own session: dagster dev, daemon, code server, runs
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_ui_starts_no_run_for_the_read_inbox_and_runs_with_the_pinned_as_of(ui, demo_home):
    process, log = ui
    dagster_home = demo_home / "dagster"
    # Open the instance only once dagster dev has created its storage (two processes creating it race).
    wait_for(lambda: "Serving dagster-webserver" in log.read_text(errors="replace"), "the webserver", log)
    assert (dagster_home / "dagster.yaml").read_text(encoding="utf-8").startswith("# zhengai")
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1

        skipped = wait_for(lambda: sensor_ticks(instance), "the inbox sensor's first tick", log)
        assert all(tick.status.value == "SKIPPED" for tick in skipped)
        assert "zhengai run" in skipped[0].skip_reason
        assert instance.get_runs() == []

        added = demo_home / "inbox" / "13830" / "2024" / "表6.2 校内兼课人员.csv"
        added.write_text("教工号,姓名\n0002,乙\n", encoding="utf-8")
        runs = wait_for(lambda: instance.get_runs(), "a run for the new export", log)
        for run in runs:
            assert run.tags[AS_OF_TAG] == PINNED
            assert run.run_config["resources"]["run_options"]["config"]["as_of"] == PINNED
    assert process.poll() is None, "dagster dev ended by itself"
