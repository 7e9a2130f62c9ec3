"""The builders of the teaching, management and donation tables (7.2–9.3), registered after those of
tables.py: they draw, in this order, from the same college-year stream."""

from __future__ import annotations

from pipelines.demo.draws import rng_for, school_year_date
from pipelines.demo.tables import YearDraw, builds
from pipelines.demo.vocabulary import AID_ITEMS, CERT_LEVELS, COMMON_COURSES, COURSE_STEMS, DOCUMENT_TITLES

# -- teaching


def course_list(draw: YearDraw) -> list[list]:
    """[code, name, major code, type A/B/C, hours] for the common courses and each major's own."""
    rng = draw.rng
    courses = []
    for code, major_name, _ in draw.data.majors:
        for common_code, common_name, common_type, hours in COMMON_COURSES:
            courses.append([common_code, common_name, code, common_type, hours])
        for number in range(rng.randint(14, 26)):
            course_type = rng.choices("ABC", weights=(25, 55, 20))[0]
            hours = rng.choice((32, 48, 64, 72, 96)) if course_type != "C" else rng.choice((24, 30, 60, 120, 480))
            courses.append(
                [
                    f"{code}{number + 1:02d}",
                    f"{major_name}{rng.choice(COURSE_STEMS)}{number + 1}",
                    code,
                    course_type,
                    hours,
                ]
            )
    return courses


@builds("7.2")
def courses_table(draw: YearDraw) -> list[dict]:
    """Courses, their practice hours aimed at the practice-hours share."""
    rng = draw.rng
    courses = course_list(draw)
    total_hours = sum(course[4] for course in courses)
    fixed = sum(course[4] for course in courses if course[3] == "C") + sum(
        round(course[4] * 0.5) for course in courses if course[3] == "B" and course[0].startswith("GB")
    )
    flexible = sum(course[4] for course in courses if course[3] == "B" and not course[0].startswith("GB"))
    wanted = draw.targets["practice_hours_share"] * draw.jitter() / 100 * total_hours
    fraction = min(0.95, max(0.05, (wanted - fixed) / flexible)) if flexible else 0.5
    industry_share = draw.vary("industry courses", 0.15, 0.4)
    rows = []
    for course_code, name, major_code, course_type, hours in courses:
        if course_type == "A":
            practice_hours = 0
        elif course_type == "C":
            practice_hours = hours
        elif course_code.startswith("GB"):
            practice_hours = round(hours * 0.5)
        else:
            practice_hours = min(
                hours, max(1, round(hours * min(0.98, max(0.02, fraction + rng.uniform(-0.05, 0.05)))))
            )
        rows.append(
            {
                "course_code": course_code,
                "course_name": name,
                "major_code": major_code,
                "course_type": course_type,
                "total_hours": hours,
                "practice_hours": practice_hours,
                "is_industry_developed": (not course_code.startswith("GB")) and rng.random() < industry_share,
            }
        )
    return rows


