"""The defects the demo injects (one kind per college where there are enough colleges) and their
manifest records: planning who gets which, and the row-level mutations."""

from __future__ import annotations

import random

from pipelines.demo.plan import School, rng_for

DEFECT_KINDS = (
    "missing_table",
    "not_submitted",
    "out_of_domain",
    "duplicate_key",
    "inconsistent_total",
    "stale_period",
    "late_export",
    "corrupt_file",
)
FORMAT_VARIANTS = ("gbk_csv", "zip_delivery")
# The order colleges are handed defects in: not_submitted first (that college gets nothing else),
# the 6.1 defects and the 6.1 CSV spread apart so that with three colleges none share a file.
DEFECT_ORDER = (
    "out_of_domain",
    "duplicate_key",
    "gbk_csv",
    "stale_period",
    "late_export",
    "inconsistent_total",
    "missing_table",
    "zip_delivery",
    "corrupt_file",
)
DEFECT_TABLES = {
    "out_of_domain": "6.1",
    "duplicate_key": "6.1",
    "gbk_csv": "6.1",
    "stale_period": "3.1",
    "late_export": "6.3",
    "inconsistent_total": "5.2",
    "missing_table": "3.2",
    "corrupt_file": "7.2",
}


def plan_defects(schools: list[School], seed: int) -> dict[str, list[str]]:
    """Defect kinds (and format variants) per college code, each in a different college when possible."""
    if len(schools) < 2:
        raise ValueError("defects need at least 2 colleges (one of them submits nothing)")
    rng = rng_for(seed, "defects")
    order = [school.code for school in schools]
    rng.shuffle(order)
    plan: dict[str, list[str]] = {order[0]: ["not_submitted"]}
    others = order[1:]
    for number, kind in enumerate(DEFECT_ORDER):
        plan.setdefault(others[number % len(others)], []).append(kind)
    return plan


def inject_row_defects(kinds: list[str], tables: dict[str, list[dict]], rng: random.Random) -> list[dict]:
    """Mutate the latest year's rows for the row-level defects; returns (defect, row indexes) records."""
    found = []
    if "out_of_domain" in kinds:
        rows = tables["6.1"]
        bad_gender = sorted(rng.sample(range(len(rows)), 2))
        for index in bad_gender:
            rows[index]["gender"] = "未知"
        bad_hours = sorted(rng.sample([i for i in range(len(rows)) if i not in bad_gender], 1))
        for index in bad_hours:
            rows[index]["teaching_hours"] = rng.randint(1800, 2600)
        found.append(
            {
                "kind": "out_of_domain",
                "table_code": "6.1",
                "column_name": "gender",
                "indexes": bad_gender,
                "description_zh": "性别填写为“未知”，不在允许值（男/女）之内",
            }
        )
        found.append(
            {
                "kind": "out_of_domain",
                "table_code": "6.1",
                "column_name": "teaching_hours",
                "indexes": bad_hours,
                "description_zh": "学年授课学时超过 1500 的上限",
            }
        )
    if "duplicate_key" in kinds:
        rows = tables["6.1"]
        first, second = sorted(rng.sample(range(len(rows)), 2))
        rows[second]["staff_no"] = rows[first]["staff_no"]
        found.append(
            {
                "kind": "duplicate_key",
                "table_code": "6.1",
                "column_name": "staff_no",
                "indexes": [first, second],
                "description_zh": f"教工号 {rows[first]['staff_no']} 重复出现",
            }
        )
    if "inconsistent_total" in kinds:
        row = tables["5.2"][0]
        row["daily_teaching"] = round(row["daily_teaching"] + rng.randint(50, 500) + 0.5, 2)
        found.append(
            {
                "kind": "inconsistent_total",
                "table_code": "5.2",
                "column_name": "expenditure_total",
                "indexes": [0],
                "description_zh": "各项经费支出之和不等于支出合计",
            }
        )
    return found


def defect_record(kind, school_code, year, table_code, column_name, row_nos, description_zh) -> dict:
    return {
        "kind": kind,
        "school_code": school_code,
        "year": year,
        "table_code": table_code,
        "column_name": column_name,
        "row_nos": row_nos,
        "description_zh": description_zh,
    }
