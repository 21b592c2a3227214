"""Reading an uploaded sheet: file → header → rows of cells → one API body per row.

Nothing here touches the database. Each data row keeps its spreadsheet row number (the header
row is 1 when it is the first line), and every problem names the column as the file heads it.
"""

import csv
import io
import re
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from xml.etree.ElementTree import iterparse

from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries

from app.imports.columns import PRICE, STATUS_CODES, STATUS_LABELS, WAN, Column, header_map, normalize_header
from app.imports.reasons import both
from app.schemas import MAX_ID

MAX_EXTERNAL_CODE = 64
FORMATS = (".xlsx", ".csv")
_LIST_SPLIT = re.compile(r"[；;，,、\n\r]+")
_WORD_SPLIT = re.compile(r"[；;，,、\s]+")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
_TRUE = {"是", "true", "1", "y", "yes", "面议"}
_FALSE = {"否", "false", "0", "n", "no", ""}


class FileProblem(ValueError):
    """The file as a whole cannot be read (format, encoding, header)."""


class CellProblem(ValueError):
    """One cell cannot be read as its column's kind."""


@dataclass
class Sheet:
    """The header (as written in the file) and the data rows, read lazily."""

    headers: list[str]
    columns: list[Column | None]
    rows: Iterator[tuple[int, list]]
    ignored: list[str] = field(default_factory=list)
    source: Generator[tuple[int, list], None, None] | None = None

    def close(self) -> None:
        """Release the file (the workbook of an .xlsx) before the rows are exhausted."""
        if self.source is not None:
            self.source.close()


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK and GB2312)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as error:
        raise FileProblem(f"the CSV is neither UTF-8 nor GBK/GB18030 (byte {error.start})") from None


def file_format(filename: str) -> str:
    suffix = Path(filename or "").suffix.lower()
    if suffix not in FORMATS:
        raise FileProblem(f"unsupported file type {suffix or '(none)'!r}: upload .xlsx or .csv")
    return suffix


def open_sheet(data: bytes, filename: str, side: str) -> Sheet:
    """The first worksheet (or the CSV) of the uploaded `data`, positioned after its header row.

    Uploads are read from memory (they are kept in the database, so any worker can run them);
    `filename` tells the format.

    The header is the first row naming at least one known column, so banner rows above it
    (a merged title such as "2026年技术需求清单") are skipped.
    """
    raw_rows = _xlsx_rows(data) if file_format(filename) == ".xlsx" else _csv_rows(data)
    mapping = header_map(side)
    try:
        for number, values in raw_rows:
            names = [normalize_header(v) if v is not None else "" for v in values]
            if any(name in mapping for name in names):
                columns = [mapping.get(name) for name in names]
                headers = [str(v).strip() if v is not None else "" for v in values]
                ignored = [h for h, c in zip(headers, columns, strict=True) if c is None and h]
                keys = [c.key for c in columns if c is not None]
                duplicated = sorted({k for k in keys if keys.count(k) > 1})
                if duplicated:
                    raise FileProblem(f"row {number}: more than one column for {', '.join(duplicated)}")
                if "title" not in keys:
                    raise FileProblem(f"row {number}: no title column (需求名称 / 成果名称 / title)")
                return Sheet(headers, columns, _non_empty(raw_rows), ignored, raw_rows)
    except FileProblem:
        raw_rows.close()
        raise
    raw_rows.close()
    raise FileProblem("no header row: none of the known column names was found")


def _non_empty(rows: Iterator[tuple[int, list]]) -> Iterator[tuple[int, list]]:
    for number, values in rows:
        if any(v is not None and str(v).strip() != "" for v in values):
            yield number, values


def _csv_rows(data: bytes) -> Generator[tuple[int, list], None, None]:
    text = decode_csv(data)
    for number, values in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        yield number, [v if v != "" else None for v in values]


def _xlsx_rows(data: bytes) -> Generator[tuple[int, list], None, None]:
    """Cell values (formulas read as their cached results), merged ranges filled from their top-left cell."""
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileProblem(f"not a readable .xlsx file: {error}") from None
    try:
        sheet = workbook.worksheets[0]
        merged = _merged_ranges(sheet)
        fill: dict[tuple[int, int], object] = {}
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            values = list(values)
            for min_col, min_row, max_col, max_row in merged:
                if number == min_row:
                    value = values[min_col - 1] if min_col - 1 < len(values) else None
                    for r in range(min_row, max_row + 1):
                        for c in range(min_col, max_col + 1):
                            fill[(r, c)] = value
            if fill:
                for (r, c) in [k for k in fill if k[0] == number]:
                    while len(values) < c:
                        values.append(None)
                    values[c - 1] = fill.pop((r, c))
            yield number, values
    finally:
        workbook.close()


