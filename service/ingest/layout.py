"""Positioned text into lines and tables: the layout step shared by the PDF reader and OCR.

A text PDF gives characters with their boxes, OCR gives boxes of words or
phrases; neither says where a table's cells are. `lay_out` rebuilds that
from the positions alone (ruling lines are not used):

1. boxes whose vertical extents overlap form one visual line, read left to
   right;
2. a line is cut into cells at horizontal gaps wider than `cell_gap` median
   character widths (and at a `|` box: a ruling line OCR read as text);
   inside a cell, boxes are joined without a separator (Chinese), or with a
   space between two Latin letters or digits;
3. a run of two or more lines with two or more cells each is a table
   region. Single-cell lines among them (a row with one filled cell, a
   wrapped cell's further lines) belong to it when they stay inside one
   column and are in the table's font, and so do such lines right after
   it that start at a column's text and are spaced like its rows;
4. the region's column boundaries are where the gaps between neighbouring
   cells of its lines agree (narrowest gaps first; every line's gaps are
   honoured, each boundary placed where the fewest cells run across it),
   plus one in every strip of white no cell crosses (columns whose cells
   never share a line). Each cell goes to the column it overlaps most, and
   a column a row has no cell in gets "" - a merged cell, as in the tab form
   of `service.document` - so every row has one text per column;
5. a line that continues the row above is a wrapped cell's next line and is
   joined to the cell above: all its cells stand under cells of that row
   that have text, and it is one line pitch below where rows are spaced
   wider than lines; where they are not, only text that filled its column
   continues, and a number stands on its own unless it finishes a number
   cut at the column's edge. Evenly spaced lines well over a line's height
   apart are rows, never continuations.

Lines outside tables that were wrapped at the right margin are joined back
into their paragraph (not a line opening with a heading or list number, nor
an indented one). `lay_out_pages` lays out a whole document and keeps a
table that runs over page breaks on one set of columns, marking the later
parts `continued`; `lay_out` does it page by page from the previous page's
columns. `write_blocks` writes a page's blocks through a `DocumentBuilder`
and joins continued parts into one table.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from statistics import median

from service.document import DocumentBuilder, OcrLine, Table

CELL_GAP = 1.5  # a gap wider than this many median character widths separates cells
RULES = ("|", "｜")  # a box of just this is a table's ruling line read as text: a cell boundary
_LATIN = re.compile(r"[0-9A-Za-z]")
_LETTER = re.compile(r"[A-Za-z]")
_NUMERIC = re.compile(r"^[-+]?[\d.,，%％]+$")
_WRAPPABLE_END = re.compile(r"[\d.,，]$")
PAGE_NUMBER = re.compile(r"^\s*(-\s*\d+\s*-|第\s*\d+\s*页(\s*[,，/]?\s*共\s*\d+\s*页)?|\d{1,3})\s*$")
# A line opening with a heading or list number starts a paragraph of its own.
_OPENS_ITEM = re.compile(r"^\s*([一二三四五六七八九十]{1,3}\s*[、.．]|[（(]\s*[一二三四五六七八九十\d]{1,3}\s*[)）]"
                         r"|\d{1,2}\s*[、．]|\d{1,2}\.(?!\d)|[①②③④⑤⑥⑦⑧⑨⑩]|附件|第[一二三四五六七八九十\d]+[章节条部分])")


@dataclass
class Box:
    """A piece of text on a page: x grows to the right, y grows downwards."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float = 1.0
    # OCR: each character's left and right x, as the recogniser placed it (None: not known)
    xs: tuple[tuple[float, float], ...] | None = None

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass
class TextLine:
    """Text outside tables: one visual line, or a paragraph's lines wrapped at the margin.

    Cells of a line with wide gaps are joined by a space.
    """

    text: str
    boxes: list[Box]
    confidence: float

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return _bbox(self.boxes)


