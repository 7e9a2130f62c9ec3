"""The demo province generator: determinism, manifest, defects, clean data, registry, CLI.

Files are read back with fastexcel (calamine) the way an export reader would: title on row 1,
a one- or two-level merged header, `序号` first, data until a `合计` row.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import random
import re
import zipfile
from pathlib import Path

import duckdb
import fastexcel
import pytest

from pipelines.catalog import load_catalog
from pipelines.cli import main
from pipelines.demo.defects import DEFECT_KINDS, FORMAT_VARIANTS
from pipelines.demo.names import NATIONAL_PLACES, NATIONAL_TYPE_WORDS, PLACES, TYPE_WORDS, school_name
from pipelines.demo.people import SchoolData
from pipelines.demo.plan import TARGETED_INDICATORS, plan_schools, read_teacher_cap, read_thresholds
from pipelines.demo.province import generate_province, parse_years
from pipelines.demo.tables import BUILD_ORDER, TABLE_BUILDERS
from pipelines.registry import build_schools_table, load_registry
from pipelines.settings import REFERENCE_DIR

YEARS = [2023, 2024]
BLANKS = {"", "-", "无"}


# -- read-back helpers ------------------------------------------------------------------------


def grid_of(path: Path, content: bytes | None = None) -> list[list[str | None]]:
    """Every cell of the first sheet as text (None for empty); CSV files decoded as GBK."""
    if path.suffix == ".csv":
        text = (content if content is not None else path.read_bytes()).decode("gbk")
        return [[cell if cell != "" else None for cell in row] for row in csv.reader(io.StringIO(text))]
    source = content if content is not None else str(path)
    frame = fastexcel.read_excel(source).load_sheet(0, header_row=None, dtypes="string").to_polars()
    return [list(row) for row in frame.iter_rows()]


def read_table(path: Path, table_code: str, content: bytes | None = None) -> dict:
    """{title, headers, rows: [(row_no, {column_name: text})]} for one export."""
    table = load_catalog().by_code(table_code)
    grid = grid_of(path, content)
    title = grid[0][0]
    two_level = len(grid) > 2 and grid[2][0] is None and any(cell for cell in grid[2][1:])
    headers, top = [], None
    for col in range(len(grid[1])):
        upper = grid[1][col]
        lower = grid[2][col] if two_level else None
        if upper is not None:
            top = upper
        headers.append(f"{top}/{lower}" if lower else (upper or top))
    lookup = {text: column.name for column in table.columns for text in column.headers}
    names = [lookup.get(header) for header in headers]
    assert headers[0] == "序号"
    assert all(name for name, header in zip(names, headers) if header not in ("序号", "备注")), headers
    first = 3 if two_level else 2
    rows = []
    for index in range(first, len(grid)):
        cells = grid[index]
        if cells[0] == "合计":
            assert index == len(grid) - 1, "合计 must be the last row"
            break
        rows.append((index + 1, {name: cells[col] for col, name in enumerate(names) if name}))
    return {"title": title, "headers": headers, "rows": rows}


def parse_date(text: str) -> dt.date:
    text = text.strip()
    for pattern, build in (
        (r"(\d{4})-(\d{2})-(\d{2})( 00:00:00)?$", lambda m: dt.date(int(m[1]), int(m[2]), int(m[3]))),
        (r"(\d{4})\.(\d{2})$", lambda m: dt.date(int(m[1]), int(m[2]), 1)),
        (r"(\d{4})(\d{2})$", lambda m: dt.date(int(m[1]), int(m[2]), 1)),
    ):
        match = re.match(pattern, text)
        if match:
            return build(match)
    raise AssertionError(f"unreadable date {text!r}")


def core_created(content: bytes) -> dt.datetime:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        xml = archive.read("docProps/core.xml").decode()
    return dt.datetime.strptime(re.search(r"<dcterms:created[^>]*>([^<]+)<", xml)[1], "%Y-%m-%dT%H:%M:%SZ")


def file_content(out: Path, entry: dict) -> bytes:
    if entry.get("archive"):
        with zipfile.ZipFile(out / entry["archive"]) as archive:
            return archive.read(entry["member"])
    return (out / entry["path"]).read_bytes()


def tree_digest(out: Path) -> dict[str, str]:
    return {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    manifest = generate_province(out / "inbox", 3, YEARS, seed=11, defects=False, registry=out / "schools.csv")
    return out / "inbox", manifest


@pytest.fixture(scope="module")
def defective(tmp_path_factory):
    out = tmp_path_factory.mktemp("defective")
    manifest = generate_province(out / "inbox", 4, YEARS, seed=7, defects=True, registry=out / "schools.csv")
    return out / "inbox", manifest


# -- tests ------------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path, defective):
    out, _ = defective
    again = generate_province(tmp_path / "again", 4, YEARS, seed=7, defects=True, registry=tmp_path / "r1.csv", jobs=2)
    assert tree_digest(tmp_path / "again") == tree_digest(out)
    assert (tmp_path / "r1.csv").read_bytes() == (out.parent / "schools.csv").read_bytes()
    assert again["files"] == json.loads((out / "manifest.json").read_text(encoding="utf-8"))["files"]
    generate_province(tmp_path / "seed7", 2, [2024], seed=7, defects=False, registry=tmp_path / "r7.csv")
    generate_province(tmp_path / "seed8", 2, [2024], seed=8, defects=False, registry=tmp_path / "r8.csv")
    assert tree_digest(tmp_path / "seed7") != tree_digest(tmp_path / "seed8")
    assert (tmp_path / "r7.csv").read_bytes() != (tmp_path / "r8.csv").read_bytes()


def test_manifest_lists_every_file_with_its_row_count(defective):
    out, manifest = defective
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == manifest
    on_disk = {str(path.relative_to(out)) for path in out.rglob("*") if path.is_file()} - {"manifest.json"}
    listed = {entry["archive"] or entry["path"] for entry in manifest["files"]}
    assert on_disk == listed
    corrupt = {
        (d["school_code"], d["year"], d["table_code"]) for d in manifest["defects"] if d["kind"] == "corrupt_file"
    }
    catalog_codes = set(load_catalog().codes)
    for entry in manifest["files"]:
        assert entry["table_code"] in catalog_codes
        if (entry["school_code"], entry["year"], entry["table_code"]) in corrupt:
            continue
        content = file_content(out, entry)
        table = read_table(Path(entry["path"]), entry["table_code"], content)
        assert len(table["rows"]) == entry["rows"], entry["path"]
        assert f"（{entry['period_year'] - 1}-{entry['period_year']}学年）" in table["title"]
        if entry["format"] == "xlsx":
            assert core_created(content).isoformat() == entry["exported_at"]


def test_every_defect_kind_is_injected_once_in_the_latest_year(defective):
    out, manifest = defective
    kinds = {record["kind"] for record in manifest["defects"]}
    assert kinds == set(DEFECT_KINDS) | set(FORMAT_VARIANTS)
    assert {record["year"] for record in manifest["defects"]} == {max(YEARS)}
    with_defects = {record["school_code"] for record in manifest["defects"]}
    assert not set(manifest["clean_schools"]) & with_defects
    files = {(e["school_code"], e["year"], e["table_code"]): e for e in manifest["files"]}
    for record in manifest["defects"]:
        code, year, table_code = record["school_code"], record["year"], record["table_code"]
        assert record["description_zh"]
        if record["kind"] == "not_submitted":
            assert not (out / code / str(year)).exists() and not (out / f"{code}_{year}.zip").exists()
            assert not [e for e in manifest["files"] if e["school_code"] == code and e["year"] == year]
        elif record["kind"] == "missing_table":
            assert (code, year, table_code) not in files and load_catalog().by_code(table_code).required
        elif record["kind"] == "corrupt_file":
            with pytest.raises(fastexcel.CalamineError):
                read_table(
                    Path(files[(code, year, table_code)]["path"]),
                    table_code,
                    file_content(out, files[(code, year, table_code)]),
                )
        elif record["kind"] == "stale_period":
            entry = files[(code, year, table_code)]
            title = read_table(Path(entry["path"]), table_code, file_content(out, entry))["title"]
            assert f"（{year - 2}-{year - 1}学年）" in title
        elif record["kind"] == "late_export":
            assert core_created(file_content(out, files[(code, year, table_code)])) > dt.datetime(
                year, 10, 31, 23, 59, 59
            )
        elif record["kind"] == "gbk_csv":
            entry = files[(code, year, table_code)]
            assert entry["path"] == f"{code}/{year}/6-1 校内专任教师.csv"
            (out / entry["path"]).read_bytes().decode("gbk")
        elif record["kind"] == "zip_delivery":
            assert (out / f"{code}_{year}.zip").exists() and not (out / code / str(year)).exists()
        else:
            entry = files[(code, year, table_code)]
            rows = dict(read_table(Path(entry["path"]), table_code, file_content(out, entry))["rows"])
            assert record["row_nos"] and all(row_no in rows for row_no in record["row_nos"])
            values = [rows[row_no][record["column_name"]] for row_no in record["row_nos"]]
            if record["kind"] == "duplicate_key":
                assert len(set(values)) == 1
                assert [r["staff_no"] for r in rows.values()].count(values[0]) == 2
            elif record["column_name"] == "gender":
                assert all(value not in ("男", "女") for value in values)
            elif record["column_name"] == "teaching_hours":
                assert all(float(value) > 1500 for value in values)
            elif record["kind"] == "inconsistent_total":
                row = rows[record["row_nos"][0]]
                items = [row[c.name] for c in load_catalog().by_code("5.2").columns if c.name != "expenditure_total"]
                assert (
                    abs(
                        sum(float(v) for v in items if v not in BLANKS and v is not None)
                        - float(row["expenditure_total"])
                    )
                    > 1
                )


def test_without_defects_there_are_none_and_every_college_is_clean(clean):
    out, manifest = clean
    assert manifest["defects"] == []
    assert len(manifest["clean_schools"]) == 3
    for code in manifest["clean_schools"]:
        for year in YEARS:
            assert (out / code / str(year)).is_dir()
            assert all(path.suffix == ".xlsx" for path in (out / code / str(year)).iterdir())
    required = {table.code for table in load_catalog().tables if table.required}
    for code in manifest["clean_schools"]:
        for year in YEARS:
            present = {e["table_code"] for e in manifest["files"] if e["school_code"] == code and e["year"] == year}
            assert required <= present


def test_clean_data_satisfy_the_catalog_and_add_up(clean):
    out, manifest = clean
    catalog = load_catalog()
    values: dict[tuple, dict[str, list[dict]]] = {}
    for entry in manifest["files"]:
        table = catalog.by_code(entry["table_code"])
        year = entry["year"]
        created = dt.datetime.fromisoformat(entry["exported_at"])
        assert dt.datetime(year, 9, 15) <= created <= dt.datetime(year, 10, 26), entry
        read = read_table(out / entry["path"], table.code)
        keys = set()
        parsed_rows = []
        for row_no, row in read["rows"]:
            parsed = {}
            for column in table.columns:
                text = row[column.name]
                text = (
                    None
                    if text is None or (text.strip() in BLANKS and text.strip() not in column.allowed_values)
                    else text.strip()
                )
                where = f"{entry['path']} 第 {row_no} 行 {column.name}"
                if text is None:
                    assert not column.required, f"{where}: required value blank"
                    parsed[column.name] = None
                    continue
                if column.allowed_values:
                    assert text in column.allowed_values, f"{where}: {text!r}"
                if column.type in ("integer", "number"):
                    number = float(text)
                    if column.type == "integer":
                        assert number == int(number), where
                    if column.min_value is not None:
                        assert number >= column.min_value, f"{where}: {number}"
                    if column.max_value is not None:
                        assert number <= column.max_value, f"{where}: {number}"
                    parsed[column.name] = number
                elif column.type == "date":
                    parsed[column.name] = parse_date(text)
                else:
                    parsed[column.name] = text
            if table.key_columns:
                key = tuple(parsed[name] for name in table.key_columns)
                assert key not in keys, f"{entry['path']}: duplicate key {key}"
                keys.add(key)
            if "birth_date" in parsed:
                age = year - parsed["birth_date"].year
                assert 22 <= age <= 65, f"{entry['path']} 第 {row_no} 行: age {age}"
            parsed_rows.append(parsed)
        values.setdefault((entry["school_code"], year), {})[table.code] = parsed_rows
    for (code, year), tables in values.items():
        students = tables["1.3.2"][0]
        assert students["fulltime_total"] == sum(row["enrolled_students"] for row in tables["7.1"])
        parts = ("fulltime_high_school", "fulltime_secondary_vocational", "fulltime_other")
        assert students["fulltime_total"] == sum(students[name] or 0 for name in parts)
        for table_code, total in (("5.1", "income_total"), ("5.2", "expenditure_total")):
            row = tables[table_code][0]
            items = sum(value or 0 for name, value in row.items() if name != total)
            assert abs(items - row[total]) < 0.01, (code, year, table_code)
        assert all(row["practice_hours"] <= row["total_hours"] for row in tables["7.2"])
        plan = tables["1.3.1"][0]
        assert plan["planned_total"] == sum(row["planned"] for row in tables["9.1"])
        teachers = len(tables["6.1"])
        ratio = students["fulltime_total"] / teachers
        assert 10 <= ratio <= 35, (code, year, ratio)
        staff = {row["staff_no"] for row in tables["6.1"]}
        assert {row["staff_no"] for row in tables["8.7"]} <= staff


def indicator_values(tables: dict[str, list[dict]]) -> dict[str, float]:
    """The targeted indicators, computed from generated rows with 教发〔2004〕2号's 测算办法 (DOMAIN.md §7)."""
    students = tables["1.3.2"][0]
    count = lambda name: students[name] or 0  # noqa: E731
    vocational = students["fulltime_total"]
    fulltime = (
        vocational
        + count("international_students")
        + count("preparatory_students")
        + count("further_study")
        + count("adult_fulltime")
    )
    equivalent = (
        vocational
        + 3 * count("international_students")
        + count("preparatory_students")
        + count("further_study")
        + count("adult_fulltime")
        + 0.3 * count("evening")
        + 0.1 * count("correspondence")
    )
    teachers = tables["6.1"]
    external = len(tables["6.3"]) + len(tables["6.4"])
    cap_share, on_converted = read_teacher_cap()
    converted = (
        min(0.5 * external, cap_share * len(teachers))
        if on_converted
        else 0.5 * min(external, cap_share * len(teachers))
    )
    area = tables["3.1"][0]
    equipment = tables["3.2"][0]
    share = lambda hits: 100 * hits / len(teachers)  # noqa: E731
    return {
        "student_teacher_ratio": equivalent / (len(teachers) + converted),
        "postgrad_teacher_share": share(sum(t["highest_degree"] in ("博士", "硕士") for t in teachers)),
        "senior_title_share": share(sum(t["title_level"] in ("正高级", "副高级") for t in teachers)),
        "teaching_admin_area_per_student": (area["teaching_research_area"] + area["admin_office_area"]) / fulltime,
        "dormitory_area_per_student": area["dormitory_area"] / fulltime,
        "equipment_value_per_student": equipment["equipment_value"] * 10000 / equivalent,
        "new_equipment_share": 100
        * equipment["equipment_value_new"]
        / (equipment["equipment_value"] - equipment["equipment_value_new"]),
        "books_per_student": tables["3.3"][0]["books_total"] / equivalent,
        "computers_per_100_students": 100 * tables["3.4"][0]["teaching_computers"] / fulltime,
        "practice_hours_share": 100
        * sum(c["practice_hours"] for c in tables["7.2"])
        / sum(c["total_hours"] for c in tables["7.2"]),
    }


