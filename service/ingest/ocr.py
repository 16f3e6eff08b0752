"""OCR of one page image into the document, in reading order.

RapidOCR (PP-OCR models shipped inside installed wheels, run by onnxruntime,
offline: see `service.ingest.ocr_models`) finds text boxes and reads them,
with `ocr_threads` threads (by default the cores shared among the
`worker_processes`), the full recognition model or, with `ocr_mode = fast`,
a tiny one with the full one re-reading its doubtful lines. Before that the page is made easy to read:
RGB on white, scaled to a sane size, and deskewed, because a scan tilted by a
degree or two puts one printed line at several heights and breaks line
grouping. After OCR the boxes, with their confidences, go to
`service.ingest.layout.lay_out`, the same layout step text PDFs use: lines
are written as OCR lines, tables as tables (a table's grid rebuilt from the
boxes' positions, merged cells as empty cells), and every table cell gets an
OCR line of its own so a doubtful cell is sent to review like a doubtful line.
"""

from __future__ import annotations

import logging
import os
import re
import threading

import cv2
import numpy as np
from PIL import Image

from service.document import DocumentBuilder
from service.ingest.lattice import find_grids, grid_table
from service.ingest.layout import (
    RULES,
    Box,
    carried_separators,
    char_units,
    in_reading_order,
    lay_out,
    write_blocks,
)
from service.settings import Settings

log = logging.getLogger(__name__)

MAX_SIDE = 4000  # px; larger pages are scaled down (a 300 dpi A4 page is 3508 px)
MIN_SIDE = 1000  # px; smaller images are scaled up so small print stays legible
DET_SIDE = 1280  # px; the longest side of the copy text boxes are detected on
MAX_SKEW = 5.0  # degrees; beyond that it is not scanner skew and we leave it alone
MIN_SKEW = 0.3  # degrees; smaller tilts are harmless and not worth a resample
# Boxes on one line further apart than this many character widths are cells of a table. A printed
# table's cells stand about a character apart (two cell margins); OCR boxes reach past the glyphs,
# and the detector already joins the words of a phrase into one box.
CELL_GAP = 1.0

_engines: dict[tuple[str, int], object] = {}
_engine_lock = threading.Lock()

# RapidOCR's parameters for jixiao's pages, whichever models read them.
PARAMS = {
    "Global.log_level": "error",  # a blank page is not worth a warning
    # Pages are deskewed and turned upright (EXIF) before OCR; the text-direction
    # classifier only misfires, turning short table cells like "90" into "06".
    "Global.use_cls": False,
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
}


