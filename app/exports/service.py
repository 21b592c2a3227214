"""Writing records as spreadsheet rows, with the importer's own headers, so an export imports back.

Codes are written as their Chinese labels, amounts in 万元, regions as name paths when the
names are known (else the code), lists joined with "；"; `原系统编号` carries the record's
import link, when it has one.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.regions import Region, parse_region
from app.imports.columns import COLUMNS, STATUS_LABELS, WAN, Column
from app.imports.models import ImportLink

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
ID_HEADER = "编号"
BATCH = 500


def headers(side: str) -> list[str]:
    """编号 (ignored by the importer), then the import columns."""
    return [ID_HEADER] + [c.header for c in COLUMNS[side]]


def region_text(code: str | None) -> str:
    if not code:
        return ""
    name = Region(code).name
    try:
        return name if parse_region(name).code == code else code
    except ValueError:
        return code


def in_wan(yuan: int | None):
    """Yuan as 万元: an int when whole, else a float (exact to the yuan)."""
    if yuan is None:
        return None
    value = (Decimal(yuan) / WAN).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def cell_value(record, column: Column, external_code: str | None):
    """What one record shows in one column, as a spreadsheet value (None for empty)."""
    if column.kind == "external":
        return external_code
    if column.key == "region":
        return region_text(record.region_code)
    outer, _, inner = column.key.partition(".")
    value = getattr(record, outer)
    if inner:
        value = (value or {}).get(inner)
    if value is None or value == [] or value == "":
        return None
    kind = column.kind
    if kind in ("list", "words"):
        return "；".join(value)
    if kind == "codes":
        return "；".join(column.codes.get(v, v) for v in value)
    if kind == "code":
        return column.codes.get(value, value)
    if kind == "wan":
        return in_wan(value)
    if kind == "bool":
        return "是" if value else None  # an empty cell reads as 否
    if kind == "status":
        return STATUS_LABELS.get(value, value)
    return value


def rows(session: Session, side: str, records: Iterable) -> Iterator[list]:
    """One list of cell values per record; import links are looked up a batch at a time."""
    columns = COLUMNS[side]
    batch = []
    for record in records:
        batch.append(record)
        if len(batch) == BATCH:
            yield from _rows_of(session, side, columns, batch)
            batch = []
    yield from _rows_of(session, side, columns, batch)


def _rows_of(session: Session, side: str, columns: list[Column], records: list) -> Iterator[list]:
    if not records:
        return
    codes = dict(
        session.execute(
            select(ImportLink.record_id, ImportLink.external_code).where(
                ImportLink.side == side, ImportLink.record_id.in_([r.id for r in records])
            )
        ).all()
    )
    for record in records:
        yield [record.id] + [cell_value(record, c, codes.get(record.id)) for c in columns]


def header_cells(sheet, names: list[str]) -> list:
    cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, Alignment(horizontal="center", vertical="center")
        cells.append(cell)
    return cells


def styled_sheet(workbook: Workbook, title: str, names: list[str], widths: list[int]):
    """A write-only sheet with a bold, frozen header row and set column widths."""
    sheet = workbook.create_sheet(title)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append(header_cells(sheet, names))
    return sheet


def widths(side: str) -> list[int]:
    return [8] + [c.width for c in COLUMNS[side]]


def write_xlsx(session: Session, side: str, records: Iterable, path: Path, title: str) -> Path:
    """The records as one sheet of an .xlsx at `path`, written row by row (write-only mode)."""
    workbook = Workbook(write_only=True)
    sheet = styled_sheet(workbook, title, headers(side), widths(side))
    for values in rows(session, side, records):
        sheet.append([xlsx_value(v) for v in values])
    workbook.save(path)
    return path


def xlsx_value(value):
    """Dates as datetimes, which openpyxl writes as date cells; text without the control characters
    a worksheet cannot hold (openpyxl refuses them, and a stored text may carry one)."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return datetime(value.year, value.month, value.day) if type(value) is date else value


def csv_chunks(session: Session, side: str, records: Iterable, *, rows_per_chunk: int = 500) -> Iterator[bytes]:
    """The records as CSV, UTF-8 with a BOM (so Excel opens it), in chunks of bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers(side))
    for count, values in enumerate(rows(session, side, records), start=1):
        writer.writerow(["" if v is None else v.isoformat() if isinstance(v, date) else v for v in values])
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
