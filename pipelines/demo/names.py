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
    ("理工", 15),
    ("综合", 9),
    ("农林", 3),
    ("医药", 4),
    ("财经", 4),
    ("师范", 3),
    ("艺术", 2),
    ("体育", 1),
    ("政法", 2),
    ("语文", 1),
    ("民族", 1),
)
TYPE_WORDS = {
    "理工": (
        "机电",
        "工业",
        "交通",
        "电力",
        "水利电力",
        "建设",
        "工程",
        "信息",
        "现代",
        "城建",
        "电子",
        "航空",
        "汽车",
        "化工",
        "冶金",
    ),
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
PLACES = (
    "广西",
    "南宁",
    "柳州",
    "桂林",
    "梧州",
    "北海",
    "防城港",
    "钦州",
    "贵港",
    "玉林",
    "百色",
    "贺州",
    "河池",
    "来宾",
    "崇左",
    "桂东",
    "桂西",
    "桂南",
    "桂北",
    "邕江",
    "漓江",
    "左江",
    "右江",
)

SURNAMES = "黄韦李陈梁覃莫刘林蒙农罗杨张王周谢何潘卢吴唐蓝邓冯廖苏赵朱蒋徐钟曾胡陆郑宁孙马欧邱许雷秦梁甘卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲兰凤飞红梅琳志海波宁宇鹏辉斌婷燕雪晓文立新春峰俊丹萍健东亮"


# National names (a province of national size): other provinces and their cities, with 特色 words that
# read well anywhere (no 壮族文化, 东盟语言, 热带作物). 高等专科学校 only for 医药 and 师范 (the
# Ministry's naming rule also names 公安, which the demo's types fold into 政法 and leave out).
NATIONAL_PLACES = (
    "北京",
    "天津",
    "河北",
    "山西",
    "内蒙古",
    "辽宁",
    "吉林",
    "黑龙江",
    "上海",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "重庆",
    "四川",
    "贵州",
    "云南",
    "西藏",
    "陕西",
    "甘肃",
    "青海",
    "宁夏",
    "新疆",
    "石家庄",
    "唐山",
    "保定",
    "邯郸",
    "沧州",
    "太原",
    "大同",
    "晋中",
    "长治",
    "呼和浩特",
    "包头",
    "鄂尔多斯",
    "沈阳",
    "大连",
    "鞍山",
    "锦州",
    "长春",
    "吉林市",
    "哈尔滨",
    "大庆",
    "齐齐哈尔",
    "牡丹江",
    "南京",
    "无锡",
    "徐州",
    "常州",
    "苏州",
    "南通",
    "扬州",
    "盐城",
    "杭州",
    "宁波",
    "温州",
    "金华",
    "台州",
    "绍兴",
    "合肥",
    "芜湖",
    "安庆",
    "阜阳",
    "滁州",
    "福州",
    "厦门",
    "泉州",
    "漳州",
    "南昌",
    "九江",
    "赣州",
    "景德镇",
    "上饶",
    "济南",
    "青岛",
    "淄博",
    "烟台",
    "潍坊",
    "济宁",
    "威海",
    "临沂",
    "日照",
    "郑州",
    "洛阳",
    "开封",
    "新乡",
    "南阳",
    "许昌",
    "商丘",
    "信阳",
    "周口",
    "武汉",
    "襄阳",
    "宜昌",
    "荆州",
    "黄冈",
    "十堰",
    "长沙",
    "株洲",
    "湘潭",
    "衡阳",
    "岳阳",
    "常德",
    "郴州",
    "永州",
    "怀化",
    "广州",
    "深圳",
    "佛山",
    "东莞",
    "珠海",
    "汕头",
    "湛江",
    "江门",
    "肇庆",
    "惠州",
    "茂名",
    "清远",
    "海口",
    "三亚",
    "成都",
    "绵阳",
    "德阳",
    "宜宾",
    "南充",
    "泸州",
    "乐山",
    "达州",
    "贵阳",
    "遵义",
    "六盘水",
    "毕节",
    "昆明",
    "曲靖",
    "玉溪",
    "大理",
    "西安",
    "宝鸡",
    "咸阳",
    "汉中",
    "榆林",
    "兰州",
    "天水",
    "酒泉",
    "西宁",
    "银川",
    "乌鲁木齐",
    "克拉玛依",
    "拉萨",
)
NATIONAL_TYPE_WORDS = {
    "理工": (
        "机电",
        "工业",
        "交通",
        "电力",
        "水利",
        "建设",
        "工程",
        "信息",
        "电子",
        "航空",
        "汽车",
        "化工",
        "铁道",
        "轨道交通",
        "船舶",
        "石油",
        "能源",
        "轻工",
        "纺织",
        "机械",
        "工贸",
        "邮电",
        "航运",
        "建筑",
        "安全",
        "信息工程",
        "科技",
    ),
    "综合": ("职业", "城市", "科技", "工商", "现代职业", "经济", "东方", "城市建设"),
    "农林": ("农业", "林业", "生态工程", "农牧", "农林", "畜牧兽医", "农业工程", "园林"),
    "医药": ("卫生", "医药", "中医药", "健康", "护理", "医学", "药科", "康复"),
    "财经": ("财经", "经贸", "商贸", "金融", "物流", "商务", "财贸", "工商"),
    "师范": ("师范", "幼儿师范", "教育"),
    "艺术": ("艺术", "文化艺术", "演艺", "工艺美术", "传媒", "影视"),
    "体育": ("体育", "运动", "体育运动"),
    "政法": ("警官", "司法警官", "政法"),
    "语文": ("外国语", "外语", "国际语言", "外事"),
    "民族": ("民族", "民族艺术", "民族文化"),
}
WHOLE_WORDS = ("职业", "现代职业")  # 柳州 + 职业 + 技术学院: the word already says 职业


def school_name(rng: random.Random, school_type: str, taken: set[str]) -> str:
    """A college name not in `taken` (added to it), drawn from `rng`.

    Guangxi places first, 200 draws as the demo always drew them (its names stay byte for byte); a
    type whose Guangxi names are used up draws from the national places, then takes the first free
    one in catalogue order, and past every place × word × suffix (tens of thousands per type)
    numbers them (南宁第2机电职业技术学院), so the generator never runs out."""
    for candidates in (
        lambda: (rng.choice(PLACES), rng.choice(TYPE_WORDS[school_type])),
        lambda: (rng.choice(NATIONAL_PLACES), rng.choice(NATIONAL_TYPE_WORDS[school_type])),
    ):
        for _ in range(200):
            place, word = candidates()
            name = f"{place}{word}{name_suffix(rng, school_type, word)}"
            if name not in taken:
                taken.add(name)
                return name
    name = first_free_name(school_type, taken)
    taken.add(name)
    return name


def name_suffix(rng: random.Random, school_type: str, word: str) -> str:
    """职业技术学院 (twice as often) or 职业学院; 高等专科学校 for some 医药 and 师范 colleges."""
    if word in WHOLE_WORDS:
        return "技术学院"
    if school_type in ("医药", "师范") and rng.random() < 0.3:
        return "高等专科学校"
    return rng.choice(("职业技术学院", "职业技术学院", "职业学院"))


def first_free_name(school_type: str, taken: set[str]) -> str:
    """The first name of the type's whole national space not yet taken, then numbered ones."""
    suffixes = ("职业技术学院", "职业学院") + (("高等专科学校",) if school_type in ("医药", "师范") else ())
    words = NATIONAL_TYPE_WORDS[school_type]
    number = 1
    while True:
        for place in PLACES + NATIONAL_PLACES:
            for word in words:
                for suffix in ("技术学院",) if word in WHOLE_WORDS else suffixes:
                    name = f"{place}{word}{suffix}" if number == 1 else f"{place}第{number}{word}{suffix}"
                    if name not in taken:
                        return name
        number += 1


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given
