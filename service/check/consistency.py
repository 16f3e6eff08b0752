"""Consistency checks: pure functions of extracted values, each returning (field, issue) pairs.

The rules of spec/fields.md that compare fields (sums, execution rate, the
report date), plausibility bounds, and the score-table rules. A broken rule
sends every field involved to review with the numbers in the reason; it never
changes a value.
"""

from __future__ import annotations

import datetime as dt
import math

from service.fields import BOUNDS, BY_KEY, DATE_YEARS
from service.models import FieldValue


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


# spec/fields.md: parts that must add up to a total (total, parts, the rule as a reviewer reads it)
SUMS = [
    ("expense_total", ("expense_basic", "expense_project"), "基本支出 + 项目支出 = 支出合计"),
    ("expense_basic", ("expense_personnel", "expense_public"), "人员经费 + 公用经费 = 基本支出"),
    ("income_total", ("income_general_budget", "income_gov_fund", "income_other"),
     "一般公共预算 + 政府性基金 + 其他收入 = 收入合计"),
    ("sangong_actual", ("sangong_overseas_actual", "sangong_vehicle_actual", "sangong_reception_actual"),
     "因公出国（境）费 + 公务用车费 + 公务接待费 = “三公”经费"),
]


def _num(fields: dict[str, FieldValue], key: str):
    fv = fields.get(key)
    v = fv.value if fv is not None else None
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _decimals(v) -> int:
    text = repr(float(v)).rstrip("0").rstrip(".")
    return len(text.split(".")[1]) if "." in text else 0


def _tolerance(*values) -> float:
    """One unit in the last printed digit of the least precise value: rounding is not a contradiction."""
    return 10.0 ** -min(_decimals(v) for v in values) + 1e-9


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def sums_add_up(fields: dict[str, FieldValue]) -> list[tuple[str, str]]:
    """The sum rules of spec/fields.md, checked where the total and every part were read."""
    out = []
    for total, parts, rule in SUMS:
        t, ps = _num(fields, total), [_num(fields, p) for p in parts]
        if t is None or any(p is None for p in ps):
            continue
        if abs(sum(ps) - t) > _tolerance(t, *ps):
            reason = (" + ".join(f"{BY_KEY[k].label} {_fmt(v)}" for k, v in zip(parts, ps, strict=True))
                      + f" = {_fmt(round(sum(ps), 6))} ≠ {BY_KEY[total].label} {_fmt(t)}（{rule}）")
            out += [(k, reason) for k in (total, *parts)]
    a, li, n = (_num(fields, k) for k in ("assets_total", "liabilities_total", "net_assets"))
    if None not in (a, li, n) and abs(a - li - n) > _tolerance(a, li, n):
        reason = f"资产总额 {_fmt(a)} − 负债总额 {_fmt(li)} = {_fmt(round(a - li, 6))} ≠ 净资产 {_fmt(n)}"
        out += [(k, reason) for k in ("assets_total", "liabilities_total", "net_assets")]
    return out


def execution_rate_fits(fields: dict[str, FieldValue]) -> list[tuple[str, str]]:
    """spending_actual / budget_full_year ≈ execution_rate / 100 (to the rate's printed precision)."""
    spent, budget, rate = (_num(fields, k) for k in ("spending_actual", "budget_full_year", "execution_rate"))
    if None in (spent, budget, rate) or not budget:
        return []
    computed = spent / budget * 100
    if abs(computed - rate) > max(0.5, _tolerance(rate)):
        reason = (f"全年执行数 {_fmt(spent)} ÷ 全年预算数 {_fmt(budget)} = {computed:.2f}%，"
                  f"与预算执行率 {_fmt(rate)}% 不符")
        out = [(k, reason) for k in ("spending_actual", "budget_full_year", "execution_rate")]
        if "execution_score" in fields:  # the rate's score rests on the rate the amounts contradict
            out.append(("execution_score", reason + "，预算执行率得分据此计算，请一并核对"))
        return out
    return []


def plausible(fields: dict[str, FieldValue]) -> list[tuple[str, str]]:
    """Values no report can state: negative money, a score above 100, an impossible year or headcount."""
    out = []
    this_year = dt.date.today().year
    for key in fields:
        v = _num(fields, key)
        kind = BY_KEY[key].kind if key in BY_KEY else None
        if v is None or kind is None:
            continue
        if not math.isfinite(v):
            out.append((key, f"数值 {v} 不是有限的数"))
        elif kind == "money" and v < 0:
            out.append((key, f"金额 {_fmt(v)} 为负数"))
        elif kind == "money" and v > BOUNDS["money"][1]:
            out.append((key, f"金额 {_fmt(v)} 万元超出合理范围"))
        elif kind == "score" and not 0 <= v <= 100:
            out.append((key, f"{'自评得分' if key == 'self_score' else '分值/得分'} {_fmt(v)} 不在 0–100 之间"))
        elif kind == "percent" and not 0 <= v <= 300:
            out.append((key, f"比例 {_fmt(v)}% 不合常理"))
        elif kind == "year" and not 2000 <= v <= this_year:
            out.append((key, f"评价年度 {_fmt(v)} 不合常理"))
        elif kind == "int" and not 0 <= v <= 100000:
            out.append((key, f"人数/数量 {_fmt(v)} 不合常理"))
    return out


def valid_dates(fields: dict[str, FieldValue]) -> list[tuple[str, str]]:
    """A date field is a day of the calendar (not 2024-02-31), in a plausible year."""
    out = []
    for key, fv in fields.items():
        if BY_KEY.get(key) is None or BY_KEY[key].kind != "date" or not isinstance(fv.value, str):
            continue
        try:
            day = dt.date.fromisoformat(fv.value)
        except ValueError:
            out.append((key, f"日期 {fv.value} 不存在或格式不对（应为 YYYY-MM-DD）"))
            continue
        if not DATE_YEARS[0] <= day.year <= DATE_YEARS[1]:
            out.append((key, f"日期 {fv.value} 的年份不合常理"))
    return out


FIELD_CHECKS = [report_date_after_year, sums_add_up, execution_rate_fits, plausible, valid_dates]


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


def table_adds_up(weights: list, scores: list, execution_weight, execution_score, stated_total) -> bool:
    """The positive form of `table_sums`: every row has both numbers, the weights (with 预算执行率's) make 100,
    and the scores the stated total."""
    if not weights or None in weights or None in scores or stated_total is None:
        return False
    return not table_sums(weights, scores, execution_weight, execution_score, stated_total)