@builds("7.3", "7.4", "9.2")
def certificates_internships_employment_tables(draw: YearDraw) -> tuple[list[dict], list[dict], list[dict]]:
    """Per major, interleaved in one pass: certificates (7.3), internships (7.4), employment (9.2)."""
    rng = draw.rng
    certificates, internships, employment = [], [], []
    for row in draw.tables["7.1"]:
        cohort = max(1, row["enrolled_students"] // 3)
        for level in rng.sample(CERT_LEVELS, rng.randint(1, 2)):
            candidates = min(5000, round(cohort * rng.uniform(0.3, 0.9)))
            certificates.append(
                {
                    "major_code": row["major_code"],
                    "certificate_name": f"{row['major_name']}职业技能等级证书（{level}）",
                    "level": level if rng.random() < 0.9 else None,
                    "candidates": candidates,
                    "certified": round(candidates * rng.uniform(0.7, 0.98)),
                }
            )
        interns = min(3000, round(cohort * rng.uniform(0.85, 1.0)))
        internships.append(
            {
                "major_code": row["major_code"],
                "interns": interns,
                "relevant_interns": round(interns * rng.uniform(0.65, 0.95)),
                "duration_months": rng.choice((5.0, 6.0, 6.0, 6.0, 7.0)) if rng.random() < 0.9 else None,
            }
        )
        graduates = min(3000, round(cohort * rng.uniform(0.9, 1.05)))
        employed = round(graduates * rng.uniform(0.86, 0.98))
        employment.append(
            {
                "major_code": row["major_code"],
                "graduates": graduates,
                "employed": employed,
                "relevant_employed": round(employed * rng.uniform(0.6, 0.9)),
                "monthly_income": float(round(rng.uniform(3000, 5500), -1)) if rng.random() < 0.9 else None,
            }
        )
    return certificates, internships, employment


@builds("7.5")
def partners_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    partners = rng.sample(draw.data.companies, rng.randint(30, 120))
    return [
        {
            "partner_name": partner,
            "cooperation_type": rng.choice(("订单培养", "共建实训基地", "共同开发课程", "顶岗实习", "技术服务", "其他"))
            if rng.random() < 0.95
            else None,
            "order_students": rng.randint(10, 120) if rng.random() < 0.4 else None,
            "donated_equipment": round(rng.uniform(1, 300), 2) if rng.random() < 0.25 else None,
        }
        for partner in partners
    ]


# -- management


@builds("8.1")
def documents_table(draw: YearDraw) -> list[dict]:
    rng, school, year = draw.rng, draw.school, draw.year
    documents = []
    counts = {
        category: round(draw.data.stable(f"documents {category}", low, high))
        for category, low, high in (
            ("质量保证", 2, 8),
            ("教学管理", 3, 7),
            ("学生管理", 2, 5),
            ("人事管理", 2, 5),
            ("其他", 1, 4),
        )
    }
    abbreviation = school.name_zh[:2]
    for category, count in counts.items():
        for title in rng.sample(DOCUMENT_TITLES[category], min(count, len(DOCUMENT_TITLES[category]))):
            documents.append(
                {
                    "document_title": f"{school.name_zh}{title}",
                    "document_no": f"{abbreviation}院发〔{year - 1}〕{rng.randint(1, 90)}号"
                    if rng.random() < 0.85
                    else None,
                    "category": category,
                    "issued_date": school_year_date(rng, year) if rng.random() < 0.9 else None,
                }
            )
    return documents


STAFF_POSITIONS = {
    "8.2": ("教务员", "教学秘书", "教务处科长", "教学督导秘书"),
    "8.3": ("辅导员", "辅导员", "学工干事", "心理咨询师"),
    "8.4": ("招生干事", "就业指导教师", "招生就业处科长"),
    "8.5": ("专职督导", "督导组长"),
    "8.6": ("教研员", "教研室主任"),
}


@builds("8.2", "8.3", "8.4", "8.5", "8.6")
def management_staff_tables(draw: YearDraw) -> tuple[list[dict], ...]:
    """教学管理, 学生管理, 招生就业, 督导 and 教研 staff: every head count is drawn before any row."""
    rng, students, vary = draw.rng, draw.students, draw.vary
    staff_counts = {
        "8.2": max(8, round(students / vary("teaching admin", 350, 500))),
        "8.3": max(15, round(students / vary("student affairs", 180, 230)) + 10),
        "8.4": max(5, round(students / vary("admissions staff", 450, 700))),
        "8.5": round(draw.data.stable("supervisors", 3, 15)),
        "8.6": round(draw.data.stable("researchers", 3, 20)),
    }
    return tuple(
        [
            {
                "staff_no": person["staff_no"],
                "name": person["name"],
                "gender": person["gender"],
                "birth_date": person["birth_date"],
                "education": person["education"],
                "title_level": person["title_level"] if rng.random() < 0.9 else None,
                "position": rng.choice(STAFF_POSITIONS[code]) if rng.random() < 0.9 else None,
            }
            for person in draw.data.people(rng, draw.year, code, count)
        ]
        for code, count in staff_counts.items()
    )


@builds("8.7")
def evaluations_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    good_share = draw.vary("good evaluations", 0.8, 0.95)
    return [
        {
            "staff_no": teacher["staff_no"],
            "name": teacher["name"] if rng.random() < 0.95 else None,
            "evaluations": rng.randint(40, 900),
            "result": rng.choice(("优", "良")) if rng.random() < good_share else rng.choice(("中", "中", "中", "差")),
        }
        for teacher in draw.tables["6.1"]
        if rng.random() < 0.96
    ]


@builds("8.8")
def student_aid_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    aid_rows = []
    aid_rng = rng_for(draw.data.seed, "aid", draw.school.code)
    for aid_name, aid_type in aid_rng.sample(AID_ITEMS, aid_rng.randint(7, len(AID_ITEMS))):
        receivers = max(1, round(draw.students * draw.vary(f"aid {aid_name}", 0.005, 0.15)))
        aid_rows.append(
            {
                "aid_name": aid_name,
                "aid_type": aid_type,
                "students": receivers,
                "amount": round(receivers * rng.uniform(0.05, 0.8), 2),
            }
        )
    return aid_rows


@builds("9.3")
def donations_table(draw: YearDraw) -> list[dict]:
    rng = draw.rng
    donors = rng.choice((0, 0, 1, 2, 3, 5))
    return [
        {
            "donor": donor,
            "amount": round(rng.uniform(1, 200), 2),
            "donation_type": rng.choice(("现金", "设备", "其他")) if rng.random() < 0.9 else None,
        }
        for donor in rng.sample(draw.data.companies, donors)
    ]
