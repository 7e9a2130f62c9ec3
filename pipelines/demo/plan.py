"""Planning the demo province: the colleges (codes, names, types, sizes), the indicator levels each
is aimed at per year, and the renamed and merged predecessors of the registry."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.demo.draws import rng_for
from pipelines.demo.names import SCHOOL_TYPES, school_name
from pipelines.demo.vocabulary import TYPE_FIELDS
from pipelines.settings import REFERENCE_DIR

# Indicators the generator aims at, and the thresholds file columns it reads.
TARGETED_INDICATORS = (
    "student_teacher_ratio",
    "postgrad_teacher_share",
    "senior_title_share",
    "teaching_admin_area_per_student",
    "dormitory_area_per_student",
    "equipment_value_per_student",
    "new_equipment_share",
    "books_per_student",
    "computers_per_100_students",
    "practice_hours_share",
)
# Green values where the thresholds file has no row for an indicator and type (DOMAIN.md §8 ranges).
GREEN_DEFAULTS = {
    "student_teacher_ratio": (13.0, 17.0),
    "postgrad_teacher_share": (25.0, 45.0),
    "senior_title_share": (22.0, 35.0),
    "teaching_admin_area_per_student": (14.5, 18.0),
    "dormitory_area_per_student": (6.8, 8.0),
    "equipment_value_per_student": (5000.0, 10000.0),
    "new_equipment_share": (11.0, 25.0),
    "books_per_student": (82.0, 95.0),
    "computers_per_100_students": (9.0, 16.0),
    "practice_hours_share": (52.0, 60.0),
}


@dataclass(frozen=True)
class School:
    index: int
    code: str
    name_zh: str
    school_type: str
    ownership: str
    students: int
    growth: float
    targets: dict = field(hash=False)  # year → indicator → value aimed at
    levels: dict = field(hash=False)  # year → indicator → green | yellow | red
    fields: tuple = ()
    active_from: int | None = None
    succeeded: tuple = ()


def read_thresholds(directory: Path = REFERENCE_DIR) -> tuple[dict, dict]:
    """(direction per indicator, (qualified, restricted) per (indicator, school_type)) from reference/."""
    with open(directory / "indicators.csv", encoding="utf-8", newline="") as handle:
        direction = {row["indicator_code"]: row["direction"] for row in csv.DictReader(handle)}
    limits = {}
    with open(directory / "thresholds.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            qualified = float(row["qualified_value"]) if row["qualified_value"] else None
            restricted = float(row["restricted_value"]) if row["restricted_value"] else None
            limits[(row["indicator_code"], row["school_type"])] = (qualified, restricted)
    return direction, limits


def read_teacher_cap(directory: Path = REFERENCE_DIR) -> tuple[float, bool]:
    """(cap share, whether the cap applies to the converted number) of the ¼ rule in warning_rules.csv."""
    with open(directory / "warning_rules.csv", encoding="utf-8", newline="") as handle:
        rules = {row["parameter"]: float(row["value"]) for row in csv.DictReader(handle)}
    return rules["external_teacher_cap_share"], rules["external_teacher_cap_on_converted"] == 1


def capped_teacher_plan(cap_share: float, on_converted: bool) -> tuple[float, float]:
    """(教师总数 ÷ 专任 when the cap binds, the 校外 head count per 专任 above which it binds)."""
    if on_converted:  # 专任 + min(校外 × 0.5, cap × 专任): binds from 校外 = 2 × cap × 专任
        return 1 + cap_share, 2 * cap_share
    return 1 + 0.5 * cap_share, cap_share  # 专任 + min(校外, cap × 专任) × 0.5


def monitoring_floor(limits: dict, indicator: str, school_type: str, default: float) -> float:
    """The 合格 value of a monitoring indicator the generator keeps every college above (not a drawn level)."""
    qualified = (limits.get((indicator, school_type)) or (None, None))[0]
    return default if qualified is None else qualified


def target_value(rng: random.Random, indicator: str, level: str, higher: bool, limits) -> float:
    """A value for `indicator` that lands in the band of `level` (green, yellow or red)."""
    qualified, restricted = limits if limits else (None, None)
    if qualified is None or level == "green":
        if qualified is None:
            return rng.uniform(*GREEN_DEFAULTS[indicator])
        low, high = GREEN_DEFAULTS[indicator]
        if higher:
            return max(rng.uniform(low, high), qualified * rng.uniform(1.04, 1.25))
        return min(rng.uniform(low, high), qualified * rng.uniform(0.75, 0.95))
    if level == "yellow":
        if restricted is None:
            return qualified * (rng.uniform(0.7, 0.9) if higher else rng.uniform(1.1, 1.3))
        return restricted + rng.uniform(0.25, 0.75) * (qualified - restricted)
    return restricted * (rng.uniform(0.75, 0.92) if higher else rng.uniform(1.04, 1.12))


def plan_schools(count: int, seed: int, years: list[int]) -> list[School]:
    """`count` colleges with codes, names, types, sizes and per-year indicator targets.

    About half the colleges are weak on one to three indicators. A weak indicator is weak in
    every year, or only in the latest year (newly weak), or in every year but the latest
    (recovered); the teacher-share indicators, which move only through hiring, stay weak.
    """
    latest = max(years)
    span = range(min(years) - 1, latest + 1)
    rng = rng_for(seed, "schools")
    direction, limits = read_thresholds()
    codes = sorted(rng.sample(range(10000, 20000), count))
    deck = [name for name, weight in SCHOOL_TYPES for _ in range(weight)]
    types: list[str] = []
    while len(types) < count:
        rng.shuffle(deck)
        types.extend(deck)
    taken: set[str] = set()
    schools = []
    for index, code in enumerate(codes):
        school_rng = rng_for(seed, "school", index)
        school_type = types[index]
        ownership = "民办" if school_rng.random() < 0.22 else "公办"
        students = int(min(25000, max(3000, school_rng.lognormvariate(9.1, 0.45))))
        weak_count = school_rng.choices((0, 1, 2, 3), weights=(45, 33, 16, 6))[0]
        weak = set(school_rng.sample(TARGETED_INDICATORS, weak_count))
        levels = {year: {} for year in span}
        targets = {year: {} for year in span}
        for indicator in TARGETED_INDICATORS:
            limit = limits.get((indicator, school_type))
            higher = direction.get(indicator) != "lower"
            green = target_value(school_rng, indicator, "green", higher, limit)
            weak_level, weak_value, pattern = "green", green, "never"
            if indicator in weak:
                has_restricted = bool(limit and limit[1] is not None)
                weak_level = "red" if has_restricted and school_rng.random() < 0.45 else "yellow"
                weak_value = target_value(school_rng, indicator, weak_level, higher, limit)
                pattern = "always"
                if indicator not in ("postgrad_teacher_share", "senior_title_share"):
                    pattern = school_rng.choices(("always", "new", "recovered"), weights=(50, 30, 20))[0]
            for year in span:
                is_weak = (
                    pattern == "always"
                    or (pattern == "new" and year == latest)
                    or (pattern == "recovered" and year < latest)
                )
                levels[year][indicator] = weak_level if is_weak else "green"
                targets[year][indicator] = weak_value if is_weak else green
        fields_ = TYPE_FIELDS[school_type]
        schools.append(
            School(
                index=index,
                code=f"{code:05d}",
                name_zh=school_name(school_rng, school_type, taken),
                school_type=school_type,
                ownership=ownership,
                students=students,
                growth=school_rng.uniform(0.0, 0.07),
                targets=targets,
                levels=levels,
                fields=fields_,
            )
        )
    return schools


def plan_successions(schools: list[School], seed: int, first_year: int) -> tuple[list[School], list[dict]]:
    """One renamed college (and, with ten or more, one merger): old codes closed before `first_year`."""
    rng = rng_for(seed, "successions")
    used = {school.code for school in schools}
    free = [code for code in range(10000, 20000) if f"{code:05d}" not in used]
    old_rows = []
    if not schools:
        return schools, old_rows
    renamed = schools[rng.randrange(len(schools))]
    plans = [(renamed, 1, "closed")]
    if len(schools) >= 10:
        others = [school for school in schools if school.code != renamed.code]
        plans.append((others[rng.randrange(len(others))], 2, "merged"))
    updated = {school.code: school for school in schools}
    for school, old_count, status in plans:
        old_codes = [f"{code:05d}" for code in sorted(rng.sample(free, old_count))]
        free = [code for code in free if f"{code:05d}" not in old_codes]
        for number, old_code in enumerate(old_codes, start=1):
            base = school.name_zh.replace("职业技术学院", "").replace("职业学院", "").replace("高等专科学校", "")
            old_name = f"{base}学校" if old_count == 1 else f"{base}第{number}中等专业学校"
            old_rows.append(
                {
                    "school_code": old_code,
                    "name_zh": old_name,
                    "school_type": school.school_type,
                    "ownership": school.ownership,
                    "status": status,
                    "succeeded": "",
                    "active_from": str(first_year - 6),
                    "active_to": str(first_year - 1),
                }
            )
        updated[school.code] = School(**{**school.__dict__, "active_from": first_year, "succeeded": tuple(old_codes)})
    return [updated[school.code] for school in schools], old_rows
