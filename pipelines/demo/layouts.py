"""Platform generations: the online 采集与管理系统's layout (reference/platform_crosswalk.csv),
next to the V2 layout of render.py; `write_layout_fixtures` writes one small college in one layout."""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter

from pipelines.catalog import (
    BASE_VERSION,
    PLATFORM_VERSIONS,
    CatalogColumn,
    load_catalog,
    load_crosswalk,
    load_header_aliases,
)
from pipelines.demo.people import SchoolData
from pipelines.demo.plan import School, plan_schools, rng_for
from pipelines.demo.render import Rendered, cell_text, file_name, file_style, render_xlsx, write_cell, write_header_rows

LAYOUT_CHOICES = ("v2", "mixed")
ONLINE_VERSION = "online2017"
ONLINE_SHARE = 0.4  # of college-years exported in the online layout under --layouts mixed
UNIT_WORDS = ("万元", "元", "平方米", "人", "人次", "册", "台", "个", "学时", "年", "月", "天", "节次", "次")
TEACHING_SHAPE = "6.3"  # the online 授课情况: one row per teacher and course


@dataclass(frozen=True)
class PlatformFile:
    """One file of a platform generation's layout: its own code and name, the V2 table its rows land
    in, and the columns it carries (a later version's shape, or the V2 table's own)."""

    layout: str
    code: str
    name_zh: str
    v2_code: str
    columns: tuple
    source: str
    confidence: str
    aliases: dict = field(default_factory=dict)  # column name -> header texts seen in real exports


def platform_files(layout: str) -> list[PlatformFile]:
    """Every file a college delivers in `layout` (V2, online2017), in catalog order."""
    catalog = load_catalog()
    if layout == BASE_VERSION:
        return [
            PlatformFile(layout, t.code, t.name_zh, t.code, t.columns, t.source, t.confidence) for t in catalog.tables
        ]
    shapes = {shape.code: shape for shape in catalog.shapes_of(layout)}
    aliases: dict[str, dict[str, tuple]] = {}
    for alias in load_header_aliases():
        seen = aliases.setdefault(alias.table_code, {})
        seen[alias.column_name] = (*seen.get(alias.column_name, ()), alias.header)
    files = []
    for entry in load_crosswalk():
        if entry.platform_version != layout:
            continue
        shape = shapes.get(entry.table_code)
        columns = shape.columns if shape else catalog.by_code(entry.v2_table_code).columns
        source = shape.source if shape else entry.source
        files.append(
            PlatformFile(
                layout,
                entry.table_code,
                entry.table_name_zh,
                entry.v2_table_code,
                columns,
                source,
                entry.confidence,
                aliases.get(entry.v2_table_code, {}),
            )
        )
    return files


def choose_layout(seed: int, school_code: str, year: int, layouts: str) -> tuple[str, list[str]]:
    """The layout (and its variants) a college-year's exports take: V2 always under `v2`."""
    if layouts == "v2":
        return BASE_VERSION, []
    rng = rng_for(seed, "layout", school_code, year)
    if rng.random() >= ONLINE_SHARE:
        return BASE_VERSION, []
    brackets = "halfwidth_brackets" if rng.random() < 0.3 else "fullwidth_brackets"
    variants = ["title_note_rows", "two_level_headers", "units_in_headers", brackets]
    if rng.random() < 0.5:
        variants.append("line_breaks")
    return ONLINE_VERSION, variants


def online_header(column: CatalogColumn, variants: list[str], rng: random.Random, seen: tuple = ()) -> str:
    """The real export's text for a column, from its cited forms (listed last in the catalog, or `seen`
    in header_aliases.csv): two-level where there is one, the unit in brackets, full- or half-width
    brackets and, sometimes, a line break in the cell."""
    options = [*column.headers, *seen]
    nested = [text for text in options if "/" in text]
    flat = [text for text in options if "/" not in text]
    text = nested[-1] if nested and ("two_level_headers" in variants or not flat) else flat[-1]
    if "units_in_headers" in variants and column.unit in UNIT_WORDS and "（" not in text and "(" not in text:
        text = f"{text}（{column.unit}）"
    if "halfwidth_brackets" in variants:
        text = text.replace("（", "(").replace("）", ")")
    else:
        text = text.replace("(", "（").replace(")", "）")
    if "line_breaks" in variants and rng.random() < 0.5:
        parts = text.split("/")
        leaf = parts[-1]
        if len(leaf) > 5:
            cut = leaf.find("（") if leaf.find("（") > 1 else leaf.find("(") if leaf.find("(") > 1 else len(leaf) // 2
            parts[-1] = f"{leaf[:cut]}\n{leaf[cut:]}"
        text = "/".join(parts)
    return text


def teaching_rows(rows: list[dict], rng: random.Random) -> list[dict]:
    """The online 授课情况: each teacher's 学年授课学时 split over one to three courses."""
    out = []
    for row in rows:
        hours = row.get("teaching_hours")
        if not hours:
            continue
        parts = rng.randint(1, 3) if hours >= 60 else 1
        cuts = sorted(rng.sample(range(1, hours), parts - 1)) if parts > 1 else []
        for number, (start, end) in enumerate(zip([0, *cuts], [*cuts, hours]), start=1):
            out.append(
                {
                    "staff_no": row["staff_no"],
                    "name": row["name"],
                    "course_name": f"课程{number:02d}",
                    "teaching_hours": end - start,
                }
            )
    return out


