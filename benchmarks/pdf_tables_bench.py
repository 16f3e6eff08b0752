"""Our PDF table reader against pdfplumber's table finder, on the same text-layer pages.

Every sample report and every report of tests/data/new_layouts is made into a
text PDF by `tests.builders.make_text_pdf` (ruled tables, cells wrapping inside
narrow columns, tables running over page breaks). The truth is the cells the
builder drew (`tests.builders.split_blocks`). Each reader's tables are compared
with it: a drawn cell is right when a cell of the reader's tables holds the
same text (whitespace aside), each read cell counted once; a drawn row is right
when one row of the reader's holds all its cells in order. pdfplumber runs with
its default ("lines") strategy, which follows the ruling lines; the words-by-position
reader is `service.ingest.layout` alone; the product is what `service.ingest.load`
does now: pdfplumber's ruled tables, the layout for everything else, tables
broken by a page joined again.

    make bench-pdf-tables        # installs pdfplumber (the `bench` extra), then runs this
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.ingest import load  # noqa: E402
from service.settings import load_settings  # noqa: E402
from tests.builders import make_text_pdf, split_blocks  # noqa: E402

SETS = [ROOT.parent / "shared" / "reports", ROOT / "tests" / "data" / "new_layouts"]


def norm(s: str | None) -> str:
    """A cell's text without whitespace, its width folded (the reader writes １２ as 12)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s or ""))


def truth(text: str) -> list[list[str]]:
    rows = []
    for kind, content in split_blocks(text):
        if kind == "table":
            rows += [[norm(c) for c in row] for row in content]
    return rows


def score(true_rows: list[list[str]], got_rows: list[list[str]]) -> tuple[int, int, int, int]:
    cells = Counter(c for row in got_rows for c in row if c)
    right = total = 0
    for row in true_rows:
        for c in row:
            if c:
                total += 1
                if cells[c] > 0:
                    cells[c] -= 1
                    right += 1
    got = [[c for c in row if c] for row in got_rows]
    drawn = [[c for c in row if c] for row in true_rows if any(row)]
    return right, total, sum(1 for row in drawn if row in got), len(drawn)


def product(path: Path) -> tuple[list[list[str]], int]:
    doc = load(path, load_settings(env={}))
    return [[norm(c.text) for c in row] for t in doc.tables for row in t.rows], len(doc.pages)


def words_by_position(path: Path) -> tuple[list[list[str]], int]:
    """The reader without pdfplumber: every table laid out from its words' positions."""
    from service.ingest import pdf as pdf_reader

    ruled = pdf_reader.ruled_tables
    pdf_reader.ruled_tables = lambda data, pages: {}
    try:
        return product(path)
    finally:
        pdf_reader.ruled_tables = ruled


def plumber(path: Path) -> tuple[list[list[str]], int]:
    import pdfplumber

    rows = []
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            for table in page.extract_tables():
                rows += [[norm(c) for c in row] for row in table]
        return rows, len(pdf.pages)


def main() -> int:
    readers = (("words by position (service.ingest.layout)", words_by_position),
               ("pdfplumber, lines strategy, alone", plumber),
               ("jixiao: pdfplumber's ruled tables, layout for the rest, page breaks joined", product))
    results = {name: [0, 0, 0, 0, 0.0, 0] for name, _r in readers}
    with tempfile.TemporaryDirectory() as tmp:
        for folder in SETS:
            for src in sorted(folder.glob("*.txt")):
                text = src.read_text(encoding="utf-8")
                pdf = Path(tmp) / f"{src.stem}.pdf"
                try:
                    make_text_pdf(text, pdf)
                except Exception as e:  # the builder cannot lay out a cell taller than a page
                    print(f"{src.stem}: not built ({type(e).__name__})", file=sys.stderr)
                    continue
                want = truth(text)
                for name, reader in readers:
                    t0 = time.perf_counter()
                    got, pages = reader(pdf)
                    seconds = time.perf_counter() - t0
                    r = results[name]
                    for i, v in enumerate(score(want, got)):
                        r[i] += v
                    r[4] += seconds
                    r[5] += pages
    print("| reader | cells right / drawn | rows right / drawn | ms per page |")
    print("|---|---|---|---|")
    for name, (right, total, rows_right, rows, seconds, pages) in results.items():
        print(f"| {name} | {right}/{total} ({right / max(1, total):.3f}) | {rows_right}/{rows} "
              f"({rows_right / max(1, rows):.3f}) | {1000 * seconds / max(1, pages):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
