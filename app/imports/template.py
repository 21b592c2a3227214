"""The published import template of each side: headers, drop-down lists for codes, and a 填写说明 sheet.

The example row lives on the 填写说明 sheet, never on the 导入 sheet the importer reads, so a
template filled in without deleting anything never imports the example.
"""

from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from app.catalog.codes import COOPERATION_MODES, FIELDS, MATURITY
from app.imports.columns import COLUMNS, DATE_FORMAT, EXAMPLES

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_REQUIRED = {"title", "description", "abstract"}
_LISTS = {"所属领域": FIELDS, "合作方式": COOPERATION_MODES, "转化方式": COOPERATION_MODES, "成熟度": MATURITY}


_INSTRUCTIONS = [
    "填写说明：在“导入”工作表第 2 行起每行填写一条记录，本工作表不会被导入。",
    "带 * 的列必填；所属领域、合作方式、转化方式可填多个，用“；”分隔，取值见“代码表”。",
    "金额以万元为单位；日期写成 2027-06-30；所在地区写 6 位行政区划代码或“吉林省/长春市/朝阳区”。",
    "原系统编号：本单位原有系统中的编号，再次导入同一编号会更新该记录。从本系统导出的文件中的“编号”列同样用于更新原记录，新增记录请留空。",
    "示例（仅供参考）：",
]


def _headers(sheet, columns, row: int) -> None:
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=row, column=index, value=column.header + ("*" if column.key in _REQUIRED else ""))
        cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, Alignment(horizontal="center")
        sheet.column_dimensions[get_column_letter(index)].width = column.width


def write_template(side: str, path: Path) -> Path:
    """An .xlsx at `path`: the 导入 sheet with the import headers only (required ones marked *),
    a 填写说明 sheet with the rules and an example row, and a 代码表 sheet.

    Single-code columns (成熟度, 状态, 面议) get a strict drop-down; list columns (所属领域, 合作方式)
    get a drop-down too but accept several labels separated by ；.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "导入"
    guide = workbook.create_sheet("填写说明")
    codes = workbook.create_sheet("代码表")
    columns = COLUMNS[side]
    _headers(sheet, columns, 1)
    sheet.freeze_panes = "A2"
    for line in _INSTRUCTIONS:
        guide.append([line])
    _headers(guide, columns, len(_INSTRUCTIONS) + 1)
    examples = {**EXAMPLES[side], "截止日期": date.today() + timedelta(days=180)}
    guide.append([examples.get(c.header, c.example) for c in columns])
    for cell in guide[guide.max_row]:
        if isinstance(cell.value, date):
            cell.number_format = DATE_FORMAT
    lists = dict(_LISTS, 状态={"published": "发布", "draft": "草稿"}, 面议={"yes": "是", "no": "否"})
    code_column = 1
    for index, column in enumerate(columns, start=1):
        labels = lists.get(column.header)
        if not labels:
            continue
        letter = get_column_letter(code_column)
        codes.cell(row=1, column=code_column, value=column.header).font = HEADER_FONT
        for row, label in enumerate(labels.values(), start=2):
            codes.cell(row=row, column=code_column, value=label)
        source = f"代码表!${letter}$2:${letter}${len(labels) + 1}"
        strict = column.kind not in ("codes",)
        validation = DataValidation(type="list", formula1=source, allow_blank=True, showErrorMessage=strict)
        validation.error = f"请从代码表选择{column.header}"
        validation.prompt = "可填多个，用；分隔" if not strict else f"从列表选择{column.header}"
        validation.showInputMessage = True
        sheet.add_data_validation(validation)
        validation.add(f"{get_column_letter(index)}2:{get_column_letter(index)}5000")
        code_column += 1
    workbook.save(path)
    return path