@dataclass
class TableBlock:
    """A rebuilt table: every row has one text per column ("" where the row has no cell)."""

    rows: list[list[str]]
    confidences: list[list[float]]  # per cell; 1.0 for an empty cell
    cell_boxes: list[list[tuple[float, float, float, float] | None]]
    separators: list[float]  # x of the boundaries between columns
    continued: bool = False  # the rest of a table that began on an earlier page, on its columns

    @property
    def n_cols(self) -> int:
        return len(self.separators) + 1


Block = TextLine | TableBlock


# -- lines and cells ----------------------------------------------------------

@dataclass
class _Cell:
    boxes: list[Box]
    text: str = ""
    col: int = -1
    line: int = -1  # index of its line in its table region

    def __post_init__(self) -> None:
        self.text = _join_boxes(self.boxes)

    @property
    def x0(self) -> float:
        return min(b.x0 for b in self.boxes)

    @property
    def x1(self) -> float:
        return max(b.x1 for b in self.boxes)

    @property
    def confidence(self) -> float:
        return min(b.confidence for b in self.boxes)


@dataclass
class _Line:
    boxes: list[Box]
    cells: list[_Cell] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.y0 = min(b.y0 for b in self.boxes)
        self.y1 = max(b.y1 for b in self.boxes)
        self.x0 = min(b.x0 for b in self.boxes)
        self.x1 = max(b.x1 for b in self.boxes)
        self.height = median(b.height for b in self.boxes)
        self.yc = median(b.yc for b in self.boxes)

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells)

    def char_width(self) -> float:
        return (self.x1 - self.x0) / char_units(self.text)


@dataclass
class _Region:
    lines: list[_Line]
    char_w: float
    separators: list[float] = field(default_factory=list)
    continued: bool = False
    exact: bool = True  # box heights follow font sizes
    gap: float = 0.0  # the page's cell gap
    steps: list[float] = field(default_factory=list)  # line steps of the table's parts on other pages

    def own_steps(self) -> list[float]:
        return [b.yc - a.yc for a, b in zip(self.lines, self.lines[1:], strict=False)]


def char_units(text: str) -> float:
    """Text width in full-width characters: Latin letters, digits and ASCII punctuation count half."""
    return sum(0.5 if ord(ch) < 128 else 1.0 for ch in text) or 1.0


def _join(left: str, right: str, letters_only: bool = False) -> str:
    """Two pieces of one text: a space only between two Latin letters (or digits, unless `letters_only`)."""
    if not left or not right:
        return left + right
    rx = _LETTER if letters_only else _LATIN
    if rx.match(left[-1]) and rx.match(right[0]):
        return left + " " + right
    return left + right


def _join_boxes(boxes: list[Box]) -> str:
    text = ""
    for b in boxes:
        text = _join(text, b.text.strip())
    return text


def _bbox(boxes: list[Box]) -> tuple[float, float, float, float]:
    return (min(b.x0 for b in boxes), min(b.y0 for b in boxes),
            max(b.x1 for b in boxes), max(b.y1 for b in boxes))


def group_lines(boxes: list[Box]) -> list[list[Box]]:
    """Boxes into visual lines, top to bottom, each left to right.

    A box joins the line whose vertical extent it overlaps by at least half
    of the lower of the two heights.
    """
    lines: list[list[Box]] = []
    extents: list[list[float]] = []  # y0, y1 of each line
    for b in sorted(boxes, key=lambda b: (b.yc, b.x0)):
        best, best_overlap = None, 0.0
        for i in range(len(lines) - 1, max(-1, len(lines) - 4), -1):  # only the last few lines can match
            y0, y1 = extents[i]
            overlap = min(y1, b.y1) - max(y0, b.y0)
            need = 0.5 * max(min(b.height, median(x.height for x in lines[i])), 1e-6)
            if overlap >= need and overlap > best_overlap:
                best, best_overlap = i, overlap
        if best is None:
            lines.append([b])
            extents.append([b.y0, b.y1])
        else:
            lines[best].append(b)
            extents[best] = [min(extents[best][0], b.y0), max(extents[best][1], b.y1)]
    for line in lines:
        line.sort(key=lambda b: b.x0)
    return sorted(lines, key=lambda line: median(b.yc for b in line))


