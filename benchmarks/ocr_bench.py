"""How long OCR takes per scanned A4 page, and how much memory it needs.

Renders the first pages of sample report 000 at 200 dpi (12 pt text, 40
lines a page), degrades them like an office scan, then times `ocr_image` on
each page with the engine already loaded (the first OCR call, which loads
the models, is timed separately: it happens once per process). Prints one markdown table row, so results from
different machines can be pasted into one table.

    .venv/bin/python benchmarks/ocr_bench.py [--pages 3] [--dpi 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.document import DocumentBuilder  # noqa: E402
from service.ingest import lattice, ocr  # noqa: E402
from service.settings import load_settings  # noqa: E402
from tests.scans import degrade, find_cjk_font, render_pages  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "reports" / "000_8d720d4fc0889d24.txt"  # its first pages: prose, then ruled tables


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--dpi", type=int, default=200)
    args = parser.parse_args()
    font = find_cjk_font()
    if font is None:
        print("no CJK font found (install fonts-wqy-zenhei); cannot render pages", file=sys.stderr)
        return 1
    settings = load_settings(env={})
    pages = render_pages(SAMPLE.read_text(encoding="utf-8"), font, dpi=args.dpi)[: args.pages]
    scans = [degrade(p, seed=i) for i, p in enumerate(pages)]

    t0 = time.perf_counter()
    ocr.ocr_image(scans[0], 1, DocumentBuilder(), settings)  # rapidocr loads each model on first use
    first_s = time.perf_counter() - t0

    times, chars = [], 0
    for number, scan in enumerate(scans, start=1):
        builder = DocumentBuilder()
        t0 = time.perf_counter()
        ocr.ocr_image(scan, number, builder, settings)
        times.append(time.perf_counter() - t0)
        chars += len(builder.build("bench", "", "image").text)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    grid_times = []  # the ruled-grid step alone (lattice), included in the times above
    for scan in scans:
        arr, _ = ocr.prepare(scan)
        t0 = time.perf_counter()
        lattice.find_grids(arr)
        grid_times.append(time.perf_counter() - t0)
    grid_share = sum(grid_times) / sum(times)

    print("| machine | cpus | pages | dpi | chars/page | first call s | mean s/page | max s/page | peak RSS MB "
          "| ruled-grid step ms/page (share) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {platform.machine()} {platform.python_version()} | {os.cpu_count()} | {len(times)} | {args.dpi} "
          f"| {chars / len(times):.0f} | {first_s:.2f} | {sum(times) / len(times):.2f} | {max(times):.2f} "
          f"| {peak_mb:.0f} | {1000 * sum(grid_times) / len(grid_times):.0f} ({100 * grid_share:.1f} %) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