def beyond(limit, value, lower: bool) -> bool:
    """`value` is on the wrong side of `limit` (above it where lower is better)."""
    return limit is not None and (value > limit if lower else value < limit)


def test_indicator_levels_follow_the_thresholds():
    """Every college lands in the band (green/yellow/red) it was planned for in each year."""
    direction, limits = read_thresholds()
    seen = set()
    for school in plan_schools(47, seed=2026, years=[2023, 2024]):
        data = SchoolData(school, 2026, [2023, 2024]).data
        for year in (2023, 2024):
            for indicator, value in indicator_values(data[year]).items():
                qualified, restricted = limits[(indicator, school.school_type)]
                lower = direction[indicator] == "lower"

                level = (
                    "red"
                    if beyond(restricted, value, lower)
                    else "yellow"
                    if beyond(qualified, value, lower)
                    else "green"
                )
                assert level == school.levels[year][indicator], (school.code, year, indicator, value)
                seen.add(level)
            # a drawn shortfall of 新增设备比例 must not be waived by 表三's exemption (> 1 亿元 and > 1000 万元)
            equipment = data[year]["3.2"][0]
            exempt = equipment["equipment_value"] > 10000 and equipment["equipment_value_new"] > 1000
            assert not exempt or school.levels[year]["new_equipment_share"] == "green", (school.code, year)
            # the monitoring indicators that are not drawn stay above their 合格 values
            students = data[year]["1.3.2"][0]
            fulltime = students["fulltime_total"] + sum(
                students[name] or 0
                for name in ("international_students", "preparatory_students", "further_study", "adult_fulltime")
            )
            land = limits[("land_area_per_student", school.school_type)][0]
            assert data[year]["3.1"][0]["land_area"] / fulltime >= land, (school.code, year)
    assert seen == {"green", "yellow", "red"}


