"""Every path and environment variable the project reads, in one place.

Nothing is read at import time: call `get_settings()` when a value is needed, so tests
and commands can point `ZHENGAI_HOME` elsewhere before the first call.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "reference"
SQL_DIR = PROJECT_ROOT / "sql"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Settings:
    home: Path

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def work_warehouse(self) -> Path:
        """The file the pipeline writes; only the pipeline process opens it."""
        return self.home / "work" / "warehouse.duckdb"

    @property
    def warehouse(self) -> Path:
        """The published copy analysts open, replaced atomically after each run."""
        return self.home / "warehouse.duckdb"

    @property
    def registry(self) -> Path:
        """The college registry the secretariat edits (CSV, UTF-8)."""
        return self.home / "registry" / "schools.csv"

    @property
    def site(self) -> Path:
        return self.home / "site"

    @property
    def exports(self) -> Path:
        return self.home / "exports"

    @property
    def tokens(self) -> Path:
        return self.home / "tokens.json"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def get_settings() -> Settings:
    home = Path(os.environ.get("ZHENGAI_HOME", "./var")).expanduser().resolve()
    return Settings(home=home)


def header_aliases_path() -> Path:
    """The header variants a data officer accepted (`reference/header_aliases.csv`), or the file
    `ZHENGAI_HEADER_ALIASES` names (a deployment that keeps it beside its data; tests)."""
    return Path(os.environ.get("ZHENGAI_HEADER_ALIASES") or REFERENCE_DIR / "header_aliases.csv")


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def collection_deadline(year: int):
    """The submission deadline of collection year `year` (`ZHENGAI_COLLECTION_DEADLINE`, MM-DD, default 10-31).

    Collection year Y covers the 学年 ending 31 August Y; its exports are due on this date of year Y.
    """
    import datetime as dt

    raw = os.environ.get("ZHENGAI_COLLECTION_DEADLINE") or "10-31"
    try:
        month, day = (int(part) for part in raw.strip().split("-"))
        return dt.date(year, month, day)
    except ValueError as error:
        raise ValueError(f"ZHENGAI_COLLECTION_DEADLINE must be MM-DD, got {raw!r}") from error


@dataclass(frozen=True)
class IngestLimits:
    """Ingest limits and parallelism (pipelines/ingest.py says what each does)."""

    zip_max_bytes: int
    zip_max_ratio: int
    zip_max_members: int
    batch_rows: int
    workers: int
    pool_min_schools: int
    chunk_bytes: int
    memory_limit: str
    archive_hardlink: bool
    file_max_bytes: int = 64 * 1024 * 1024
    workbook_max_bytes: int = 64 * 1024 * 1024
    workbook_max_ratio: int = 200
    csv_max_line_bytes: int = 65536
    csv_max_cells: int = 1_000_000

    @classmethod
    def from_env(cls) -> IngestLimits:
        return cls(
            zip_max_bytes=env_int("ZHENGAI_ZIP_MAX_BYTES", 512 * 1024 * 1024),
            zip_max_ratio=env_int("ZHENGAI_ZIP_MAX_RATIO", 200),
            zip_max_members=env_int("ZHENGAI_ZIP_MAX_MEMBERS", 2000),
            batch_rows=env_int("ZHENGAI_INGEST_BATCH_ROWS", 100_000),
            workers=env_int("ZHENGAI_INGEST_WORKERS", min(4, os.cpu_count() or 1)),
            pool_min_schools=env_int("ZHENGAI_INGEST_POOL_MIN_SCHOOLS", 3),
            chunk_bytes=env_int("ZHENGAI_INGEST_CHUNK_BYTES", 4 * 1024 * 1024),
            memory_limit=os.environ.get("ZHENGAI_INGEST_MEMORY_LIMIT", "128MB"),
            archive_hardlink=env_int("ZHENGAI_ARCHIVE_HARDLINK", 0) == 1,
            file_max_bytes=env_int("ZHENGAI_FILE_MAX_BYTES", 64 * 1024 * 1024),
            workbook_max_bytes=env_int("ZHENGAI_WORKBOOK_MAX_BYTES", 64 * 1024 * 1024),
            workbook_max_ratio=env_int("ZHENGAI_WORKBOOK_MAX_RATIO", 200),
            csv_max_line_bytes=env_int("ZHENGAI_CSV_MAX_LINE_BYTES", 65536),
            csv_max_cells=env_int("ZHENGAI_CSV_MAX_CELLS", 1_000_000),
        )


def now_local() -> dt.datetime:
    """The one clock: wall time in Asia/Shanghai, naive, to the second (the platform writes local time)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(TIMEZONE)).replace(tzinfo=None, microsecond=0)
