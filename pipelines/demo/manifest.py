"""What the demo writes besides the exports: the college registry and manifest.json (files, defects,
layouts and the level drawn for every college, year and indicator, which demo-check compares)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pipelines.demo.plan import School, read_thresholds
from pipelines.registry import COLUMNS as REGISTRY_COLUMNS


def drawn_levels(school: School, years: list[int], direction: dict, limits: dict) -> dict[str, dict]:
    """The level drawn for every indicator of the catalog, per year, for the manifest: the band an
    aimed-at indicator was placed in; green for one without a threshold for the college's type (no
    band to fall in); None for one with a threshold the generator does not aim at (not drawn)."""
    levels = {}
    for year in years:
        drawn = {}
        for indicator in direction:
            if indicator in school.levels[year]:
                drawn[indicator] = school.levels[year][indicator]
            else:
                qualified, restricted = limits.get((indicator, school.school_type), (None, None))
                drawn[indicator] = "green" if qualified is None and restricted is None else None
        levels[str(year)] = drawn
    return levels


def write_registry(path: Path, schools: list[School], old_rows: list[dict]) -> None:
    rows = [
        {
            "school_code": school.code,
            "name_zh": school.name_zh,
            "school_type": school.school_type,
            "ownership": school.ownership,
            "status": "active",
            "succeeded": "|".join(school.succeeded),
            "active_from": str(school.active_from or ""),
            "active_to": "",
        }
        for school in schools
    ] + old_rows
    rows.sort(key=lambda row: row["school_code"])
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REGISTRY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_manifest(
    out: Path, seed: int, schools: int, years: list[int], planned: list[School], plan: dict, results: list[dict]
) -> dict:
    """Gather the colleges' records into manifest.json (in college order, whatever the workers' order)."""
    files = [entry for result in results for entry in result["files"]]
    found = [record for result in results for record in result["defects"]]
    direction, limits = read_thresholds()
    manifest = {
        "seed": seed,
        "schools": schools,
        "years": years,
        "files": files,
        "defects": found,
        "clean_schools": [school.code for school in planned if school.code not in plan],
        "layouts": [entry for result in results for entry in result["layouts"]],
        "schools_planned": [
            {
                "school_code": school.code,
                "name_zh": school.name_zh,
                "school_type": school.school_type,
                "ownership": school.ownership,
                "levels": drawn_levels(school, years, direction, limits),
            }
            for school in planned
        ],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest
