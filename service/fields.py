"""The facts extracted from a report: the keys of spec/fields.md and all the product knows of each.

The field registry: declared once (`FIELDS`) for every part of the product — the
rules extractor (scope, department-wide), the LLM prompts (key, Chinese name, a
note where the name is not enough) and planner (which fields a text seems to
state: a hint's label words next to a number), the checks' messages, the review
page's sections, the export headers and the confirmed table's columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSpec:
    """One fact of a report, and everything the product needs to know of it.

    Every list of fields elsewhere (the review page's groups, the LLM's field list and hints, the rules
    extractor's scopes, the check messages, the export headers, the confirmed table's columns) is derived
    from `FIELDS`; adding a field is one entry here plus the migration adding its column to
    `confirmed_reports` (service/store/migrations.py). tests/test_field_registry.py holds them together.
    """

    key: str
    zh: str
    kind: str  # "text", "year", "date", "int", "money", "percent", "score"
    group: str  # the review page's section, one of GROUPS
    hints: tuple[str, ...] = ()  # the HINT_WORDS whose label words next to a number suggest the text states it
    scope: str | None = None  # "budget" or "actual": which kind of figure the rules extractor looks for
    whole_department: bool = False  # a department-wide figure: a project's or a part's number is not it
    note: str | None = None  # told to the model, only where the Chinese name is not enough
    short: str | None = None  # the name in a consistency check's message, where shorter than `zh`
    identity: bool = False  # names the report (unit, year, date): asked of the cover page too

    @property
    def label(self) -> str:
        return self.short or self.zh


# The review page's sections, in the order of spec/fields.md.
GROUPS = ("基本信息", "人员与车辆", "预算与执行", "收入", "支出", "“三公”经费", "采购与资产")

_GAP = r"[^。；\n]{0,12}?"
_AMOUNT = rf"{_GAP}\d[\d.,]*\s*(?:万元|万|亿元|元|%|％|分)"  # a label, then an amount (or a rate) within a few words
_COUNT = rf"{_GAP}\d+\s*(?:人|名|辆)"
# hint -> the review section whose fields it mostly suggests, and the words that, next to a number, suggest
# a text states the fields carrying that hint
HINT_WORDS: dict[str, tuple[str, re.Pattern]] = {
    "budget": ("预算与执行", re.compile(rf"(?:预算|执行数|执行率|决算){_AMOUNT}")),
    "income": ("收入", re.compile(rf"(?:收入|拨款|基金|其他资金){_AMOUNT}")),
    "expense": ("支出", re.compile(rf"(?:支出|经费){_AMOUNT}")),
    "sangong": ("“三公”经费", re.compile(rf"(?:三公|公务接待|公务用车|出国|公车)(?:{_AMOUNT}|{_COUNT})|无公务用车")),
    "procurement": ("采购与资产", re.compile(rf"采购{_AMOUNT}")),
    "assets": ("采购与资产", re.compile(rf"(?:资产|负债){_AMOUNT}")),
    "staff": ("人员与车辆", re.compile(rf"(?:编制|在职|退休|实有人|在编){_COUNT}")),
    "score": ("基本信息", re.compile(rf"(?:得分|评分|总分){_GAP}\d|(?:等级|结论|评价结果)[^。\n]{{0,8}}[优良中差]")),
}

_BASIC, _STAFF, _BUDGET, _INCOME, _EXPENSE, _SANGONG, _ASSETS = GROUPS
FIELDS: list[FieldSpec] = [
    FieldSpec("unit_name", "部门（单位）名称", "text", _BASIC, identity=True,
              note="报告给出的最完整名称；项目自评表写实施单位（没有则写主管部门/预算部门）"),
    FieldSpec("fiscal_year", "评价年度", "year", _BASIC, identity=True, note="被评价的年度，如 2023，不是报告写作年份"),
    FieldSpec("report_date", "报告日期", "date", _BASIC, identity=True, note="报告落款日期（或填报日期），写成 YYYY-MM-DD"),
    FieldSpec("self_score", "自评得分", "score", _BASIC, ("score",), whole_department=True,
              note="部门整体的自评总分；项目的得分不是部门的总分"),
    FieldSpec("rating", "评价等级", "text", _BASIC, ("score",)),
    FieldSpec("staff_authorized", "编制数", "int", _STAFF, ("staff",)),
    FieldSpec("staff_actual", "实有在职人数", "int", _STAFF, ("staff",), note="年末在职人数，不含离退休"),
    FieldSpec("retirees", "离退休人数", "int", _STAFF, ("staff",)),
    FieldSpec("vehicles", "公务用车数量", "int", _STAFF, ("sangong",), note="车辆数（辆），不是金额；“无公务用车”为 0"),
    FieldSpec("budget_initial", "年初预算数", "money", _BUDGET, ("budget",), "budget", True),
    FieldSpec("budget_full_year", "全年预算数", "money", _BUDGET, ("budget",), "budget", True),
    FieldSpec("spending_actual", "全年执行数", "money", _BUDGET, ("budget", "expense"), "actual", True),
    FieldSpec("execution_rate", "预算执行率", "percent", _BUDGET, ("budget",), whole_department=True),
    FieldSpec("execution_weight", "预算执行率分值", "score", _BUDGET, ("budget",), note="评分表中预算执行率的分值"),
    FieldSpec("execution_score", "预算执行率得分", "score", _BUDGET, ("budget",), note="评分表中预算执行率的得分"),
    FieldSpec("income_total", "收入合计", "money", _INCOME, ("income",), "actual", True),
    FieldSpec("income_general_budget", "一般公共预算收入", "money", _INCOME, ("income",), "actual",
              short="一般公共预算"),
    FieldSpec("income_gov_fund", "政府性基金预算收入", "money", _INCOME, ("income",), "actual", short="政府性基金"),
    FieldSpec("income_other", "其他收入", "money", _INCOME, ("income",), "actual"),
    FieldSpec("expense_total", "支出合计", "money", _EXPENSE, ("expense",), "actual", True),
    FieldSpec("expense_basic", "基本支出", "money", _EXPENSE, ("expense",), "actual"),
    FieldSpec("expense_project", "项目支出", "money", _EXPENSE, ("expense",), "actual"),
    FieldSpec("expense_personnel", "人员经费", "money", _EXPENSE, ("expense",), "actual"),
    FieldSpec("expense_public", "公用经费", "money", _EXPENSE, ("expense",), "actual"),
    FieldSpec("sangong_budget", "“三公”经费预算数", "money", _SANGONG, ("sangong",), "budget"),
    FieldSpec("sangong_actual", "“三公”经费决算数", "money", _SANGONG, ("sangong",), "actual", short="“三公”经费"),
    FieldSpec("sangong_overseas_actual", "因公出国（境）费", "money", _SANGONG, ("sangong",), "actual"),
    FieldSpec("sangong_vehicle_actual", "公务用车购置及运行维护费", "money", _SANGONG, ("sangong",), "actual",
              short="公务用车费"),
    FieldSpec("sangong_reception_actual", "公务接待费", "money", _SANGONG, ("sangong",), "actual"),
    FieldSpec("procurement_actual", "政府采购金额", "money", _ASSETS, ("procurement",), "actual"),
    FieldSpec("assets_total", "资产总额", "money", _ASSETS, ("assets",)),
    FieldSpec("liabilities_total", "负债总额", "money", _ASSETS, ("assets",)),
    FieldSpec("net_assets", "净资产", "money", _ASSETS, ("assets",)),
]

BY_KEY = {f.key: f for f in FIELDS}

# What a value of each kind can be at all (money in 万元: a county department's budget is far below 10^8
# 万元, a trillion yuan); a value outside is refused from a reviewer and flagged in a record.
BOUNDS: dict[str, tuple[float, float]] = {"money": (0, 1e8), "percent": (0, 1000), "score": (0, 100),
                                          "int": (0, 1_000_000), "year": (1990, 2100)}
DATE_YEARS = (1990, 2100)


def register(spec: FieldSpec) -> None:
    """Add a field to the registry (the product declares its fields above; tests add one to check that
    every derived list picks it up)."""
    if spec.key in BY_KEY or spec.group not in GROUPS or any(h not in HINT_WORDS for h in spec.hints):
        raise ValueError(f"cannot register field {spec.key!r}")
    FIELDS.append(spec)
    BY_KEY[spec.key] = spec


def unregister(key: str) -> None:
    FIELDS.remove(BY_KEY.pop(key))


def field_keys() -> tuple[str, ...]:
    return tuple(f.key for f in FIELDS)


def grouped() -> list[tuple[str, list[str]]]:
    """The review page's sections and their fields, in registry order."""
    return [(g, [f.key for f in FIELDS if f.group == g]) for g in GROUPS]


def identity_keys() -> list[str]:
    return [f.key for f in FIELDS if f.identity]


def hint_table() -> list[tuple[re.Pattern, list[str]]]:
    """Each hint's words and the fields it suggests: those of its own section first, then the ones it
    shares with another section (全年执行数 under 支出, 公务用车数量 under 三公), each in registry order."""
    out = []
    for name, (home, rx) in HINT_WORDS.items():
        keys = [f for f in FIELDS if name in f.hints]
        out.append((rx, [f.key for f in keys if f.group == home] + [f.key for f in keys if f.group != home]))
    return out


def hinted_fields(text: str) -> list[str]:
    """The fields whose label words stand next to a number in `text` (table cells read as one line)."""
    flat = re.sub(r"\n\t?|\s*\|\s*", " ", text)
    out: list[str] = []
    for rx, keys in hint_table():
        if rx.search(flat):
            out += [k for k in keys if k not in out]
    return out
