"""The annual lists (年度清单): 关键核心技术需求清单 and 高质量成果转化清单.

A record belongs to year Y when it was published before the end of Y (China time) and was
still public at some point in Y: it is published (or, for a demand, under way) now, or it
reached a public end state (closed, completed, …) during or after Y.
Drafts and withdrawn records never appear. Each record is listed once, under its first
field (its primary field; records without a field come last, under 未分类), fields in the
order of the code list.

Order within a field:
- demands: the reward or budget (the highest amount offered) descending, records without an
  amount last; then the earlier publication first;
- achievements: maturity descending (产业化, 中试, 小试, 实验室, none), then the number of
  patents descending; then the earlier publication first.
"""

from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.catalog.codes import FIELDS, MATURITY
from app.catalog.regions import NAMES, PROVINCES
from app.clock import CHINA_TZ
from app.exports import service as export

TITLES = {"demands": "关键核心技术需求清单", "achievements": "高质量成果转化清单"}
CRITERIA = {
    "demands": "领域内按榜额（最高金额）从高到低，无金额者在后；金额相同按发布时间先后",
    "achievements": "领域内按成熟度（产业化、中试、小试、实验室）从高到低，再按专利数从多到少；相同按发布时间先后",
}
UNCLASSIFIED = "未分类"
_MATURITY_RANK = {code: rank for rank, code in enumerate(MATURITY, start=1)}
_FIELD_ORDER = {code: index for index, code in enumerate(FIELDS)}


def _year_conditions(model, year: int) -> list:
    start = datetime(year, 1, 1, tzinfo=CHINA_TZ)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA_TZ)
    return [
        model.status.in_(model.lifecycle.public),
        model.published_at.is_not(None),
        model.published_at < end,
        or_(model.status.in_(model.lifecycle.active), model.updated_at >= start),
    ]


def _sort_key(side: str, row) -> tuple:
    if side == "demands":
        amount = row.budget_max if row.budget_max is not None else row.reward if row.reward is not None else row.budget_min
        first = -(amount if amount is not None else -1)
        second = 0
    else:
        first = -_MATURITY_RANK.get(row.maturity, 0)
        second = -len(row.patents or [])
    return first, second, row.published_at, row.id


def _region_name(row) -> str:
    if row.region_city:
        return NAMES.get(row.region_city, PROVINCES.get(row.region_province, "") + row.region_city)
    if row.region_province:
        return PROVINCES.get(row.region_province, row.region_province)
    return "未填写"


def write_annual(session: Session, *, model, side: str, year: int, path: Path) -> Path:
    """The year's list as an .xlsx: a 汇总 cover (totals per field and per city) and the 清单 sheet."""
    light = [model.id, model.fields, model.published_at, model.region_province, model.region_city]
    light += [model.reward, model.budget_min, model.budget_max] if side == "demands" else [model.maturity, model.patents]
    groups: dict[str, list] = defaultdict(list)
    by_region: Counter = Counter()
    amounts: Counter = Counter()
    for row in session.execute(select(*light).where(*_year_conditions(model, year))):
        field = row.fields[0] if row.fields else UNCLASSIFIED
        groups[field].append((_sort_key(side, row), row.id))
        by_region[_region_name(row)] += 1
        if side == "demands":
            amounts[field] += next((a for a in (row.budget_max, row.reward, row.budget_min) if a is not None), 0)
    order = sorted(groups, key=lambda f: _FIELD_ORDER.get(f, len(FIELDS)))

    workbook = Workbook(write_only=True)
    cover = workbook.create_sheet("汇总")
    cover.column_dimensions["A"].width = 24
    cover.column_dimensions["B"].width = 12
    cover.column_dimensions["C"].width = 16
    title = WriteOnlyCell(cover, value=f"{year}年{TITLES[side]}")
    title.font = Font(bold=True, size=14)
    cover.append([title])
    cover.append([f"共 {sum(len(g) for g in groups.values())} 项。排序规则：{CRITERIA[side]}。每项列入其第一个所属领域。"])
    cover.append([])
    field_header = ["所属领域", "数量"] + (["榜额合计(万元)"] if side == "demands" else [])
    cover.append(export.header_cells(cover, field_header))
    for field in order:
        line = [FIELDS.get(field, field), len(groups[field])]
        cover.append(line + ([export.in_wan(amounts[field])] if side == "demands" else []))
    cover.append([])
    cover.append(export.header_cells(cover, ["所在地区", "数量"]))
    for region, count in sorted(by_region.items(), key=lambda item: (-item[1], item[0])):
        cover.append([region, count])

    names = ["序号", "清单领域"] + export.headers(side)
    sheet = export.styled_sheet(workbook, "清单", names, [6, 16] + export.widths(side))
    number = 0
    for field in order:
        ids = [record_id for _, record_id in sorted(groups[field])]
        for start in range(0, len(ids), export.BATCH):
            chunk = ids[start : start + export.BATCH]
            records = {r.id: r for r in session.scalars(select(model).where(model.id.in_(chunk)))}
            for values in export.rows(session, side, (records[i] for i in chunk)):
                number += 1
                sheet.append(export.xlsx_cells(sheet, [number, FIELDS.get(field, field), *values]))
            session.expunge_all()
    workbook.save(path)
    return path
