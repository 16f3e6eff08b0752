"""PDF reports: the text layer page by page; image-only pages go to OCR.

A text page is read as characters with their positions: runs of characters
on one line with no gap between them become boxes, and
`service.ingest.layout.lay_out` turns the boxes into lines and tables, so a
table's grid (merged cells as empty cells, wrapped cells joined) comes back
as it was drawn. A table running over a page break is joined into one.

A page whose text layer is empty but which holds an image is a scan: it is
rendered at `settings.ocr_dpi` and handed to `service.ingest.ocr.ocr_image`,
which writes its own page and lines.

Before any page is decoded the page count is checked against
`settings.max_pages`, and before a scan is rendered its size at `ocr_dpi`
against `settings.max_image_mpx`; `check_pdf` does both for an upload
without reading any page that is not oversized.
"""

from __future__ import annotations

import ctypes
import io
import logging
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from service.document import DocumentBuilder
from service.errors import IngestError
from service.ingest.image import check_pixels
from service.ingest.layout import (
    Box,
    TableBlock,
    centre_inside,
    in_reading_order,
    lay_out_pages,
    unwrap,
    write_blocks,
)
from service.progress import report
from service.settings import Settings

log = logging.getLogger(__name__)

ENCRYPTED = "PDF 已加密（需要密码），请上传未加密的文件"
UNSUPPORTED_SECURITY = "PDF 使用了不支持的加密方式，请上传未加密的文件"
CORRUPT = "PDF 文件损坏，无法打开"
OCR_OFF = "该 PDF 为扫描件，需要 OCR，但 OCR 已关闭（JIXIAO_OCR=0）"

# Boxes are already cut where pdfium sees a gap, so any clear gap between them is a cell boundary:
# in a drawn table two cells' texts stand at least the two cells' padding apart.
CELL_GAP = 0.6  # median character widths
RUN_GAP = 0.6  # a jump of more than this many font sizes between two characters ends a run
_SPACES = frozenset(" \u3000\xa0\t")


def read_pdf(data: bytes, name: str, builder: DocumentBuilder, settings: Settings) -> None:
    """Every page into the builder: ruled tables by their lines (pdfplumber), the rest laid out together
    (a table without rules may cross pages), scans OCRed."""
    pdf = _open(data, name)
    try:
        check_page_count(pdf, name, settings)
        pages: list[tuple[list[Box], float] | str] = []  # a text page's boxes and width, or "blank"/"scan"
        lined: list[int] = []  # text pages that draw lines: only they can hold a ruled table
        for index in range(len(pdf)):
            page = _page(pdf, index, name)
            try:
                pages.append(_text_or_kind(page, name, settings))
                if pages[-1] == "scan":  # refused before any page is rendered or OCRed
                    check_scan_pixels(pdf, index, name, settings)
                if isinstance(pages[-1], tuple) and has_paths(page):
                    lined.append(index)
            finally:
                page.close()
        ruled = ruled_tables(data, lined) if lined else {}
        for index, tables in ruled.items():  # the words of a ruled table are its cells', not the layout's
            boxes, width = pages[index]
            pages[index] = ([b for b in boxes if not any(centre_inside(b, t.bbox) for t in tables)], width)
        laid: dict[int, list] = {}
        run: list[int] = []
        for index, content in enumerate([*pages, "end"]):
            if isinstance(content, tuple):
                run.append(index)
                continue
            if run:  # consecutive text pages: a table may run from one into the next
                laid.update(zip(run, lay_out_pages([pages[i] for i in run], cell_gap=CELL_GAP), strict=True))
                run = []
        scans = [i for i, content in enumerate(pages) if content == "scan"]
        for index, content in enumerate(pages):
            number = index + 1
            if content == "scan":
                # Imported late: the OCR engine is heavy and text PDFs never need it.
                from service.ingest.ocr import ocr_image

                report(f"OCR 识别扫描页 {scans.index(index) + 1}/{len(scans)}（第 {number} 页，共 {len(pages)} 页）")
                page = _page(pdf, index, name)
                try:
                    image = page.render(scale=settings.ocr_dpi / 72).to_pil()
                finally:
                    page.close()
                ocr_image(image, number, builder, settings)
                continue
            builder.start_page(number, ocr=False)  # a blank page still counts
            if content != "blank":
                tables = [(t.bbox[1], t.block) for t in ruled.get(index, [])]
                write_blocks(builder, in_reading_order(laid[index], tables) if tables else laid[index], number,
                             origin="pdf")
    finally:
        pdf.close()


