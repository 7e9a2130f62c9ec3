"""One function per platform table, registered by table code: each draws one college-year's rows.

`build_year` runs the builders in registration order against one random stream per college-year
(`rng_for(seed, "year", code, year)`), so the order below is part of the output: moving a builder
changes every later table's bytes. A builder may register several codes when their rows are drawn
interleaved from that stream (7.3/7.4/9.2 per major; 8.2–8.6 after their head counts), and then
returns one row list per code. Figures later tables derive from (students, 折合在校生, 专任教师,
income) live on the `YearDraw`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipelines.demo.draws import rng_for, split_total, unique_pairs
from pipelines.demo.plan import monitoring_floor
from pipelines.demo.vocabulary import LEADER_POSITIONS, UNIVERSITIES

if TYPE_CHECKING:
    from pipelines.demo.people import SchoolData

TABLE_BUILDERS: dict[str, Callable] = {}  # table code → the builder that draws its rows
BUILD_ORDER: list[tuple[tuple[str, ...], Callable]] = []  # (codes, builder), in drawing order


def builds(*codes: str) -> Callable:
    """Register a builder for `codes` (one row list returned per code, in this order)."""

    def register(builder: Callable) -> Callable:
        for code in codes:
            if code in TABLE_BUILDERS:
                raise ValueError(f"table {code} has two builders")
            TABLE_BUILDERS[code] = builder
        BUILD_ORDER.append((codes, builder))
        return builder

    return register


@dataclass
class YearDraw:
    """One college-year being drawn: its random stream, the tables so far and the shared figures."""

    data: SchoolData
    year: int
    rng: random.Random
    students: int
    tables: dict[str, list[dict]] = field(default_factory=dict)
    fulltime_all: float = 0.0  # 全日制在校生 (教发〔2004〕2号): area and computer denominators
    equivalent: float = 0.0  # 折合在校生: ratio, equipment and book denominators
    fulltime_count: int = 0  # 专任教师
    income: int = 0  # 5.1 收入合计, in hundredths of 万元

    @property
    def school(self):
        return self.data.school

    @property
    def targets(self) -> dict:
        return self.data.school.targets[self.year]

    def jitter(self) -> float:
        """Year-on-year wobble of a target value."""
        return self.rng.uniform(0.97, 1.03)

    def vary(self, name: str, low: float, high: float) -> float:
        """The college's stable rate `name` with this year's wobble."""
        return self.data.stable(name, low, high) * self.jitter()


def build_year(data: SchoolData, year: int) -> dict[str, list[dict]]:
    """Every table's rows for one college-year, drawn by the registered builders in order."""
    students = round(data.school.students * (1 + data.school.growth) ** (year - 2020))
    draw = YearDraw(data, year, rng_for(data.seed, "year", data.school.code, year), students)
    for codes, builder in BUILD_ORDER:
        result = builder(draw)
        for code, rows in zip(codes, result if len(codes) > 1 else (result,)):
            draw.tables[code] = rows
    return draw.tables


# -- students and admissions


@builds("7.1")
def majors_table(draw: YearDraw) -> list[dict]:
    """Full-time students split over the college's majors."""
    rng = draw.rng
    weights = [draw.vary(f"major {code}", 0.4, 1.6) for code, _, _ in draw.data.majors]
    enrolled = split_total(rng, draw.students, weights)
    majors_rows = []
    for (code, name, established), count in zip(draw.data.majors, enrolled):
        majors_rows.append(
            {
                "major_code": code,
                "major_name": name,
                "established_year": established if rng.random() < 0.95 else None,
                "duration_years": 5 if "五年" in name else 3,
                "enrolled_students": count,
                "new_students": min(3000, round(count / 3 * rng.uniform(1.0, 1.12))),
            }
        )
    return majors_rows