def ocr_threads(settings: Settings) -> int:
    """Threads one OCR process runs: `ocr_threads`, or when 0 the cores shared out among the
    `worker_processes` that may OCR at once (at least 1; never more than the cores)."""
    cores = os.cpu_count() or 1
    if settings.ocr_threads > 0:
        return min(settings.ocr_threads, cores)
    if hasattr(os, "sched_getaffinity"):  # Linux: the cores this process may run on
        cores = min(cores, len(os.sched_getaffinity(0)))
    return max(1, cores // settings.worker_processes)


def _get_engine(settings: Settings):
    """The process's RapidOCR engine for the settings' OCR mode and threads, created on first use (loading
    models takes seconds).

    OpenCV's own threads (resizing and rotating the page, finding ruled
    grids) are set to the same number, so N processes on N cores run one
    thread each instead of competing for the cores.
    """
    key = (settings.ocr_mode, ocr_threads(settings))
    engine = _engines.get(key)
    if engine is None:
        with _engine_lock:
            engine = _engines.get(key)
            if engine is None:
                from service.ingest.ocr_models import build_engine

                mode, threads = key
                cv2.setNumThreads(threads)
                engine = _engines[key] = build_engine(mode, threads, PARAMS)
    return engine


def ocr_image(image: Image.Image, page_number: int, builder: DocumentBuilder, settings: Settings) -> None:
    """OCR one page image and write its lines to the builder as page `page_number`.

    Line boxes are given in the pixels of `image` as passed in (before scaling
    and deskewing), so a viewer can draw them over the page it shows.
    """
    builder.start_page(page_number, ocr=True, size=image.size)
    arr, to_page = prepare(image)
    # with each character's place on the line (no extra cost: it comes from the recogniser's own alignment)
    result = _get_engine(settings)(arr, return_word_box=True)
    if result is None or not getattr(result, "txts", None):
        log.info("page %d: OCR found no text", page_number)
        return
    words = getattr(result, "word_results", None) or [None] * len(result.txts)
    if len(words) != len(result.txts):
        words = [None] * len(result.txts)
    boxes = []
    for quad, raw, score, line_words in zip(np.asarray(result.boxes), result.txts, result.scores, words, strict=True):
        conf = min(max(float(score), 1e-6), 1.0)
        boxes += split_at_rules(Box(str(raw), float(quad[:, 0].min()), float(quad[:, 1].min()),
                                    float(quad[:, 0].max()), float(quad[:, 1].max()), conf,
                                    xs=char_extents(str(raw), line_words)))
    grids = find_grids(arr)  # ruled tables: their cells from the rules, not from the words' positions
    ruled = [(g, [b for b in boxes if g.contains(b)]) for g in grids]
    free = [b for b in boxes if not any(g.contains(b) for g in grids)]
    blocks = lay_out(free, arr.shape[1], cell_gap=CELL_GAP, separators=None if grids else carried_separators(builder, "ocr"),
                     exact_heights=False)
    tables = []
    for g, inside in ruled:
        block = grid_table(g, [b for b in inside if b.text.strip() not in RULES])
        if any(t for row in block.rows for t in row):
            tables.append((g.ys[0], block))
    if tables:  # a ruled table going on from the previous page is joined at ingest (tables.join_page_breaks)
        blocks = in_reading_order(blocks, tables)
    write_blocks(builder, blocks, page_number, origin="ocr", ocr=True,
                 map_box=_box_mapper(to_page, image.size))


def char_extents(raw: str, words) -> tuple[tuple[float, float], ...] | None:
    """Each character's left and right x on its line, from the recogniser's word boxes: a word's box shared
    out among its characters (for Chinese a word is one character), a gap (a space) between its neighbours."""
    if not words or not raw:
        return None
    xs: list[tuple[float, float] | None] = [None] * len(raw)
    cursor = 0
    for word in words:
        try:
            text, quad = str(word[0]), np.asarray(word[2], dtype=float)
        except (IndexError, TypeError, ValueError):
            return None
        at = raw.find(text, cursor) if text else -1
        if at < 0 or quad.ndim != 2:
            return None
        a, b = float(quad[:, 0].min()), float(quad[:, 0].max())
        for k in range(len(text)):
            xs[at + k] = (a + (b - a) * k / len(text), a + (b - a) * (k + 1) / len(text))
        cursor = at + len(text)
    known = [x for x in xs if x is not None]
    if not known:
        return None
    out, last = [], known[0][0]
    for i, x in enumerate(xs):
        if x is None:
            nxt = next((y[0] for y in xs[i + 1:] if y is not None), last)
            x = (last, max(last, nxt))
        out.append(x)
        last = x[1]
    return tuple(out)


def split_at_rules(box: Box) -> list[Box]:
    """A box cut where a table's ruling line was read as `|`: the pieces, with a `|` box between.

    `lay_out` takes a `|` box as a cell boundary. At a box's edge a `|` is
    noise and is dropped. Positions inside the box are the characters' own
    where the recogniser gave them, else shared out by text width.
    """
    runs = []  # (text, index of its first character in box.text)
    for m in re.finditer(r"[^|｜]+", box.text):
        core = m.group().strip()
        if core:
            runs.append((core, m.start() + len(m.group()) - len(m.group().lstrip())))
    xs = box.xs if box.xs is not None and len(box.xs) == len(box.text) else None

    def piece(text: str, at: int, x0: float, x1: float) -> Box:
        return Box(text, x0, box.y0, x1, box.y1, box.confidence, xs=xs[at:at + len(text)] if xs else None)

    if len(runs) <= 1:
        text, at = runs[0] if runs else ("", 0)
        return [piece(text, at, box.x0, box.x1)]
    if xs:
        spans = [(xs[at][0], xs[at + len(text) - 1][1]) for text, at in runs]
    else:
        units = [char_units(text) for text, _ in runs]
        rule = 0.5  # the width of the `|` between two pieces, in character units
        per_unit = (box.x1 - box.x0) / (sum(units) + rule * (len(runs) - 1))
        spans, x = [], box.x0
        for u in units:
            spans.append((x, x + u * per_unit))
            x += (u + rule) * per_unit
    out = []
    for i, ((text, at), (x0, x1)) in enumerate(zip(runs, spans, strict=True)):
        if i:
            out.append(Box("|", spans[i - 1][1], box.y0, x0, box.y1, box.confidence))
        out.append(piece(text, at, x0, x1))
    return out


def _map_box(box: tuple[float, float, float, float], to_page: np.ndarray,
             size: tuple[int, int]) -> tuple[float, float, float, float]:
    """An axis-aligned box of the prepared image, as the enclosing box in the original image."""
    return _box_mapper(to_page, size)(box)


def _box_mapper(to_page: np.ndarray, size: tuple[int, int]):
    """`_map_box` for one page, in plain floats: it runs for every character of the page (a thousand
    times), where numpy's cost per call on four corners would be ten times the arithmetic."""
    (a, b, c), (d, e, f) = to_page.tolist()
    w, h = float(size[0]), float(size[1])

    def map_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = box
        xs = (a * x0 + b * y0 + c, a * x1 + b * y0 + c, a * x1 + b * y1 + c, a * x0 + b * y1 + c)
        ys = (d * x0 + e * y0 + f, d * x1 + e * y0 + f, d * x1 + e * y1 + f, d * x0 + e * y1 + f)
        return (round(min(max(min(xs), 0.0), w), 1), round(min(max(min(ys), 0.0), h), 1),
                round(min(max(max(xs), 0.0), w), 1), round(min(max(max(ys), 0.0), h), 1))

    return map_box


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
