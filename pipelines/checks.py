"""Moved to pipelines/quality/ (a package); this shim keeps the other areas' imports working until
they import from there. To be removed after the merge."""

from pipelines.quality.asset_checks import build_asset_checks
from pipelines.quality.calendar import quality_params
from pipelines.quality.inputs import prepare_inputs
from pipelines.quality.issues import collect_issues, write_issues
from pipelines.quality.rules import table_status_params

__all__ = ["build_asset_checks", "collect_issues", "prepare_inputs", "quality_params", "table_status_params", "write_issues"]
