"""Candidate values for the scalar fields: every place a report states a fact with a label.

A candidate is only made where a label and a number stand together (in a
sentence, in one table cell, or in a row/column of a table whose header names
the fact). Nothing is computed or guessed; the merge step decides between
candidates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from service.core import lexicon as lx
from service.core.evidence import cell_evidence, row_label
from service.core.numbers import NUMBER, as_number, cell_number, money_to_wan, squeeze, to_decimal
from service.document import Document, Table
from service.fields import BY_KEY
from service.ingest import stream_money
from service.models import Evidence, Section

_GAP = r"(?:[^\d，。；,;！？\n：:]|20\d\d\s*年度?|[：:])"
_UNIT_RX = r"万元|亿元|万|元|人|名|个|辆|台|%|％|分"


@dataclass
class Candidate:
    field: str
    value: object
    evidence: Evidence
    tier: int
    source: str  # "table" or "text"
    note: str | None = None
    issue: str | None = None  # a doubt about how it was read: sends the field to review
    year: int | None = None  # a year the sentence ties the value to (2022年基本支出…)


def _compiled():
    out = []
    for lab in lx.LABELS:
        rx = re.compile(rf"(?P<label>{lab.pattern})(?P<gap>{_GAP}{{0,8}}?)(?P<num>{NUMBER})\s*(?P<unit>{_UNIT_RX})?")
        out.append((lab, rx))
    return out


COMPILED = _compiled()


def _value(field: str, num: str, unit: str | None, default_unit: str | None):
    """The field's value from a number and its unit, or None if the unit doesn't fit the field."""
    kind = BY_KEY[field].kind
    unit = unit or default_unit
    if kind == "money":
        got = money_to_wan(num, unit) if unit in lx.MONEY_UNITS else None
        return got if got else None
    d = to_decimal(num)
    if d is None or unit not in lx.KIND_UNITS.get(kind, ()):
        return None
    if kind == "int":
        return (int(d), None) if d == d.to_integral_value() else None
    return as_number(d), None


def _clause_start(text: str, pos: int) -> int:
    m = max(text.rfind(ch, 0, pos) for ch in "。；;\n")
    return m + 1


_CHANGE = re.compile(r"较|比上|同比|增加|减少|增长|下降|降低|上涨|节约|结余|结转|超支|占|差额|变动")
_EARLIER = re.compile(r"上年|去年|上一年|上年度|同期|以前年度")


def _scope_ok(field: str, text: str, start: int, label_end: int, gap: str, section_title: str) -> bool:
    sentence = text[_clause_start(text, start):start]
    if _CHANGE.search(gap):
        return False  # 基本支出较上年增加50万元: a change, not the amount
    clause = sentence[max(sentence.rfind("，"), sentence.rfind(","), sentence.rfind("、")) + 1:]
    if _EARLIER.search(clause + text[start:label_end] + gap):
        return False  # 上年基本支出800万元: another year's amount
    scope = BY_KEY[field].scope
    if BY_KEY[field].whole_department:
        clause = sentence[sentence.rfind("，") + 1:] if "，" in sentence else sentence
        if lx.PART_WORDS.search(clause + gap) or lx.PART_WORDS.search(section_title):
            return False
        if "三公" in sentence:  # “三公”经费预算数12万元，实际支出9.85万元: still about 三公
            return False
    if scope is None:
        return True
    context = sentence + text[start:label_end] + gap
    last_budget = max((m.end() for m in lx.BUDGET_WORDS.finditer(context)), default=-1)
    last_actual = max((m.end() for m in lx.ACTUAL_WORDS.finditer(context)), default=-1)
    if scope == "actual":
        return last_budget <= last_actual
    return last_budget >= last_actual


def text_candidates(doc: Document, sections: list[Section]) -> list[Candidate]:
    """Label-number pairs in running text (outside tables)."""
    text = doc.text
    tables = [(t.start, t.end) for t in doc.tables]
    out = []
    for sec in sections:
        if sec.kind == "table":
            continue
        for lab, rx in COMPILED:
            if lab.table_only:
                continue
            for m in rx.finditer(text, sec.start, sec.end):
                if any(a <= m.start() < b for a, b in tables):
                    continue
                c = _candidate(lab, m, text, None, sec.title, "text")
                if c:
                    out.append(c)
    return out + _stated_none(doc)


def _candidate(lab, m, text, default_unit, section_title, source) -> Candidate | None:
    got = _value(lab.field, m.group("num"), m.group("unit"), default_unit)
    if got is None:
        return None
    if not _scope_ok(lab.field, text, m.start(), m.end("label"), m.group("gap"), section_title):
        return None
    value, note = got
    start, end = m.start(), m.end()
    clause = text[_clause_start(text, start):start]
    clause = clause[max(clause.rfind("，"), clause.rfind(",")) + 1:]
    years = re.findall(r"(20\d\d)\s*年", clause + m.group("gap"))
    return Candidate(lab.field, value, Evidence(text[start:end], start, end), lab.tier, source, note,
                     year=int(years[-1]) if years else None)


def _stated_none(doc: Document) -> list[Candidate]:
    """Facts stated as absent: 无公务用车 means 0 vehicles."""
    out = []
    for m in re.finditer(r"无公务用车|没有公务用车", doc.text):
        out.append(Candidate("vehicles", 0, Evidence(m.group(), m.start(), m.end()), 1, "text"))
    return out


# -- tables -----------------------------------------------------------------

def table_unit(doc: Document, table: Table) -> str | None:
    head = doc.text[max(0, table.start - 200):table.start] + "".join(
        c.text for row in table.rows[:4] for c in row)
    return "万元" if "万元" in head else ("元" if re.search(r"单位[:：]\s*元|[(（]元[)）]", head) else None)


def table_candidates(doc: Document, table: Table, section_title: str) -> list[Candidate]:
    unit = table_unit(doc, table)
    out = []
    for row in table.rows:
        for cell in row:
            for lab, rx in COMPILED:
                m = rx.match(cell.text) or rx.search(cell.text)
                if not m or not _cell_label_ok(cell.text, m):
                    continue
                m = rx.search(doc.text, cell.start + m.start(), cell.end)
                if m:
                    c = _candidate(lab, m, doc.text, unit, section_title, "table")
                    if c:
                        out.append(c)
    out += _column_candidates(doc, table, unit)
    out += _row_candidates(doc, table, unit)
    out += _label_value_rows(doc, table, unit, section_title)
    return out


_LABEL_ONLY = {lab: re.compile(rf"^(?:其中)?[:：]?\s*(?:\d{{1,2}}[、.．])?\s*(?:{lab.pattern})\s*[(（]?(?:万元|元|人|名|辆|%)?[)）]?[:：]?$")
               for lab in lx.LABELS}


def _label_value_rows(doc: Document, table: Table, unit: str | None, section_title: str) -> list[Candidate]:
    """Two-column rows `基本支出 | 856.34`: a cell that is only a label, then exactly one number."""
    out = []
    for row in table.rows:
        cells = [c for c in row if c.text.strip()]
        if len(cells) != 2 or cell_number(cells[1].text) is None:
            continue
        label = squeeze(cells[0].text)
        for lab, rx in _LABEL_ONLY.items():
            if rx.match(label) and BY_KEY[lab.field].scope != "budget":
                row_unit = "元" if re.search(r"[(（]元[)）]", label) else unit
                c = cell_value(doc, lab.field, cells[1], row_unit, label, context=[cells[0]])
                if c:  # the value's cell, its label shown lightly beside it
                    c.tier = lab.tier
                    out.append(c)
    return out


def _cell_label_ok(cell_text: str, m: re.Match) -> bool:
    """In a cell, the label must open it (after 其中：), so a long sentence cell is not mined twice."""
    head = cell_text[:m.start()]
    return not re.sub(r"[\s:：]|其中", "", head)


def header_fields(row) -> dict[int, str]:
    cols = {}
    for i, cell in enumerate(row):
        h = re.sub(r"[(（][^)）]{0,12}[)）]$", "", squeeze(cell.text))  # 全年预算数（A） -> 全年预算数
        for rx, field in lx.COLUMN_LABELS:
            if re.match(rx, h):
                cols[i] = field
                break
    return cols


def _column_candidates(doc: Document, table: Table, unit: str | None) -> list[Candidate]:
    """A header row (年初预算数 | 全年预算数 | 全年执行数 …) and the first row of numbers under it."""
    out = []
    rows = table.rows
    for r, row in enumerate(rows[:-1]):
        cols = header_fields(row)
        if not lx.HEADER_ANCHORS & set(cols.values()):
            continue
        data = next((x for x in rows[r + 1:r + 3] if any(cell_number(c.text) is not None for c in x)), None)
        if data is None:
            continue
        shift = len(data) - len(row)
        for i, field in cols.items():
            j = i + shift  # rows of unequal length: align on the right, and let a person check
            if 0 <= j < len(data):
                c = cell_value(doc, field, data[j], unit, row[i].text, context=[row_label(data, data[j]), row[i]])
                if c:
                    if shift:
                        c.issue = f"表头与数据行的单元格数不同（{len(row)} 与 {len(data)}），按右对齐读取“{squeeze(row[i].text)}”列，请核对"
                    out.append(c)
    return out


_BLOCK_ROWS = {"基本支出": "expense_basic", "项目支出": "expense_project"}


def money_block_candidates(doc: Document, table: Table) -> list[Candidate]:
    """A money block rebuilt from flattened text (`service.ingest.stream_money`): the 年度资金总额 row gives the
    budget, spending and 预算执行率 fields; 基本支出 / 项目支出 rows their 执行数 (never a 预算数); 年度资金总额's
    执行数 is the 支出合计 when those two add up to it. A row whose columns were inferred sends its values
    to review with the reason."""
    unit = table_unit(doc, table)
    out = []
    parts = {}
    for r, row in enumerate(table.rows[1:], start=1):
        label = re.sub(r"[:：\s]", "", row[0].text)
        issue = table.guessed.get(r, (None, None))[1]
        if stream_money.TOTAL_LABEL.match(label):
            for field, cell, head in zip(stream_money.COLUMNS, row[1:], table.rows[0][1:], strict=True):
                # the block's columns, in order
                c = cell_value(doc, field, cell, unit, "", context=[row[0], head]) if cell.text else None
                if c:
                    c.issue = issue
                    out.append(c)
        elif label in _BLOCK_ROWS:
            cell = row[3] if row[3].text else None  # the 执行数: a budget is not the spending
            c = cell_value(doc, _BLOCK_ROWS[label], cell, unit, "", context=[row[0], table.rows[0][3]]) if cell else None
            if c:
                c.issue = issue
                out.append(c)
                parts[label] = c.value
    spent = next((c for c in out if c.field == "spending_actual"), None)
    if spent and len(parts) == 2 and abs(sum(parts.values()) - spent.value) < 0.006:
        out.append(Candidate("expense_total", spent.value, spent.evidence, 1, "table", issue=spent.issue))
    return out


def cell_value(doc: Document, field: str, cell, unit: str | None, header: str, context=()) -> Candidate | None:
    """The field's value if `cell` holds a number of its kind; the evidence is the number in the cell, with
    the `context` cells (its row's label, its column's header) that say what it is."""
    t = unicodedata.normalize("NFKC", cell.text).strip()
    m = re.fullmatch(rf"({NUMBER})\s*({_UNIT_RX})?", t)
    if not m:
        return None
    kind = BY_KEY[field].kind
    default = {"money": unit, "int": "人", "percent": "%", "score": "分"}[kind] if kind in (
        "money", "int", "percent", "score") else None
    got = _value(field, m.group(1), m.group(2), default)
    if got is None:
        return None
    value, note = got
    return Candidate(field, value, cell_evidence(doc.text, cell, context), 1, "table", note)


def _row_candidates(doc: Document, table: Table, unit: str | None) -> list[Candidate]:
    """Rows like `三公经费: | 0 | 0 | 0` under `… | 2022年决算数 | 2023年预算数 | 2023年决算数`."""
    out = []
    header, header_cells = None, {}
    for row in table.rows:
        kinds = _period_columns(row)
        if kinds:
            header, header_cells = kinds, dict(enumerate(row))
            continue
        if header is None or not row:
            continue
        first = next((c for c in row if c.text.strip()), None)
        if first is None:
            continue
        label = squeeze(first.text)
        for field, rx in lx.ROW_LABELS.items():
            if not re.match(rx, label):
                continue
            want = "budget" if BY_KEY[field].scope == "budget" else "actual"
            cols = [i for i, (kind, _year) in header.items() if kind == want]
            if not cols:
                continue
            col = max(cols, key=lambda i: header[i][1])
            if col < len(row):
                c = cell_value(doc, field, row[col], unit, "", context=[first, header_cells.get(col)])
                if c:
                    out.append(c)
    return out


def _period_columns(row) -> dict[int, tuple[str, int]]:
    """Header cells like `2023 年决算数` -> {col: ("actual", 2023)}; needs two or more."""
    cols = {}
    for i, cell in enumerate(row):
        h = squeeze(cell.text)
        m = re.match(r"^(\d{4})年度?(决算|预算)数?$", h)
        if m:
            cols[i] = ("actual" if m.group(2) == "决算" else "budget", int(m.group(1)))
    return cols if len(cols) >= 2 else {}
