"""Evidence for values read from tables: the value's own cell, and the cells that say what it is.

A reviewer checks a value from a table by its cell: the number's characters are highlighted, its row's
label and its column's header lightly (`Evidence.context`). A score row or project keeps its whole row as
evidence, with each value's cell in `Evidence.cells`, so the grid can point at the cell a reviewer edits.
Every span comes from the cells the document's tables already have (`Document.tables`, `Document.rebuilt`);
text is searched only inside a cell. Pure functions of the document.
"""

from __future__ import annotations

import re
import unicodedata

from service.core.numbers import same_number
from service.document import Cell, Document, Table
from service.models import Evidence

Span = tuple[int, int]
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_POINTS = re.compile(r"[（(]\s*\d+(?:\.\d+)?\s*分\s*[)）]")


def span(cell: Cell | None) -> Span | None:
    """A cell's span, None for an empty one (a merged or missing cell stands at one offset)."""
    return (cell.start, cell.end) if cell is not None and cell.end > cell.start else None


def spans(cells, leave_out: Span | None = None) -> list[Span]:
    """The spans of the non-empty `cells`, once each, without any that overlap `leave_out`."""
    out: list[Span] = []
    for c in cells:
        s = span(c)
        if s and s not in out and not (leave_out and s[0] < leave_out[1] and leave_out[0] < s[1]):
            out.append(s)
    return out


def number_span(text: str, cell: Cell) -> Span:
    """The characters of the one number in `cell` (2946.602828 of 2946.602828万元); the whole cell when it
    holds none or several."""
    found = list(_NUMBER.finditer(text, cell.start, cell.end))
    if len(found) != 1:
        return cell.start, cell.end
    return found[0].start(), found[0].end()


def cell_evidence(text: str, cell: Cell, context=()) -> Evidence:
    """A value's evidence in the document's `text`: the number in its cell, and the spans of the `context`
    cells (row label, column header) that are not the cell itself."""
    s, e = number_span(text, cell)
    return Evidence(text[s:e], s, e, context=spans(context, leave_out=(cell.start, cell.end)))


def cell_of_row(text: str, row: Evidence, key: str) -> Evidence:
    """The evidence of one value of a row read from a table: the number in its cell, the row's name as
    context; the whole row when the value's cell is not known."""
    if key not in row.cells:
        return row
    s, e = row.cells[key]
    name = row.cells.get("name")
    return cell_evidence(text, Cell(text[s:e], s, e), [Cell("", *name)] if name else ())


def row_label(row: list[Cell], cell: Cell) -> Cell | None:
    """The first cell of `row` before `cell` with words in it: what the row is (年度资金总额, 基本支出)."""
    for c in row:
        if c.start >= cell.start:
            return None
        if c.text.strip() and not _NUMBER.fullmatch(_fold(c.text).rstrip("%万元分")):
            return c
    return None


def table_cells(doc: Document, start: int, end: int) -> list[Cell]:
    """The non-empty cells of every table (grids and rebuilt ones) that lie within text[start:end], in order,
    once each."""
    seen: dict[Span, Cell] = {}
    for table in [*doc.tables, *doc.rebuilt]:
        if table.end <= start or table.start >= end:
            continue
        for row in table.rows:
            for c in row:
                s = span(c)
                if s and start <= s[0] and s[1] <= end and s not in seen:
                    seen[s] = c
    return [seen[s] for s in sorted(seen)]


def table_of(doc: Document, start: int, end: int) -> Table | None:
    """The table (a grid, else a rebuilt one) with a cell inside text[start:end]."""
    for table in [*doc.tables, *doc.rebuilt]:
        if any(start <= c.start and c.end <= end and c.end > c.start for row in table.rows for c in row):
            return table
    return None


def row_of(doc: Document, cell: Cell) -> list[Cell]:
    """The row of a table (a grid's, else a rebuilt one's) that `cell` stands in; [] when none."""
    for table in [*doc.tables, *doc.rebuilt]:
        for row in table.rows:
            if any(c.start == cell.start and c.end == cell.end for c in row):
                return row
    return []


def value_cell(doc: Document, value, start: int, end: int) -> Cell | None:
    """The one table cell within text[start:end] that states the number `value`, None when none or several do."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    hits = [c for c in table_cells(doc, start, end) if same_number(_cell_number(doc.text, c), value)]
    return hits[0] if len(hits) == 1 else None


# -- the cells of a row's values ----------------------------------------------------------------

TEXT_KEYS = ("level1", "level2", "name", "target", "actual", "remark")


def row_cells(cells: list[Cell], values: dict, text: str) -> dict[str, Span]:
    """Which of a row's `cells` holds each of its `values` (name, level1, weight, score, budget_full_year …):
    a text value in the cell that reads the same, a number in a cell that holds only it. Values that read
    alike share out the cells that hold them in the order tables print them (指标值 before 完成值, 分值 before
    得分), or all point at the one cell that holds them (a merged 扣分项 cell is its 一级指标 and its name).
    A value found in more or fewer places than that is left out."""
    out: dict[str, Span] = {}
    texts = {k: _text_key(values.get(k)) for k in TEXT_KEYS if _text_key(values.get(k))}
    for want in dict.fromkeys(texts.values()):
        group = [k for k in TEXT_KEYS if texts.get(k) == want]
        _share(out, group, [c for c in cells if _text_key(c.text) == want])
    numbers = {k: v for k, v in values.items() if k not in TEXT_KEYS and isinstance(v, int | float)
               and not isinstance(v, bool)}
    taken = set(out.values())
    for want in dict.fromkeys(numbers.values()):
        group = [k for k in numbers if same_number(numbers[k], want)]
        if any(k in out for k in group):
            continue
        _share(out, group, [c for c in cells if span(c) not in taken and same_number(_cell_number(text, c), want)])
    return out


def _share(out: dict[str, Span], group: list[str], hits: list[Cell]) -> None:
    if len(hits) == 1:
        out.update(dict.fromkeys(group, span(hits[0])))
    elif len(hits) == len(group):
        out.update(zip(group, (span(c) for c in hits), strict=True))


def _fold(s: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", s or ""))


def _text_key(s) -> str:
    return _POINTS.sub("", _fold(str(s))).rstrip("。;；,，") if s is not None else ""


def _cell_number(text: str, cell: Cell) -> float | None:
    """The number a cell holds, when it holds one and little else (10, 10分, 97.5%, 1,234.5万元)."""
    t = _fold(text[cell.start:cell.end])
    m = re.fullmatch(r"([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?:%|万元|元|分|人|个)?", t)
    return float(m.group(1).replace(",", "")) if m else None


