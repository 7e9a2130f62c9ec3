"""What `zhengai run` tells a data officer: a one-line preflight, a line per step, a Chinese summary.

The preflight checks, before Dagster starts, what would otherwise end in pages of Dagster errors:
the data home exists and is writable, the registry is usable, no other run holds the lock. The step
lines come from the run's own events as the instance stores them (an event listener, called in the
run's thread: no second reader polling the event log, whose SQLite connections the run's own writes
would wait for), so they show every stage, with row counts and times. The summary counts
`quality.issues` by severity, the same counts the province quality page shows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.registry import Registry, load_registry
from pipelines.runlock import RunInProgress, lock_path, read_holder
from pipelines.settings import get_settings

ROW_KEYS = ("dagster/row_count", "rows", "pages", "files")


class PreflightError(ValueError):
    """A run cannot start; the message is one Chinese line (English beside it)."""


def check_home(home: Path) -> None:
    if not home.is_dir():
        raise PreflightError(
            f"数据目录 {home} 不存在：请检查 ZHENGAI_HOME，或先放入院校名册和导出文件 / data home {home} does not exist"
        )
    if not os.access(home, os.W_OK | os.X_OK):
        raise PreflightError(f"数据目录 {home} 不可写：请检查目录权限 / data home {home} is not writable")


def check_lock_free() -> None:
    """Fail at once when another process holds the run lock (probing it takes and drops it)."""
    import fcntl

    path = lock_path()
    if not path.exists():
        return
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgress(read_holder(fd)) from None
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def preflight() -> Registry:
    """Home, registry, lock: the first problem as one line (PreflightError, RegistryError or RunInProgress)."""
    check_home(get_settings().home)
    registry = load_registry()
    check_lock_free()
    return registry


@dataclass
class StepLine:
    started: float | None = None
    rows: int = 0
    assets: int = 0
    checks: int = 0
    failed_checks: int = 0


@dataclass
class StepProgress:
    """Prints a line as each step of run `run_id` ends, from the events the instance stores for it."""

    instance: object
    run_id: str
    print_line: object = print
    done: int = 0
    total: int | None = None
    steps: dict[str, StepLine] = field(default_factory=dict)
    listening: bool = False

    def __enter__(self) -> StepProgress:
        self.instance.add_event_listener(self.run_id, self.hear)
        self.listening = True
        return self

    def hear(self, entry) -> None:
        try:
            self.handle(entry)
        except Exception:
            # the lines are a courtesy: a failure to print them must never become the run's failure
            self.listening = False

    def __exit__(self, *exc) -> None:
        # the instance keeps its listeners per run id: once the run has ended, ours hears nothing more
        self.listening = False

    def step_total(self) -> int | None:
        if self.total is None:
            run = self.instance.get_run_by_id(self.run_id)
            if run is not None and run.execution_plan_snapshot_id:
                snapshot = self.instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
                self.total = len(snapshot.steps)
        return self.total

    def handle(self, entry) -> None:
        event = entry.dagster_event
        if not self.listening or event is None or not event.step_key:
            return
        line = self.steps.setdefault(event.step_key, StepLine())
        kind = event.event_type_value
        if kind == "STEP_START":
            line.started = entry.timestamp
        elif kind == "ASSET_MATERIALIZATION":
            line.assets += 1
            line.rows += materialized_rows(event.event_specific_data.materialization.metadata)
        elif kind == "ASSET_CHECK_EVALUATION":
            line.checks += 1
            line.failed_checks += not event.event_specific_data.passed
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            self.done += 1
            seconds = entry.timestamp - (line.started or entry.timestamp)
            total = self.step_total()
            position = f"[{self.done:>2}/{total}]" if total else f"[{self.done:>2}]"
            if kind == "STEP_SUCCESS":
                self.print_line(f"  {position} {event.step_key:<44} {seconds:6.1f} s  {step_counts(line)}")
            else:
                reason = root_cause(event.event_specific_data.error)
                self.print_line(f"  {position} {event.step_key:<44} {seconds:6.1f} s  失败 / FAILED: {reason[:200]}")


def root_cause(error) -> str:
    """The first line of the innermost error (Dagster wraps the asset's own exception)."""
    while error is not None and error.cause is not None:
        error = error.cause
    return (error.message.strip().splitlines() or [""])[0] if error is not None else ""


def step_counts(line: StepLine) -> str:
    parts = []
    if line.assets:
        parts.append(f"{line.assets} 表 tables, {line.rows:,} 行 rows")
    if line.checks:
        parts.append(f"检查 {line.checks} 项 checks, 发现问题 {line.failed_checks} 项 with findings")
    return "; ".join(parts) or "完成 / done"


def materialized_rows(metadata) -> int:
    for key in ROW_KEYS:
        if key in metadata:
            value = getattr(metadata[key], "value", metadata[key])
            if isinstance(value, int):
                return value
    return 0


def require_school(registry: Registry, school: str) -> None:
    if school not in registry.names():
        raise PreflightError(f"院校名册中没有学校代码 {school} / college {school} is not in the registry")


def college_lines(warehouse: Path, school: str) -> list[str]:
    """The college's line per collection year from `quality.college_year_status` of the published warehouse."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select year, health_zh, tables_delivered, errors, warnings, coalesce(reasons_zh, '') "
            "from quality.college_year_status where school_code = ? order by year",
            [school],
        ).fetchall()
    if not rows:
        return [f"院校 {school}：没有判定的年度 / no collection year judged"]
    return [
        f"院校 {school} {year} 年度：{health}，已报送 {delivered} 张表，错误 {errors} 个，提醒 {warnings} 个  {reasons[:200]}"
        for year, health, delivered, errors, warnings, reasons in rows
    ]


def quality_counts(warehouse: Path) -> dict[str, int]:
    """Problems in `quality.issues` of the published warehouse by severity (error, warn, info)."""
    counts = {"error": 0, "warn": 0, "info": 0}
    if not warehouse.is_file():
        return counts
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        try:
            rows = conn.execute("select severity, count(*) from quality.issues group by all").fetchall()
        except duckdb.CatalogException:
            return counts
    counts.update(dict(rows))
    return counts


def summary_lines(success: bool, failed_steps: list[str], seconds: float) -> list[str]:
    """The closing lines in Chinese: outcome, quality counts as the province quality page gives them, paths."""
    settings = get_settings()
    outcome = (
        "运行成功 / run succeeded" if success else "运行失败 / run FAILED（已发布的结果保持不变 / nothing published）"
    )
    lines = [f"{outcome}，用时 {seconds:.0f} 秒"]
    for step in failed_steps:
        lines.append(f"  失败的步骤 / failed step: {step}")
    if success:
        counts = quality_counts(settings.warehouse)
        quality_page = settings.site / "province" / "quality.html"
        lines += [
            f"数据质量问题 / quality issues：错误 {counts['error']} 个，提醒 {counts['warn']} 个"
            f"（quality.issues；详见 {quality_page}）",
            f"数据仓库 / warehouse：{settings.warehouse}",
            f"全区总览 / province pages：{settings.site / 'province' / 'index.html'}",
        ]
    return lines
