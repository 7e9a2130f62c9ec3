"""The listings of inbox files whose bytes a committed run hashed (`raw.ingest_files`): the writing
half's memory of what it need not read again. A file is recorded only with its log rows, in the
run's transaction, and only when every table it holds loaded or was unchanged: a run that fails
records nothing, and a quarantined file is always read again (its verdict may depend on the
catalog, the aliases, the limits or the college's other files)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from pipelines.files import changed_within_tick
from pipelines.ingest.discover import Stamp
from pipelines.ingest.log import LogRow

STAMP_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("file_size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("ctime_ns", pa.int64()),
        ("inode", pa.uint64()),
        ("file_sha256", pa.string()),
        ("checked_at", pa.timestamp("us")),
    ]
)


def racy(stamp: Stamp, listed_at: int) -> bool:
    """Whether a listing is racily clean (`changed_within_tick`): such a listing is not recorded, the
    next run hashes the file."""
    _, mtime, ctime, _ = stamp
    return changed_within_tick(mtime, ctime, listed_at)


def stamps_known(conn: duckdb.DuckDBPyConnection) -> dict[str, tuple[Stamp, str]]:
    """source_file → (listing, sha256) as the last committed run recorded them. (Fetched by column:
    a nightly looks up every file of the province, 48,500 rows.)"""
    columns = conn.execute(
        "select source_file, file_size, mtime_ns, ctime_ns, inode, file_sha256 from raw.ingest_files"
    ).to_arrow_table()
    source, size, mtime, ctime, inode, sha = (column.to_pylist() for column in columns.columns)
    return dict(zip(source, zip(zip(size, mtime, ctime, inode), sha)))


def stamps_to_record(rows: list[LogRow], listings: dict[str, Stamp]) -> dict[str, tuple[Stamp, str]]:
    """The files of a batch of log rows to remember: listed safely, hashed, nothing quarantined."""
    recorded: dict[str, tuple[Stamp, str]] = {}
    refused: set[str] = set()
    for row in rows:
        if row.status == "quarantined" or row.file_sha256 is None or row.source_file not in listings:
            refused.add(row.source_file)
        else:
            recorded[row.source_file] = (listings[row.source_file], row.file_sha256)
    return {source: stamp for source, stamp in recorded.items() if source not in refused}


def record_stamps(
    conn: duckdb.DuckDBPyConnection, rows: list[LogRow], listings: dict[str, Stamp], checked_at: dt.datetime
) -> None:
    """Replace the batch's files' listings (inside the run's transaction, beside their log rows)."""
    recorded = stamps_to_record(rows, listings)
    batch_files = pa.table({"source_file": sorted({row.source_file for row in rows})})  # noqa: F841 (read by DuckDB)
    conn.execute("delete from raw.ingest_files where source_file in (select source_file from batch_files)")
    stamp_batch = pa.Table.from_pylist(  # noqa: F841 (read by name by DuckDB's replacement scan)
        [dict(zip(STAMP_SCHEMA.names, (source, *stamp, sha, checked_at))) for source, (stamp, sha) in recorded.items()],
        schema=STAMP_SCHEMA,
    )
    conn.execute("insert into raw.ingest_files by name select * from stamp_batch")
