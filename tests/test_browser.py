"""The review app in a real browser: upload, review by keyboard, confirm, export — as a reviewer would.

Playwright drives Debian's Chromium (/usr/bin/chromium; `make debian` installs it;
`playwright install` is never used). The app runs on a free local port in a
background thread over a temporary database, with a worker thread extracting
uploads with the offline rules engine. Screenshots of the main pages go to
$JIXIAO_SCREENSHOTS (default: a pytest temporary folder) for a person to look at.
"""

from __future__ import annotations

import os
import threading
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed at /usr/bin/chromium (make debian installs it)",
                allow_module_level=True)

from openpyxl import load_workbook  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from review_ui import create_app  # noqa: E402
from service.export import header_zh, report_columns  # noqa: E402
from service.settings import load_settings  # noqa: E402
from service.store import Store  # noqa: E402
from service.worker import run_worker, start_worker_thread, store_upload  # noqa: E402

from .conftest import SAMPLES  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
USER, PASSWORD = "审核员甲", "browser-test-pw"
FLAGGED_SAMPLE = SAMPLES / "000_8d720d4fc0889d24.txt"  # 3 flagged: 全年预算数, 全年执行数, one project
SEEDED = tuple(SAMPLES / f"{stem}.txt" for stem in ("001_dea89b1d5430c4b7", "002_6ebd5ff7b055c059",
                                                    "004_b638ef10e80c4f2a"))
EXTRACTION_TIMEOUT_MS = 60_000  # the worker polls every second and the upload page every two


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


class LiveApp:
    """The app serving on a free port, with its worker thread.

    `seeded` samples are queued as the upload form would queue them and extracted before the server
    starts; `shas` maps their file names to their keys. Seeding while the worker thread runs could
    fail with "database is locked": the store's transactions begin DEFERRED, so one that reads and
    then writes cannot upgrade after another connection committed in between (busy_timeout does
    not help there).
    """

    def __init__(self, folder: Path, seeded: tuple[Path, ...] = ()):
        self.settings = load_settings(env={}, db=str(folder / "jixiao.db"), instance=str(folder / "instance"),
                                      engine="rules")
        self.app = create_app(settings=self.settings)
        with closing(Store(self.settings.db)) as store:
            store.add_user(USER, "admin", generate_password_hash(PASSWORD))
            uploads = Path(self.app.config["UPLOADS"])
            self.shas = {p.name: store_upload(store, uploads, p.name, p.read_bytes(), USER)[0]["sha256"]
                         for p in seeded}
            run_worker(store, self.settings, until_empty=True)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, name="jixiao-web", daemon=True).start()
        self.stop_worker = start_worker_thread(self.settings.db, self.settings)

    def close(self) -> None:
        self.stop_worker.set()
        self.server.shutdown()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    app = LiveApp(tmp_path_factory.mktemp("browser"), SEEDED)
    yield app
    app.close()




@contextmanager
def logged_in(browser, live, width: int = 1440, height: int = 900, timeout_ms: int = 15_000, **options):
    """A new browser context on `live`, logged in; its page. Closed after."""
    context = browser.new_context(base_url=live.url, viewport={"width": width, "height": height}, locale="zh-CN",
                                  **options)
    context.set_default_timeout(timeout_ms)
    try:
        page = context.new_page()
        log_in(page)
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser, live) -> Page:
    with logged_in(browser, live, accept_downloads=True) as page:
        yield page


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("JIXIAO_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page: Page) -> None:
    page.goto("/auth/login")
    page.fill("#name", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".topbar .who")).to_contain_text(USER)


def open_seeded(page: Page, live: LiveApp, stem: str) -> str:
    sha = live.shas[f"{stem}.txt"]
    page.goto(f"/documents/{sha}")
    return sha


def item(page: Page, key: str):
    return page.locator(f"#item-{key.replace(':', '-')}")


def accept(page: Page, key: str) -> None:
    """Select an item with the mouse (its buttons show when selected) and press its 确认无误."""
    item(page, key).locator(".label").click()
    item(page, key).locator("[data-action=accept]").click()


def expect_selected(page: Page, key: str) -> None:
    expect(page.locator(".item.selected")).to_have_attribute("data-item", key)


