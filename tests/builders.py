"""Make .docx and PDF inputs from a sample report's text, for the ingestion tests.

The samples are plain text exported from Word, with tables flattened: every
cell starts on a new line with a tab, a cell's further lines follow without a
tab, and a blank line ends a row. `split_blocks` reads that form back into
paragraphs and tables on its own, without `service.ingest.tables`, so these tests do
not depend on the project's table parser; `make_docx` and `make_text_pdf`
then write the blocks out as a real Word file or a text-layer PDF.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # wqy-zenhei's bitmaps: noisy, harmless

Block = tuple[str, object]  # ("para", str) or ("table", list[list[str]])

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)


def split_blocks(text: str) -> list[Block]:
    """Paragraph lines and tables, in order, from the flattened text form.

    A table is a run of rows; a row is a group of cells, each starting with a
    tab at the line start, with continuation lines (no tab) belonging to the
    cell above; rows are separated by a blank line. After a row's blank line,
    a line without a tab ends the table, except when only one blank line came
    before it and the untabbed lines from it reach a tab line without two
    blank lines in a row: then the blank line was inside a cell (a report's
    cell may hold empty paragraphs), and the line continues the previous
    row's last cell. Every
    line outside a table, blank ones included, is one ("para", line) block.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    blocks: list[Block] = []
    rows: list[list[str]] | None = None  # the table being read, if any
    row: list[str] = []
    blanks = 0  # blank lines since the last row ended
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_tsv_row(line):  # one row per line, cells separated by tabs (a spreadsheet's export)
            if rows is not None:  # a table in the tab form ends here
                if row:
                    rows.append(row)
                    row = []
                if rows:
                    blocks.append(("table", rows))
                rows, blanks = None, 0
            tsv = []
            while i < len(lines) and _is_tsv_row(lines[i]):
                tsv.append(lines[i].split("\t"))
                i += 1
            blocks.append(("table", tsv))
            continue
        if line.startswith("\t"):
            if rows is None:
                rows = []
            row.append(line[1:])
            blanks = 0
        elif rows is None:
            blocks.append(("para", line))
        elif not line.strip():
            if row:
                rows.append(row)
                row = []
            else:
                blanks += 1
        elif row:  # continuation of the current cell
            row[-1] += "\n" + line
        elif blanks == 0 and _continues_cell(lines, i):
            row = rows.pop()
            row[-1] += "\n\n" + line
        else:  # the table is over
            blocks.append(("table", rows))
            blocks.extend(("para", "") for _ in range(blanks))
            rows, blanks = None, 0
            continue  # read this line again as a paragraph
        i += 1
    if row and rows is not None:
        rows.append(row)
    if rows:
        blocks.append(("table", rows))
    return blocks


def _is_tsv_row(line: str) -> bool:
    """Two or more cells with text on one line, separated by tabs (empty cells between them kept)."""
    return sum(1 for part in line.split("\t") if part.strip()) >= 2


def _continues_cell(lines: list[str], i: int) -> bool:
    """True when the untabbed lines from `i` reach a tab line with no two blank lines in a row."""
    blank = False
    while i < len(lines) and not lines[i].startswith("\t"):
        if len(lines[i].strip()) > 40 or lines[i].rstrip().endswith(("。", "：", ":")):
            return False  # a paragraph of prose or a title line: the table ended before it
        if not lines[i].strip():
            if blank:
                return False
            blank = True
        else:
            blank = False
        i += 1
    return i < len(lines)


def table_cells(blocks: list[Block]) -> list[str]:
    """Every cell text of every table block, in order."""
    return [cell for kind, rows in blocks if kind == "table" for row in rows for cell in row]


def make_docx(text: str, path: str | Path) -> Path:
    """Write the blocks of `text` as a .docx: one Word paragraph per line, real tables.

    A table is as wide as its widest row. A shorter row's last cell is merged
    horizontally (gridSpan) over the remaining columns, so each row has exactly
    the cells of the source, in order, and a reader that shows a merged cell
    once gets the source row back. A cell's lines become the cell's paragraphs.
    """
    import docx

    document = docx.Document()
    for kind, content in split_blocks(text):
        if kind == "para":
            document.add_paragraph(content)
        else:
            add_table(document, content)
    path = Path(path)
    document.save(str(path))
    return path


def add_table(document, rows: list[list[str]]):
    """Append a table whose row i has exactly the cells rows[i] (see `make_docx`)."""
    width = max(len(r) for r in rows)
    table = document.add_table(rows=len(rows), cols=width)
    for i, cells in enumerate(rows):
        row = table.rows[i]
        if len(cells) < width:
            grid = row.cells
            grid[len(cells) - 1].merge(grid[width - 1])
        # row.cells lists a merged cell once per column it spans; the first len(cells) are ours
        for cell, cell_text in zip(row.cells, cells, strict=False):
            set_cell_text(cell, cell_text)
    return table


