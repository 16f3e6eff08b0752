"""Numbers as reports print them, and money brought to 万元 without losing digits."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_UNIT = r"万元|万|亿元|元|人|名|个|辆|台|%|％|分"
AMOUNT = re.compile(rf"(?P<num>{NUMBER})\s*(?P<unit>{_UNIT})?")

CJK = r"\u4e00-\u9fff"


@dataclass
class Amount:
    value: float | int
    unit: str | None
    start: int
    end: int
    note: str | None = None


def is_number(x) -> bool:
    """An int or a float, not a bool."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def same_number(a, b) -> bool:
    """Two numbers are the same value as a report states it: equal up to float rounding (the one tolerance,
    1e-12 relative, 1e-9 absolute, used by every engine and check: sums of floats agree, while two amounts
    in 万元 a cent apart do not). False when either is not a number."""
    return is_number(a) and is_number(b) and math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-9)


def same_value(a, b) -> bool:
    """Two values of a field are the same: numbers by `same_number`, anything else as the same text (None only
    as None)."""
    if a is None or b is None:
        return a is None and b is None
    if is_number(a) and is_number(b):
        return same_number(a, b)
    return str(a) == str(b)


def to_decimal(s: str) -> Decimal | None:
    s = unicodedata.normalize("NFKC", s).replace(",", "").strip()
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def as_number(d: Decimal) -> float | int:
    return int(d) if d == d.to_integral_value() and "." not in str(d) else float(d)


def money_to_wan(num: str, unit: str | None) -> tuple[float | int, str | None] | None:
    """Value in 万元 and a note when converted; None when the unit is not money."""
    d = to_decimal(num)
    if d is None:
        return None
    if unit in ("万元", "万"):
        return as_number(d), None
    if unit == "元":
        return float(d / Decimal(10000)), "由元换算为万元"
    if unit == "亿元":
        return as_number(d * Decimal(10000)), "由亿元换算为万元"
    return None


def squeeze(s) -> str:
    """Text as compared: width folded (NFKC), no whitespace at all."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(s)))


def compact(s: str | None) -> str | None:
    """Cell or phrase text without line breaks, and without spaces between CJK characters."""
    if s is None:
        return None
    s = re.sub(r"\s*\n\s*", "", s.strip())
    s = re.sub(rf"(?<=[{CJK}（）()])[ \u3000\xa0]+|[ \u3000\xa0]+(?=[{CJK}（）()])", "", s)
    return s.strip() or None


def cell_number(s: str) -> float | int | None:
    """A cell that holds one number (optionally with 分 or %), else None."""
    t = unicodedata.normalize("NFKC", s).strip()
    m = re.fullmatch(rf"({NUMBER})\s*(分|%|万元)?", t)
    if not m:
        return None
    d = to_decimal(m.group(1))
    return as_number(d) if d is not None else None
