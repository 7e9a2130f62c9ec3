"""Publication: what the warehouse copies analysts open hold (the steps that stage and publish them: assets/publication.py).

The published copy explains itself (`explain_published_copy`, run on the staging copy before the
rename): a comment on every table (the asset's description, the platform catalog's table name) and
every column (the catalog's Chinese header, unit and description for raw tables,
`reference/warehouse_columns.csv` for the rest); `year` INTEGER everywhere; no HUGEINT or
DECIMAL(38,x) (BIGINT and DOUBLE instead); the internal GX cache left out; a `report` schema of views
with school names joined and lists as text; masked views of the tables that name staff.

DuckDB has no per-user grants, so who may see personal data is decided by which file one can open: the
full copy (`warehouse.duckdb`, readable by the group whose role allows personal data) and, beside it,
the analyst copy (`warehouse-analyst.duckdb`, `publish_analyst_copy`) in which the unmasked staff tables
are gone and their `report.<table>` holds only the masked rows (README: how a role is granted).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb

from pipelines.files import atomic_copy, atomic_write_text
from pipelines.resources import WarehouseResource, prepared
from pipelines.settings import REFERENCE_DIR

INTERNAL_TABLES = ("quality.suite_results_cache",)
PUBLISHED_SCHEMAS = ("ref", "raw", "quality", "mart")
CATALOG_TABLES = {"ref.platform_tables", "ref.platform_columns"}  # what the raw tables' comments are made from
WAREHOUSE_COLUMNS = REFERENCE_DIR / "warehouse_columns.csv"
# Columns that identify a person in the staff tables (表6.x, 8.x): masked in report.<table>.
# The pseudonym keeps a person joinable across tables and years without showing the staff number.
PERSONAL_COLUMNS = {
    "name": "left(t.name, 1) || '**'",
    "staff_no": "'S' || left(sha256(coalesce(t.school_code, '') || ':' || t.staff_no), 10)",
    "birth_date": "year(t.birth_date)",
}
MASKED_ALIASES = {"birth_date": "birth_year"}
MASKED_ZH = {
    "school_name": "学校名称（来自院校名册）",
    "name": "姓名（已脱敏：只留姓）",
    "staff_no": "教工号（已脱敏：同一人各表各年一致的假名）",
    "birth_year": "出生年份（出生日期已脱敏）",
}
# The analyst copy: readable by every analyst the folder lets in (the full copy keeps the services' umask).
ANALYST_COPY_MODE = 0o644
ANALYST_COPY_SUFFIX = "-analyst"
# Columns of a personal table that may hold anything a college typed (unmapped headers' values): left out.
UNVETTED_COLUMNS = ("extra",)
UNDESCRIBED = "（本列暂无单独说明，见表注释 / not yet described: see the table comment）"


def fingerprint_work_tables(warehouse: WarehouseResource) -> dict[str, str]:
    with warehouse.connect() as conn:
        return work_table_prints(conn)


def asset_descriptions(asset_graph) -> dict[str, str]:
    """`schema.table` → the first paragraph of the asset's description, for every two-part asset key."""
    found = {}
    for key in asset_graph.get_all_asset_keys():
        node = asset_graph.get(key)
        if len(key.path) == 2 and node.description:
            found[".".join(key.path)] = " ".join(node.description.strip().split("\n\n")[0].split())
    return found


def explain_published_copy(conn: duckdb.DuckDBPyConnection, descriptions: Mapping[str, str]) -> None:
    # one transaction: a commit per COMMENT ON (thousands of columns) costs a log write and flush each
    conn.execute("begin")
    for table in INTERNAL_TABLES:
        conn.execute(f"drop table if exists {table}")
    plain_column_types(conn)
    create_report_views(conn)
    comment_tables(conn, descriptions)
    comment_columns(conn)
    conn.execute("commit")