def _split_cells(line: list[Box], gap: float) -> list[_Cell]:
    """A line's boxes cut into cells at wide gaps, and at `|` boxes (a ruling line read as text)."""
    cells: list[list[Box]] = [[]]
    for cur in line:
        if cur.text.strip() in RULES:
            cells.append([])
        elif cells[-1] and cur.x0 - max(b.x1 for b in cells[-1]) > gap:
            cells.append([cur])
        else:
            cells[-1].append(cur)
    return [_Cell(c) for c in cells if c]


# -- pages --------------------------------------------------------------------

def lay_out(boxes: list[Box], page_width: float, *, cell_gap: float = CELL_GAP,
            separators: list[float] | None = None, exact_heights: bool = True) -> list[Block]:
    """Text lines and tables of one page, top to bottom.

    `separators` are the column boundaries of a table that ended the
    previous page: a table at the top of this page whose gaps all fall on
    them is laid out on the same columns and marked `continued`.
    `exact_heights` says box heights follow font sizes (a PDF's do; OCR boxes'
    vary by a fifth): then a line in another font size is never a table's row.
    """
    items = _page_items(boxes, page_width, cell_gap, exact_heights)
    if separators:
        k, _lead, first = _top(items)
        if first is None and k < len(items) and len(items[k].cells) > 1 \
                and _fits_columns(items[k], separators, 0.3 * items[k].char_width()):
            first = items[k] = _Region([items[k]], items[k].char_width(), exact=exact_heights)  # one row
        if first is not None and not _cuts_cells(_cell_spans(first.lines), separators, 0.3 * first.char_w):
            seps = column_separators(_cell_spans(first.lines), seed=separators)
            if len(seps) == len(separators):
                first.separators, first.continued = seps, True
    return _blocks(items, exact_heights)


def lay_out_pages(pages: list[tuple[list[Box], float]], *, cell_gap: float = CELL_GAP,
                  exact_heights: bool = True) -> list[list[Block]]:
    """The blocks of every page, a table split by page breaks kept on one set of columns.

    A table that ends a page (page numbers aside) and one that starts the
    next are one table when the columns of both laid out together cut
    through no cell of either (a part may lack columns the other has: they
    were empty there); lines in the table's font at the top of the next page
    that start at its columns and stay inside them are its rows too.
    """
    pages_items = [_page_items(boxes, width, cell_gap, exact_heights) for boxes, width in pages]
    tail: list[_Region] = []  # the parts so far of the table that ended the previous page
    for items in pages_items:
        if tail:
            k, lead, region = _top(items, tail[-1])
            lines = lead + (region.lines if region else [])
            spans = _cell_spans([ln for r in tail for ln in r.lines] + lines)
            joined = _with_holes([ln for r in tail for ln in r.lines] + lines, column_separators(spans), tail[-1].gap)
            if lines and not _cuts_cells(spans, joined, 0.3 * tail[-1].char_w):
                if region is None:
                    region = _Region([], tail[-1].char_w, exact=tail[-1].exact, gap=tail[-1].gap)
                    items.insert(k, region)
                region.lines[:0] = lead
                del items[k - len(lead):k]
                region.continued = True
                tail.append(region)
                steps = [s for r in tail for s in r.own_steps()]
                for r in tail:
                    r.separators = joined
                    r.steps = steps
        last = _trailing_region(items)
        if last is None:
            tail = []
        elif not (tail and last is tail[-1]):
            tail = [last]
    return [_blocks(items, exact_heights) for items in pages_items]