def test_the_manifest_records_the_drawn_level_of_every_college_year_and_indicator(defective):
    _, manifest = defective
    direction, limits = read_thresholds()
    planned = {school.code: school for school in plan_schools(manifest["schools"], manifest["seed"], manifest["years"])}
    for school in manifest["schools_planned"]:
        assert sorted(school["levels"]) == [str(year) for year in manifest["years"]]
        for year, levels in school["levels"].items():
            assert set(levels) == set(direction), school["school_code"]
            for indicator, level in levels.items():
                if indicator in TARGETED_INDICATORS:
                    assert level == planned[school["school_code"]].levels[int(year)][indicator]
                else:  # nothing to fall below: green; a threshold the generator does not aim at: not drawn
                    banded = limits.get((indicator, school["school_type"]), (None, None)) != (None, None)
                    assert level == (None if banded else "green"), (indicator, level)


def test_registry_loads_with_the_ref_sql_and_records_a_rename(defective):
    out, manifest = defective
    conn = duckdb.connect()
    conn.execute("create schema ref")
    build_schools_table(conn, load_registry(out.parent / "schools.csv"))
    rows = conn.execute(
        "select school_code, school_type, ownership, status, succeeded, active_from, active_to from ref.schools"
    ).fetchall()
    codes = {row[0] for row in rows}
    planned = {school["school_code"] for school in manifest["schools_planned"]}
    assert planned <= codes
    assert all(re.fullmatch(r"1\d{4}", code) for code in codes)
    successors = [row for row in rows if row[4]]
    assert len(successors) == 1
    old_code = successors[0][4][0]
    old = next(row for row in rows if row[0] == old_code)
    assert old[3] in ("closed", "merged") and old[6] < min(YEARS)
    types = {row[1] for row in rows}
    with open(REFERENCE_DIR / "thresholds.csv", encoding="utf-8") as handle:
        thresholds_types = {line["school_type"] for line in csv.DictReader(handle)}
    assert types <= thresholds_types
    assert {row[2] for row in rows} <= {"公办", "民办"}


