"""Great Expectations suites (`expectations/<table_name>.json`), generated from the platform catalog.

`python -m pipelines.quality.suites` rewrites every suite from two sources:

- the catalog (reference/platform_tables.csv, platform_columns.csv): every catalogued column
  present, required columns not null, allowed values, plausible ranges, and the unique key within
  a college and year (a school-grain table: one row per college and year);
- hand refinements in `expectations/refinements.json`, which the catalog cannot express
  (实践学时 ≤ 总学时, an age of 20–75 from 出生日期, a part never larger than its whole). They are
  kept in that file and merged in on every regeneration, so regenerating never loses them.

Each expectation carries `meta` the checks read to word their messages: `source`
(`catalog`|`refinement`), `check` (a short check name), `column` (the catalog column a failure
is reported against), `rule_zh`/`rule_en` (the rule in words) and `fix_zh`/`fix_en` (what to do).
Tolerances (`mostly`) for optional columns come from reference/quality_rules.csv.

Types: the raw tables are typed from the catalog (`create_raw_tables`), so DuckDB enforces each
column's type; a cell the ingest could not read as its type is loaded as null and counted in
`raw.ingest_log.coercion_failures` (SQL check `unreadable_cells`), and a required column shows it
again as not-null. A per-column GX type expectation would only re-test DuckDB's schema (and GX
misreads pandas' nullable dtypes), so the suites check the schema once per table instead.

Derived columns: a refinement may test a column computed when the raw table is read
(`DERIVED_COLUMNS`), e.g. `age_at_year_end` from 出生日期 at the end of the 学年 (31 August).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipelines.catalog import Catalog, CatalogColumn, CatalogTable, load_catalog
from pipelines.files import atomic_write_text
from pipelines.quality.rules import load_quality_rules
from pipelines.settings import EXPECTATIONS_DIR

REFINEMENTS_FILE = "refinements.json"


@dataclass(frozen=True)
class DerivedColumn:
    """A column computed while reading `raw.<table>` (DuckDB expression over the raw columns)."""

    source: str
    expression: str


DERIVED_COLUMNS = {
    "age_at_year_end": DerivedColumn(
        source="birth_date", expression="date_sub('year', birth_date, make_date(year, 8, 31))"
    ),
}


def column_label(column: CatalogColumn) -> str:
    """The header a college sees in its export (the first catalogued header text)."""
    return column.headers[0] if column.headers else column.name


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def expectation(kind: str, kwargs: dict, **meta) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"source": "catalog", **meta}}


def column_expectations(column: CatalogColumn, rules: dict[str, float]) -> list[dict]:
    label = column_label(column)
    mostly = {} if column.required else {"mostly": rules["optional_column_mostly"]}
    unit = column.unit or ""
    found = []
    if column.required:
        found.append(
            expectation(
                "expect_column_values_to_not_be_null",
                {"column": column.name},
                check="required",
                column=column.name,
                problem_zh=f"{label}为空",
                problem_en=f"{column.name} is empty",
                rule_zh=f"{label}为必填项，不能为空",
                rule_en=f"{column.name} is required and must not be empty",
                fix_zh=f"请补填{label}后重新导出",
                fix_en=f"fill in {column.name} and export again",
            )
        )
    if column.allowed_values and column.type == "category":
        allowed = "、".join(column.allowed_values)
        found.append(
            expectation(
                "expect_column_values_to_be_in_set",
                {"column": column.name, "value_set": list(column.allowed_values), **mostly},
                check="allowed_values",
                column=column.name,
                problem_zh=f"{label}不是允许的选项",
                problem_en=f"{column.name} is not an allowed option",
                rule_zh=f"{label}只能填写：{allowed}",
                rule_en=f"{column.name} must be one of {'/'.join(column.allowed_values)}",
                fix_zh=f"请按平台规定的选项（{allowed}）改正后重新导出",
                fix_en="correct the value to one of the platform's options and export again",
            )
        )
    if column.min_value is not None or column.max_value is not None:
        bounds = {
            key: value
            for key, value in (("min_value", column.min_value), ("max_value", column.max_value))
            if value is not None
        }
        low = number_text(column.min_value) if column.min_value is not None else "—"
        high = number_text(column.max_value) if column.max_value is not None else "—"
        found.append(
            expectation(
                "expect_column_values_to_be_between",
                {"column": column.name, **bounds, **mostly},
                check="range",
                column=column.name,
                problem_zh=f"{label}超出合理范围 {low}–{high}{unit}",
                problem_en=f"{column.name} outside {low}–{high} {unit}".rstrip(),
                rule_zh=f"{label}应在 {low}–{high}{unit} 之间",
                rule_en=f"{column.name} must lie within {low}–{high} {unit}".rstrip(),
                fix_zh=f"请核对{label}的数值与单位（{unit or '无单位'}）后重新导出",
                fix_en=f"check the figure and its unit ({unit or 'none'}) and export again",
            )
        )
    return found


def key_expectation(table: CatalogTable) -> dict | None:
    if table.key_columns:
        labels = "+".join(column_label(table.column(name)) for name in table.key_columns)
        return expectation(
            "expect_compound_columns_to_be_unique",
            {"column_list": ["school_code", "year", *table.key_columns]},
            check="unique_key",
            column=table.key_columns[0],
            problem_zh=f"{labels}重复",
            problem_en=f"duplicate {'+'.join(table.key_columns)}",
            rule_zh=f"同一学校同一年度内{labels}不能重复",
            rule_en=f"{'+'.join(table.key_columns)} must be unique within a college and year",
            fix_zh="请核对后删除重复行或改正后重新导出",
            fix_en="remove the duplicate rows or correct the key and export again",
        )
    if table.grain == "school":
        return expectation(
            "expect_compound_columns_to_be_unique",
            {"column_list": ["school_code", "year"]},
            check="one_row",
            column=table.columns[0].name,
            problem_zh="本表出现多行数据",
            problem_en="more than one row for the college and year",
            rule_zh="本表每所学校每年只应有一行数据",
            rule_en="the table holds one row per college and year",
            fix_zh="请删除多余的行（合计行除外）后重新导出",
            fix_en="keep one data row per college and year and export again",
        )
    return None


def schema_expectation(table: CatalogTable) -> dict:
    """Every catalogued column is present in the raw table (DuckDB types them from the catalog)."""
    return expectation(
        "expect_table_columns_to_match_set",
        {"column_set": [column.name for column in table.columns], "exact_match": False},
        check="schema",
        column=None,
        problem_zh="数据表缺少平台规定的列",
        problem_en="the raw table lacks catalogued columns",
        rule_zh="数据表应包含目录中的全部列",
        rule_en="the raw table holds every catalogued column",
        fix_zh="请数据管理员检查数据表目录与入库程序",
        fix_en="data officers: check the catalog and the ingest",
    )


def generated_expectations(table: CatalogTable, rules: dict[str, float]) -> list[dict]:
    found = [schema_expectation(table)]
    found += [item for column in table.columns for item in column_expectations(column, rules)]
    key = key_expectation(table)
    return [*found, key] if key else found


def load_refinements(directory: Path = EXPECTATIONS_DIR) -> dict[str, list[dict]]:
    """Hand-written expectations per table name; each is marked `meta.source = refinement`."""
    path = directory / REFINEMENTS_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    refinements: dict[str, list[dict]] = {}
    for table_name, items in data.get("tables", {}).items():
        refinements[table_name] = [
            {"type": item["type"], "kwargs": item["kwargs"], "meta": {**item.get("meta", {}), "source": "refinement"}}
            for item in items
        ]
    return refinements


def build_suite(table: CatalogTable, rules: dict[str, float], refinements: dict[str, list[dict]]) -> dict:
    """The suite of one raw table as a GX 1.x suite dictionary (`gx.ExpectationSuite(**suite)`)."""
    return {
        "name": table.table_name,
        "expectations": [*generated_expectations(table, rules), *refinements.get(table.table_name, [])],
        "meta": {
            "table_code": table.code,
            "name_zh": table.name_zh,
            "generated_by": "python -m pipelines.quality.suites (catalog + expectations/refinements.json)",
        },
    }


def build_suites(catalog: Catalog | None = None, directory: Path = EXPECTATIONS_DIR) -> dict[str, dict]:
    catalog = catalog or load_catalog()
    rules = load_quality_rules()
    refinements = load_refinements(directory)
    unknown = sorted(set(refinements) - {table.table_name for table in catalog.tables})
    if unknown:
        raise ValueError(f"{REFINEMENTS_FILE} refines tables not in the catalog: {unknown}")
    return {table.table_name: build_suite(table, rules, refinements) for table in catalog.tables}


def write_suites(directory: Path = EXPECTATIONS_DIR, catalog: Catalog | None = None) -> list[Path]:
    """Regenerate every `<table_name>.json` in `directory` (refinements kept, merged back in)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, suite in build_suites(catalog, directory).items():
        path = directory / f"{name}.json"
        atomic_write_text(path, json.dumps(suite, ensure_ascii=False, indent=2) + "\n")
        written.append(path)
    return written


def load_suite(table_name: str, directory: Path = EXPECTATIONS_DIR) -> dict:
    path = directory / f"{table_name}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no expectation suite for raw.{table_name} at {path}: run `python -m pipelines.quality.suites`"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> None:
    written = write_suites()
    print(f"wrote {len(written)} suites to {EXPECTATIONS_DIR}")


if __name__ == "__main__":
    main()
