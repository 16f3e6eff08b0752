"""上年数核对 on the review page in Chromium: 在原文中查看 marks the statement in the source pane, under the CSP
with no console error, and the link opens last year's report; a screenshot in docs/screenshots
(`JIXIAO_SCREENSHOTS`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"Debian chromium is not installed at {CHROMIUM} (make debian installs it)", allow_module_level=True)

from tests.browser_pages import logged_in, served  # noqa: E402
from tests.prior_year_data import seeded  # noqa: E402
from tests.webapp import make_app  # noqa: E402


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prior-browser")
    app = make_app(folder)
    shas = seeded(folder, app.config["DATABASE"])
    with served(app) as url:
        yield url, shas


def test_a_statement_about_last_year_is_marked_in_the_source_and_links_last_years_report(browser, live):
    url, shas = live
    with logged_in(browser, url) as (page, errors):
        page.goto(f"/documents/{shas[('某某县文化局', 2023)]}")
        page.locator("#prior-year .prior-source").first.click()
        assert page.locator("#source mark:not(.context)").first.text_content() == \
            "公用经费2023年决算130.00万元，2022年117.90万元"
        assert page.evaluate("window.cspViolations || []") == [] and errors == []
        folder = os.environ.get("JIXIAO_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / "prior-year-1440x900.png"))
        page.locator("#prior-year a", has_text="2022 年度已确认报告").first.click()
        page.wait_for_url(f"**/documents/{shas[('某某县文化局', 2022)]}")
