"""The spreadsheet columns of each side: Chinese headers as offices write them, and the API's names.

One table serves the importer (which header means which field, how a cell is read), the
template and the exporter (which writes the same headers, so an exported file imports back).
"""

import re
from dataclasses import dataclass

from app.achievements.schemas import AchievementCreate
from app.catalog.codes import COOPERATION_MODES, FIELDS, MATURITY
from app.demands.schemas import DemandCreate

WAN = 10_000  # 万元 → 元
DATE_FORMAT = "yyyy-mm-dd"  # how date cells show in the template and the exports
# The label the export writes for each life-cycle state (both sides' states).
STATUS_LABELS = {
    "published": "发布", "draft": "草稿", "closed": "已关闭", "withdrawn": "已撤回",
    "in_progress": "揭榜中", "completed": "已验收", "failed": "未通过", "terminated": "已终止",
}
# What the importer reads in a 状态 cell: the codes, the export's labels and the other words offices use.
STATUS_CODES = {
    **{code: code for code in STATUS_LABELS},
    **{label: code for code, label in STATUS_LABELS.items()},
    "已发布": "published", "发布中": "published", "进行中": "in_progress", "已揭榜": "in_progress",
    "验收通过": "completed", "已完成": "completed", "验收未通过": "failed", "关闭": "closed", "撤回": "withdrawn",
}


@dataclass(frozen=True)
class Column:
    """One column: `key` is the API field (dotted for nested ones), `kind` how its cells are read.

    Kinds: text, list (split on ；;，,、 and line breaks), words (also split on spaces), codes
    (a list of codes or labels), code, wan (万元, stored in yuan), int, date, bool, status,
    external (原系统编号), record_id (编号, our own id, which the export writes first).
    """

    header: str
    key: str
    kind: str
    codes: dict[str, str] | None = None
    width: int = 16
    example: object = None


# The record's id: written by the export, read by the importer to update that very record.
ID_COLUMN = Column("编号", "id", "record_id", width=8)
_COMMON_HEAD = [Column("原系统编号", "external_code", "external", width=14, example="JL-2026-0001")]
_COMMON_TAIL = [
    Column("所属领域", "fields", "codes", FIELDS, 20),
    Column("关键词", "keywords", "words", width=20),
    Column("所在地区", "region", "text", width=20, example="吉林省/长春市/朝阳区"),
    Column("联系人", "contact.name", "text", width=10, example="王工"),
    Column("联系电话", "contact.phone", "text", width=16, example="0431-85100000"),
    Column("联系邮箱", "contact.email", "text", width=20),
    Column("面议", "negotiable", "bool", width=6, example="否"),
    Column("状态", "status", "status", width=8, example="发布"),
]

DEMAND_COLUMNS = [
    *_COMMON_HEAD,
    Column("需求名称", "title", "text", width=30, example="新能源汽车冬季续航衰减问题"),
    Column("需求描述", "description", "text", width=60, example="纯电动乘用车在-20℃环境下续航里程衰减超过40%，需要电池低温热管理方案。"),
    Column("榜额(万元)", "reward", "wan", width=12, example=200),
    Column("预算下限(万元)", "budget_min", "wan", width=12),
    Column("预算上限(万元)", "budget_max", "wan", width=12),
    Column("截止日期", "deadline", "date", width=12),
    Column("合作方式", "cooperation_modes", "codes", COOPERATION_MODES, 16),
    # The conditions of the call (榜单条件), read only where the demand schema has them.
    Column("揭榜截止日期", "application_deadline", "date", width=12),
    Column("交付期限", "delivery_deadline", "date", width=12),
    Column("揭榜条件", "qualifications.text", "text", width=30),
    Column("限高新技术企业", "qualifications.high_tech_enterprise_only", "bool", width=8),
    Column("限高校", "qualifications.university_only", "bool", width=8),
    Column("限科研院所", "qualifications.institute_only", "bool", width=8),
    Column("交付成果", "deliverables", "text", width=30),
    Column("验收标准", "acceptance_criteria", "text", width=30),
    *_COMMON_TAIL,
]

ACHIEVEMENT_COLUMNS = [
    *_COMMON_HEAD,
    Column("成果名称", "title", "text", width=30, example="动力电池低温热管理与快速预热技术"),
    Column("成果简介", "abstract", "text", width=60, example="研制了基于脉冲自加热与热泵耦合的电池热管理系统，-20℃下5分钟内升温至10℃。"),
    Column("成熟度", "maturity", "code", MATURITY, 10),
    Column("技术就绪度", "trl", "int", width=10, example=6),
    Column("专利号", "patents", "words", width=24, example="ZL201710601862.3"),
    Column("转化方式", "transfer_modes", "codes", COOPERATION_MODES, 16),
    Column("价格下限(万元)", "price_min", "wan", width=12, example=50),
    Column("价格上限(万元)", "price_max", "wan", width=12, example=150),
    Column("完成单位", "institution", "text", width=20, example="吉林大学"),
    Column("团队负责人", "team.lead", "text", width=10, example="李教授"),
    Column("团队成员", "team.members", "list", width=20, example="张博士；赵工"),
    *_COMMON_TAIL,
]


def _in_schema(columns: list[Column], schema) -> list[Column]:
    """The columns whose field the side's Create schema accepts (and 原系统编号)."""
    return [c for c in columns if c.kind == "external" or c.key.split(".")[0] in schema.model_fields]


COLUMNS = {
    "demands": _in_schema(DEMAND_COLUMNS, DemandCreate),
    "achievements": _in_schema(ACHIEVEMENT_COLUMNS, AchievementCreate),
}
EXAMPLES = {
    "demands": {"所属领域": "汽车及零部件；新能源/氢能", "关键词": "续航衰减；低温", "合作方式": "技术开发"},
    "achievements": {"所属领域": "新能源/氢能", "关键词": "低温热管理；热泵", "成熟度": "中试", "转化方式": "技术许可；技术开发"},
}

# Other ways offices head the same column (compared after `normalize_header`).
_ALIASES = {
    "demands": {
        "榜额": "reward", "悬赏金额(万元)": "reward", "需求简介": "description", "需求内容": "description", "合作模式": "cooperation_modes",
    },
    "achievements": {"价格(万元)": "price", "成果价格(万元)": "price", "成果描述": "abstract", "技术领域": "fields",
                     "专利": "patents", "专利号/申请号": "patents", "负责人": "team.lead", "单位": "institution"},
}
# A single 价格(万元) cell: one amount for both bounds, or a range "50-150".
PRICE = Column("价格(万元)", "price", "wan_range")


def normalize_header(text: str) -> str:
    """Full-width brackets to ASCII, spaces and a trailing '*' (required mark) dropped."""
    text = str(text).replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", "", text).rstrip("*").strip()


def header_map(side: str) -> dict[str, Column]:
    """Normalised header → column, for the Chinese headers, their aliases and the English names.

    English amount names (`reward`, `price_min`, …) are in yuan, like the API; 万元 headers are scaled.
    """
    columns = COLUMNS[side]
    mapping: dict[str, Column] = {ID_COLUMN.header: ID_COLUMN, ID_COLUMN.key: ID_COLUMN}
    by_key = {c.key: c for c in columns}
    for column in columns:
        mapping[normalize_header(column.header)] = column
        english = Column(column.key, column.key, "int" if column.kind == "wan" else column.kind, column.codes)
        mapping[column.key] = english
    for alias, key in _ALIASES[side].items():
        mapping[normalize_header(alias)] = PRICE if key == "price" else by_key[key]
    return mapping
