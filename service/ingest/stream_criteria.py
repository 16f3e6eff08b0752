"""Score tables with criterion prose between their rows (评价内容 分值 自评分 复核分 评价标准及依据), read from text.

A common 项目支出绩效目标自评表 (湖北 and other provinces) scores 项目决策 and
项目管理 row by row: a short name (决策依据, 财务制度), its 分值 and its
自评分, an empty 复核分, and a long 评价标准及依据 full of small numbers of its
own (…计 2 分，没有不得分; 缺一项扣 0.5 分), with the group labels (项目决策 2 分,
项目管理 13 分) printed among the rows where the PDF centred them. Copied out
of the PDF, the cells run on with spaces and line breaks anywhere, the
header itself broken by a row (评价内容 分值 自评分 [a row] 复核分 评价标准及依据).

So the header is found by its column names, and a row is a name (Chinese
words, no level label, no prose) straight followed by two numbers, 分值 ≥
自评分, both up to 100 (a group label may stand between them, a 复核分 may
follow). A number of the prose is told by its neighbours: it follows a 计 / 扣
/ 得 word or is followed by 分, where a row's cells stand between words. Group
labels become 一级指标 where their points divide the rows in order. Every row
goes to review; the engine keeps them only where the table adds up to its
stated total (`service.core.finish.keep_paired_rows`), or, where the text holds
only the table's beginning (no total row, the text or the table's layout ends
first), in review with the reason that the sums could not be checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.core.genre import TOTAL_ROW, last_stated_total, squeezed
from service.core.numbers import compact
from service.document import Cell, Table
from service.ingest.stream_tables import (
    COLUMNS,
    HEADER_RX,
    HEADER_TEXT,
    LEVEL1_WORD,
    STOP,
    Token,
    number_of,
    tokens,
)

CRITERIA = "criteria"  # the `Table.guessed` kind of every row read here
CRITERIA_PARTIAL = "criteria_partial"  # …of a table whose text ends before its total
WHY_ROW = "表格由文本还原：行间夹有评价标准文字，按“指标名称 分值 自评分”读取，请核对原表"
WHY_PARTIAL = "文本只含该表的一部分，未见总分行，分值和自评分合计无法核对"
WHY_TOTAL_ABOVE = "总分取自表头上方的“自评总分”，表格由文本还原，行间夹有评价标准文字，请核对原表"

MIN_ROWS = 2
_HEADER = re.compile(r"(?:评价内容|评价指标|指标名称|指标)(?:分值|权重分?|标准分)(?:自评得分|自评分|得分)")
_CRITERIA_WORD = re.compile(r"评价标准|评分标准|评分依据|评价依据|评分细则")
_CRITERIA_NEAR = 120  # folded characters after the header in which its 评价标准 column is named
_STATED_LOOK = 1000  # characters above the header in which the table's total may be stated
_NAME = re.compile(r"^[\u4e00-\u9fff（）()《》]{1,20}$")
_PROSE_END = re.compile(r"(?:计|扣|得|分值|为|减|加|按|的|[得满扣计加减评]分)$")  # a word a prose number follows
_CELL_NUMBER = re.compile(r"^\d{1,3}(?:\.\d{1,2})?$")
_POINTS_AFTER = re.compile(r"^分(?:[)）]|$)")
_LABEL = re.compile(r"^(?P<word>[\u4e00-\u9fff]{2,8}?)(?:[(（]?(?P<points>\d{1,3}(?:\.\d)?)分[)）]?)?$")
_NEXT_HEADER = re.compile(r"^(?:一级指标|二级指标|三级指标|指标名称|评价内容)")
_PIECE = 2  # characters of a name broken by the copy (运行 监管, …合格 率)


@dataclass
class _Label:
    word: Token
    points: float | None
    span: int


@dataclass
class _Row:
    name: list[Token]
    weight: Token
    score: Token


def find_criteria_tables(text: str, folded: tuple[str, list[int]] | None = None) -> list[Table]:
    """Every score table of `text` in the form of the module's docstring (`folded`: `genre.squeezed(text)`)."""
    words, where = folded or squeezed(text)
    if "分值" not in words:
        return []
    heads = [m for m in _HEADER.finditer(words) if _CRITERIA_WORD.search(words, m.end(), m.end() + _CRITERIA_NEAR)]
    out = []
    for n, m in enumerate(heads):
        start, h_end = where[m.start()], where[m.end() - 1] + 1
        end = where[heads[n + 1].start()] if n + 1 < len(heads) else len(text)
        above = out[-1].end if out else 0
        table = _read(text, start, h_end, end, max(above, start - _STATED_LOOK))
        if table is not None:
            out.append(table)
    return out