def test_upload_review_by_keyboard_confirm_and_export(page, shots):
    page.goto("/upload")
    page.set_input_files("#files", str(FLAGGED_SAMPLE))
    page.click("#upload-form button[type=submit]")
    expect(page.locator(".results li.queued")).to_contain_text(FLAGGED_SAMPLE.name)
    page.evaluate("window.notReloaded = true")
    row = page.locator("#jobs tbody tr", has_text=FLAGGED_SAMPLE.name)
    expect(row.locator(".state")).to_have_text("待审核", timeout=EXTRACTION_TIMEOUT_MS)
    expect(row.locator(".flagged")).to_have_text("3")
    expect(row.locator(".unit")).to_have_text("衡山县岭坡乡人民政府")
    assert page.evaluate("window.notReloaded") is True  # the row changed by polling, not by a reload
    page.screenshot(path=shots / "upload.png", full_page=True)

    page.click(".topbar nav >> text=审核队列")
    link = page.get_by_role("link", name="衡山县岭坡乡人民政府")
    expect(link).to_be_visible()
    page.screenshot(path=shots / "queue.png", full_page=True)
    link.click()

    # the first flagged field is selected on arrival and its evidence is highlighted in view
    expect_selected(page, "field:budget_full_year")
    expect(page.locator("#source mark.context").first).to_be_visible()  # its row label and column header, lightly
    expect(page.locator("#source mark:not(.context)")).to_have_text("2946.602828")
    expect(page.locator("#source mark:not(.context)")).to_be_in_viewport()
    expect(page.locator("#confirm")).to_be_disabled()
    page.screenshot(path=shots / "review.png")

    budget = item(page, "field:budget_full_year")
    assert budget.locator(".candidate").first.get_attribute("data-value") == "2769.17439"
    page.keyboard.press("e")
    expect(budget.locator("input[name=value]")).to_be_focused()
    page.keyboard.type("2769.17439")
    page.keyboard.press("Enter")
    expect(budget.locator(".pill")).to_have_text("已更正")
    expect(budget.locator(".value b")).to_have_text("2769.17439")

    expect_selected(page, "field:spending_actual")  # saving moves on to the next flagged item
    page.keyboard.press("a")
    expect(item(page, "field:spending_actual").locator(".pill")).to_have_text("已确认")

    expect_selected(page, "project:0")
    page.keyboard.press("a")
    expect(item(page, "project:0").locator(".pill")).to_have_text("已确认")

    expect(page.locator("#confirm")).to_be_enabled()
    expect(page.locator("#flagged-count")).to_contain_text("全部已处理")
    page.click("#confirm")
    expect(page.locator(".flash.ok")).to_contain_text("已确认入库")

    page.goto("/export/")
    with page.expect_download() as download:
        page.click("#export-xlsx")
    xlsx = shots / "export.xlsx"
    download.value.save_as(xlsx)
    report = _report_row(xlsx, FLAGGED_SAMPLE.name)
    assert report["unit_name"] == "衡山县岭坡乡人民政府"
    assert report["fiscal_year"] == 2023
    assert report["budget_full_year"] == pytest.approx(2769.17439)  # the reviewer's correction
    assert report["spending_actual"] == pytest.approx(2946.602828)  # accepted as read
    assert all(isinstance(report[k], int | float) for k in ("fiscal_year", "budget_full_year", "self_score"))


def _report_row(path: Path, source_name: str) -> dict:
    """The 报告 sheet's row of `source_name`, keyed by field key (the headers are Chinese)."""
    sheet = load_workbook(path)["报告"]
    rows = list(sheet.iter_rows(values_only=True))
    keys = {header_zh("报告", key): key for key in report_columns()}
    header = [keys.get(h, h) for h in rows[0]]
    found = [dict(zip(header, r, strict=True)) for r in rows[1:] if source_name in r]
    assert len(found) == 1, f"{source_name} not in the 报告 sheet: {rows}"
    return found[0]


def test_question_mark_opens_the_keyboard_help(page, live, shots):
    open_seeded(page, live, "004_b638ef10e80c4f2a")
    overlay = page.locator("#keys")
    expect(overlay).to_be_hidden()
    page.keyboard.press("?")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("下一项待复核")
    page.screenshot(path=shots / "help.png")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()


def test_selecting_a_field_highlights_its_evidence_in_view(page, live):
    open_seeded(page, live, "002_6ebd5ff7b055c059")
    unit = item(page, "field:unit_name")
    unit.locator(".label").click()
    expect_selected(page, "field:unit_name")
    expect(page.locator("#source mark:not(.context)")).to_have_text("株洲市渌口区古岳峰镇人民政府")
    expect(page.locator("#source mark:not(.context)")).to_be_in_viewport()


