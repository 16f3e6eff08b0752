"""Make scans of real report text, and score OCR output against it.

OCR tests must run on real pixels, not mocks: `render_pages` draws report
text onto white A4 pages the way a printed report looks (tables as ruled
grids, cells wrapped in their columns), `degrade` makes a page
look like it went through a cheap office scanner (skew, blur, noise, JPEG),
and `cer` measures how far OCR output is from the text that was drawn.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)

A4_INCHES = (8.27, 11.69)
FONT_PT = 12
# Runs that must not be split across lines: numbers, percentages, Latin words.
_UNBREAKABLE = re.compile(r"[0-9A-Za-z.%,]+|.", re.S)


def find_cjk_font() -> str | None:
    """A font file that can draw Chinese: known paths first, then fontconfig."""
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return path
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True,
                                 timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        for line in out.splitlines():
            path = line.split(":")[0].strip()
            if path and Path(path).exists() and not path.lower().endswith("bold.ttc"):
                return path
    return None


def _wrap(line: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Break one text line into pieces no wider than max_width, never inside a number."""
    out: list[str] = []
    current = ""
    for token in _UNBREAKABLE.findall(line):
        if current and font.getlength(current + token) > max_width:
            out.append(current)
            current = token.lstrip()
        else:
            current += token
    if current.strip() or not out:
        out.append(current)
    return out


