"""Regions as administrative division codes (GB/T 2260, 6 digits), three levels in one code.

`220104` is 吉林省 (22) / 长春市 (2201) / 朝阳区 (220104); `220100` is the city itself and
`220000` the province. Records store the code and its province and city prefixes, so the
province–city–county network can filter at any level with one indexed equality.
"""

import re
from dataclasses import dataclass

PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}

# Names below province level, for the home province; other codes are accepted without a name.
NAMES: dict[str, str] = {
    "2201": "长春市", "2202": "吉林市", "2203": "四平市", "2204": "辽源市", "2205": "通化市",
    "2206": "白山市", "2207": "松原市", "2208": "白城市", "2224": "延边朝鲜族自治州",
    "220102": "南关区", "220103": "宽城区", "220104": "朝阳区", "220105": "二道区",
    "220106": "绿园区", "220112": "双阳区", "220113": "九台区", "220122": "农安县",
    "220182": "榆树市", "220183": "德惠市", "220184": "公主岭市",
    "220202": "昌邑区", "220203": "龙潭区", "220204": "船营区", "220211": "丰满区",
    "220502": "东昌区", "220581": "梅河口市", "220582": "集安市",
    "222401": "延吉市", "222402": "图们市", "222403": "敦化市", "222405": "龙井市",
}

_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class Region:
    code: str

    @property
    def province(self) -> str:
        return self.code[:2]

    @property
    def city(self) -> str | None:
        return None if self.code[2:4] == "00" else self.code[:4]

    @property
    def level(self) -> str:
        if self.city is None:
            return "province"
        return "city" if self.code[4:] == "00" else "county"

    @property
    def name(self) -> str:
        """"吉林省/长春市/朝阳区" as far as the names are known."""
        parts = [PROVINCES[self.province]]
        for prefix in (self.city, self.code if self.level == "county" else None):
            if prefix and prefix in NAMES:
                parts.append(NAMES[prefix])
        return "/".join(parts)


def parse_region(value: str) -> Region:
    """A region from its 6-digit code or its name path ("吉林省/长春市/朝阳区").

    Raises ValueError with a message saying what is wrong.
    """
    value = value.strip()
    if _CODE.match(value):
        if value[:2] not in PROVINCES:
            raise ValueError(f"region code {value!r}: unknown province prefix {value[:2]!r}")
        if value[2:4] == "00" and value[4:] != "00":
            raise ValueError(f"region code {value!r}: a county code needs its city digits")
        return Region(value)
    return _region_from_names(value)


def _region_from_names(path: str) -> Region:
    parts = [p for p in re.split(r"[/／\s]+", path) if p]
    if not parts:
        raise ValueError("region is empty")
    province = next((c for c, n in PROVINCES.items() if n == parts[0]), None)
    if province is None:
        raise ValueError(f"region {path!r}: unknown province {parts[0]!r}; give a 6-digit code")
    code = province + "0000"
    for depth, name in enumerate(parts[1:3], start=1):
        width = 2 + 2 * depth
        match = next(
            (c for c, n in NAMES.items() if n == name and len(c) == width and c.startswith(code[: width - 2])),
            None,
        )
        if match is None:
            raise ValueError(f"region {path!r}: unknown place {name!r}; give a 6-digit code")
        code = match.ljust(6, "0")
    return Region(code)
