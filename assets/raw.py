"""Raw layer: ingested status-data exports, one table per platform table, and the ingest log.

One multi-asset reads the inbox once (see `pipelines.ingest` for the rules) and materialises
`raw.ingest_log` and every `raw.<table_name>` of the catalog together.
"""

import dagster as dg

from pipelines.catalog import load_catalog
from pipelines.ingest import ingest_inbox
from pipelines.resources import WarehouseResource
from pipelines.settings import get_settings
from pipelines.sql import table_summary

CATALOG_KEYS = [dg.AssetKey(["ref", "platform_tables"]), dg.AssetKey(["ref", "platform_columns"])]
LOG_KEY = dg.AssetKey(["raw", "ingest_log"])


def assets() -> list:
    catalog = load_catalog()
    specs = [
        dg.AssetSpec(
            LOG_KEY,
            deps=CATALOG_KEYS,
            group_name="raw",
            kinds={"duckdb"},
            description="Every file seen in the inbox, its latest state (loaded, unchanged, quarantined), "
            "rows, reason (zh/en), title, 学年 of the title, export time and unknown columns.",
        )
    ]
    specs += [
        dg.AssetSpec(
            dg.AssetKey(["raw", table.table_name]),
            deps=CATALOG_KEYS,
            group_name="raw",
            kinds={"duckdb"},
            description=f"表{table.code} {table.name_zh}: rows as exported by each college, typed by the "
            "catalog, with lineage (school_code, year, source_file, file_sha256, ingested_at, row_no).",
        )
        for table in catalog.tables
    ]

    @dg.multi_asset(name="raw_ingest", specs=specs, can_subset=False)
    def raw_ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        """Ingest new exports from $ZHENGAI_HOME/inbox into the raw tables."""
        with warehouse.connect() as conn:
            summary = ingest_inbox(conn, get_settings(), catalog, log=context.log.info)
            yield dg.MaterializeResult(
                asset_key=LOG_KEY,
                metadata={
                    **table_summary(conn, "raw.ingest_log"),
                    "colleges": dg.MetadataValue.int(len(summary.schools)),
                    "files_loaded": dg.MetadataValue.int(summary.loaded),
                    "files_unchanged": dg.MetadataValue.int(summary.unchanged),
                    "files_quarantined": dg.MetadataValue.int(summary.quarantined),
                    "rows_loaded": dg.MetadataValue.json(dict(sorted(summary.rows_loaded.items()))),
                },
            )
            for table in catalog.tables:
                yield dg.MaterializeResult(
                    asset_key=dg.AssetKey(["raw", table.table_name]),
                    metadata={
                        **table_summary(conn, f'raw."{table.table_name}"'),
                        "rows_loaded_this_run": dg.MetadataValue.int(summary.rows_loaded.get(table.table_name, 0)),
                    },
                )

    return [raw_ingest]
