"""What the LLM engine sends: every part of a document that can state a fact reaches some call.

Coverage comes first. A section is left out only when it provably holds no
field (no digit, no number in words, no 无 after a label, no rating; see
`genre.may_state_a_fact`) and is not the cover or the sign-off. The rules
extractor is not the gate: what a call may return does not depend on what the
planner foresaw (every call may return every scalar field; `Call.fields` are
only hints for the prompt).

- **Score tables** are found by what they are (`genre.score_table_marks`:
  指标 words near 分值/权重/得分 words, in any text form, or indicators scored
  in sentences). A run of consecutive sections that holds one — with the
  tabular sections around it and a short title line before it, so a project's
  header (项目名称, 主管部门, 年度资金总额 …) comes along — goes whole to the
  table prompt, which returns the tables and the facts the text states. A run
  too long for one call is split between rows, before a group label, with the
  table's header repeated.
- **Facts**: every other section that may state a fact, grouped in document
  order up to `MAX_FACTS_CHARS`. The cover and the sign-off (落款) always go,
  and page furniture (breadcrumbs, 索引号, 发布机构/发布日期, docx metadata) is
  taken out of the sections and sent as one part of its own, named as such.
- **Lists**: every 问题/措施 section together to the lists prompt (and to the
  facts prompt too when it has numbers next to field labels); without such a
  heading, the pieces whose cells are labelled 存在问题 / 改进措施.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.core.genre import (
    LISTS_TITLE,
    TOTAL_ROW,
    furniture_spans,
    has_lists_label,
    may_state_a_fact,
    plain,
    score_table_marks,
    sign_off_span,
)
from service.core.numbers import same_number
from service.document import Cell, Document, Table
from service.fields import hinted_fields, identity_keys
from service.models import Section

MAX_FACTS_CHARS = 12000
MAX_TABLE_CHARS = 7000
FURNITURE_TITLE = "页面信息（网站或文件附带的信息，不是报告正文）"
SIGN_OFF_TITLE = "落款"
REBUILT_TITLE = "上文表格按列整理（由文本中单元格的先后顺序还原，空单元格保留；数值以上文原文为准）"


@dataclass
class Call:
    """One request: a prompt, the spans of text it is given (in order, each named), and the hinted fields."""

    prompt: str  # "facts", "score_table", "lists"
    spans: list[tuple[int, int]] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # hints: what the text seems to state
    # tables of these spans rebuilt in one canonical form (| rows, empty cells kept), sent after them
    rebuilt: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return " / ".join(dict.fromkeys(self.titles))

    @property
    def size(self) -> int:
        return sum(e - s for s, e in self.spans)

    def text(self, doc: Document) -> str:
        """The text the model reads; with several parts, each under its name in 【】."""
        parts = [doc.text[s:e].strip("\n") for s, e in self.spans]
        if len(set(self.titles)) <= 1:
            out = parts
        else:
            out, last = [], None
            for title, part in zip(self.titles, parts, strict=True):
                out += [f"【{title}】", part] if title != last else [part]
                last = title
        for table in self.rebuilt:
            out += [f"【{REBUILT_TITLE}】", table]
        return "\n".join(out)

    def add(self, start: int, end: int, title: str) -> None:
        self.spans.append((start, end))
        self.titles.append(title)

    def hint(self, keys: list[str]) -> None:
        self.fields += [k for k in keys if k not in self.fields]


def plan(doc: Document, sections: list[Section]) -> list[Call]:
    furniture = furniture_spans(doc.text)
    sign_off = sign_off_span(doc.text)
    pieces = [_Piece(sec, _without(doc, sec.start, sec.end, furniture)) for sec in sections]
    pieces = [p for p in pieces if p.spans]
    marks = score_table_marks(doc.text)
    for p in pieces:
        p.kind = _kind(doc, p, any(p.spans[0][0] <= m < p.spans[-1][1] for m in marks))
    calls = _table_calls(doc, pieces) + _facts_calls(doc, pieces, furniture, sign_off)
    _add_rebuilt(doc, calls)
    lists = Call("lists")
    titled = [p for p in pieces if p.is_lists]
    # no 问题/措施 heading: the pieces whose cells or lines are labelled 存在问题 / 改进措施
    for p in titled or [p for p in pieces if has_lists_label(p.text(doc))]:
        for s, e in p.spans:
            lists.add(s, e, p.sec.title)
    if lists.spans:
        calls.append(lists)
    return calls


def _add_rebuilt(doc: Document, calls: list[Call]) -> None:
    """A table the text lost the grid of (one cell per line, drifting | rows, a blob), rebuilt by
    `service.ingest.stream_tables` / `service.ingest.stream_money`, goes with the call that holds its header, in the
    canonical | form, so the model reads its columns as a grid; where a grid of the text already stands
    there, the text is sent as it is."""
    for table in doc.rebuilt:
        if any(t.start < table.end and table.start < t.end for t in doc.tables):
            continue
        call = next((c for c in calls if c.prompt != "lists" and any(s <= table.start < e for s, e in c.spans)), None)
        rows = _sendable_rows(table)
        if call is not None and len(rows) > 1:
            call.rebuilt.append(_canonical(rows))


# a rebuilt row whose columns were inferred from run-together text, or from a scrambled header
_RUN_TOGETHER = {"blob", "split", "misread", "joined"}
_SCORE_COLUMNS = (5, 6)  # 分值, 得分 in `stream_tables.COLUMNS`
_NAME = re.compile(r"[\u4e00-\u9fff]{2}")


def _sendable_rows(table: Table) -> list[list[Cell]]:
    """The rows worth showing the model as a grid: a wrong grid beside the text misleads the model more
    than the text alone, which it reads anyway. Rows cut out of run-together text are kept only when the
    table adds up (分值 and 得分 sum to its 总分 row, or the 分值 to 100); rows of a scrambled header only
    when the row itself is plausible (a name, 分值 and 得分 numbers, 得分 ≤ 分值)."""
    keep = []
    for r, row in enumerate(table.rows):
        kind = table.guessed.get(r, ("", ""))[0]
        if kind in _RUN_TOGETHER and not _adds_up(table.rows[1:]):
            continue
        if kind == "scrambled" and not _plausible(row):
            continue
        keep.append(row)
    return keep


def _plausible(row: list[Cell]) -> bool:
    if len(row) <= max(_SCORE_COLUMNS) or not _NAME.search(row[2].text):
        return False
    weight, score = (_number(row[k].text) for k in _SCORE_COLUMNS)
    return weight is not None and score is not None and score <= weight


def _adds_up(body: list[list[Cell]]) -> bool:
    if not body or any(len(row) <= max(_SCORE_COLUMNS) for row in body):
        return False
    total = body[-1] if TOTAL_ROW.match(body[-1][0].text.replace(" ", "")) else None
    rows = body[:-1] if total else body
    if not rows or not all(_plausible(row) for row in rows):
        return False
    weights, scores = ([_number(row[k].text) for row in rows] for k in _SCORE_COLUMNS)
    if total is None:
        return same_number(sum(weights), 100)
    stated_weight, stated_score = (_number(total[k].text) for k in _SCORE_COLUMNS)
    return same_number(sum(scores), stated_score) and (stated_weight is None or same_number(sum(weights), stated_weight))


def _number(text: str) -> float | None:
    m = re.fullmatch(r"\s*(\d{1,3}(?:\.\d{1,2})?)\s*分?\s*", text)
    return float(m.group(1)) if m else None


def _canonical(rows: list[list[Cell]]) -> str:
    """A table as `|` rows, one per line, every cell in its column (empty cells kept)."""
    return "\n".join("| " + " | ".join(" ".join(c.text.split()) for c in row) + " |" for row in rows)


@dataclass
class _Piece:
    sec: Section
    spans: list[tuple[int, int]]
    kind: str = ""  # "scored", "tabular", "facts", "none"
    is_lists: bool = False

    def text(self, doc: Document) -> str:
        return "\n".join(doc.text[s:e] for s, e in self.spans)


def _without(doc: Document, start: int, end: int, cut: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) outside the furniture lines, each with some text."""
    out, pos = [], start
    for s, e in cut:
        if e <= start or s >= end:
            continue
        if s > pos:
            out.append((pos, s))
        pos = max(pos, min(e + 1, end))
    if pos < end:
        out.append((pos, end))
    return [(s, e) for s, e in out if doc.text[s:e].strip()]


