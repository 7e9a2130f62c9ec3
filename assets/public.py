"""Public layer: the disclosure site, site/public/, written into the run's site build (pipelines/public_site.py)."""

from __future__ import annotations

import dagster as dg

from pipelines.public_site import build_public_site
from pipelines.resources import WarehouseResource
from pipelines.sitebuild import site_build

DEPS = [
    dg.AssetKey(["site", "college_dashboards"]),
    dg.AssetKey(["site", "province_overview"]),
    dg.AssetKey(["mart", "review_conclusions"]),
    dg.AssetKey(["mart", "sampling_plan"]),
    dg.AssetKey(["mart", "indicator_values"]),
    dg.AssetKey(["mart", "school_base"]),
    dg.AssetKey(["ref", "thresholds"]),
]


@dg.asset(kinds={"html"}, deps=DEPS)
def public_site(context, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The disclosure site (方案 二(三)、四(三)): only what reference/disclosure.csv declares public."""
    site = site_build(context.run_id)
    with warehouse.connect() as conn:
        counts = build_public_site(site, conn)
    return dg.MaterializeResult(
        metadata={
            "colleges": dg.MetadataValue.int(counts["colleges"]),
            "review_years": dg.MetadataValue.int(counts["years"]),
            "path": dg.MetadataValue.path(str(site / "public")),
        }
    )
