"""Jobs, schedules and sensors: the nightly ingest and the inbox watcher."""

from __future__ import annotations

import hashlib

import dagster as dg

from pipelines.registry import load_registry
from pipelines.runlock import run_in_progress
from pipelines.settings import TIMEZONE, get_settings

NIGHTLY_JOB = "nightly"


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
        return dg.SkipReason(reason) if reason else dg.RunRequest()

    return nightly_at_0200


def inbox_fingerprint() -> str | None:
    """A digest of every file in the inbox (path, size, mtime), or None when the inbox is empty."""
    inbox = get_settings().inbox
    files = sorted(p for p in inbox.rglob("*") if p.is_file()) if inbox.is_dir() else []
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(inbox)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


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
        reason = why_not_run(context.instance)
        if reason:
            # The cursor stays: the same files start a run once the lock is free and the registry usable.
            return dg.SkipReason(reason)
        context.update_cursor(fingerprint)
        return dg.RunRequest(run_key=fingerprint)

    return inbox_sensor
