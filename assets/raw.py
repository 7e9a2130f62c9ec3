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
FILES_KEY = dg.AssetKey(["raw", "ingest_files"])
INPUTS_KEY = dg.AssetKey(["raw", "college_year_inputs"])


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
        ),
        dg.AssetSpec(
            FILES_KEY,
            deps=CATALOG_KEYS,
            group_name="raw",
            kinds={"duckdb"},
            description="Each inbox file's listing (size, mtime, ctime, inode) when it was last hashed and loaded: "
            "a file listed the same is not read again (ZHENGAI_INGEST_REHASH=1 reads all).",
        ),
        dg.AssetSpec(
            INPUTS_KEY,
            deps=CATALOG_KEYS,
            group_name="raw",
            kinds={"duckdb"},
            description="Per college and year, fingerprints of the files its raw rows were built from and of its "
            "log rows: later steps compare them with what they last built from to redo only what changed.",
        ),
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
                    "files_read": dg.MetadataValue.int(summary.files_read),
                    "rows_loaded": dg.MetadataValue.json(dict(sorted(summary.rows_loaded.items()))),
                },
            )
            for key, table_name in ((FILES_KEY, "raw.ingest_files"), (INPUTS_KEY, "raw.college_year_inputs")):
                yield dg.MaterializeResult(asset_key=key, metadata=table_summary(conn, table_name))
            for table in catalog.tables:
                yield dg.MaterializeResult(
                    asset_key=dg.AssetKey(["raw", table.table_name]),
                    metadata={
                        **table_summary(conn, f'raw."{table.table_name}"'),
                        "rows_loaded_this_run": dg.MetadataValue.int(summary.rows_loaded.get(table.table_name, 0)),
                    },
                )

    return [raw_ingest]
