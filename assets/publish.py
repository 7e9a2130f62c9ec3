"""Publication: the warehouse analysts open and the site are replaced atomically once everything upstream is built."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from pipelines.resources import WarehouseResource
from pipelines.sitebuild import publish_site


def build_published_warehouse(upstream: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The last asset of a run: depends on every other asset, so a failed run never publishes."""

    @dg.asset(key=["publish", "warehouse"], group_name="publish", kinds={"duckdb"}, deps=list(upstream))
    def published_warehouse(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Copy of the working warehouse at $ZHENGAI_HOME/warehouse.duckdb, replaced atomically; then the
        run's site build becomes $ZHENGAI_HOME/site, switched in one rename (pipelines/sitebuild.py)."""
        target = warehouse.publish()
        site = publish_site(context.run_id)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(target)),
                "bytes": target.stat().st_size,
                "site_build": dg.MetadataValue.path(str(site)) if site else "(no pages built in this run)",
            }
        )

    return published_warehouse
