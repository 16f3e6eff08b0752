"""Last year's figures a report states in running text: 「公用经费2023年决算253.25万元，2022年117.90万元」.

Reports often give the previous year's figure of a field beside this year's (「上年决算数为…」, 「上年“三公”经费
支出…」, 「较上年的…万元减少…」). Each such statement can be held against the unit's confirmed record of that year
(`service.check.prior_year`). This module only finds them: a pure function of the text and the report's
fiscal year, no SQL.

Conservative by design — a statement is kept only when its field, its year and its amount are tied together
by the sentence's own shape, with nothing between them that could be the subject instead:

- the marker before the label: 「上年（度）/去年/2022年 + 公用经费 + 支出/决算数/为 + 金额」;
- the marker after the label: 「公用经费 + 上年/2022年 + 决算数/为 + 金额」;
- this year's figure, then last year's: 「公用经费 + 2023年决算 + 金额 + ，+（比/较）上年/2022年 + 金额」;
- this year's figure and the change in money: 「公用经费253.25万元，比上年增加135.35万元」 gives last year as
  253.25 − 135.35, marked `computed` and labelled 由增减额推算 — never presented as stated.

Left out: a change in percent, a 上年 followed by anything but the figure (上年结转资金, 上年结余), a year that is
a date (2022年12月, 2022年以来), a label that may be a part (财政拨款基本支出), amounts in anything but money, and
any field but the money ones below. Tables with a 上年数 column are read by `service.check.prior_tables`.
"""

from __future__ import annotations

import re
from decimal import Decimal

from service.check.prior_statements import COMPUTED_NOTE, PriorStatement, money_in_wan
from service.core.lexicon import PART_WORDS, SANGONG
from service.core.numbers import NUMBER
from service.fields import BY_KEY

# field -> its label in running text (longest alternatives first); the fields whose previous-year figure is
# read. Labels that are often a part (实际支出 of a project, 公务用车运行维护费 without 购置) are left out.
PRIOR_LABELS: dict[str, str] = {
    "sangong_budget": rf"{SANGONG}(?:的)?预算数?",
    "sangong_actual": rf"{SANGONG}(?:决算数|决算|支出合计|支出|合计)?",
    "sangong_overseas_actual": r"因公出国\s*[(（]\s*境\s*[)）]\s*费用?",
    "sangong_vehicle_actual": r"公务用车购置(?:及|和)运行(?:维护)?费用?",
    "sangong_reception_actual": r"公务接待费用?",
    "budget_initial": r"年初预算数?",
    "budget_full_year": r"全年预算数?|调整后(?:的)?预算数?",
    "spending_actual": r"全年执行数|支出决算数?|决算支出",
    "income_total": r"(?<![款金算他])(?:收入合计|收入总计|收入总额|总收入)",
    "income_general_budget": r"一般公共预算(?:财政)?拨款收入|一般公共预算收入",
    "income_gov_fund": r"政府性基金(?:预算)?(?:财政)?(?:拨款)?收入",
    "expense_total": r"(?<![款金算目本])(?:支出合计|支出总计|支出总额|总支出)",
    "expense_basic": r"(?<![款金算])基本支出",
    "expense_project": r"(?<![款金算])项目支出",
    "expense_personnel": r"(?<![款金算])人员经费(?:支出)?",
    "expense_public": r"(?<![款金算])公用经费(?:支出)?",
    "procurement_actual": r"政府采购(?:支出|金额|总额)",
    "assets_total": r"(?<![净动定])资产总(?:额|计)",
    "liabilities_total": r"负债总(?:额|计)",
    "net_assets": r"(?<!和)净资产(?:总额)?",
}
_LABEL = "|".join(f"(?P<{key}>{rx})" for key, rx in PRIOR_LABELS.items())
_AMOUNT = rf"(?P<NAME>{NUMBER})\s*(?P<NAME_unit>亿元|万元|元|万)(?![人亩户株册余多])"
# the words between a label (or a marker) and its amount: what kind of figure it is, and a verb
_FIGURE = r"(?:决算数|决算|支出数|实际|支出|合计|总额|金额|同期|数|为|是|共计|达到|达|的|：|:|\s){0,6}"
_FILLER = r"(?:[，,]|同期|全年|本单位|我单位|单位|本部门|部门|我镇|我乡|本级|的){0,4}"
_SEP = r"[，,、（(]?\s*"  # 「…万元，上年…」「…万元（上年…）」
# after a year, what makes it a date or a period rather than the year a figure is for
_NOT_A_DATE = r"(?!\s*\d{1,2}\s*月|[月份初以至到起—\-~－])"
_BEFORE, _AFTER = 100, 60  # how far before and after a 上年 / 2022年 / 同比 a statement about it may reach


def _markers(year: int) -> str:
    """Words that mean the year before `year`: 上年, 上年度, 去年, 上一年度, 2022年(度), and its end (上年末)."""
    return rf"(?:上一?年度?|去年|{year - 1}\s*年度?)(?:末|底)?{_NOT_A_DATE}"


