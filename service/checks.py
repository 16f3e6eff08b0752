"""Consistency checks: pure functions of extracted values, each returning (field, issue) pairs.

Only what the foundation needs lives here for now; the full rule set of
spec/fields.md comes with the checks issue.
"""

from __future__ import annotations

import datetime as dt

from .models import FieldValue


def report_date_after_year(fields: dict[str, FieldValue]) -> list[tuple[str, str]]:
    """A report dated before its fiscal year ended is suspicious (spec: fiscal_year < year of report_date)."""
    date, year = fields.get("report_date"), fields.get("fiscal_year")
    if not date or not year or date.value is None or year.value is None:
        return []
    try:
        when = dt.date.fromisoformat(str(date.value))
    except ValueError:
        return [("report_date", f"报告日期“{date.value}”不是有效日期")]
    if when.year <= int(year.value):
        return [("report_date", f"报告日期 {when.isoformat()} 早于评价年度 {year.value} 年结束，请核对")]
    return []


FIELD_CHECKS = [report_date_after_year]
