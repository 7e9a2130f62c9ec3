"""A DuckDB pre-screen of the expectation suites: which college-years could fail which expectation.

Great Expectations costs about 30 ms per expectation and validation whatever the rows (its
bookkeeping, not the data), and a province's tables pass most of their 283 expectations. So before
GX sees a frame, one DuckDB query per table asks, for every expectation of its suite and every
college-year to validate, whether any row *could* fail it (`screened_college_years`). GX then
validates only the college-years with a candidate row, and only on the expectations they could
fail (`gx_runner.suite_issues`); everything else passed, and is cached as passing.

The suites stay the source of truth: the screen reads them, never replaces them, and it is
conservative. Each predicate flags every row GX would count as unexpected (and may flag more: GX
then finds nothing, and reports nothing); an expectation it cannot translate exactly (an unknown
type or keyword, a column of another type, a key without the college and year) is flagged for
every college-year, as is a table-level expectation the frame's columns would fail. `mostly` is
ignored, as in GX's own screening pass: a college-year with one failing row is validated.

How GX reads the frame, and the predicates that cover it:
- nulls: pandas counts NaN as null, so a double column's NaN is null for `not_be_null` and is
  flagged by `be_between` (NaN compares above every number in DuckDB);
- `be_between`, `be_in_set`, pair comparisons: null values (pairs: as `ignore_row_if` says) are
  skipped by GX; the predicates skip them the same way, or flag them where unsure;
- `compound_columns_to_be_unique`: a duplicate under DuckDB's grouping (nulls equal) covers every
  duplicate pandas finds, however GX treats missing values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from pipelines.catalog import LINEAGE_COLUMNS, CatalogTable
from pipelines.quality.inputs import LINEAGE, derived_columns, frame_columns, frame_select

CollegeYear = tuple[str, int]
NUMERIC_TYPES = ("integer", "bigint", "double", "derived")
TEXT_TYPES = ("varchar",)
# keyword arguments the predicates below read; any other keyword makes an expectation unscreenable
KNOWN_KWARGS = {
    "expect_column_values_to_not_be_null": {"column", "mostly"},
    "expect_column_values_to_be_between": {"column", "min_value", "max_value", "mostly"},
    "expect_column_values_to_be_in_set": {"column", "value_set", "mostly"},
    "expect_compound_columns_to_be_unique": {"column_list", "mostly"},
    "expect_column_pair_values_a_to_be_greater_than_b": {"column_A", "column_B", "or_equal", "ignore_row_if", "mostly"},
    "expect_table_columns_to_match_set": {"column_set", "exact_match"},
}


@dataclass
class Screen:
    """A suite as DuckDB: per expectation (by index) a predicate true for a row that could fail it,
    with its bound parameters, or the columns of a key that must be unique; `everywhere` the
    indices flagged for every college-year (not translatable, or a table-level expectation that
    fails)."""

    predicates: dict[int, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)
    keys: dict[int, list[str]] = field(default_factory=dict)
    everywhere: set[int] = field(default_factory=set)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_types(table: CatalogTable) -> dict[str, str]:
    """Each frame column's DuckDB type (derived columns: `derived`, a number)."""
    lineage = {name: kind for name, kind in LINEAGE_COLUMNS if name in LINEAGE}
    return {
        **{column.name: column.duckdb_type for column in table.columns},
        **dict.fromkeys(derived_columns(table), "derived"),
        **lineage,
    }


def table_columns_pass(kwargs: dict, columns: list[str]) -> bool:
    """GX's `expect_table_columns_to_match_set` on a frame with `columns` (and `_rid`)."""
    present = {*columns, "_rid"}
    wanted = set(kwargs["column_set"])
    return wanted <= present if not kwargs.get("exact_match", True) else wanted == present


def add_expectation(screen: Screen, index: int, item: dict, types: dict[str, str], columns: list[str]) -> None:
    """`item`'s predicate into `screen`, or its index into `screen.everywhere`."""
    kind, kwargs = item["type"], item["kwargs"]
    if kind not in KNOWN_KWARGS or not set(kwargs) <= KNOWN_KWARGS[kind]:
        screen.everywhere.add(index)
        return
    if kind == "expect_table_columns_to_match_set":
        if not table_columns_pass(kwargs, columns):
            screen.everywhere.add(index)
        return
    predicate = row_predicate(screen, index, kind, kwargs, types)
    if predicate is not None:
        screen.predicates[index] = f"coalesce({predicate}, true)"
    elif index not in screen.keys:
        screen.everywhere.add(index)