def set_cell_text(cell, text: str) -> None:
    lines = text.split("\n")
    cell.paragraphs[0].text = lines[0]
    for line in lines[1:]:
        cell.add_paragraph(line)


def find_cjk_font() -> str | None:
    """A CJK font file: known paths first, then fontconfig."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    if shutil.which("fc-list"):
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20).stdout
        for line in out.splitlines():
            candidate = line.split(":")[0].strip()
            if candidate and Path(candidate).exists():
                return candidate
    return None


def cjk_pdf():
    """An A4 FPDF with a CJK font set, or pytest.skip when no font can be loaded."""
    import pytest
    from fpdf import FPDF

    font = find_cjk_font()
    if font is None:
        pytest.skip("no CJK font found (install fonts-wqy-zenhei: `make debian`)")
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    try:
        pdf.add_font("cjk", fname=font, collection_font_number=0)
    except Exception as e:  # fpdf2 cannot read every .ttc
        pytest.skip(f"fpdf2 cannot load the CJK font {font}: {e}")
    pdf.set_font("cjk", size=11)
    return pdf


def make_text_pdf(text: str, path: str | Path, *, encrypt_user: str | None = None) -> Path:
    """Write `text` as a text-layer A4 PDF, tables drawn as real ruled tables, as Word exports them.

    Paragraph lines wrap (multi_cell) and pages break automatically. A table
    is a grid as wide as its widest row (shorter rows are padded with empty
    cells on the right), columns sized to their content, every cell's text
    wrapping inside its column, top-aligned, in a smaller font. With
    `encrypt_user`, the file is encrypted and needs that password to open.
    """
    pdf = cjk_pdf()
    if encrypt_user is not None:
        pdf.set_encryption(owner_password="owner-" + encrypt_user, user_password=encrypt_user)
    pdf.add_page()
    for kind, content in split_blocks(text):
        if kind == "para":
            _write_line(pdf, content)
        else:
            _write_table(pdf, content)
    path = Path(path)
    pdf.output(str(path))
    return path


TABLE_PT = 9  # table text, as Word's 小五/五号
TABLE_MAX_EM = 14  # a column is sized for at most this many characters per line


def _em_width(line: str) -> float:
    return sum(0.5 if ord(ch) < 128 else 1.0 for ch in line)


def _write_table(pdf, rows: list[list[str]]) -> None:
    width = max(len(r) for r in rows)
    grid = [[_cell_lines(c) for c in r] + [""] * (width - len(r)) for r in rows]
    natural = [2.0] * width
    for r in grid:
        for j, cell in enumerate(r):
            longest = max((_em_width(line) for line in cell.split("\n")), default=0)
            natural[j] = max(natural[j], min(longest, TABLE_MAX_EM) + 1.5)
    em = TABLE_PT * 25.4 / 72  # mm
    floor = 2.5 * em + 3  # two and a half characters and the padding
    spare = pdf.epw - floor * width
    extra = [max(n * em + 3 - floor, 0.0) for n in natural]
    scale = min(1.0, spare / sum(extra)) if sum(extra) else 0.0
    col_widths = [floor + e * scale for e in extra]
    col_widths = [w * pdf.epw / sum(col_widths) for w in col_widths]
    pdf.set_font("cjk", size=TABLE_PT)
    pdf.ln(2)
    with pdf.table(col_widths=col_widths, text_align="LEFT", v_align="TOP", first_row_as_headings=False,
                   line_height=TABLE_PT * 25.4 / 72 * 1.35, padding=(1, 1.5), width=pdf.epw) as table:
        for r in grid:
            row = table.row()
            for cell in r:
                row.cell(cell)
    pdf.set_font("cjk", size=11)
    pdf.ln(4)


def _cell_lines(cell: str) -> str:
    """A cell's lines as printed: blank lines dropped, runs of spaces kept (Word keeps them)."""
    return "\n".join(line.strip() for line in cell.split("\n") if line.strip())


def _write_line(pdf, line: str) -> None:
    if line.strip():
        pdf.multi_cell(0, 6, line.strip(), align="L", new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.ln(6)


def make_image_pdf(images: list, path: str | Path) -> Path:
    """An image-only PDF (no text layer): one page per PIL image."""
    path = Path(path)
    first, *rest = [im.convert("RGB") for im in images]
    first.save(str(path), "PDF", save_all=True, append_images=rest, resolution=100.0)
    return path