def _page_items(boxes: list[Box], page_width: float, cell_gap: float, exact: bool) -> list[_Line | _Region]:
    """A page's lines, with the lines of each table region gathered into a `_Region`."""
    boxes = [b for b in boxes if b.text.strip()]
    if not boxes:
        return []
    text_boxes = [b for b in boxes if b.text.strip() not in RULES] or boxes
    char_w = median((b.x1 - b.x0) / char_units(b.text.strip()) for b in text_boxes) or 1.0
    gap = max(cell_gap * char_w, 0.002 * page_width)
    lines = [_Line(line) for line in group_lines(boxes) if any(b.text.strip() not in RULES for b in line)]
    for line in lines:
        line.cells = _split_cells(line.boxes, gap)
    items: list[_Line | _Region] = []
    i = 0
    while i < len(lines):
        end = _region_end(lines, i, char_w, exact)
        if end is None:
            items.append(lines[i])
            i += 1
        else:
            region = _Region(lines[i:end], char_w, exact=exact, gap=gap)
            region.separators = _with_holes(region.lines, column_separators(_cell_spans(region.lines)), gap)
            items.append(region)
            i = end
    return items


def _cuts_cells(spans: list[list[tuple[float, float]]], seps: list[float], tol: float) -> bool:
    return any(x0 + tol < s < x1 - tol for cells in spans for x0, x1 in cells for s in seps)


def _cell_spans(lines: list[_Line]) -> list[list[tuple[float, float]]]:
    return [[(c.x0, c.x1) for c in line.cells] for line in lines if len(line.cells) > 1]


def _top(items: list[_Line | _Region], table: _Region | None = None) -> tuple[int, list[_Line], _Region | None]:
    """The table region at the top of a page (page numbers aside), if any, and where it is.

    With `table` (the one that ended the previous page), also the single-cell
    lines above that region, or alone at the top, that fit that table's font
    and columns: (index of the region or of where it would be, those lines, region).
    """
    k = 0
    while k < len(items) and isinstance(items[k], _Line) and PAGE_NUMBER.match(items[k].text):
        k += 1
    lead: list[_Line] = []
    while table is not None and k < len(items) and isinstance(items[k], _Line) and _fits_table(items[k], table):
        lead.append(items[k])
        k += 1
    region = items[k] if k < len(items) and isinstance(items[k], _Region) else None
    return k, lead, region


def _fits_columns(line: _Line, seps: list[float], tol: float) -> bool:
    """No cell of the line runs across a boundary, and every gap between its cells holds one."""
    if _cuts_cells(_cell_spans([line]), seps, tol):
        return False
    return all(any(g0 <= s <= g1 for s in seps) for g0, g1 in _gaps(line))


def _trailing_region(items: list[_Line | _Region]) -> _Region | None:
    k = len(items) - 1
    while k >= 0 and isinstance(items[k], _Line) and PAGE_NUMBER.match(items[k].text):
        k -= 1
    return items[k] if k >= 0 and isinstance(items[k], _Region) else None


def _fits_table(line: _Line, region: _Region) -> bool:
    """A line in the table's font whose cells start at its columns' text and stay in their columns."""
    if not region.lines:
        return False
    height = median(ln.height for ln in region.lines)
    first_column = min(ln.x0 for ln in region.lines)
    if not _same_font(line, height, region.exact and line.x0 <= first_column + region.char_w):
        return False
    if len(line.cells) > 1:
        return _fits_columns(line, region.separators, 0.3 * region.char_w)
    starts = [c.x0 for ln in region.lines for c in ln.cells]
    if not any(abs(line.x0 - x) <= region.char_w for x in starts):
        return False
    return not any(line.x0 < s < line.x1 for s in region.separators)


