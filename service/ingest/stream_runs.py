"""Score tables whose labels and values a PDF's text layer printed in separate runs, paired by order.

Some PDFs keep a table's text column by column rather than row by row: first
the header and a name or two, then one run of every row's values (年度指标值
实际完成值 分值 得分, row after row, and the 总分 line's weight and score at
its end), then the rest of the 三级指标 names interleaved with the level
labels (产出指标, 数量指标, a spaced-out 绩 效 指 标), header words and page
numbers, a name sometimes broken by the run (…结算完成 [values] 率). No
alignment of cells to columns reads that; what survives is the order of the
rows in both runs.

So a run of k rows of four cells (two values, then a 分值 and a 得分) closed
by two numbers is found; the names around it are what is left after the level
words, header words and page furniture are taken out and the short pieces
(率, 性, 度: one or two characters) are joined to the name before them. When
exactly k names are left they are paired with the rows in order; otherwise
the table gives no rows. Every row goes to review (the pairing is an
inference), and the engine keeps them only where the table adds up
(`service.core.finish.keep_paired_rows`). Level labels fill 一级/二级指标 only
where their count leaves no doubt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.core.genre import TOTAL_ROW, VALUE_CELL
from service.core.numbers import compact
from service.document import Cell, Table
from service.ingest.stream_tables import (
    COLUMNS,
    HEADER_RX,
    HEADER_TEXT,
    LEVEL1_WORD,
    LEVEL2_WORD,
    STOP,
    Token,
    number_of,
    tokens,
)

PAIRED_BY_ORDER = "runs"  # the `Table.guessed` kind of every row read here
WHY_ROW = "表格由文本还原：指标名称与数值分处两段，按顺序对应，请核对原表"
WHY_TOTAL = "总分取自数值段末尾的两个数，指标名称与数值分处两段，按顺序对应，请核对原表"

MIN_ROWS = 2
_LOOK = 60  # tokens of labels before and after the value run, at most
_JOIN = 4  # tokens a header or level word may be spread over (绩 效 指 标)
_PIECE = 2  # characters of a name's piece cut off by the value run (率, 性, 度)

_NAME_HEADER = re.compile(r"一级指标|二级指标|三级指标|指标名称")
_FRAGMENTS = {"年度", "实际", "年初", "全年", "指标", "改进措施", "分析及改进措施", "指标值", "完成值"}
_LEVEL2_ONLY = re.compile("^" + LEVEL2_WORD.pattern)  # the whole label, not one ending in it
_FURNITURE = re.compile(r"^(?:[-—－–]+\s*\d{1,3}\s*[-—－–]+|第\s*\d{1,3}\s*页(?:共\s*\d{1,3}\s*页)?)$")
_VALUE_MARK = re.compile(r"\d|%|[≥≤≧≦＞＜><=＝]")
_PROSE = re.compile(r"[，。；,;：:]")
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_SHORT_VALUE = 6  # characters of a word value (及时, 达标, 合格)
# the 一级指标 each 二级指标 stands under, by its stem
_FAMILY = [(re.compile(r"数量|质量|时效|^成本"), "产出指标"),
           (re.compile(r"经济效益|社会效益|生态效益|可持续影响"), "效益指标"),
           (re.compile(r"满意度"), "满意度指标"),
           (re.compile(r"经济成本|社会成本|生态环境成本"), "成本指标")]


@dataclass
class RunForm:
    """A table in this form: its span, and the table read from it (None: the names and the rows do not pair)."""
    start: int
    end: int
    table: Table | None


def find_run_tables(text: str) -> list[RunForm]:
    """Every score table of `text` whose names and values stand in separate runs."""
    if "指标" not in text:
        return []
    toks = tokens(text, 0, len(text))
    out, i = [], 0
    while i < len(toks):
        k = _rows_at(toks, i)
        if k < MIN_ROWS or not _numbers(toks, i + 4 * k, 2):
            i += 1
            continue
        form = _form(toks, i, k)
        if form is not None:
            out.append(form)
        i += 4 * k + 2
    return out


def _rows_at(toks: list[Token], i: int) -> int:
    """How many rows of four cells (指标值, 完成值, 分值, 得分) follow one another from `toks[i]`."""
    k = 0
    while i + 4 * k + 3 < len(toks):
        t, a, w, s = (toks[i + 4 * k + x].text for x in range(4))
        weight, score = number_of(w), number_of(s)
        if not (_is_value(t) and _is_value(a) and weight is not None and 0 < weight <= 100
                and score is not None and score <= 100):
            break
        k += 1
    return k


def _numbers(toks: list[Token], i: int, n: int) -> bool:
    return i + n <= len(toks) and all(number_of(t.text) is not None for t in toks[i:i + n])


def _is_value(s: str) -> bool:
    """A 指标值 or 完成值 cell: a figure (=100%, ≥90%, 12次) or a short word (及时), never a label."""
    if _label_kind(s) or _FURNITURE.match(s) or TOTAL_ROW.match(s) or _PROSE.search(s):
        return False
    return bool(_VALUE_MARK.search(s)) or len(s) <= _SHORT_VALUE


def _label_kind(s: str) -> str | None:
    """"header" for a header word or a piece of one, "level1"/"level2" for a level label, else None."""
    bare = re.sub(r"[（(]\s*\d+(?:\.\d+)?\s*分?\s*[)）]", "", s)
    if s in _FRAGMENTS or HEADER_RX.fullmatch(s):
        return "header"
    if LEVEL1_WORD.fullmatch(bare):
        return "level1"
    if _LEVEL2_ONLY.match(bare):
        return "level2"
    return None


def _form(toks: list[Token], i: int, k: int) -> RunForm | None:
    """The table around the value run of `k` rows at `toks[i]`, when a header stands before it and a 总分
    label after its names; else None (no table of this form)."""
    first = _labels_start(toks, i)
    if first is None:
        return None
    after = i + 4 * k + 2
    total = next((j for j in range(after, min(len(toks), after + _LOOK)) if TOTAL_ROW.match(compact(toks[j].text) or "")),
                 None)
    if total is None or any(_stops_labels(t) for t in toks[after:total]):
        return None
    start, end = toks[first].start, toks[total].end
    names, levels, header = _read_labels([toks[first:i], toks[after:total]])
    if names is None or len(names) != k:
        return RunForm(start, end, None)
    run = toks[i:i + 4 * k + 2]
    return RunForm(start, end, _table(names, _levels(levels, k), header, run, toks[total], start, end))


def _labels_start(toks: list[Token], i: int) -> int | None:
    """The first token of the labels before the run: the earliest 一级/二级/三级指标 header word in the
    stretch of words before it (a number or a sentence ends the stretch)."""
    first = None
    for j in range(i - 1, max(-1, i - 1 - _LOOK), -1):
        if _stops_labels(toks[j]):
            break
        if _NAME_HEADER.search(toks[j].text):
            first = j
    return first


def _stops_labels(t: Token) -> bool:
    s = t.text
    if _FURNITURE.match(s):
        return False
    return number_of(s) is not None or bool(VALUE_CELL.match(s)) or bool(_PROSE.search(s)) or bool(STOP.match(s))


def _read_labels(segments: list[list[Token]]) -> tuple[list[list[Token]] | None, list[tuple[str, list[Token]]],
                                                      dict[str, list[Token]]]:
    """(names, each as its pieces; level labels in order, (kind, tokens); header words by column) of the
    labels before and after a value run (`segments`: a word is never read across the run); names None
    when a piece has no name before it."""
    names: list[list[Token]] = []
    levels: list[tuple[str, list[Token]]] = []
    header: dict[str, list[Token]] = {}
    for labels in segments:
        if not _read_segment(labels, names, levels, header):
            return None, levels, header
    return names, levels, header


def _read_segment(labels: list[Token], names: list[list[Token]], levels: list[tuple[str, list[Token]]],
                  header: dict[str, list[Token]]) -> bool:
    j = 0
    while j < len(labels):
        span, kind = _word_at(labels, j)
        if kind == "header":
            m = HEADER_RX.fullmatch("".join(t.text for t in labels[j:j + span]))
            key = next((g.split("__")[0] for g, v in m.groupdict().items() if v), None) if m else None
            if key in COLUMNS:
                header.setdefault(key, labels[j:j + span])
        elif kind in ("level1", "level2"):
            levels.append((kind, labels[j:j + span]))
        elif not _FURNITURE.match(labels[j].text):
            t = labels[j]
            if len(t.text) <= _PIECE and _CJK.match(t.text):
                if not names:
                    return False
                names[-1].append(t)  # 率 after …结算完成: the end of the name before it
            else:
                names.append([t])
        j += span
    return True


def _word_at(labels: list[Token], j: int) -> tuple[int, str | None]:
    """(tokens taken, kind) of the longest header or level word starting at `labels[j]`."""
    for span in range(min(_JOIN, len(labels) - j), 0, -1):
        kind = _label_kind("".join(t.text for t in labels[j:j + span]))
        if kind:
            return span, kind
    return 1, None


def _levels(levels: list[tuple[str, list[Token]]], k: int) -> list[dict[str, list[Token] | None]]:
    """Each row's level labels, where the labels found leave no doubt: k 二级指标 words are the rows' in
    order; k 一级指标 words likewise, or else the 一级指标 each row's 二级指标 belongs to, when the 一级指标
    words are exactly those groups in order. Else None."""
    one = [t for kind, t in levels if kind == "level1"]
    two = [t for kind, t in levels if kind == "level2"]
    rows: list[dict[str, list[Token] | None]] = [{"level1": None, "level2": None} for _ in range(k)]
    if len(two) == k:
        for r, t in zip(rows, two, strict=True):
            r["level2"] = t
    if len(one) == k:
        for r, t in zip(rows, one, strict=True):
            r["level1"] = t
    elif len(two) == k:
        families = [_family("".join(x.text for x in t)) for t in two]
        groups = [f for n, f in enumerate(families) if n == 0 or f != families[n - 1]]
        said = [re.sub(r"[（(].*", "", "".join(x.text for x in t)) for t in one]
        if None not in families and groups == said:
            for r, f in zip(rows, families, strict=True):
                r["level1"] = one[groups.index(f)] if groups.count(f) == 1 else None
    return rows


def _family(level2: str) -> str | None:
    return next((name for rx, name in _FAMILY if rx.search(level2)), None)


def _cell(toks: list[Token] | None, at: int) -> Cell:
    if not toks:
        return Cell("", at, at)
    return Cell("".join(t.text for t in toks), toks[0].start, toks[-1].end)


def _table(names, levels, header, run: list[Token], total: Token, start: int, end: int) -> Table:
    header_row = [Cell(HEADER_TEXT[key], *((header[key][0].start, header[key][-1].end) if key in header
                                            else (start, start))) for key in COLUMNS]
    body, guessed = [], {}
    for r, (name, lv) in enumerate(zip(names, levels, strict=True)):
        t, a, w, s = run[4 * r:4 * r + 4]
        at = name[0].start
        body.append([_cell(lv["level1"], at), _cell(lv["level2"], at), _cell(name, at),
                     *(_cell([x], at) for x in (t, a, w, s)), Cell("", at, at)])
        guessed[r + 1] = (PAIRED_BY_ORDER, WHY_ROW)
    tw, ts = run[-2:]
    body.append([Cell(total.text, total.start, total.end), *[Cell("", total.end, total.end)] * 4,
                 _cell([tw], tw.start), _cell([ts], ts.start), Cell("", total.end, total.end)])
    guessed[len(body)] = (PAIRED_BY_ORDER, WHY_TOTAL)
    return Table(start=start, end=end, rows=[header_row, *body], origin="stream", guessed=guessed)
