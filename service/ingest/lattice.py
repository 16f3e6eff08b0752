"""Ruled tables of a scanned page: the grid read from the ruling lines in the image, the OCR boxes put in its cells.

A printed 自评表 is a ruled grid, and a scan keeps the rules even where its
text wraps inside narrow cells and the column positions of the words say
little. So, as camelot's "lattice" mode and pdfplumber's line strategy do for
PDFs, the grid comes from the lines: horizontal and vertical strokes are
isolated by morphological opening (OpenCV), each connected set of them is a
table, its row and column lines are the strokes' positions, and a boundary
missing inside a row band (or a column band) marks a merged cell. Every OCR
box whose centre falls in a cell is that cell's text, its lowest confidence
the cell's. Those libraries read a PDF's vector lines; a scan has pixels,
which is why this step lives here, on top of OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from service.ingest.layout import Box, TableBlock, _join_boxes, centre_inside, unwrap

MIN_LINE_FRACTION = 1 / 40  # a stroke at least this share of the page's width (height) is a rule
MIN_TABLE_ROWS = 1  # a row taller than the page stands alone on it
MIN_TABLE_COLS = 3
_MERGE_PX = 6  # strokes closer than this are one line


@dataclass
class Grid:
    xs: list[float]  # column lines, left to right
    ys: list[float]  # row lines, top to bottom
    v_open: set[tuple[int, int]]  # (row band, interior column line) with no stroke: the cells are one
    h_open: set[tuple[int, int]]  # (interior row line, column band) with no stroke: the cells are one

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return self.xs[0], self.ys[0], self.xs[-1], self.ys[-1]

    def contains(self, box: Box) -> bool:
        return centre_inside(box, self.bbox)


def find_grids(bgr: np.ndarray) -> list[Grid]:
    """The ruled tables of a page image, top to bottom."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    binary = cv2.adaptiveThreshold(~gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 15, -2)
    h, w = binary.shape
    horizontal = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(
        cv2.MORPH_RECT, (max(10, int(w * MIN_LINE_FRACTION)), 1)))
    vertical = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(
        cv2.MORPH_RECT, (1, max(10, int(h * MIN_LINE_FRACTION)))))
    horizontal = cv2.dilate(horizontal, np.ones((3, 3), np.uint8))
    vertical = cv2.dilate(vertical, np.ones((3, 3), np.uint8))
    joined = cv2.dilate(cv2.bitwise_or(horizontal, vertical), np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    grids = []
    for i in range(1, n):
        x, y, bw, bh, _area = stats[i]
        if bw < w * 0.2 or bh < 20:
            continue
        own = labels[y:y + bh, x:x + bw] == i  # this component's strokes only, not another table's inside it
        grid = _grid(np.where(own, horizontal[y:y + bh, x:x + bw], 0), np.where(own, vertical[y:y + bh, x:x + bw], 0),
                     x, y)
        if grid is not None:
            grids.append(grid)
    # a page's frame around a table is no table: a grid holding another grid is dropped
    grids = [g for g in grids if not any(o is not g and _holds(g, o) for o in grids)]
    return sorted(grids, key=lambda g: g.ys[0])


def _holds(outer: Grid, inner: Grid) -> bool:
    a, b = outer.bbox, inner.bbox
    return a[0] <= b[0] and a[1] <= b[1] and a[2] >= b[2] and a[3] >= b[3]


def _positions(profile: np.ndarray, min_run: float) -> list[float]:
    """Centres of the runs where a projection profile shows a stroke."""
    on = profile >= min_run
    out, start = [], None
    for i, v in enumerate([*on, False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start + i - 1) / 2)
            start = None
    merged: list[float] = []
    for p in out:
        if merged and p - merged[-1] < _MERGE_PX:
            merged[-1] = (merged[-1] + p) / 2
        else:
            merged.append(p)
    return merged


def _grid(horizontal: np.ndarray, vertical: np.ndarray, ox: int, oy: int) -> Grid | None:
    bh, bw = horizontal.shape
    ys = _positions((horizontal > 0).sum(axis=1), 0.3 * bw)  # row lines cross most of the table
    xs = _positions((vertical > 0).sum(axis=0), 0.05 * bh)  # a column line may stand in a few rows only
    rows_with_ink = np.flatnonzero((vertical > 0).sum(axis=1) >= 3)
    if ys and len(rows_with_ink):  # a row cut by the page's edge has no closing rule: the columns' end is one
        if rows_with_ink[-1] - ys[-1] > 20:
            ys.append(float(rows_with_ink[-1]))
        if ys[0] - rows_with_ink[0] > 20:
            ys.insert(0, float(rows_with_ink[0]))
    if len(ys) < MIN_TABLE_ROWS + 1 or len(xs) < MIN_TABLE_COLS + 1:
        return None
    v_open, h_open = set(), set()
    for r in range(len(ys) - 1):
        top, bottom = int(ys[r]) + 3, int(ys[r + 1]) - 3
        if bottom <= top:
            continue
        for c in range(1, len(xs) - 1):
            x = int(xs[c])
            band = vertical[top:bottom, max(0, x - 3):x + 4]
            if (band.max(axis=1) > 0).mean() < 0.6:
                v_open.add((r, c))
    for r in range(1, len(ys) - 1):
        y = int(ys[r])
        for c in range(len(xs) - 1):
            left, right = int(xs[c]) + 3, int(xs[c + 1]) - 3
            if right <= left:
                continue
            band = horizontal[max(0, y - 3):y + 4, left:right]
            if (band.max(axis=0) > 0).mean() < 0.6:
                h_open.add((r, c))
    return Grid(xs=[x + ox for x in xs], ys=[y + oy for y in ys], v_open=v_open, h_open=h_open)


def grid_table(grid: Grid, boxes: list[Box]) -> TableBlock:
    """The grid's rows of cell texts from the OCR boxes inside it: a merged cell's text in its first cell."""
    n_rows, n_cols = len(grid.ys) - 1, len(grid.xs) - 1
    owner = {}  # (row, col) -> the (row, col) of the merged cell it belongs to
    for r in range(n_rows):
        for c in range(n_cols):
            o = (r, c)
            if c > 0 and (r, c) in grid.v_open:
                o = owner[(r, c - 1)]
            elif r > 0 and (r, c) in grid.h_open:
                o = owner[(r - 1, c)]
            owner[(r, c)] = o
    texts: dict[tuple[int, int], list[Box]] = {}
    for b in boxes:
        x, y = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
        r = _band(grid.ys, y)
        c = _band(grid.xs, x)
        if r is None or c is None:
            continue
        texts.setdefault(owner[(r, c)], []).append(b)
    rows, confs, cell_boxes = [], [], []
    for r in range(n_rows):
        row, conf, bxs = [], [], []
        for c in range(n_cols):
            inside = texts.get((r, c), []) if owner[(r, c)] == (r, c) else []
            row.append(_cell_text(inside))
            conf.append(min((b.confidence for b in inside), default=1.0))
            bxs.append((min(b.x0 for b in inside), min(b.y0 for b in inside), max(b.x1 for b in inside),
                        max(b.y1 for b in inside)) if inside else None)
        rows.append(row)
        confs.append(conf)
        cell_boxes.append(bxs)
    return TableBlock(rows=rows, confidences=confs, cell_boxes=cell_boxes,
                      separators=[float(x) for x in grid.xs[1:-1]])


def _band(lines: list[float], v: float) -> int | None:
    for i in range(len(lines) - 1):
        if lines[i] <= v < lines[i + 1]:
            return i
    return None


def _cell_text(boxes: list[Box]) -> str:
    """A cell's boxes as its lines, top to bottom, each line's boxes left to right."""
    if not boxes:
        return ""
    boxes = sorted(boxes, key=lambda b: b.yc)
    lines: list[list[Box]] = []
    for b in boxes:
        if lines and abs(b.yc - lines[-1][-1].yc) < 0.5 * max(b.height, lines[-1][-1].height):
            lines[-1].append(b)
        else:
            lines.append([b])
    return unwrap([_join_boxes(sorted(line, key=lambda b: b.x0)) for line in lines])
