"""The image of one page of a scanned upload, in the pixels its OCR boxes were measured in.

PDF pages are rendered at the OCR resolution (`ocr_dpi`), images are used as
they are (a multi-page TIFF frame by frame), so the boxes stored with the OCR
lines fall on the right characters.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from .errors import IngestError


def page_png(path: Path, page: int, dpi: int) -> bytes:
    """PNG bytes of page `page` (1-based) of the PDF or image at `path`; IngestError when there is none."""
    data = path.read_bytes()
    image = _pdf_page(data, page, dpi) if data.lstrip()[:5] == b"%PDF-" else _image_frame(data, page)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _pdf_page(data: bytes, page: int, dpi: int) -> Image.Image:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        if not 1 <= page <= len(pdf):
            raise IngestError(f"第 {page} 页", "没有这一页")
        return pdf[page - 1].render(scale=dpi / 72).to_pil()
    finally:
        pdf.close()


def _image_frame(data: bytes, page: int) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    try:
        image.seek(page - 1)
    except EOFError:
        raise IngestError(f"第 {page} 页", "没有这一页") from None
    return ImageOps.exif_transpose(image.copy())  # as the OCR saw it
