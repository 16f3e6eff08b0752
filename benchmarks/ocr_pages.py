"""Scanned pages of known text for the OCR benchmarks: clean, and degraded six ways.

Every page of the five sample reports is rendered at 200 dpi with
`tests.scans.render_pages` (prose, and tables as ruled grids). The text of
each page is what `render_pages` drew on it, recorded as it draws, so a
page's OCR output is scored against that page's own text (`tests.scans.cer`:
whitespace and `|` ignored, NFKC). The degraded set gives page i the damage
`PROFILES[i % 6]`: office-scan defaults, heavy noise, blur, strong JPEG
artefacts, low contrast, and a 3 degree tilt (each with a little of the
others, as real scans have). Pages are cached as PNG under
`.benchmarks/ocr_pages/` (git-ignored), keyed by dpi.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scans import degrade, find_cjk_font, render_pages  # noqa: E402

REPORTS = sorted((ROOT.parent / "shared" / "reports").glob("*.txt"))
CACHE = ROOT / ".benchmarks" / "ocr_pages"

# name -> (rotation in degrees, blur radius, noise sigma, JPEG quality, contrast: ink..paper grey levels)
PROFILES: dict[str, tuple[float, float, float, int, tuple[int, int] | None]] = {
    "scan": (1.5, 0.8, 8, 60, None),  # tests.scans.degrade's defaults: a cheap office scanner
    "noise": (0.7, 0.5, 22, 50, None),
    "blur": (-1.0, 1.4, 6, 70, None),
    "jpeg": (0.5, 0.6, 6, 20, None),
    "contrast": (-0.8, 0.7, 10, 55, (120, 215)),  # grey ink on grey paper
    "rotation": (3.0, 0.7, 8, 60, None),
}


@dataclass(frozen=True)
class Page:
    name: str  # report stem and page number, e.g. "000-03"
    text: str  # what was drawn on the page, in drawing order
    clean: Path
    degraded: Path
    profile: str  # the damage of the degraded copy


def low_contrast(img: Image.Image, ink: int, paper: int) -> Image.Image:
    """Black becomes `ink`, white becomes `paper` (grey levels): a faded print on grey recycled paper."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    return Image.fromarray(np.clip(ink + arr * (paper - ink) / 255.0, 0, 255).astype(np.uint8))


def damage(img: Image.Image, profile: str, seed: int) -> Image.Image:
    angle, blur, noise, quality, contrast = PROFILES[profile]
    if contrast:
        img = low_contrast(img, *contrast)
    return degrade(img, angle_deg=angle, blur_radius=blur, noise_sigma=noise, jpeg_quality=quality, seed=seed)


def render_with_text(text: str, font: str, dpi: int) -> list[tuple[Image.Image, str]]:
    """`render_pages`, and the text it drew on each page (recorded from ImageDraw.text as it draws)."""
    drawn: dict[int, list[str]] = {}
    original = ImageDraw.ImageDraw.text

    def recording(self, xy, text, *args, **kwargs):
        drawn.setdefault(id(self._image), []).append(str(text))
        return original(self, xy, text, *args, **kwargs)

    ImageDraw.ImageDraw.text = recording
    try:
        pages = render_pages(text, font, dpi=dpi)
    finally:
        ImageDraw.ImageDraw.text = original
    return [(page, "\n".join(drawn.get(id(page), []))) for page in pages]


def pages(dpi: int = 200) -> list[Page]:
    """Every page of the sample reports, clean and degraded, rendered once and then read from the cache."""
    folder = CACHE / str(dpi)
    index = folder / "index.json"
    if index.is_file():
        rows = json.loads(index.read_text(encoding="utf-8"))
        out = [Page(r["name"], r["text"], folder / r["clean"], folder / r["degraded"], r["profile"]) for r in rows]
        if all(p.clean.is_file() and p.degraded.is_file() for p in out):
            return out
    font = find_cjk_font()
    if font is None:
        raise SystemExit("no CJK font found (install fonts-wqy-zenhei); cannot render pages")
    folder.mkdir(parents=True, exist_ok=True)
    rows, names = [], list(PROFILES)
    for report in REPORTS:
        for number, (img, drawn) in enumerate(render_with_text(report.read_text(encoding="utf-8"), font, dpi), 1):
            if not drawn.strip():
                continue
            name = f"{report.name[:3]}-{number:02d}"
            profile = names[len(rows) % len(names)]
            img.save(folder / f"{name}-clean.png")
            damage(img, profile, seed=len(rows)).save(folder / f"{name}-{profile}.png")
            rows.append({"name": name, "text": drawn, "clean": f"{name}-clean.png",
                         "degraded": f"{name}-{profile}.png", "profile": profile})
    index.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return pages(dpi)


if __name__ == "__main__":
    ps = pages()
    print(f"{len(ps)} pages in {CACHE}; {sum(len(p.text) for p in ps)} characters drawn")
