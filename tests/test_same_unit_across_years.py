"""Once a list of units is imported, the checks across years pair a unit's reports by the unit of the list
they are matched or chosen to, not by the name each report happens to print: a report that writes its county
in front one year and not the next is still compared with its own last year, and a report a reviewer chose
for another unit is compared with that unit's."""

from __future__ import annotations

import html
import json
import re
from contextlib import closing

import pytest

from service.store import Store
from service.units.importing import read_units_file
from tests.overview_data import confirmed_years, report_text
from tests.webapp import as_user, make_app

LAST, NOW = "常宁市荫田镇人民政府", "衡阳市常宁市荫田镇人民政府"  # one township, written two ways
REPORTS = [(LAST, 2022, 300.0, 290.0, 10.7, 40, 48), (NOW, 2023, 310.0, 300.0, 11.6, 40, 48)]
LIST = "名称,类别,代码\n荫田镇,乡镇,102\n洋泉镇,乡镇,103\n"


def with_statement(unit, year, *figures) -> str:
    said = "\n“三公”经费上年决算数为12.30万元。" if year == 2023 else ""  # last year's record has 10.70
    return report_text(unit, year, *figures) + said


@pytest.fixture()
def two_years(tmp_path):
    app = make_app(tmp_path)
    shas = confirmed_years(tmp_path, app.config["DATABASE"], REPORTS, with_statement)
    return app, shas


def import_list(app) -> None:
    with closing(Store(app.config["DATABASE"])) as store:
        store.import_units(read_units_file("名单.csv", LIST.encode("utf-8")), "admin", "名单.csv")


def overview(app) -> tuple[str, dict]:
    page = html.unescape(as_user(app, "rev").get("/overview?year=2023").get_data(as_text=True))
    block = re.search(r'<script type="application/json" id="overview-data"[^>]*>(.*?)</script>', page, re.S)
    return page, json.loads(block.group(1))


def test_without_a_list_two_spellings_are_two_units_and_nothing_is_compared(two_years):
    app, shas = two_years
    page, data = overview(app)
    assert 'id="prior-year"' not in page and data["sangong"]["last_year"] == [None]


def test_with_a_list_a_units_two_spellings_are_compared_on_the_review_page_and_the_overview(two_years):
    app, shas = two_years
    import_list(app)
    review = html.unescape(as_user(app, "rev").get(f"/documents/{shas[(NOW, 2023)]}").get_data(as_text=True))
    block = re.search(r'<div class="prior-year small" id="prior-year">(.*?)</div>', review, re.S).group(1)
    assert "12.3" in block and "10.7" in block and f"/documents/{shas[(LAST, 2022)]}" in block
    page, data = overview(app)
    prior = re.search(r'<ul class="outliers" id="prior-year">(.*?)</ul>', page, re.S).group(1)
    assert NOW in prior and f"/documents/{shas[(LAST, 2022)]}" in prior
    assert data["sangong"]["this_year"] == [11.6] and data["sangong"]["last_year"] == [10.7]


def test_a_report_chosen_for_another_unit_is_compared_with_that_units_years_only(two_years):
    app, shas = two_years
    import_list(app)
    with closing(Store(app.config["DATABASE"])) as store:
        other = next(u for u in store.registry() if u.name == "洋泉镇")
        store.choose_unit(shas[(NOW, 2023)], other.id, "rev")
    review = html.unescape(as_user(app, "rev").get(f"/documents/{shas[(NOW, 2023)]}").get_data(as_text=True))
    assert 'id="prior-year"' not in review
    page, data = overview(app)
    assert 'id="prior-year"' not in page and data["sangong"]["last_year"] == [None]


def test_a_second_report_of_a_listed_unit_under_another_name_asks_which_stands_at_confirm(tmp_path):
    from service.settings import load_settings
    from service.worker import process_next, store_upload
    from tests.webapp import confirm_form

    app = make_app(tmp_path)
    shas = confirmed_years(tmp_path, app.config["DATABASE"], [(LAST, 2023, 300.0, 290.0, 10.7, 40, 48)])
    import_list(app)
    store = Store(app.config["DATABASE"])
    again = report_text(NOW, 2023, 300.0, 291.0, 10.7, 40, 48)  # the same township's 2023, its name written longer
    job, _ = store_upload(store, tmp_path / "uploads", "荫田镇2023更正.txt", again.encode("utf-8"), "oper")
    while process_next(store, load_settings(env={}, db=app.config["DATABASE"], engine="rules")) is not None:
        pass
    for item in store.review_items(job["sha256"]):
        if item["status"] == "review":
            store.save_item(job["sha256"], item["item"], item["version"], item["value"], "confirmed", "rev", "accept")
    client = as_user(app, "rev")
    page = html.unescape(client.get(f"/documents/{job['sha256']}").get_data(as_text=True))
    assert "以哪一份为准" in page and f'value="{shas[(LAST, 2023)]}"' in page
    form = confirm_form(client, job["sha256"])
    refused = client.post(f"/documents/{job['sha256']}/confirm", data=form, follow_redirects=True)
    assert "已有确认入库" in html.unescape(refused.get_data(as_text=True))
    assert store.job(job["sha256"])["state"] == "review"  # not confirmed beside the other
    client.post(f"/documents/{job['sha256']}/confirm", data={**form, "stands": "this"})
    assert store.job(job["sha256"])["state"] == "confirmed"
    current = [r["document_sha256"] for r in store.confirmed_of_year(2023)]
    assert current == [job["sha256"]]  # the earlier one is kept, superseded
    store.close()