def _read(text: str, start: int, h_end: int, end: int, look_from: int) -> Table | None:
    toks = tokens(text, h_end, end)
    rows, labels, i, closed, total = [], [], 0, False, None
    while i < len(toks):
        t = toks[i]
        if STOP.match(t.text) and t.sep != "soft":
            closed = True
            break
        if TOTAL_ROW.match(compact(t.text) or ""):
            total, closed = _total_at(toks, i), True
            break
        if _NEXT_HEADER.match(t.text + (toks[i + 1].text if i + 1 < len(toks) else "")):
            break  # the table goes on in another layout (一级指标 二级指标 …), or another table begins
        label = _label_at(toks, i)
        if label is not None:
            labels.append(label)
            i += label.span
            continue
        row, taken = _row_at(toks, i, labels)
        if row is not None:
            rows.append(row)
            i += taken
            continue
        i += 1
    if len(rows) < MIN_ROWS:
        return None
    partial = not closed
    stated = None if total is not None else _stated_above(text, look_from, start)
    level1 = _groups(rows, labels, partial)
    if level1 is None:
        return None  # the group labels' points do not divide the rows: a misread, and nothing else to check by
    return _table(rows, level1, total, stated, partial, start)


def _label_at(toks: list[Token], i: int) -> _Label | None:
    """A group label at `toks[i]` (项目决策 2 分, 项目管理(13分)): a level word and, mostly, its points."""
    m = _LABEL.match(toks[i].text)
    if m is None or not LEVEL1_WORD.match(m.group("word")):
        return None
    if m.group("points"):
        return _Label(toks[i], float(m.group("points")), 1)
    nxt = toks[i + 1].text if i + 1 < len(toks) else ""
    if re.fullmatch(r"\d{1,3}(?:\.\d)?分", nxt):
        return _Label(toks[i], float(nxt[:-1]), 2)
    if _CELL_NUMBER.match(nxt) and i + 2 < len(toks) and _POINTS_AFTER.match(toks[i + 2].text):
        return _Label(toks[i], float(nxt), 3)
    return _Label(toks[i], None, 1)


def _row_at(toks: list[Token], i: int, labels: list[_Label]) -> tuple[_Row | None, int]:
    """(the row whose name is `toks[i]`, tokens taken) when two numbers that can be its cells follow it, a
    group label perhaps between; a label read there is added to `labels`."""
    name = _name_at(toks, i)
    if name is None:
        return None, 0
    j = i + 1
    label = _label_at(toks, j) if j < len(toks) else None
    if label is not None and label.points is None:
        label = None
    if label is not None:
        j += label.span
    if j + 1 >= len(toks) or not (_CELL_NUMBER.match(toks[j].text) and _CELL_NUMBER.match(toks[j + 1].text)):
        return None, 0
    weight, score = float(toks[j].text), float(toks[j + 1].text)
    if not (0 < weight <= 100 and score <= weight) or _prose_number(toks, j + 1):
        return None, 0
    taken = j + 2 - i
    if j + 2 < len(toks) and _CELL_NUMBER.match(toks[j + 2].text) and float(toks[j + 2].text) <= weight \
            and not _prose_number(toks, j + 2):
        taken += 1  # a 复核分
    if label is not None:
        labels.append(label)
    return _Row(name, toks[j], toks[j + 1]), taken