def check_pdf(data: bytes, name: str, settings: Settings) -> None:
    """Refuse a PDF that pdfium cannot open, with too many pages, or with a scan too large to render.

    Only a page too large at `ocr_dpi` is loaded, to see whether it is a scan: a text page of any size is
    read from its text layer, never rendered.
    """
    pdf = _open(data, name)
    try:
        for index in range(check_page_count(pdf, name, settings)):
            if render_size(pdf, index, name, settings) is not None:
                page = _page(pdf, index, name)
                try:
                    scan = is_scan(page)
                finally:
                    page.close()
                if scan:
                    check_scan_pixels(pdf, index, name, settings)
    finally:
        pdf.close()


def check_page_count(pdf: pdfium.PdfDocument, name: str, settings: Settings) -> int:
    """The number of pages, refused when more than `settings.max_pages` (pdfium opens no PDF without pages)."""
    count = len(pdf)
    if count > settings.max_pages:
        raise IngestError(name, f"PDF 共 {count} 页，超过上限 {settings.max_pages} 页；请拆分后分别上传")
    return count


def render_size(pdf: pdfium.PdfDocument, index: int, name: str, settings: Settings) -> tuple[int, int] | None:
    """The page's size in pixels at `ocr_dpi` when that is over the pixel cap, else None; from the page tree."""
    try:
        width, height = pdf.get_page_size(index)
    except pdfium.PdfiumError:
        raise IngestError(name, f"PDF 第 {index + 1} 页损坏，无法读取") from None
    size = (round(width * settings.ocr_dpi / 72), round(height * settings.ocr_dpi / 72))
    return size if size[0] * size[1] > settings.max_image_mpx * 1_000_000 else None


def check_scan_pixels(pdf: pdfium.PdfDocument, index: int, name: str, settings: Settings) -> None:
    size = render_size(pdf, index, name, settings)
    if size is not None:
        check_pixels(size, f"PDF 第 {index + 1} 页是扫描图像，按 {settings.ocr_dpi} dpi 渲染后", name, settings)


def is_scan(page) -> bool:
    """True when the page has no text layer but draws an image."""
    textpage = page.get_textpage()
    try:
        boxes = text_boxes(textpage, page.get_height())
    finally:
        textpage.close()
    return not boxes and has_image(page)


@dataclass
class RuledTable:
    bbox: tuple[float, float, float, float]  # x0, top, x1, bottom in points, y downwards
    block: TableBlock


def ruled_tables(data: bytes, pages: list[int]) -> dict[int, list[RuledTable]]:
    """Per page index (of those in `pages`), the tables drawn with ruling lines, read by pdfplumber's line
    strategy.

    Measured on the builders' PDFs (BENCHMARKS.md) it puts more cells right than laying out the words by
    their positions: a rule says where a cell ends even when its text wraps or stays empty. Where it finds
    nothing (no rules, or a file it cannot read) the layout of the words is all there is.
    """
    import pdfplumber

    out: dict[int, list[RuledTable]] = {}
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for index in pages:
                page = pdf.pages[index]
                found = page.find_tables()
                page.close()  # pdfplumber keeps a page's objects cached until closed
                for table in found:
                    rows = [[unwrap((c or "").split("\n")) for c in row] for row in table.extract()]
                    if rows and max(map(len, rows)) >= (2 if len(rows) > 1 else 3) and any(any(r) for r in rows):
                        width = max(map(len, rows))
                        rows = [r + [""] * (width - len(r)) for r in rows]
                        block = TableBlock(rows=rows, confidences=[[1.0] * width for _ in rows],
                                           cell_boxes=[[None] * width for _ in rows], separators=[])
                        out.setdefault(index, []).append(RuledTable(tuple(table.bbox), block))
    except Exception as e:  # pdfplumber cannot read every file pdfium can (encrypted, damaged)
        log.info("pdfplumber found no ruled tables: %s", e)
        return {}
    return out


