"""The facts extracted from a report: the keys of spec/fields.md, their Chinese names, types and hints.

Declared once for every engine: the rules extractor, the LLM prompts (key,
Chinese name, a note where the name is not enough) and the LLM planner's hints
(which fields a text seems to state: a label word next to a number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSpec:
    key: str
    zh: str
    kind: str  # "text", "year", "date", "int", "money", "percent", "score"


FIELDS: list[FieldSpec] = [
    FieldSpec("unit_name", "部门（单位）名称", "text"),
    FieldSpec("fiscal_year", "评价年度", "year"),
    FieldSpec("report_date", "报告日期", "date"),
    FieldSpec("self_score", "自评得分", "score"),
    FieldSpec("rating", "评价等级", "text"),
    FieldSpec("staff_authorized", "编制数", "int"),
    FieldSpec("staff_actual", "实有在职人数", "int"),
    FieldSpec("retirees", "离退休人数", "int"),
    FieldSpec("vehicles", "公务用车数量", "int"),
    FieldSpec("budget_initial", "年初预算数", "money"),
    FieldSpec("budget_full_year", "全年预算数", "money"),
    FieldSpec("spending_actual", "全年执行数", "money"),
    FieldSpec("execution_rate", "预算执行率", "percent"),
    FieldSpec("execution_weight", "预算执行率分值", "score"),
    FieldSpec("execution_score", "预算执行率得分", "score"),
    FieldSpec("income_total", "收入合计", "money"),
    FieldSpec("income_general_budget", "一般公共预算收入", "money"),
    FieldSpec("income_gov_fund", "政府性基金预算收入", "money"),
    FieldSpec("income_other", "其他收入", "money"),
    FieldSpec("expense_total", "支出合计", "money"),
    FieldSpec("expense_basic", "基本支出", "money"),
    FieldSpec("expense_project", "项目支出", "money"),
    FieldSpec("expense_personnel", "人员经费", "money"),
    FieldSpec("expense_public", "公用经费", "money"),
    FieldSpec("sangong_budget", "“三公”经费预算数", "money"),
    FieldSpec("sangong_actual", "“三公”经费决算数", "money"),
    FieldSpec("sangong_overseas_actual", "因公出国（境）费", "money"),
    FieldSpec("sangong_vehicle_actual", "公务用车购置及运行维护费", "money"),
    FieldSpec("sangong_reception_actual", "公务接待费", "money"),
    FieldSpec("procurement_actual", "政府采购金额", "money"),
    FieldSpec("assets_total", "资产总额", "money"),
    FieldSpec("liabilities_total", "负债总额", "money"),
    FieldSpec("net_assets", "净资产", "money"),
]

BY_KEY = {f.key: f for f in FIELDS}

# What a value of each kind can be at all (money in 万元: a county department's budget is far below 10^8
# 万元, a trillion yuan); a value outside is refused from a reviewer and flagged in a record.
BOUNDS: dict[str, tuple[float, float]] = {"money": (0, 1e8), "percent": (0, 1000), "score": (0, 100),
                                          "int": (0, 1_000_000), "year": (1990, 2100)}
DATE_YEARS = (1990, 2100)

# Only where the Chinese name is not enough; units and numbers are covered by the prompts' rules.
NOTES = {
    "fiscal_year": "被评价的年度，如 2023，不是报告写作年份",
    "report_date": "报告落款日期（或填报日期），写成 YYYY-MM-DD",
    "unit_name": "报告给出的最完整名称；项目自评表写实施单位（没有则写主管部门/预算部门）",
    "self_score": "部门整体的自评总分；项目的得分不是部门的总分",
    "staff_actual": "年末在职人数，不含离退休",
    "vehicles": "车辆数（辆），不是金额；“无公务用车”为 0",
    "execution_weight": "评分表中预算执行率的分值",
    "execution_score": "评分表中预算执行率的得分",
}

_GAP = r"[^。；\n]{0,12}?"
_AMOUNT = rf"{_GAP}\d[\d.,]*\s*(?:万元|万|亿元|元|%|％|分)"  # a label, then an amount (or a rate) within a few words
_COUNT = rf"{_GAP}\d+\s*(?:人|名|辆)"
HINTS: list[tuple[re.Pattern, list[str]]] = [
    (re.compile(rf"(?:预算|执行数|执行率|决算){_AMOUNT}"),
     ["budget_initial", "budget_full_year", "spending_actual", "execution_rate", "execution_weight",
      "execution_score"]),
    (re.compile(rf"(?:收入|拨款|基金|其他资金){_AMOUNT}"),
     ["income_total", "income_general_budget", "income_gov_fund", "income_other"]),
    (re.compile(rf"(?:支出|经费){_AMOUNT}"),
     ["expense_total", "expense_basic", "expense_project", "expense_personnel", "expense_public", "spending_actual"]),
    (re.compile(rf"(?:三公|公务接待|公务用车|出国|公车)(?:{_AMOUNT}|{_COUNT})|无公务用车"),
     ["sangong_budget", "sangong_actual", "sangong_overseas_actual", "sangong_vehicle_actual",
      "sangong_reception_actual", "vehicles"]),
    (re.compile(rf"采购{_AMOUNT}"), ["procurement_actual"]),
    (re.compile(rf"(?:资产|负债){_AMOUNT}"), ["assets_total", "liabilities_total", "net_assets"]),
    (re.compile(rf"(?:编制|在职|退休|实有人|在编){_COUNT}"), ["staff_authorized", "staff_actual", "retirees"]),
    (re.compile(rf"(?:得分|评分|总分){_GAP}\d|(?:等级|结论|评价结果)[^。\n]{{0,8}}[优良中差]"), ["self_score", "rating"]),
]
IDENTITY = ["unit_name", "fiscal_year", "report_date"]


def hinted_fields(text: str) -> list[str]:
    """The fields whose label words stand next to a number in `text` (table cells read as one line)."""
    flat = re.sub(r"\n\t?|\s*\|\s*", " ", text)
    out: list[str] = []
    for rx, keys in HINTS:
        if rx.search(flat):
            out += [k for k in keys if k not in out]
    return out
