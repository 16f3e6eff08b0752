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


def indicator_score_in_range(weight, score) -> str | None:
    """Every indicator: 0 ≤ score ≤ weight."""
    if weight is None or score is None:
        return None
    if score < 0 or score > weight:
        return f"得分 {score} 不在 0 到分值 {weight} 之间"
    return None


def table_sums(weights: list, scores: list, execution_weight, execution_score, stated_total) -> list[str]:
    """Per score table: execution weight + Σ weights = 100, and execution score + Σ scores = the stated total."""
    issues = []
    if weights and all(w is not None for w in weights):
        total_weight = sum(weights) + (execution_weight or 0)
        if abs(total_weight - 100) > 1e-6:
            issues.append(f"分值合计为 {total_weight:g}（含预算执行率 {execution_weight or 0:g}），不等于 100")
    if stated_total is not None and scores and all(s is not None for s in scores):
        total_score = sum(scores) + (execution_score or 0)
        if abs(total_score - stated_total) > 1e-6:
            issues.append(f"各项得分合计为 {total_score:g}（含预算执行率得分 {execution_score or 0:g}），"
                          f"与表中总分 {stated_total:g} 不一致")
    return issues