def _page(pdf: pdfium.PdfDocument, index: int, name: str):
    try:
        return pdf[index]
    except pdfium.PdfiumError:
        raise IngestError(name, f"PDF 第 {index + 1} 页损坏，无法读取") from None


def _open(data: bytes, name: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        code = getattr(e, "err_code", None)
        log.info("pdfium could not open %s: %s (code %s)", name, e, code)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise IngestError(name, ENCRYPTED) from None
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise IngestError(name, UNSUPPORTED_SECURITY) from None
        raise IngestError(name, CORRUPT) from None


def _text_or_kind(page, name: str, settings: Settings) -> tuple[list[Box], float] | str:
    """A text page's boxes and width; "scan" for a page that is only an image; else "blank"."""
    textpage = page.get_textpage()
    try:
        boxes = text_boxes(textpage, page.get_height())
    finally:
        textpage.close()
    if boxes:
        return boxes, page.get_width()
    if not has_image(page):
        return "blank"
    if not settings.ocr:
        raise IngestError(name, OCR_OFF)
    return "scan"


def text_boxes(textpage, page_height: float) -> list[Box]:
    """The page's text as boxes: runs of characters on one line without a gap, top-down coordinates.

    A run ends where pdfium inserted a character of its own (a space for a gap,
    a line break), where the next character is on another line, or where it
    jumps sideways by more than `RUN_GAP` font sizes without spaces in between.
    """
    raw = textpage.raw
    rect = pdfium_c.FS_RECTF()
    rect_ref = ctypes.byref(rect)
    boxes: list[Box] = []
    chars: list[str] = []
    run = None  # [x0, y0, x1, y1, x_end] of the run's visible characters; x_end includes spaces
    pending_high = None

    def close():
        nonlocal run, chars
        text = "".join(chars).strip(" \u3000\xa0\t")
        if run is not None and text:
            boxes.append(Box(text, run[0], run[1], run[2], run[3]))
        run, chars = None, []

    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(raw, i)
        if pdfium_c.FPDFText_IsGenerated(raw, i) or code in (0x0D, 0x0A, 0x02, 0xFFFE, 0):
            close()
            continue
        if 0xD800 <= code < 0xDC00:  # a character beyond the BMP arrives as two halves
            pending_high = code
            continue
        if 0xDC00 <= code < 0xE000 and pending_high is not None:
            code = 0x10000 + ((pending_high - 0xD800) << 10) + (code - 0xDC00)
        pending_high = None
        ch = chr(code)
        if not pdfium_c.FPDFText_GetLooseCharBox(raw, i, rect_ref):
            continue
        x0, x1 = rect.left, rect.right
        y0, y1 = page_height - rect.top, page_height - rect.bottom
        size = max(y1 - y0, 1.0)
        if ch in _SPACES:
            if run is not None:
                chars.append(ch)
                run[4] = max(run[4], x1)
            continue
        if run is not None:
            yc = (y0 + y1) / 2
            same_line = run[1] <= yc <= run[3]
            jump = x0 - run[4]
            if not same_line or jump > RUN_GAP * size or x0 < run[2] - 0.5 * size:
                close()
        if run is None:
            run = [x0, y0, x1, y1, x1]
        else:
            run[0], run[1] = min(run[0], x0), min(run[1], y0)
            run[2], run[3], run[4] = max(run[2], x1), max(run[3], y1), max(run[4], x1)
        chars.append(ch)
    close()
    return boxes


def has_paths(page) -> bool:
    """True when the page draws vector paths (lines, rectangles): a ruled table needs them."""
    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=1))


def has_image(page) -> bool:
    """True when the page (or a form XObject on it) draws an image."""
    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