def _region_end(lines: list[_Line], i: int, char_w: float, exact: bool) -> int | None:
    """End (exclusive) of the table region starting at line i, or None if no table starts there."""
    if len(lines[i].cells) < 2:
        return None
    height = lines[i].height
    left, right = lines[i].x0, lines[i].x1
    first_column = left
    gaps = _gaps(lines[i])
    steps: list[float] = []  # steps down to each multi-cell line: the table's row and line pitches
    last_multi = i
    j = i + 1
    while j < len(lines):
        line, prev = lines[j], lines[j - 1]
        if not _same_font(line, height, exact and len(line.cells) < 2 and line.x0 <= first_column + char_w):
            break  # another font size: a heading or a paragraph
        step = line.yc - prev.yc
        limit = max(1.5 * max(steps, default=0.0), 2.5 * height)
        if len(line.cells) < 2:
            if step > limit and not (step <= 4 * limit and _starts_a_column(line, lines[i:j], char_w)):
                break  # far below, and not a cell of the table's (empty rows only make a gap)
            tol = 0.6 * char_w
            if line.x0 < left - tol or line.x1 > right + tol:
                break  # wider than the table: a paragraph
            if any(line.x0 < g0 and g1 < line.x1 for g0, g1 in gaps):
                break  # runs across a column boundary: not a cell
        else:
            first_column = min(first_column, line.x0)
            own = _gaps(line)
            same_columns = all(any(g0 < h1 and h0 < g1 for h0, h1 in gaps) for g0, g1 in own)
            if step > limit and not (same_columns and step <= 4 * limit):
                break  # far below, on other columns: another table (empty rows only make a gap)
            left, right = min(left, line.x0), max(right, line.x1)
            gaps += own
            last_multi = j
            steps.append(min(step, limit))
        j += 1
    if last_multi == i:
        return None  # a lone line with gaps is not a table
    end = last_multi + 1
    # Single-cell lines after the last multi-cell line: a wrapped cell's further lines, or rows
    # with one filled cell, when they start at a column and are spaced like the table's rows. A
    # paragraph after the table starts at the first column's text too (Word aligns them), but
    # never at a later column's: there a line in exactly the table's font may come after a
    # wider gap (empty paragraphs inside a cell).
    row_step = max(steps)
    limit = max(1.5 * row_step, 2.5 * height)
    while end < j:
        line = lines[end]
        if not _starts_a_column(line, lines[i:end], char_w):
            break
        step = line.yc - lines[end - 1].yc
        if step > 1.15 * row_step:
            later_column = line.x0 > first_column + char_w
            same_font = exact and abs(line.height - height) <= 0.03 * height
            if not (later_column and (step <= limit or same_font)):
                break
        end += 1
    return end


def _same_font(line: _Line, height: float, strict: bool) -> bool:
    """Is the line's text about as tall as the table's? `strict` for a line that could be a paragraph.

    OCR boxes of a word or two vary in height, and a box of one character or a
    punctuation mark says nothing: those pass unless the check is strict.
    """
    if not strict and char_units(line.text) < 2:
        return True
    lo, hi = (0.85, 1.18) if strict else (0.7, 1.4)
    return lo * height <= line.height <= hi * height


def _starts_a_column(line: _Line, lines: list[_Line], char_w: float) -> bool:
    """Does the line start where a cell of `lines` starts (left-aligned text of one column)?"""
    return any(abs(line.x0 - c.x0) <= 0.5 * char_w for ln in lines for c in ln.cells)


def _gaps(line: _Line) -> list[tuple[float, float]]:
    return [(a.x1, b.x0) for a, b in zip(line.cells, line.cells[1:], strict=False)]


# -- columns ------------------------------------------------------------------

def column_separators(lines: list[list[tuple[float, float]]], seed: list[float] | None = None) -> list[float]:
    """x of the column boundaries of a table whose lines have cells at these x-intervals.

    Every gap between two neighbouring cells of a line is an interval the
    boundary must fall in. Gaps are taken narrowest first: a gap that holds
    a boundary already found supports it, one that overlaps the gaps of a
    boundary narrows it to where they agree, and any other gap makes a new
    boundary. `seed` boundaries (a previous page's columns) are fixed points.
    """
    gaps = [(a[1], b[0]) for cells in lines for a, b in zip(cells, cells[1:], strict=False) if b[0] > a[1]]
    clusters: list[list[float]] = [[x, x] for x in seed or ()]  # [lo, hi] where the gaps agree
    for g0, g1 in sorted(gaps, key=lambda g: g[1] - g[0]):
        if any(g0 <= c[0] and c[1] <= g1 for c in clusters):
            continue  # holds a boundary already found
        overlapping = [c for c in clusters if c[0] < g1 and g0 < c[1]]
        if overlapping:
            c = max(overlapping, key=lambda c: min(c[1], g1) - max(c[0], g0))
            c[0], c[1] = max(c[0], g0), min(c[1], g1)
        else:
            clusters.append([g0, g1])
    cells = [c for line in lines for c in line]
    return sorted(_least_cut(lo, hi, cells) for lo, hi in clusters)


