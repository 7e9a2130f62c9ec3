"""Both platform generations' layouts: per-table fixtures for the ingest, and the mixed demo province."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import fastexcel
import pytest

from pipelines.catalog import load_catalog, load_crosswalk
from pipelines.cli import main
from pipelines.demo.layouts import ONLINE_VERSION, platform_files, write_layout_fixtures
from pipelines.demo.plan import plan_schools
from pipelines.demo.province import generate_province
from pipelines.ingest import ingest_inbox
from pipelines.settings import get_settings

YEARS = [2023, 2024]


def grid(path: Path) -> list[list[str | None]]:
    frame = fastexcel.read_excel(str(path)).load_sheet(0, header_row=None, dtypes="string").to_polars()
    return [list(row) for row in frame.iter_rows()]


@pytest.mark.parametrize("layout", ["V2", ONLINE_VERSION])
def test_fixtures_are_written_per_table_of_each_layout(tmp_path, layout):
    entries = write_layout_fixtures(tmp_path, layout)
    expected = {entry.table_code for entry in load_crosswalk() if entry.platform_version == layout}
    assert {entry["platform_table_code"] for entry in entries} == expected
    assert {entry["table_code"] for entry in entries} == set(load_catalog().codes)
    for entry in entries:
        assert (tmp_path / entry["path"]).is_file()
        assert entry["source"] and entry["confidence"] in ("high", "medium", "low")
        cells = grid(tmp_path / entry["path"])
        data = [row for row in cells[entry["first_data_row"] - 1 :] if row[0] != "合计"]  # V2 may end on a 合计 row
        assert len(data) == entry["rows"]


def test_online_fixtures_split_the_teachers_on_staff_no_with_the_sources_headers(tmp_path):
    entries = {entry["platform_table_code"]: entry for entry in write_layout_fixtures(tmp_path, ONLINE_VERSION)}
    teachers = [entries[code] for code in ("6.1", "6.2", "6.3")]
    assert {entry["table_code"] for entry in teachers} == {"6.1"}
    base, other, teaching = (grid(tmp_path / entry["path"]) for entry in teachers)
    assert base[0][0] == "6.1 教职工基本信息" and "学校名称" in base[1][0]
    other_headers = {cell for row in other[2:4] for cell in row if cell}
    assert "是否为双师素质教师" in other_headers and "行业、企业一线工作时间" in other_headers
    staff = [row[1] for row in base[teachers[0]["first_data_row"] - 1 :]]
    assert [row[1] for row in other[teachers[1]["first_data_row"] - 1 :]] == staff
    taught = {row[1] for row in teaching[teachers[2]["first_data_row"] - 1 :]}
    assert taught <= set(staff) and teachers[2]["rows"] >= len(taught)


def test_online_headers_carry_units_in_full_width_brackets(tmp_path):
    entries = {entry["platform_table_code"]: entry for entry in write_layout_fixtures(tmp_path, ONLINE_VERSION)}
    income = grid(tmp_path / entries["5.1"]["path"])
    headers = [cell.replace("\n", "") for row in income[2:4] for cell in row if cell]
    assert any(text.endswith("（万元）") for text in headers)
    assert not any("(" in text for text in headers)


def test_unknown_layout_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown platform layout"):
        write_layout_fixtures(tmp_path, "V3")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed")
    registry = tmp_path_factory.mktemp("registry") / "registry.csv"
    return out, generate_province(out, 6, YEARS, seed=11, defects=True, registry=registry, layouts="mixed")


def test_mixed_manifest_records_each_college_years_layout_and_its_files(mixed):
    out, manifest = mixed
    layouts = {(entry["school_code"], entry["year"]): entry for entry in manifest["layouts"]}
    assert len(layouts) == len(manifest["layouts"])
    online = [key for key, entry in layouts.items() if entry["layout"] == ONLINE_VERSION]
    assert online and len(online) < len(layouts)
    assert all("title_note_rows" in layouts[key]["variants"] for key in online)
    defective = {(record["school_code"], record["year"]) for record in manifest["defects"]}
    assert not defective & set(online)
    online_codes = {shape.code for shape in platform_files(ONLINE_VERSION)}
    for entry in manifest["files"]:
        key = (entry["school_code"], entry["year"])
        assert (out / entry["path"]).is_file() or entry["archive"]
        if key in online:
            assert entry["layout"] == ONLINE_VERSION and entry["platform_table_code"] in online_codes
        else:
            assert "layout" not in entry


def test_default_layout_is_v2_everywhere(tmp_path):
    manifest = generate_province(
        tmp_path / "out", 2, [2024], seed=11, defects=False, registry=tmp_path / "registry.csv"
    )
    assert {entry["layout"] for entry in manifest["layouts"]} == {"V2"}


def test_mixed_layouts_give_the_same_bytes_for_the_same_seed(tmp_path, mixed):
    out, _ = mixed
    again = tmp_path / "again"
    generate_province(again, 6, YEARS, seed=11, defects=True, registry=tmp_path / "registry.csv", layouts="mixed")

    def digest(root: Path) -> dict[str, str]:
        return {
            str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*"))
            if path.is_file()
        }

    assert digest(again) == digest(out)


@pytest.mark.parametrize("layout", ["V2", ONLINE_VERSION])
def test_each_layout_delivers_every_key_and_required_column_of_every_raw_table(layout):
    delivered: dict[str, set[str]] = {}
    for shape in platform_files(layout):
        delivered.setdefault(shape.v2_code, set()).update(column.name for column in shape.columns)
    for table in load_catalog().tables:
        needed = {column.name for column in table.columns if column.required} | set(table.key_columns)
        assert needed <= delivered[table.code], (
            f"{layout} misses {sorted(needed - delivered[table.code])} of {table.code}"
        )


def test_cli_takes_the_layouts_option_and_refuses_an_unknown_one(tmp_path, zhengai_home, capsys):
    out = tmp_path / "inbox"
    assert (
        main(["synth", "--out", str(out), "--schools", "3", "--years", "2024", "--seed", "5", "--layouts", "mixed"])
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["layouts"]) == 3
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(out), "--layouts", "v3"])


def test_v2_fixtures_load_through_the_ingest_with_every_row(zhengai_home):
    school = plan_schools(1, 7, [2024])[0]  # write_layout_fixtures' college (its default seed and year)
    entries = write_layout_fixtures(get_settings().inbox / school.code / "2024", "V2")
    assert {entry["school_code"] for entry in entries} == {school.code}
    conn = duckdb.connect()
    ingest_inbox(conn, get_settings())
    catalog = load_catalog()
    for entry in entries:
        table = catalog.by_code(entry["table_code"])
        loaded = conn.sql(f'select count(*) from raw."{table.table_name}"').fetchone()[0]
        assert loaded == entry["rows"], entry["path"]
