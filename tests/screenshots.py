"""Screenshots of the review workbench for docs/screenshots, at the two window sizes reviewers use.

    .venv/bin/python -m tests.screenshots [--out docs/screenshots]

A scanned page drawn here (tests/test_scan_box.py's own layout, not a real report) and one of the demo
reports (tests/data/new_layouts, written by us) are uploaded to a live app with a worker; each review page is
shown with a value selected: on the scan its box on the value's characters, in the text its quote
highlighted, in a score table the cells it came from. Needs Debian's Chromium (`make debian`).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.conftest import CHROMIUM, ROOT
from tests.test_browser import CHROMIUM_ARGS, LiveApp, logged_in
from tests.test_scan_box import draw_page

SIZES = [(1440, 900), (1280, 720)]
TEXT_REPORT = ROOT / "tests" / "data" / "new_layouts" / "r_a2.txt"


def shoot(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        scan = draw_page(Path(tmp) / "岭坡乡扫描件.png")
        live = LiveApp(Path(tmp) / "app", (scan, TEXT_REPORT))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                for width, height in SIZES:
                    with logged_in(browser, live, width, height, timeout_ms=30_000) as page:
                        page.goto(f"/documents/{live.shas[scan.name]}")
                        page.click(".tab[data-view=pages]")
                        page.wait_for_function("() => { const i = document.querySelector('.page-frame img');"
                                               " return i && i.complete && i.naturalWidth > 0; }")
                        page.locator("#item-field-spending_actual .label").click()
                        page.wait_for_selector(".page-frame .box:not(.context)")
                        made.append(out / f"review-scan-{width}x{height}.png")
                        page.screenshot(path=made[-1])

                        page.goto(f"/documents/{live.shas[TEXT_REPORT.name]}")
                        page.locator("#item-field-spending_actual .label").click()
                        page.wait_for_selector(".pane.source mark")
                        made.append(out / f"review-text-{width}x{height}.png")
                        page.screenshot(path=made[-1])
                browser.close()
        finally:
            live.close()
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    for path in shoot(ap.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
