"""In the browser, a value read from a table highlights its own cell — the number strongly, its row label and
column header lightly — and a score row's cell highlights when the reviewer is in it, whatever way the table
was written (one cell per line, `|` rows)."""

from __future__ import annotations

import pytest

from tests.conftest import CHROMIUM
from tests.test_table_evidence import DATA, ROW

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
LAYOUTS = (DATA / "cells_per_line.txt", DATA / "pipe_rows.txt")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from tests.test_browser import LiveApp

    app = LiveApp(tmp_path_factory.mktemp("cells"), LAYOUTS)
    yield app
    app.close()


@pytest.fixture
def page(browser, live):
    from tests.test_browser import logged_in

    with logged_in(browser, live) as page:
        yield page


def marks(page) -> tuple[list[str], list[str]]:
    """The source pane's strong marks and light (context) marks, as text."""
    strong = page.locator("#source mark:not(.context)").all_inner_texts()
    light = page.locator("#source mark.context").all_inner_texts()
    return strong, light


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda p: p.stem)
def test_budget_and_spending_highlight_their_own_cells_with_their_headers_lightly(page, live, layout):
    page.goto(f"/documents/{live.shas[layout.name]}")
    page.locator("#item-field-budget_full_year .label").click()
    budget_strong, budget_light = marks(page)
    budget_at = page.evaluate("() => document.querySelector('#source mark:not(.context)').offsetTop")
    page.locator("#item-field-spending_actual .label").click()
    spending_strong, spending_light = marks(page)
    assert budget_strong == ["845.36"] and spending_strong == ["845.36"]
    assert "全年预算数" in budget_light and "全年执行数" in spending_light
    assert any("年度资金总额" in t for t in budget_light)
    # the same amount, two cells: the highlight moved
    assert (page.evaluate("() => document.querySelector('#source mark:not(.context)').offsetTop") != budget_at
            or budget_light != spending_light)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda p: p.stem)
def test_the_cell_a_reviewer_is_in_is_highlighted_in_its_row(page, live, layout):
    page.goto(f"/documents/{live.shas[layout.name]}")
    row = page.locator("tr.item[data-kind=indicator]").filter(
        has=page.locator(f"input[name=name][value='{ROW}']")).first
    row.locator("input[name=score]").focus()
    strong, light = marks(page)
    assert strong == ["19"]
    assert any(ROW in t for t in light)  # its row, lightly
