"""Never lose an edit: a cell typed into and not saved is marked 未保存; 确认入库 and leaving the page warn while
one is; Esc restores the cell; a refused value is shown refused and not counted in the running totals."""

from __future__ import annotations

import pytest

from tests.conftest import CHROMIUM, SAMPLES
from tests.webapp import api_save, login

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian chromium is not installed at /usr/bin/chromium")
pytestmark = needs_chromium

ROWS = SAMPLES / "004_b638ef10e80c4f2a.txt"  # a score table, a flagged score row and flagged projects


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from werkzeug.security import generate_password_hash

    from tests.test_browser import USER, LiveApp
    from tests.webapp import PASSWORD

    app = LiveApp(tmp_path_factory.mktemp("unsaved"), (ROWS,))
    sha = app.shas[ROWS.name]
    store = app_store(app)
    store.add_user("rev", "reviewer", generate_password_hash(PASSWORD))
    client = app.app.test_client()
    assert login(client, "rev").status_code == 302
    for item in store.review_items(sha):  # nothing left flagged: 确认入库 is enabled
        if item["status"] == "review":
            assert api_save(client, sha, item, "delete" if item["kind"] == "project" else "accept").status_code == 200
    store.close()
    app.user = USER
    yield app
    app.close()


def app_store(live):
    from service.store import Store

    return Store(live.settings.db)


@pytest.fixture
def page(browser, live):
    from tests.test_browser import logged_in

    with logged_in(browser, live) as page:
        page.goto(f"/documents/{live.shas[ROWS.name]}")
        yield page


def first_scored_row(page):
    """The first score row with a weight and a score, as a locator, and its saved score."""
    row = page.locator("tr.item[data-kind=indicator]").filter(
        has=page.locator("input[name=score]:not([value=''])")).first
    return row, row.locator("input[name=score]").input_value()


def job_state(live) -> str:
    store = app_store(live)
    try:
        return store.job(live.shas[ROWS.name])["state"]
    finally:
        store.close()


def test_confirming_with_a_typed_but_unsaved_score_warns_and_loses_nothing(page, live):
    from playwright.sync_api import expect

    row, saved = first_scored_row(page)
    weight = row.locator("input[name=weight]").input_value()
    typed = str(max(float(weight) - 0.5, 0))
    cell = row.locator("input[name=score]")
    cell.fill(typed)  # typed, no Enter
    expect(row.locator(".unsaved-note")).to_be_visible()
    page.click("#confirm")
    expect(page.locator("#review-notice")).to_contain_text("修改尚未保存")
    assert page.url.endswith(live.shas[ROWS.name])  # still on the report
    assert cell.input_value() == typed  # nothing lost
    assert page.evaluate("() => document.activeElement.name") == "score"  # the reviewer is taken to it
    assert job_state(live) == "review"
    cell.press("Enter")
    expect(page.locator("#item-" + row.get_attribute("data-item").replace(":", "-") + " .message")).to_have_text("已保存")
    page.click("#confirm")
    page.wait_for_url("**/queue**")
    assert job_state(live) == "confirmed"
    store = app_store(live)
    try:
        rows = store.confirmed_parts(live.shas[ROWS.name])["confirmed_indicators"]
    finally:
        store.close()
    assert any(r["score"] == float(typed) for r in rows)
    assert saved != typed


@pytest.fixture
def open_report(live, page):
    """The report back in review (an admin reopens it if an earlier test confirmed it)."""
    if job_state(live) == "confirmed":
        store = app_store(live)
        store.reopen(live.shas[ROWS.name], live.user, "测试：再次审核")
        store.close()
        page.reload()
    return page


def test_esc_restores_the_cell_and_its_total(open_report):
    from playwright.sync_api import expect

    page = open_report
    row, saved = first_scored_row(page)
    table = row.locator("xpath=ancestor::div[contains(@class,'scoretable')]")
    total = table.locator(".sum-score").inner_text()
    cell = row.locator("input[name=score]")
    cell.fill("0")
    expect(row.locator(".unsaved-note")).to_be_visible()
    cell.press("Escape")
    assert cell.input_value() == saved
    expect(row.locator(".unsaved-note")).to_be_hidden()
    assert table.locator(".sum-score").inner_text() == total
    assert "dirty" not in (cell.get_attribute("class") or "")


def test_a_refused_score_is_shown_refused_and_not_counted(open_report):
    from playwright.sync_api import expect

    page = open_report
    row, saved = first_scored_row(page)
    table = row.locator("xpath=ancestor::div[contains(@class,'scoretable')]")
    total = table.locator(".sum-score").inner_text()
    over = str(float(row.locator("input[name=weight]").input_value()) + 1)  # more than the row's weight
    cell = row.locator("input[name=score]")
    cell.fill(over)
    cell.press("Enter")
    expect(row.locator(".message.error")).to_contain_text("分值")
    assert "invalid" in cell.get_attribute("class")
    assert cell.input_value() == over  # still there to correct
    assert table.locator(".sum-score").inner_text() == total  # counted as saved, not as typed


def test_leaving_the_page_with_an_unsaved_edit_asks_first(open_report):
    page = open_report
    row, _ = first_scored_row(page)
    row.locator("input[name=target]").fill("改过的指标值")
    asked = []

    def on_dialog(dialog):
        asked.append(dialog.type)
        dialog.dismiss()  # stay

    page.on("dialog", on_dialog)
    page.locator(".topbar a", has_text="审核队列").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert row.locator("input[name=target]").input_value() == "改过的指标值"


def test_a_field_correction_typed_and_cancelled_with_esc_is_restored(open_report):
    from playwright.sync_api import expect

    page = open_report
    item = page.locator("#item-field-budget_initial")
    item.locator(".label").click()
    page.keyboard.press("e")
    box = item.locator(".editor [name=value]")
    saved = box.input_value()
    box.fill("1")
    expect(item.locator(".unsaved-note")).to_be_visible()
    box.press("Escape")
    expect(item.locator(".editor")).to_be_hidden()
    assert box.input_value() == saved
    expect(item.locator(".unsaved-note")).to_be_hidden()


def test_a_value_is_restored_from_the_change_history(open_report, live):
    from playwright.sync_api import expect

    page = open_report
    sha = live.shas[ROWS.name]
    store = app_store(live)
    item = next(i for i in store.review_items(sha)
                if i["kind"] == "field" and isinstance(i["value"], float) and i["value"] != 1.5)
    key = item["item"]
    before = item["value"]
    client = live.app.test_client()
    assert login(client, "rev").status_code == 302
    assert api_save(client, sha, item, "correct", "1.5").status_code == 200
    page.reload()
    page.locator("details.audit summary").click()
    restore = page.locator(f"details.audit button.restore[data-item='{key}']").first
    expect(restore).to_be_visible()
    restore.click()
    expect(page.locator(f"#item-{key.replace(':', '-')} .message")).to_have_text("已保存")
    assert store.review_item(sha, key)["value"] == before
    entry = store.audit_entries(sha)[-1]
    store.close()
    assert entry["item"] == key and entry["action"] == "correct"
    assert entry["reason"] == "恢复修改记录中的值"
