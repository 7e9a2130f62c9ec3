"""The platform catalog names a source and a confidence for every shape, and the crosswalk holds."""

import csv
import shutil

import pytest

from pipelines.catalog import (
    BASE_VERSION,
    CONFIDENCE_LEVELS,
    PLATFORM_VERSIONS,
    load_catalog,
    load_crosswalk,
    load_header_aliases,
    read_catalog,
    read_crosswalk,
)
from pipelines.settings import REFERENCE_DIR


def unsourced(catalog) -> list[str]:
    """Every table or column row without a source, or with a confidence outside the allowed set."""
    found = []
    for table in catalog.tables + catalog.shapes:
        if (
            not table.source
            or table.confidence not in CONFIDENCE_LEVELS
            or table.platform_version not in PLATFORM_VERSIONS
        ):
            found.append(f"{table.platform_version} {table.code}")
        for column in table.columns:
            if not column.source or column.confidence not in CONFIDENCE_LEVELS:
                found.append(f"{column.platform_version} {table.code}.{column.name}")
    return found


def unmapped(crosswalk, catalog) -> list[str]:
    """Every crosswalk row whose V2 code the catalog does not have, or without source and confidence."""
    codes = set(catalog.codes)
    return [
        f"{entry.platform_version} {entry.table_code}"
        for entry in crosswalk
        if entry.v2_table_code not in codes or not entry.source or entry.confidence not in CONFIDENCE_LEVELS
    ]


def test_every_table_and_column_names_its_source_and_confidence():
    catalog = load_catalog()
    assert unsourced(catalog) == []
    assert all(
        column.platform_version == table.platform_version
        for table in catalog.tables + catalog.shapes
        for column in table.columns
    )


def test_raw_tables_are_the_v2_tables_and_later_shapes_land_in_them():
    catalog = load_catalog()
    assert {table.platform_version for table in catalog.tables} == {BASE_VERSION}
    names = {table.table_name for table in catalog.tables}
    assert len(names) == len(catalog.tables)
    online = catalog.shapes_of("online2017")
    assert {shape.code for shape in online} == {"6.1", "6.2", "6.3"}
    assert all(shape.table_name == "full_time_teachers" for shape in online)


def test_every_crosswalk_row_points_to_a_catalogued_v2_code():
    catalog = load_catalog()
    entries = load_crosswalk()
    assert unmapped(entries, catalog) == []
    codes = set(catalog.codes)
    for version in PLATFORM_VERSIONS:
        mapped = {entry.v2_table_code for entry in entries if entry.platform_version == version}
        assert mapped == codes, f"{version} crosswalk misses {sorted(codes - mapped)}"
        own = [entry.table_code for entry in entries if entry.platform_version == version]
        assert len(own) == len(set(own)), f"{version} crosswalk repeats a table code"


def test_every_header_alias_names_a_catalogued_column():
    catalog = load_catalog()
    aliases = load_header_aliases()
    assert aliases
    for alias in aliases:
        table = catalog.by_code(alias.table_code)
        assert table.column(alias.column_name)
        assert alias.note


def copy_reference(tmp_path):
    for name in ("platform_tables.csv", "platform_columns.csv", "platform_crosswalk.csv"):
        shutil.copy(REFERENCE_DIR / name, tmp_path / name)


def rewrite(path, change):
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    change(rows)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_a_confidence_outside_the_allowed_set_is_refused_with_its_line(tmp_path):
    copy_reference(tmp_path)
    rewrite(tmp_path / "platform_columns.csv", lambda rows: rows[4].update(confidence="sure"))
    with pytest.raises(ValueError, match=r"platform_columns.csv line 6: confidence 'sure'"):
        read_catalog(tmp_path)


def test_a_later_shape_naming_a_column_its_v2_table_lacks_is_refused(tmp_path):
    copy_reference(tmp_path)

    def rename(rows):
        row = next(r for r in rows if r["platform_version"] == "online2017" and r["column_name"] == "is_backbone")
        row["column_name"] = "is_famous_teacher"

    rewrite(tmp_path / "platform_columns.csv", rename)
    with pytest.raises(ValueError, match="is_famous_teacher"):
        read_catalog(tmp_path)


def test_a_blank_source_and_a_crosswalk_row_to_an_unknown_code_are_found(tmp_path):
    copy_reference(tmp_path)
    rewrite(tmp_path / "platform_tables.csv", lambda rows: rows[0].update(source=""))
    rewrite(tmp_path / "platform_columns.csv", lambda rows: rows[1].update(confidence=""))
    rewrite(tmp_path / "platform_crosswalk.csv", lambda rows: rows[-1].update(v2_table_code="9.9"))
    catalog = read_catalog(tmp_path)
    first = catalog.tables[0]
    assert unsourced(catalog) == [f"V2 {first.code}", f"V2 {first.code}.{first.columns[1].name}"]
    last = read_crosswalk(tmp_path)[-1]
    assert unmapped(read_crosswalk(tmp_path), catalog) == [f"{last.platform_version} {last.table_code}"]
