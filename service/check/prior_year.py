"""Last year's figures a report states, held against last year's confirmed report of the same unit.

A 2023 report that says 「公用经费……2022年117.898674万元」 restates a figure the unit's 2022 report gave; when
the confirmed 2022 record says otherwise, one of the two reports (or one reading of them) is wrong, and a
reviewer should look. `find_prior_statements` reads the statements (running text: `prior_text`; tables with
a 上年数 column: `prior_tables`); `prior_mismatches` compares them with the records. Both pure: no SQL, no
network. A mismatch is a reason for review, never a correction: nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service.check.prior_statements import COMPUTED_NOTE, PriorStatement
from service.check.prior_tables import table_statements
from service.check.prior_text import text_statements
from service.core.names import unit_key
from service.core.numbers import is_number, same_number
from service.fields import BY_KEY

__all__ = ["COMPUTED_NOTE", "PriorMismatch", "PriorStatement", "agrees", "find_prior_statements",
           "prior_mismatches"]


@dataclass(frozen=True)
class PriorMismatch:
    """A statement of this report about last year that last year's confirmed report contradicts."""

    statement: PriorStatement
    recorded: float  # last year's confirmed value, 万元
    reason: str  # in Chinese, for the reviewer
    other: dict[str, Any]  # last year's report: document_sha256, fiscal_year, source_name, unit_name

    @property
    def label(self) -> str:
        return BY_KEY[self.statement.key].label


def find_prior_statements(text: str, fiscal_year: int | None) -> list[PriorStatement]:
    """Every statement of last year's figure of a field in `text`, in text order, each place once; none when
    the report's fiscal year is not known (上年 would be no year in particular)."""
    if fiscal_year is None:
        return []
    found = [*text_statements(text, fiscal_year), *table_statements(text, fiscal_year)]
    stated = [s for s in found if not s.computed]
    out: dict[tuple[int, int], PriorStatement] = {}
    for s in sorted(found, key=lambda s: (s.value_start, s.computed)):
        if s.computed and any(t.key == s.key and t.start < s.end and s.start < t.end for t in stated):
            continue  # the sentence states the figure too: 「较上年的750万元增加51.86万元」
        out.setdefault((s.value_start, s.value_end), s)
    return list(out.values())


def agrees(stated: float, digits: int, recorded: float) -> bool:
    """Whether a figure stated to `digits` decimals is the recorded one, rounded to those decimals: equal
    (`same_number`), or within half a unit of the statement's last decimal (117.90 against 117.898674). The
    record's own decimals are not a tolerance: a confirmed 120 may have been printed 120.00."""
    if same_number(stated, recorded):
        return True
    return abs(stated - recorded) <= 0.5 * 10 ** -digits + 1e-9


def prior_mismatches(statements: list[PriorStatement], unit_name: str | None, records: list[dict[str, Any]],
                     same_unit: Callable[[dict[str, Any]], bool] | None = None) -> list[PriorMismatch]:
    """Each statement that a current confirmed record of the same unit and of the statement's year contradicts,
    with the reason; a record without the field, or another unit's, says nothing. `same_unit`: whether a record
    is of the report's unit (the unit of the list, `service.units.same_unit`); by default by name (`unit_key`,
    as every check across reports without a list)."""
    if same_unit is None:
        unit = unit_key(unit_name)
        same_unit = lambda r: bool(unit) and unit_key(r.get("unit_name")) == unit  # noqa: E731
    mine = [r for r in records if same_unit(r)]
    out = []
    for s in statements:
        for r in mine:
            recorded = r.get(s.key)
            if r.get("fiscal_year") != s.year or not is_number(recorded) or agrees(s.value, s.digits, recorded):
                continue
            other = {k: r.get(k) for k in ("document_sha256", "fiscal_year", "source_name", "unit_name")}
            out.append(PriorMismatch(s, float(recorded), _reason(s, float(recorded)), other))
    return out


def _reason(s: PriorStatement, recorded: float) -> str:
    """「本报告称 2022 年公用经费 117.90 万元，2022 年已确认报告为 120 万元（相差 2.1 万元），请核对」; a computed
    figure says that the report does not state it and how it follows."""
    label = BY_KEY[s.key].label
    gap = _plain(abs(s.value - recorded), max(s.digits, _decimals(recorded)))
    if s.computed:
        told = (f"本报告未直接写明 {s.year} 年{label}，{COMPUTED_NOTE}为 {_stated(s)} 万元"
                f"{(s.note or '')[len(COMPUTED_NOTE):]}")
    else:
        told = f"本报告称 {s.year} 年{label} {_stated(s)} 万元" + (f"（{s.note}）" if s.note else "")
    return f"{told}，{s.year} 年已确认报告为 {_plain(recorded)} 万元（相差 {gap} 万元），请核对"


def _stated(s: PriorStatement) -> str:
    """The stated figure to the decimals it was stated to (117.90 stays 117.90); one converted from 元 without
    the trailing zeros the conversion adds."""
    text = f"{s.value:.{s.digits}f}"
    return _plain(s.value) if s.note and not s.computed else text


def _plain(x: float, places: int | None = None) -> str:
    """A number without exponent or trailing zeros (120, 117.898674), rounded to `places` when given."""
    d = Decimal(repr(float(x)))
    if places is not None:
        d = round(d, places)
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _decimals(x: float) -> int:
    """The decimals a recorded figure has (117.898674: 6; 120.0: 0)."""
    return max(0, -int(Decimal(repr(float(x))).normalize().as_tuple().exponent))
