"""reference/quality_rules.csv: the tolerances and limits the checks apply (the secretariat edits them)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pipelines.settings import REFERENCE_DIR

QUALITY_RULES_FILE = REFERENCE_DIR / "quality_rules.csv"
EXCLUDED_ROWS_SHARE = "excluded_rows_share"


def load_quality_rules(path: Path = QUALITY_RULES_FILE) -> dict[str, float]:
    """reference/quality_rules.csv as numbers; a non-numeric value is an error naming its parameter."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = {row["parameter"].strip(): row["value"].strip() for row in csv.DictReader(handle)}
    rules = {}
    for name, value in rows.items():
        try:
            rules[name] = float(value)
        except ValueError as error:
            raise ValueError(f"{path.name}: parameter {name!r} must be a number, got {value!r}") from error
    return rules


def table_status_params(rules: dict[str, float]) -> dict[str, Any]:
    """The bound parameters of sql/quality/table_status.sql: the reasons shown, and the share of bad rows
    a table may lose before it is judged invalid (`excluded_rows_share`, per table `excluded_rows_share.<code>`)."""
    prefix = f"{EXCLUDED_ROWS_SHARE}."
    per_table = {name[len(prefix) :]: share for name, share in sorted(rules.items()) if name.startswith(prefix)}
    return {
        "max_reasons": int(rules["status_reasons"]),
        "excluded_rows_share": rules[EXCLUDED_ROWS_SHARE],
        "tolerance_tables": list(per_table),
        "tolerance_shares": list(per_table.values()),
    }