def row_predicate(screen: Screen, index: int, kind: str, kwargs: dict, types: dict[str, str]) -> str | None:
    """The SQL of a row that could fail expectation `index` (None: not translatable)."""
    column = kwargs.get("column")
    kind_of = types.get(column) if column else None
    name = quoted(column) if column else ""
    if kind == "expect_column_values_to_not_be_null" and kind_of:
        return f"{name} is null" + (f" or isnan({name})" if kind_of == "double" else "")
    if kind == "expect_column_values_to_be_between" and kind_of in NUMERIC_TYPES:
        bounds = []
        for key, operator in (("min_value", ">="), ("max_value", "<=")):
            if kwargs.get(key) is not None:
                screen.params[f"p{index}_{key}"] = float(kwargs[key])
                bounds.append(f"{name} {operator} $p{index}_{key}")
        return f"{name} is not null and not ({' and '.join(bounds) or 'true'})"
    if kind == "expect_column_values_to_be_in_set" and kind_of in TEXT_TYPES:
        screen.params[f"p{index}_values"] = [str(value) for value in kwargs["value_set"]]
        return f"{name} is not null and not list_contains($p{index}_values, {name})"
    if kind == "expect_compound_columns_to_be_unique" and {"school_code", "year"} <= set(kwargs["column_list"]):
        if not all(column in types for column in kwargs["column_list"]):
            return None
        screen.keys[index] = kwargs["column_list"]
        return None
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = kwargs["column_A"], kwargs["column_B"]
        if types.get(a) not in NUMERIC_TYPES or types.get(b) not in NUMERIC_TYPES:
            return None
        operator = ">=" if kwargs.get("or_equal") else ">"
        compared = f"not ({quoted(a)} {operator} {quoted(b)})"
        if kwargs.get("ignore_row_if") == "either_value_is_missing":
            return f"{quoted(a)} is not null and {quoted(b)} is not null and {compared}"
        return f"{quoted(a)} is null or {quoted(b)} is null or {compared}"
    return None


def suite_screen(table: CatalogTable, suite: dict) -> Screen:
    screen = Screen()
    types, columns = column_types(table), frame_columns(table)
    for index, item in enumerate(suite["expectations"]):
        add_expectation(screen, index, item, types, columns)
    return screen


def screened_college_years(
    conn: duckdb.DuckDBPyConnection, table: CatalogTable, suite: dict, scope: str
) -> dict[CollegeYear, set[int]]:
    """The college-years of the temp table `scope` (school_code, year) with rows in `raw.<table>`
    that could fail some expectation of `suite`, each with the indices of those expectations: one
    query for the row predicates, one per unique key (its duplicated values, nulls equal)."""
    screen = suite_screen(table, suite)
    scoped = f'select {", ".join(frame_select(table))} from raw."{table.table_name}" semi join {scope} using (school_code, year)'
    indices = sorted(screen.predicates)
    flags = "".join(f", bool_or({screen.predicates[index]})" for index in indices)
    rows = conn.execute(
        f"with scoped as ({scoped}) select school_code, year{flags} from scoped group by all", screen.params
    ).fetchall()
    flagged: dict[CollegeYear, set[int]] = {}
    for school, year, *found in rows:
        failing = {index for index, hit in zip(indices, found, strict=True) if hit} | screen.everywhere
        if failing:
            flagged[(school, int(year))] = failing
    for index, columns in screen.keys.items():
        key = ", ".join(quoted(column) for column in columns)
        duplicated = conn.execute(
            f"with scoped as ({scoped}) select distinct school_code, year from "
            f"(select {key} from scoped group by all having count(*) > 1)"
        ).fetchall()
        for school, year in duplicated:
            flagged.setdefault((school, int(year)), set(screen.everywhere)).add(index)
    return flagged
