"""OCR of one page image into the document, in reading order.

RapidOCR (PP-OCR models bundled in the wheel, run by onnxruntime, offline)
finds text boxes and reads them. Before that the page is made easy to read:
RGB on white, scaled to a sane size, and deskewed, because a scan tilted by a
degree or two puts one printed line at several heights and breaks line
grouping. After OCR the boxes are put back into lines: boxes whose vertical
centres agree form one visual line, read left to right. Boxes separated by a
wide gap are table cells and are written as a `|`-delimited row, the form
`service.tables` rebuilds into cells.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from statistics import median

import cv2
import numpy as np
from PIL import Image

from ..document import DocumentBuilder
from ..settings import Settings

log = logging.getLogger(__name__)

MAX_SIDE = 4000  # px; larger pages are scaled down (a 300 dpi A4 page is 3508 px)
MIN_SIDE = 1000  # px; smaller images are scaled up so small print stays legible
DET_SIDE = 1280  # px; the longest side of the copy text boxes are detected on
MAX_SKEW = 5.0  # degrees; beyond that it is not scanner skew and we leave it alone
MIN_SKEW = 0.3  # degrees; smaller tilts are harmless and not worth a resample
CELL_GAP = 1.5  # a gap wider than this many median character widths separates table cells

_engine = None
_engine_lock = threading.Lock()


def _get_engine():
    """The process-wide RapidOCR engine, created on first use (loading models takes seconds)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                from rapidocr import RapidOCR

                _engine = RapidOCR(params={
                    "Global.log_level": "error",  # a blank page is not worth a warning
                    # Pages are already scaled by `prepare`: crop text lines for recognition
                    # from the full-resolution page ...
                    "Global.max_side_len": MAX_SIDE,
                    # ... but find them on a reduced copy, which is 3-5x faster on a CPU
                    # and as accurate for print of 9 pt and more at 200 dpi.
                    "Det.limit_type": "max",
                    "Det.limit_side_len": DET_SIDE,
                    # Printed lines are long (1:30): batching pads them to the widest of the
                    # batch, which costs ~300 MB of peak memory and no time saved on a CPU.
                    "Rec.rec_batch_num": 1,
                })
    return _engine


@dataclass
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    score: float

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def ocr_image(image: Image.Image, page_number: int, builder: DocumentBuilder, settings: Settings) -> None:
    """OCR one page image and write its lines to the builder as page `page_number`.

    Line boxes are given in the pixels of `image` as passed in (before scaling
    and deskewing), so a viewer can draw them over the page it shows.
    """
    builder.start_page(page_number, ocr=True)
    arr, to_page = prepare(image)
    result = _get_engine()(arr)
    if result is None or not getattr(result, "txts", None):
        log.info("page %d: OCR found no text", page_number)
        return
    boxes = []
    for quad, raw, score in zip(np.asarray(result.boxes), result.txts, result.scores, strict=True):
        text = _clean_box_text(str(raw))
        if text:
            boxes.append(Box(float(quad[:, 0].min()), float(quad[:, 1].min()),
                             float(quad[:, 0].max()), float(quad[:, 1].max()), text, float(score)))
    for text, conf, box in assemble_lines(boxes):
        builder.add_ocr_line(page_number, text, conf, _map_box(box, to_page, image.size))


def _clean_box_text(text: str) -> str:
    """A ruling line read as `|` inside a box separates cells; at a box's edge it is noise."""
    return re.sub(r"\s*[|｜]\s*", " | ", text).strip(" |")