def _least_cut(lo: float, hi: float, cells: list[tuple[float, float]]) -> float:
    """The middle of the widest stretch of [lo, hi] that the fewest cells run across."""
    if hi <= lo:
        return lo
    inside = [(max(a, lo), min(b, hi)) for a, b in cells if a < hi and b > lo]
    if not inside:
        return (lo + hi) / 2
    points = sorted({lo, hi, *(x for a, b in inside for x in (a, b))})
    best = None
    for a, b in zip(points, points[1:], strict=False):
        m = (a + b) / 2
        cut = sum(1 for x0, x1 in inside if x0 < m < x1)
        key = (cut, -(b - a))
        if best is None or key < best[0]:
            best = (key, m)
    return best[1]


def _with_holes(lines: list[_Line], seps: list[float], gap: float) -> list[float]:
    """`seps` and a boundary in every vertical strip of white wider than `gap` that has none.

    Two columns whose cells never share a line leave no gap between
    neighbours to go by, but no cell of the table runs across the white between them.
    """
    spans = sorted((c.x0, c.x1) for line in lines for c in line.cells)
    out = list(seps)
    if not spans:
        return out
    right = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - right > gap and not any(right <= s <= x0 for s in out):
            out.append((right + x0) / 2)
        right = max(right, x1)
    return sorted(out)


def _assign(cells: list[_Cell], seps: list[float]) -> None:
    bounds = [float("-inf"), *seps, float("inf")]
    for c in cells:
        best, best_overlap = 0, float("-inf")
        for j in range(len(bounds) - 1):
            overlap = min(c.x1, bounds[j + 1]) - max(c.x0, bounds[j])
            if overlap > best_overlap + 1e-9:
                best, best_overlap = j, overlap
        c.col = best


def _table(region: _Region) -> TableBlock:
    seps = region.separators
    lines = region.lines
    char_w = region.char_w
    n = len(seps) + 1
    for line in lines:
        _assign(line.cells, seps)
    # The right edge of each column's text: a line that reaches it was wrapped, not ended.
    reach = [max((c.x1 for line in lines for c in line.cells if c.col == j), default=0.0) for j in range(n)]
    steps = region.own_steps()
    spacing = steps + region.steps  # the whole table's, when it runs over several pages
    height = median(line.height for line in lines)
    pitch = line_pitch(spacing, height)
    gap_tells = any(s > 1.25 * pitch for s in spacing)  # rows are spaced wider than a cell's lines
    # Lines of one cell stand about a line's height apart; evenly spaced lines much further apart
    # than that are rows, each one line tall.
    wraps = gap_tells or pitch <= 1.35 * height

    rows: list[list[list[_Cell]]] = []  # row -> column -> the pieces (one per visual line)
    for k, line in enumerate(lines):
        if not (rows and wraps and _is_continuation(line, rows[-1], steps[k - 1], pitch, gap_tells, reach,
                                                    char_w)):
            rows.append([[] for _ in range(n)])
        for c in line.cells:
            c.line = k
            rows[-1][c.col].append(c)

    out_rows, confs, cell_boxes = [], [], []
    for row in rows:
        texts, cs, bs = [], [], []
        for pieces in row:
            text = ""
            for i, p in enumerate(pieces):
                if i and p.line == pieces[i - 1].line:  # two cells of one line in one column
                    text += " " + p.text
                else:  # the next line of a wrapped cell
                    text = _join(text, p.text, letters_only=True)
            texts.append(text)
            cs.append(min((p.confidence for p in pieces), default=1.0))
            bs.append(_bbox([b for p in pieces for b in p.boxes]) if pieces else None)
        out_rows.append(texts)
        confs.append(cs)
        cell_boxes.append(bs)
    return TableBlock(rows=out_rows, confidences=confs, cell_boxes=cell_boxes, separators=list(seps),
                      continued=region.continued)


