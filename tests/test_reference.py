"""The ref layer: 附件2 transcribed faithfully, codes normalised, catalog and registry loaded."""

from __future__ import annotations

import csv

import dagster as dg
import duckdb
import pytest

from assets import ref
from pipelines.catalog import read_catalog
from pipelines.resources import WarehouseResource
from pipelines.settings import REFERENCE_DIR

REGISTRY_HEADER = "school_code,name_zh,school_type,ownership,status,succeeded,active_from,active_to\n"


def write_registry(home, rows: str) -> None:
    (home / "registry").mkdir(parents=True, exist_ok=True)
    (home / "registry" / "schools.csv").write_text(REGISTRY_HEADER + rows, encoding="utf-8")


@pytest.fixture
def warehouse(tmp_path, zhengai_home):
    write_registry(
        zhengai_home,
        "13830,广西示例职业技术学院,理工,公办,active,,2000,\n"
        "13831,广西新示例职业学院,综合,民办,active,13829,2023,\n"
        "13829,广西旧示例职业学院,综合,民办,renamed,,2005,2022\n",
    )
    resource = WarehouseResource(path=str(tmp_path / "work.duckdb"), published_path=str(tmp_path / "pub.duckdb"))
    result = dg.materialize(dg.load_assets_from_modules([ref]), resources={"warehouse": resource})
    assert result.success
    with duckdb.connect(str(tmp_path / "work.duckdb"), read_only=True) as conn:
        yield conn


def test_diagnosis_table_has_five_items_fifteen_elements_and_every_point(warehouse):
    assert warehouse.sql("select count(*) from ref.diagnostic_items").fetchone()[0] == 5
    elements = warehouse.sql("select element_code from ref.diagnostic_elements order by 1").fetchall()
    assert [e for (e,) in elements] == [
        "1.1",
        "1.2",
        "1.3",
        "1.4",
        "2.1",
        "2.2",
        "2.3",
        "3.1",
        "3.2",
        "4.1",
        "4.2",
        "5.1",
        "5.2",
        "5.3",
        "5.4",
    ]
    per_element = dict(warehouse.sql("select element_code, count(*) from ref.diagnostic_points group by 1").fetchall())
    # Counted from the seed's rows; the note under the table says 37, the rows say 38.
    assert per_element == {
        "1.1": 3,
        "1.2": 2,
        "1.3": 2,
        "1.4": 2,
        "2.1": 3,
        "2.2": 3,
        "2.3": 3,
        "3.1": 3,
        "3.2": 2,
        "4.1": 3,
        "4.2": 2,
        "5.1": 3,
        "5.2": 3,
        "5.3": 3,
        "5.4": 1,
    }
    assert sum(per_element.values()) == 38
    hints = warehouse.sql("select count(*) from ref.diagnostic_points where hint is null or hint = ''").fetchone()[0]
    assert hints == 0


def test_codes_with_stray_spaces_are_normalised(warehouse):
    codes = warehouse.sql(
        "select platform_code from ref.point_platform_codes where element_code = '3.2' and point_no = 1 order by 1"
    ).fetchall()
    assert [c for (c,) in codes] == ["6.1", "6.2", "6.3", "6.4", "7.2"]
    written = warehouse.sql(
        "select platform_codes from ref.diagnostic_points where element_code = '3.2' and point_no = 1"
    ).fetchone()[0]
    assert written == "6. 1/6. 2/6. 3/6. 4/7 . 2"


def test_bare_section_and_group_codes_expand_to_catalogued_tables(warehouse):
    rows = warehouse.sql(
        "select cited_code, list(platform_code order by platform_code) from ref.point_platform_codes "
        "where element_code = '1.1' and point_no = 1 group by 1 order by 1"
    ).fetchall()
    assert dict(rows) == {"1.3": ["1.3.1", "1.3.2"], "7": ["7.1", "7.2", "7.3", "7.4", "7.5"]}


def test_points_without_codes_have_no_coverage(warehouse):
    uncovered = warehouse.sql(
        "select p.element_code, p.point_no from ref.diagnostic_points p "
        "anti join ref.point_platform_codes c using (element_code, point_no) order by 1, 2"
    ).fetchall()
    assert uncovered == [
        ("2.1", 1),
        ("4.2", 1),
        ("5.1", 1),
        ("5.1", 2),
        ("5.2", 2),
        ("5.3", 1),
        ("5.3", 2),
        ("5.3", 3),
        ("5.4", 1),
    ]


def test_every_cited_code_resolves_to_a_catalogued_table(warehouse):
    cited = warehouse.sql(
        "select distinct unnest(list_filter(string_split(regexp_replace(platform_codes, '\\s+', '', 'g'), '/'), "
        "x -> x <> '')) from ref.diagnostic_points"
    ).fetchall()
    resolved = {c for (c,) in warehouse.sql("select distinct cited_code from ref.point_platform_codes").fetchall()}
    assert {c for (c,) in cited} - resolved == set()


