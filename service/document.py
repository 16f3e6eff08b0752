"""One normalized document for any input.

`Document.text` is the exact string every offset in the system refers to.
Ingesters never build it by hand: they feed paragraphs, table rows and OCR
lines to a `DocumentBuilder`, which writes the text and records, for every
character range, the page it came from, the table cell it belongs to and, for
OCR, the line and its confidence.

Tables are written into the text in one canonical flattened form, the one
reports exported from Word arrive in: every cell starts on a new line with a
tab, a cell's further lines follow without a tab, and rows end with a blank
line. So a cell's text is the same whether it came from a .docx grid, a text
file or a scan.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field


@dataclass
class Cell:
    text: str
    start: int
    end: int


@dataclass
class Table:
    start: int
    end: int
    rows: list[list[Cell]]
    origin: str  # "docx", "tab", "pipe", "spaces", "ocr"; "stream" for a score table rebuilt from its cells' order
    # a rebuilt table's rows whose columns were inferred (row index -> (kind, reason in Chinese)); its total
    guessed: dict[int, tuple[str, str]] = field(default_factory=dict)

    def grid(self) -> list[list[str]]:
        return [[c.text for c in row] for row in self.rows]


@dataclass
class Page:
    number: int  # 1-based
    start: int
    end: int
    ocr: bool = False
    # a scanned page's size in the pixels its OCR boxes are in (the review page reserves the image's space)
    width: int | None = None
    height: int | None = None


@dataclass
class OcrLine:
    page: int
    start: int
    end: int
    confidence: float
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in page pixels
    # The OCR boxes the line was read from: (start, end, x0, y0, x1, y1[, [[x0, x1] per character]]),
    # offsets relative to the line's start, so a viewer can box a value's own characters rather than the
    # whole line (or paragraph).
    parts: list[tuple] | None = None


@dataclass
class Document:
    name: str
    sha256: str
    kind: str  # "txt", "docx", "pdf", "image", "doc"
    text: str
    pages: list[Page] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    ocr_lines: list[OcrLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # score tables rebuilt from the order of their cells (`service.ingest.stream_tables`); they may overlap `tables`,
    # whose grids are kept for the sections and the label-value reading
    rebuilt: list[Table] = field(default_factory=list)

    @property
    def ocr(self) -> bool:
        return any(p.ocr for p in self.pages)

    def page_at(self, offset: int) -> int:
        """The 1-based page a character offset falls on (1 when pages are unknown)."""
        starts = [p.start for p in self.pages]
        i = bisect.bisect_right(starts, offset) - 1
        return self.pages[i].number if i >= 0 else 1

    def ocr_confidence(self, start: int, end: int) -> float | None:
        """Lowest OCR confidence of the lines overlapping [start, end), or None if not OCR."""
        confs = [ln.confidence for ln in self.ocr_lines if ln.start < end and ln.end > start]
        return min(confs) if confs else None

    def table_at(self, offset: int) -> Table | None:
        for t in self.tables:
            if t.start <= offset < t.end:
                return t
        return None


class DocumentBuilder:
    """Accumulates text with provenance; the only way a Document's text is made."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._len = 0
        self.pages: list[Page] = []
        self.tables: list[Table] = []
        self.ocr_lines: list[OcrLine] = []
        self.warnings: list[str] = []

    @property
    def offset(self) -> int:
        return self._len

    def _write(self, s: str) -> tuple[int, int]:
        start = self._len
        self._parts.append(s)
        self._len += len(s)
        return start, self._len

    def start_page(self, number: int, ocr: bool = False, size: tuple[int, int] | None = None) -> None:
        self._close_page()
        w, h = size or (None, None)
        self.pages.append(Page(number=number, start=self._len, end=self._len, ocr=ocr, width=w, height=h))

    def _close_page(self) -> None:
        if self.pages:
            self.pages[-1].end = self._len

    def add_paragraph(self, text: str) -> tuple[int, int]:
        """Write one paragraph (may hold newlines) followed by a newline; return its span."""
        text = clean_inline(text)
        start, end = self._write(text)
        self._write("\n")
        return start, end

    def add_blank(self) -> None:
        self._write("\n")

    def add_ocr_line(self, page: int, text: str, confidence: float, box=None,
                     pieces: list[tuple[str, tuple[float, float, float, float], list | None]] | None = None
                     ) -> tuple[int, int]:
        """Write one OCR line (or wrapped paragraph); `pieces` are the texts of the boxes it was read from, in
        order, with their boxes and their characters' x extents (or None), for `OcrLine.parts`."""
        start, end = self.add_paragraph(text)
        written = clean_inline(text)
        self.ocr_lines.append(OcrLine(page=page, start=start, end=end, confidence=float(confidence), box=box,
                                      parts=_locate(written, pieces) if pieces else None))
        return start, end

    def add_table(self, rows: list[list[str]], origin: str) -> Table:
        """Write rows of cell texts in the canonical flattened form and record the cells."""
        t_start = self._len
        out_rows: list[list[Cell]] = []
        for row in rows:
            cells = []
            for text in row:
                self._write("\t")
                text = clean_cell(text)
                start, end = self._write(text)
                self._write("\n")
                cells.append(Cell(text=text, start=start, end=end))
            self._write("\n")
            out_rows.append(cells)
        table = Table(start=t_start, end=self._len, rows=out_rows, origin=origin)
        self.tables.append(table)
        return table

    def build(self, name: str, sha256: str, kind: str) -> Document:
        self._close_page()
        text = "".join(self._parts)
        pages = self.pages or [Page(number=1, start=0, end=len(text))]
        return Document(name=name, sha256=sha256, kind=kind, text=text, pages=pages,
                        tables=self.tables, ocr_lines=self.ocr_lines, warnings=self.warnings)


