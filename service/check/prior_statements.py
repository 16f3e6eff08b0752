"""A statement of last year's figure of a field, as the finders (`prior_text`, `prior_tables`) return it.

What a reviewer needs to judge it: the field, the year it is for, the value in 万元 with the decimals it was
stated to (the rounding a comparison must allow), where it stands in the report's text, and whether the
report states it or it only follows from what the report states (`computed`, 由增减额推算).
"""

from __future__ import annotations

from dataclasses import dataclass

from service.core.numbers import money_to_wan, to_decimal

COMPUTED_NOTE = "由增减额推算"

Span = tuple[int, int]


@dataclass(frozen=True)
class PriorStatement:
    """A figure of `key` for `year` the report states (or, `computed`, that follows from what it states)."""

    key: str
    year: int
    value: float  # 万元
    digits: int  # decimals of the value as stated, in 万元
    quote: str  # text[start:end]
    start: int  # the statement: from its label or marker to the end of its amount (a table's cell)
    end: int
    value_start: int  # the amount's own characters
    value_end: int
    computed: bool = False
    note: str | None = None  # 由元换算为万元; 由增减额推算（本年 …，增加 …）
    context: tuple[Span, ...] = ()  # spans shown lightly: a table value's row label and column header


def money_in_wan(num: str, unit: str) -> tuple[float, int, str | None] | None:
    """An amount as written (「117.898674」「万元」, 「1178986.74」「元」) in 万元, the decimals it has in 万元, and
    the conversion's note; None when the unit is not money."""
    got, d = money_to_wan(num, unit), to_decimal(num)
    if got is None or d is None:
        return None
    places = max(0, -int(d.as_tuple().exponent)) + {"元": 4, "亿元": -4}.get(unit, 0)
    return float(got[0]), max(places, 0), got[1]