def line_pitch(steps: list[float], height: float) -> float:
    """The smallest step between lines of text `height` tall (a stray box can make a step tiny)."""
    return min((s for s in steps if s >= 0.6 * height), default=0.0)


def _is_continuation(line: _Line, row: list[list[_Cell]], step: float, pitch: float, gap_tells: bool,
                     reach: list[float], char_w: float) -> bool:
    """Is `line` the next visual line of cells in `row` (wrapped text) rather than a new row?"""
    if any(not row[c.col] for c in line.cells):
        return False  # text in a column where the row has none: a new row
    if gap_tells:  # rows stand further apart than a cell's lines: the spacing decides
        return step <= 1.25 * pitch
    # Rows as close as lines: only text that had to wrap continues, and a number stands on its own
    # unless it finishes a number cut at the column's edge.
    for c in line.cells:
        last = row[c.col][-1]
        if last.x1 < reach[c.col] - 1.5 * char_w:
            return False
        if _NUMERIC.match(c.text) and not _WRAPPABLE_END.search(last.text):
            return False
    return True


# -- paragraphs ---------------------------------------------------------------

def _blocks(items: list[_Line | _Region], exact: bool) -> list[Block]:
    """Tables as tables; lines as text, those wrapped at the right margin joined to the next."""
    text_lines = [it for it in items if isinstance(it, _Line) and len(it.cells) == 1]
    right = max((ln.x1 for ln in text_lines), default=0.0)
    left = min((ln.x0 for ln in text_lines), default=0.0)
    # The margin is where several lines end; a single long line is no evidence of wrapping.
    at_margin = [ln for ln in text_lines if ln.x1 >= right - 1.2 * ln.char_width()]
    wraps = len(at_margin) >= 2
    out: list[Block] = []
    prev: _Line | None = None
    for it in items:
        if isinstance(it, _Region):
            out.append(_table(it))
            prev = None
            continue
        if prev is not None and wraps and _wrapped_into(prev, it, left, right, exact):
            last = out[-1]
            assert isinstance(last, TextLine)
            last.text = _join(last.text, it.text, letters_only=True)
            last.boxes = last.boxes + it.boxes
            last.confidence = min(last.confidence, min(b.confidence for b in it.boxes))
        else:
            out.append(TextLine(text=it.text, boxes=list(it.boxes),
                                confidence=min(b.confidence for b in it.boxes)))
        prev = it
    return out


_UNBREAKABLE_START = re.compile(r"[0-9A-Za-z.,%‰％:：/\-]+")


def _wrapped_into(prev: _Line, line: _Line, left: float, right: float, exact: bool) -> bool:
    """Does `line` carry on the paragraph `prev` was wrapped out of at the right margin?"""
    if len(prev.cells) != 1 or len(line.cells) != 1:
        return False
    cw = prev.char_width()
    first = _UNBREAKABLE_START.match(line.text)  # a number or word that did not fit on the line above
    room = 1.2 + (0.6 * len(first.group()) if first else 0.0)
    if prev.x1 < right - room * cw or line.x0 > left + 0.5 * cw:
        return False  # the line above ended short, or this one is indented: a new paragraph
    spread = 0.1 if exact else 0.3  # OCR boxes' heights vary with the characters in them
    if not (1 - spread) * prev.height <= line.height <= (1 + spread) * prev.height:
        return False
    if not 0 < line.yc - prev.yc <= 2.0 * prev.height:
        return False
    return not _OPENS_ITEM.match(line.text)


