"""A run keeps the working warehouse open from its first step to its end: a step's connection joins the open
database (nothing reopened, nothing checkpointed as it closes), and the file is whole once the run ends."""

from __future__ import annotations

import dagster as dg
import duckdb

from pipelines.resources import WarehouseResource


def wal_of(warehouse: WarehouseResource):
    path = warehouse.work_path()
    return path.with_name(path.name + ".wal")


@dg.asset
def writes(warehouse: WarehouseResource) -> None:
    with warehouse.connect() as conn:
        conn.execute("create or replace table t as select range as n from range(1000)")


@dg.asset(deps=[writes])
def reads(warehouse: WarehouseResource) -> dg.MaterializeResult:
    # the first step's rows are still in the log: its connection's close did not checkpoint the database
    pending = wal_of(warehouse).is_file()
    with warehouse.connect() as conn:
        rows = conn.execute("select count(*) from t").fetchone()[0]
    return dg.MaterializeResult(metadata={"rows": rows, "pending": pending})


def test_the_steps_of_a_run_share_the_open_warehouse_and_leave_it_checkpointed(tmp_path):
    warehouse = WarehouseResource(path=str(tmp_path / "work.duckdb"))
    result = dg.materialize([writes, reads], resources={"warehouse": warehouse})
    metadata = result.asset_materializations_for_node("reads")[0].metadata
    assert metadata["rows"].value == 1000 and metadata["pending"].value is True
    assert not wal_of(warehouse).exists()  # closed with the run: checkpointed
    with duckdb.connect(str(warehouse.work_path()), read_only=True) as conn:
        assert conn.execute("select count(*) from t").fetchone()[0] == 1000