@builds("1.3.2")
def students_table(draw: YearDraw) -> list[dict]:
    """在校生 by source; sets the 教发〔2004〕2号 denominators the indicator bands are drawn against."""
    students, vary, stable = draw.students, draw.vary, draw.data.stable
    high = round(students * vary("high school", 0.55, 0.72))
    secondary = round(students * vary("secondary", 0.2, 0.38))
    secondary = min(secondary, students - high)
    international = (
        round(students * vary("international", 0.001, 0.01)) if stable("has international", 0, 1) < 0.25 else 0
    )
    preparatory = round(students * vary("preparatory", 0.005, 0.02)) if stable("has preparatory", 0, 1) < 0.3 else 0
    further = round(students * vary("further", 0.0, 0.02))
    adult = round(students * vary("adult", 0.0, 0.05)) if stable("has adult", 0, 1) < 0.6 else 0
    evening = round(students * vary("evening", 0.0, 0.12)) if stable("has evening", 0, 1) < 0.5 else 0
    correspondence = (
        round(students * vary("correspondence", 0.0, 0.3)) if stable("has correspondence", 0, 1) < 0.5 else 0
    )
    draw.fulltime_all = students + international + preparatory + further + adult
    draw.equivalent = (
        students + 3 * international + preparatory + further + adult + 0.3 * evening + 0.1 * correspondence
    )
    return [
        {
            "fulltime_total": students,
            "fulltime_high_school": high,
            "fulltime_secondary_vocational": secondary,
            "fulltime_other": students - high - secondary,
            "international_students": international if international else None,
            "preparatory_students": preparatory if preparatory else None,
            "further_study": further,
            "adult_fulltime": adult,
            "evening": evening if evening else None,
            "correspondence": correspondence if correspondence else None,
        }
    ]


@builds("9.1")
def admissions_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    admissions = []
    for row in draw.tables["7.1"]:
        registered = row["new_students"]
        admitted = min(3000, max(registered, round(registered / rng.uniform(0.86, 0.97))))
        planned = min(3000, max(admitted, round(admitted * rng.uniform(0.98, 1.1))))
        admissions.append(
            {"major_code": row["major_code"], "planned": planned, "admitted": admitted, "registered": registered}
        )
    return admissions


@builds("1.3.1")
def admission_plan_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    planned_total = sum(row["planned"] for row in draw.tables["9.1"])
    plan_high = round(planned_total * rng.uniform(0.55, 0.75))
    plan_secondary = min(planned_total - plan_high, round(planned_total * rng.uniform(0.2, 0.35)))
    return [
        {
            "planned_total": planned_total,
            "planned_high_school": plan_high,
            "planned_secondary_vocational": plan_secondary,
            "planned_other": planned_total - plan_high - plan_secondary,
        }
    ]


# -- teachers and leaders


@builds("6.1")
def teachers_table(draw: YearDraw) -> list[dict]:
    """专任教师, enough 校外 (6.3) follow that the ¼ cap binds, so 教师总数 = teacher_factor × 专任
    under the reading warning_rules.csv sets (1.25 × 专任 when the converted number is capped)."""
    ratio = draw.targets["student_teacher_ratio"] * draw.jitter()
    draw.fulltime_count = max(40, round(draw.equivalent / (ratio * draw.data.teacher_factor)))
    return draw.data.roster(draw.rng, draw.year, draw.fulltime_count)


@builds("6.2")
def internal_teachers_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    internal = draw.data.people(rng, draw.year, "6.2", round(draw.fulltime_count * draw.vary("internal", 0.1, 0.25)))
    departments = (
        "教务处",
        "学生工作处",
        "招生就业处",
        "后勤处",
        "图书馆",
        "团委",
        "科研处",
        "质量管理办公室",
        "信息中心",
    )
    return [
        {
            "staff_no": person["staff_no"],
            "name": person["name"],
            "gender": person["gender"],
            "department": rng.choice(departments) if rng.random() < 0.95 else None,
            "title_level": person["title_level"],
            "teaching_hours": rng.randint(32, 260),
        }
        for person in internal
    ]


@builds("6.3")
def external_teachers_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    external = max(
        round(draw.fulltime_count * draw.vary("external", 0.4, 0.7)),
        int(draw.fulltime_count * draw.data.binding_external_share) + 1,
    )
    return [
        {
            "name": name,
            "gender": rng.choice(("男", "女")),
            "employer": employer,
            "title_level": rng.choices(("正高级", "副高级", "中级", "初级", "无"), weights=(5, 25, 35, 10, 25))[0]
            if rng.random() < 0.9
            else None,
            "is_industry": rng.random() < 0.85,
            "teaching_hours": rng.randint(36, 240),
        }
        for name, employer in unique_pairs(rng, external, draw.data.companies)
    ]


