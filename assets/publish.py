"""Publication: the warehouse analysts open is replaced atomically once everything upstream is built."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from pipelines.resources import WarehouseResource


def build_published_warehouse(upstream: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The last asset of a run: depends on every other asset, so a failed run never publishes."""

    @dg.asset(key=["publish", "warehouse"], group_name="publish", kinds={"duckdb"}, deps=list(upstream))
    def published_warehouse(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Copy of the working warehouse at $ZHENGAI_HOME/warehouse.duckdb, replaced atomically."""
        target = warehouse.publish()
        return dg.MaterializeResult(
            metadata={"path": dg.MetadataValue.path(str(target)), "bytes": target.stat().st_size}
        )

    return published_warehouse
