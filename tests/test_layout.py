"""Nothing in sql/, expectations/ or reference/ is left over: each file is used by something.

A SQL file builds an asset's table (its key is `<schema>/<stem>`), is one of the SQL checks, or is
loaded by name (`run_sql`/`query` with `"<schema>/<stem>"`); a suite belongs to a catalogued raw
table or is loaded by name; a reference file is read by name by the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from assets.sql_tables import Layer, SqlTable, build_order
from pipelines.catalog import load_catalog
from pipelines.definitions import defs
from pipelines.quality.sql_checks import SQL_CHECKS
from pipelines.settings import REFERENCE_DIR, SQL_DIR

ROOT = SQL_DIR.parent
CODE_DIRS = ("pipelines", "assets", "dashboards")


def code_text(suffixes: tuple[str, ...] = (".py",)) -> str:
    """Every source file of the pipeline, as one text (the places a file can be named)."""
    files = [path for folder in CODE_DIRS for path in (ROOT / folder).rglob("*") if path.suffix in suffixes]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def asset_keys() -> set[str]:
    return {key.to_user_string() for key in defs().resolve_all_asset_keys()}


def unused_sql_files(sql_dir: Path, keys: set[str], code: str) -> list[str]:
    checks = {f"quality/check_{check.name}" for check in SQL_CHECKS}
    names = sorted(f"{path.parent.name}/{path.stem}" for path in sql_dir.glob("*/*.sql"))
    return [name for name in names if name not in keys and name not in checks and f'"{name}"' not in code]


def unused_suites(expectations: Path, code: str) -> list[str]:
    tables = {table.table_name for table in load_catalog().tables}
    return sorted(
        path.name for path in expectations.glob("*.json") if path.stem not in tables and f'"{path.name}"' not in code
    )


def unused_reference_files(reference: Path, code: str) -> list[str]:
    return sorted(path.name for path in reference.glob("*.csv") if f'"{path.name}"' not in code)


def test_every_sql_file_builds_an_asset_is_a_check_or_is_loaded_by_name():
    assert unused_sql_files(SQL_DIR, asset_keys(), code_text()) == []


def test_a_stray_sql_file_is_found(tmp_path):
    (tmp_path / "mart").mkdir()
    (tmp_path / "mart" / "school_risk.sql").write_text("select 1", encoding="utf-8")
    (tmp_path / "mart" / "old_risk.sql").write_text("select 1", encoding="utf-8")
    assert unused_sql_files(tmp_path, asset_keys(), code_text()) == ["mart/old_risk"]


def test_every_suite_belongs_to_a_catalogued_table_and_every_reference_file_is_read():
    code = code_text()
    assert unused_suites(ROOT / "expectations", code) == []
    assert unused_reference_files(REFERENCE_DIR, code) == []


def test_a_stray_suite_or_reference_file_is_found(tmp_path):
    (tmp_path / "full_time_teachers.json").write_text("{}", encoding="utf-8")
    (tmp_path / "retired_table.json").write_text("{}", encoding="utf-8")
    (tmp_path / "thresholds.csv").write_text("", encoding="utf-8")
    (tmp_path / "thresholds_2019.csv").write_text("", encoding="utf-8")
    code = code_text()
    assert unused_suites(tmp_path, code) == ["retired_table.json"]
    assert unused_reference_files(tmp_path, code) == ["thresholds_2019.csv"]


def test_build_order_follows_the_deps_not_the_list_order():
    layer = Layer(
        "mart",
        (
            SqlTable("risk", "", deps=("warnings", "ref/schools")),
            SqlTable("warnings", "", deps=("values",)),
            SqlTable("values", ""),
        ),
    )
    assert [table.name for table in build_order(layer)] == ["values", "warnings", "risk"]
    with pytest.raises(ValueError, match="circular"):
        build_order(Layer("mart", (SqlTable("a", "", deps=("b",)), SqlTable("b", "", deps=("a",)))))


def test_every_table_asset_names_its_table_and_every_asset_has_owners():
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners, key
        if "duckdb" in node.kinds and key.path[0] != "publish":
            assert node.metadata["dagster/table_name"] == ".".join(key.path), key
    teachers = graph.get(next(k for k in graph.get_all_asset_keys() if k.path == ["raw", "full_time_teachers"]))
    columns = {column.name: column for column in teachers.metadata["dagster/column_schema"].columns}
    assert columns["staff_no"].type == "varchar" and columns["staff_no"].description
    assert {"school_code", "year", "source_file", "row_no"} <= columns.keys()


def test_the_code_location_is_named_zhengai_in_the_workspace_and_in_pyproject():
    import tomllib

    import yaml

    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text(encoding="utf-8"))
    [location] = workspace["load_from"]
    assert location["python_module"] == {"module_name": "pipelines.definitions", "location_name": "zhengai"}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["dagster"] == {"module_name": "pipelines.definitions", "code_location_name": "zhengai"}


# Rooms of a readable size: a module over 600 lines, or a function over 80 lines without a
# `# long:` comment in its body saying why, is split. An exemption says what is left to do.
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
SIZE_FOLDERS = ("pipelines", "assets", "dashboards", "benchmarks", "tests")
OVERSIZED_MODULES_ALLOWED: set[str] = set()


def oversized(root: Path) -> list[str]:
    """`path (lines)` of each module over the limit and `path:function (lines)` of each long function
    without a `# long:` reason, under `root`'s SIZE_FOLDERS."""
    found = []
    for folder in SIZE_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            name = path.relative_to(root).as_posix()
            lines = text.splitlines()
            if len(lines) > MAX_MODULE_LINES and name not in OVERSIZED_MODULES_ALLOWED:
                found.append(f"{name} ({len(lines)})")
            for node in ast.walk(ast.parse(text)):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                length = node.end_lineno - node.lineno + 1
                body = lines[node.lineno - 1 : node.end_lineno]
                if length > MAX_FUNCTION_LINES and not any("# long:" in line for line in body):
                    found.append(f"{name}:{node.name} ({length})")
    return found


def test_no_module_over_600_lines_and_no_function_over_80_without_a_reason():
    assert oversized(ROOT) == []


def test_a_long_module_or_an_unexplained_long_function_is_found(tmp_path):
    (tmp_path / "pipelines").mkdir()
    long_body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "pipelines" / "long.py").write_text(
        f"def long():\n{long_body}\n\ndef explained():\n    # long: one table's layout, read top to bottom\n{long_body}",
        encoding="utf-8",
    )
    (tmp_path / "pipelines" / "big.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    (tmp_path / "pipelines" / "fine.py").write_text("x = 1\n" * MAX_MODULE_LINES, encoding="utf-8")
    assert oversized(tmp_path) == ["pipelines/big.py (601)", f"pipelines/long.py:long ({MAX_FUNCTION_LINES + 1})"]
