"""Tables that arrive flattened in text, rebuilt as rows of cells.

Three flattenings are recognised, and each gives the same cell texts:

* tab form (Word exported to text; also what `DocumentBuilder.add_table`
  writes): every cell starts a line with a tab, a cell's further lines follow
  without one, a blank line ends the row;
* tab-separated rows: one row per line, cells separated by single tabs
  (spreadsheets and WPS/Word exports), empty cells kept so that a merged
  一级指标 left blank keeps every later cell in its column. A line that
  starts with a tab but carries a further tab before more text is such a
  row, not a cell of the tab form;
* pipe form: one row per line, cells separated by `|` (Markdown, OCR rows);
* space form: one row per line, cells separated by runs of two or more
  spaces or tabs (PDF text layers), at least three cells on two lines or more.

A score table run together on one line, or otherwise flattened so that only
the order of its cells is left, is rebuilt by `service.ingest.stream_tables`.

Every cell's `start`/`end` point at its text with surrounding whitespace
trimmed, so `text[cell.start:cell.end] == cell.text`.
"""

from __future__ import annotations

import re

from service.core.genre import is_furniture
from service.document import Cell, Document, Table

_WS = " \t\u3000\xa0"
_SPACE_SPLIT = re.compile(r"(?:[ \u3000\xa0]{2,}|\t+)")
PAGE_NUMBER = re.compile(r"^\s*(-\s*\d+\s*-|第\s*\d+\s*页(\s*[,，/]?\s*共\s*\d+\s*页)?|\d{1,3})\s*$")
_PIPE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def find_tables(text: str) -> list[Table]:
    """All flattened tables of `text`, in order; tab form wins where forms overlap."""
    lines = _lines(text)
    tables = _tab_tables(text, lines)
    taken = [(t.start, t.end) for t in tables]
    for t in _tsv_tables(text, lines) + _pipe_tables(text, lines) + _space_tables(text, lines):
        if not any(s < t.end and t.start < e for s, e in taken):
            tables.append(t)
            taken.append((t.start, t.end))
    return sorted(tables, key=lambda t: t.start)


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, end excluding the newline."""
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def trimmed_cell(text: str, start: int, end: int) -> Cell:
    while start < end and text[start] in _WS + "\n":
        start += 1
    while end > start and text[end - 1] in _WS + "\n":
        end -= 1
    return Cell(text=text[start:end], start=start, end=end)


# -- tab form ---------------------------------------------------------------

def _tab_tables(text: str, lines: list[tuple[int, int]]) -> list[Table]:
    tables: list[Table] = []
    rows: list[list[Cell]] = []
    row: list[list[int]] = []  # cells as [start, end]
    prev_blank = True
    t_start = t_end = 0

    def close_row():
        nonlocal row, t_end
        if row:
            rows.append([trimmed_cell(text, s, e) for s, e in row])
            t_end = row[-1][1]
            row = []

    def close_table():
        nonlocal rows
        close_row()
        if _is_table(rows):
            tables.append(Table(start=t_start, end=t_end, rows=rows, origin="tab"))
        rows = []

    for i, (s, e) in enumerate(lines):
        line = text[s:e]
        if _is_tsv_row(line):
            close_table()  # a tab-separated row, read by _tsv_tables
            prev_blank = False
        elif line.startswith("\t"):
            if not rows and not row:
                t_start = s
            row.append([s + 1, e])
            prev_blank = False
        elif not line.strip(_WS) or ((rows or row) and PAGE_NUMBER.match(line)):
            close_row()  # a blank line, or a page number printed between the rows of a table
            prev_blank = True
        elif row and not prev_blank:
            row[-1][1] = e  # continuation line of the open cell
        elif rows and prev_blank and _blank_inside_cell(text, lines, i):
            row = [[c.start, c.end] for c in rows.pop()]  # reopen the row: the blank was inside a cell
            row[-1][1] = e
            prev_blank = False
        else:
            close_table()
            prev_blank = False
    close_table()
    return tables


# -- tab-separated rows -------------------------------------------------------------

def _is_tsv_row(line: str) -> bool:
    """Two or more tab-separated cells with text: a row, even when its first cells are empty."""
    return sum(1 for part in line.split("\t") if part.strip(_WS)) >= 2


def _tsv_tables(text: str, lines: list[tuple[int, int]]) -> list[Table]:
    tables, run = [], []
    for s, e in [*lines, (len(text), len(text))]:
        if e > s and _is_tsv_row(text[s:e]):
            run.append(_tsv_cells(text, s, e))
            continue
        if len(run) >= 2 and max(len(r) for r in run) >= 3:
            tables.append(Table(start=run[0][0].start, end=run[-1][-1].end, rows=run, origin="tsv"))
        run = []
    return tables


def _tsv_cells(text: str, s: int, e: int) -> list[Cell]:
    cells, pos = [], s
    for part in text[s:e].split("\t"):
        cells.append(trimmed_cell(text, pos, pos + len(part)))
        pos += len(part) + 1
    return cells


_TITLE = re.compile(r"(表|附件\s*[0-9一二三四五六七八九十]*)[:：]?\s*$|^\s*附件")


def _blank_inside_cell(text: str, lines: list[tuple[int, int]], i: int) -> bool:
    """A plain line after a single blank line, inside a table, continues the last cell
    when the table resumes (a tab line) before any second blank line or title line."""
    if i >= 2 and not text[slice(*lines[i - 2])].strip(_WS):
        return False  # two blank lines: the table ended
    for s, e in lines[i:]:
        line = text[s:e]
        if line.startswith("\t"):
            return True
        if _TITLE.search(line):
            return False
    return False


def _is_table(rows: list[list[Cell]]) -> bool:
    """A lone indented line is a paragraph, not a table."""
    cells = sum(len(r) for r in rows)
    return cells >= 2


# -- pipe form --------------------------------------------------------------

def _pipe_tables(text: str, lines: list[tuple[int, int]]) -> list[Table]:
    tables, run = [], []
    for s, e in lines + [(len(text), len(text))]:
        line = text[s:e]
        if line.count("|") >= 1 and not line.startswith("\t") and len(_pipe_cells(text, s, e)) >= 2:
            run.append((s, e))
            continue
        if run and _PIPE_RULE.match(line) and line.strip():
            continue
        if len(run) >= 2 or (run and len(_pipe_cells(text, *run[0])) >= 3):
            rows = [_pipe_cells(text, a, b) for a, b in run if not _PIPE_RULE.match(text[a:b])]
            tables.append(Table(start=run[0][0], end=run[-1][1], rows=rows, origin="pipe"))
        run = []
    return tables


def _pipe_cells(text: str, s: int, e: int) -> list[Cell]:
    line = text[s:e]
    bounds, pos = [], 0
    for part in line.split("|"):
        bounds.append((s + pos, s + pos + len(part)))
        pos += len(part) + 1
    stripped = line.strip(_WS)
    if stripped.startswith("|"):
        bounds = bounds[1:]
    if stripped.endswith("|"):
        bounds = bounds[:-1]
    return [trimmed_cell(text, a, b) for a, b in bounds]


# -- space form -------------------------------------------------------------

def _space_cells(text: str, s: int, e: int) -> list[Cell]:
    line = text[s:e]
    cells, pos = [], 0
    for m in _SPACE_SPLIT.finditer(line):
        if m.start() > pos:
            cells.append(trimmed_cell(text, s + pos, s + m.start()))
        pos = m.end()
    if pos < len(line):
        cells.append(trimmed_cell(text, s + pos, e))
    return [c for c in cells if c.text]


def _space_tables(text: str, lines: list[tuple[int, int]]) -> list[Table]:
    tables, run = [], []
    for s, e in lines + [(len(text), len(text))]:
        line = text[s:e]
        cells = _space_cells(text, s, e) if not line.startswith("\t") and "|" not in line else []
        if len(cells) >= 3:
            run.append(cells)
            continue
        if len(run) >= 2:
            tables.append(Table(start=run[0][0].start, end=run[-1][-1].end, rows=run, origin="spaces"))
        run = []
    return tables


def join_page_breaks(doc: Document) -> None:
    """Tables broken by a page, joined again: a table that starts the page after the one the table before it
    ended on, with nothing between them but page furniture (a page number, a running header) and about as
    many columns (a score table's rows may have one more than its money rows), is the rest of it. A header
    row repeated at the top of the next page is dropped. Every reader's tables go through this one step."""
    out: list[Table] = []
    for t in sorted(doc.tables, key=lambda t: t.start):
        prev = out[-1] if out else None
        if prev is not None and _goes_on(doc, prev, t):
            rows = t.rows[1:] if [c.text for c in t.rows[0]] == [c.text for c in prev.rows[0]] else t.rows
            prev.rows += rows
            prev.end = t.end
            continue
        out.append(t)
    doc.tables = out


def _goes_on(doc: Document, before: Table, table: Table) -> bool:
    if not before.rows or not table.rows or table.start < before.end:
        return False
    if doc.page_at(table.start) != doc.page_at(max(before.end - 1, before.start)) + 1:
        return False
    if abs(max(map(len, before.rows)) - max(map(len, table.rows))) > 2:
        return False
    gap = doc.text[before.end:table.start]
    return all(not line.strip() or is_furniture(line) for line in gap.split("\n"))
