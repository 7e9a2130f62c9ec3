"""One college's data across the years: its majors, partner companies and staff, which carry over
from year to year; each year's tables come from the builders registered in tables.py."""

from __future__ import annotations

import datetime as dt
import random

from pipelines.demo.draws import quota, rng_for
from pipelines.demo.names import PLACES, person_name
from pipelines.demo.plan import School, capped_teacher_plan, read_teacher_cap, read_thresholds
from pipelines.demo.tables import build_year
from pipelines.demo.vocabulary import (
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    DEGREE_OF,
    EDUCATION_ORDER,
    FIELDS_OF_STUDY,
    MAJORS,
    TITLE_NAMES,
    UNIVERSITIES,
)


class SchoolData:
    """Builds the rows of every table for one college, year by year (staff carry over)."""

    def __init__(self, school: School, seed: int, years: list[int]) -> None:
        self.school = school
        self.seed = seed
        self.rng = rng_for(seed, "data", school.code)
        self.serial = 0
        self.teachers: list[dict] = []
        self.staff: dict[str, list[dict]] = {}
        self.stable_values: dict[str, float] = {}
        self.limits = read_thresholds()[1]
        self.teacher_factor, self.binding_external_share = capped_teacher_plan(*read_teacher_cap())
        self.majors = self._majors()
        self.companies = self._companies()
        self.data = {}
        for year in range(min(years) - 1, max(years) + 1):
            self.data[year] = build_year(self, year)

    def stable(self, name: str, low: float, high: float) -> float:
        """A per-college rate drawn once, so a college's profile holds from year to year."""
        if name not in self.stable_values:
            self.stable_values[name] = rng_for(self.seed, "rate", self.school.code, name).uniform(low, high)
        return self.stable_values[name]

    # -- stable lists

    def _majors(self) -> list[tuple[str, str, int]]:
        rng = self.rng
        count = max(30, min(60, round(self.school.students / 330)))
        pool = []
        for number, field_name in enumerate(self.school.fields):
            weight = 3 if number == 0 else 1
            pool.extend((code, name, weight) for code, name in MAJORS[field_name])
        picked: dict[str, tuple[str, str, int]] = {}
        candidates = pool[:]
        while len(picked) < count and candidates:
            weights = [weight for _, _, weight in candidates]
            choice = rng.choices(candidates, weights=weights)[0]
            candidates.remove(choice)
            picked[choice[0]] = (choice[0], choice[1], rng.randint(1998, 2018))
        extra = 1
        base = list(picked.values())
        while len(picked) < count:
            code, name, _ = base[(extra - 1) % len(base)]
            variant = f"{code[:4]}{90 + extra:02d}"
            picked[variant] = (
                variant,
                f"{name}（{('订单班', '中外合作', '现代学徒制', '五年一贯制')[extra % 4]}）",
                rng.randint(2010, 2020),
            )
            extra += 1
        return sorted(picked.values())

    def _companies(self) -> list[str]:
        rng = self.rng
        names = set()
        while len(names) < 400:
            names.add(f"{rng.choice(PLACES)}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_SUFFIXES)}")
        return sorted(names)

    def _staff_no(self, hire_year: int) -> str:
        self.serial += 1
        return f"{hire_year}{self.serial:04d}"

    # -- people

    def _teacher(self, rng: random.Random, year: int, hire_year: int, postgrad: bool, senior: bool) -> dict:
        if senior:
            age = rng.randint(36, 57)
        else:
            age = rng.randint(24, 50) if hire_year < year else rng.randint(24, 36)
        birth = dt.date(year - age, rng.randint(1, 12), rng.randint(1, 28))
        hire_year = min(year, max(hire_year, birth.year + 24))
        first_education = rng.choices(("专科", "大学本科", "硕士研究生"), weights=(8, 70, 22))[0]
        if postgrad:
            highest = "博士研究生" if rng.random() < 0.08 else "硕士研究生"
        else:
            highest = rng.choices(("大学本科", "专科"), weights=(95, 5))[0]
        if EDUCATION_ORDER.index(first_education) > EDUCATION_ORDER.index(highest):
            first_education = highest
        grad_age = {"专科": 21, "大学本科": 22, "硕士研究生": 25, "博士研究生": 29}[first_education]
        first_graduation = dt.date(min(birth.year + grad_age, year - 1), rng.choice((6, 7)), rng.choice((20, 25, 30)))
        if senior:
            level = "正高级" if rng.random() < 0.18 else "副高级"
        else:
            level = rng.choices(("中级", "初级", "无"), weights=(60, 30, 10))[0]
        return {
            "staff_no": self._staff_no(hire_year),
            "name": person_name(rng),
            "gender": rng.choice(("男", "女")),
            "birth_date": birth,
            "first_education": first_education,
            "first_degree": DEGREE_OF[first_education],
            "first_school": rng.choice(UNIVERSITIES),
            "first_major": rng.choice(FIELDS_OF_STUDY),
            "first_graduation": first_graduation,
            "highest_education": highest,
            "highest_degree": DEGREE_OF[highest],
            "highest_school": rng.choice(UNIVERSITIES),
            "title": rng.choice(TITLE_NAMES[level]) if level != "无" else None,
            "title_level": level,
            "vocational_certificate": None,
            "industry_years": None,
            "is_double_qualified": False,
            "is_backbone": None,
            "major": None,
            "teaching_hours": 0,
        }

    def roster(self, rng: random.Random, year: int, count: int) -> list[dict]:
        """The 6.1 roster for `year`: last year's teachers minus leavers, plus new hires."""
        targets = self.school.targets[year]
        postgrad_share = targets["postgrad_teacher_share"] / 100
        senior_share = targets["senior_title_share"] / 100
        if not self.teachers:
            postgrad = quota(rng, count, postgrad_share, True, False)
            senior = quota(rng, count, senior_share, True, False)
            self.teachers = [
                self._teacher(rng, year, rng.randint(year - 25, year - 1), postgrad[i], senior[i]) for i in range(count)
            ]
        else:
            kept = [
                teacher
                for teacher in self.teachers
                if (year - teacher["birth_date"].year) < 60 and rng.random() > 0.035
            ]
            kept = kept[:count]
            hires = count - len(kept)
            postgrad_now = sum(t["highest_degree"] in ("博士", "硕士") for t in kept)
            senior_now = sum(t["title_level"] in ("正高级", "副高级") for t in kept)
            postgrad_needed = max(0, min(hires, round(postgrad_share * count) - postgrad_now))
            senior_needed = max(0, min(hires, round(senior_share * count) - senior_now))
            postgrad = [True] * postgrad_needed + [False] * (hires - postgrad_needed)
            senior = [True] * senior_needed + [False] * (hires - senior_needed)
            rng.shuffle(postgrad)
            rng.shuffle(senior)
            self.teachers = kept + [self._teacher(rng, year, year, postgrad[i], senior[i]) for i in range(hires)]
        double_share = self.stable("double qualified", 0.5, 0.8)
        for teacher in self.teachers:
            if "double" not in teacher:
                teacher["double"] = rng.random() < double_share
            elif not teacher["double"]:
                teacher["double"] = rng.random() < 0.03
        majors = [name for _, name, _ in self.majors]
        rows = []
        for teacher in self.teachers:
            row = {name: value for name, value in teacher.items() if name != "double"}
            is_double = teacher["double"]
            row["is_double_qualified"] = is_double
            row["vocational_certificate"] = (
                rng.choice(("高级技师", "技师", "注册会计师", "一级建造师", "执业药师", "育婴师", "电工（高级）"))
                if is_double
                else None
            )
            row["industry_years"] = (
                round(rng.uniform(1, 12), 1)
                if is_double
                else (round(rng.uniform(0, 2), 1) if rng.random() < 0.3 else None)
            )
            row["is_backbone"] = (rng.random() < 0.2) if rng.random() < 0.9 else None
            row["major"] = rng.choice(majors)
            row["teaching_hours"] = rng.randint(180, 620)
            rows.append(row)
        return rows

    def people(self, rng: random.Random, year: int, kind: str, count: int) -> list[dict]:
        """Staff of 8.2–8.6 and 6.2 (kept between years like teachers)."""
        current = [
            person
            for person in self.staff.get(kind, [])
            if (year - person["birth_date"].year) < 60 and rng.random() > 0.05
        ][:count]
        while len(current) < count:
            age = rng.randint(25, 55)
            education = rng.choices(EDUCATION_ORDER, weights=(5, 60, 33, 2))[0]
            current.append(
                {
                    "staff_no": self._staff_no(rng.randint(max(year - 20, year - age + 23), year)),
                    "name": person_name(rng),
                    "gender": rng.choice(("男", "女")),
                    "birth_date": dt.date(year - age, rng.randint(1, 12), rng.randint(1, 28)),
                    "education": education if rng.random() < 0.9 else None,
                    "title_level": rng.choices(("正高级", "副高级", "中级", "初级", "无"), weights=(3, 20, 45, 20, 12))[
                        0
                    ],
                }
            )
        self.staff[kind] = current
        return [dict(person) for person in current]