def _kind(doc: Document, p: _Piece, scored: bool) -> str:
    text = p.text(doc)
    body = text.strip()
    title = plain(p.sec.title)  # 存在問題 / 改進措施 on mirror sites
    p.is_lists = bool(LISTS_TITLE.search(title)) and \
        len(body) > len(p.sec.title.strip()) + 2 and p.sec.kind != "table"
    if scored:
        return "scored"
    if p.sec.kind == "table" or _tabular(body):
        return "tabular"
    if p.is_lists:
        return "facts" if hinted_fields(text) else "none"
    return "facts" if may_state_a_fact(text) else "none"


def _tabular(text: str) -> bool:
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if len(lines) < 3:
        return False
    cells = sum(1 for ln in lines if "|" in ln or "\t" in ln)
    short = sum(1 for ln in lines if len(ln) <= 20)
    return cells >= 0.3 * len(lines) or short >= 0.6 * len(lines)


# -- score tables ------------------------------------------------------------------

def _runs(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Runs of scored/tabular pieces (short pieces between them bridge) holding a scored one; a title before."""
    runs, cur = [], []

    def close():
        while cur and cur[-1].kind not in ("scored", "tabular"):
            cur.pop()
        if any(q.kind == "scored" for q in cur):
            runs.append(list(cur))
        cur.clear()

    for i, p in enumerate(pieces):
        if p.kind in ("scored", "tabular") or (cur and _is_title(p) and not p.is_lists):
            cur.append(p)
            continue
        close()
        if i + 1 < len(pieces) and pieces[i + 1].kind in ("scored", "tabular") and _is_title(p):
            cur.append(p)
    close()
    for run in runs:
        for p in run:
            p.kind = "table"
    return runs


def _is_title(p: _Piece) -> bool:
    return p.spans[-1][1] - p.spans[0][0] <= 120


_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")  # a title of only cell separators (| |) is none


def _table_calls(doc: Document, pieces: list[_Piece]) -> list[Call]:
    calls: list[Call] = []
    for run in _runs(pieces):
        spans = [(s, e) for p in run for s, e in p.spans]
        title = next((p.sec.title for p in run if p.sec.title != "表格" and _WORD.search(p.sec.title)), "评分表")
        chunks = _split(doc, spans)
        for n, chunk in enumerate(chunks):
            last = calls[-1] if calls else None
            if last is not None and last.size + sum(e - s for s, e in chunk) <= MAX_TABLE_CHARS:
                call = last
            else:
                call = Call("score_table")
                calls.append(call)
            for k, (s, e) in enumerate(chunk):
                if len(chunks) == 1 or n == 0:
                    call.add(s, e, title)
                else:
                    call.add(s, e, f"{title}（表头）" if k == 0 else f"{title}（续{n}）")
            call.hint(hinted_fields(" ".join(doc.text[s:e] for s, e in chunk)))
    return calls


# a line that starts a group of rows: a framework's 一级/二级 label or a project's header
_GROUP = re.compile(r"^[\s|]*(?:产出指标|效益指标|满意度指标|成本指标|决策|过程|产出|效益|满意度|管理|"
                    r"数量指标|质量指标|时效指标|经济效益|社会效益|生态效益|可持续|服务对象|项目名称|[一二三四五六七八九十]、)")


def _split(doc: Document, spans: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """A run too long for one call: chunks between rows, each after the table's header (furniture stays out)."""
    if sum(e - s for s, e in spans) <= MAX_TABLE_CHARS:
        return [spans]
    start, end = spans[0][0], spans[-1][1]
    header_end = _header_end(doc.text, start, end)
    chunks: list[list[tuple[int, int]]] = []
    pos = start
    while pos < end:
        limit = pos + (MAX_TABLE_CHARS - (header_end - start if chunks else 0))
        cut = end if limit >= end else _cut(doc.text, max(pos + 1, header_end + 1), limit)
        ranges = [(pos, cut)] if not chunks else [(start, header_end), (pos, cut)]
        chunks.append([(max(s, a), min(e, b)) for a, b in ranges for s, e in spans if s < b and a < e])
        pos = cut
    return chunks


def _header_end(text: str, start: int, end: int) -> int:
    """The end of the line where the header's score columns end (a few lines at most)."""
    pos = start
    seen = 0
    while pos < end and seen < 30:
        nl = text.find("\n", pos, end)
        nl = end if nl < 0 else nl
        if score_table_marks(text[start:nl]):
            return min(nl + 1, end)
        pos, seen = nl + 1, seen + 1
    return min(start + 600, end)


def _cut(text: str, lo: int, hi: int) -> int:
    """A line start in (lo, hi]: before a group label if one is in the second half, never after a bare label."""
    starts = [m.end() for m in re.finditer("\n", text[lo:hi])]
    starts = [lo + s for s in starts] or [hi]
    half = lo + (hi - lo) // 2
    group = [s for s in starts if s >= half and _GROUP.match(text[s:text.find("\n", s) if "\n" in text[s:hi] else hi])]
    cut = group[-1] if group else starts[-1]
    prev = text.rfind("\n", lo, cut - 1)
    label = text[prev + 1:cut].strip(" \t|\n")
    if label and len(label) <= 12 and not re.search(r"\d", label) and prev + 1 > lo:
        cut = prev + 1  # keep a group label with its rows
    return cut


# -- facts -----------------------------------------------------------------------

def _facts_calls(doc: Document, pieces: list[_Piece], furniture: list[tuple[int, int]],
                 sign_off: tuple[int, int] | None) -> list[Call]:
    calls: list[Call] = []
    current: Call | None = None
    for i, p in enumerate(pieces):
        cover = i == 0
        if p.kind not in ("facts", "tabular") and not (cover and p.kind == "none"):
            continue
        if current is None or current.size + sum(e - s for s, e in p.spans) > MAX_FACTS_CHARS:
            current = Call("facts")
            calls.append(current)
        for s, e in p.spans:
            current.add(s, e, p.sec.title)
        current.hint((identity_keys() if cover else []) + hinted_fields(p.text(doc)))
    covered = [(s, e) for c in calls for s, e in c.spans]
    extra = []
    if furniture:
        extra += [(s, e, FURNITURE_TITLE) for s, e in _join(doc.text, furniture)]
    if sign_off and not any(s <= sign_off[0] and sign_off[1] <= e for s, e in covered):
        extra.append((*sign_off, SIGN_OFF_TITLE))
    if extra:
        if not calls:
            calls.append(Call("facts"))
        first = calls[0]
        for s, e, title in extra:
            first.add(s, e, title)
        first.hint(identity_keys())
    return calls


def _join(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Furniture lines next to each other (blank lines between allowed) as one span."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and not text[out[-1][1]:s].strip():
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out
