"""Regions as administrative division codes (GB/T 2260, 6 digits), three levels in one code.

`220104` is 吉林省 (22) / 长春市 (2201) / 朝阳区 (220104); `220100` is the city itself and
`220000` the province. Records store the code and its province and city prefixes, so the
province–city–county network can filter at any level with one indexed equality.
"""

import csv
import re
from dataclasses import dataclass
from pathlib import Path

PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}

DIVISIONS_FILE = Path(__file__).with_name("divisions_22.csv")


def _load_divisions(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Names below province level (cities by their 4-digit prefix, counties by their 6-digit code)
    and the short names offices write, from a GB/T 2260 table (`#` lines are its header comment).

    Returns (names, aliases) where `aliases` maps "<parent prefix>:<alias>" to a code key of `names`
    (or to a 2-digit province prefix), so an alias is looked up within its parent only.
    """
    names: dict[str, str] = {}
    aliases: dict[str, str] = {}
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    for row in csv.DictReader(lines):
        code = row["code"]
        key = code[:2] if code[2:] == "0000" else code[:4] if code[4:] == "00" else code
        if len(key) > 2:
            names[key] = row["name"]
        parent = key[:-2] if len(key) > 2 else ""
        for alias in filter(None, (row["aliases"] or "").split(";")):
            aliases[f"{parent}:{alias}"] = key
    return names, aliases


# Names below province level, for the home province; other codes are accepted without a name.
NAMES, _ALIASES = _load_divisions(DIVISIONS_FILE)

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
    """Each part is an official name or a short name of the table (吉林省/长春市/净月区, 吉林/长春/净月)."""
    parts = [p for p in re.split(r"[/／\s]+", path) if p]
    if not parts:
        raise ValueError("region is empty")
    province = next((c for c, n in PROVINCES.items() if n == parts[0]), None) or _ALIASES.get(f":{parts[0]}")
    if province is None:
        raise ValueError(f"region {path!r}: unknown province {parts[0]!r}; give a 6-digit code")
    code = province + "0000"
    for depth, name in enumerate(parts[1:3], start=1):
        parent = code[: 2 * depth]
        match = next((c for c, n in NAMES.items() if n == name and len(c) == 2 + 2 * depth and c.startswith(parent)), None)
        match = match or _ALIASES.get(f"{parent}:{name}")
        if match is None:
            raise ValueError(f"region {path!r}: unknown place {name!r}; give a 6-digit code")
        code = match.ljust(6, "0")
    return Region(code)
