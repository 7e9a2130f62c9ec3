"""The single Dagster entry point, wired by hand. Built lazily: nothing runs at import."""

from __future__ import annotations

import dagster as dg

from assets import mart, public, quality, raw, ref, review, site
from assets.publish import build_published_warehouse
from pipelines.checks import build_asset_checks
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.schedules import build_inbox_sensor, build_nightly_job, build_nightly_schedule, build_run_failure_alert


def build_assets() -> list:
    layers = [
        dg.load_assets_from_modules([ref]),
        raw.assets(),
        dg.load_assets_from_modules([quality]),
        dg.load_assets_from_modules([mart]),
        dg.load_assets_from_modules([site]),
        dg.load_assets_from_modules([review]),
        dg.load_assets_from_modules([public]),
    ]
    built = [asset for layer in layers for asset in layer]
    upstream = [key for asset in built for key in asset.keys]
    return [*built, build_published_warehouse(upstream)]


@dg.definitions
def defs() -> dg.Definitions:
    job = build_nightly_job()
    return dg.Definitions(
        assets=build_assets(),
        asset_checks=build_asset_checks(),
        jobs=[job],
        schedules=[build_nightly_schedule(job)],
        sensors=[build_inbox_sensor(job), build_run_failure_alert()],
        resources={"warehouse": WarehouseResource(), "run_options": RunOptions()},
        executor=dg.in_process_executor,
    )
