"""Scheduled and sensor runs carry the chosen as-of date; a failed run is logged and posted to the webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.schedules import AS_OF_TAG, inbox_fingerprint, record_ingested_inbox
from pipelines.settings import get_settings, now_local, write_home_setting

REGISTRY = (
    "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"
    "13830,广西示例职业技术学院,理工,公办,active,,2000,\n"
)


@pytest.fixture
def home_with_inbox(zhengai_home):
    (zhengai_home / "registry").mkdir()
    (zhengai_home / "registry" / "schools.csv").write_text(REGISTRY, encoding="utf-8")
    export = zhengai_home / "inbox" / "13830" / "2024" / "表6.1 校内专任教师.csv"
    export.parent.mkdir(parents=True)
    export.write_text("教工号,姓名\n0001,甲\n", encoding="utf-8")
    return zhengai_home


def as_of_of(request: dg.RunRequest) -> str:
    config_as_of = request.run_config["resources"]["run_options"]["config"]["as_of"]
    assert request.tags[AS_OF_TAG] == config_as_of
    return config_as_of


def sensor_tick(cursor=None):
    sensor = defs().resolve_sensor_def("inbox_sensor")
    with dg.instance_for_test() as instance:
        return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))


def schedule_tick():
    schedule = defs().resolve_schedule_def("nightly_at_0200")
    with dg.instance_for_test() as instance:
        return schedule.evaluate_tick(dg.build_schedule_context(instance=instance))


def test_runs_are_judged_as_of_the_day_they_start_when_nothing_is_configured(home_with_inbox):
    today = now_local().date().isoformat()
    assert [as_of_of(request) for request in sensor_tick().run_requests] == [today]
    assert [as_of_of(request) for request in schedule_tick().run_requests] == [today]


def test_runs_carry_the_configured_as_of(home_with_inbox, monkeypatch):
    write_home_setting("ZHENGAI_AS_OF", "2024-12-01")
    assert [as_of_of(request) for request in sensor_tick().run_requests] == ["2024-12-01"]
    monkeypatch.setenv("ZHENGAI_AS_OF", "2023/12/01")
    assert [as_of_of(request) for request in schedule_tick().run_requests] == ["2023-12-01"]


def test_a_bad_as_of_setting_skips_with_its_reason(home_with_inbox, monkeypatch):
    monkeypatch.setenv("ZHENGAI_AS_OF", "12/01/2024")
    tick = sensor_tick()
    assert not tick.run_requests and "ZHENGAI_AS_OF" in tick.skip_message


def test_the_sensor_skips_the_inbox_zhengai_run_already_read(home_with_inbox):
    record_ingested_inbox(inbox_fingerprint())
    tick = sensor_tick()
    assert not tick.run_requests and "zhengai run" in tick.skip_message
    (home_with_inbox / "inbox" / "13830" / "2024" / "表6.2 校内兼课人员.csv").write_text("x\n", encoding="utf-8")
    assert len(sensor_tick().run_requests) == 1


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append({"type": self.headers["Content-Type"], "json": json.loads(body.decode("utf-8"))})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"errcode":0,"errmsg":"ok"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/webhook/send?key=test", Hook.received
    server.shutdown()
    server.server_close()


@dg.op
def fails():
    raise ValueError("院校名册无法读取")


@dg.job
def failing_job():
    fails()


def evaluate_failure_alert(instance) -> None:
    result = failing_job.execute_in_process(instance=instance, raise_on_error=False, tags={AS_OF_TAG: "2024-12-01"})
    assert not result.success
    failure = next(event for event in result.all_events if event.event_type_value == "PIPELINE_FAILURE")
    sensor = defs().resolve_sensor_def("run_failure_alert")
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    sensor(context)


def test_a_failed_run_is_logged_and_nothing_posted_without_a_webhook(zhengai_home, webhook):
    _, received = webhook
    with dg.instance_for_test() as instance:
        evaluate_failure_alert(instance)
    lines = get_settings().failure_log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and "运行失败" in lines[0] and "failing_job" in lines[0] and "2024-12-01" in lines[0]
    assert received == []


def test_a_failed_run_is_posted_to_the_configured_webhook(zhengai_home, webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv("ZHENGAI_ALERT_WEBHOOK", url)
    with dg.instance_for_test() as instance:
        evaluate_failure_alert(instance)
    assert len(received) == 1 and received[0]["type"].startswith("application/json")
    message = received[0]["json"]
    assert message["msgtype"] == "text" and "运行失败" in message["text"]["content"]
    assert message["text"]["content"] in get_settings().failure_log.read_text(encoding="utf-8")


def test_a_webhook_that_is_down_is_logged_and_does_not_hide_the_failure(zhengai_home, monkeypatch):
    monkeypatch.setenv("ZHENGAI_ALERT_WEBHOOK", "http://127.0.0.1:9/down")
    with dg.instance_for_test() as instance:
        evaluate_failure_alert(instance)
    lines = get_settings().failure_log.read_text(encoding="utf-8").splitlines()
    assert "运行失败" in lines[0] and "告警推送失败" in lines[1]