def render_pages(text: str, font_path: str, dpi: int = 200, chars_per_line: int = 38,
                 lines_per_page: int = 40, rules: bool = True) -> list[Image.Image]:
    """Draw report text on white A4 pages: 12 pt, 1.5 line spacing, long lines wrapped.

    Blank lines are dropped (a printed report's paragraph spacing does not
    matter to OCR). Tables in the tab form (see `tests.builders.split_blocks`)
    are drawn as printed tables: a grid as wide as the widest row, 10 pt,
    columns sized to their content, every cell's text wrapped inside its
    column and top-aligned, ruled unless `rules` is false. A row that does
    not fit on the page starts the next one.
    """
    from tests.builders import split_blocks  # the tab form, read without the project's table parser

    font_px = round(FONT_PT / 72 * dpi)
    font = ImageFont.truetype(font_path, font_px)
    max_width = chars_per_line * font_px
    width, height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    pitch = round(font_px * 1.5)
    left = max(0, (width - max_width) // 2)
    top = max(0, (height - pitch * lines_per_page) // 2)
    bottom = top + pitch * lines_per_page
    pages: list[Image.Image] = []
    state = {"y": bottom}

    def room(needed: int) -> ImageDraw.ImageDraw:
        """The page to draw the next `needed` pixels on: a new one when this one is full."""
        if not pages or state["y"] + needed > bottom:
            pages.append(Image.new("RGB", (width, height), "white"))
            state["y"] = top
        return ImageDraw.Draw(pages[-1])

    for kind, content in split_blocks(text):
        if kind == "para":
            raw = content.replace("\t", "    ").rstrip()
            for line in _wrap(raw, font, max_width) if raw.strip() else []:
                room(pitch).text((left, state["y"]), line, fill="black", font=font)
                state["y"] += pitch
        else:
            _draw_table(content, font_path, dpi, width, room, state, rules)
    if not pages:
        room(0)
    return pages


TABLE_PT = 10
TABLE_MAX_CHARS = 14  # a column is sized for at most this many characters per line


def _draw_table(rows: list[list[str]], font_path: str, dpi: int, page_width: int, room, state,
                rules: bool) -> None:
    px = round(TABLE_PT / 72 * dpi)
    font = ImageFont.truetype(font_path, px)
    pad_x, pad_y, pitch = px, round(0.4 * px), round(1.3 * px)
    n = max(len(r) for r in rows)
    grid = [[_cell_lines(c) for c in r] + [[]] * (n - len(r)) for r in rows]
    # Every column is as wide as its longest number or word, then shares the rest by its text.
    need = [2.5 * px] * n
    want = [2.5 * px] * n
    for r in grid:
        for j, lines in enumerate(r):
            for line in lines:
                tokens = _UNBREAKABLE.findall(line)
                need[j] = max(need[j], max((font.getlength(t) for t in tokens), default=0))
                want[j] = max(want[j], min(font.getlength(line), TABLE_MAX_CHARS * px))
    margin = round(0.5 * dpi)
    spare = page_width - 2 * margin - sum(need) - 2 * pad_x * n
    extra = [w - nd for w, nd in zip(want, need, strict=True)]
    scale = min(1.0, max(spare, 0) / sum(extra)) if sum(extra) else 0.0
    inner = [nd + e * scale for nd, e in zip(need, extra, strict=True)]
    xs = [margin]
    for w in inner:
        xs.append(xs[-1] + round(w + 2 * pad_x))
    state["y"] += pitch // 2
    for r in grid:
        wrapped = [[piece for line in lines for piece in _wrap(line, font, inner[j])]
                   for j, lines in enumerate(r)]
        row_h = max(1, max(len(w) for w in wrapped)) * pitch + 2 * pad_y
        draw = room(row_h)
        y = state["y"]
        for j, pieces in enumerate(wrapped):
            if rules:
                draw.rectangle((xs[j], y, xs[j + 1], y + row_h), outline="black", width=2)
            for k, piece in enumerate(pieces):
                draw.text((xs[j] + pad_x, y + pad_y + k * pitch), piece, fill="black", font=font)
        state["y"] += row_h
    state["y"] += pitch


def _cell_lines(cell: str) -> list[str]:
    return [" ".join(line.split()) for line in cell.split("\n") if line.strip()]


def crop_to_ink(img: Image.Image, margin: int = 80) -> Image.Image:
    """The part of a page that holds ink, plus a white margin: small images OCR fast."""
    box = ImageOps.invert(img.convert("L")).point(lambda v: 255 if v > 64 else 0).getbbox()
    if box is None:
        return img
    x0, y0, x1, y1 = box
    return img.crop((max(0, x0 - margin), max(0, y0 - margin),
                     min(img.width, x1 + margin), min(img.height, y1 + margin)))


def degrade(img: Image.Image, angle_deg: float = 1.5, blur_radius: float = 0.8, noise_sigma: float = 8,
            jpeg_quality: int = 60, seed: int = 0) -> Image.Image:
    """A cheap scanner's copy: slight rotation (white fill), blur, sensor noise, JPEG artefacts."""
    out = img.convert("RGB")
    if angle_deg:
        out = out.rotate(angle_deg, resample=Image.Resampling.BICUBIC, expand=False, fillcolor="white")
    if blur_radius:
        out = out.filter(ImageFilter.GaussianBlur(blur_radius))
    if noise_sigma:
        rng = np.random.default_rng(seed)
        arr = np.asarray(out, dtype=np.float32)
        arr = arr + rng.normal(0.0, noise_sigma, arr.shape[:2])[..., None]
        out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=jpeg_quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _normalize(s: str) -> str:
    s = unicodedata.normalize("NFKC", s)
    return "".join(ch for ch in s if not ch.isspace() and ch != "|")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, O(len(a) * len(b)) time with two rolling rows (numpy per row)."""
    if not a:
        return len(b)
    if not b:
        return len(a)
    bs = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    prev = np.arange(len(b) + 1, dtype=np.int64)
    for i, ch in enumerate(a, start=1):
        cost = (bs != ord(ch)).astype(np.int64)
        # Substitution and deletion are vectorised; insertion (left neighbour) needs a scan,
        # done as a running minimum of (value - index) + index.
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        idx = np.arange(len(b) + 1, dtype=np.int64)
        cur = np.minimum.accumulate(cur - idx) + idx
        prev = cur
    return int(prev[-1])


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance / reference length, ignoring whitespace and `|`, NFKC."""
    ref, hyp = _normalize(reference), _normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
