"""Re-check the score-table rows of a record (`Record.indicators`) against the report.

Only a row's values are trusted: its table, 三级指标 name, 分值, 得分,
年度指标值 and 实际完成值. Its evidence may be missing, wrong or made up. The
rules extractor's reading of the same row (same table, same name) is the
second opinion; where it has none, the row is looked for in the report's
table grids (and the tables rebuilt from the order of their cells where the
text lost the grid, `Document.rebuilt`): the name in one cell, and every value in a cell of the same
row, 得分 in a cell after 分值's. The signals combine into one confidence per
row:

| signal | effect |
|---|---|
| the rules extractor reads the row with the same 分值, 得分, 指标值 and 完成值 | base 0.97 |
| the rules extractor reads other values for the row | base 0.30, the report's values in the reason |
| the rules extractor doubts its own reading of the row (merged cells, OCR) | capped at its confidence, its reasons added |
| no reading of its own: the name and every value stand on one row of a table | base 0.88 |
| the name stands in the report, but not with these values on its row | base 0.40 |
| the name is not in the report | base 0.05: made up until a person says otherwise |
| the claimed quote is not in the report | −0.30 |
| 得分 outside 0..分值 | −0.50 |
| the table's 分值 or 得分 add up to other totals than the report's rows do (a row left out, doubled or misread) | −0.50 on the rows already in doubt or without a reading of the rules extractor; on every row of the table when there are none |
| OCR confidence of the evidence below `ocr_review_below` | capped at that confidence |

A report whose own table does not add up is not held against its rows: the
rules extractor flags that on the table's total (self_score or the project).
A row is `accepted` when its confidence reaches the threshold for the key
`indicators` (setting `accept_at`, or `indicators=` in `accept_at_fields`),
else `review`, with every reason in Chinese.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from service.check.consistency import indicator_score_in_range
from service.core.align import locate
from service.core.evidence import row_cells
from service.core.genre import is_deduction
from service.core.numbers import cell_number, same_number, squeeze
from service.core.score_tables import table_subject
from service.document import Document
from service.models import ACCEPTED, DEPARTMENT_TABLE, REVIEW, Evidence, IndicatorRow
from service.record import RowEntry

THRESHOLD_KEY = "indicators"
AGREES, DISAGREES, ON_ROW, NAME_ONLY, NOT_FOUND = 0.97, 0.30, 0.88, 0.40, 0.05
VALUES = [("weight", "分值"), ("score", "得分"), ("target", "年度指标值"), ("actual", "实际完成值")]


@dataclass
class RowCheck:
    confidence: float
    reasons: list[str] = field(default_factory=list)
    evidence: Evidence | None = None


def recheck_rows(doc: Document, rows: list[RowEntry], rules_rows: list[IndicatorRow], threshold: Callable[[str], float],
                 ocr_review_below: float) -> None:
    """Recompute every row's status, confidence, issues and (where found) evidence, in place."""
    used: set[int] = set()
    readings = [_rules_reading(row, rules_rows, used) for row in rows]
    checks = [check_row(doc, row, reading, ocr_review_below) for row, reading in zip(rows, readings, strict=True)]
    limit = threshold(THRESHOLD_KEY)
    unread = {i for i, reading in enumerate(readings) if reading is None}
    _blame_broken_sums(rows, checks, unread, rules_rows, limit)
    for row, result in zip(rows, checks, strict=True):
        row.confidence = round(result.confidence, 2)
        row.status = ACCEPTED if result.confidence >= limit else REVIEW
        row.issues = list(dict.fromkeys(result.reasons))
        if result.evidence is not None:
            row.evidence = result.evidence


def check_row(doc: Document, row: RowEntry, reading: IndicatorRow | None, ocr_review_below: float) -> RowCheck:
    """One row against the report: its own values, the second opinion, its range and OCR."""
    result = _against_reading(row, reading) if reading is not None else _against_grid(doc, row)
    quote = row.evidence.quote if row.evidence is not None else None
    if quote and locate(quote, doc.text) is None:
        result.confidence -= 0.30
        result.reasons.append("所附引文在原文中找不到")
    out_of_range = indicator_score_in_range(_number(row.weight), _number(row.score))
    if out_of_range:
        result.confidence -= 0.50
        result.reasons.append(out_of_range)
    if result.evidence is not None:
        ocr = doc.ocr_confidence(result.evidence.start, result.evidence.end)
        if ocr is not None and ocr < ocr_review_below:
            result.confidence = min(result.confidence, ocr)
            result.reasons.append(f"OCR 识别置信度较低（{ocr:.2f}）")
    result.confidence = max(0.0, min(1.0, result.confidence))
    return result


