"""Check digits of the identifiers offices copy by hand: credit codes and patent numbers."""

import re

_CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_problem(code: str) -> str | None:
    """Why `code` is not a valid 统一社会信用代码 (GB 32100-2015), or None when it is."""
    if len(code) != 18:
        return f"统一社会信用代码 must be 18 characters, got {len(code)}"
    bad = [ch for ch in code if ch not in _CREDIT_CHARSET]
    if bad:
        return f"统一社会信用代码 contains invalid character {bad[0]!r}"
    total = sum(_CREDIT_CHARSET.index(ch) * w for ch, w in zip(code[:17], _CREDIT_WEIGHTS, strict=True))
    expected = _CREDIT_CHARSET[(31 - total % 31) % 31]
    if code[17] != expected:
        return f"统一社会信用代码 check digit is {code[17]!r}, expected {expected!r}"
    return None


# Application numbers (申请号/专利号): 8 digits before 2004, 12 since, then "." and a check digit.
_APPLICATION = re.compile(r"^(?:ZL|CN)?(\d{8}|\d{12})\.([0-9X])$")
# Publication numbers (公开/公告号), Chinese or foreign: CN112345678A, US10123456B2, WO2020123456A1.
_PUBLICATION = re.compile(r"^[A-Z]{2}\d{5,12}[A-Z]\d?$")


def normalize_patent(number: str) -> str:
    return re.sub(r"\s+", "", number).upper()


def patent_problem(number: str) -> str | None:
    """Why `number` is not a well-formed patent number, or None when it is."""
    match = _APPLICATION.match(number)
    if match:
        digits, check = match.groups()
        weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
        # An 8-digit (pre-2004) number uses the first eight weights.
        remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11
        expected = "X" if remainder == 10 else str(remainder)
        if check != expected:
            return f"patent number {number!r}: check digit is {check!r}, expected {expected!r}"
        return None
    if _PUBLICATION.match(number):
        return None
    return (
        f"patent number {number!r} is neither an application number like "
        "ZL201710601862.3 nor a publication number like CN112345678A"
    )
