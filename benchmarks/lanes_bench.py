"""A text report's time to review while a scan is read: `jixiao worker` with its two lanes against one lane.

    .venv/bin/python benchmarks/lanes_bench.py [--pages 6]

A scanned PDF of the first pages of sample report 000 (rendered at 200 dpi and degraded like an office scan)
is uploaded, then the text of sample report 002. `jixiao worker --until-empty` is run as an operator runs it,
once with every lane together (`--lane all` with the setting `lanes=text` — one worker, first come first
served) and once with the default lanes (a text worker beside the scan worker). Printed: seconds from the
worker's start until each report is 待审核, as a markdown table.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.store import Store  # noqa: E402
from service.worker import store_upload  # noqa: E402
from tests.scans import degrade, find_cjk_font, render_pages  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "reports"
SCANNED = SAMPLES / "000_8d720d4fc0889d24.txt"
TEXT = SAMPLES / "002_6ebd5ff7b055c059.txt"


def scan_pdf(pages: int) -> bytes:
    font = find_cjk_font()
    if font is None:
        raise SystemExit("no CJK font found (install fonts-wqy-zenhei); cannot render pages")
    images = [degrade(p, seed=i).convert("RGB")
              for i, p in enumerate(render_pages(SCANNED.read_text(encoding="utf-8"), font, dpi=200)[:pages])]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=200)
    return buf.getvalue()


def run(folder: Path, pdf: bytes, lanes: str) -> dict[str, float]:
    """Seconds from the worker's start until each upload is in review."""
    db = str(folder / "j.db")
    store = Store(db)
    scan, _ = store_upload(store, folder / "uploads", "scan.pdf", pdf, "oper")
    text, _ = store_upload(store, folder / "uploads", TEXT.name, TEXT.read_bytes(), "oper")
    env = {**os.environ, "JIXIAO_DB": db, "JIXIAO_INSTANCE": str(folder), "JIXIAO_ENGINE": "rules",
           "JIXIAO_LANES": lanes}
    done: dict[str, float] = {}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "worker", "--until-empty", "--quiet"], env=env,
                            cwd=ROOT)

    def watch() -> None:
        while proc.poll() is None or len(done) < 2:
            for name, job in (("scan", scan), ("text", text)):
                if name not in done and store.job(job["sha256"])["state"] == "review":
                    done[name] = time.monotonic() - t0
            if proc.poll() is not None and len(done) < 2:
                break
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    proc.wait()
    watcher.join()
    store.close()
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=6)
    args = parser.parse_args()
    pdf = scan_pdf(args.pages)
    rows = []
    for label, lanes in (("one lane (lanes=text)", "text"), ("two lanes (lanes=text,scan, the default)", "text,scan")):
        with tempfile.TemporaryDirectory() as tmp:
            got = run(Path(tmp), pdf, lanes)
        rows.append((label, got.get("text"), got.get("scan")))
    print(f"\nA {args.pages}-page scan uploaded, then a text report (cores: {os.cpu_count()})\n")
    print("| worker | text report in review after, s | scan in review after, s |")
    print("|---|---|---|")
    for label, text_s, scan_s in rows:
        print(f"| {label} | {text_s:.1f} | {scan_s:.1f} |")


if __name__ == "__main__":
    main()