def test_catalog_covers_every_table_the_reference_cites(warehouse):
    codes = {c for (c,) in warehouse.sql("select table_code from ref.platform_tables").fetchall()}
    expected = {
        "1.3.1",
        "1.3.2",
        "2.2",
        "3.1",
        "3.2",
        "3.3",
        "3.4",
        "4.1",
        "4.2",
        "4.3",
        "5.1",
        "5.2",
        "6.1",
        "6.2",
        "6.3",
        "6.4",
        "7.1",
        "7.2",
        "7.3",
        "7.4",
        "7.5",
        "8.1",
        "8.2",
        "8.3",
        "8.4",
        "8.5",
        "8.6",
        "8.7",
        "8.8",
        "9.1",
        "9.2",
        "9.3",
    }
    assert expected <= codes
    headers = warehouse.sql(
        "select headers from ref.platform_columns where table_code = '6.1' and column_name = 'first_degree'"
    ).fetchone()[0]
    assert headers == ["第一学历/学位"]
    names = warehouse.sql("select count(distinct table_name), count(*) from ref.platform_tables").fetchone()
    assert names[0] == names[1]


def test_registry_keeps_succession_links(warehouse):
    row = warehouse.sql(
        "select school_type, succeeded, active_from from ref.schools where school_code = '13831'"
    ).fetchone()
    assert row == ("综合", ["13829"], 2023)


def test_missing_registry_is_a_clear_error(tmp_path, zhengai_home):
    resource = WarehouseResource(path=str(tmp_path / "w.duckdb"))
    result = dg.materialize([ref.schools], resources={"warehouse": resource}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "registry not found" in failure.event_specific_data.error.to_string()


def test_catalog_rejects_an_unknown_column_type(tmp_path):
    for name in ("platform_tables.csv", "platform_columns.csv"):
        (tmp_path / name).write_text((REFERENCE_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    assert len(read_catalog(tmp_path).tables) == 32
    with open(tmp_path / "platform_columns.csv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[1][3] = "money"
    with open(tmp_path / "platform_columns.csv", "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    with pytest.raises(ValueError, match="line 2: unknown type 'money'"):
        read_catalog(tmp_path)


def test_reference_files_naming_unknown_codes_are_refused_with_the_codes(tmp_path, monkeypatch):
    """The real check of ref.thresholds, on the real ref tables: an unknown indicator is named, a known one passes."""
    conn = duckdb.connect()
    ref.build_reference_tables(conn, ["indicators"])
    thresholds = tmp_path / "thresholds.csv"
    header = (REFERENCE_DIR / "thresholds.csv").read_text(encoding="utf-8").splitlines()[0]
    row = "{},综合,80,,测试,unconfirmed,,,"
    thresholds.write_text(f"{header}\n{row.format('no_such_indicator')}\n", encoding="utf-8")
    monkeypatch.setattr(ref, "THRESHOLDS_FILE", thresholds)
    with pytest.raises(ValueError, match=r"thresholds.csv names unknown indicators: \['no_such_indicator'\]"):
        ref.build_reference_tables(conn, ["thresholds"])
    thresholds.write_text(f"{header}\n{row.format('books_per_student')}\n", encoding="utf-8")
    ref.build_reference_tables(conn, ["thresholds"])
    assert conn.execute("select indicator_code from ref.thresholds").fetchall() == [("books_per_student",)]


@pytest.mark.parametrize(
    ("setting", "added", "step", "refusal"),
    [
        ("EXEMPTIONS_FILE", None, "indicator_exemptions", None),  # the files as shipped are accepted
        (
            "EXEMPTIONS_FILE",
            "books_per_student,books_new,1,no_such_measure,1,测试,测试,unconfirmed",
            "indicator_exemptions",
            "indicator_exemptions.csv names unknown indicators or measur"
            "es: [('books_per_student', 'books_new', 'no_such_measure')]",
        ),
        (
            "EXEMPTIONS_FILE",
            "no_such_indicator,books_new,1,equivalent_students,1,测试,测试,unconfirmed",
            "indicator_exemptions",
            "indicator_exemptions.csv names unknown indicators or measures: "
            "[('no_such_indicator', 'books_new', 'equivalent_students')]",
        ),
        (
            "INDICATOR_COLUMNS_FILE",
            "books_per_student,8.1,no_such_column,测试",
            "indicator_columns",
            "indicator_columns.csv names unknown indicators or catalog columns: [('books_per_student', '8.1', 'no_such_column')]",
        ),
        (
            "INDICATOR_COLUMNS_FILE",
            "no_such_indicator,6.1,title_level,测试",
            "indicator_columns",
            "indicator_columns.csv names unknown indicators or catalog columns: [('no_such_indicator', '6.1', 'title_level')]",
        ),
    ],
)
def test_exemptions_and_indicator_columns_naming_unknown_codes_are_refused(
    tmp_path, monkeypatch, setting, added, step, refusal
):
    """The real ref builders on the shipped reference file with one line added: that line's unknown codes
    stop the build, named in its error; the shipped files alone pass."""
    shipped = getattr(ref, setting)
    edited = tmp_path / shipped.name
    edited.write_text(
        shipped.read_text(encoding="utf-8").rstrip("\n") + (f"\n{added}" if added else "") + "\n", encoding="utf-8"
    )
    monkeypatch.setattr(ref, setting, edited)
    conn = duckdb.connect()
    ref.build_reference_tables(conn, ["indicators", "platform_tables", "platform_columns"])
    if refusal is None:
        ref.build_reference_tables(conn, [step])
        return
    with pytest.raises(ValueError) as refused:
        ref.build_reference_tables(conn, [step])
    assert refusal in str(refused.value)
