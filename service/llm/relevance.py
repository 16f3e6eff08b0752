"""Which sections can hold which facts: a cheap filter so only relevant text is sent to the model.

A section is sent with the facts prompt only for the field groups whose
words stand next to a number in it (a 工作成绩 narrative without budget
figures is not sent at all). Small relevant sections are grouped into one
call, so the instructions are not repeated for every heading. Score tables go
to the table prompt; all 问题/措施 sections go together to the lists prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..document import Document
from ..extract.lists import MEASURE_TITLE, PROBLEM_TITLE
from ..extract.score_tables import find_header, table_subject
from ..models import Section

_GAP = r"[^。；\n]{0,12}?"
_MONEY = rf"{_GAP}\d[\d.,]*\s*(?:万元|万|亿元|元|%|％|分)"  # a label, then an amount (or a rate) within a few words
_PEOPLE = rf"{_GAP}\d+\s*(?:人|名|辆)"
GROUPS: list[tuple[re.Pattern, list[str]]] = [
    (re.compile(rf"(?:预算|执行数|执行率|决算){_MONEY}"),
     ["budget_initial", "budget_full_year", "spending_actual", "execution_rate"]),
    (re.compile(rf"(?:收入|拨款|基金|其他资金){_MONEY}"),
     ["income_total", "income_general_budget", "income_gov_fund", "income_other"]),
    (re.compile(rf"(?:支出|经费){_MONEY}"),
     ["expense_total", "expense_basic", "expense_project", "expense_personnel", "expense_public", "spending_actual"]),
    (re.compile(rf"(?:三公|公务接待|公务用车|出国|公车)(?:{_MONEY}|{_PEOPLE})|无公务用车"),
     ["sangong_budget", "sangong_actual", "sangong_overseas_actual", "sangong_vehicle_actual",
      "sangong_reception_actual", "vehicles"]),
    (re.compile(rf"采购{_MONEY}"), ["procurement_actual"]),
    (re.compile(rf"(?:资产|负债){_MONEY}"), ["assets_total", "liabilities_total", "net_assets"]),
    (re.compile(rf"(?:编制|在职|退休|实有人|在编){_PEOPLE}"), ["staff_authorized", "staff_actual", "retirees"]),
    (re.compile(rf"(?:得分|评分|总分){_GAP}\d|(?:等级|结论|评价结果)[^。\n]{{0,8}}[优良中差]"), ["self_score", "rating"]),
]
IDENTITY = ["unit_name", "fiscal_year", "report_date"]
TABLE_MONEY = ["budget_initial", "budget_full_year", "spending_actual", "execution_rate", "execution_weight",
               "execution_score", "income_total", "income_general_budget", "income_gov_fund", "income_other",
               "expense_total", "expense_basic", "expense_project", "unit_name"]
MAX_GROUP_CHARS = 4000


@dataclass
class Call:
    """One request: a prompt, the spans of text it is given (in order), and the fields it may return."""

    prompt: str  # "facts", "score_table", "lists"
    spans: list[tuple[int, int]] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return " / ".join(self.titles)

    def text(self, doc: Document) -> str:
        return "\n".join(doc.text[s:e].strip("\n") for s, e in self.spans)

    def add(self, start: int, end: int, title: str) -> None:
        self.spans.append((start, end))
        self.titles.append(title)


def plan(doc: Document, sections: list[Section]) -> list[Call]:
    calls: list[Call] = []
    group: Call | None = None
    lists = Call("lists", [])
    for i, sec in enumerate(sections):
        text = doc.text[sec.start:sec.end]
        if sec.kind == "table":
            for call in _table_calls(doc, sec):
                if call.prompt == "facts" and group is not None and \
                        sum(e - s for s, e in group.spans) + sum(e - s for s, e in call.spans) <= MAX_GROUP_CHARS:
                    for (s, e), t in zip(call.spans, call.titles, strict=True):
                        group.add(s, e, t)
                    group.fields += [f for f in call.fields if f not in group.fields]
                else:
                    calls.append(call)
                    group = call if call.prompt == "facts" else group
            continue
        if (PROBLEM_TITLE.search(sec.title) or MEASURE_TITLE.search(sec.title)) and len(text) > len(sec.title) + 2:
            lists.add(sec.start, sec.end, sec.title)
        fields = fields_for(text)
        if i == 0 or (i == len(sections) - 1 and len(text) < 400):
            fields = IDENTITY + [f for f in fields if f not in IDENTITY]
        if not fields:
            continue
        size = sum(e - s for s, e in group.spans) if group else 0
        if group is None or size + len(text) > MAX_GROUP_CHARS:
            group = Call("facts")
            calls.append(group)
        group.add(sec.start, sec.end, sec.title)
        group.fields += [f for f in fields if f not in group.fields]
    if lists.spans:
        calls.append(lists)
    _add_year_sentence(doc, sections, calls)
    return _one_table_call(calls)


_YEAR = re.compile(r"20\d\d\s*年度")


def _add_year_sentence(doc: Document, sections: list[Section], calls: list[Call]) -> None:
    """When no call's text states the year evaluated (20XX年度), send the first sentence that does."""
    facts = [c for c in calls if c.prompt == "facts"]
    if not facts or any(_YEAR.search(c.text(doc)) for c in facts):
        return
    for m in _YEAR.finditer(doc.text):
        if doc.table_at(m.start()):
            continue
        start = max(doc.text.rfind(ch, 0, m.start()) for ch in "。\n") + 1
        ends = [i for i in (doc.text.find(ch, m.end()) for ch in "。\n") if i >= 0]
        end = min(ends) + 1 if ends else len(doc.text)
        title = next((s.title for s in sections if s.start <= start < s.end), "")
        facts[0].add(start, end, title)
        if "fiscal_year" not in facts[0].fields:
            facts[0].fields.insert(0, "fiscal_year")
        return


