"""`zhengai export warnings|risk|quality|issues`: the published warehouse's tables as Excel workbooks.

Here rather than in pipelines/secretariat/: a college reads its own warnings and issues as much as
the secretariat reads the province's, and the site links the same workbooks. Each workbook has
Chinese headers, the school's name joined from ref.schools, a frozen header row, a filter, column
widths and a print set-up (landscape A4, one page wide, the header row on every page). Cells are
values only (pipelines/excel.py) and the file is replaced atomically (pipelines/files.py).

A column the published table lacks is left out rather than failing the export (degrade, don't refuse).
"""

from __future__ import annotations

import argparse
import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines.excel import (
    last_row,
    moved_rows,
    new_workbook,
    row_position,
    rows_xml,
    set_up_table,
    sheet_body,
    with_sheet_bodies,
    write_value,
)
from pipelines.files import atomic_write_bytes, atomic_write_text
from pipelines.secretariat.inputs import published_warehouse, require_tables
from pipelines.settings import get_settings

LIST_SEPARATOR = "；"


@dataclass(frozen=True)
class Sheet:
    """One table of the warehouse as one sheet: (column, Chinese header, width) in the order shown."""

    title: str
    table: str
    columns: tuple[tuple[str, str, int], ...]
    order_by: tuple[str, ...] = ("school_code", "year")


SheetRows = tuple[Sheet, list, list]  # a sheet, its present columns, its rows

SCHOOL_COLUMNS = (("school_code", "学校代码", 10), ("school_name", "学校名称", 26), ("year", "年份", 7))

KINDS: dict[str, tuple[Sheet, ...]] = {
    "warnings": (
        Sheet(
            "要素预警",
            "mart.element_warnings",
            (
                *SCHOOL_COLUMNS,
                ("element_code", "诊断要素代码", 10),
                ("element_name", "诊断要素名称", 24),
                ("level_zh", "预警等级", 10),
                ("reasons", "预警原因", 70),
                ("driving_indicators", "触发指标", 30),
                ("data_status", "数据状态", 12),
                ("indicator_count", "指标数", 8),
            ),
            ("school_code", "year", "element_code"),
        ),
        Sheet(
            "指标预警",
            "mart.indicator_warnings",
            (
                *SCHOOL_COLUMNS,
                ("indicator_code", "指标代码", 10),
                ("name_zh", "指标名称", 28),
                ("value_zh", "指标值", 12),
                ("unit", "单位", 8),
                ("qualified_value", "合格值", 10),
                ("restricted_value", "限制值", 10),
                ("value_1y_ago", "上一年", 10),
                ("value_2y_ago", "前两年", 10),
                ("level", "预警等级（代码）", 12),
                ("reasons", "预警原因", 60),
                ("exempt_reason_zh", "豁免原因", 30),
            ),
            ("school_code", "year", "indicator_code"),
        ),
    ),
    "risk": (
        Sheet(
            "院校风险",
            "mart.school_risk",
            (
                *SCHOOL_COLUMNS,
                ("rank", "风险排名", 8),
                ("risk_score", "风险分", 8),
                ("red_count", "红色要素", 8),
                ("yellow_count", "黄色要素", 8),
                ("insufficient_count", "数据不足要素", 10),
                ("red_indicators", "红色指标", 8),
                ("yellow_indicators", "黄色指标", 8),
                ("insufficient_indicators", "数据不足指标", 10),
                ("flagged_zh", "预警指标", 60),
            ),
            ("year", "rank", "school_code"),
        ),
    ),
    "quality": (
        Sheet(
            "数据表状态",
            "quality.table_status",
            (
                *SCHOOL_COLUMNS,
                ("table_code", "数据表代码", 10),
                ("status", "状态（代码）", 12),
                ("reasons_zh", "说明", 70),
                ("row_count", "行数", 8),
                ("excluded_rows", "排除行数", 8),
            ),
            ("school_code", "year", "table_code"),
        ),
    ),
    "issues": (
        Sheet(
            "数据问题",
            "quality.issues",
            (
                *SCHOOL_COLUMNS,
                ("table_code", "数据表代码", 10),
                ("column_name", "字段", 14),
                ("severity", "严重程度（代码）", 10),
                ("failed_count", "问题行数", 8),
                ("message_zh", "问题说明", 60),
                ("samples", "示例", 30),
                ("source_file", "来源文件", 24),
            ),
            ("school_code", "year", "table_code"),
        ),
    ),
}


