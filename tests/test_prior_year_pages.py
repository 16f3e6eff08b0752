"""上年数核对 in the app: a 2023 report that states a 2022 figure its unit's confirmed 2022 report contradicts
shows the reason, the highlighted statement and a link to the 2022 report on its review page and on the 总览;
a statement that agrees, or a unit without a 2022 report, shows nothing; such a report is confirmed only
once the reviewer ticks that they saw it; nothing is changed on its own. Two seeded years
(`tests.prior_year_data`), made through upload, extract and confirm."""

from __future__ import annotations

import html
import re

import pytest

import service.last_year
from service.last_year import statements_of
from tests.prior_year_data import in_review, seeded
from tests.webapp import as_user, confirm_form, make_app, store_of

CULTURE, HEALTH, TRANSPORT, SPORT = "某某县文化局", "某某县卫健局", "某某县交通局", "某某县体育局"


@pytest.fixture(scope="module")
def years(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prior")
    app = make_app(folder)
    return app, seeded(folder, app.config["DATABASE"]), folder


def page_of(app, sha: str) -> str:
    return html.unescape(as_user(app, "rev").get(f"/documents/{sha}").get_data(as_text=True))


def prior_block(page: str) -> str | None:
    found = re.search(r'<div class="prior-year small" id="prior-year">(.*?)</div>', page, re.S)
    return found.group(1) if found else None


def flashes(page: str) -> str:
    return html.unescape(" ".join(re.findall(r'<div class="flash (?:ok|error)"[^>]*>(.*?)</div>', page, re.S)))


def test_a_mismatch_shows_on_the_review_page_with_its_reason_its_source_and_last_years_report(years):
    app, shas, _ = years
    block = prior_block(page_of(app, shas[(CULTURE, 2023)]))
    assert "本报告称 2022 年公用经费 117.90 万元，2022 年已确认报告为 120 万元（相差 2.1 万元），请核对" in block
    assert "<mark>公用经费2023年决算130.00万元，2022年117.90万元</mark>" in block
    assert f'href="/documents/{shas[(CULTURE, 2022)]}"' in block and "2022 年度已确认报告" in block
    store = store_of(app)
    try:
        text = store.document_text(shas[(CULTURE, 2023)])
    finally:
        store.close()
    start, end = (int(x) for x in re.search(r'data-start="(\d+)" data-end="(\d+)"', block).groups())
    assert text[start:end] == "公用经费2023年决算130.00万元，2022年117.90万元"  # what 在原文中查看 marks


def test_a_figure_computed_from_a_change_is_shown_as_computed_never_as_stated(years):
    app, shas, _ = years
    block = prior_block(page_of(app, shas[(CULTURE, 2023)]))
    assert "本报告未直接写明 2022 年人员经费，由增减额推算为 280.00 万元" in block and "由增减额推算</span>" in block
    assert "本报告称 2022 年人员经费" not in block


def test_an_agreeing_statement_or_a_unit_without_last_years_report_gives_no_reason(years):
    app, shas, _ = years
    assert prior_block(page_of(app, shas[(HEALTH, 2023)])) is None  # 80.50 stated, 80.5 confirmed
    assert prior_block(page_of(app, shas[(TRANSPORT, 2023)])) is None  # states 上年, has no 2022 report
    assert prior_block(page_of(app, shas[(CULTURE, 2022)])) is None  # 2021 has no report either


def test_the_overview_lists_the_mismatches_of_the_year_with_their_reasons_and_both_reports(years):
    app, shas, _ = years
    client = as_user(app, "rev")
    page = html.unescape(client.get("/overview?year=2023").get_data(as_text=True))
    listed = re.search(r'<ul class="outliers" id="prior-year">(.*?)</ul>', page, re.S).group(1)
    assert "某某县文化局</a>：本报告称 2022 年公用经费 117.90 万元，2022 年已确认报告为 120 万元" in listed
    assert "由增减额推算为 280.00 万元" in listed and "原文：「公用经费2023年决算130.00万元，2022年117.90万元」" in listed
    assert f'/documents/{shas[(CULTURE, 2023)]}"' in listed and f'/documents/{shas[(CULTURE, 2022)]}"' in listed
    assert HEALTH not in listed and TRANSPORT not in listed
    assert 'id="prior-year"' not in client.get("/overview?year=2022").get_data(as_text=True)


def test_the_check_changes_nothing(years):
    app, shas, _ = years
    store = store_of(app)
    try:
        sha = shas[(CULTURE, 2023)]
        before = (store.confirmed_documents(), store.audit_entries(sha), store.review_items(sha))
        page_of(app, sha)
        as_user(app, "rev").get("/overview?year=2023")
        assert (store.confirmed_documents(), store.audit_entries(sha), store.review_items(sha)) == before
    finally:
        store.close()


def test_a_report_with_a_mismatch_is_confirmed_only_once_the_reviewer_has_ticked_it(years):
    app, shas, folder = years
    sha = in_review(folder, app.config["DATABASE"])  # 体育局 2023: says 2022's 公用经费 was 58.00, confirmed 60
    client = as_user(app, "rev")
    page = page_of(app, sha)
    assert "本报告称 2022 年公用经费 58.00 万元，2022 年已确认报告为 60 万元" in prior_block(page)
    ticked = re.search(r'<input type="checkbox" name="prior_seen" value="([0-9a-f]+)" required> 已核对上年数差异（1 处）',
                       page).group(1)
    form = confirm_form(client, sha)
    refused = client.post(f"/documents/{sha}/confirm", data=form, follow_redirects=True).get_data(as_text=True)
    assert "本报告所称上年数与上年已确认报告有 1 处不一致" in flashes(refused)
    stale = client.post(f"/documents/{sha}/confirm", data={**form, "prior_seen": "0" * 16}, follow_redirects=True)
    assert "上年数差异在你打开本页后有变化（现有 1 处" in flashes(stale.get_data(as_text=True))
    store = store_of(app)
    try:
        assert store.job(sha)["state"] == "review"
        assert client.post(f"/documents/{sha}/confirm", data={**form, "prior_seen": ticked}).status_code == 303
        assert store.job(sha)["state"] == "confirmed"
        (entry,) = [a for a in store.audit_entries(sha) if a["action"] == "confirm"]
        assert entry["reason"] == "已核对上年数差异 1 处：公用经费 2022 年"
    finally:
        store.close()


def test_the_queue_confirms_a_report_whose_statements_agree_as_before(years):
    app, shas, folder = years
    store = store_of(app)
    try:
        sha = in_review(folder, app.config["DATABASE"], (CULTURE, 2024, 430.0, 420.0, 5.0, 40, 48))  # says nothing of 2023
        client = as_user(app, "rev")
        page = client.get("/queue").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        resp = client.post("/queue/confirm", data={"csrf_token": token, "report": [f"{sha}@{store.last_change(sha)}"]})
        assert resp.status_code == 303 and store.job(sha)["state"] == "confirmed"  # nothing to tick: confirmed
    finally:
        store.close()


def test_the_queue_skips_a_report_whose_mismatch_nobody_has_seen(years):
    app, shas, folder = years
    sha = in_review(folder, app.config["DATABASE"], (HEALTH, 2024, 830.0, 820.0, 9.0, 38, 47))
    store = store_of(app)
    try:  # its 2024 text says nothing of 2023: a statement is planted as if it did
        planted = {"key": "expense_public", "year": 2023, "value": 95.0, "digits": 2, "computed": False, "note": None,
                   "quote": "公用经费", "start": 0, "end": 4, "value_start": 0, "value_end": 4, "context": []}
        store.keep_prior_statements(sha, 2024, service.last_year.FINDER_VERSION, [planted])
        client = as_user(app, "rev")
        page = client.get("/queue").get_data(as_text=True)
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        resp = client.post("/queue/confirm", data={"csrf_token": token, "report": [f"{sha}@{store.last_change(sha)}"]},
                           follow_redirects=True)
        assert "本报告所称上年数与上年已确认报告有 1 处不一致" in flashes(resp.get_data(as_text=True))
        assert store.job(sha)["state"] == "review"
    finally:
        store.close()


# -- where the statements come from -----------------------------------------------------------------

def test_statements_are_read_once_at_extraction_and_then_come_from_the_store(years, monkeypatch):
    app, shas, _ = years
    store = store_of(app)
    try:
        sha = shas[(CULTURE, 2023)]
        kept = store.kept_prior_statements({sha: 2023}, service.last_year.FINDER_VERSION)
        assert [s["key"] for s in kept[sha]] == ["expense_public", "expense_personnel"]
        monkeypatch.setattr(service.last_year, "find_prior_statements",
                            lambda *a: pytest.fail("the text was read again"))
        assert [s.value for s in statements_of(store, {sha: 2023})[sha]] == [117.9, 280.0]
    finally:
        store.close()


def test_another_finder_version_or_fiscal_year_reads_the_text_again(years, monkeypatch):
    app, shas, _ = years
    store = store_of(app)
    try:
        sha = shas[(HEALTH, 2023)]
        assert [(s.year, s.value) for s in statements_of(store, {sha: 2024})[sha]] == [(2023, 80.5)]  # 上年 of 2024
        monkeypatch.setattr(service.last_year, "FINDER_VERSION", "prior-test")
        assert [(s.year, s.value) for s in statements_of(store, {sha: 2023})[sha]] == [(2022, 80.5)]
        assert store.kept_prior_statements({sha: 2023}, "prior-test")[sha][0]["value"] == 80.5
    finally:
        store.close()