def _merged_ranges(sheet) -> list[tuple[int, int, int, int]]:
    """The sheet's merged ranges; read-only worksheets do not expose them, so read the XML's <mergeCell>s."""
    ranges = []
    try:
        with sheet._get_source() as source:
            for _, element in iterparse(source):
                if element.tag.endswith("}mergeCell"):
                    ranges.append(range_boundaries(element.get("ref")))
                element.clear()
    except AttributeError:  # a normal worksheet
        ranges = [range_boundaries(str(r)) for r in getattr(sheet, "merged_cells", [])]
    return ranges


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    return str(value).strip()


def _amount(value) -> int:
    text = _text(value).replace(",", "").removesuffix("万元").removesuffix("万")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellProblem(both("不是数字", f"{_text(value)!r} is not a number")) from None
    yuan = number * WAN
    if yuan != yuan.to_integral_value():
        raise CellProblem(both("金额须精确到元", f"{_text(value)} 万元 is not a whole number of yuan"))
    return int(yuan)


def read_cell(column: Column, value):
    """The API value of one non-empty cell; raises CellProblem."""
    kind = column.kind
    if kind in ("text", "code"):
        return _text(value)
    if kind == "external":
        code = _text(value)
        if len(code) > MAX_EXTERNAL_CODE:
            raise CellProblem(both(f"最多 {MAX_EXTERNAL_CODE} 个字符", f"at most {MAX_EXTERNAL_CODE} characters"))
        return code
    if kind == "record_id":
        text = _text(value)
        if not re.fullmatch(r"\d+", text) or not 1 <= int(text) <= MAX_ID:
            raise CellProblem(both("编号应为系统导出的记录编号（正整数）", f"{text!r} is not a record id"))
        return int(text)
    if kind in ("list", "codes"):
        return [part.strip() for part in _LIST_SPLIT.split(_text(value)) if part.strip()]
    if kind == "words":
        return [part for part in _WORD_SPLIT.split(_text(value)) if part]
    if kind == "wan":
        return _amount(value)
    if kind == "wan_range":
        low, _, high = re.sub(r"[~～—–至]", "-", _text(value)).partition("-")
        return _amount(low), _amount(high or low)
    if kind == "int":
        text = _text(value).replace(",", "")
        if not re.fullmatch(r"-?\d+", text):
            raise CellProblem(both("不是整数", f"{text!r} is not a whole number"))
        return int(text)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = _text(value)
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise CellProblem(both("不是日期（例如 2027-06-30）", f"{text!r} is not a date (2027-06-30)"))
    if kind == "bool":
        text = _text(value).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise CellProblem(both("应填“是”或“否”", f"{text!r} is not 是 or 否"))
    if kind == "status":
        text = _text(value)
        if text.lower() not in STATUS_CODES:
            labels = "、".join(dict.fromkeys(STATUS_LABELS.values()))
            raise CellProblem(both(f"不认识的状态（可填 {labels}）", f"unknown status {text!r}"))
        return STATUS_CODES[text.lower()]
    raise AssertionError(kind)


@dataclass
class ParsedRow:
    """One data row: its body for the Create schema, the record it names, and what could not be read.

    `status` is the state its 状态 cell names (None without one). The body asks for a published
    record unless the cell says 草稿 or names a state a new record cannot start in (then a draft).
    """

    number: int
    body: dict
    external_code: str | None
    record_id: int | None
    status: str | None
    errors: list[dict]
    headers: dict[str, str]  # API field → the file's header, to name columns in errors


def parse_row(sheet: Sheet, number: int, values: list) -> ParsedRow:
    body: dict = {}
    external_code = record_id = status = None
    errors: list[dict] = []
    headers: dict[str, str] = {}
    for index, column in enumerate(sheet.columns):
        if column is None:
            continue
        header = sheet.headers[index]
        targets = ("price_min", "price_max") if column is PRICE else (column.key,)
        for key in targets:
            headers[key] = header
        value = values[index] if index < len(values) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            parsed = read_cell(column, value)
        except CellProblem as problem:
            errors.append({"row": number, "column": header, "reason": str(problem)})
            continue
        if column.kind == "external":
            external_code = parsed
        elif column.kind == "record_id":
            record_id = parsed
        elif column.kind == "status":
            status = parsed
        elif column is PRICE:
            body["price_min"], body["price_max"] = parsed
        elif "." in column.key:
            outer, inner = column.key.split(".", 1)
            body.setdefault(outer, {})[inner] = parsed
        else:
            body[column.key] = parsed
    body["status"] = "published" if status in (None, "published") else "draft"
    return ParsedRow(number, body, external_code, record_id, status, errors, headers)


def column_of(loc: tuple | list, headers: dict[str, str]) -> str:
    """The file's header for a pydantic error location: ("contact", "phone") → 联系电话, ("fields", 2) → 所属领域."""
    names = [str(part) for part in loc if isinstance(part, str) and part != "body"]
    for depth in (2, 1):
        key = ".".join(names[:depth])
        if key in headers:
            return headers[key]
    return names[0] if names else ""