def columns_by_table(conn, tables) -> dict[str, set[str]]:
    """The columns of each of `tables` ("schema.name"), read in one query (empty for a missing table)."""
    rows = conn.execute(
        "select table_schema || '.' || table_name, column_name from information_schema.columns "
        "where table_schema || '.' || table_name in (select unnest($tables))",
        {"tables": list(tables)},
    ).fetchall()
    found: dict[str, set[str]] = {table: set() for table in tables}
    for table, column in rows:
        found[table].add(column)
    return found


def present_columns(have: set[str], sheet: Sheet) -> list[tuple[str, str, int]]:
    """The sheet's columns the published table has (`have`; school_name comes from ref.schools)."""
    return [column for column in sheet.columns if column[0] in have | {"school_name"}]


def sheet_rows(
    conn, sheet: Sheet, columns: list, year: int | None, school: str | None, have: set[str], schools: list | None = None
):
    """The rows of one sheet (of one college, or of the colleges in `schools`), the school's name joined; filters
    are bound parameters."""
    select = ", ".join("s.name_zh" if name == "school_name" else f"t.{name}" for name, _, _ in columns)
    # then every column: ties in the sheet's order (a table's several issues) fall the same way in any query
    order = [f"t.{name}" for name in sheet.order_by if name in have] + [str(n) for n in range(1, len(columns) + 1)]
    sql = (
        f"select {select} from {sheet.table} t left join ref.schools s using (school_code) "
        "where ($year is null or t.year = $year) and ($school is null or t.school_code = $school) "
        "and ($schools is null or list_contains($schools, t.school_code)) "
        f"order by {', '.join(order)}"
    )
    return conn.execute(sql, {"year": year, "school": school, "schools": schools}).fetchall()


def sheet_prints(conn, sheet: Sheet, columns: list, year: int | None) -> dict[str | None, tuple]:
    """Each college's (count, sum of row hashes) of one sheet's rows, computed in DuckDB: whether a workbook
    changed is known without fetching its rows."""
    values = ", ".join("s.name_zh" if name == "school_name" else f"t.{name}" for name, _, _ in columns)
    sql = (
        f"select t.school_code, count(*), sum(hash({values}))::varchar from {sheet.table} t "
        "left join ref.schools s using (school_code) where ($year is null or t.year = $year) group by all"
    )
    return {code: (count, total) for code, count, total in conn.execute(sql, {"year": year}).fetchall()}


def all_columns(conn) -> dict[str, set[str]]:
    """The columns of every table an export reads."""
    return columns_by_table(conn, sorted({spec.table for sheets in KINDS.values() for spec in sheets}))


def cell_value(value):
    """Lists (reasons, indicators) as one text; everything else as it is (write_value keeps it a value)."""
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(str(item) for item in value if item is not None)
    return value


def set_up_sheet(sheet, columns: list[tuple[str, str, int]], last_row: int, cell_format=None) -> None:
    """Widths (and the data cells' format), then the frozen header, filter and print set-up every table sheet gets."""
    for col, (_, _, width) in enumerate(columns):
        sheet.set_column(col, col, width, cell_format)
    set_up_table(sheet, 0, last_row, len(columns) - 1)


def sheet_tables(
    conn, kind: str, year: int | None, school: str | None, known: dict, schools: list | None = None
) -> list[SheetRows]:
    """(sheet, its present columns, its rows) for each sheet of `kind` the warehouse can fill."""
    sheets = []
    for spec in KINDS[kind]:
        have = known.get(spec.table)
        if not have:
            continue  # e.g. an older warehouse without indicator warnings: the other sheets still export
        columns = present_columns(have, spec)
        sheets.append((spec, columns, sheet_rows(conn, spec, columns, year, school, have, schools)))
    return sheets


def workbook_from_rows(sheets: list[SheetRows]) -> bytes:
    """The workbook of the given sheets, rows already selected: laid out by xlsxwriter, the data rows put in
    directly (pipelines/excel.py rows_xml: a province's million cells in seconds, not a quarter minute)."""
    return workbook_from_bodies([(spec, columns, len(rows)) for spec, columns, rows in sheets], rows_renderer(sheets))


