"""Jobs, schedules and sensors: the nightly ingest, the inbox watcher and the run-failure alert.

Scheduled and sensor runs never judge "as of" a date nobody chose: each run request carries the
as-of date in its run config (and the `zhengai/as_of` tag), taken from `ZHENGAI_AS_OF` (environment
or the home's settings.env; `make demo` pins the demo's date there), else the day of the run.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import dagster as dg

from pipelines.files import atomic_write_text
from pipelines.listing import InboxListing, list_inbox
from pipelines.registry import load_registry
from pipelines.runinputs import (
    digest_inbox,
    forget_inputs,
    nothing_changed,
    record_inputs,
    run_fingerprint,
    skip_message,
)
from pipelines.runlock import run_in_progress
from pipelines.settings import TIMEZONE, alert_webhook, configured_as_of, get_settings, now_local

NIGHTLY_JOB = "nightly"
AS_OF_TAG = "zhengai/as_of"
INPUTS_TAG = "zhengai/inputs"  # the fingerprint of what a scheduled or sensor run reads (pipelines/runinputs.py)
SCHOOL_TAG = "zhengai/school"  # a `zhengai run --school` run: which college the data officer re-ran it for
WEBHOOK_TIMEOUT_SECONDS = 10


def nightly_run_config(as_of: dt.date | None, log_level: str = "INFO") -> dict:
    return {
        "resources": {"run_options": {"config": {"as_of": as_of.isoformat() if as_of else ""}}},
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }


def scheduled_run_request(day: dt.date, run_key: str | None = None) -> dg.RunRequest | dg.SkipReason:
    """A run judged as of the configured date, else `day` (the day the schedule or sensor fires),
    tagged with the fingerprint of its inputs; skipped when they are the last successful run's."""
    as_of = configured_as_of() or day
    inputs = run_fingerprint(as_of)
    if nothing_changed(inputs):
        return dg.SkipReason(skip_message(inputs))
    tags = {AS_OF_TAG: as_of.isoformat(), **({INPUTS_TAG: inputs} if inputs else {})}
    return dg.RunRequest(run_key=run_key, run_config=nightly_run_config(as_of), tags=tags)


def build_nightly_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        NIGHTLY_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest new exports, check them, rebuild indicators, warnings and the site, publish.",
    )


def why_not_run(instance) -> str | None:
    """The one-line reason a run must not start now (a run in progress, an unusable registry), or None."""
    busy = run_in_progress(instance)
    if busy:
        return busy
    try:
        configured_as_of()
    except ValueError as error:
        return str(error)
    try:
        load_registry()
    except (FileNotFoundError, ValueError) as error:
        return str(error)
    return None


def build_nightly_schedule(job) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="nightly_at_0200",
        job=job,
        cron_schedule="0 2 * * *",
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every night at 02:00 Asia/Shanghai; skipped while a run is in progress or the registry is refused.",
    )
    def nightly_at_0200(context: dg.ScheduleEvaluationContext):
        reason = why_not_run(context.instance)
        if reason:
            return dg.SkipReason(reason)
        return scheduled_run_request(now_local().date())  # evaluated at 02:00 Asia/Shanghai: that day

    return nightly_at_0200


def inbox_fingerprint(listing: InboxListing | None = None) -> str | None:
    """A digest of every file in the inbox (path, size, mtime), or None when the inbox is empty.
    `listing`: the one `zhengai run` took (`pipelines.listing`), else the inbox is listed here."""
    listing = listing or list_inbox(get_settings().inbox)  # the inbox folder itself may be a link to a share
    return digest_inbox(listing).files


def record_ingested_inbox(fingerprint: str | None) -> None:
    """After a successful `zhengai run`: the inbox it read, so the sensor does not start a run for it again."""
    path = get_settings().ingested_inbox
    if fingerprint:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, fingerprint)


def ingested_inbox() -> str | None:
    path = get_settings().ingested_inbox
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def build_inbox_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="inbox_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts a run when files in $ZHENGAI_HOME/inbox are added or changed.",
    )
    def inbox_sensor(context: dg.SensorEvaluationContext):
        fingerprint = inbox_fingerprint()
        if fingerprint is None:
            return dg.SkipReason(f"inbox {get_settings().inbox} is empty")
        if fingerprint == context.cursor:
            return dg.SkipReason("inbox unchanged since the last run request")
        if fingerprint == ingested_inbox():
            # `make demo` or a data officer's `zhengai run` already read exactly these files.
            return dg.SkipReason("收件箱自上次 zhengai run 以来未变 / inbox unchanged since the last zhengai run")
        reason = why_not_run(context.instance)
        if reason:
            # The cursor stays: the same files start a run once the lock is free and the registry usable.
            return dg.SkipReason(reason)
        request = scheduled_run_request(now_local().date(), run_key=fingerprint)
        if isinstance(request, dg.RunRequest):
            context.update_cursor(fingerprint)
        return request

    return inbox_sensor


def failure_message(run: dg.DagsterRun, error: str) -> str:
    as_of = run.tags.get(AS_OF_TAG, "当天 / today")
    first_line = (error or "").strip().splitlines()[0] if (error or "").strip() else "（无错误信息）"
    return (
        f"【诊改数据平台】运行失败 / run failed：{now_local():%Y-%m-%d %H:%M:%S}，作业 {run.job_name}，"
        f"运行 {run.run_id}，判定日期 {as_of}。原因：{first_line[:300]}。"
        f"请在 zhengai ui 中查看该运行的日志，修正后重新运行 zhengai run。"
    )


def append_failure_log(message: str) -> None:
    path = get_settings().failure_log
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(message.replace("\n", " ") + "\n")


def post_webhook(url: str, message: str) -> None:
    """POST a text message in the JSON both 企业微信 and 钉钉 group robots accept: {"msgtype": "text", ...}."""
    body = json.dumps({"msgtype": "text", "text": {"content": message}}, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        response.read()


def build_run_success_record() -> dg.SensorDefinition:
    @dg.run_status_sensor(
        name="run_inputs_record",
        run_status=dg.DagsterRunStatus.SUCCESS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        monitor_all_code_locations=False,
        description="After a scheduled or sensor run succeeded: records the fingerprint of the inputs it read, "
        "so that the next one is skipped while nothing changed (pipelines/runinputs.py).",
    )
    def run_inputs_record(context: dg.RunStatusSensorContext):
        inputs = context.dagster_run.tags.get(INPUTS_TAG)
        if inputs:
            record_inputs(inputs)

    return run_inputs_record


def build_run_failure_alert() -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alert",
        default_status=dg.DefaultSensorStatus.RUNNING,
        monitor_all_code_locations=False,
        description="Appends each failed run to $ZHENGAI_HOME/logs/run-failures.log and, where "
        "ZHENGAI_ALERT_WEBHOOK is set, posts it to that 企业微信/钉钉 group robot.",
    )
    def run_failure_alert(context: dg.RunFailureSensorContext):
        forget_inputs()  # a failed run never makes the next one skip
        message = failure_message(context.dagster_run, context.failure_event.message or "")
        append_failure_log(message)
        url = alert_webhook()
        if url:
            try:
                post_webhook(url, message)
            except OSError as error:
                # The log line is written: a webhook that is down must not hide the failure itself.
                append_failure_log(f"告警推送失败 / webhook post failed: {error}")
                context.log.warning(f"webhook post failed: {error}")

    return run_failure_alert
