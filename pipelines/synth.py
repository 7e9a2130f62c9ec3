"""The demo province: synthetic status-data exports for a Guangxi-like set of 高职 colleges.

`generate_province` writes one folder per college and collection year, `out/<school_code>/<year>/`,
holding one export per catalogued table (reference/platform_tables.csv), shaped like the
platform's Excel exports (brief, "Inbox layout"):

- row 1: the title `<学校名称> 表<code> <name_zh>（<Y-1>-<Y>学年）`, merged across every column;
- a one-level header (row 2) or, when the chosen header texts contain `/`, a two-level merged
  header (rows 2–3); the first column is `序号`; header texts are picked from the catalog's
  alternatives and drift between years;
- data rows, then for some row-per-entity tables a final `合计` row (not a data row);
- dates as `1985-07-12`, `1985.07`, `198507` or Excel date cells, booleans 是/否, blanks in
  optional columns as empty, `-` or (text columns) `无`;
- the workbook's core property `created` = the export time (local time, Asia/Shanghai).

Row numbers: `row_nos` in the manifest are 1-based sheet row numbers as Excel shows them (the
title is row 1), the same numbering ingest stores in `row_no`. A GBK CSV (format variant) has
the title on line 1, a one-level header on line 2 (two-level headers written `上级/下级`) and
data from line 3; its row numbers are line numbers.

Zip deliveries are `out/<school_code>_<year>.zip` with the table files at the archive root; their
manifest entries have `path` = `<school_code>_<year>.zip/<member>`, plus `archive` and `member`.

Clean data satisfy every allowed value, range and required column of
reference/platform_columns.csv and the cross-table totals (1.3.2 = Σ 7.1 在校生, 5.1/5.2 items
= totals, 实践学时 ≤ 总学时). Indicator levels are aimed at reference/thresholds.csv: most
colleges are green, some are placed between the 限制招生 and 合格 values (yellow) or beyond the
限制招生 value (red). With `defects=True` each defect kind of the brief is injected in the
latest year, each in a different college when there are enough colleges, and recorded in the
manifest. Same seed ⇒ identical bytes.

Platform generations: by default (`layouts="v2"`) every export takes the V2 layout above. With
`layouts="mixed"` a share of college-years (never one carrying a defect) is exported the way the
online 采集与管理系统 (since 2017) does, from reference/platform_crosswalk.csv and the
`online2017` rows of the catalog: its own numbering and file names (`6.2 个人其他信息.xlsx`), the
teachers split into 6.1 基本信息, 6.2 个人其他信息 and 6.3 授课情况 (one row per course) joined on
教工号, a title row and a note row, the cited sources' header texts (two-level where nested) with
units in brackets, full- or half-width brackets and line breaks inside header cells. The
manifest's `layouts` lists each college-year's layout and variants; its online files carry
`layout` and `platform_table_code`. `write_layout_fixtures` writes one small college's files in one
layout, one per table, for the ingest's tests.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import multiprocessing
import random
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter

from pipelines.catalog import (BASE_VERSION, PLATFORM_VERSIONS, CatalogColumn, CatalogTable, load_catalog,
                               load_crosswalk, load_header_aliases)
from pipelines.settings import REFERENCE_DIR, get_settings

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

SCHOOL_TYPES = (
    ("理工", 15), ("综合", 9), ("农林", 3), ("医药", 4), ("财经", 4), ("师范", 3),
    ("艺术", 2), ("体育", 1), ("政法", 2), ("语文", 1), ("民族", 1),
)
TYPE_WORDS = {
    "理工": ("机电", "工业", "交通", "电力", "水利电力", "建设", "工程", "信息", "现代", "城建", "电子", "航空", "汽车", "化工", "冶金"),
    "综合": ("职业", "城市", "科技", "应用技术", "开放", "工商", "现代职业"),
    "农林": ("农业", "林业", "生态工程", "农牧", "热带作物"),
    "医药": ("卫生", "医药", "中医药", "健康", "护理"),
    "财经": ("财经", "经贸", "商贸", "金融", "物流"),
    "师范": ("师范", "幼儿师范", "教育"),
    "艺术": ("艺术", "文化艺术", "演艺"),
    "体育": ("体育", "运动"),
    "政法": ("警官", "司法警官", "政法"),
    "语文": ("外国语", "东盟语言", "国际语言"),
    "民族": ("民族", "壮族文化", "民族艺术"),
}
PLACES = ("广西", "南宁", "柳州", "桂林", "梧州", "北海", "防城港", "钦州", "贵港", "玉林", "百色", "贺州", "河池", "来宾", "崇左", "桂东", "桂西", "桂南", "桂北", "邕江", "漓江", "左江", "右江")

# Major pools per field (code, name, typical duration); a college draws most majors from its type's fields.
MAJORS = {
    "manufacturing": (
        ("460104", "机械制造及自动化"), ("460301", "机电一体化技术"), ("460305", "工业机器人技术"),
        ("460303", "电气自动化技术"), ("460701", "汽车制造与试验技术"), ("460702", "新能源汽车技术"),
        ("460103", "数控技术"), ("460110", "模具设计与制造"), ("460604", "无人机应用技术"),
        ("460502", "焊接技术与自动化"), ("460306", "智能控制技术"), ("460113", "工业设计"),
    ),
    "it": (
        ("510201", "计算机应用技术"), ("510202", "计算机网络技术"), ("510203", "软件技术"),
        ("510205", "大数据技术"), ("510206", "云计算技术应用"), ("510207", "信息安全技术应用"),
        ("510209", "人工智能技术应用"), ("510101", "电子信息工程技术"), ("510102", "物联网应用技术"),
        ("510301", "现代通信技术"), ("510211", "数字媒体技术"), ("510208", "移动应用开发"),
    ),
    "civil": (
        ("440301", "建筑工程技术"), ("440501", "工程造价"), ("440101", "建筑设计"),
        ("440106", "建筑室内设计"), ("440601", "市政工程技术"), ("440401", "建筑设备工程技术"),
        ("440502", "建设工程管理"), ("440701", "房地产经营与管理"), ("450201", "水利工程"),
        ("430101", "电力系统自动化技术"), ("430102", "发电运行技术"), ("500201", "道路与桥梁工程技术"),
    ),
    "transport": (
        ("500101", "铁道交通运营管理"), ("500601", "城市轨道交通运营管理"), ("500211", "汽车检测与维修技术"),
        ("500301", "航海技术"), ("500405", "空中乘务"), ("500602", "城市轨道交通机电技术"),
        ("500214", "道路运输管理"), ("500302", "轮机工程技术"),
    ),
    "agriculture": (
        ("410101", "种子生产与经营"), ("410103", "园艺技术"), ("410105", "茶叶生产与加工技术"),
        ("410109", "现代农业技术"), ("410201", "林业技术"), ("410202", "园林技术"),
        ("410301", "畜牧兽医"), ("410303", "动物医学"), ("410401", "水产养殖技术"),
        ("410106", "植物保护与检疫技术"), ("490104", "食品检验检测技术"), ("420802", "环境工程技术"),
    ),
    "medicine": (
        ("520201", "护理"), ("520202", "助产"), ("520301", "药学"), ("520501", "医学检验技术"),
        ("520502", "医学影像技术"), ("520601", "康复治疗技术"), ("520410", "中药学"),
        ("520801", "健康管理"), ("520802", "老年保健与管理"), ("520101", "临床医学"),
        ("520102", "口腔医学"), ("520804", "婴幼儿托育服务与管理"),
    ),
    "business": (
        ("530302", "大数据与会计"), ("530301", "大数据与财务管理"), ("530701", "电子商务"),
        ("530802", "现代物流管理"), ("530201", "金融服务与管理"), ("530605", "市场营销"),
        ("530501", "国际经济与贸易"), ("530801", "物流工程技术"), ("530702", "跨境电子商务"),
        ("530703", "网络营销与直播电商"), ("530602", "连锁经营与管理"), ("530101", "财政税务"),
    ),
    "tourism": (
        ("540101", "旅游管理"), ("540106", "酒店管理与数字化运营"), ("540202", "烹饪工艺与营养"),
        ("540111", "研学旅行管理与服务"), ("540102", "导游"), ("540204", "西式烹饪工艺"),
    ),
    "arts": (
        ("550101", "艺术设计"), ("550102", "视觉传达设计"), ("550103", "数字媒体艺术设计"),
        ("550105", "环境艺术设计"), ("550201", "音乐表演"), ("550202", "舞蹈表演"),
        ("550208", "戏曲表演"), ("560201", "播音与主持"), ("560202", "影视编导"),
        ("550118", "服装与服饰设计"), ("550107", "广告艺术设计"), ("550110", "民族美术"),
    ),
    "education": (
        ("570102", "学前教育"), ("570103", "小学教育"), ("570104", "语文教育"), ("570105", "数学教育"),
        ("570106", "英语教育"), ("570111", "音乐教育"), ("570112", "美术教育"), ("570113", "体育教育"),
        ("570201", "应用英语"), ("570203", "应用越南语"), ("570204", "应用泰语"), ("570209", "商务英语"),
    ),
    "sports": (
        ("570301", "运动训练"), ("570302", "运动防护"), ("570303", "社会体育"), ("570304", "休闲体育"),
        ("570306", "体育保健与康复"), ("570307", "健身指导与管理"),
    ),
    "public": (
        ("580101", "社会工作"), ("580102", "党务工作"), ("580201", "民政服务与管理"),
        ("580401", "智慧社区管理"), ("590101", "法律事务"), ("590102", "刑事执行"),
        ("590104", "司法警务"), ("590301", "法律文秘"), ("590205", "安全防范技术"),
        ("580301", "人力资源管理"), ("580405", "公共事务管理"),
    ),
}
TYPE_FIELDS = {
    "理工": ("manufacturing", "it", "civil", "transport", "business"),
    "综合": ("manufacturing", "it", "business", "tourism", "education", "civil", "medicine"),
    "农林": ("agriculture", "civil", "business", "it"),
    "医药": ("medicine", "business", "it"),
    "财经": ("business", "tourism", "it", "arts"),
    "师范": ("education", "arts", "sports", "it"),
    "艺术": ("arts", "education", "tourism", "it"),
    "体育": ("sports", "education", "tourism", "medicine"),
    "政法": ("public", "it", "business"),
    "语文": ("education", "business", "tourism", "it"),
    "民族": ("arts", "education", "tourism", "business", "public"),
}

SURNAMES = "黄韦李陈梁覃莫刘林蒙农罗杨张王周谢何潘卢吴唐蓝邓冯廖苏赵朱蒋徐钟曾胡陆郑宁孙马欧邱许雷秦梁甘卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲兰凤飞红梅琳志海波宁宇鹏辉斌婷燕雪晓文立新春峰俊丹萍健东亮"
UNIVERSITIES = (
    "广西大学", "广西师范大学", "广西民族大学", "桂林电子科技大学", "桂林理工大学", "广西医科大学",
    "广西科技大学", "南宁师范大学", "广西财经学院", "广西艺术学院", "广西中医药大学", "玉林师范学院",
    "华南理工大学", "中山大学", "湖南大学", "武汉大学", "重庆大学", "四川大学", "西南大学",
    "华中科技大学", "中南大学", "暨南大学", "华南农业大学", "云南大学", "贵州大学",
)
FIELDS_OF_STUDY = (
    "机械工程", "电气工程及其自动化", "计算机科学与技术", "软件工程", "土木工程", "会计学", "工商管理",
    "汉语言文学", "英语", "数学与应用数学", "护理学", "药学", "农学", "园林", "艺术设计", "体育教育",
    "法学", "思想政治教育", "教育学", "物流管理", "电子商务", "车辆工程", "水利水电工程",
)
EDUCATION_ORDER = ("专科", "大学本科", "硕士研究生", "博士研究生")
DEGREE_OF = {"专科": "无", "大学本科": "学士", "硕士研究生": "硕士", "博士研究生": "博士"}
TITLE_NAMES = {
    "正高级": ("教授", "正高级工程师", "正高级实验师"),
    "副高级": ("副教授", "高级工程师", "高级实验师", "高级讲师"),
    "中级": ("讲师", "工程师", "实验师"),
    "初级": ("助教", "助理工程师", "助理实验师"),
}
COMPANY_WORDS = ("华桂", "中建", "柳工", "玉柴", "上汽通用五菱", "东风柳汽", "北部湾", "桂冠", "南方电网", "华为", "腾讯", "京东", "顺丰", "中铁", "广投", "北投", "桂林三金", "百洋", "南宁糖业", "金光", "正大", "扬翔", "海尔", "比亚迪", "宁德时代", "阿里云", "科大讯飞", "中国移动", "中国电信", "国药控股")
COMPANY_SUFFIXES = ("股份有限公司", "有限公司", "集团有限公司", "科技有限公司", "广西分公司")
LEADER_POSITIONS = ("党委书记", "院长", "党委副书记", "副院长", "副院长", "副院长", "纪委书记", "副院长", "总会计师", "副院长")
DOCUMENT_TITLES = {
    "质量保证": ("内部质量保证体系建设实施方案", "教学工作诊断与改进实施方案", "专业诊断与改进实施办法", "课程诊断与改进实施办法", "教师发展诊断与改进实施办法", "学生发展诊断与改进实施办法", "质量年度报告编制办法", "人才培养状态数据采集与管理办法"),
    "教学管理": ("教学管理规定", "课程标准管理办法", "教材选用管理办法", "顶岗实习管理办法", "教学事故认定与处理办法", "学分制管理办法", "专业设置与调整管理办法"),
    "学生管理": ("学生管理规定", "学生奖励与资助管理办法", "辅导员队伍建设实施办法", "学生违纪处分规定", "学生宿舍管理办法"),
    "人事管理": ("教职工考核办法", "专业技术职务评聘办法", "双师素质教师认定办法", "兼职教师聘用管理办法", "教师企业实践管理办法"),
    "其他": ("安全工作责任制实施办法", "信息化建设管理办法", "校企合作管理办法", "科研项目管理办法"),
}
AID_ITEMS = (
    ("国家奖学金", "奖学金"), ("国家励志奖学金", "奖学金"), ("国家助学金", "助学金"), ("学院奖学金", "奖学金"),
    ("勤工助学", "勤工助学"), ("学费减免", "减免学费"), ("临时困难补助", "困难补助"), ("自治区人民政府奖学金", "奖学金"),
    ("企业冠名奖学金", "奖学金"), ("退役士兵学费资助", "其他"), ("生源地助学贷款代偿", "其他"), ("新生入学资助", "助学金"),
)
COMMON_COURSES = (
    ("GB001", "思想道德与法治", "A", 48), ("GB002", "毛泽东思想和中国特色社会主义理论体系概论", "A", 32),
    ("GB003", "形势与政策", "A", 32), ("GB004", "大学英语", "A", 64), ("GB005", "体育与健康", "B", 108),
    ("GB006", "信息技术基础", "B", 48), ("GB007", "大学生职业发展与就业指导", "B", 38),
    ("GB008", "军事理论与军事技能", "B", 148), ("GB009", "心理健康教育", "A", 32), ("GB010", "劳动教育", "C", 16),
)
COURSE_STEMS = ("导论", "基础", "原理", "技术", "实务", "综合实训", "项目实践", "应用", "设计", "工艺", "管理", "专题")
CERT_LEVELS = ("初级", "中级", "高级")

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
ENTITY_TOTAL_TABLES = ("4.1", "4.2", "7.1", "7.3", "7.4", "8.8", "9.1", "9.2")


# ---------------------------------------------------------------------------------------------
# Planning: colleges, their target levels and the defects


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


def rng_for(seed: int, *parts) -> random.Random:
    """A generator of its own for each (seed, parts): deterministic and independent of call order."""
    return random.Random(":".join(str(part) for part in (seed, *parts)))


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


def school_name(rng: random.Random, school_type: str, taken: set[str]) -> str:
    for _ in range(200):
        place = rng.choice(PLACES)
        word = rng.choice(TYPE_WORDS[school_type])
        if word == "职业" or word == "现代职业":
            suffix = "技术学院"
        elif school_type in ("医药", "师范") and rng.random() < 0.3:
            suffix = "高等专科学校"
        else:
            suffix = rng.choice(("职业技术学院", "职业技术学院", "职业学院"))
        name = f"{place}{word}{suffix}"
        if name not in taken:
            taken.add(name)
            return name
    raise ValueError("ran out of synthetic college names")


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
                is_weak = pattern == "always" or (pattern == "new" and year == latest) or (
                    pattern == "recovered" and year < latest
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
        updated[school.code] = School(
            **{**school.__dict__, "active_from": first_year, "succeeded": tuple(old_codes)}
        )
    return [updated[school.code] for school in schools], old_rows


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


# ---------------------------------------------------------------------------------------------
# Data: one college's tables for every year


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def split_total(rng: random.Random, total: int, weights: list[float]) -> list[int]:
    """Integers proportional to `weights` that sum to `total` exactly."""
    scale = sum(weights)
    parts = [int(total * weight / scale) for weight in weights]
    for index in rng.sample(range(len(parts)), len(parts))[: total - sum(parts)]:
        parts[index] += 1
    return parts


def unique_pairs(rng: random.Random, count: int, employers) -> list[tuple[str, str]]:
    """`count` distinct (person name, employer) pairs."""
    seen: set[tuple[str, str]] = set()
    pairs = []
    while len(pairs) < count:
        pair = (person_name(rng), rng.choice(employers))
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return pairs


def quota(rng: random.Random, count: int, share: float, yes, no) -> list:
    """`count` values with round(count × share) of them `yes`, shuffled."""
    hits = round(count * share)
    values = [yes] * hits + [no] * (count - hits)
    rng.shuffle(values)
    return values


def school_year_date(rng: random.Random, year: int) -> dt.date:
    start = dt.date(year - 1, 9, 1)
    return start + dt.timedelta(days=rng.randrange(365))


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
            self.data[year] = self._year(year)

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
            picked[variant] = (variant, f"{name}（{('订单班', '中外合作', '现代学徒制', '五年一贯制')[extra % 4]}）", rng.randint(2010, 2020))
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

    def _roster(self, rng: random.Random, year: int, count: int) -> list[dict]:
        """The 6.1 roster for `year`: last year's teachers minus leavers, plus new hires."""
        targets = self.school.targets[year]
        postgrad_share = targets["postgrad_teacher_share"] / 100
        senior_share = targets["senior_title_share"] / 100
        if not self.teachers:
            postgrad = quota(rng, count, postgrad_share, True, False)
            senior = quota(rng, count, senior_share, True, False)
            self.teachers = [
                self._teacher(rng, year, rng.randint(year - 25, year - 1), postgrad[i], senior[i])
                for i in range(count)
            ]
        else:
            kept = [
                teacher for teacher in self.teachers
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
            row["vocational_certificate"] = rng.choice(("高级技师", "技师", "注册会计师", "一级建造师", "执业药师", "育婴师", "电工（高级）")) if is_double else None
            row["industry_years"] = round(rng.uniform(1, 12), 1) if is_double else (round(rng.uniform(0, 2), 1) if rng.random() < 0.3 else None)
            row["is_backbone"] = (rng.random() < 0.2) if rng.random() < 0.9 else None
            row["major"] = rng.choice(majors)
            row["teaching_hours"] = rng.randint(180, 620)
            rows.append(row)
        return rows

    def _people(self, rng: random.Random, year: int, kind: str, count: int) -> list[dict]:
        """Staff of 8.2–8.6 and 6.2 (kept between years like teachers)."""
        current = [
            person for person in self.staff.get(kind, [])
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
                    "title_level": rng.choices(("正高级", "副高级", "中级", "初级", "无"), weights=(3, 20, 45, 20, 12))[0],
                }
            )
        self.staff[kind] = current
        return [dict(person) for person in current]

    # -- one year

    def _year(self, year: int) -> dict[str, list[dict]]:
        rng = rng_for(self.seed, "year", self.school.code, year)
        school, targets = self.school, self.school.targets[year]

        def jitter() -> float:
            """Year-on-year wobble of a target value."""
            return rng.uniform(0.97, 1.03)

        def vary(name: str, low: float, high: float) -> float:
            """The college's stable rate `name` with this year's wobble."""
            return self.stable(name, low, high) * jitter()

        students = round(school.students * (1 + school.growth) ** (year - 2020))
        tables: dict[str, list[dict]] = {}

        # 7.1 majors and 1.3.2: full-time students split over majors
        weights = [vary(f"major {code}", 0.4, 1.6) for code, _, _ in self.majors]
        enrolled = split_total(rng, students, weights)
        majors_rows = []
        for (code, name, established), count in zip(self.majors, enrolled):
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
        tables["7.1"] = majors_rows
        high = round(students * vary("high school", 0.55, 0.72))
        secondary = round(students * vary("secondary", 0.2, 0.38))
        secondary = min(secondary, students - high)
        international = round(students * vary("international", 0.001, 0.01)) if self.stable("has international", 0, 1) < 0.25 else 0
        preparatory = round(students * vary("preparatory", 0.005, 0.02)) if self.stable("has preparatory", 0, 1) < 0.3 else 0
        further = round(students * vary("further", 0.0, 0.02))
        adult = round(students * vary("adult", 0.0, 0.05)) if self.stable("has adult", 0, 1) < 0.6 else 0
        evening = round(students * vary("evening", 0.0, 0.12)) if self.stable("has evening", 0, 1) < 0.5 else 0
        correspondence = round(students * vary("correspondence", 0.0, 0.3)) if self.stable("has correspondence", 0, 1) < 0.5 else 0
        tables["1.3.2"] = [
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
        # 教发〔2004〕2号 测算办法: the denominators the indicator bands are drawn against
        fulltime_all = students + international + preparatory + further + adult
        equivalent = students + 3 * international + preparatory + further + adult + 0.3 * evening + 0.1 * correspondence

        # 9.1 admissions per major and 1.3.1 plan
        admissions = []
        for row in majors_rows:
            registered = row["new_students"]
            admitted = min(3000, max(registered, round(registered / rng.uniform(0.86, 0.97))))
            planned = min(3000, max(admitted, round(admitted * rng.uniform(0.98, 1.1))))
            admissions.append({"major_code": row["major_code"], "planned": planned, "admitted": admitted, "registered": registered})
        tables["9.1"] = admissions
        planned_total = sum(row["planned"] for row in admissions)
        plan_high = round(planned_total * rng.uniform(0.55, 0.75))
        plan_secondary = min(planned_total - plan_high, round(planned_total * rng.uniform(0.2, 0.35)))
        tables["1.3.1"] = [
            {
                "planned_total": planned_total,
                "planned_high_school": plan_high,
                "planned_secondary_vocational": plan_secondary,
                "planned_other": planned_total - plan_high - plan_secondary,
            }
        ]

        # 6.x teachers: enough 校外 that the ¼ cap binds, so 教师总数 = teacher_factor × 专任 under the
        # reading warning_rules.csv sets (1.25 × 专任 when the converted number is capped)
        ratio = targets["student_teacher_ratio"] * jitter()
        fulltime_count = max(40, round(equivalent / (ratio * self.teacher_factor)))
        tables["6.1"] = self._roster(rng, year, fulltime_count)
        internal = self._people(rng, year, "6.2", round(fulltime_count * vary("internal", 0.1, 0.25)))
        departments = ("教务处", "学生工作处", "招生就业处", "后勤处", "图书馆", "团委", "科研处", "质量管理办公室", "信息中心")
        tables["6.2"] = [
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
        external = max(
            round(fulltime_count * vary("external", 0.4, 0.7)),
            int(fulltime_count * self.binding_external_share) + 1,
        )
        tables["6.3"] = [
            {
                "name": name,
                "gender": rng.choice(("男", "女")),
                "employer": employer,
                "title_level": rng.choices(("正高级", "副高级", "中级", "初级", "无"), weights=(5, 25, 35, 10, 25))[0] if rng.random() < 0.9 else None,
                "is_industry": rng.random() < 0.85,
                "teaching_hours": rng.randint(36, 240),
            }
            for name, employer in unique_pairs(rng, external, self.companies)
        ]
        guests = round(fulltime_count * vary("guests", 0.0, 0.1)) if self.stable("has guests", 0, 1) < 0.7 else 0
        tables["6.4"] = [
            {
                "name": name,
                "employer": employer,
                "title_level": rng.choice(("正高级", "副高级", "中级", "无")) if rng.random() < 0.85 else None,
                "teaching_hours": rng.randint(16, 120),
            }
            for name, employer in unique_pairs(rng, guests, UNIVERSITIES + tuple(self.companies[:20]))
        ]

        # 2.2 leaders
        leader_count = round(self.stable("leaders", 6, 10))
        lectures = self.stable("lectures", 10, 36)
        tables["2.2"] = [
            {
                "name": name,
                "position": LEADER_POSITIONS[i],
                "lectures_observed": round(lectures * rng.uniform(0.8, 1.2)),
                "teaching_hours": rng.randint(16, 64) if rng.random() < 0.7 else None,
                "student_contacts": rng.randint(6, 60),
            }
            for i, (name, _) in enumerate(unique_pairs(rng, leader_count, ("",)))
        ]

        # 3.x running conditions, aimed at the thresholds; 生均占地 and 生均年进书量 are not drawn, only kept above 合格
        land_floor = monitoring_floor(self.limits, "land_area_per_student", school.school_type, 54.0)
        new_books_floor = monitoring_floor(self.limits, "new_books_per_student", school.school_type, 3.0)
        teaching_admin = targets["teaching_admin_area_per_student"] * jitter() * fulltime_all
        admin_share = rng.uniform(0.12, 0.2)
        teaching_area = round(teaching_admin * (1 - admin_share), 2)
        admin_area = round(teaching_admin * admin_share, 2)
        dormitory = round(targets["dormitory_area_per_student"] * jitter() * fulltime_all, 2)
        practice = round(teaching_area * rng.uniform(0.1, 0.25), 2)
        building = round((teaching_area + admin_area + dormitory + practice) * rng.uniform(1.05, 1.18), 2)
        tables["3.1"] = [
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
        equipment = targets["equipment_value_per_student"] * jitter() * equivalent / 10000
        new_share = targets["new_equipment_share"] * jitter() / 100
        new_value = equipment * new_share / (1 + new_share)
        tables["3.2"] = [{"equipment_value": round(equipment, 2), "equipment_value_new": round(new_value, 2)}]
        books = round(targets["books_per_student"] * jitter() * equivalent)
        tables["3.3"] = [
            {
                "books_total": books,
                "books_new": round(equivalent * max(vary("new books", 2.0, 5.0), new_books_floor * rng.uniform(1.05, 1.5))),
                "e_books": round(books * rng.uniform(0.5, 2.0)) if rng.random() < 0.8 else None,
            }
        ]
        tables["3.4"] = [
            {
                "teaching_computers": round(targets["computers_per_100_students"] * jitter() * fulltime_all / 100),
                "multimedia_seats": round(students * rng.uniform(0.3, 0.6)),
                "language_lab_seats": round(students * rng.uniform(0.02, 0.05)) if rng.random() < 0.8 else None,
                "network_bandwidth": float(rng.choice((1000, 2000, 5000, 10000, 20000))),
            }
        ]

        # 4.x training bases
        onsite_count = round(self.stable("onsite bases", 20, 60))
        stations = split_total(rng, round(students * vary("workstations", 0.3, 0.6)), [rng.uniform(0.5, 1.5) for _ in range(onsite_count)])
        tables["4.1"] = [
            {
                "base_name": f"{self.majors[i % len(self.majors)][1]}实训中心" + (f"（{i // len(self.majors) + 1}）" if i >= len(self.majors) else ""),
                "equipment_value": round(rng.uniform(20, 1500), 2),
                "workstations": min(5000, count),
                "usage_hours": float(round(count * rng.uniform(300, 900))) if rng.random() < 0.9 else None,
            }
            for i, count in enumerate(stations)
        ]
        offsite = max(40, min(300, round(200 * students / 10000 * vary("offsite bases", 0.8, 1.3))))
        tables["4.2"] = [
            {
                "base_name": f"{company}校外实训基地",
                "partner_name": company if rng.random() < 0.9 else None,
                "students_received": rng.randint(5, 200),
                "days_received": rng.randint(300, 20000) if rng.random() < 0.85 else None,
            }
            for company in rng.sample(self.companies, offsite)
        ]
        agencies = rng.choice((0, 0, 1, 1, 2, 3))
        tables["4.3"] = [
            {
                "agency_name": f"{school.name_zh}职业技能鉴定站" if i == 0 else f"{school.name_zh}第{i + 1}职业技能鉴定所",
                "level": rng.choice(("国家级", "自治区级", "行业级")) if rng.random() < 0.8 else None,
                "appraised_count": rng.randint(100, 5000),
            }
            for i in range(agencies)
        ]

        # 5.x funding (万元, kept in hundredths so the items sum exactly)
        public = school.ownership == "公办"
        fiscal = round(equivalent * (vary("fiscal", 0.9, 1.6) if public else vary("fiscal", 0.0, 0.08)) * 100)
        tuition = round(students * (vary("tuition", 0.45, 0.7) if public else vary("tuition", 1.0, 1.5)) * 100)
        special = round(fiscal * rng.uniform(0.05, 0.3)) if public else 0
        donation = round(rng.uniform(0, 300) * 100) if rng.random() < 0.6 else 0
        other = round(rng.uniform(50, 1500) * 100)
        income = fiscal + special + tuition + donation + other
        tables["5.1"] = [
            {
                "income_total": income / 100,
                "fiscal_appropriation": fiscal / 100,
                "special_appropriation": special / 100 if special else None,
                "tuition": tuition / 100,
                "social_donation": donation / 100 if donation else None,
                "other_income": other / 100,
            }
        ]
        spend = round(income * rng.uniform(0.9, 1.02))
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
        tables["5.2"] = [{"expenditure_total": spend / 100, **{name: value / 100 for name, value in items.items()}}]

        # 7.2 courses, aimed at the practice-hours share
        courses = []
        for code, major_name, _ in self.majors:
            for common_code, common_name, common_type, hours in COMMON_COURSES:
                courses.append([common_code, common_name, code, common_type, hours])
            for number in range(rng.randint(14, 26)):
                course_type = rng.choices("ABC", weights=(25, 55, 20))[0]
                hours = rng.choice((32, 48, 64, 72, 96)) if course_type != "C" else rng.choice((24, 30, 60, 120, 480))
                courses.append([f"{code}{number + 1:02d}", f"{major_name}{rng.choice(COURSE_STEMS)}{number + 1}", code, course_type, hours])
        total_hours = sum(course[4] for course in courses)
        fixed = sum(course[4] for course in courses if course[3] == "C") + sum(
            round(course[4] * 0.5) for course in courses if course[3] == "B" and course[0].startswith("GB")
        )
        flexible = sum(course[4] for course in courses if course[3] == "B" and not course[0].startswith("GB"))
        wanted = targets["practice_hours_share"] * jitter() / 100 * total_hours
        fraction = min(0.95, max(0.05, (wanted - fixed) / flexible)) if flexible else 0.5
        industry_share = vary("industry courses", 0.15, 0.4)
        for course_code, name, major_code, course_type, hours in courses:
            if course_type == "A":
                practice_hours = 0
            elif course_type == "C":
                practice_hours = hours
            elif course_code.startswith("GB"):
                practice_hours = round(hours * 0.5)
            else:
                practice_hours = min(hours, max(1, round(hours * min(0.98, max(0.02, fraction + rng.uniform(-0.05, 0.05))))))
            tables.setdefault("7.2", []).append(
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

        # 7.3–7.5, 9.2 per major
        certificates, internships, employment = [], [], []
        for row in majors_rows:
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
        tables["7.3"] = certificates
        tables["7.4"] = internships
        tables["9.2"] = employment
        partners = rng.sample(self.companies, rng.randint(30, 120))
        tables["7.5"] = [
            {
                "partner_name": partner,
                "cooperation_type": rng.choice(("订单培养", "共建实训基地", "共同开发课程", "顶岗实习", "技术服务", "其他")) if rng.random() < 0.95 else None,
                "order_students": rng.randint(10, 120) if rng.random() < 0.4 else None,
                "donated_equipment": round(rng.uniform(1, 300), 2) if rng.random() < 0.25 else None,
            }
            for partner in partners
        ]

        # 8.x management
        documents = []
        counts = {
            category: round(self.stable(f"documents {category}", low, high))
            for category, low, high in (("质量保证", 2, 8), ("教学管理", 3, 7), ("学生管理", 2, 5), ("人事管理", 2, 5), ("其他", 1, 4))
        }
        abbreviation = school.name_zh[:2]
        for category, count in counts.items():
            for title in rng.sample(DOCUMENT_TITLES[category], min(count, len(DOCUMENT_TITLES[category]))):
                documents.append(
                    {
                        "document_title": f"{school.name_zh}{title}",
                        "document_no": f"{abbreviation}院发〔{year - 1}〕{rng.randint(1, 90)}号" if rng.random() < 0.85 else None,
                        "category": category,
                        "issued_date": school_year_date(rng, year) if rng.random() < 0.9 else None,
                    }
                )
        tables["8.1"] = documents
        staff_counts = {
            "8.2": max(8, round(students / vary("teaching admin", 350, 500))),
            "8.3": max(15, round(students / vary("student affairs", 180, 230)) + 10),
            "8.4": max(5, round(students / vary("admissions staff", 450, 700))),
            "8.5": round(self.stable("supervisors", 3, 15)),
            "8.6": round(self.stable("researchers", 3, 20)),
        }
        positions = {
            "8.2": ("教务员", "教学秘书", "教务处科长", "教学督导秘书"),
            "8.3": ("辅导员", "辅导员", "学工干事", "心理咨询师"),
            "8.4": ("招生干事", "就业指导教师", "招生就业处科长"),
            "8.5": ("专职督导", "督导组长"),
            "8.6": ("教研员", "教研室主任"),
        }
        for code, count in staff_counts.items():
            tables[code] = [
                {
                    "staff_no": person["staff_no"],
                    "name": person["name"],
                    "gender": person["gender"],
                    "birth_date": person["birth_date"],
                    "education": person["education"],
                    "title_level": person["title_level"] if rng.random() < 0.9 else None,
                    "position": rng.choice(positions[code]) if rng.random() < 0.9 else None,
                }
                for person in self._people(rng, year, code, count)
            ]
        good_share = vary("good evaluations", 0.8, 0.95)
        tables["8.7"] = [
            {
                "staff_no": teacher["staff_no"],
                "name": teacher["name"] if rng.random() < 0.95 else None,
                "evaluations": rng.randint(40, 900),
                "result": rng.choice(("优", "良")) if rng.random() < good_share else rng.choice(("中", "中", "中", "差")),
            }
            for teacher in tables["6.1"]
            if rng.random() < 0.96
        ]
        aid_rows = []
        aid_rng = rng_for(self.seed, "aid", school.code)
        for aid_name, aid_type in aid_rng.sample(AID_ITEMS, aid_rng.randint(7, len(AID_ITEMS))):
            receivers = max(1, round(students * vary(f"aid {aid_name}", 0.005, 0.15)))
            aid_rows.append(
                {
                    "aid_name": aid_name,
                    "aid_type": aid_type,
                    "students": receivers,
                    "amount": round(receivers * rng.uniform(0.05, 0.8), 2),
                }
            )
        tables["8.8"] = aid_rows
        donors = rng.choice((0, 0, 1, 2, 3, 5))
        tables["9.3"] = [
            {
                "donor": donor,
                "amount": round(rng.uniform(1, 200), 2),
                "donation_type": rng.choice(("现金", "设备", "其他")) if rng.random() < 0.9 else None,
            }
            for donor in rng.sample(self.companies, donors)
        ]
        return tables


# ---------------------------------------------------------------------------------------------
# Rendering: xlsx and GBK CSV in the platform's export shape


@dataclass
class Rendered:
    content: bytes
    first_data_row: int  # 1-based sheet row of the first data row
    rows: int


def choose_headers(rng: random.Random, table: CatalogTable) -> list[str]:
    """One header text per column: nested (`上级/下级`) or flat where both exist, alternative `variant`."""
    nested = rng.random() < 0.65
    variant = rng.randrange(3)
    headers = []
    for column in table.columns:
        options = [text for text in column.headers if ("/" in text) == nested] or list(column.headers)
        headers.append(options[variant % len(options)])
    return headers


def export_time(rng: random.Random, year: int, late: bool = False) -> dt.datetime:
    if late:
        start, days = dt.datetime(year, 11, 5, 9, 0), 20
    else:
        start, days = dt.datetime(year, 9, 15, 8, 30), (dt.date(year, 10, 25) - dt.date(year, 9, 15)).days
    return start + dt.timedelta(days=rng.randrange(days + 1), seconds=rng.randrange(9 * 3600))


@dataclass
class CellStyle:
    date_style: str  # iso | dotted | compact | excel
    blank: str  # "" | "-" | "无"
    numbers_as_text: bool
    spaced_names: bool


def file_style(rng: random.Random) -> CellStyle:
    return CellStyle(
        date_style=rng.choices(("iso", "dotted", "compact", "excel"), weights=(35, 25, 15, 25))[0],
        blank=rng.choice(("", "", "-", "无")),
        numbers_as_text=rng.random() < 0.12,
        spaced_names=rng.random() < 0.2,
    )


def cell_text(column: CatalogColumn, value, style: CellStyle, rng: random.Random):
    """What goes into a cell: a str, an int/float, a date (Excel date cell) or None (empty)."""
    if value is None:
        if style.blank == "无" and column.type != "text":
            return None
        return style.blank or None
    if column.type == "boolean":
        return "是" if value else "否"
    if column.type == "date":
        date_style = style.date_style if rng.random() > 0.05 else rng.choice(("iso", "dotted", "compact"))
        if date_style == "iso":
            return value.isoformat()
        if date_style == "dotted":
            return f"{value.year}.{value.month:02d}"
        if date_style == "compact":
            return f"{value.year}{value.month:02d}"
        return value
    if column.type in ("integer", "number"):
        if style.numbers_as_text:
            return str(value)
        return value
    if style.spaced_names and column.name == "name" and len(value) == 2:
        return f"{value[0]}\u3000{value[1]}"
    return value


def title_text(school: School, table: CatalogTable, period_year: int) -> str:
    return f"{school.name_zh} 表{table.code} {table.name_zh}（{period_year - 1}-{period_year}学年）"


def total_row(table: CatalogTable, rows: list[dict]) -> list:
    values = []
    for column in table.columns:
        if column.type in ("integer", "number") and column.name not in ("established_year", "duration_years", "duration_months", "monthly_income"):
            total = sum(row.get(column.name) or 0 for row in rows)
            values.append(round(total, 2) if column.type == "number" else total)
        else:
            values.append(None)
    return values


def write_cell(sheet, row: int, col: int, value, date_format) -> None:
    """A cell as `cell_text` made it: text, Excel date, number, or nothing for None."""
    if value is None:
        return
    if isinstance(value, str):
        sheet.write_string(row, col, value)
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, dt.datetime(value.year, value.month, value.day), date_format)
    else:
        sheet.write_number(row, col, value)


def write_header_rows(sheet, top: int, columns: list[str], header_format) -> int:
    """Write the header from sheet row `top` (0-based): one row, or two with `上级/下级` texts merged
    under their common top; the first column is 序号. Returns the 0-based row of the first data row."""
    last = len(columns) - 1
    if not any("/" in text for text in columns):
        for col, text in enumerate(columns):
            sheet.write_string(top, col, text, header_format)
        return top + 1
    sheet.merge_range(top, 0, top + 1, 0, columns[0], header_format)
    col = 1
    while col <= last:
        text = columns[col]
        if "/" not in text:
            sheet.merge_range(top, col, top + 1, col, text, header_format)
            col += 1
            continue
        parent = text.split("/", 1)[0]
        end = col
        while end + 1 <= last and columns[end + 1].split("/", 1)[0] == parent and "/" in columns[end + 1]:
            end += 1
        if end > col:
            sheet.merge_range(top, col, top, end, parent, header_format)
        else:
            sheet.write_string(top, col, parent, header_format)
        for sub in range(col, end + 1):
            sheet.write_string(top + 1, sub, columns[sub].split("/", 1)[1], header_format)
        col = end + 1
    return top + 2


def render_xlsx(
    school: School, table: CatalogTable, rows: list[dict], period_year: int, created: dt.datetime, rng: random.Random
) -> Rendered:
    headers = choose_headers(rng, table)
    style = file_style(rng)
    with_total = table.code in ENTITY_TOTAL_TABLES and rows and rng.random() < 0.4
    remark = table.grain != "school" and rng.random() < 0.08
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    workbook.set_properties({"title": f"表{table.code} {table.name_zh}", "author": "状态数据采集平台", "created": created})
    sheet = workbook.add_worksheet(f"表{table.code}" if rng.random() < 0.7 else "Sheet1")
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
    header_format = workbook.add_format({"bold": True, "align": "center", "valign": "vcenter", "border": 1, "bg_color": "#D9E1F2", "text_wrap": True})
    date_format = workbook.add_format({"num_format": rng.choice(("yyyy-mm-dd", "yyyy/m/d", "yyyy年m月d日"))})
    total_format = workbook.add_format({"bold": True, "bg_color": "#F2F2F2"})
    columns = ["序号"] + headers + (["备注"] if remark else [])
    last = len(columns) - 1
    sheet.merge_range(0, 0, 0, last, title_text(school, table, period_year), title_format)
    first = write_header_rows(sheet, 1, columns, header_format)
    sheet.set_column(0, 0, 6)
    sheet.set_column(1, last, 14)
    for number, row in enumerate(rows):
        excel_row = first + number
        sheet.write_number(excel_row, 0, number + 1)
        for col, column in enumerate(table.columns, start=1):
            write_cell(sheet, excel_row, col, cell_text(column, row.get(column.name), style, rng), date_format)
    if with_total:
        excel_row = first + len(rows)
        sheet.write_string(excel_row, 0, "合计", total_format)
        for col, value in enumerate(total_row(table, rows), start=1):
            if value is not None:
                sheet.write_number(excel_row, col, value, total_format)
    workbook.close()
    return Rendered(content=buffer.getvalue(), first_data_row=first + 1, rows=len(rows))


def render_csv(school: School, table: CatalogTable, rows: list[dict], period_year: int, rng: random.Random) -> Rendered:
    """The GBK CSV variant: title line, one header line (`上级/下级` kept as text), data lines."""
    headers = choose_headers(rng, table)
    style = file_style(rng)
    style.date_style = "iso" if style.date_style == "excel" else style.date_style
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title_text(school, table, period_year)])
    writer.writerow(["序号", *headers])
    for number, row in enumerate(rows, start=1):
        cells = [number]
        for column in table.columns:
            value = cell_text(column, row.get(column.name), style, rng)
            cells.append("" if value is None else value)
        writer.writerow(cells)
    return Rendered(content=buffer.getvalue().encode("gbk"), first_data_row=3, rows=len(rows))


def file_name(table: CatalogTable, csv_variant: bool = False) -> str:
    if csv_variant:
        return f"{table.code.replace('.', '-')} {table.name_zh}.csv"
    return f"表{table.code} {table.name_zh}.xlsx"


# ---------------------------------------------------------------------------------------------
# Platform generations: the online 采集与管理系统's layout (reference/platform_crosswalk.csv)

LAYOUT_CHOICES = ("v2", "mixed")
ONLINE_VERSION = "online2017"
ONLINE_SHARE = 0.4  # of college-years exported in the online layout under --layouts mixed
UNIT_WORDS = ("万元", "元", "平方米", "人", "人次", "册", "台", "个", "学时", "年", "月", "天", "节次", "次")
TEACHING_SHAPE = "6.3"  # the online 授课情况: one row per teacher and course


@dataclass(frozen=True)
class PlatformFile:
    """One file of a platform generation's layout: its own code and name, the V2 table its rows land
    in, and the columns it carries (a later version's shape, or the V2 table's own)."""

    layout: str
    code: str
    name_zh: str
    v2_code: str
    columns: tuple
    source: str
    confidence: str
    aliases: dict = field(default_factory=dict)  # column name -> header texts seen in real exports


def platform_files(layout: str) -> list[PlatformFile]:
    """Every file a college delivers in `layout` (V2, online2017), in catalog order."""
    catalog = load_catalog()
    if layout == BASE_VERSION:
        return [PlatformFile(layout, t.code, t.name_zh, t.code, t.columns, t.source, t.confidence) for t in catalog.tables]
    shapes = {shape.code: shape for shape in catalog.shapes_of(layout)}
    aliases: dict[str, dict[str, tuple]] = {}
    for alias in load_header_aliases():
        seen = aliases.setdefault(alias.table_code, {})
        seen[alias.column_name] = seen.get(alias.column_name, ()) + (alias.header,)
    files = []
    for entry in load_crosswalk():
        if entry.platform_version != layout:
            continue
        shape = shapes.get(entry.table_code)
        columns = shape.columns if shape else catalog.by_code(entry.v2_table_code).columns
        source = shape.source if shape else entry.source
        files.append(PlatformFile(layout, entry.table_code, entry.table_name_zh, entry.v2_table_code, columns,
                                  source, entry.confidence, aliases.get(entry.v2_table_code, {})))
    return files


def choose_layout(seed: int, school_code: str, year: int, layouts: str) -> tuple[str, list[str]]:
    """The layout (and its variants) a college-year's exports take: V2 always under `v2`."""
    if layouts == "v2":
        return BASE_VERSION, []
    rng = rng_for(seed, "layout", school_code, year)
    if rng.random() >= ONLINE_SHARE:
        return BASE_VERSION, []
    brackets = "halfwidth_brackets" if rng.random() < 0.3 else "fullwidth_brackets"
    variants = ["title_note_rows", "two_level_headers", "units_in_headers", brackets]
    if rng.random() < 0.5:
        variants.append("line_breaks")
    return ONLINE_VERSION, variants


def online_header(column: CatalogColumn, variants: list[str], rng: random.Random, seen: tuple = ()) -> str:
    """The real export's text for a column, from its cited forms (listed last in the catalog, or `seen`
    in header_aliases.csv): two-level where there is one, the unit in brackets, full- or half-width
    brackets and, sometimes, a line break in the cell."""
    options = [*column.headers, *seen]
    nested = [text for text in options if "/" in text]
    flat = [text for text in options if "/" not in text]
    text = nested[-1] if nested and ("two_level_headers" in variants or not flat) else flat[-1]
    if "units_in_headers" in variants and column.unit in UNIT_WORDS and "（" not in text and "(" not in text:
        text = f"{text}（{column.unit}）"
    if "halfwidth_brackets" in variants:
        text = text.replace("（", "(").replace("）", ")")
    else:
        text = text.replace("(", "（").replace(")", "）")
    if "line_breaks" in variants and rng.random() < 0.5:
        parts = text.split("/")
        leaf = parts[-1]
        if len(leaf) > 5:
            cut = leaf.find("（") if leaf.find("（") > 1 else leaf.find("(") if leaf.find("(") > 1 else len(leaf) // 2
            parts[-1] = f"{leaf[:cut]}\n{leaf[cut:]}"
        text = "/".join(parts)
    return text


def teaching_rows(rows: list[dict], rng: random.Random) -> list[dict]:
    """The online 授课情况: each teacher's 学年授课学时 split over one to three courses."""
    out = []
    for row in rows:
        hours = row.get("teaching_hours")
        if not hours:
            continue
        parts = rng.randint(1, 3) if hours >= 60 else 1
        cuts = sorted(rng.sample(range(1, hours), parts - 1)) if parts > 1 else []
        for number, (start, end) in enumerate(zip([0, *cuts], [*cuts, hours]), start=1):
            out.append({"staff_no": row["staff_no"], "name": row["name"], "course_name": f"课程{number:02d}",
                        "teaching_hours": end - start})
    return out


def render_online_xlsx(
    school: School, shape: PlatformFile, rows: list[dict], period_year: int, created: dt.datetime,
    variants: list[str], rng: random.Random,
) -> Rendered:
    """A table as the online system exports it: a title row, a note row (school, period, unit),
    the source's header texts (two-level where nested) and the data."""
    columns = list(shape.columns)
    headers = [online_header(column, variants, rng, shape.aliases.get(column.name, ())) for column in columns]
    extra = ["课程名称"] if shape.code == TEACHING_SHAPE and shape.layout == ONLINE_VERSION else []
    style = file_style(rng)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    workbook.set_properties({"title": f"{shape.code} {shape.name_zh}", "author": "高等职业院校人才培养工作状态数据采集与管理系统",
                             "created": created})
    sheet = workbook.add_worksheet(shape.name_zh[:31])
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
    note_format = workbook.add_format({"italic": True, "font_size": 9})
    header_format = workbook.add_format({"bold": True, "align": "center", "valign": "vcenter", "border": 1, "text_wrap": True})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    cells = ["序号", *headers, *extra]
    last = len(cells) - 1
    top = 0
    if "title_note_rows" in variants:
        sheet.merge_range(0, 0, 0, last, f"{shape.code} {shape.name_zh}", title_format)
        units = sorted({column.unit for column in columns if column.unit in ("万元", "平方米")})
        note = (f"学校名称：{school.name_zh}（{school.code}）　采集时段：{period_year - 1}-09-01至{period_year}-08-31"
                + (f"　金额/面积单位：{'、'.join(units)}" if units else ""))
        sheet.merge_range(1, 0, 1, last, note, note_format)
        top = 2
    first = write_header_rows(sheet, top, cells, header_format)
    for number, row in enumerate(rows):
        excel_row = first + number
        sheet.write_number(excel_row, 0, number + 1)
        values = [cell_text(column, row.get(column.name), style, rng) for column in columns]
        values += [row.get("course_name")] if extra else []
        for col, value in enumerate(values, start=1):
            write_cell(sheet, excel_row, col, value, date_format)
    workbook.close()
    return Rendered(content=buffer.getvalue(), first_data_row=first + 1, rows=len(rows))


def platform_file_name(shape: PlatformFile) -> str:
    return f"{shape.code} {shape.name_zh}.xlsx"


def rows_for(shape: PlatformFile, rows: list[dict], rng: random.Random) -> list[dict]:
    if shape.layout == ONLINE_VERSION and shape.code == TEACHING_SHAPE:
        return teaching_rows(rows, rng)
    return rows


def write_online_year(school: School, seed: int, year: int, tables: dict, folder: Path, exported: dt.datetime,
                      variants: list[str]) -> list[dict]:
    """Write one college-year in the online layout; returns its manifest file entries."""
    files = []
    for order, shape in enumerate(platform_files(ONLINE_VERSION)):
        rng = rng_for(seed, "render-online", school.code, year, shape.code)
        v2_table = load_catalog().by_code(shape.v2_code)
        rows = rows_for(shape, tables.get(shape.v2_code, []), rng)
        if not v2_table.required and not rows and rng.random() < 0.5:
            continue
        created = exported + dt.timedelta(seconds=37 * order + rng.randrange(30))
        rendered = render_online_xlsx(school, shape, rows, year, created, variants, rng)
        name = platform_file_name(shape)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(rendered.content)
        files.append({
            "path": f"{school.code}/{year}/{name}", "school_code": school.code, "year": year,
            "table_code": shape.v2_code, "rows": rendered.rows, "format": "xlsx", "period_year": year,
            "exported_at": created.isoformat(), "archive": None, "member": None,
            "layout": ONLINE_VERSION, "platform_table_code": shape.code,
        })
    return files


def write_layout_fixtures(out: Path, layout: str, seed: int = 7, year: int = 2024) -> list[dict]:
    """For tests: one small college's exports in one platform generation's layout (V2 or online2017),
    one file per table of that layout, each with the header texts of its cited catalog rows.

    Returns one entry per file: path, school_code, year, layout, platform_table_code, table_code (the
    V2 raw table), rows, first_data_row, source and confidence."""
    if layout not in PLATFORM_VERSIONS:
        raise ValueError(f"unknown platform layout {layout!r}; one of {', '.join(PLATFORM_VERSIONS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    school = plan_schools(1, seed, [year])[0]
    tables = SchoolData(school, seed, [year]).data[year]
    variants = [] if layout == BASE_VERSION else ["title_note_rows", "two_level_headers", "units_in_headers",
                                                   "fullwidth_brackets", "line_breaks"]
    created = dt.datetime(year, 9, 20, 10, 0)
    entries = []
    for shape in platform_files(layout):
        rng = rng_for(seed, "fixture", layout, shape.code)
        rows = rows_for(shape, tables.get(shape.v2_code, []), rng)
        if layout == BASE_VERSION:
            rendered = render_xlsx(school, load_catalog().by_code(shape.code), rows, year, created, rng)
            name = file_name(load_catalog().by_code(shape.code))
        else:
            rendered = render_online_xlsx(school, shape, rows, year, created, variants, rng)
            name = platform_file_name(shape)
        (out / name).write_bytes(rendered.content)
        entries.append({"path": name, "school_code": school.code, "year": year, "layout": layout,
                        "platform_table_code": shape.code, "table_code": shape.v2_code,
                        "rows": rendered.rows, "first_data_row": rendered.first_data_row, "source": shape.source,
                        "confidence": shape.confidence})
    return entries


# ---------------------------------------------------------------------------------------------
# One college: data, defects, files


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
        found.append({"kind": "out_of_domain", "table_code": "6.1", "column_name": "gender", "indexes": bad_gender,
                      "description_zh": "性别填写为“未知”，不在允许值（男/女）之内"})
        found.append({"kind": "out_of_domain", "table_code": "6.1", "column_name": "teaching_hours", "indexes": bad_hours,
                      "description_zh": "学年授课学时超过 1500 的上限"})
    if "duplicate_key" in kinds:
        rows = tables["6.1"]
        first, second = sorted(rng.sample(range(len(rows)), 2))
        rows[second]["staff_no"] = rows[first]["staff_no"]
        found.append({"kind": "duplicate_key", "table_code": "6.1", "column_name": "staff_no", "indexes": [first, second],
                      "description_zh": f"教工号 {rows[first]['staff_no']} 重复出现"})
    if "inconsistent_total" in kinds:
        row = tables["5.2"][0]
        row["daily_teaching"] = round(row["daily_teaching"] + rng.randint(50, 500) + 0.5, 2)
        found.append({"kind": "inconsistent_total", "table_code": "5.2", "column_name": "expenditure_total", "indexes": [0],
                      "description_zh": "各项经费支出之和不等于支出合计"})
    return found


def deterministic_zip(members: list[tuple[str, bytes]], when: dt.datetime) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, content)
    return buffer.getvalue()


def generate_school(task: tuple) -> dict:
    """Write one college's folders; returns its file and defect records (runs in a worker)."""
    school, seed, years, out, kinds, layouts = task
    catalog = load_catalog()
    data = SchoolData(school, seed, years).data
    latest = max(years)
    files, defects, year_layouts = [], [], []
    for year in years:
        if school.active_from and year < school.active_from:
            continue
        year_kinds = kinds if year == latest else []
        if "not_submitted" in year_kinds:
            defects.append(defect_record("not_submitted", school.code, year, None, None, [], "最新采集年度未提交任何数据文件"))
            continue
        tables = {code: [dict(row) for row in rows] for code, rows in data[year].items()}
        row_defects = inject_row_defects(year_kinds, tables, rng_for(seed, "inject", school.code, year))
        session = rng_for(seed, "export", school.code, year)
        exported = export_time(session, year)
        # defects name V2 files and rows, so a college-year carrying defects keeps the V2 layout
        layout, variants = choose_layout(seed, school.code, year, layouts) if not year_kinds else (BASE_VERSION, [])
        year_layouts.append({"school_code": school.code, "year": year, "layout": layout, "variants": variants})
        if layout != BASE_VERSION:
            files += write_online_year(school, seed, year, tables, out / school.code / str(year), exported, variants)
            continue
        zipped = "zip_delivery" in year_kinds
        members: list[tuple[str, bytes]] = []
        folder = out / school.code / str(year)
        first_rows: dict[str, int] = {}
        for order, table in enumerate(catalog.tables):
            rng = rng_for(seed, "render", school.code, year, table.code)
            rows = tables.get(table.code, [])
            if not table.required and not rows and rng.random() < 0.5:
                continue
            if "missing_table" in year_kinds and table.code == DEFECT_TABLES["missing_table"]:
                defects.append(defect_record("missing_table", school.code, year, table.code, None, [],
                                             f"必填表 {table.code} {table.name_zh} 未提交"))
                continue
            created = exported + dt.timedelta(seconds=37 * order + rng.randrange(30))
            period_year = year
            if "stale_period" in year_kinds and table.code == DEFECT_TABLES["stale_period"]:
                period_year = year - 1
                rows = data[year - 1].get(table.code, [])
                defects.append(defect_record("stale_period", school.code, year, table.code, None, [],
                                             f"表题学年为 {year - 2}-{year - 1} 学年，是上一年度的数据"))
            if "late_export" in year_kinds and table.code == DEFECT_TABLES["late_export"]:
                created = export_time(rng, year, late=True)
                defects.append(defect_record("late_export", school.code, year, table.code, None, [],
                                             f"导出时间 {created:%Y-%m-%d %H:%M} 晚于采集截止日期"))
            as_csv = "gbk_csv" in year_kinds and table.code == DEFECT_TABLES["gbk_csv"]
            if as_csv:
                rendered = render_csv(school, table, rows, period_year, rng)
                defects.append(defect_record("gbk_csv", school.code, year, table.code, None, [],
                                             "该表以 GBK 编码的 CSV 文件提交（格式变体，应正常导入）"))
            else:
                rendered = render_xlsx(school, table, rows, period_year, created, rng)
            content = rendered.content
            if "corrupt_file" in year_kinds and table.code == DEFECT_TABLES["corrupt_file"]:
                content = content[: len(content) // 2]
                defects.append(defect_record("corrupt_file", school.code, year, table.code, None, [],
                                             "文件被截断，无法作为 xlsx 打开"))
            first_rows[table.code] = rendered.first_data_row
            name = file_name(table, as_csv)
            entry = {
                "path": f"{school.code}/{year}/{name}",
                "school_code": school.code,
                "year": year,
                "table_code": table.code,
                "rows": rendered.rows,
                "format": "csv" if as_csv else "xlsx",
                "period_year": period_year,
                "exported_at": None if as_csv else created.isoformat(),
                "archive": None,
                "member": None,
            }
            if zipped:
                archive = f"{school.code}_{year}.zip"
                entry.update(path=f"{archive}/{name}", archive=archive, member=name)
                members.append((name, content))
            else:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(content)
            files.append(entry)
        for found in row_defects:
            first = first_rows[found["table_code"]]
            defects.append(defect_record(found["kind"], school.code, year, found["table_code"], found["column_name"],
                                         [first + index for index in found["indexes"]], found["description_zh"]))
        if zipped:
            (out / f"{school.code}_{year}.zip").write_bytes(deterministic_zip(members, exported))
            defects.append(defect_record("zip_delivery", school.code, year, None, None, [],
                                         f"{year} 年度数据以 zip 压缩包 {school.code}_{year}.zip 提交（格式变体，应正常导入）"))
    return {"code": school.code, "files": files, "defects": defects, "layouts": year_layouts}


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


# ---------------------------------------------------------------------------------------------
# The province


REGISTRY_COLUMNS = ("school_code", "name_zh", "school_type", "ownership", "status", "succeeded", "active_from", "active_to")


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


def synth_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that has imported this module: a plain fork of a process
    with other threads (pytest's, Dagster's) can copy a held lock into the child and hang it."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def generate_province(
    out: Path,
    schools: int,
    years: list[int],
    seed: int,
    defects: bool,
    registry: Path | None = None,
    jobs: int = 1,
    progress=None,
    layouts: str = "v2",
) -> dict:
    """Write the demo province's exports under `out` and the registry; returns the manifest.

    `jobs` > 1 spreads the colleges over worker processes; the output is the same bytes.
    `progress`, if given, is called with one line per college. `layouts` = `mixed` exports a share
    of college-years in the online 采集与管理系统's layout (see `choose_layout`); the manifest's
    `layouts` records each college-year's layout and variants.
    """
    if layouts not in LAYOUT_CHOICES:
        raise ValueError(f"layouts must be one of {', '.join(LAYOUT_CHOICES)}")
    if schools < 1:
        raise ValueError("schools must be at least 1")
    if not years:
        raise ValueError("years must not be empty")
    years = sorted(set(int(year) for year in years))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    registry = Path(registry) if registry else get_settings().registry
    planned = plan_schools(schools, seed, years)
    planned, old_rows = plan_successions(planned, seed, years[0])
    plan = plan_defects(planned, seed) if defects else {}
    tasks = [(school, seed, years, out, plan.get(school.code, []), layouts) for school in planned]
    if jobs > 1:
        with synth_context().Pool(jobs) as pool:
            results = pool.imap(generate_school, tasks)
            results = list(_report(results, planned, progress))
    else:
        results = list(_report(map(generate_school, tasks), planned, progress))
    write_registry(registry, planned, old_rows)
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


def _report(results, planned: list[School], progress):
    for number, result in enumerate(results, start=1):
        if progress:
            school = planned[number - 1]
            rows = sum(entry["rows"] for entry in result["files"])
            kinds = sorted({record["kind"] for record in result["defects"]})
            progress(
                f"[{number:>3}/{len(planned)}] {school.code} {school.name_zh} ({school.school_type}, {school.ownership}): "
                f"{len(result['files'])} files, {rows} rows" + (f", defects: {', '.join(kinds)}" if kinds else "")
            )
        yield result


def parse_years(text: str) -> list[int]:
    """`2022-2024`, `2022,2024` or `2024` → a list of collection years."""
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            start, end = (int(value) for value in part.split("-", 1))
            if end < start:
                raise ValueError(f"year range {part!r} runs backwards")
            years.update(range(start, end + 1))
        elif part:
            years.add(int(part))
    if not years:
        raise ValueError(f"no years in {text!r}")
    return sorted(years)


def cmd_synth(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    print(f"zhengai synth: {args.schools} colleges, years {args.years}, seed {args.seed}"
          f"{', with defects' if args.defects else ''} -> {out}", flush=True)
    registry = Path(args.registry) if args.registry else get_settings().registry
    manifest = generate_province(
        out, args.schools, parse_years(args.years), args.seed, args.defects,
        registry=registry, jobs=args.jobs or multiprocessing.cpu_count(),
        progress=lambda line: print(line, flush=True), layouts=args.layouts,
    )
    rows = sum(entry["rows"] for entry in manifest["files"])
    kinds = sorted({record["kind"] for record in manifest["defects"]})
    print(f"\n{len(manifest['files'])} files, {rows} data rows in {time.perf_counter() - started:.1f}s")
    print(f"defects: {len(manifest['defects'])} ({', '.join(kinds) or 'none'}); "
          f"{len(manifest['clean_schools'])} clean colleges")
    print(f"manifest: {out / 'manifest.json'}")
    print(f"registry: {registry}")
    return 0


def register(subparsers) -> None:
    synth = subparsers.add_parser("synth", help="generate the demo province's status-data exports and registry")
    synth.add_argument("--out", required=True, help="output folder (normally the inbox)")
    synth.add_argument("--schools", type=int, default=47, help="number of colleges (default 47)")
    synth.add_argument("--years", default="2022-2024", help="collection years, e.g. 2022-2024 (default)")
    synth.add_argument("--seed", type=int, default=2026)
    synth.add_argument("--defects", action="store_true", help="inject every defect kind and format variant once")
    synth.add_argument("--registry", help="registry CSV to write (default: the data home's registry)")
    synth.add_argument("--jobs", type=int, default=0, help="worker processes, 0 = one per CPU (output is identical)")
    synth.add_argument("--layouts", choices=LAYOUT_CHOICES, default="v2",
                       help="v2: every export in the V2 layout (default); mixed: a share in the online system's layout")
    synth.set_defaults(func=cmd_synth)


if __name__ == "__main__":
    from pipelines.cli import main

    sys.exit(main(["synth", *sys.argv[1:]]))
