"""The published import template of each side: headers, one example row, drop-down lists for codes."""

from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from app.catalog.codes import COOPERATION_MODES, FIELDS, MATURITY
from app.imports.columns import COLUMNS, EXAMPLES

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_REQUIRED = {"title", "description", "abstract"}
_LISTS = {"所属领域": FIELDS, "合作方式": COOPERATION_MODES, "转化方式": COOPERATION_MODES, "成熟度": MATURITY}


def write_template(side: str, path: Path) -> Path:
    """An .xlsx at `path`: the import headers (required ones marked *), an example row, and a 代码表 sheet.

    Single-code columns (成熟度, 状态, 面议) get a strict drop-down; list columns (所属领域, 合作方式)
    get a drop-down too but accept several labels separated by ；.
    """
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "导入"
    codes = workbook.create_sheet("代码表")
    columns = COLUMNS[side]
    sheet.append([c.header + ("*" if c.key in _REQUIRED else "") for c in columns])
    examples = {**EXAMPLES[side], "截止日期": (date.today() + timedelta(days=180)).isoformat()}
    sheet.append([examples.get(c.header, c.example) for c in columns])
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, Alignment(horizontal="center")
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
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
