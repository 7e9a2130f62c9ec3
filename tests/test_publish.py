"""The published warehouse explains itself: comments everywhere, plain types, report views, masked staff."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.publication import FRESHNESS
from assets.publish import ANALYST_COPY_MODE, UNDESCRIBED, analyst_copy_path
from pipelines.definitions import defs
from pipelines.settings import get_settings

SCHEMAS = ("ref", "raw", "quality", "mart", "report")


@pytest.fixture(scope="module")
def published(small_province, tmp_path_factory):
    """The published warehouse and the work file of one full nightly run (`zhengai run` on the small
    province of province_fixtures.py: two colleges, one year), read from a copy of its home."""
    home = tmp_path_factory.mktemp("publish") / "home"
    shutil.copytree(small_province, home, symlinks=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZHENGAI_HOME", str(home))
        settings = get_settings()
        conn = duckdb.connect(str(settings.warehouse), read_only=True)
        work = duckdb.connect(str(settings.work_warehouse), read_only=True)
        yield conn, work
        conn.close()
        work.close()


@pytest.fixture(scope="module")
def analyst(published):
    """The analyst copy published beside the full one."""
    conn, _ = published
    path = Path(
        conn.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    )
    copy = duckdb.connect(str(analyst_copy_path(path)), read_only=True)
    yield copy, analyst_copy_path(path)
    copy.close()


def rows(conn, sql: str) -> list[tuple]:
    return conn.execute(sql, [list(SCHEMAS)]).fetchall()


def test_every_table_view_and_column_has_a_comment(published):
    conn, _ = published
    tables = rows(
        conn, "select schema_name, table_name, comment from duckdb_tables() where schema_name in (select unnest(?))"
    )
    views = rows(
        conn, "select schema_name, view_name, comment from duckdb_views() where schema_name in (select unnest(?))"
    )
    columns = rows(
        conn, "select table_name, column_name, comment from duckdb_columns() where schema_name in (select unnest(?))"
    )
    assert len(tables) > 50 and len(views) > 20 and len(columns) > 600
    assert [t for t in tables + views if not t[2]] == []
    assert [c for c in columns if not c[2]] == []
    # The catalog's header and unit reach the raw columns; nearly every column has its own text.
    comment = {(t, c): text for t, c, text in columns}
    assert comment[("full_time_teachers", "is_double_qualified")].startswith("是否双师素质教师")
    assert "平方米" in comment[("campus_area", "land_area")]
    assert sum(text == UNDESCRIBED for _, _, text in columns) < len(columns) // 20


def test_the_work_file_is_not_changed_by_publication(published):
    _, work = published
    assert work.execute("select count(*) from duckdb_tables() where comment is not null").fetchone()[0] == 0
    assert (
        work.execute("select count(*) from duckdb_tables() where table_name = 'suite_results_cache'").fetchone()[0] == 1
    )


def test_year_is_one_integer_type_and_no_wide_numbers(published):
    conn, work = published
    year_types = {
        t
        for (t,) in rows(
            conn,
            "select distinct data_type from duckdb_columns() where column_name = 'year' and schema_name in (select unnest(?))",
        )
    }
    assert year_types == {"INTEGER"}
    wide = rows(
        conn,
        "select table_name, column_name, data_type from duckdb_columns() where schema_name in (select unnest(?)) "
        "and (data_type = 'HUGEINT' or (data_type like 'DECIMAL(%' and numeric_precision > 18))",
    )
    assert wide == []
    # the defects were there before publication, so the test would see them come back
    before = rows(
        work,
        "select count(*) from duckdb_columns() where schema_name in (select unnest(?)) "
        "and (data_type = 'HUGEINT' or (column_name = 'year' and data_type <> 'INTEGER'))",
    )
    assert before[0][0] > 0


def test_the_internal_cache_is_not_published(published):
    conn, _ = published
    assert (
        conn.execute("select count(*) from duckdb_tables() where table_name = 'suite_results_cache'").fetchone()[0] == 0
    )


def test_report_views_join_school_names_and_mask_staff(published):
    conn, work = published
    names = dict(work.execute("select school_code, name_zh from ref.schools").fetchall())
    shown = conn.execute(
        "select school_code, school_name, name, staff_no, birth_year from report.full_time_teachers"
    ).fetchall()
    real = work.execute("select name, staff_no, year(birth_date) from raw.full_time_teachers").fetchall()
    assert shown and len(shown) == len(real)
    assert all(school_name == names[code] for code, school_name, *_ in shown)
    real_names = {name for name, _, _ in real}
    real_numbers = {number for _, number, _ in real}
    assert all(name.endswith("**") and name not in real_names for _, _, name, _, _ in shown if name)
    assert not {number for *_, number, _ in shown} & real_numbers
    assert sorted(y for *_, y in shown if y) == sorted(y for *_, y in real if y)
    columns = {
        c
        for (c,) in conn.execute(
            "select column_name from duckdb_columns() where schema_name = 'report' and table_name = 'full_time_teachers'"
        ).fetchall()
    }
    assert "birth_date" not in columns
    reasons = conn.execute(
        "select data_type from duckdb_columns() where schema_name = 'report"
        "' and table_name = 'indicator_warnings' and column_name = 'reasons'"
    ).fetchone()
    assert reasons == ("VARCHAR",)


def test_the_published_warehouse_has_a_freshness_policy():
    graph = defs().resolve_asset_graph()
    assert graph.get(dg.AssetKey(["publish", "warehouse"])).freshness_policy == FRESHNESS


def personal_values(work) -> set[str]:
    """Every staff member's full name and staff number, from the unmasked tables of the work file."""
    found = set()
    for (table,) in work.execute(
        "select distinct table_name from duckdb_columns() where schema_name = 'raw' and column_name = 'staff_no'"
    ).fetchall():
        found |= {v for row in work.execute(f"select name, staff_no from raw.{table}").fetchall() for v in row if v}
    return found