def rows_renderer(sheets: list[SheetRows]):
    """`(sheet number, data cells' style) -> (rows' XML, row count)` rendering the given sheets' rows."""

    def render(number: int, style: int) -> tuple[str, int]:
        _, columns, rows = sheets[number - 1]
        cells = [[cell_value(value) for value in row] for row in rows]
        return rows_xml(cells, len(columns), style), len(rows)

    return render


def workbook_from_bodies(layout: list[tuple[Sheet, list, int]], render) -> bytes:
    """The workbook of sheets laid out by xlsxwriter (sheet, its present columns, its row count), each sheet's data
    rows' XML from `render(sheet number, data cells' style)` (`rows_renderer`, or rows taken over: `province_body`)."""
    buffer = io.BytesIO()
    workbook = new_workbook(buffer, in_memory=True)
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    for spec, columns, count in layout:
        sheet = workbook.add_worksheet(spec.title)
        for col, (_, title, _) in enumerate(columns):
            write_value(sheet, 0, col, title, header)
        set_up_sheet(sheet, columns, count, wrap)
    workbook.close()
    bodies = {}
    for number, (_, columns, count) in enumerate(layout, start=1):
        body, rendered = render(number, wrap.xf_index)
        if rendered != count:
            raise ValueError(f"sheet {number}: {rendered} rows rendered, {count} laid out")
        bodies[number] = (body, count, len(columns))
    return with_sheet_bodies(buffer.getvalue(), bodies)


def workbook_bytes(conn, kind: str, year: int | None, school: str | None) -> tuple[bytes, int]:
    """The workbook of `kind` and its number of data rows."""
    sheets = sheet_tables(conn, kind, year, school, all_columns(conn))
    return workbook_from_rows(sheets), sum(len(rows) for _, _, rows in sheets)


def check_choice(conn, kind: str, year: int | None, school: str | None) -> None:
    """An unknown college or a year the warehouse does not hold: one Chinese line (exit 2 in the CLI)."""
    if (
        school is not None
        and not conn.execute("select 1 from ref.schools where school_code = $c", {"c": school}).fetchone()
    ):
        raise ValueError(f"院校名册中没有学校代码 {school} / unknown college")
    if year is not None:
        table = KINDS[kind][0].table
        years = [y for (y,) in conn.execute(f"select distinct year from {table} order by year").fetchall()]
        if year not in years:
            held = "、".join(map(str, years)) or "无"
            raise ValueError(f"{table} 中没有 {year} 年的数据（现有年份：{held}）/ no rows for year {year}")


def latest_year(conn, kind: str) -> int | None:
    return conn.execute(f"select max(year) from {KINDS[kind][0].table}").fetchone()[0]


def default_path(kind: str, year: int | None, school: str | None) -> Path:
    name = f"{kind}-{year if year is not None else 'all'}" + (f"-{school}" if school else "")
    return get_settings().exports / f"{name}.xlsx"


def export(kind: str, year: int | None = None, school: str | None = None, out: Path | None = None) -> tuple[Path, int]:
    """Write the workbook of `kind` (default year: the latest the warehouse holds); returns its path and rows."""
    with published_warehouse() as conn:
        require_tables(conn, "ref.schools", KINDS[kind][0].table)
        check_choice(conn, kind, year, school)
        year = year if year is not None else latest_year(conn, kind)
        data, rows = workbook_bytes(conn, kind, year, school)
    path = Path(out) if out else default_path(kind, year, school)
    atomic_write_bytes(path, data)
    return path, rows


def cmd_export(args: argparse.Namespace) -> int:
    path, rows = export(args.kind, args.year, args.school, args.out)
    print(f"已导出 {rows} 行到 {path} / exported")
    return 0


def register(subparsers) -> None:
    command = subparsers.add_parser(
        "export",
        help="把预警、风险、数据质量或数据问题导出为 Excel / export warnings, risk, quality or issues to Excel",
    )
    command.add_argument(
        "kind",
        choices=list(KINDS),
        help="warnings 预警（要素与指标）、risk 院校风险、quality 数据表状态、issues 数据问题",
    )
    command.add_argument("--year", type=int, help="年份（默认：数据仓库中最近一年）/ year (default: the latest)")
    command.add_argument("--school", help="只导出该校（5 位学校代码）/ one college only")
    command.add_argument(
        "--out", help="输出文件（默认 $ZHENGAI_HOME/exports/<kind>-<年份>.xlsx）/ output file (default under exports/)"
    )
    command.set_defaults(func=cmd_export)