# -- writing ------------------------------------------------------------------

@dataclass
class _Carry:
    table: Table
    separators: list[float]
    origin: str  # whose coordinates: a PDF's points and a scan's pixels do not mix


_CARRY: weakref.WeakKeyDictionary[DocumentBuilder, _Carry] = weakref.WeakKeyDictionary()


def carried_separators(builder: DocumentBuilder, origin: str) -> list[float] | None:
    """Columns of the table the builder's last page ended with (page numbers aside), if any.

    Only for a page laid out from the same kind of source (`origin`, as given to `write_blocks`).
    """
    carry = _CARRY.get(builder)
    if carry is None or carry.origin != origin or not builder.tables or builder.tables[-1] is not carry.table:
        return None
    return carry.separators


def write_blocks(builder: DocumentBuilder, blocks: list[Block], page: int, origin: str, *,
                 ocr: bool = False, map_box=None) -> None:
    """Write one page's blocks (after `builder.start_page`): lines as paragraphs, tables as tables.

    With `ocr`, lines go in as OCR lines with their confidence, and every
    non-empty table cell gets an OCR line of its own covering its text, so a
    doubtful cell can be sent to review; `map_box` maps a box to the page's
    coordinates for the record. A table marked `continued` is joined to the
    table that ended the previous page, when nothing but page numbers came
    between.
    """
    map_box = map_box or (lambda box: box)
    previous = builder.tables[-1] if carried_separators(builder, origin) is not None else None
    for block in blocks:
        if isinstance(block, TextLine):
            if ocr:
                pieces = [(b.text, map_box((b.x0, b.y0, b.x1, b.y1)),
                           None if b.xs is None else [map_box((a, b.y0, z, b.y1))[::2] for a, z in b.xs])
                          for b in block.boxes if b.text.strip() not in RULES]
                builder.add_ocr_line(page, block.text, block.confidence, map_box(block.bbox), pieces)
            else:
                builder.add_paragraph(block.text)
            if not PAGE_NUMBER.match(block.text):
                previous = None
                _CARRY.pop(builder, None)
            continue
        table = builder.add_table(block.rows, origin=origin)
        if ocr:
            for cells, confs, boxes in zip(table.rows, block.confidences, block.cell_boxes, strict=True):
                for cell, conf, box in zip(cells, confs, boxes, strict=True):
                    if cell.text:
                        builder.ocr_lines.append(OcrLine(page=page, start=cell.start, end=cell.end,
                                                         confidence=float(conf),
                                                         box=map_box(box) if box else None))
        if block.continued and previous is not None:
            previous.rows.extend(table.rows)
            previous.end = table.end
            builder.tables.remove(table)
            table = previous
        _CARRY[builder] = _Carry(table=table, separators=block.separators, origin=origin)
        previous = None  # only the first block of a page can continue the previous page's table


def unwrap(lines: list[str]) -> str:
    """A cell's lines, which are its text wrapped at the column's width, as one text again."""
    text = ""
    for line in lines:
        text = _join(text, line.strip(), letters_only=True)
    return text


def centre_inside(box: Box, bbox: tuple[float, float, float, float]) -> bool:
    """Does the box's centre fall inside `bbox` (x0, y0, x1, y1)?"""
    x, y = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    return bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]


def in_reading_order(blocks: list[Block], tables: list[tuple[float, TableBlock]]) -> list[Block]:
    """Lines and word-position tables of a page, and the ruled tables (each with its top), top to bottom."""
    def top(block) -> float:
        if isinstance(block, TableBlock):
            ys = [b[1] for row in block.cell_boxes for b in row if b]
            return min(ys, default=0.0)
        return block.bbox[1]
    placed = [(top(b), i, b) for i, b in enumerate(blocks)] + [(y, -1, t) for y, t in tables]
    return [b for _y, _i, b in sorted(placed, key=lambda x: (x[0], x[1]))]
