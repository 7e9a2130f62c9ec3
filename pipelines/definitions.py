"""The single Dagster entry point, wired by hand. Built lazily: nothing runs at import.

Project-wide policy is applied here, once: each layer's modules get their layer's key prefix and
group name (layer = asset group = DuckDB schema), and every asset its owners, and every table asset
its `dagster/table_name` (and, for the raw tables, the column schema from the platform catalog).
"""

from __future__ import annotations

from types import ModuleType

import dagster as dg

from assets import college_status, mart, public, quality, raw, ref, review, site
from assets.publication import build_published_warehouse, build_staged_copies
from assets.publish import PUBLISHED_SCHEMAS
from pipelines.catalog import CatalogColumn, load_catalog, raw_table_columns
from pipelines.quality.asset_checks import build_asset_checks
from pipelines.resources import RunOptions, WarehouseResource
from pipelines.schedules import (
    build_inbox_sensor,
    build_nightly_job,
    build_nightly_schedule,
    build_run_failure_alert,
    build_run_success_record,
)

# Layer → the modules defining its assets. The review tables join the mart layer openly (see assets/review.py),
# the per-college health view the quality layer (assets/college_status.py).
LAYERS: dict[str, tuple[ModuleType, ...]] = {
    "ref": (ref,),
    "quality": (quality, college_status),
    "mart": (mart, review),
    "site": (site,),
    "public": (public,),
}
# Who answers for each layer's assets: the secretariat edits the reference data and the review
# records; the data officers run the ingest and the quality checks; the analysts own the marts
# and the pages built from them.
OWNERS = {
    "ref": ["team:secretariat"],
    "raw": ["team:data_officers"],
    "quality": ["team:data_officers"],
    "mart": ["team:analysts"],
    "site": ["team:analysts"],
    "public": ["team:secretariat"],
    "publish": ["team:data_officers"],
}


def layer_assets(layer: str) -> list[dg.AssetsDefinition]:
    """The assets of `layer`, keyed `<layer>/<name>` and grouped as `<layer>`."""
    return list(dg.load_assets_from_modules(LAYERS[layer], group_name=layer, key_prefix=layer))


def column_description(column: CatalogColumn) -> str:
    """The column's Chinese header as exported, with its unit: `专业技术职务(最高)`, `占地面积（平方米）`."""
    header = column.headers[0] if column.headers else column.name
    return f"{header}（{column.unit}）" if column.unit else header


def raw_column_schemas() -> dict[str, dg.TableSchema]:
    """Each raw table's columns as the platform catalog types and names them, then the lineage columns."""
    schemas = {}
    for table in load_catalog().tables:
        described = {column.name: column_description(column) for column in table.columns}
        schemas[table.table_name] = dg.TableSchema(
            columns=[
                dg.TableColumn(name, duckdb_type, description=described.get(name, "lineage (来源)"))
                for name, duckdb_type in raw_table_columns(table)
            ]
        )
    return schemas


def with_metadata(assets: list) -> list:
    """Owners on every asset; `dagster/table_name` (`schema.table`) on every DuckDB table asset; the
    catalog's column schema on the raw tables."""
    schemas = raw_column_schemas()

    def describe(spec: dg.AssetSpec) -> dg.AssetSpec:
        layer, name = spec.key.path[0], spec.key.path[-1]
        metadata = dict(spec.metadata)
        if "duckdb" in spec.kinds and layer in LAYERS.keys() | {"raw"}:
            metadata["dagster/table_name"] = f"{layer}.{name}"
            if layer == "raw" and name in schemas:
                metadata["dagster/column_schema"] = schemas[name]
        return spec.replace_attributes(owners=OWNERS.get(layer, []), metadata=metadata)

    return list(dg.map_asset_specs(describe, assets))


def build_assets() -> list:
    built = [
        *layer_assets("ref"),
        *raw.assets(),
        *layer_assets("quality"),
        *layer_assets("mart"),
        *layer_assets("site"),
        *layer_assets("public"),
    ]
    # the tables the warehouse copies hold (layer = schema): once they are built, the copies are staged
    tables = [key for asset in built for key in asset.keys if key.path[0] in PUBLISHED_SCHEMAS]
    staged = build_staged_copies(tables)
    upstream = [key for asset in [*built, staged] for key in asset.keys]
    return with_metadata([*built, staged, build_published_warehouse(upstream)])


@dg.definitions
def defs() -> dg.Definitions:
    job = build_nightly_job()
    return dg.Definitions(
        assets=build_assets(),
        asset_checks=[*build_asset_checks(), college_status.every_college_year_usable],
        jobs=[job],
        schedules=[build_nightly_schedule(job)],
        sensors=[build_inbox_sensor(job), build_run_failure_alert(), build_run_success_record()],
        resources={"warehouse": WarehouseResource(), "run_options": RunOptions()},
        executor=dg.in_process_executor,
    )