# --- the site's downloads ------------------------------------------------------------------------

KIND_TITLES = {
    "warnings": "预警（要素与指标）",
    "risk": "院校风险排名",
    "quality": "数据表状态",
    "issues": "数据问题明细",
}
COLLEGE_KINDS = ("warnings", "quality", "issues")  # the risk ranking compares colleges: province only


def write_downloads(conn, site: Path) -> int:
    """The latest year's workbooks for the site; returns the workbooks there are (see render_downloads)."""
    return render_downloads(conn, site)[0]


def empty_like(sheets: list[SheetRows]) -> list[SheetRows]:
    return [(spec, columns, []) for spec, columns, _ in sheets]


def college_sheets(sheets: list[SheetRows]) -> dict[str, list[SheetRows]]:
    """Each college's share of province-wide sheets (rows kept in their order), split by school code."""
    split: dict[str, list[SheetRows]] = {}
    for index, (_, columns, rows) in enumerate(sheets):
        names = [name for name, _, _ in columns]
        if "school_code" not in names:
            continue
        at = names.index("school_code")
        for row in rows:
            split.setdefault(row[at], empty_like(sheets))[index][2].append(row)
    return split


def render_downloads(conn, site: Path, later: Callable[[Callable[[], object]], None] | None = None) -> tuple[int, int]:
    """The latest year's workbooks for the site: province-wide under province/downloads/, each
    college's own under schools/<code>/downloads/ (the serve token rule keeps a college to its own
    folder), and a downloads.html beside each dashboard. Whether a workbook changed since the build this
    one starts from is told by row fingerprints computed in DuckDB (pipelines/sitebuild.py PageLedger);
    only the workbooks that changed are read and written: one college's new warnings rewrite its own
    warnings workbook and the province's, and the province's takes the other colleges' rows over from the
    workbook the build starts from (`ProvinceBlocks`). A province workbook's assembly (rows put in, a recompression
    of up to a hundred megabytes of XML) is handed to `later` when given (the nightly run: a thread, awaited before
    the build is published), else done here. Returns (workbooks there are, workbooks and pages written)."""
    from pipelines.sitebuild import PageLedger, code_version, fingerprint

    schools = [code for (code,) in conn.execute("select school_code from ref.schools order by school_code").fetchall()]
    known = all_columns(conn)
    years = {kind: latest_year(conn, kind) for kind in KINDS if known[KINDS[kind][0].table]}
    sheets = {
        kind: [(spec, present_columns(known[spec.table], spec)) for spec in KINDS[kind] if known.get(spec.table)]
        for kind, year in years.items()
        if year is not None
    }
    prints = {
        kind: [sheet_prints(conn, spec, columns, years[kind]) for spec, columns in specs]
        for kind, specs in sheets.items()
    }
    ledger = PageLedger(site, "excel_downloads")
    version = code_version("pipelines/exports.py", "pipelines/excel.py", "dashboards/common.py", "dashboards/templates")
    layouts = {
        kind: fingerprint(version, [(spec.title, columns) for spec, columns in specs]) for kind, specs in sheets.items()
    }
    due: dict[tuple[str, str | None], tuple[str, Path]] = {}
    count = 0
    for unit, school in [("province", None)] + [(code, code) for code in schools]:
        folder = site / "province" if school is None else site / "schools" / school
        kinds = [kind for kind in sheets if school is None or kind in COLLEGE_KINDS]
        count += len(kinds)
        files = {kind: folder / "downloads" / f"{kind}-{years[kind]}.xlsx" for kind in kinds}
        for kind in kinds:
            parts = [sorted(map(repr, p.items())) if school is None else p.get(school) for p in prints[kind]]
            print_ = fingerprint(layouts[kind], school, files[kind].name, parts)
            if not ledger.unchanged(f"{unit}/{kind}", print_):
                due[(kind, school)] = (print_, files[kind])
        links = [(kind, years[kind], f"downloads/{files[kind].name}") for kind in kinds]
        page, print_ = folder / "downloads.html", fingerprint(version, school, links)
        if not ledger.unchanged(f"{unit}/page", print_):
            atomic_write_text(page, downloads_page(links, school), durable=False)
            ledger.record(f"{unit}/page", print_, [page])
    blocks = {
        kind: ProvinceBlocks(kind, sheets[kind], prints[kind], fingerprint(layouts[kind], path.name), ledger)
        for (kind, school), (_, path) in due.items()
        if school is None
    }
    rows = DueRows(conn, known, years, due, blocks)
    for (kind, school), (print_, path) in due.items():
        unit = f"{'province' if school is None else school}/{kind}"
        if school is None:
            write = functools.partial(write_workbook, path, blocks[kind].workbook, rows.province_rows(kind))
            (later or run_now)(write)
            ledger.record(unit, print_, [path], blocks[kind].detail)
        else:
            write_workbook(path, workbook_from_rows, rows.sheets(kind, school))
            ledger.record(unit, print_, [path])
    ledger.save()
    return count, ledger.rendered


