"""The 总览 page in Chromium: every chart drawn with its data, under the CSP with no console error, and a
chart's point followed to its report; screenshots in docs/screenshots (`JIXIAO_SCREENSHOTS`)."""

from __future__ import annotations

import os
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"Debian chromium is not installed at {CHROMIUM} (make debian installs it)", allow_module_level=True)

from service.store import Store  # noqa: E402
from service.units.importing import read_units_file  # noqa: E402
from tests.browser_pages import logged_in, served  # noqa: E402
from tests.overview_data import confirmed_years  # noqa: E402
from tests.webapp import make_app  # noqa: E402

CHARTS = ["scores", "score_execution", "sangong", "indicators"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("overview-browser")
    app = make_app(folder)
    shas = confirmed_years(folder, app.config["DATABASE"])
    names = ["某某县农业农村局", "某某县教育局", "某某县水利局", "某某县林业局", "某某县财政局"]
    listed = "名称,类别\n" + "".join(f"{n},部门\n" for n in names)
    with closing(Store(app.config["DATABASE"])) as store:
        store.import_units(read_units_file("名单.csv", listed.encode("utf-8")), "admin", "名单.csv")
    with served(app) as url:
        yield url, shas


def test_the_overview_draws_every_chart_and_a_point_opens_its_report(browser, live):
    url, shas = live
    with logged_in(browser, url) as (page, errors):
        page.goto("/overview?year=2023")
        page.wait_for_function("() => document.querySelectorAll('[data-chart] canvas').length === 4")
        for key in CHARTS:
            points = page.evaluate(f"""() => echarts.getInstanceByDom(document.getElementById('chart-{key}'))
                .getOption().series.reduce((n, s) => n + s.data.filter(d => d !== null && d !== undefined).length, 0)""")
            assert points > 0, key
        assert page.evaluate("window.cspViolations || []") == [] and errors == []
        assert page.locator("#not-confirmed").inner_text().count("某某县") == 2  # 水利局 and 财政局 of the list
        folder = os.environ.get("JIXIAO_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / "overview-1440x900.png"), full_page=True)
        # the outlier's point, where the chart draws it
        x, y = page.evaluate("""() => {
            const el = document.getElementById('chart-score_execution');
            el.scrollIntoView({block: 'center'});
            const chart = echarts.getInstanceByDom(el);
            const [px, py] = chart.convertToPixel({seriesIndex: 1}, [70, 96]);
            const box = el.getBoundingClientRect();
            return [box.left + px, box.top + py]; }""")
        page.mouse.click(x, y)
        page.wait_for_url(f"**/documents/{shas[('某某县农业农村局', 2023)]}")
        assert "某某县农业农村局" in page.content()
