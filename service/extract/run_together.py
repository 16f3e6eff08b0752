"""A score table run together on one line, cells separated by spaces.

Some Word-to-text exports put a whole 自评表 on one line. Merged cells have
vanished, so rows are found by meaning: a header of known column names, then
rows that each end in a pair of numbers (分值, 得分) with 0 ≤ 得分 ≤ 分值 ≤ 100,
preceded by 三级指标, 年度指标值 and 实际完成值 and, where a new group starts,
the 一级/二级指标. The rows are trusted only when they add up to the total
the table states; otherwise every row goes to review.
"""

from __future__ import annotations

import re

from ..document import Document
from ..models import REVIEW, Evidence, IndicatorRow
from ..tables import split_run_together
from . import lexicon as lx
from .numbers import compact, squeeze
from .score_tables import _match_header, _strip_points

_PLAIN = re.compile(r"^\d+(?:\.\d+)?$")
_LEVEL1 = re.compile(r"^(产出指标|效益指标|满意度指标|决策|过程|产出|效益|履职效能|管理效率)$")
_PUNCT = re.compile(r"[，。；、,;]")
_HEADER_WORDS = re.compile(r"一级指标.*二级指标.*三级指标")


def find_run_together(doc: Document, start: int, end: int) -> list[tuple[int, int]]:
    """Lines in [start, end) that hold a whole score table."""
    out, pos = [], start
    for line in doc.text[start:end].split("\n"):
        if _HEADER_WORDS.search(line) and len(line.split()) >= 12:
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _num(s: str) -> float | None:
    return float(s.rstrip("分")) if _PLAIN.match(s) else None


def read_run_together(doc: Document, start: int, end: int, subject: str
                      ) -> tuple[list[IndicatorRow], tuple[float | int, Evidence] | None]:
    """The rows of a run-together score table, and its stated total with evidence."""
    cells = split_run_together(doc.text, start, end)
    keys, i = [], 0
    while i < len(cells) and (_match_header(cells[i].text) or squeeze(cells[i].text) in ("绩效指标", "指标")):
        keys.append(_match_header(cells[i].text))
        i += 1
    if "weight" not in keys or "score" not in keys:
        return [], None
    before = [k for k in ("name", "target", "actual") if k in keys]
    data, rows, total, prev_end = cells[i:], [], None, 0
    t = next((j for j, c in enumerate(data) if lx.TOTAL_ROW.match(squeeze(c.text))), len(data))
    nums_after = [_num(c.text) for c in data[t + 1:t + 3]]
    total_ev = None
    if len(nums_after) == 2 and None not in nums_after:
        total = nums_after[1]
        cell = data[t + 2]
        total_ev = (_int(total), Evidence(cell.text, cell.start, cell.end))
    data = data[:t]
    level1 = level2 = None
    j = 0
    while j < len(data) - 1:
        if not _pair(data, j) or j - prev_end < len(before) or _pair(data, j + 1):
            j += 1  # not a 分值/得分 pair, or the pair is one later (an actual value that is a number)
            continue
        lead = data[prev_end:j - len(before)]
        named = data[j - len(before):j]
        strict = level1 is None or "指标" in (level1 or "") + (level2 or "")
        n_levels = 0
        while n_levels < len(lead) and _is_level(lead[len(lead) - 1 - n_levels].text, strict):
            n_levels += 1
        if len(lead) > n_levels and rows:  # words left over belong to the row above (its remark)
            rows[-1].remark = " ".join(c.text for c in lead[:len(lead) - n_levels])
        lead = lead[len(lead) - n_levels:] if n_levels else []
        level1, level2 = _levels([c.text for c in lead], level1, level2)
        get = dict(zip(before, (compact(c.text) for c in named), strict=True))
        first = (lead or named)[0]
        rows.append(IndicatorRow(table=subject, level1=level1, level2=level2, name=get.get("name"),
                                 target=get.get("target"), actual=get.get("actual"),
                                 weight=_int(_num(data[j].text)), score=_int(_num(data[j + 1].text)), confidence=0.6,
                                 evidence=Evidence(doc.text[first.start:data[j + 1].end], first.start,
                                                   data[j + 1].end)))
        prev_end = j = j + 2
    if rows and prev_end < len(data):  # words after the last row, before 总分: its remark
        rows[-1].remark = " ".join(c.text for c in data[prev_end:])
    _trust_if_it_adds_up(rows, total)
    return rows, total_ev


def _pair(data, j: int) -> bool:
    """data[j], data[j+1] read as 分值, 得分."""
    if j + 1 >= len(data):
        return False
    w, s = _num(data[j].text), _num(data[j + 1].text)
    return w is not None and s is not None and 0 <= s <= w <= 100


def _is_level(word: str, strict: bool) -> bool:
    """一级/二级指标 words; in tables whose levels say 指标, only words that do."""
    word = _strip_points(word) or ""
    if "指标" in word or _LEVEL1.match(word):
        return True
    return not strict and len(word) <= 12 and not _PUNCT.search(word)


def _levels(words: list[str], level1, level2):
    """From the level words before a row: the last 一级 word and the last other word.

    `效益指标（30分） 经济效益指标 社会效益指标 社会环境 …`: 经济效益指标 had no row of its own.
    """
    words = [_strip_points(w) for w in words]
    if not words:
        return level1, level2
    firsts = [w for w in words if _LEVEL1.match(w)]
    others = [w for w in words if not _LEVEL1.match(w)]
    if firsts:
        return firsts[-1], (others[-1] if others and words.index(others[-1]) > words.index(firsts[-1]) else None)
    if len(words) >= 2 and level1 is None:
        return words[-2], words[-1]
    return level1, words[-1]


def _int(x: float) -> float | int:
    return int(x) if x == int(x) else x


def _trust_if_it_adds_up(rows: list[IndicatorRow], total) -> None:
    scores = sum(r.score for r in rows)
    fits = total is not None and (abs(scores - total) < 1e-6 or any(
        abs(scores + e - total) < 1e-6 for e in (5, 10, 15, 20)))
    for r in rows:
        if not fits:
            r.status = REVIEW
            r.issues.append("表格在文本中连成一行，按“分值 得分”的位置拆分为行，且得分合计与总分不符，请核对原表")