def _name_at(toks: list[Token], i: int) -> list[Token] | None:
    """The name's tokens when `toks[i]` ends one: words, no label, no header word, no prose; a piece of one or
    two characters joins the words before it (运行 监管)."""
    if not _is_name(toks[i].text):
        return None
    if len(toks[i].text) <= _PIECE:
        if i == 0 or not _is_name(toks[i - 1].text) or _label_at(toks, i - 1):
            return None
        return [toks[i - 1], toks[i]]
    return [toks[i]]


def _is_name(s: str) -> bool:
    return (bool(_NAME.match(s)) and not _PROSE_END.search(s) and not LEVEL1_WORD.match(s)
            and not HEADER_RX.fullmatch(s) and not TOTAL_ROW.match(s))


def _prose_number(toks: list[Token], j: int) -> bool:
    """The number `toks[j]` belongs to the prose: 分 follows it."""
    return j + 1 < len(toks) and toks[j + 1].text.startswith("分")


def _total_at(toks: list[Token], i: int) -> tuple[Token, Token | None, Token] | None:
    """(label, 分值 or None, 自评分) of the total row at `toks[i]`."""
    nums = []
    for t in toks[i + 1:i + 4]:
        if number_of(t.text) is None:
            break
        nums.append(t)
    if not nums:
        return None
    return (toks[i], nums[0], nums[1]) if len(nums) >= 2 else (toks[i], None, nums[0])


def _stated_above(text: str, look_from: int, start: int) -> tuple[Cell, Cell] | None:
    """(label, number) of the last 自评总分 stated above the header."""
    m = last_stated_total(text, look_from, start)
    if m is None:
        return None
    return Cell(m.group("label"), m.start("label"), m.end("label")), Cell(m.group("n"), m.start("n"), m.end("n"))


def _groups(rows: list[_Row], labels: list[_Label], partial: bool) -> list[Token | None] | None:
    """Each row's group label: the labels with points divide the rows in order, each group's weights making
    its points (the last group of a partial table may be cut short). [None…] where no label has points;
    None where the points do not divide the rows."""
    labels = [lb for lb in labels if lb.points is not None]  # a level word of the prose (满意度 90%以上…)
    if not labels:
        return [None] * len(rows)
    out: list[Token | None] = []
    r = 0
    for n, lb in enumerate(labels):
        got = 0.0
        while r < len(rows) and got < lb.points - 1e-9:
            got += float(rows[r].weight.text)
            out.append(lb.word)
            r += 1
        last = n == len(labels) - 1
        if abs(got - lb.points) > 1e-9 and not (last and partial and got < lb.points):
            return None
    return out if r == len(rows) else None


def _cell(toks: list[Token] | None, at: int) -> Cell:
    if not toks:
        return Cell("", at, at)
    return Cell("".join(t.text for t in toks), toks[0].start, toks[-1].end)


def _table(rows: list[_Row], level1: list[Token | None], total, stated, partial: bool, start: int) -> Table:
    header = [Cell(HEADER_TEXT[key], start, start) for key in COLUMNS]
    body, guessed = [], {}
    kind, why = (CRITERIA_PARTIAL, f"{WHY_ROW}；{WHY_PARTIAL}") if partial else (CRITERIA, WHY_ROW)
    for r, (row, lv) in enumerate(zip(rows, level1, strict=True)):
        at = row.name[0].start
        body.append([_cell([lv] if lv else None, at), Cell("", at, at), _cell(row.name, at), Cell("", at, at),
                     Cell("", at, at), _cell([row.weight], at), _cell([row.score], at), Cell("", at, at)])
        guessed[r + 1] = (kind, why)
    end = rows[-1].score.end
    if total is not None:
        label, w, s = total
        blank = Cell("", label.end, label.end)
        body.append([Cell(label.text, label.start, label.end), *[blank] * 4,
                     _cell([w], w.start) if w else blank, _cell([s], s.start), blank])
        end = s.end
    elif stated is not None:
        label, number = stated
        blank = Cell("", label.end, label.end)
        body.append([label, *[blank] * 5, number, blank])
        guessed[len(body)] = (kind, WHY_TOTAL_ABOVE)
    return Table(start=start, end=end, rows=[header, *body], origin="stream", guessed=guessed)
