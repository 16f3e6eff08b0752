"""Photos and scans of reports (.png, .jpg, .tif, .bmp): every image frame is one OCR page.

Phones and scanners store the camera's orientation in EXIF rather than
rotating the pixels, so it is applied before OCR. A multi-page TIFF (the
usual output of office scanners) yields one page per frame, numbered from 1.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from ..document import DocumentBuilder
from ..errors import IngestError
from ..settings import Settings

log = logging.getLogger(__name__)

# Pillow refuses images over ~179 Mpx as a decompression-bomb guard; a 600 dpi A3 scan is ~70 Mpx.
Image.MAX_IMAGE_PIXELS = 200_000_000


def read_image(data: bytes, name: str, builder: DocumentBuilder, settings: Settings) -> None:
    """OCR every frame of the image file into the builder; raise IngestError if it cannot be read."""
    if not settings.ocr:
        raise IngestError(name, "图片需要 OCR 识别，但 OCR 已关闭（JIXIAO_OCR=0）")
    from .ocr import ocr_image

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except _BROKEN as e:
        raise _broken(name, e) from None
    number = 0
    frames = ImageSequence.Iterator(image)
    while True:
        # Frames are decoded one at a time: a long TIFF never sits in memory as a whole.
        try:
            frame = next(frames)
            page = ImageOps.exif_transpose(frame.copy())
        except StopIteration:
            break
        except _BROKEN as e:
            raise _broken(name, e) from None
        number += 1
        ocr_image(page, number, builder, settings)


_BROKEN = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def _broken(name: str, error: Exception) -> IngestError:
    log.info("%s: cannot decode image: %s", name, error)
    return IngestError(name, "图片文件损坏，无法打开")