def test_cli_writes_the_province_and_the_default_registry(tmp_path, zhengai_home, capsys):
    code = main(["synth", "--out", str(tmp_path / "inbox"), "--schools", "2", "--years", "2024", "--seed", "5"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "[  1/2]" in printed and "manifest:" in printed and "registry:" in printed
    manifest = json.loads((tmp_path / "inbox" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["years"] == [2024] and len(manifest["clean_schools"]) == 2
    assert (zhengai_home / "registry" / "schools.csv").exists()


def name_parts(name: str, school_type: str) -> tuple[str, str, str] | None:
    """(place, 特色 word, suffix) when `name` is a place, a word of its type and a 高职 suffix."""
    places = "|".join(sorted(PLACES + NATIONAL_PLACES, key=len, reverse=True))
    words = "|".join(sorted(set(TYPE_WORDS[school_type] + NATIONAL_TYPE_WORDS[school_type]), key=len, reverse=True))
    found = re.fullmatch(f"({places})(?:第[0-9]+)?({words})(职业技术学院|职业学院|高等专科学校|技术学院)", name)
    return found.groups() if found else None


def test_college_names_never_run_out_at_national_size_and_stay_plausible():
    national = plan_schools(1550, 2026, [2024])
    names = [school.name_zh for school in national]
    assert len(set(names)) == 1550
    for school in national:
        parts = name_parts(school.name_zh, school.school_type)
        assert parts, school.name_zh
        assert parts[2] != "技术学院" or parts[1] in ("职业", "现代职业")  # 南宁职业技术学院, never 南宁机电技术学院
    assert any(not name.startswith(PLACES) for name in names)  # past the Guangxi names
    # the demo's sizes never leave the Guangxi names they always had
    assert all(school.name_zh.startswith(PLACES) for school in plan_schools(300, 2026, [2024]))


def test_a_type_past_its_whole_name_space_gets_numbered_names():
    rng, taken = random.Random(3), set()
    names = [school_name(rng, "体育", taken) for _ in range(1300)]
    assert len(set(names)) == 1300 and all(name_parts(name, "体育") for name in names)
    assert any("第2" in name for name in names)


def test_every_catalogued_table_has_one_builder_and_each_builder_draws_its_tables():
    assert sorted(TABLE_BUILDERS) == sorted(table.code for table in load_catalog().tables)
    assert sorted(code for codes, _ in BUILD_ORDER for code in codes) == sorted(TABLE_BUILDERS)
    school = plan_schools(1, 5, [2024])[0]
    year = SchoolData(school, 5, [2024]).data[2024]
    assert set(year) == set(TABLE_BUILDERS)
    for code in ("1.3.2", "6.1", "7.1", "7.3", "7.4", "9.2", "8.2", "8.6"):
        assert year[code], code


def test_parse_years():
    assert parse_years("2022-2024") == [2022, 2023, 2024]
    assert parse_years("2024,2022") == [2022, 2024]
    with pytest.raises(ValueError):
        parse_years("2024-2022")