def write_workbook(path: Path, build: Callable[[list[SheetRows]], bytes], sheets: list[SheetRows]) -> None:
    """The workbook `build(sheets)` written to `path` (a build's file: flushed with the build)."""
    atomic_write_bytes(path, build(sheets), durable=False)


def run_now(work: Callable[[], object]) -> None:
    work()


TAKEN_OVER_AT_MOST = 50  # colleges rendered into a province workbook taken over; more: the whole table is read
# college workbooks of one kind due at once past which their table is read once and split, not read per college
READ_ONCE_PAST = 50


class ProvinceBlocks:
    """A province workbook whose sheets are ordered by college: each sheet is the colleges' blocks of rows one
    after the other, described by [school code, rows, row fingerprint] per college (`detail`, kept in the
    ledger). The blocks of colleges whose rows are what the workbook the build starts from holds are taken over
    from it as XML (moved up or down when rows before them came or went); only the other colleges' rows are
    rendered, so one college's change costs its rows and one recompression, not a million cells."""

    def __init__(self, kind: str, sheets: list, prints: list[dict], layout: str, ledger) -> None:
        self.sheets = sheets
        ordered = all(spec.order_by[0] == "school_code" for spec, _ in sheets)
        keyed = all(None not in part for part in prints)
        self.blocks = [[[code, *print_] for code, print_ in sorted(part.items())] for part in prints] if keyed else []
        self.detail = {"layout": layout, "blocks": self.blocks} if ordered and keyed else None
        self.bodies: list[str] = []
        self.plans: list[tuple[list, set]] = []
        if self.detail is not None:
            self.take_over(ledger.previous(f"province/{kind}"), ledger.site)
        self.rendered = self.colleges_rendered()  # the plans are final: their union is taken once

    def take_over(self, previous: dict, site: Path) -> None:
        """Plan each sheet from the previous build's workbook if it has this layout and the rows its ledger says."""
        detail, files = previous.get("detail") or {}, previous.get("files") or []
        before = detail.get("blocks")
        if detail.get("layout") != self.detail["layout"] or len(files) != 1 or not (site / files[0]).is_file():
            return
        if not isinstance(before, list) or len(before) != len(self.blocks):
            return
        bodies = [sheet_body(site / files[0], number) for number in range(1, len(self.blocks) + 1)]
        if all(holds_rows(body, sum(count for _, count, _ in old)) for body, old in zip(bodies, before, strict=True)):
            self.bodies = bodies
            self.plans = [sheet_plan(old, new) for old, new in zip(before, self.blocks, strict=True)]

    def colleges_rendered(self) -> list[str] | None:
        """The colleges whose rows are rendered; None: every row is (nothing to take over, or too much changed)."""
        if not self.plans:
            return None
        schools = sorted(set().union(*(render for _, render in self.plans)))
        return schools if len(schools) <= TAKEN_OVER_AT_MOST else None

    def workbook(self, sheets: list[SheetRows]) -> bytes:
        """The workbook, given the rows of the `rendered` colleges (of every college when that is None)."""
        if self.rendered is None:
            return workbook_from_rows(sheets)
        split = college_sheets(sheets)
        layout = [
            (spec, columns, sum(count for _, count, _ in new))
            for (spec, columns, _), new in zip(sheets, self.blocks, strict=True)
        ]

        def render(number: int, style: int) -> tuple[str, int]:
            segments, _ = self.plans[number - 1]
            rows = {code: parts[number - 1][2] for code, parts in split.items()}
            return province_body(self.bodies[number - 1], segments, rows, len(layout[number - 1][1]), style)

        return workbook_from_bodies(layout, render)


