"""One college per task: its data, defects and files, run in a worker process (or in-process with
--jobs 1); the output depends only on the task, never on which worker ran it or when."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

from pipelines.catalog import BASE_VERSION, CatalogTable, load_catalog
from pipelines.demo.defects import DEFECT_TABLES, defect_record, inject_row_defects
from pipelines.demo.draws import rng_for
from pipelines.demo.layouts import choose_layout, write_online_year
from pipelines.demo.people import SchoolData
from pipelines.demo.plan import School
from pipelines.demo.render import deterministic_zip, export_time, file_name, render_csv, render_xlsx


@dataclass
class CollegeYear:
    """One college-year being written in the V2 layout."""

    school: School
    seed: int
    year: int
    data: dict  # year → table code → rows, as drawn (the previous year's for a stale period)
    tables: dict  # this year's rows, with the row defects injected
    kinds: list[str]  # the defect kinds of this college-year
    exported: dt.datetime
    defects: list[dict]  # records appended while writing, in the manifest's order


def generate_school(task: tuple) -> dict:
    """Write one college's folders; returns its file and defect records (runs in a worker)."""
    school, seed, years, out, kinds, layouts = task
    data = SchoolData(school, seed, years).data
    latest = max(years)
    files, defects, year_layouts = [], [], []
    for year in years:
        if school.active_from and year < school.active_from:
            continue
        year_kinds = kinds if year == latest else []
        if "not_submitted" in year_kinds:
            defects.append(
                defect_record("not_submitted", school.code, year, None, None, [], "最新采集年度未提交任何数据文件")
            )
            continue
        tables = {code: [dict(row) for row in rows] for code, rows in data[year].items()}
        row_defects = inject_row_defects(year_kinds, tables, rng_for(seed, "inject", school.code, year))
        session = rng_for(seed, "export", school.code, year)
        exported = export_time(session, year)
        # defects name V2 files and rows, so a college-year carrying defects keeps the V2 layout
        layout, variants = choose_layout(seed, school.code, year, layouts) if not year_kinds else (BASE_VERSION, [])
        year_layouts.append({"school_code": school.code, "year": year, "layout": layout, "variants": variants})
        if layout != BASE_VERSION:
            files += write_online_year(school, seed, year, tables, out / school.code / str(year), exported, variants)
            continue
        college_year = CollegeYear(school, seed, year, data, tables, year_kinds, exported, defects)
        files += write_v2_year(college_year, out, row_defects)
    return {"code": school.code, "files": files, "defects": defects, "layouts": year_layouts}


def write_v2_year(cy: CollegeYear, out: Path, row_defects: list[dict]) -> list[dict]:
    """Write one college-year in the V2 layout (a folder, or a zip for the zip variant); returns its
    manifest file entries and appends its defect records to `cy.defects`."""
    school, year = cy.school, cy.year
    zipped = "zip_delivery" in cy.kinds
    members: list[tuple[str, bytes]] = []
    folder = out / school.code / str(year)
    first_rows: dict[str, int] = {}
    files = []
    for order, table in enumerate(load_catalog().tables):
        made = render_v2_file(cy, table, order)
        if made is None:
            continue
        entry, content, first_rows[table.code] = made
        name = entry["member"]
        if zipped:
            archive = f"{school.code}_{year}.zip"
            entry.update(path=f"{archive}/{name}", archive=archive)
            members.append((name, content))
        else:
            entry["member"] = None
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
        files.append(entry)
    for found in row_defects:
        first = first_rows[found["table_code"]]
        cy.defects.append(
            defect_record(
                found["kind"],
                school.code,
                year,
                found["table_code"],
                found["column_name"],
                [first + index for index in found["indexes"]],
                found["description_zh"],
            )
        )
    if zipped:
        (out / f"{school.code}_{year}.zip").write_bytes(deterministic_zip(members, cy.exported))
        cy.defects.append(
            defect_record(
                "zip_delivery",
                school.code,
                year,
                None,
                None,
                [],
                f"{year} 年度数据以 zip 压缩包 {school.code}_{year}.zip 提交（格式变体，应正常导入）",
            )
        )
    return files


def render_v2_file(cy: CollegeYear, table: CatalogTable, order: int) -> tuple[dict, bytes, int] | None:
    """One table's file with this college-year's file-level defects applied: (manifest entry with the
    file name as `member`, content, first data row), or None when the table is not delivered."""
    school, year, kinds = cy.school, cy.year, cy.kinds
    rng = rng_for(cy.seed, "render", school.code, year, table.code)
    rows = cy.tables.get(table.code, [])
    if not table.required and not rows and rng.random() < 0.5:
        return None
    if "missing_table" in kinds and table.code == DEFECT_TABLES["missing_table"]:
        cy.defects.append(
            defect_record(
                "missing_table", school.code, year, table.code, None, [], f"必填表 {table.code} {table.name_zh} 未提交"
            )
        )
        return None
    created = cy.exported + dt.timedelta(seconds=37 * order + rng.randrange(30))
    period_year = year
    if "stale_period" in kinds and table.code == DEFECT_TABLES["stale_period"]:
        period_year = year - 1
        rows = cy.data[year - 1].get(table.code, [])
        cy.defects.append(
            defect_record(
                "stale_period",
                school.code,
                year,
                table.code,
                None,
                [],
                f"表题学年为 {year - 2}-{year - 1} 学年，是上一年度的数据",
            )
        )
    if "late_export" in kinds and table.code == DEFECT_TABLES["late_export"]:
        created = export_time(rng, year, late=True)
        cy.defects.append(
            defect_record(
                "late_export",
                school.code,
                year,
                table.code,
                None,
                [],
                f"导出时间 {created:%Y-%m-%d %H:%M} 晚于采集截止日期",
            )
        )
    as_csv = "gbk_csv" in kinds and table.code == DEFECT_TABLES["gbk_csv"]
    if as_csv:
        rendered = render_csv(school, table, rows, period_year, rng)
        cy.defects.append(
            defect_record(
                "gbk_csv",
                school.code,
                year,
                table.code,
                None,
                [],
                "该表以 GBK 编码的 CSV 文件提交（格式变体，应正常导入）",
            )
        )
    else:
        rendered = render_xlsx(school, table, rows, period_year, created, rng)
    content = rendered.content
    if "corrupt_file" in kinds and table.code == DEFECT_TABLES["corrupt_file"]:
        content = content[: len(content) // 2]
        cy.defects.append(
            defect_record("corrupt_file", school.code, year, table.code, None, [], "文件被截断，无法作为 xlsx 打开")
        )
    name = file_name(table, as_csv)
    entry = {
        "path": f"{school.code}/{year}/{name}",
        "school_code": school.code,
        "year": year,
        "table_code": table.code,
        "rows": rendered.rows,
        "format": "csv" if as_csv else "xlsx",
        "period_year": period_year,
        "exported_at": None if as_csv else created.isoformat(),
        "archive": None,
        "member": name,
    }
    return entry, content, rendered.first_data_row


def synth_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that has imported this module: a plain fork of a process
    with other threads (pytest's, Dagster's) can copy a held lock into the child and hang it."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context
