"""The image of one page of a scanned upload, in the pixels its OCR boxes were measured in.

PDF pages are rendered at the OCR resolution (`ocr_dpi`), images are used as
they are (a multi-page TIFF frame by frame), so the boxes stored with the OCR
lines fall on the right characters. Pages are rendered once, as JPEG (a tenth
of a PNG's bytes for a scan, and as legible), into a cache folder: the worker
fills it when a scan is read, the review page reads from it.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from pathlib import Path

from PIL import Image, ImageOps

from service.errors import IngestError

log = logging.getLogger(__name__)
JPEG_QUALITY = 85


def cache_folder(instance: str | Path) -> Path:
    """Where rendered pages are kept: beside the uploads in the instance folder."""
    return Path(instance) / "page_cache"


def cached_page(path: Path, sha256: str, page: int, dpi: int, cache: Path) -> Path:
    """The JPEG of page `page` (1-based) of the upload at `path`, rendered on first use; IngestError when the
    upload has no such page. Written to a temporary file and renamed, so a reader never sees half a file."""
    target = cache / sha256 / f"{page}-{dpi}.jpg"
    if target.exists():
        return target
    data = page_jpeg(path, page, dpi)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def warm(path: Path, sha256: str, pages: list[int], dpi: int, cache: Path) -> None:
    """Render the scanned pages of a document ahead of the reviewer (best effort: a page that fails is
    rendered, or fails with its message, when it is asked for)."""
    for page in pages:
        try:
            cached_page(path, sha256, page, dpi, cache)
        except Exception as e:  # noqa: BLE001 - a cache is never worth failing a job over
            log.warning("page %d of %s not cached: %s", page, sha256[:12], e)


def page_jpeg(path: Path, page: int, dpi: int) -> bytes:
    """JPEG bytes of page `page` (1-based) of the PDF or image at `path`; IngestError when there is none."""
    data = path.read_bytes()
    image = _pdf_page(data, page, dpi) if data.lstrip()[:5] == b"%PDF-" else _image_frame(data, page)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
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