def copies_of(conn, values: set[str]) -> set[str]:
    """The tables of `conn` with a text cell equal to one of `values` (a list cell: any of its elements)."""
    columns = conn.execute(
        "select schema_name, table_name, list((column_name, data_type)) from duckdb_columns() "
        "where database_name = current_database() and schema_name in (select unnest(?)) "
        "and data_type in ('VARCHAR', 'VARCHAR[]') group by all",
        [list(SCHEMAS)],
    ).fetchall()
    found = set()
    for schema, table, typed in columns:
        cells = " or ".join(
            f'list_has_any("{name}", $v)' if kind == "VARCHAR[]" else f'list_contains($v, "{name}")'
            for name, kind in typed
        )
        if conn.execute(f'select count(*) from {schema}."{table}" where {cells}', {"v": sorted(values)}).fetchone()[0]:
            found.add(f"{schema}.{table}")
    return found


def test_the_analyst_copy_holds_no_unmasked_staff_data_and_the_scan_finds_it_in_the_full_copy(published, analyst):
    conn, work = published
    copy, path = analyst
    values = personal_values(work)
    assert values and "raw.full_time_teachers" in copies_of(conn, values)
    assert copies_of(copy, values) == set()
    tables = {t for (t,) in copy.execute("select schema_name || '.' || table_name from duckdb_tables()").fetchall()}
    assert "raw.full_time_teachers" not in tables and "report.full_time_teachers" in tables
    assert path.stat().st_mode & 0o777 == ANALYST_COPY_MODE


def test_the_analyst_copy_keeps_the_masked_rows_and_explains_itself(published, analyst):
    conn, _ = published
    copy, _ = analyst
    columns = "school_code, school_name, name, staff_no, birth_year, title"
    masked = sorted(conn.execute(f"select {columns} from report.full_time_teachers").fetchall(), key=repr)
    assert masked and masked == sorted(
        copy.execute(f"select {columns} from report.full_time_teachers").fetchall(), key=repr
    )
    assert copy.execute(
        "select count(*) from quality.issues i join ref.platform_tables t using (table_code) "
        "where t.table_name = 'full_time_teachers' and i.samples is not null"
    ).fetchone() == (0,)
    uncommented = rows(
        copy,
        "select table_name, column_name from duckdb_columns() where schema_name in (select unnest(?)) and comment is null",
    )
    assert (
        uncommented == []
        and rows(
            copy, "select table_name from duckdb_tables() where schema_name in (select unnest(?)) and comment is null"
        )
        == []
    )