def _rules_reading(row: RowEntry, second: list[IndicatorRow], used: set[int]) -> IndicatorRow | None:
    """The rules extractor's row of the same table and name: one that agrees if any, else the first unused."""
    same = [i for i, r in enumerate(second) if i not in used and table_matches(row.table, r.table)
            and name_key(r.name) == name_key(row.name)]
    if not same:
        return None
    pick = next((i for i in same if not _differences(row, second[i])), same[0])
    if not any(_comparable(row, second[pick], key) for key in ("weight", "score")):
        return None  # nothing to compare: not a second opinion
    used.add(pick)
    return second[pick]


def _against_reading(row: RowEntry, reading: IndicatorRow) -> RowCheck:
    """Agreement with the rules extractor's reading; a reading it doubts itself passes its doubt on."""
    differences = _differences(row, reading)
    result = RowCheck(DISAGREES if differences else AGREES, differences, reading.evidence)
    if reading.status == REVIEW:
        result.confidence = min(result.confidence, reading.confidence)
        result.reasons += reading.issues
    return result


def _comparable(row: RowEntry, reading: IndicatorRow, key: str) -> bool:
    return getattr(row, key) is not None and getattr(reading, key) is not None


def _differences(row: RowEntry, reading: IndicatorRow) -> list[str]:
    """报告中该指标分值为 5，不是 4 — one reason per value the report states otherwise."""
    out = []
    for key, zh in VALUES:
        if not _comparable(row, reading, key):
            continue
        mine, theirs = getattr(row, key), getattr(reading, key)
        if key in ("weight", "score"):
            if not _same_number(mine, theirs):
                out.append(f"报告中该指标{zh}为 {_fmt(theirs)}，不是 {_fmt(mine)}")
        elif text_key(mine) != text_key(theirs):
            out.append(f"报告中该指标{zh}为“{theirs}”，不是“{mine}”")
    return out


def _against_grid(doc: Document, row: RowEntry) -> RowCheck:
    """No second opinion: the name in a cell of a table row, and every value in a cell of that row."""
    name = row.name
    if not name_key(name):
        return RowCheck(NOT_FOUND, ["该行没有三级指标名称，无法在原文中核对"])
    named = _named_rows(doc, row)
    if not named:
        key = name_key(name)
        if key and key in name_key(doc.text):
            return RowCheck(NAME_ONLY, [f"原文中的“{name}”不在评分表的一行中，无法核对分值和得分"])
        return RowCheck(NOT_FOUND, [f"原文中找不到指标“{name}”"])
    best, best_missing = named[0], None
    for cells in named:
        missing = _missing_values(row, cells)
        if best_missing is None or len(missing) < len(best_missing):
            best, best_missing = cells, missing
    ev = Evidence(doc.text[best[0].start:best[-1].end], best[0].start, best[-1].end,
                  cells=row_cells(best, {k: _number(getattr(row, k)) if k in ("weight", "score") else getattr(row, k)
                                         for k in ("level1", "level2", "name", "target", "actual", "weight",
                                                   "score", "remark")}, doc.text))
    if not best_missing:
        return RowCheck(ON_ROW, [], ev)
    return RowCheck(NAME_ONLY, [f"原文“{name}”所在行中没有{'、'.join(best_missing)}"], ev)


def _named_rows(doc: Document, row: RowEntry) -> list[list]:
    """Rows (their non-empty cells) of the report's tables with a cell that is the row's name.

    Rows of the row's own table come first; a cell that only contains the name (a longer wording) counts
    when no cell is exactly the name.
    """
    key = name_key(row.name)
    if not key:
        return []
    ranked: dict[tuple[bool, bool], list] = {}
    for table in [*doc.tables, *doc.rebuilt]:  # the grids, and the tables rebuilt where text lost the grid
        own = table_matches(row.table, table_subject(table, "", doc.text))
        for r, cells in enumerate(table.rows):
            if r in table.guessed:  # a rebuilt row whose columns were inferred confirms nothing
                continue
            cells = [c for c in cells if c.text.strip()]
            names = [name_key(c.text) for c in cells]
            if key in names:
                ranked.setdefault((True, own), []).append(cells)
            elif len(key) >= 4 and any(key in n for n in names):
                ranked.setdefault((False, own), []).append(cells)
    for rank in ((True, True), (True, False), (False, True), (False, False)):
        if rank in ranked:
            return ranked[rank]
    return []