_DROP = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\x00\x0b\x0c"), None)


_WIDE_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
# between digits: the full-width point, and the full-width comma as a thousands separator (１，２３４．５６)
_WIDE_POINT = re.compile(r"(?<=\d)．(?=\d)")
_WIDE_THOUSANDS = re.compile(r"(?<=\d)，(?=\d{3}(?!\d))")


# pinyin that mirror sites print after traditional characters: 項(xiàng)目 (never part of a report)
_GLOSS = re.compile(r"(?<=[\u3400-\u9fff])\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,8}\)")


def clean_inline(text: str) -> str:
    """Normalize line ends, drop invisible characters and pinyin glosses, write full-width numbers in ASCII;
    keep what a reader sees.

    Folding a full-width digit or separator changes no length, so offsets stay those of the text a
    reviewer is shown; without it, １９．３５万元 would read as 35万元.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_DROP)
    if "(" in text:
        text = _GLOSS.sub("", text)
    text = text.translate(_WIDE_DIGITS)
    if "．" in text or "，" in text:
        text = _WIDE_THOUSANDS.sub(",", _WIDE_POINT.sub(".", text))
    return text


def clean_cell(text: str) -> str:
    """A cell's text: no line may start with a tab (that would open a new cell), no blank lines."""
    text = clean_inline(text)
    lines = [ln.lstrip("\t") for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln.strip(" \t\u3000\xa0")).strip(" \t\n\u3000\xa0")


def _locate(text: str, pieces: list[tuple[str, tuple[float, float, float, float], list | None]]) -> list | None:
    """Where each box's text lies in the line as written: found in order, from where the last one ended.

    The line is the boxes' texts joined (a space between Latin words, cells joined by a space) and then
    cleaned; searching keeps that from mattering. A piece not found is left out. A piece keeps its
    characters' x extents (rounded to the pixel) when cleaning left its characters as they were.
    """
    out, cursor = [], 0
    for raw, (x0, y0, x1, y1), xs in pieces:
        cleaned = clean_inline(raw)
        piece = cleaned.strip()
        at = text.find(piece, cursor) if piece else -1
        if at < 0:
            continue
        part = [at, at + len(piece), x0, y0, x1, y1]
        lead = len(cleaned) - len(cleaned.lstrip())
        if xs is not None and len(cleaned) == len(raw) == len(xs):
            part.append([[round(a), round(b)] for a, b in xs[lead:lead + len(piece)]])
        out.append(tuple(part))
        cursor = at + len(piece)
    return out or None