@builds("6.4")
def guest_teachers_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    guests = (
        round(draw.fulltime_count * draw.vary("guests", 0.0, 0.1)) if draw.data.stable("has guests", 0, 1) < 0.7 else 0
    )
    return [
        {
            "name": name,
            "employer": employer,
            "title_level": rng.choice(("正高级", "副高级", "中级", "无")) if rng.random() < 0.85 else None,
            "teaching_hours": rng.randint(16, 120),
        }
        for name, employer in unique_pairs(rng, guests, UNIVERSITIES + tuple(draw.data.companies[:20]))
    ]


@builds("2.2")
def leaders_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    leader_count = round(draw.data.stable("leaders", 6, 10))
    lectures = draw.data.stable("lectures", 10, 36)
    return [
        {
            "name": name,
            "position": LEADER_POSITIONS[i],
            "lectures_observed": round(lectures * rng.uniform(0.8, 1.2)),
            "teaching_hours": rng.randint(16, 64) if rng.random() < 0.7 else None,
            "student_contacts": rng.randint(6, 60),
        }
        for i, (name, _) in enumerate(unique_pairs(rng, leader_count, ("",)))
    ]


# -- running conditions, aimed at the thresholds; 生均占地 and 生均年进书量 are not drawn, only kept above 合格


@builds("3.1")
def areas_table(draw: YearDraw) -> list[dict]:
    rng, targets, fulltime_all = draw.rng, draw.targets, draw.fulltime_all
    land_floor = monitoring_floor(draw.data.limits, "land_area_per_student", draw.school.school_type, 54.0)
    teaching_admin = targets["teaching_admin_area_per_student"] * draw.jitter() * fulltime_all
    admin_share = rng.uniform(0.12, 0.2)
    teaching_area = round(teaching_admin * (1 - admin_share), 2)
    admin_area = round(teaching_admin * admin_share, 2)
    dormitory = round(targets["dormitory_area_per_student"] * draw.jitter() * fulltime_all, 2)
    practice = round(teaching_area * rng.uniform(0.1, 0.25), 2)
    building = round((teaching_area + admin_area + dormitory + practice) * rng.uniform(1.05, 1.18), 2)
    return [
        {
            "land_area": round(
                max(building * rng.uniform(1.8, 3.2), fulltime_all * land_floor * rng.uniform(1.05, 1.4)), 2
            ),
            "building_area": building,
            "teaching_research_area": teaching_area,
            "admin_office_area": admin_area,
            "dormitory_area": dormitory,
            "practice_area": practice if rng.random() < 0.9 else None,
        }
    ]


@builds("3.2")
def equipment_table(draw: YearDraw) -> list[dict]:
    equipment = draw.targets["equipment_value_per_student"] * draw.jitter() * draw.equivalent / 10000
    new_share = draw.targets["new_equipment_share"] * draw.jitter() / 100
    new_value = equipment * new_share / (1 + new_share)
    return [{"equipment_value": round(equipment, 2), "equipment_value_new": round(new_value, 2)}]


@builds("3.3")
def books_table(draw: YearDraw) -> list[dict]:
    rng, equivalent = draw.rng, draw.equivalent
    new_books_floor = monitoring_floor(draw.data.limits, "new_books_per_student", draw.school.school_type, 3.0)
    books = round(draw.targets["books_per_student"] * draw.jitter() * equivalent)
    return [
        {
            "books_total": books,
            "books_new": round(
                equivalent * max(draw.vary("new books", 2.0, 5.0), new_books_floor * rng.uniform(1.05, 1.5))
            ),
            "e_books": round(books * rng.uniform(0.5, 2.0)) if rng.random() < 0.8 else None,
        }
    ]


@builds("3.4")
def computers_table(draw: YearDraw) -> list[dict]:
    rng, students = draw.rng, draw.students
    return [
        {
            "teaching_computers": round(
                draw.targets["computers_per_100_students"] * draw.jitter() * draw.fulltime_all / 100
            ),
            "multimedia_seats": round(students * rng.uniform(0.3, 0.6)),
            "language_lab_seats": round(students * rng.uniform(0.02, 0.05)) if rng.random() < 0.8 else None,
            "network_bandwidth": float(rng.choice((1000, 2000, 5000, 10000, 20000))),
        }
    ]


