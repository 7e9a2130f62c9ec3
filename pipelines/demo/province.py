"""The demo province (`zhengai synth`): synthetic status-data exports for a Guangxi-like set of 高职 colleges.

`generate_province` writes one folder per college and collection year, `out/<school_code>/<year>/`,
holding one export per catalogued table (reference/platform_tables.csv), shaped like the
platform's Excel exports (brief, "Inbox layout"):

- row 1: the title `<学校名称> 表<code> <name_zh>（<Y-1>-<Y>学年）`, merged across every column;
- a one-level header (row 2) or, when the chosen header texts contain `/`, a two-level merged
  header (rows 2–3); the first column is `序号`; header texts are picked from the catalog's
  alternatives and drift between years;
- data rows, then for some row-per-entity tables a final `合计` row (not a data row);
- dates as `1985-07-12`, `1985.07`, `198507` or Excel date cells, booleans 是/否, blanks in
  optional columns as empty, `-` or (text columns) `无`;
- the workbook's core property `created` = the export time (local time, Asia/Shanghai).

Row numbers: `row_nos` in the manifest are 1-based sheet row numbers as Excel shows them (the
title is row 1), the same numbering ingest stores in `row_no`. A GBK CSV (format variant) has
the title on line 1, a one-level header on line 2 (two-level headers written `上级/下级`) and
data from line 3; its row numbers are line numbers.

Zip deliveries are `out/<school_code>_<year>.zip` with the table files at the archive root; their
manifest entries have `path` = `<school_code>_<year>.zip/<member>`, plus `archive` and `member`.

Clean data satisfy every allowed value, range and required column of
reference/platform_columns.csv and the cross-table totals (1.3.2 = Σ 7.1 在校生, 5.1/5.2 items
= totals, 实践学时 ≤ 总学时). Indicator levels are aimed at reference/thresholds.csv: most
colleges are green, some are placed between the 限制招生 and 合格 values (yellow) or beyond the
限制招生 value (red). With `defects=True` each defect kind of the brief is injected in the
latest year, each in a different college when there are enough colleges, and recorded in the
manifest. Same seed ⇒ identical bytes.

Platform generations: by default (`layouts="v2"`) every export takes the V2 layout above. With
`layouts="mixed"` a share of college-years (never one carrying a defect) is exported the way the
online 采集与管理系统 (since 2017) does, from reference/platform_crosswalk.csv and the
`online2017` rows of the catalog: its own numbering and file names (`6.2 个人其他信息.xlsx`), the
teachers split into 6.1 基本信息, 6.2 个人其他信息 and 6.3 授课情况 (one row per course) joined on
教工号, a title row and a note row, the cited sources' header texts (two-level where nested) with
units in brackets, full- or half-width brackets and line breaks inside header cells. The
manifest's `layouts` lists each college-year's layout and variants; its online files carry
`layout` and `platform_table_code`. `write_layout_fixtures` writes one small college's files in one
layout, one per table, for the ingest's tests.

Modules: names (college and person names), plan (colleges and their levels), tables (one builder
per platform table, registered by code), people (a college's staff and lists across years),
render (the V2 export shape), layouts (the online 采集与管理系统's layout), defects, workers (one
college per task), manifest (registry and manifest.json), province (this entry point).
"""

from __future__ import annotations

from pathlib import Path

from pipelines.demo.defects import plan_defects
from pipelines.demo.layouts import LAYOUT_CHOICES
from pipelines.demo.manifest import write_manifest, write_registry
from pipelines.demo.plan import School, plan_schools, plan_successions
from pipelines.demo.workers import generate_school, synth_context
from pipelines.settings import get_settings


def generate_province(
    out: Path,
    schools: int,
    years: list[int],
    seed: int,
    defects: bool,
    registry: Path | None = None,
    jobs: int = 1,
    progress=None,
    layouts: str = "v2",
) -> dict:
    """Write the demo province's exports under `out` and the registry; returns the manifest.

    `jobs` > 1 spreads the colleges over worker processes; the output is the same bytes.
    `progress`, if given, is called with one line per college. `layouts` = `mixed` exports a share
    of college-years in the online 采集与管理系统's layout (see `choose_layout`); the manifest's
    `layouts` records each college-year's layout and variants.
    """
    if layouts not in LAYOUT_CHOICES:
        raise ValueError(f"layouts must be one of {', '.join(LAYOUT_CHOICES)}")
    if schools < 1:
        raise ValueError("schools must be at least 1")
    if not years:
        raise ValueError("years must not be empty")
    years = sorted({int(year) for year in years})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    registry = Path(registry) if registry else get_settings().registry
    planned = plan_schools(schools, seed, years)
    planned, old_rows = plan_successions(planned, seed, years[0])
    plan = plan_defects(planned, seed) if defects else {}
    tasks = [(school, seed, years, out, plan.get(school.code, []), layouts) for school in planned]
    if jobs > 1:
        with synth_context().Pool(jobs) as pool:
            results = pool.imap(generate_school, tasks)
            results = list(_report(results, planned, progress))
    else:
        results = list(_report(map(generate_school, tasks), planned, progress))
    write_registry(registry, planned, old_rows)
    return write_manifest(out, seed, schools, years, planned, plan, results)


def _report(results, planned: list[School], progress):
    for number, result in enumerate(results, start=1):
        if progress:
            school = planned[number - 1]
            rows = sum(entry["rows"] for entry in result["files"])
            kinds = sorted({record["kind"] for record in result["defects"]})
            progress(
                f"[{number:>3}/{len(planned)}] {school.code} {school.name_zh} ({school.school_type}, {school.ownership}): "
                f"{len(result['files'])} files, {rows} rows" + (f", defects: {', '.join(kinds)}" if kinds else "")
            )
        yield result


def parse_years(text: str) -> list[int]:
    """`2022-2024`, `2022,2024` or `2024` → a list of collection years."""
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            start, end = (int(value) for value in part.split("-", 1))
            if end < start:
                raise ValueError(f"year range {part!r} runs backwards")
            years.update(range(start, end + 1))
        elif part:
            years.add(int(part))
    if not years:
        raise ValueError(f"no years in {text!r}")
    return sorted(years)