def test_stale_save_says_someone_saved_first(page, live):
    sha = open_seeded(page, live, "001_dea89b1d5430c4b7")
    other = page.context.new_page()
    other.goto(f"/documents/{sha}")

    accept(page, "field:unit_name")
    expect(item(page, "field:unit_name").locator(".pill")).to_have_text("已确认")

    accept(other, "field:unit_name")
    message = item(other, "field:unit_name").locator(".message")
    expect(message).to_be_visible()
    expect(message).to_contain_text(f"已被 {USER} 修改")
    expect(item(other, "field:unit_name").locator(".pill")).to_have_text("已确认")  # now shows what was saved


def test_a_missed_score_row_is_inserted_below_a_row_and_counted_in_the_totals(page, live, shots):
    open_seeded(page, live, "002_6ebd5ff7b055c059")
    first = item(page, "indicator:0")
    table = page.locator(".scoretable").filter(has=first)
    weight_before = float(table.locator(".sum-weight").inner_text())
    first.locator("input[name=name]").click()
    first.locator("[data-action=insert]").click()
    new = page.locator("tr.status-new")
    expect(new.locator("input[name=name]")).to_be_focused()
    expect(new.locator("input[name=level1]")).to_have_value(first.locator("input[name=level1]").input_value())
    new.locator("input[name=name]").fill("资金拨付及时率")
    new.locator("input[name=weight]").fill("5")
    new.locator("input[name=score]").fill("6")
    new.locator("input[name=score]").press("Enter")
    expect(new.locator(".message")).to_contain_text("得分 6 超过分值 5")  # refused, still the blank row
    new.locator("input[name=score]").fill("4")
    new.locator("input[name=score]").press("Enter")
    added = table.locator("tbody tr").nth(1)
    expect(added.locator(".pill.new")).to_have_text("人工新增")
    expect(added.locator("input[name=name]")).to_have_value("资金拨付及时率")
    expect(page.locator("tr.status-new")).to_have_count(0)
    expect(table.locator(".sum-weight")).to_have_text(f"{weight_before + 5:g}")
    page.screenshot(path=str(shots / "review-row-added.png"), full_page=False)


# -- the Content-Security-Policy, enforced -------------------------------------------------------

CSP_WATCH = """document.addEventListener("securitypolicyviolation",
  (e) => (window.cspViolations = window.cspViolations || []).push(`${e.violatedDirective} ${e.blockedURI}`));"""


def test_every_page_loads_under_the_csp_without_a_violation_and_its_scripts_still_run(browser, live):
    context = browser.new_context(base_url=live.url, viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                  bypass_csp=False)
    context.set_default_timeout(15_000)
    context.add_init_script(CSP_WATCH)  # runs before the page's own scripts, so it sees every violation
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: console.append(f"script error: {e}"))

    def no_violation(what: str) -> None:
        assert page.evaluate("window.cspViolations || []") == [], what
        assert console == [], what

    resp = page.goto("/auth/login")
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    assert resp.headers["x-frame-options"] == "DENY"
    no_violation("log-in page")
    log_in(page)  # lands on the queue (an admin)
    expect(page.locator("h1")).to_have_text("审核队列")
    no_violation("queue")

    open_seeded(page, live, "002_6ebd5ff7b055c059")
    expect(page.locator(".item.selected")).to_have_count(1)  # review.js selected the first item on arrival
    item(page, "field:unit_name").locator(".label").click()
    expect(page.locator("#source mark:not(.context)")).to_have_text("株洲市渌口区古岳峰镇人民政府")
    page.keyboard.press("?")
    expect(page.locator("#keys")).to_be_visible()
    page.keyboard.press("Escape")
    no_violation("review page")
    # and the policy is really enforced: an inline script is refused, and the refusal is seen
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = 1';"
                  " document.body.append(s); }")
    assert page.evaluate("window.inlineRan") is None
    assert any("script-src" in v for v in page.evaluate("window.cspViolations"))
    assert any("inline script" in m for m in console)
    page.evaluate("window.cspViolations = []")
    console.clear()

    page.goto("/upload")
    page.set_input_files("#files", str(FLAGGED_SAMPLE))
    expect(page.locator("#chosen")).to_contain_text("已选择 1 个文件")  # upload.js at work
    no_violation("upload page")

    with page.expect_request(lambda r: "/api/jobs?sha256=" in r.url):  # the job page polls its state
        page.goto(f"/jobs/{live.shas['004_b638ef10e80c4f2a.txt']}")
    no_violation("job page")

    for url, heading in (("/admin/users", "用户管理"), ("/export/", "导出已确认的报告"), ("/nowhere", "404")):
        page.goto(url)
        expect(page.locator("h1")).to_have_text(heading)
        no_violation(url)
    context.close()
