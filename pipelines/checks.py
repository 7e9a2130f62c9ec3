"""Dagster asset checks built from expectations/*.json and sql/quality checks."""


def build_asset_checks() -> list:
    return []