def analyst_contents(path: Path) -> dict:
    """Every table's columns, rows and comments and every view's columns and comment in a copy."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        found = {}
        for schema, table, comment in conn.execute(
            "select schema_name, table_name, comment from duckdb_tables() order by all"
        ).fetchall():
            data = sorted(map(repr, conn.execute(f'select * from {schema}."{table}"').fetchall()))
            found[f"{schema}.{table}"] = (comment, data)
        found["views"] = conn.execute(
            "select schema_name, view_name, comment from duckdb_views() where not internal order by all"
        ).fetchall()
        found["columns"] = conn.execute(
            "select schema_name, table_name, column_name, data_type, comment from duckdb_columns() order by all"
        ).fetchall()
        return found
    finally:
        conn.close()


def renamed_staff(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("select count(*) from report.full_time_teachers where name = '新**'").fetchone()[0]


def test_a_second_publication_takes_only_changed_tables_and_equals_a_full_one(published, tmp_path):
    from assets.publication import publish_copies, staged_copy_path
    from assets.publish import PublicationRecord
    from pipelines.resources import WarehouseResource

    _, work = published
    source = Path(
        work.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    )
    (tmp_path / "work").mkdir()
    shutil.copyfile(source, tmp_path / "work" / "w.duckdb")
    nightly = WarehouseResource(
        path=str(tmp_path / "work" / "w.duckdb"), published_path=str(tmp_path / "a" / "p.duckdb")
    )
    descriptions = {"mart.element_warnings": "要素预警"}
    assert publish_copies(nightly, descriptions) is None  # no record yet: everything built
    analyst = analyst_copy_path(nightly.publish_path())
    built, full_built = analyst.stat().st_ino, nightly.publish_path().stat().st_ino
    assert publish_copies(nightly, descriptions) == set() and analyst.stat().st_ino == built  # nothing changed: kept
    # the full copy staged while the tables were fingerprinted is dropped, the published one kept
    assert nightly.publish_path().stat().st_ino == full_built
    assert not staged_copy_path(nightly.publish_path()).exists()
    before = renamed_staff(analyst)
    with duckdb.connect(str(nightly.work_path())) as conn:
        conn.execute(
            "update raw.full_time_teachers set name = '新名字' where row_no = (select min(row_no) from raw.full_time_teachers)"
        )
        conn.execute("update mart.element_warnings set reasons = ['改过'] where element_code = '1.1'")
        conn.execute("drop table mart.candour_prompts")
    changed = publish_copies(nightly, descriptions)
    assert changed == {"raw.full_time_teachers", "mart.element_warnings", "mart.candour_prompts"}
    full = WarehouseResource(path=nightly.path, published_path=str(tmp_path / "b" / "p.duckdb"))
    assert publish_copies(full, descriptions) is None
    assert analyst_contents(analyst) == analyst_contents(analyst_copy_path(full.publish_path()))
    assert renamed_staff(analyst) > before  # the changed staff table masked again
    # an analyst copy grown past ANALYST_GROWTH times its fresh size is built afresh, not updated
    record = PublicationRecord(nightly.publish_path())
    fresh = record.before["analyst_fresh_bytes"]
    assert fresh == analyst.stat().st_size  # the last nightly updated it in place; it stays what the record says
    grown(nightly.publish_path(), analyst.stat().st_size // 2)
    with duckdb.connect(str(nightly.work_path())) as conn:
        conn.execute("update mart.element_warnings set reasons = ['又改过'] where element_code = '1.1'")
    assert publish_copies(nightly, descriptions) == {"mart.element_warnings"}
    assert PublicationRecord(nightly.publish_path()).before["analyst_fresh_bytes"] == analyst.stat().st_size
    # a copy replaced behind the record's back: everything is built again
    analyst.write_bytes(analyst_copy_path(full.publish_path()).read_bytes())
    assert PublicationRecord(nightly.publish_path()).changed("any", {}) is None
    assert publish_copies(nightly, descriptions) is None


def grown(published: Path, fresh_bytes: int) -> None:
    """Make the record say the analyst copy was built afresh at `fresh_bytes` (as if it had grown since)."""
    from assets.publish import PRINTS_SUFFIX

    path = published.with_name(published.name + PRINTS_SUFFIX)
    record = json.loads(path.read_text(encoding="utf-8"))
    record["analyst_fresh_bytes"] = fresh_bytes
    path.write_text(json.dumps(record), encoding="utf-8")


def published_then_changed(published, tmp_path):
    """A copy of the work warehouse published once, then one of its tables changed: (warehouse, descriptions,
    the published copy's inode)."""
    import assets.publication as publication
    from pipelines.resources import WarehouseResource

    _, work = published
    source = work.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    shutil.copyfile(source, tmp_path / "w.duckdb")
    nightly = WarehouseResource(path=str(tmp_path / "w.duckdb"), published_path=str(tmp_path / "p" / "p.duckdb"))
    descriptions = {"mart.element_warnings": "要素预警"}
    assert publication.publish_copies(nightly, descriptions) is None
    before = nightly.publish_path().stat().st_ino
    with duckdb.connect(str(nightly.work_path())) as conn:
        conn.execute("update mart.element_warnings set reasons = ['改过'] where element_code = '1.1'")
    return nightly, descriptions, before


def broken(conn):
    raise RuntimeError("the fingerprints' scan failed")


def test_a_publication_that_fails_keeps_the_published_copies_and_leaves_no_staged_one(published, tmp_path, monkeypatch):
    import assets.publication as publication
    import assets.publish as publish

    nightly, descriptions, before = published_then_changed(published, tmp_path)

    monkeypatch.setattr(publish, "work_table_prints", broken)
    with pytest.raises(RuntimeError):
        publication.publish_copies(nightly, descriptions)
    assert nightly.publish_path().stat().st_ino == before
    assert not publication.staged_copy_path(nightly.publish_path()).exists()
    monkeypatch.undo()

    def site_work_failed():  # a page or workbook the run's site steps left to a thread (pipelines/sitebuild.py)
        raise ValueError("sheet 1: 3 rows rendered, 4 laid out")

    with pytest.raises(ValueError, match="rows rendered"):
        publication.publish_copies(nightly, descriptions, site_work_failed)
    assert nightly.publish_path().stat().st_ino == before
    assert not publication.staged_copy_path(nightly.publish_path()).exists()
    assert publication.publish_copies(nightly, descriptions) == {"mart.element_warnings"}  # the record still holds


def test_copies_staged_in_a_thread_are_published_and_a_failure_there_publishes_nothing(
    published, tmp_path, monkeypatch
):
    import assets.publication as publication
    import assets.publish as publish

    nightly, descriptions, before = published_then_changed(published, tmp_path)

    monkeypatch.setattr(publish, "work_table_prints", broken)
    publication.begin_staging("run-a", nightly, descriptions)  # the staged_copies step; the pages render meanwhile
    with pytest.raises(RuntimeError, match="scan failed"):
        publication.staged_copies_of("run-a", nightly, descriptions)  # the publication: nothing replaced
    assert nightly.publish_path().stat().st_ino == before
    assert not list(nightly.publish_path().parent.glob(".*"))  # no staged copy, no staging file left
    monkeypatch.undo()

    publication.begin_staging("run-b", nightly, descriptions)
    staged = publication.staged_copies_of("run-b", nightly, descriptions)
    assert nightly.publish_path().stat().st_ino == before  # staged beside the published copies, not yet published
    analyst = analyst_copy_path(nightly.publish_path())
    assert {publication.staged_copy_path(nightly.publish_path()), publication.staged_copy_path(analyst)} == set(
        nightly.publish_path().parent.glob(".*")
    )
    assert publication.publish_copies(nightly, descriptions, staged=staged) == {"mart.element_warnings"}
    with duckdb.connect(str(analyst), read_only=True) as conn:
        assert conn.execute("select count(*) from mart.element_warnings where reasons = ['改过']").fetchone()[0] > 0
    assert not list(nightly.publish_path().parent.glob(".*"))


def test_the_copies_are_staged_once_every_table_is_built_and_before_the_pages():
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    staged = graph.get(dg.AssetKey(["publish", "staged_copies"]))
    tables = {key for key in graph.get_all_asset_keys() if key.path[0] in ("ref", "raw", "quality", "mart")}
    assert staged.parent_keys == tables  # not the pages: they render while the copies are staged
    step = definitions.resolve_assets_def(staged.key).op
    assert int(step.tags.get("dagster/priority", 0)) > 0  # run as soon as ready: before the pages still waiting
    assert staged.key in graph.get(dg.AssetKey(["publish", "warehouse"])).parent_keys
