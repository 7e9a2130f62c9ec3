"""GX imported with what our validation never uses deferred (pipelines/quality/gx_import.py): a validation
works without loading any of it, and whatever GX then asks for still loads and works.

Each check runs in a fresh interpreter: in this one, other tests may have imported GX whole already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
DEFERRED = (
    "great_expectations.datasource.fluent.sqlite_datasource",
    "great_expectations.datasource.fluent.spark_datasource",
    "great_expectations.datasource.fluent.pandas_filesystem_datasource",
    "great_expectations.expectations.core.expect_column_max_to_be_between",
    "great_expectations.expectations.core.expect_column_mean_to_be_between",
)


def in_fresh_interpreters(*bodies: str) -> list[dict]:
    """Run each of `bodies` (which sets `out`, a dict) in a new Python process, at the same time, with
    the tests' modules importable; their `out`s."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", f"import json, sys\nout = {{}}\n{body}\nprint(json.dumps(out))"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for body in bodies
    ]
    outs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.splitlines()[-1]))
    return outs


VALIDATE = f"""
import importlib.util
import pandas as pd
from pipelines.quality.gx_runner import gx_context, validate_table
from pipelines.quality.suites import load_suite
from quality_fixtures import QualityWarehouse, clean_rows

table = QualityWarehouse.catalog_table("6.1")
frame = pd.DataFrame(clean_rows(table, 2024)).assign(
    school_code="13001", year=2024, source_file="f.xlsx", row_no=[4, 5, 6], age_at_year_end=40
)
frame.insert(0, "_rid", range(len(frame)))
frame.loc[1, "gender"] = "未知"
found = validate_table(gx_context(), table, load_suite("full_time_teachers"), frame, 10)
out["issues"] = sorted((issue["check_name"], issue["column_name"]) for issue in found)
out["loaded"] = [name for name in {DEFERRED!r} if name in sys.modules]
out["scipy_stats_lazy"] = isinstance(sys.modules["scipy.stats"], importlib.util._LazyModule)
out["altair_stub"] = type(sys.modules["altair"]).__name__
"""


@pytest.fixture(scope="module")
def outs() -> tuple[dict, dict]:
    """One fresh interpreter validates a frame, then asks GX for what was deferred; another looks a
    data source type up by name first thing (once anything deferred is asked for, all of it is loaded)."""
    return tuple(in_fresh_interpreters(VALIDATE + LATER, LOOKUP))


@pytest.fixture(scope="module")
def out(outs) -> dict:
    return outs[0]


def test_a_validation_works_without_loading_what_is_deferred(out):
    assert out["issues"] == [["allowed_values", "gender"]]
    assert out["loaded"] == []
    assert out["scipy_stats_lazy"] is True
    assert out["altair_stub"] == "DeferredModule"


LATER = (
    """
import great_expectations as gx

out["by_name"] = gx.datasource.fluent.PandasFilesystemDatasource.__name__  # a name of the package
out["sqlite_by_name"] = "great_expectations.datasource.fluent.sqlite_datasource" in sys.modules
source = gx_context().data_sources.add_sqlite("db", connection_string="sqlite:///:memory:")  # a factory method
out["sqlite"] = [type(source).__name__, source.type]
out["mean"] = gx.expectations.ExpectColumnMeanToBeBetween.__name__  # a name of the package
out["max_by_name"] = "great_expectations.expectations.core.expect_column_max_to_be_between" in sys.modules
from great_expectations.expectations.registry import get_expectation_impl

out["max"] = get_expectation_impl("expect_column_max_to_be_between")(column="age", max_value=1).column  # by type
out["loaded_after"] = [name for name in """
    + repr(DEFERRED)
    + """ if name in sys.modules]
out["stats"] = gx.expectations.core.expect_column_kl_divergence_to_be_less_than.stats.entropy([0.5, 0.5], [0.5, 0.5])
import altair
out["altair"] = altair.Chart.__name__
"""
)


LOOKUP = """
from pipelines.quality.gx_import import import_gx

import_gx()
from great_expectations.datasource.fluent.sources import DataSourceManager

out["loaded"] = "great_expectations.datasource.fluent.spark_datasource" in sys.modules
out["spark"] = DataSourceManager.type_lookup["spark"].__name__
"""


def test_what_gx_asks_for_later_still_loads_and_works(outs):
    out, lookup = outs
    assert out["by_name"] == "PandasFilesystemDatasource"
    assert out["sqlite_by_name"] is False
    assert out["sqlite"] == ["SqliteDatasource", "sqlite"]
    assert out["mean"] == "ExpectColumnMeanToBeBetween"
    assert out["max_by_name"] is False
    assert out["max"] == "age"
    assert out["loaded_after"] == list(DEFERRED)
    assert out["stats"] == 0.0
    assert out["altair"] == "Chart"
    assert lookup == {"loaded": False, "spark": "SparkDatasource"}


def test_the_expectations_kept_cover_every_suite():
    """An expectation type the suites use but `EXPECTATIONS_KEPT` leaves out would still work (loaded at
    its first lookup), yet load every deferred expectation with it."""
    from pipelines.catalog import load_catalog
    from pipelines.quality.gx_import import EXPECTATIONS_CORE, EXPECTATIONS_KEPT
    from pipelines.quality.suites import load_suite

    used = {
        f"{EXPECTATIONS_CORE}.{item['type']}"
        for table in load_catalog().tables
        for item in load_suite(table.table_name)["expectations"]
    }
    assert used and used <= EXPECTATIONS_KEPT