# -- training bases


@builds("4.1")
def onsite_bases_table(draw: YearDraw) -> list[dict]:
    rng, majors = draw.rng, draw.data.majors
    onsite_count = round(draw.data.stable("onsite bases", 20, 60))
    stations = split_total(
        rng,
        round(draw.students * draw.vary("workstations", 0.3, 0.6)),
        [rng.uniform(0.5, 1.5) for _ in range(onsite_count)],
    )
    return [
        {
            "base_name": f"{majors[i % len(majors)][1]}实训中心"
            + (f"（{i // len(majors) + 1}）" if i >= len(majors) else ""),
            "equipment_value": round(rng.uniform(20, 1500), 2),
            "workstations": min(5000, count),
            "usage_hours": float(round(count * rng.uniform(300, 900))) if rng.random() < 0.9 else None,
        }
        for i, count in enumerate(stations)
    ]


@builds("4.2")
def offsite_bases_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    offsite = max(40, min(300, round(200 * draw.students / 10000 * draw.vary("offsite bases", 0.8, 1.3))))
    return [
        {
            "base_name": f"{company}校外实训基地",
            "partner_name": company if rng.random() < 0.9 else None,
            "students_received": rng.randint(5, 200),
            "days_received": rng.randint(300, 20000) if rng.random() < 0.85 else None,
        }
        for company in rng.sample(draw.data.companies, offsite)
    ]


@builds("4.3")
def appraisal_agencies_table(draw: YearDraw) -> list[dict]:
    rng, name_zh = draw.rng, draw.school.name_zh
    agencies = rng.choice((0, 0, 1, 1, 2, 3))
    return [
        {
            "agency_name": f"{name_zh}职业技能鉴定站" if i == 0 else f"{name_zh}第{i + 1}职业技能鉴定所",
            "level": rng.choice(("国家级", "自治区级", "行业级")) if rng.random() < 0.8 else None,
            "appraised_count": rng.randint(100, 5000),
        }
        for i in range(agencies)
    ]


# -- funding (万元, kept in hundredths so the items sum exactly)


@builds("5.1")
def income_table(draw: YearDraw) -> list[dict]:
    rng, vary = draw.rng, draw.vary
    public = draw.school.ownership == "公办"
    fiscal = round(draw.equivalent * (vary("fiscal", 0.9, 1.6) if public else vary("fiscal", 0.0, 0.08)) * 100)
    tuition = round(draw.students * (vary("tuition", 0.45, 0.7) if public else vary("tuition", 1.0, 1.5)) * 100)
    special = round(fiscal * rng.uniform(0.05, 0.3)) if public else 0
    donation = round(rng.uniform(0, 300) * 100) if rng.random() < 0.6 else 0
    other = round(rng.uniform(50, 1500) * 100)
    draw.income = fiscal + special + tuition + donation + other
    return [
        {
            "income_total": draw.income / 100,
            "fiscal_appropriation": fiscal / 100,
            "special_appropriation": special / 100 if special else None,
            "tuition": tuition / 100,
            "social_donation": donation / 100 if donation else None,
            "other_income": other / 100,
        }
    ]


@builds("5.2")
def expenditure_table(draw: YearDraw) -> list[dict]:
    vary = draw.vary
    spend = round(draw.income * draw.rng.uniform(0.9, 1.02))
    shares = {
        "infrastructure": vary("infrastructure", 0.05, 0.2),
        "equipment_purchase": vary("equipment purchase", 0.05, 0.15),
        "daily_teaching": vary("daily teaching", 0.15, 0.3),
        "teaching_reform": vary("teaching reform", 0.01, 0.05),
        "faculty_development": vary("faculty development", 0.01, 0.04),
        "student_support": vary("student support", 0.03, 0.08),
    }
    items = {name: round(spend * share) for name, share in shares.items()}
    items["other_expenditure"] = spend - sum(items.values())
    return [{"expenditure_total": spend / 100, **{name: value / 100 for name, value in items.items()}}]


# the later tables (teaching, management, donations) draw after these, in their module's order
from pipelines.demo import tables_teaching  # noqa: E402, F401
