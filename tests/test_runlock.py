"""One run at a time, and a run killed mid-way marked failed at the next start.

The other run is a real process: a child holding the run lock the way `zhengai run` does, or a
real `zhengai run` on a small generated province killed with SIGKILL once Dagster has started
its run. Every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from pipelines.cli import EXIT_BUSY, main, prepare_dagster_home
from pipelines.definitions import defs
from pipelines.demo.province import generate_province
from pipelines.resources import WarehouseResource
from pipelines.runlock import ORPHAN_MESSAGE, PID_TAG, RunInProgress, run_lock
from pipelines.settings import get_settings

TIMEOUT = 120
HOLD_LOCK = (
    "import sys\n"
    "from pipelines.runlock import run_lock\n"
    "with run_lock('zhengai run'):\n"
    "    print('held', flush=True)\n"
    "    sys.stdin.readline()\n"
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The small province's inbox and registry, generated once for the module."""
    out = tmp_path_factory.mktemp("runlock-province")
    (out / "registry").mkdir()
    generate_province(
        out / "inbox", schools=3, years=[2024], seed=5, defects=False, registry=out / "registry" / "schools.csv"
    )
    return out


@pytest.fixture
def province(zhengai_home, generated):
    """A home of its own holding a copy of the generated province, as `zhengai synth` leaves it."""
    shutil.copytree(generated, zhengai_home, dirs_exist_ok=True)
    return zhengai_home


@pytest.fixture
def other_run(province):
    """Another process holding the run lock until the test ends."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert child.stdout.readline().strip() == "held"
    yield child
    child.stdin.close()
    child.wait(timeout=TIMEOUT)


def test_a_second_zhengai_run_says_a_run_is_in_progress(other_run, capsys):
    assert main(["run", "--as-of", "2024-12-01"]) == EXIT_BUSY
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "已有一次运行正在进行" in err and f"进程 {other_run.pid}" in err
    assert __import__("re").search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d 开始", err)
    assert not get_settings().work_warehouse.exists()


def test_the_lock_is_free_again_once_its_holder_ends(other_run):
    with pytest.raises(RunInProgress), run_lock("test"):
        pass
    other_run.stdin.close()
    other_run.wait(timeout=TIMEOUT)
    with run_lock("test") as holder:
        assert holder["pid"] == os.getpid()


def test_the_schedule_and_the_sensor_skip_while_a_run_is_in_progress(other_run):
    definitions = defs()
    with dg.instance_for_test() as instance:
        schedule = definitions.resolve_schedule_def("nightly_at_0200")
        tick = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
        assert not tick.run_requests and "已有一次运行正在进行" in tick.skip_message
        sensor = definitions.resolve_sensor_def("inbox_sensor")
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert not tick.run_requests and "已有一次运行正在进行" in tick.skip_message
        other_run.stdin.close()
        other_run.wait(timeout=TIMEOUT)
        assert len(schedule.evaluate_tick(dg.build_schedule_context(instance=instance)).run_requests) == 1
        assert len(sensor.evaluate_tick(dg.build_sensor_context(instance=instance)).run_requests) == 1


def started_runs(instance) -> list:
    return instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))


def kill_a_run_mid_way() -> str:
    """Start `zhengai run` in a child, SIGKILL it once its Dagster run is stamped as running; the run's id."""
    prepare_dagster_home()
    with dg.DagsterInstance.get() as instance:  # its storage created before the child opens it too
        assert not started_runs(instance)
    zhengai = os.path.join(os.path.dirname(sys.executable), "zhengai")
    child = subprocess.Popen(
        [zhengai, "run", "--as-of", "2024-12-01"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ
    )
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            with dg.DagsterInstance.get() as instance:
                runs = [run for run in started_runs(instance) if run.tags.get(PID_TAG) == str(child.pid)]
            if runs:
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=TIMEOUT)
                return runs[0].run_id
            assert child.poll() is None, "zhengai run ended before it could be killed"
            time.sleep(0.1)
        raise TimeoutError("the run never started")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=TIMEOUT)


def test_a_killed_run_is_marked_failed_by_the_next_zhengai_run(province, capsys):
    killed = kill_a_run_mid_way()
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.STARTED
    assert main(["run", "--as-of", "2024-12-01", "--log-level", "WARNING"]) == 0
    assert f"运行 {killed} 的进程已不存在，已标记为失败" in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE
        assert not started_runs(instance)
        messages = [record.message for record in instance.all_logs(killed)]
    assert any(ORPHAN_MESSAGE in message for message in messages)


def test_a_killed_run_is_marked_failed_by_the_sensor(province):
    killed = kill_a_run_mid_way()
    sensor = defs().resolve_sensor_def("inbox_sensor")
    with dg.DagsterInstance.get() as instance:
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert len(tick.run_requests) == 1
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE


def test_a_dagster_run_holds_the_lock_through_the_warehouse_resource(zhengai_home, tmp_path):
    """A run launched by the daemon (not by `zhengai run`) takes the lock when it first needs the warehouse."""
    probe = [sys.executable, "-c", "from pipelines.runlock import run_lock\nwith run_lock('probe'):\n    pass\n"]
    seen = {}

    @dg.asset
    def needs_the_warehouse(warehouse: WarehouseResource) -> None:
        seen["during"] = subprocess.run(probe, capture_output=True, text=True, env=os.environ)

    resource = WarehouseResource(path=str(tmp_path / "work.duckdb"))
    assert dg.materialize([needs_the_warehouse], resources={"warehouse": resource}).success
    assert seen["during"].returncode != 0 and "RunInProgress" in seen["during"].stderr
    assert subprocess.run(probe, env=os.environ).returncode == 0  # released when the run ended
