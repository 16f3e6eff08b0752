"""Photos and scans of reports (.png, .jpg, .tif, .bmp): every image frame is one OCR page.

Phones and scanners store the camera's orientation in EXIF rather than
rotating the pixels, so it is applied before OCR. A multi-page TIFF (the
usual output of office scanners) yields one page per frame, numbered from 1.

A frame's size is read from its header before its pixels are decoded and
refused above `settings.max_image_mpx`: a 1 MB PNG can declare 20000×20000
pixels and take gigabytes to decode. So is a TIFF of more than
`settings.max_pages` frames.
"""

from __future__ import annotations

import io
import logging
import warnings

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from service.document import DocumentBuilder
from service.errors import IngestError
from service.progress import report
from service.settings import Settings

log = logging.getLogger(__name__)

# Pillow's own decompression-bomb guard, behind `check_pixels`: it refuses images over twice this at open.
Image.MAX_IMAGE_PIXELS = 200_000_000


def check_image(data: bytes, name: str, settings: Settings) -> None:
    """Refuse an image whose frames are too many or too large, from their headers alone (nothing decoded)."""
    image = _open(data, name, settings)
    number = 1
    while image.format == "TIFF":  # only a TIFF's frames are separate pages; seeking one reads its header
        try:
            image.seek(number)
        except EOFError:
            break
        except _BROKEN as e:
            raise _broken(name, e) from None
        number += 1
        check_frame(image.size, number, name, settings)


def check_frame(size: tuple[int, int], number: int, name: str, settings: Settings) -> None:
    """Refuse the `number`th frame (1-based) when it is past `max_pages` or over the pixel cap."""
    if number > settings.max_pages:
        raise IngestError(name, f"图片的页数（帧数）超过上限 {settings.max_pages} 页；请拆分后分别上传")
    check_pixels(size, f"第 {number} 页" if number > 1 else "", name, settings)


def check_pixels(size: tuple[int, int], where: str, name: str, settings: Settings) -> None:
    """Refuse an image (or a rendered PDF page) of more than `settings.max_image_mpx` megapixels."""
    width, height = size
    mpx = width * height / 1_000_000
    if mpx > settings.max_image_mpx:
        raise IngestError(
            name,
            f"{where}图片尺寸过大（{width}×{height} 像素，{mpx:.1f} 百万像素），超过上限 {settings.max_image_mpx} 百万像素；"
            "请降低分辨率（扫描 200–300 dpi 即可）后重新上传",
        )


def _open(data: bytes, name: str, settings: Settings) -> Image.Image:
    """The image with only its header read, its first frame's size checked."""
    try:
        with warnings.catch_warnings():  # our own cap, checked next, says it in Chinese
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:  # over twice Pillow's limit, so far over ours too
        raise IngestError(
            name,
            f"图片尺寸过大（超过 {2 * Image.MAX_IMAGE_PIXELS // 1_000_000} 百万像素），"
            f"超过上限 {settings.max_image_mpx} 百万像素；请降低分辨率后重新上传",
        ) from None
    except _BROKEN as e:
        raise _broken(name, e) from None
    check_frame(image.size, 1, name, settings)
    return image


def read_image(data: bytes, name: str, builder: DocumentBuilder, settings: Settings) -> None:
    """OCR every frame of the image file into the builder; raise IngestError if it cannot be read."""
    if not settings.ocr:
        raise IngestError(name, "图片需要 OCR 识别，但 OCR 已关闭（JIXIAO_OCR=0）")
    image = _open(data, name, settings)
    from service.ingest.ocr import ocr_image  # heavy: imported once the image is known to be worth reading

    number = 0
    frames = ImageSequence.Iterator(image)
    while True:
        # Frames are decoded one at a time: a long TIFF never sits in memory as a whole.
        try:
            frame = next(frames)
            check_frame(frame.size, number + 1, name, settings)
            page = ImageOps.exif_transpose(frame.copy())
        except StopIteration:
            break
        except _BROKEN as e:
            raise _broken(name, e) from None
        number += 1
        report(f"OCR 识别第 {number}/{getattr(image, 'n_frames', 1)} 页")
        ocr_image(page, number, builder, settings)


_BROKEN = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def _broken(name: str, error: Exception) -> IngestError:
    log.info("%s: cannot decode image: %s", name, error)
    return IngestError(name, "图片文件损坏，无法打开")
