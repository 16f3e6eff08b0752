"""总览: a year's confirmed reports at a glance — outliers named, 三公 against last year, indicators below
their weight, every point linking to its report and every chart's table downloadable."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.overview_data import confirmed_years
from tests.webapp import as_user, make_app


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("overview")
    app = make_app(folder)
    shas = confirmed_years(folder, app.config["DATABASE"])
    return app, shas


def chart_data(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="overview-data"[^>]*>(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def test_the_year_with_an_outlier_names_it_with_its_reason_and_links_its_report(seeded):
    app, shas = seeded
    page = as_user(app, "rev").get("/overview?year=2023").get_data(as_text=True)
    assert "2023 年度" in page and "已确认入库 3 份" in page
    outliers = re.search(r'<ul class="outliers" id="outliers">(.*?)</ul>', page, re.S).group(1)
    assert "某某县农业农村局" in outliers and "自评得分 96 分，但预算执行率只有 70%" in outliers
    assert f"/documents/{shas[('某某县农业农村局', 2023)]}" in outliers and "教育局" not in outliers


def test_each_chart_has_its_points_with_their_reports(seeded):
    app, shas = seeded
    data = chart_data(as_user(app, "rev").get("/overview?year=2023").get_data(as_text=True))
    assert data["scores"]["counts"] == [0, 0, 0, 0, 1, 2]  # 90 (90–95); 96 and 100 (95–100)
    points = {p[2]: p for p in data["score_execution"]["points"]}
    assert points["某某县农业农村局"][:2] == [70.0, 96] and points["某某县农业农村局"][4] is True
    assert points["某某县教育局"][3] == shas[("某某县教育局", 2023)] and points["某某县教育局"][4] is False
    sangong = dict(zip(data["sangong"]["units"], zip(data["sangong"]["this_year"], data["sangong"]["last_year"],
                                                      strict=True), strict=True))
    assert sangong == {"某某县农业农村局": (12.5, 10.0), "某某县教育局": (18.0, 20.0), "某某县林业局": (3.0, 3.0)}
    assert data["indicators"]["names"][0] == "群众满意度" and data["indicators"]["below"][0] == 2


def test_a_charts_table_downloads_as_csv_with_the_same_rows(seeded):
    app, _ = seeded
    resp = as_user(app, "rev").get("/overview/sangong.csv?year=2023")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["单位", "本年（万元）", "上年（万元）", "增减（万元）"]
    assert sorted(r[0] for r in rows[1:]) == sorted(["某某县农业农村局", "某某县教育局", "某某县林业局"])


def test_the_previous_year_has_no_outlier_and_the_overview_needs_a_reviewer(seeded):
    app, _ = seeded
    page = as_user(app, "rev").get("/overview?year=2022").get_data(as_text=True)
    assert "已确认入库 4 份" in page and 'id="outliers"' not in page and 'id="across"' not in page
    assert as_user(app, "oper").get("/overview").status_code == 403
    assert as_user(app, "rev").get("/overview/nothing.csv").status_code == 404


def test_a_units_spending_far_from_its_earlier_years_is_named_with_the_earlier_report(seeded):
    app, shas = seeded
    page = as_user(app, "rev").get("/overview?year=2023").get_data(as_text=True)
    across = re.search(r'<ul class="outliers" id="across">(.*?)</ul>', page, re.S).group(1)
    assert "某某县林业局" in across and "全年执行数 420 万元" in across and "2022 年 200 万元" in across
    assert "相差 110%（超过 50%）" in across
    assert f"/documents/{shas[('某某县林业局', 2023)]}" in across and f"/documents/{shas[('某某县林业局', 2022)]}" in across
    assert "教育局" not in across and "农业农村局" not in across  # 7 % and 26 % moves are not named


def test_a_unit_with_a_second_report_of_the_year_is_named_with_both_reports(tmp_path):
    from service.settings import load_settings
    from service.store import Store
    from service.worker import process_next, store_upload
    from tests.overview_data import REPORTS, report_text

    app = make_app(tmp_path)
    shas = confirmed_years(tmp_path, app.config["DATABASE"], reports=REPORTS[2:4])  # 教育局 2022 and 2023
    store = Store(app.config["DATABASE"])
    again = report_text("某某县教育局", 2023, 950.0, 941.0, 18.0, 36, 44)  # a corrected resubmission
    job, _ = store_upload(store, tmp_path / "uploads", "教育局2023更正.txt", again.encode("utf-8"), "oper")
    while process_next(store, load_settings(env={}, db=app.config["DATABASE"], engine="rules")) is not None:
        pass
    store.close()
    page = as_user(app, "rev").get("/overview?year=2023").get_data(as_text=True)
    repeats = re.search(r'<ul class="outliers" id="repeats">(.*?)</ul>', page, re.S).group(1)
    assert "某某县教育局" in repeats and "2023 年度有 2 份报告（已确认 1 份，待审核 1 份）" in repeats
    assert f"/documents/{shas[('某某县教育局', 2023)]}" in repeats and f"/documents/{job['sha256']}" in repeats
    assert 'id="repeats"' not in as_user(app, "rev").get("/overview?year=2022").get_data(as_text=True)


def test_the_review_page_names_a_spending_far_from_the_units_earlier_years_with_that_report(seeded):
    app, shas = seeded
    page = as_user(app, "rev").get(f"/documents/{shas[('某某县林业局', 2023)]}").get_data(as_text=True)
    across = re.search(r'<p class="alike small" id="across">(.*?)</p>', page, re.S).group(1)
    assert "全年执行数 420 万元" in across and "2022 年 200 万元" in across and "相差 110%（超过 50%）" in across
    assert f"/documents/{shas[('某某县林业局', 2022)]}" in across
    calm = as_user(app, "rev").get(f"/documents/{shas[('某某县教育局', 2023)]}").get_data(as_text=True)
    assert 'id="across"' not in calm  # 940 against 880: within half


def test_a_year_whose_reports_are_all_still_in_review_is_offered_and_shown_first(tmp_path):
    from service.settings import load_settings
    from service.store import Store
    from service.worker import process_next, store_upload
    from tests.overview_data import report_text

    app = make_app(tmp_path)
    store = Store(app.config["DATABASE"])
    text = report_text("某某县教育局", 2024, 950.0, 940.0, 18.0, 36, 44)
    store_upload(store, tmp_path / "uploads", "教育局2024.txt", text.encode("utf-8"), "oper")
    while process_next(store, load_settings(env={}, db=app.config["DATABASE"], engine="rules")) is not None:
        pass
    store.close()
    page = as_user(app, "rev").get("/overview").get_data(as_text=True)
    assert '<option value="2024" selected>2024</option>' in page and "总览：2024 年度" in page
    assert "待审核 1 份" in page and "/overview/scores.csv?year=2024" in page