def _patterns(year: int) -> list[tuple[str, re.Pattern]]:
    prior, this = _markers(year), rf"(?:本年度?|今年|{year}\s*年度?){_NOT_A_DATE}"
    now, was, diff = (_AMOUNT.replace("NAME", n) for n in ("now", "was", "diff"))
    label = rf"(?:{_LABEL})"
    return [
        ("marker_first", re.compile(rf"(?P<lead>{prior}){_FILLER}{label}{_FIGURE}{was}")),
        ("label_first", re.compile(rf"{label}{_FIGURE}(?:比|较)?(?P<lead>{prior}){_FIGURE}{was}")),
        ("after_this_year", re.compile(
            rf"{label}{_FIGURE}(?:{this})?{_FIGURE}{now}{_SEP}(?:比|较|与|对比)?(?P<lead>{prior}){_FIGURE}{was}")),
        ("change", re.compile(
            rf"{label}{_FIGURE}(?:{this})?{_FIGURE}{now}{_SEP}(?:同比|(?:比|较|与){prior}(?:同期)?(?:相比)?)"
            rf"[，,]?(?P<dir>增加|增长|减少|下降|多|少|节约|节省)了?{diff}")),
    ]


def text_statements(text: str, year: int) -> list[PriorStatement]:
    """The statements in running text: each pattern is tried only around the words that mean last year (a
    scan of the whole text for every label is twenty times slower)."""
    out, seen = [], set()
    near = re.compile(rf"{_markers(year)}|同比")
    for name, rx in _patterns(year):
        for marker in near.finditer(text):
            for m in _overlapping(rx, text, max(0, marker.start() - _BEFORE), marker.end() + _AFTER):
                if (name, m.start()) in seen:
                    continue
                seen.add((name, m.start()))
                made = _statement(text, name, m, year)
                if made is not None:
                    out.append(made)
    return out


def _statement(text: str, name: str, m: re.Match, year: int) -> PriorStatement | None:
    key = next(k for k in PRIOR_LABELS if m.group(k) is not None)
    if _is_a_part(text, m.start(key), key) or _mixed_scope(text[m.end(key):m.end()], key):
        return None
    return _computed(m, key, year) if name == "change" else _stated(m, key, year)


def _overlapping(rx: re.Pattern, text: str, start: int, end: int):
    """Matches of `rx` that start within text[start:end], one at each position (a statement may begin inside
    another's text: 「基本支出500万元，人员经费上年为450万元」)."""
    pos = start
    while (m := rx.search(text, pos, min(len(text), end + _AFTER))) is not None and m.start() < end:
        yield m
        pos = m.start() + 1


def _is_a_part(text: str, at: int, key: str) -> bool:
    """A whole-department figure (支出合计, 全年执行数 …) named inside a clause about a part of the spending
    or a project (「项目资金支出合计」) is that part's, not the department's."""
    if not BY_KEY[key].whole_department:
        return False
    clause = re.split(r"[，,。；;：:\n]", text[max(0, at - 12):at])[-1]
    return bool(PART_WORDS.search(clause) or "项目" in clause)


def _mixed_scope(after_label: str, key: str) -> bool:
    """A budget field's label followed by words of final accounts (「年初预算决算数」) names neither for sure."""
    return BY_KEY[key].scope == "budget" and bool(re.search(r"决算|实际|支出", after_label))


def _stated(m: re.Match, key: str, year: int) -> PriorStatement | None:
    got = money_in_wan(m.group("was"), m.group("was_unit"))
    if got is None:
        return None
    value, digits, note = got
    start, end = min(m.start("lead"), m.start(key)), m.end("was_unit")
    return PriorStatement(key, year - 1, value, digits, m.string[start:end], start, end, m.start("was"), end,
                          note=note)


def _computed(m: re.Match, key: str, year: int) -> PriorStatement | None:
    """Last year's figure from this year's and the change in money: never stated, so marked computed."""
    now, diff = money_in_wan(m.group("now"), m.group("now_unit")), money_in_wan(m.group("diff"), m.group("diff_unit"))
    if now is None or diff is None:
        return None
    sign = -1 if m.group("dir") in ("增加", "增长", "多") else 1
    was = Decimal(str(now[0])) + sign * Decimal(str(diff[0]))
    if was < 0:
        return None
    digits = min(now[1], diff[1])  # the coarser of the two
    said = f"本年 {m.group('now')}{m.group('now_unit')}，{m.group('dir')} {m.group('diff')}{m.group('diff_unit')}"
    start, end = m.start(key), m.end("diff_unit")
    return PriorStatement(key, year - 1, float(was), digits, m.string[start:end], start, end, m.start("now"), end,
                          computed=True, note=f"{COMPUTED_NOTE}（{said}）")
