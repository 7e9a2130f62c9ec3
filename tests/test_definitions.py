"""The code location loads, its job, schedule and sensor resolve, and publication is atomic."""

from __future__ import annotations

import os

import dagster as dg
import duckdb

from pipelines.definitions import defs
from pipelines.resources import WarehouseResource
from pipelines.schedules import NIGHTLY_JOB


def test_definitions_load_and_jobs_resolve():
    definitions = defs()
    job = definitions.resolve_job_def(NIGHTLY_JOB)
    assert job.executor_def.name == "in_process"
    keys = {key.to_user_string() for key in definitions.resolve_all_asset_keys()}
    assert {"ref/diagnostic_elements", "ref/point_platform_codes", "ref/schools", "publish/warehouse"} <= keys


def test_publication_depends_on_every_other_asset():
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    publish = dg.AssetKey(["publish", "warehouse"])
    others = {key for key in graph.get_all_asset_keys() if key != publish and graph.get(key).is_materializable}
    assert others <= graph.get(publish).parent_keys


def test_nightly_schedule_runs_at_two_in_shanghai():
    schedule = defs().resolve_schedule_def("nightly_at_0200")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "Asia/Shanghai")
    assert schedule.job_name == NIGHTLY_JOB


def test_inbox_sensor_requests_a_run_only_when_the_inbox_changes(zhengai_home):
    (zhengai_home / "registry").mkdir()
    (zhengai_home / "registry" / "schools.csv").write_text(
        "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"
        "13830,广西示例职业技术学院,理工,公办,active,,2000,\n",
        encoding="utf-8",
    )
    sensor = defs().resolve_sensor_def("inbox_sensor")
    with dg.instance_for_test() as instance:
        empty = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert not empty.run_requests and "empty" in empty.skip_message

        export = zhengai_home / "inbox" / "13830" / "2024" / "表6.1 校内专任教师.xlsx"
        export.parent.mkdir(parents=True)
        export.write_bytes(b"first")
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert len(first.run_requests) == 1

        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert not again.run_requests

        export.write_bytes(b"second export")
        os.utime(export, ns=(1, 2))
        changed = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert len(changed.run_requests) == 1 and changed.cursor != first.cursor

        (zhengai_home / "registry" / "schools.csv").write_text("school_code,name_zh\n13830,甲\n", encoding="utf-8")
        export.write_bytes(b"third export")
        refused = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=changed.cursor))
        assert not refused.run_requests and "缺少列：school_type、status" in refused.skip_message


def test_publication_replaces_the_file_without_disturbing_an_open_reader(tmp_path):
    warehouse = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    with warehouse.connect() as conn:
        conn.execute("create table t as select 1 as version")
    warehouse.publish()
    reader = duckdb.connect(str(tmp_path / "pub.duckdb"), read_only=True)
    with warehouse.connect() as conn:
        conn.execute("create or replace table t as select 2 as version")
    warehouse.publish()
    assert reader.sql("select version from t").fetchone()[0] == 1
    reader.close()
    with duckdb.connect(str(tmp_path / "pub.duckdb"), read_only=True) as fresh:
        assert fresh.sql("select version from t").fetchone()[0] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