def _one_table_call(calls: list[Call]) -> list[Call]:
    """All of a report's score tables in one call: the instructions and schema are sent once."""
    tables = [c for c in calls if c.prompt == "score_table"]
    if len(tables) < 2:
        return calls
    for other in tables[1:]:
        for (s, e), t in zip(other.spans, other.titles, strict=True):
            tables[0].add(s, e, t)
    return [c for c in calls if c.prompt != "score_table" or c is tables[0]]


def fields_for(text: str, table: bool = False) -> list[str]:
    """Field groups whose words stand next to a number (in a table, possibly in the next cell)."""
    if table:
        text = re.sub(r"\n\t?", " ", text)
    out: list[str] = []
    for rx, fields in GROUPS:
        if rx.search(text):
            out += [f for f in fields if f not in out]
    return out


def _table_calls(doc: Document, sec: Section) -> list[Call]:
    """A score table goes to the table prompt; the department's money block above its header to the facts prompt."""
    tables = [t for t in doc.tables if sec.start <= t.start < sec.end]
    scored = [(t, find_header(t)) for t in tables]
    scored = [(t, h) for t, h in scored if h]
    if not scored:
        call = Call("facts", fields=fields_for(doc.text[sec.start:sec.end], table=True))
        call.add(sec.start, sec.end, sec.title)
        return [call] if call.fields else []
    table, (header_row, _cols) = scored[0]
    head = table.rows[_first_header_row(table, header_row)]
    department = table_subject(table, sec.title, doc.text) == "整体"
    # a project's table goes whole (its name and money sit above the header); the department's money
    # block goes to the facts prompt instead
    split = doc.text.rfind("\n", sec.start, head[0].start) + 1 if department else sec.start
    rows = Call("score_table")
    rows.add(split, sec.end, sec.title)
    calls = [rows]
    money = doc.text[sec.start:split]
    if department and re.search(r"\d", money):
        facts = Call("facts", fields=list(dict.fromkeys(TABLE_MONEY + fields_for(money, table=True))))
        facts.add(sec.start, split, sec.title)
        calls.append(facts)
    return calls


def _first_header_row(table, header_row: int) -> int:
    """A two-row header starts one row earlier (its group row)."""
    if header_row > 0 and any("分值" in c.text or "打分" in c.text or "得分" in c.text
                              for c in table.rows[header_row - 1]):
        return header_row - 1
    return header_row