def holds_rows(body: str, count: int) -> bool:
    """Whether a sheet's data rows' XML is rows 2 … count + 1, as the ledger says the workbook holds."""
    if not count:
        return body == ""
    return body.startswith('<row r="2">') and last_row(body) == count + 1


def sheet_plan(before: list[list], now: list[list]) -> tuple[list, set]:
    """The segments of a province sheet, in order: ["old", first row, end row, shift] for a run of colleges whose
    rows the previous workbook holds (its rows first … end - 1, moved by `shift`), ["new", code] for a college
    rendered; and the colleges rendered."""
    old_at, row = {}, 2
    for code, count, total in before:
        old_at[code] = (row, count, total)
        row += count
    segments: list[list] = []
    rendered: set[str] = set()
    row = 2
    for code, count, total in now:
        first, old_count, old_total = old_at.get(code, (None, None, None))
        if first is None or (old_count, old_total) != (count, total):
            segments.append(["new", code])
            rendered.add(code)
        elif segments and segments[-1][0] == "old" and segments[-1][2:] == [first, row - first]:
            segments[-1][2] = first + count
        else:
            segments.append(["old", first, first + count, row - first])
        row += count
    return segments, rendered


def province_body(body: str, segments: list[list], rows: dict[str, list], width: int, style: int) -> tuple[str, int]:
    """A province sheet's data rows' XML from the segments of `sheet_plan`: old rows cut from `body` and moved,
    the rendered colleges' `rows` written at their place; returns it and its row count."""
    pieces, row, at = [], 2, 0
    for segment in segments:
        if segment[0] == "old":
            _, first, end, shift = segment
            start = row_position(body, first, at)
            at = row_position(body, end, start)
            pieces.append(moved_rows(body[start:at], shift))
            row += end - first
        else:
            cells = [[cell_value(value) for value in values] for values in rows.get(segment[1], [])]
            pieces.append(rows_xml(cells, width, style, row))
            row += len(cells)
    return "".join(pieces), row - 2


class DueRows:
    """The rows of the workbooks due: a kind's table read once and split when the province's (not taken over) or
    many colleges' workbooks are due, else the due colleges' rows read alone."""

    def __init__(self, conn, known: dict, years: dict, due: dict, blocks: dict[str, ProvinceBlocks]) -> None:
        self.conn, self.known, self.years, self.blocks = conn, known, years, blocks
        self.many = {
            kind
            for kind in years
            if sum(k == kind for k, _ in due) > READ_ONCE_PAST or (kind in blocks and blocks[kind].rendered is None)
        }
        self.province: dict[str, list[SheetRows]] = {}
        self.split: dict[str, dict[str, list[SheetRows]]] = {}

    def province_rows(self, kind: str) -> list[SheetRows]:
        """The rows a province workbook renders: every row, or only its `rendered` colleges' when taken over."""
        schools = self.blocks[kind].rendered
        if kind in self.many or schools is None:
            return self.sheets(kind, None)
        return sheet_tables(self.conn, kind, self.years[kind], None, self.known, schools)

    def sheets(self, kind: str, school: str | None) -> list[SheetRows]:
        if kind not in self.many:
            return sheet_tables(self.conn, kind, self.years[kind], school, self.known)
        if kind not in self.province:
            self.province[kind] = sheet_tables(self.conn, kind, self.years[kind], None, self.known)
            self.split[kind] = college_sheets(self.province[kind])
        if school is None:
            return self.province[kind]
        return self.split[kind].get(school) or empty_like(self.province[kind])


def downloads_page(files: list[tuple[str, int, str]], school: str | None) -> str:
    from dashboards.common import attr, page_html, text

    scope = f"学校 {school}" if school else "全省"
    items = "".join(
        f'<li><a href="{attr(href)}" download>{text(KIND_TITLES[kind])}（{year} 年，Excel）</a></li>'
        for kind, year, href in files
    )
    body = (
        f"<h1>{text(scope)}数据下载</h1><ul>{items or '<li>暂无数据</li>'}</ul>"
        '<p class="muted">工作簿由夜间运行生成，与本站页面同一批数据；更多年份用 '
        "<code>zhengai export</code> 导出。</p>"
    )
    return page_html(f"{scope}数据下载", body)
