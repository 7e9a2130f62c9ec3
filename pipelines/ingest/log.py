"""The ingest log (`raw.ingest_log`): one row per file and table per run. Its columns are declared
once, here, each beside its Arrow type (`LogRow`); `LOG_COLUMNS` and `LOG_SCHEMA` follow from it,
and tests/test_ingest_log.py checks sql/raw/ingest_log.sql against `LOG_SCHEMA`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import pyarrow as pa

STATUSES = ("loaded", "unchanged", "quarantined")
TEXT, TEXTS = pa.string(), pa.list_(pa.string())
UNMAPPED_HEADER = pa.struct(
    [("header", pa.string()), ("likely_column", pa.string()), ("samples", pa.list_(pa.string()))]
)


def column(kind: pa.DataType, **default) -> dataclasses.Field:
    """A log column: its Arrow type (the warehouse type follows from it), and a default if it has one."""
    return field(metadata={"arrow": kind}, **default)


@dataclass
class LogRow:
    source_file: str = column(TEXT)
    file_sha256: str | None = column(TEXT)
    archived_path: str | None = column(TEXT)
    school_code: str | None = column(TEXT)
    year: int | None = column(pa.int32())
    table_code: str | None = column(TEXT)
    status: str = column(TEXT)  # one of STATUSES
    rows: int = column(pa.int64())
    reason: str | None = column(TEXT)
    reason_en: str | None = column(TEXT)
    title: str | None = column(TEXT)
    period_year: int | None = column(pa.int32())
    exported_at: dt.datetime | None = column(pa.timestamp("us"))
    ingested_at: dt.datetime = column(pa.timestamp("us"))
    extra_columns: list[str] = column(TEXTS)
    coercion_failures: int = column(pa.int64())
    missing_columns: list[str] = column(TEXTS, default_factory=list)  # catalog columns the file lacks (NULL in raw)
    conversions: list[str] = column(TEXTS, default_factory=list)  # `column: unit ×factor` applied to the values
    unmapped_headers: list[dict] = column(
        pa.list_(UNMAPPED_HEADER), default_factory=list
    )  # header, likely_column, samples
    mapping_fingerprint: str | None = column(
        TEXT, default=None
    )  # the table's headers and aliases the file was mapped with
    # catalog columns the file's platform version does not export (NULL in raw, not the college's omission)
    not_exported_columns: list[str] = column(TEXTS, default_factory=list)

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, name) for name in LOG_COLUMNS)

    @classmethod
    def from_logged(cls, logged: dict, **changes) -> LogRow:
        """A row as an earlier run logged it (a dict of `LOG_COLUMNS`), with some values changed."""
        values = {name: logged.get(name) for name in LOG_COLUMNS}
        for name in LIST_COLUMNS:
            values[name] = list(values[name] or [])
        values["coercion_failures"] = values["coercion_failures"] or 0
        return cls(**{**values, **changes})


LOG_SCHEMA = pa.schema([(f.name, f.metadata["arrow"]) for f in dataclasses.fields(LogRow)])
LOG_COLUMNS = tuple(LOG_SCHEMA.names)
LIST_COLUMNS = tuple(f.name for f in LOG_SCHEMA if pa.types.is_list(f.type))


def log_table(rows: list[LogRow]) -> pa.Table:
    """Log rows as an Arrow table of `LOG_SCHEMA`, to insert by name."""
    columns = zip(*(row.as_tuple() for row in rows))
    return pa.table(dict(zip(LOG_COLUMNS, map(list, columns))), schema=LOG_SCHEMA)


@dataclass
class Summary:
    loaded: int = 0
    unchanged: int = 0
    quarantined: int = 0
    files_read: int = 0  # inbox files whose bytes were read; the others were known by their listing
    rows_loaded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    schools: set[str] = field(default_factory=set)
    processes: dict[int, tuple[float, int]] = field(default_factory=dict)  # pid → CPU seconds, peak RSS (KiB)
    chunks_read: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # pid → chunks it read

    def count(self, row: LogRow) -> None:
        setattr(self, row.status, getattr(self, row.status) + 1)
