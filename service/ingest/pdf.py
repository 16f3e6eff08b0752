"""PDF reports: the text layer page by page; image-only pages go to OCR.

A page whose text layer is empty but which holds an image is a scan: it is
rendered at `settings.ocr_dpi` and handed to `service.ingest.ocr.ocr_image`,
which writes its own page and lines. Tables in text PDFs arrive as lines with
cells separated by spaces; they are left as text and rebuilt later by
`service.tables.find_tables`.
"""

from __future__ import annotations

import logging

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..document import DocumentBuilder
from ..errors import IngestError
from ..settings import Settings

log = logging.getLogger(__name__)

ENCRYPTED = "PDF 已加密（需要密码），请上传未加密的文件"
UNSUPPORTED_SECURITY = "PDF 使用了不支持的加密方式，请上传未加密的文件"
CORRUPT = "PDF 文件损坏，无法打开"
OCR_OFF = "该 PDF 为扫描件，需要 OCR，但 OCR 已关闭（JIXIAO_OCR=0）"


def read_pdf(data: bytes, name: str, builder: DocumentBuilder, settings: Settings) -> None:
    pdf = _open(data, name)
    try:
        for index in range(len(pdf)):
            try:
                page = pdf[index]
            except pdfium.PdfiumError:
                raise IngestError(name, f"PDF 第 {index + 1} 页损坏，无法读取") from None
            try:
                _read_page(page, index + 1, name, builder, settings)
            finally:
                page.close()
    finally:
        pdf.close()


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


def _read_page(page, number: int, name: str, builder: DocumentBuilder, settings: Settings) -> None:
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_bounded()
    finally:
        textpage.close()
    if text.strip():
        builder.start_page(number, ocr=False)
        builder.add_paragraph(page_text(text))
        return
    if not has_image(page):
        builder.start_page(number, ocr=False)  # a blank page still counts
        return
    if not settings.ocr:
        raise IngestError(name, OCR_OFF)
    from .ocr import ocr_image  # imported late: the OCR engine is heavy and text PDFs never need it

    image = page.render(scale=settings.ocr_dpi / 72).to_pil()
    ocr_image(image, number, builder, settings)


def page_text(text: str) -> str:
    """pdfium's page text, with line ends normalised and no line opening with a tab."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [ln.lstrip("\t").rstrip() for ln in text.split("\n")]
    return "\n".join(lines).strip("\n")


def has_image(page) -> bool:
    """True when the page (or a form XObject on it) draws an image."""
    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