def _missing_values(row: RowEntry, cells: list) -> list[str]:
    """The row's values that `cells` do not hold, as a reviewer reads them (分值 5、得分 4).

    分值 must stand in a cell and 得分 in a later one (tables print 分值 before 得分), so a score read as
    its weight is not found.
    """
    numbers = [cell_number(c.text) for c in cells]
    texts = [text_key(c.text) for c in cells]
    missing = []
    weight_at = _first_cell_with(numbers, row.weight, after=-1)
    if row.weight is not None and weight_at is None:
        missing.append(f"分值 {_fmt(row.weight)}")
    score_after = -1 if weight_at is None else weight_at
    if row.score is not None and _first_cell_with(numbers, row.score, after=score_after) is None:
        missing.append(f"得分 {_fmt(row.score)}")
    for key, zh in (("target", "年度指标值"), ("actual", "实际完成值")):
        if getattr(row, key) is not None and text_key(getattr(row, key)) not in texts:
            missing.append(f"{zh}“{getattr(row, key)}”")
    return missing


def _first_cell_with(numbers: list, value, after: int) -> int | None:
    """Index of the first number cell after `after` equal to `value`."""
    if value is None:
        return None
    return next((i for i, n in enumerate(numbers) if i > after and n is not None and _same_number(value, n)), None)


def _blame_broken_sums(rows: list[RowEntry], checks: list[RowCheck], unread: set[int], rules_rows: list[IndicatorRow],
                       limit: float) -> None:
    """Per table: the record's sums against the report's rows.

    A gap is blamed on the rows already in doubt or that the rules extractor does not read; on every row of
    the table when there are none (a row left out or doubled).
    """
    for table in dict.fromkeys(str(r.table or "") for r in rows):
        mine = [i for i, r in enumerate(rows) if str(r.table or "") == table]
        theirs = [r for r in rules_rows if table_matches(table, r.table)]
        reasons = table_sum_gaps([rows[i] for i in mine], theirs)
        if not reasons:
            continue
        doubtful = [i for i in mine if checks[i].confidence < limit or i in unread] or mine
        for i in doubtful:
            checks[i].confidence = max(0.0, checks[i].confidence - 0.50)
            checks[i].reasons += reasons


def table_sum_gaps(rows: list[RowEntry], report_rows: list[IndicatorRow]) -> list[str]:
    """Σ 分值 and Σ 得分 of a record's table against the same sums of the report's rows (扣分 rows apart)."""
    if not report_rows:
        return []
    out = []
    for key, zh in (("weight", "分值"), ("score", "得分")):
        mine = [_number(getattr(r, key)) for r in rows if not is_deduction(r.level1)]
        theirs = [getattr(r, key) for r in report_rows if not is_deduction(r.level1)]
        if None in mine or None in theirs:
            continue
        if not _same_number(sum(mine), sum(theirs)):
            out.append(f"该表各项{zh}合计为 {_fmt(round(sum(mine), 6))}，报告表中各项{zh}合计为 "
                       f"{_fmt(round(sum(theirs), 6))}（可能漏行、重行或错行）")
    return out


def name_key(s) -> str:
    """A 三级指标 name as compared: NFKC, no spaces, no 指标1： prefix, no （10分）, no trailing punctuation."""
    s = text_key(s)
    s = re.sub(r"[（(]\d+(\.\d+)?分[)）]", "", s)
    return re.sub(r"^指标\d+[:：]", "", s)


def text_key(s) -> str:
    if s is None:
        return ""
    return squeeze(s).rstrip("。;；,，")


def table_matches(record_table, report_table) -> bool:
    """The same table: the department's (整体) by that word, a project's by a similar name."""
    a, b = text_key(record_table), text_key(report_table)
    if _department(a) or _department(b):
        return _department(a) and _department(b)
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= 0.6


def _department(table_key: str) -> bool:
    return table_key == "" or DEPARTMENT_TABLE in table_key


def _number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return v
    return cell_number(str(v)) if v is not None else None


def _same_number(a, b) -> bool:
    a, b = _number(a), _number(b)
    return same_number(a, b)


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)

