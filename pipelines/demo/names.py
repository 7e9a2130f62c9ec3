"""Names: colleges and people.

College names follow the pattern of the real 高职 names, place + 特色 word + 职业技术学院 / 职业学院 /
高等专科学校 (e.g. 广西机电职业技术学院, 柳州职业技术学院, 广西卫生职业技术学院). The demo draws
Guangxi places first, exactly as it always has, so the demo sizes keep their names byte for byte;
when a type's Guangxi names are used up (a national-size province), it draws from the national
places and a wider 特色 list, then enumerates them, and never runs out.
"""

from __future__ import annotations

import random

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

SURNAMES = "黄韦李陈梁覃莫刘林蒙农罗杨张王周谢何潘卢吴唐蓝邓冯廖苏赵朱蒋徐钟曾胡陆郑宁孙马欧邱许雷秦梁甘卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲兰凤飞红梅琳志海波宁宇鹏辉斌婷燕雪晓文立新春峰俊丹萍健东亮"


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



def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given