def _map_box(box: tuple[float, float, float, float], to_page: np.ndarray,
             size: tuple[int, int]) -> tuple[float, float, float, float]:
    """An axis-aligned box of the prepared image, as the enclosing box in the original image."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]]) @ to_page.T
    w, h = size
    return (round(float(np.clip(corners[:, 0].min(), 0, w)), 1), round(float(np.clip(corners[:, 1].min(), 0, h)), 1),
            round(float(np.clip(corners[:, 0].max(), 0, w)), 1), round(float(np.clip(corners[:, 1].max(), 0, h)), 1))


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: transparency flattened onto white, 16-bit and float scans scaled, not clipped."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        img = Image.new("RGB", rgba.size, "white")
        img.paste(rgba, mask=rgba.getchannel("A"))
        return img
    if image.mode.startswith("I") or image.mode == "F":
        # Pillow clips 16-bit grey to 255 when converting, which turns a scan white.
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def prepare(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """RGB on white, sane size, deskewed, as a BGR array for OpenCV and rapidocr.

    Also returns the 2x3 affine matrix taking prepared pixels back to `image` pixels.
    """
    img = to_rgb(image)
    w, h = img.size
    scale = 1.0
    if max(w, h) > MAX_SIDE:
        scale = MAX_SIDE / max(w, h)
    elif max(w, h) < MIN_SIDE:
        scale = min(MIN_SIDE / max(w, h), 3.0)
    if scale != 1.0:
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    forward = np.array([[img.width / w, 0.0, 0.0], [0.0, img.height / h, 0.0], [0.0, 0.0, 1.0]])
    bgr = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    angle = estimate_skew(bgr)
    if abs(angle) > MIN_SKEW:
        log.debug("deskewing by %.2f degrees", angle)
        bgr, m = rotate(bgr, angle)
        forward = np.vstack([m, [0.0, 0.0, 1.0]]) @ forward
    return bgr, np.linalg.inv(forward)[:2]


def _profile_score(binary: np.ndarray, angle: float) -> float:
    h, w = binary.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rotated = cv2.warpAffine(binary, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    rows = rotated.sum(axis=1, dtype=np.float64)
    return float(np.sum(np.diff(rows) ** 2))


def estimate_skew(bgr: np.ndarray) -> float:
    """Skew of the text lines in degrees (counter-clockwise positive, as cv2 rotates).

    Projection profile: rotating by the right angle lines the text rows up
    with the pixel rows, which makes the row sums of ink sharpest. Searched
    coarse to fine on a reduced copy, so it costs tens of milliseconds.
    """
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    f = min(1.0, 1000 / max(w, 1))
    if f < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    _, binary = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if binary.sum() < 50:  # blank page
        return 0.0
    best, span, step = 0.0, MAX_SKEW, 0.5
    for _ in range(3):  # 21 + 11 + 11 rotations, ending at 0.02 degree resolution
        candidates = np.arange(best - span, best + span + 1e-9, step)
        scores = [_profile_score(binary, a) for a in candidates]
        best = float(candidates[int(np.argmax(scores))])
        span, step = step, step / 5
    # Keep the page as it is unless rotating clearly sharpens the text rows.
    if _profile_score(binary, best) < 1.02 * _profile_score(binary, 0.0):
        return 0.0
    return best


def rotate(bgr: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by `angle` degrees (counter-clockwise), growing the canvas, filling with white.

    Returns the rotated image and the 2x3 matrix that maps old pixels to new ones.
    """
    h, w = bgr.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(bgr, m, (nw, nh), flags=cv2.INTER_CUBIC, borderValue=(255, 255, 255)), m


_LATIN = re.compile(r"[0-9A-Za-z]")


def _char_units(text: str) -> float:
    """Text width in full-width characters: Latin letters, digits and ASCII punctuation count half."""
    return sum(0.5 if ord(ch) < 128 else 1.0 for ch in text) or 1.0


def assemble_lines(boxes: list[Box]) -> list[tuple[str, float, tuple[float, float, float, float]]]:
    """Group boxes into visual lines top to bottom; return (text, confidence, bbox) per line."""
    if not boxes:
        return []
    med_h = median(b.height for b in boxes) or 1.0
    char_w = median(
        (b.x1 - b.x0) / _char_units(b.text) for b in boxes
    ) or med_h
    lines: list[list[Box]] = []
    for b in sorted(boxes, key=lambda b: b.yc):
        if lines:
            line = lines[-1]
            line_yc = sum(x.yc for x in line) / len(line)
            if abs(b.yc - line_yc) <= 0.5 * med_h:
                line.append(b)
                continue
        lines.append([b])
    out = []
    for line in lines:
        line.sort(key=lambda b: b.x0)
        text = line[0].text
        for prev, cur in zip(line, line[1:], strict=False):
            gap = cur.x0 - prev.x1
            if gap > CELL_GAP * char_w:
                text += " | " + cur.text
            elif _LATIN.match(prev.text[-1]) and _LATIN.match(cur.text[0]):
                text += " " + cur.text
            else:
                text += cur.text
        conf = min(max(min(b.score for b in line), 1e-6), 1.0)  # a line is as sure as its worst box
        bbox = (min(b.x0 for b in line), min(b.y0 for b in line),
                max(b.x1 for b in line), max(b.y1 for b in line))
        out.append((text, conf, bbox))
    return out
