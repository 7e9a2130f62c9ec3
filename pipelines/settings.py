"""Every path and environment variable the project reads, in one place.

Nothing is read at import time: call `get_settings()` when a value is needed, so tests
and commands can point `ZHENGAI_HOME` elsewhere before the first call.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.files import atomic_write_text

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

    @property
    def home_settings(self) -> Path:
        """KEY=VALUE lines a home carries with it (the demo pins its as-of date here); the environment wins."""
        return self.home / "settings.env"

    @property
    def ingested_inbox(self) -> Path:
        """The inbox fingerprint the last successful `zhengai run` read (the inbox sensor skips it)."""
        return self.home / "work" / "ingested-inbox.sha256"

    @property
    def run_inputs(self) -> Path:
        """The fingerprint of what the last successful run read (pipelines/runinputs.py)."""
        return self.home / "work" / "run-inputs.sha256"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def failure_log(self) -> Path:
        """Run failures, one line each, appended by the run-failure sensor."""
        return self.logs / "run-failures.log"


def default_home() -> Path:
    """The data home when ZHENGAI_HOME is unset: the user's data folder, never the current directory
    (run from `/`, `./var` would have been the system's /var)."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "zhengai"


def get_settings() -> Settings:
    raw = os.environ.get("ZHENGAI_HOME")
    home = Path(raw).expanduser() if raw else default_home()
    return Settings(home=home.resolve())


def home_setting(name: str) -> str | None:
    """A setting from the environment, else from the home's settings.env (KEY=VALUE, # comments), else None."""
    if os.environ.get(name):
        return os.environ[name]
    path = get_settings().home_settings
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name and not key.lstrip().startswith("#"):
            return value.strip().strip('"') or None
    return None


def write_home_setting(name: str, value: str) -> Path:
    """Set NAME=value in the home's settings.env, keeping its other lines."""
    path = get_settings().home_settings
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    kept = [line for line in lines if line.partition("=")[0].strip() != name]
    atomic_write_text(path, "\n".join([*kept, f"{name}={value}"]) + "\n")
    return path


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")


def parse_as_of(text: str, source: str = "--as-of") -> dt.date:
    """An as-of date written YYYY-MM-DD or YYYY/MM/DD; anything else is one Chinese line."""
    for pattern in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise ValueError(
        f"{source} 日期“{text}”无法识别，请写成 YYYY-MM-DD（如 2024-12-01）或 YYYY/MM/DD / "
        f"{source} must be a date such as 2024-12-01"
    )


def configured_as_of() -> dt.date | None:
    """The as-of date scheduled and sensor runs use (ZHENGAI_AS_OF, or the home's settings.env); None = the day of the run."""
    raw = home_setting("ZHENGAI_AS_OF")
    return parse_as_of(raw, "ZHENGAI_AS_OF") if raw else None


def alert_webhook() -> str | None:
    """Where the run-failure sensor POSTs a text message (企业微信/钉钉 group robot URL), if anywhere."""
    return home_setting("ZHENGAI_ALERT_WEBHOOK")


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
    """Ingest limits and parallelism (pipelines/ingest/ says what each does)."""

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
    rehash: bool = False  # hash every inbox file, even one whose size, times and inode are as last hashed

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
            rehash=env_int("ZHENGAI_INGEST_REHASH", 0) == 1,
        )


def now_local() -> dt.datetime:
    """The one clock: wall time in Asia/Shanghai, naive, to the second (the platform writes local time)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(TIMEZONE)).replace(tzinfo=None, microsecond=0)
