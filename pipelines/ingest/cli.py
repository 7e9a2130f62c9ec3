"""`zhengai catalog`: the data officer's view of the headers the ingest did not map, and the way to
accept one as an alias of a catalog column (reference/header_aliases.csv), without a code change.

    zhengai catalog unmapped [--year Y] [--json]
    zhengai catalog map TABLE_CODE "HEADER" COLUMN [--note TEXT]

`unmapped` reads `quality.unmapped_headers` of the published warehouse (the last run); `map`
validates the table and column against the catalog and appends one row to the alias file. The next
run re-reads every file of that table (its mapping fingerprint changed), so the column is filled
from the files already received: no college exports again.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json

from pipelines.catalog import ALIAS_COLUMNS, load_catalog, load_header_aliases
from pipelines.settings import get_settings, header_aliases_path


def unmapped_rows(year: int | None) -> list[dict]:
    """The unmapped headers of `year`, or of every year merged (files added up, colleges counted once)."""
    import duckdb

    path = get_settings().warehouse
    if not path.exists():
        raise FileNotFoundError(f"没有已发布的数据仓库 {path}：请先运行 zhengai run (no published warehouse yet)")
    with duckdb.connect(str(path), read_only=True) as conn:
        if not conn.execute(
            "select count(*) from duckdb_tables() where schema_name = 'quality' and table_name = 'unmapped_headers'"
        ).fetchone()[0]:
            return []
        frame = conn.execute(
            """
            select table_code, any_value(name_zh) as name_zh, header, sum(files)::bigint as files,
                len(list_distinct(flatten(list(school_codes)))) as colleges,
                list_distinct(flatten(list(samples)))[1:5] as samples,
                mode(likely_column) as likely_column, mode(likely_header_zh) as likely_header_zh,
                list(distinct year order by year) as years
            from quality.unmapped_headers
            where $year is null or year = $year
            group by table_code, header
            order by colleges desc, files desc, table_code, header
            """,
            {"year": year},
        ).pl()
    accepted = {(alias.table_code, alias.header) for alias in load_header_aliases()}
    return [{**row, "accepted": (row["table_code"], row["header"]) in accepted} for row in frame.to_dicts()]


def cmd_unmapped(args: argparse.Namespace) -> int:
    rows = unmapped_rows(args.year)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("没有未识别的表头 (every header was mapped)")
        return 0
    print("表号\t表头\t文件数\t学校数\t示例值\t可能对应的列")
    for row in rows:
        likely = f"{row['likely_header_zh'] or ''}（{row['likely_column']}）" if row["likely_column"] else ""
        note = "\t已登记别名，下次运行生效" if row["accepted"] else ""
        print(
            f"{row['table_code']}\t{row['header']}\t{row['files']}\t{row['colleges']}\t"
            f"{'、'.join(row['samples'] or [])}\t{likely}{note}"
        )
    print(f'\n登记别名：zhengai catalog map 表号 "表头" 列名（写入 {header_aliases_path()}）')
    return 0


def record_alias(table_code: str, header: str, column_name: str, note: str) -> str:
    """Append the alias to the alias file after checking it; returns what was done, in Chinese."""
    from pipelines.ingest import normalise_header

    catalog = load_catalog()
    if table_code not in catalog.codes:
        raise ValueError(f"目录中没有表 {table_code} (no catalogued table {table_code!r})")
    table = catalog.by_code(table_code)
    columns = {column.name: column for column in table.columns}
    if column_name not in columns:
        raise ValueError(
            f"表 {table_code} 没有列 {column_name}，可用的列：{', '.join(columns)} "
            f"(table {table_code} has no column {column_name!r})"
        )
    header = header.strip()
    if not header:
        raise ValueError("表头不能为空 (the header is empty)")
    key = normalise_header(header)
    for column in table.columns:
        if key in {normalise_header(text) for text in column.headers}:
            if column.name == column_name:
                return f"表头“{header}”已对应 {table_code} {column_name}，无需登记"
            raise ValueError(f"表头“{header}”在目录中已对应列 {column.name}，不能再登记为 {column_name}")
    for alias in load_header_aliases():
        if alias.table_code == table_code and normalise_header(alias.header) == key:
            if alias.column_name == column_name:
                return f"别名“{header}” → {table_code} {column_name} 已登记"
            raise ValueError(f"表头“{header}”已登记为列 {alias.column_name}：请先在 {header_aliases_path()} 中修改该行")
    path = header_aliases_path()
    new_file = not path.exists() or path.stat().st_size == 0
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if new_file:
            writer.writerow(ALIAS_COLUMNS)
        writer.writerow(
            [table_code, header, column_name, note or f"zhengai catalog map，{dt.date.today().isoformat()}"]
        )
    return f"已登记：表{table_code} “{header}” → {column_name}（{columns[column_name].headers[0]}），下次运行重新读取该表的文件"


def cmd_map(args: argparse.Namespace) -> int:
    print(record_alias(args.table_code, args.header, args.column, args.note))
    return 0


def register(subparsers) -> None:
    catalog = subparsers.add_parser(
        "catalog", help="未识别的表头，及把表头登记为列的别名 / headers not mapped, and accepting one as an alias"
    )
    actions = catalog.add_subparsers(dest="action", required=True, title="操作 actions")
    unmapped = actions.add_parser("unmapped", help="全区已见但未识别的表头 / every header seen but not mapped")
    unmapped.add_argument("--year", type=int, help="只看一个采集年度（默认：所有年度）/ one collection year")
    unmapped.add_argument("--json", action="store_true", help="以 JSON 输出 / print JSON instead of a table")
    unmapped.set_defaults(func=cmd_unmapped)
    mapping = actions.add_parser(
        "map", help="把表头登记为某表某列的别名（写入 header_aliases.csv）/ record HEADER as an alias of COLUMN"
    )
    mapping.add_argument("table_code", help="表号，如 6.1 / table code")
    mapping.add_argument("header", help="文件中的表头原文 / the header as the file has it")
    mapping.add_argument("column", help="目录中的列名 / the catalog's column name")
    mapping.add_argument("--note", default="", help="登记原因（记入文件）/ why (kept in the file)")
    mapping.set_defaults(func=cmd_map)
