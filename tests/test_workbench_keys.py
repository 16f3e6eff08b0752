"""The reviewer's workbench, continued: every list can grow (a report whose extraction found no project or score
row still offers 「＋ 新增」), and the keys do what a reviewer expects — `e` selects the number to correct, `n` goes
on from where the reviewer is, and when nothing is left to review a line says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, SAMPLES
from tests.webapp import login, upload_and_extract

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian chromium is not installed at /usr/bin/chromium")

NONE_FOUND = SAMPLES / "003_30586584fcfb4137.txt"  # no score table, no project, no problems or measures
ONE_PROJECT = SAMPLES / "000_8d720d4fc0889d24.txt"  # project:0 flagged: its score is not the table's total
PROJECTS = SAMPLES / "004_b638ef10e80c4f2a.txt"  # project:0..5 flagged: amounts read as 执行数
ONE_FLAGGED = SAMPLES / "001_dea89b1d5430c4b7.txt"  # one flagged field, staff_authorized


# -- what the server renders ---------------------------------------------------------------------------

def review_page(app, sha: str, user: str = "rev") -> str:
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client.get(f"/documents/{sha}").get_data(as_text=True)


def section(page: str, kind: str) -> str:
    start = page.index(f'<div class="group" data-kind="{kind}">')
    return page[start:page.index('<div class="group"', start + 1) if '<div class="group"' in page[start + 1:]
                else page.index('<details class="audit">')]


def test_a_report_with_no_project_or_score_row_shows_both_sections_with_their_add_buttons(app):
    sha = upload_and_extract(app, NONE_FOUND)
    page = review_page(app, sha)
    projects, rows = section(page, "project"), section(page, "indicator")
    assert "<h2>项目" in projects and "提取未找到项目" in projects
    assert re.search(r"<button[^>]*data-add-row[^>]*>＋ 新增项目</button>", projects)
    assert '<template class="blank-row">' in projects and 'name="spending_actual"' in projects
    assert "<h2>评分表" in rows and 'data-table="整体"' in rows
    assert re.search(r"<button[^>]*data-add-row[^>]*>＋ 新增评分表行</button>", rows)
    assert 'name="weight"' in rows and 'name="score"' in rows


def test_a_report_with_projects_can_still_add_one_at_the_end(app):
    sha = upload_and_extract(app, ONE_PROJECT)
    projects = section(review_page(app, sha), "project")
    assert 'data-item="project:0"' in projects
    assert "＋ 新增项目" in projects and "提取未找到项目" not in projects


def test_a_confirmed_report_shows_its_empty_sections_without_add_buttons(app):
    from tests.test_workbench import confirm_all

    sha = upload_and_extract(app, NONE_FOUND)
    confirm_all(app, sha)
    page = review_page(app, sha)
    assert "提取未找到项目" in section(page, "project") and "请点" not in section(page, "project")
    assert "data-add-row" not in page and "blank-row" not in page


# -- in a browser --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.test_browser import LiveApp

    app = LiveApp(tmp_path_factory.mktemp("keys"), (NONE_FOUND, ONE_PROJECT, PROJECTS, ONE_FLAGGED))
    yield app
    app.close()




@pytest.fixture
def page(browser, live):
    from tests.test_browser import logged_in

    with logged_in(browser, live) as page:
        yield page


def open_report(page, live, path: Path) -> None:
    page.goto(f"/documents/{live.shas[path.name]}")


def row(page, key: str):
    return page.locator(f"#item-{key.replace(':', '-')}")


def pick(page, key: str) -> None:
    """Select a grid row with the mouse, on its state cell (not an input), as a reviewer would before a key."""
    row(page, key).locator(".rowstate").click()
    expect_selected(page, key)


def expect_selected(page, key: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".item.selected")).to_have_attribute("data-item", key)


def focused_selection(page) -> list:
    return page.evaluate("() => { const i = document.activeElement;"
                         " return [i.name, i.value.slice(i.selectionStart, i.selectionEnd)]; }")


@needs_chromium
def test_a_project_is_added_to_a_report_that_had_none_and_is_there_after_a_reload(page, live):
    from playwright.sync_api import expect

    open_report(page, live, NONE_FOUND)
    projects = page.locator(".group[data-kind=project]")
    projects.get_by_role("button", name="＋ 新增项目").click()
    new = projects.locator("tr.status-new")
    expect(new.locator("input[name=name]")).to_be_focused()
    new.locator("input[name=name]").fill("村道维修项目")
    new.locator("input[name=budget_full_year]").fill("12.5")
    new.locator("input[name=spending_actual]").fill("12")
    new.locator("input[name=spending_actual]").press("Enter")
    added = projects.locator("tbody tr")
    expect(added.locator(".pill.new")).to_have_text("人工新增")
    expect(projects.locator("tr.status-new")).to_have_count(0)

    page.reload()
    saved = page.locator(".group[data-kind=project] tbody tr")
    expect(saved).to_have_count(1)
    expect(saved.locator("input[name=name]")).to_have_value("村道维修项目")
    expect(saved.locator("input[name=spending_actual]")).to_have_value("12")
    expect(page.locator(".group[data-kind=project] .nothing-found")).to_have_count(0)


@needs_chromium
def test_a_score_row_is_added_to_a_report_that_had_no_score_table_and_counted(page, live):
    from playwright.sync_api import expect

    open_report(page, live, NONE_FOUND)
    table = page.locator(".scoretable[data-table=整体]")
    table.get_by_role("button", name="＋ 新增评分表行").click()
    new = table.locator("tr.status-new")
    new.locator("input[name=level1]").fill("产出指标")
    new.locator("input[name=name]").fill("资金拨付及时率")
    new.locator("input[name=weight]").fill("5")
    new.locator("input[name=score]").fill("4")
    expect(table.locator(".sum-weight")).to_have_text("5")
    new.locator("input[name=score]").press("Enter")
    expect(table.locator("tbody tr .pill.new")).to_have_text("人工新增")

    page.reload()
    saved = page.locator(".scoretable[data-table=整体] tbody tr")
    expect(saved.locator("input[name=name]")).to_have_value("资金拨付及时率")
    expect(page.locator(".scoretable[data-table=整体] .sum-score")).to_have_text("4")


@needs_chromium
@pytest.mark.parametrize(("report", "key", "cell", "value"), [
    (PROJECTS, "project:5", "spending_actual", "4.16"),  # 「…理解为执行数，请核对」
    (ONE_PROJECT, "project:0", "score", "95.5"),  # 「…与表中总分 95.5 不一致」
])
def test_e_on_a_row_selects_the_number_its_issue_is_about(page, live, report, key, cell, value):
    open_report(page, live, report)
    pick(page, key)
    page.keyboard.press("e")
    assert focused_selection(page) == [cell, value]  # selected whole: typing replaces it


@needs_chromium
def test_saving_a_row_moves_on_and_n_goes_on_from_there_without_skipping(page, live):
    from playwright.sync_api import expect

    open_report(page, live, PROJECTS)
    pick(page, "project:0")
    page.keyboard.press("a")
    expect(row(page, "project:0").locator(".pill")).to_have_text("已确认")
    expect_selected(page, "project:1")  # saving a row moves on to the next flagged item
    page.keyboard.press("n")
    expect_selected(page, "project:2")  # the one after where `a` landed, none skipped


@needs_chromium
def test_n_pressed_while_a_save_is_in_flight_is_not_undone_when_it_returns(page, live):
    from playwright.sync_api import expect

    open_report(page, live, PROJECTS)
    page.evaluate("() => { const f = window.fetch;"
                  " window.fetch = (...a) => new Promise((r) => setTimeout(() => r(f(...a)), 400)); }")
    pick(page, "project:3")
    page.keyboard.press("a")
    page.keyboard.press("n")
    expect_selected(page, "project:4")
    expect(row(page, "project:3").locator(".pill")).to_have_text("已确认")
    expect_selected(page, "project:4")  # neither pulled back to project:3 nor pushed on to project:5


@needs_chromium
def test_when_nothing_is_left_to_review_a_line_says_so(page, live):
    from playwright.sync_api import expect

    open_report(page, live, ONE_FLAGGED)
    expect_selected(page, "field:staff_authorized")
    notice = page.locator("#review-notice")
    expect(notice).to_have_count(0)  # not on arrival
    page.keyboard.press("a")
    expect(row(page, "field:staff_authorized").locator(".pill")).to_have_text("已确认")
    expect(notice).to_have_text("本报告已没有待复核的项目")
    expect(notice).to_be_in_viewport()
    page.keyboard.press("j")
    expect(notice).to_be_hidden()
    page.keyboard.press("n")
    expect(notice).to_be_visible()


@needs_chromium
def test_a_refused_row_save_marks_the_cell_and_shows_why_in_view(page, live):
    from playwright.sync_api import expect

    open_report(page, live, ONE_PROJECT)
    first = row(page, "indicator:0")
    first.locator("input[name=score]").fill("很好")
    first.locator("input[name=score]").press("Enter")
    message = first.locator(".message.error")
    expect(message).to_contain_text("得分")
    expect(message).to_be_in_viewport()
    expect(first.locator("input[name=score]")).to_have_attribute("aria-invalid", "true")
    expect(first.locator("input[name=score]")).to_be_focused()