def render_online_xlsx(
    school: School,
    shape: PlatformFile,
    rows: list[dict],
    period_year: int,
    created: dt.datetime,
    variants: list[str],
    rng: random.Random,
) -> Rendered:
    """A table as the online system exports it: a title row, a note row (school, period, unit),
    the source's header texts (two-level where nested) and the data."""
    columns = list(shape.columns)
    headers = [online_header(column, variants, rng, shape.aliases.get(column.name, ())) for column in columns]
    extra = ["课程名称"] if shape.code == TEACHING_SHAPE and shape.layout == ONLINE_VERSION else []
    style = file_style(rng)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    workbook.set_properties(
        {
            "title": f"{shape.code} {shape.name_zh}",
            "author": "高等职业院校人才培养工作状态数据采集与管理系统",
            "created": created,
        }
    )
    sheet = workbook.add_worksheet(shape.name_zh[:31])
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
    note_format = workbook.add_format({"italic": True, "font_size": 9})
    header_format = workbook.add_format(
        {"bold": True, "align": "center", "valign": "vcenter", "border": 1, "text_wrap": True}
    )
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    cells = ["序号", *headers, *extra]
    last = len(cells) - 1
    top = 0
    if "title_note_rows" in variants:
        sheet.merge_range(0, 0, 0, last, f"{shape.code} {shape.name_zh}", title_format)
        units = sorted({column.unit for column in columns if column.unit in ("万元", "平方米")})
        note = (
            f"学校名称：{school.name_zh}（{school.code}）　采集时段：{period_year - 1}-09-01至{period_year}-08-31"
            + (f"　金额/面积单位：{'、'.join(units)}" if units else "")
        )
        sheet.merge_range(1, 0, 1, last, note, note_format)
        top = 2
    first = write_header_rows(sheet, top, cells, header_format)
    for number, row in enumerate(rows):
        excel_row = first + number
        sheet.write_number(excel_row, 0, number + 1)
        values = [cell_text(column, row.get(column.name), style, rng) for column in columns]
        values += [row.get("course_name")] if extra else []
        for col, value in enumerate(values, start=1):
            write_cell(sheet, excel_row, col, value, date_format)
    workbook.close()
    return Rendered(content=buffer.getvalue(), first_data_row=first + 1, rows=len(rows))


def platform_file_name(shape: PlatformFile) -> str:
    return f"{shape.code} {shape.name_zh}.xlsx"


def rows_for(shape: PlatformFile, rows: list[dict], rng: random.Random) -> list[dict]:
    if shape.layout == ONLINE_VERSION and shape.code == TEACHING_SHAPE:
        return teaching_rows(rows, rng)
    return rows


def write_online_year(
    school: School, seed: int, year: int, tables: dict, folder: Path, exported: dt.datetime, variants: list[str]
) -> list[dict]:
    """Write one college-year in the online layout; returns its manifest file entries."""
    files = []
    for order, shape in enumerate(platform_files(ONLINE_VERSION)):
        rng = rng_for(seed, "render-online", school.code, year, shape.code)
        v2_table = load_catalog().by_code(shape.v2_code)
        rows = rows_for(shape, tables.get(shape.v2_code, []), rng)
        if not v2_table.required and not rows and rng.random() < 0.5:
            continue
        created = exported + dt.timedelta(seconds=37 * order + rng.randrange(30))
        rendered = render_online_xlsx(school, shape, rows, year, created, variants, rng)
        name = platform_file_name(shape)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(rendered.content)
        files.append(
            {
                "path": f"{school.code}/{year}/{name}",
                "school_code": school.code,
                "year": year,
                "table_code": shape.v2_code,
                "rows": rendered.rows,
                "format": "xlsx",
                "period_year": year,
                "exported_at": created.isoformat(),
                "archive": None,
                "member": None,
                "layout": ONLINE_VERSION,
                "platform_table_code": shape.code,
            }
        )
    return files


def write_layout_fixtures(out: Path, layout: str, seed: int = 7, year: int = 2024) -> list[dict]:
    """For tests: one small college's exports in one platform generation's layout (V2 or online2017),
    one file per table of that layout, each with the header texts of its cited catalog rows.

    Returns one entry per file: path, school_code, year, layout, platform_table_code, table_code (the
    V2 raw table), rows, first_data_row, source and confidence."""
    if layout not in PLATFORM_VERSIONS:
        raise ValueError(f"unknown platform layout {layout!r}; one of {', '.join(PLATFORM_VERSIONS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    school = plan_schools(1, seed, [year])[0]
    tables = SchoolData(school, seed, [year]).data[year]
    variants = (
        []
        if layout == BASE_VERSION
        else ["title_note_rows", "two_level_headers", "units_in_headers", "fullwidth_brackets", "line_breaks"]
    )
    created = dt.datetime(year, 9, 20, 10, 0)
    entries = []
    for shape in platform_files(layout):
        rng = rng_for(seed, "fixture", layout, shape.code)
        rows = rows_for(shape, tables.get(shape.v2_code, []), rng)
        if layout == BASE_VERSION:
            rendered = render_xlsx(school, load_catalog().by_code(shape.code), rows, year, created, rng)
            name = file_name(load_catalog().by_code(shape.code))
        else:
            rendered = render_online_xlsx(school, shape, rows, year, created, variants, rng)
            name = platform_file_name(shape)
        (out / name).write_bytes(rendered.content)
        entries.append(
            {
                "path": name,
                "school_code": school.code,
                "year": year,
                "layout": layout,
                "platform_table_code": shape.code,
                "table_code": shape.v2_code,
                "rows": rendered.rows,
                "first_data_row": rendered.first_data_row,
                "source": shape.source,
                "confidence": shape.confidence,
            }
        )
    return entries