def published_tables(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return conn.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database() "
        "and schema_name in (select unnest(?::varchar[])) order by all",
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall()


def plain_column_types(conn: duckdb.DuckDBPyConnection) -> None:
    """`year` INTEGER; HUGEINT → BIGINT; DECIMAL wider than 18 digits → DOUBLE (every client reads these)."""
    columns = conn.execute(
        """
        select schema_name, table_name, column_name,
            case
                when column_name = 'year' then 'INTEGER'
                when data_type = 'HUGEINT' then 'BIGINT'
                else 'DOUBLE'
            end
        from duckdb_columns()
        where database_name = current_database() and schema_name in (select unnest(?::varchar[]))
          and (
            (column_name = 'year' and data_type <> 'INTEGER' and data_type in ('BIGINT', 'HUGEINT', 'SMALLINT', 'DOUBLE'))
            or data_type = 'HUGEINT'
            or (data_type like 'DECIMAL(%' and numeric_precision > 18)
          )
        """,
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall()
    for schema, table, column, new_type in columns:
        conn.execute(f'alter table {schema}."{table}" alter column "{column}" set data type {new_type}')


def catalog_column_comments(conn: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """(raw table, column) → 表头（单位）：说明, from the platform catalog in ref."""
    rows = conn.execute(
        """
        select t.table_name, c.column_name, c.headers[1], c.unit, c.description_zh, c.confidence
        from ref.platform_columns c join ref.platform_tables t using (table_code)
        """
    ).fetchall()
    comments = {}
    for table, column, header, unit, description, confidence in rows:
        text = f"{header}（{unit}）" if unit else f"{header}"
        if description and description != header:
            text += f"：{description}"
        if confidence == "low":
            text += "（推定 / inferred）"
        comments[("raw." + table, column)] = text
    return comments


def reference_column_comments() -> dict[str, str]:
    with open(WAREHOUSE_COLUMNS, encoding="utf-8", newline="") as handle:
        return {row["column_name"]: row["comment_zh"] for row in csv.DictReader(handle)}


def platform_table_names(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = conn.execute("select table_name, table_code, name_zh from ref.platform_tables").fetchall()
    return {f"raw.{table}": f"表{code} {name}" for table, code, name in rows}


def comment_tables(conn: duckdb.DuckDBPyConnection, descriptions: Mapping[str, str]) -> None:
    platform = platform_table_names(conn)
    statements = []
    for schema, table in published_tables(conn):
        name = f"{schema}.{table}"
        parts = [platform.get(name), descriptions.get(name)]
        if schema == "raw" and name in platform:
            parts.append("状态数据平台导出的原始记录（已规范表头和类型）/ ingested status-data rows")
        text = "；".join(part for part in parts if part) or f"{schema} 层的表 {table}"
        statements.append(f'comment on table {schema}."{table}" is {literal(text)}')
    execute_all(conn, statements)


def comment_columns(conn: duckdb.DuckDBPyConnection, only: set[str] | None = None) -> None:
    """A comment on every column of the published schemas and the report views (of `only`'s tables, "schema.table",
    and the report views, when given: a copy whose other tables keep the comments they were copied with)."""
    catalog = catalog_column_comments(conn)
    common = reference_column_comments()
    columns = conn.execute(
        """
        select schema_name, table_name, column_name from duckdb_columns()
        where database_name = current_database() and schema_name in (select unnest(?::varchar[]))
        """,
        [[*PUBLISHED_SCHEMAS, "report"]],
    ).fetchall()
    statements = []
    for schema, table, column in columns:
        if only is not None and schema != "report" and f"{schema}.{table}" not in only:
            continue
        text = column_comment(schema, table, column, catalog, common)
        statements.append(f'comment on column {schema}."{table}"."{column}" is {literal(text)}')
    execute_all(conn, statements)


def execute_all(conn: duckdb.DuckDBPyConnection, statements: Sequence[str]) -> None:
    """Run `statements` (no parameters, no results) in one call: a call per COMMENT ON (a copy has about 1,500)
    costs a third more than the statements themselves."""
    if statements:
        conn.execute(";\n".join(statements))


def column_comment(
    schema: str, table: str, column: str, catalog: Mapping[tuple[str, str], str], common: Mapping[str, str]
) -> str:
    """The catalog's text for a raw column (and its report view's), the masked columns' own, else the
    project's (reference/warehouse_columns.csv)."""
    text = catalog.get((f"raw.{table}", column)) if schema in ("raw", "report") else None
    if schema == "report" and column in MASKED_ZH:
        text = MASKED_ZH[column]
    return text or common.get(column) or UNDESCRIBED


def literal(text: str) -> str:
    # COMMENT ON takes no bound parameter: quote the text as a SQL string literal.
    return "'" + text.replace("'", "''") + "'"


def report_sources(
    conn: duckdb.DuckDBPyConnection, database: str | None = None
) -> list[tuple[str, str, list[str], list[str], str]]:
    """(schema, table, column names, column types, report view) of every mart, quality and raw table with a
    school_code (of `database`, default the current one); a table whose name an earlier schema took gets
    `report.<schema>_<table>`."""
    columns = conn.execute(
        """
        select schema_name, table_name, list(column_name order by column_index), list(data_type order by column_index)
        from duckdb_columns()
        where database_name = coalesce(?, current_database()) and schema_name in ('mart', 'quality', 'raw')
        group by all
        having list_contains(list(column_name), 'school_code')
        order by all
        """,
        [database],
    ).fetchall()
    taken: set[str] = set()
    sources = []
    for schema, table, names, types in columns:
        sources.append(
            (schema, table, names, types, f"report.{table}" if table not in taken else f"report.{schema}_{table}")
        )
        taken.add(table)
    return sources


def create_report_views(conn: duckdb.DuckDBPyConnection) -> None:
    """report.<table> for every mart, quality and raw table with a school_code: school names joined in,
    lists shown as text, and the staff tables' names, staff numbers and birth dates masked."""
    conn.execute("create schema if not exists report")
    for schema, table, names, types, view in report_sources(conn):
        conn.execute(f"create or replace view {view} as {report_select(schema, table, names, types)}")
        personal = sorted(set(names) & PERSONAL_COLUMNS.keys())
        described = f"{schema}.{table} 的浏览视图，已连接学校名称" + (
            f"；{'、'.join(personal)} 已脱敏（raw 层的原表未脱敏，只有获准的人能打开本文件，见 README）"
            if personal
            else ""
        )
        conn.execute(f"comment on view {view} is {literal(described)}")


def report_select(schema: str, table: str, names, types, catalog: str = "", leave_out=()) -> str:
    """The query of `report.<table>`: school names joined, lists as text, personal columns masked (tables read
    from the attached database `catalog`, if given; columns in `leave_out` left out)."""
    select = [
        view_column(name, kind)
        for name, kind in zip(names, types, strict=True)
        if MASKED_ALIASES.get(name, name) not in leave_out
    ]
    source = f"{catalog}." if catalog else ""
    return (
        f'select s.name_zh as school_name, {", ".join(select)} from {source}{schema}."{table}" as t '
        f"left join {source}ref.schools as s on s.school_code = t.school_code"
    )


def view_column(name: str, kind: str) -> str:
    if name in PERSONAL_COLUMNS:
        return f'{PERSONAL_COLUMNS[name]} as "{MASKED_ALIASES.get(name, name)}"'
    if kind.endswith("[]") and kind.count("[") == 1 and "STRUCT" not in kind:
        return f'array_to_string(t."{name}", \'；\') as "{name}"'
    return f't."{name}"'


# --- the analyst copy ------------------------------------------------------------------------------


def analyst_copy_path(published: Path) -> Path:
    return published.with_name(f"{published.stem}{ANALYST_COPY_SUFFIX}{published.suffix}")


def publish_analyst_copy(published: Path, target: Path | None = None) -> Path:
    """`warehouse-analyst.duckdb` (or `target`): the copy `published` without unmasked personal data, replaced
    atomically."""
    target = target or analyst_copy_path(published)
    return atomic_copy(published, target, ANALYST_COPY_MODE, prepared(mask_personal_tables))


def personal_tables(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(schema, table, its report view) of every table with a column PERSONAL_COLUMNS masks."""
    return [
        (schema, table, view)
        for schema, table, names, _, view in report_sources(conn)
        if set(names) & PERSONAL_COLUMNS.keys()
    ]


def mask_personal_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Each personal table's report view becomes a table of its masked rows, and the unmasked table is
    dropped; the data-quality samples quoting those tables' values are blanked. Comments are written anew
    (reading them back through duckdb_columns() binds every view: seconds)."""
    conn.execute("begin")
    personal = personal_tables(conn)
    catalog, common = catalog_column_comments(conn), reference_column_comments()
    for schema, table, view in personal:
        name = view.removeprefix("report.")
        columns = [c[0] for c in conn.execute(f"select * from {view} limit 0").description]
        kept = [column for column in columns if column not in UNVETTED_COLUMNS]
        selected = ", ".join(f'"{column}"' for column in kept)
        conn.execute(f"create table report.masked_staging as select {selected} from {view}")
        conn.execute(f"drop view {view}")
        conn.execute(f'drop table {schema}."{table}"')
        conn.execute(f"alter table report.masked_staging rename to {name}")
        comment_masked_table(conn, schema, table, view, kept, catalog, common)
    blank_personal_samples(conn, [table for schema, table, _ in personal if schema == "raw"])
    conn.execute("commit")


def comment_masked_table(conn, schema: str, table: str, view: str, columns, catalog, common) -> None:
    described = f"{schema}.{table} 的脱敏副本，已连接学校名称；未脱敏的原表不在本文件中 / masked rows only"
    conn.execute(f"comment on table {view} is {literal(described)}")
    texts = [column_comment("report", view.removeprefix("report."), column, catalog, common) for column in columns]
    execute_all(
        conn,
        [
            f'comment on column {view}."{column}" is {literal(text)}'
            for column, text in zip(columns, texts, strict=True)
        ],
    )


def blank_personal_samples(conn: duckdb.DuckDBPyConnection, raw_tables: list[str]) -> None:
    """quality.issues and quality.unmapped_headers quote sample values: none from the personal tables."""
    codes = [
        code
        for (code,) in conn.execute(
            "select table_code from ref.platform_tables where table_name in (select unnest(?::varchar[]))", [raw_tables]
        ).fetchall()
    ]
    conn.execute("update quality.issues set samples = null where table_code in (select unnest(?::varchar[]))", [codes])
    if ("quality", "unmapped_headers") in published_tables(conn):
        conn.execute(
            "update quality.unmapped_headers set samples = null where table_code in (select unnest(?::varchar[]))",
            [codes],
        )


# --- what the published copies were built from ------------------------------------------------------
# Both copies are rebuilt only from what changed: each table of the work file is fingerprinted (its
# columns and rows, in one scan), and the record beside the copies (`warehouse.fingerprints.json`) says what
# they were built from. Nothing changed: both copies stay. Some tables changed: the full copy is made anew
# (a file copy, then its explanation, staged while the tables are fingerprinted and renamed over the old
# one) and the analyst copy starts from the previous one and takes only the changed tables from it (masking
# the changed staff tables again), instead of masking millions of staff rows each night. The record is
# removed before either copy is replaced and written after both are: a run that fails in between leaves no
# record, and the next run rebuilds both in full.

PRINTS_SUFFIX = ".fingerprints.json"
# DuckDB does not give back the blocks of a replaced table: an analyst copy updated night after night grows.
# Past this multiple of its size when last built afresh (recorded), it is built afresh again.
ANALYST_GROWTH = 1.3
PRINT_THREADS = 4


def work_table_prints(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`schema.table` → a fingerprint of its columns and rows (in any order) for every table publication copies."""
    columns = dict(
        conn.execute(
            "select schema_name || '.' || table_name, list(column_name || ' ' || data_type order by column_index) "
            "from duckdb_columns() where database_name = current_database() "
            "and schema_name in (select unnest(?::varchar[])) group by all",
            [list(PUBLISHED_SCHEMAS)],
        ).fetchall()
    )
    names = [f"{schema}.{table}" for schema, table in published_tables(conn)]
    names = [name for name in names if name not in INTERNAL_TABLES]
    # DuckDB scans a small table on one thread: scanning several tables at once keeps both CPUs busy
    with ThreadPoolExecutor(PRINT_THREADS) as pool:
        sums = pool.map(lambda name: table_sum(conn, name), names)
        return {
            name: hashlib.sha256(f"{duckdb.__version__}\0{columns.get(name)}\0{count}\0{total}".encode()).hexdigest()
            for name, (count, total) in zip(names, sums, strict=True)
        }


def table_sum(conn: duckdb.DuckDBPyConnection, name: str) -> tuple[int, str]:
    """Row count and the sum of the rows' hashes of `schema.table`, on a cursor of its own (one per thread)."""
    schema, table = name.split(".", 1)
    with conn.cursor() as cursor:
        return cursor.execute(f'select count(*), sum(hash(t))::varchar from {schema}."{table}" as t').fetchone()


def publication_version(descriptions: Mapping[str, str]) -> str:
    """The code and texts that shape the copies besides the tables: a change rebuilds both in full."""
    from pipelines.sitebuild import code_version

    digest = hashlib.sha256(
        code_version("assets/publish.py", "assets/publication.py", "reference/warehouse_columns.csv").encode()
    )
    digest.update(json.dumps(sorted(descriptions.items()), ensure_ascii=False).encode())
    return digest.hexdigest()


def file_identity(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


class PublicationRecord:
    """What the published copies at `published` were built from (see above)."""

    def __init__(self, published: Path) -> None:
        self.published = published
        self.path = published.with_name(published.name + PRINTS_SUFFIX)
        try:
            self.before = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.before = {}

    def copies_intact(self, version: str) -> bool:
        """The record is of this code and both copies are the files it describes."""
        copies = [self.published, analyst_copy_path(self.published)]
        return self.before.get("version") == version and self.before.get("files") == [
            file_identity(path) for path in copies
        ]

    def changed(self, version: str, prints: Mapping[str, str]) -> set[str] | None:
        """The tables whose content differs from what the copies hold (new and removed ones too); None when the
        copies cannot be trusted to be what the record says (then everything is rebuilt)."""
        if not self.copies_intact(version):
            return None
        before = self.before.get("tables") or {}
        return {name for name in before.keys() | prints.keys() if before.get(name) != prints.get(name)}

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

    def save(self, version: str, prints: Mapping[str, str], analyst_fresh_bytes: int) -> None:
        copies = [self.published, analyst_copy_path(self.published)]
        record = {
            "version": version,
            "files": [file_identity(path) for path in copies],
            "tables": dict(prints),
            "analyst_fresh_bytes": analyst_fresh_bytes,
        }
        atomic_write_text(self.path, json.dumps(record, sort_keys=True, indent=0))


def update_analyst_copy(published: Path, changed: set[str], descriptions: Mapping[str, str]):
    """`prepare` for a copy of the previous analyst copy: the `changed` tables taken from the new full copy
    (staff tables masked again), the rest kept; views, comments and blanked samples made again (cheap)."""

    def update(conn: duckdb.DuckDBPyConnection) -> None:
        conn.execute(f"attach {literal(str(published))} as pub (read_only)")
        conn.execute("begin")
        for (view,) in conn.execute(
            "select view_name from duckdb_views() where database_name = current_database() "
            "and schema_name = 'report' and not internal"
        ).fetchall():
            conn.execute(f'drop view report."{view}"')
        personal = take_changed_tables(conn, changed)
        create_report_views(conn)
        comment_tables(conn, descriptions)
        # the raw columns' comments come from the catalog: a changed catalog comments every column again
        comment_columns(conn, None if changed & CATALOG_TABLES else changed)
        blank_personal_samples(conn, [table for schema, table, _ in personal if schema == "raw"])
        conn.execute("commit")
        conn.execute("detach pub")

    return update


def take_changed_tables(conn: duckdb.DuckDBPyConnection, changed: set[str]) -> list[tuple[str, str, str]]:
    """Replace (or drop) each changed table by the attached full copy's `pub`; returns the personal tables."""
    sources = {
        (schema, table): (names, types, view) for schema, table, names, types, view in report_sources(conn, "pub")
    }
    personal = [(s, t, v) for (s, t), (names, _, v) in sources.items() if set(names) & PERSONAL_COLUMNS.keys()]
    masked = {f"{schema}.{table}": view for schema, table, view in personal}
    held = {f"{schema}.{table}" for schema, table in published_tables(conn)}
    catalog, common = catalog_column_comments(conn), reference_column_comments()
    new = {
        f"{schema}.{table}"
        for schema, table in conn.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'pub' "
            "and schema_name in (select unnest(?::varchar[]))",
            [list(PUBLISHED_SCHEMAS)],
        ).fetchall()
    }
    for name in sorted(changed):
        schema, table = name.split(".", 1)
        if name in held:
            conn.execute(f'drop table {schema}."{table}"')
        if name in masked:
            names, types, view = sources[(schema, table)]
            select = report_select(schema, table, names, types, "pub", UNVETTED_COLUMNS)
            conn.execute(f"create or replace table {view} as {select}")
            kept = [c[0] for c in conn.execute(f"select * from {view} limit 0").description]
            comment_masked_table(conn, schema, table, view, kept, catalog, common)
        elif name not in new:
            for view in (f"report.{table}", f"report.{schema}_{table}"):  # a staff table no longer published
                conn.execute(f"drop table if exists {view}")
        else:
            conn.execute(f"create schema if not exists {schema}")
            conn.execute(f'create table {schema}."{table}" as select * from pub.{schema}."{table}"')
    return personal
