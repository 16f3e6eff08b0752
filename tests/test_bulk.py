"""Bulk actions for reviewers (issue 14): 「接受本节其余 N 项」 and 「接受全部自动通过项」 on the review page turn
the auto-passed items into the reviewer's confirmed, one audited change each, never a flagged one and never over
someone else's change, undone as one step; 「确认所选报告入库」 on the queue confirms each ticked report as its own
确认入库 does, skipping by name those that cannot be confirmed any more."""

from __future__ import annotations

import csv
import html
import io
import re
import threading

import pytest

from service.review import auto_passed
from tests.builders import make_docx
from tests.conftest import CHROMIUM, SAMPLES
from tests.webapp import (
    PASSWORD,
    api_save,
    as_user,
    confirm_form,
    csrf_token,
    store_of,
    upload_and_extract,
)

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"  # 3 flagged: 全年预算数, 全年执行数 (预算与执行), one project
OTHER = SAMPLES / "002_6ebd5ff7b055c059.txt"  # 1 flagged
FLAGGED = SAMPLES / "001_dea89b1d5430c4b7.txt"  # 1 flagged, left so


def items_of(app, sha) -> dict[str, dict]:
    store = store_of(app)
    try:
        return {i["item"]: i for i in store.review_items(sha)}
    finally:
        store.close()


def audit_of(app, sha) -> list[dict]:
    store = store_of(app)
    try:
        return store.audit_entries(sha)
    finally:
        store.close()


def section_button(page: str, section: str) -> tuple[int, str] | None:
    """A section's 「接受本节其余 N 项」 button on the review page: N and what it posts (item@version …)."""
    h2 = re.search(rf"<h2>{re.escape(section)} (.*?)</h2>", page)
    found = h2 and re.search(r'<button class="bulk-accept"[^>]*value="([^"]*)"[^>]*>接受本节其余 (\d+) 项</button>',
                             h2.group(1))
    return (int(found.group(2)), found.group(1)) if found else None


def report_button(page: str) -> str | None:
    found = re.search(r'<button name="items" value="([^"]*)"[^>]*>接受全部自动通过项</button>', page)
    return found.group(1) if found else None


def bulk_accept(client, sha, listed: str, page: str | None = None):
    page = page or client.get(f"/documents/{sha}").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return client.post(f"/documents/{sha}/accept-auto", data={"csrf_token": token, "items": listed})


def flashes(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    return html.unescape(" ".join(re.findall(r'<div class="flash (?:ok|error)"[^>]*>(.*?)</div>', page, re.S)))


def resolve(app, sha, user="rev"):
    """Every flagged item accepted (a flagged project deleted): the report has nothing flagged left."""
    client = as_user(app, user)
    for item in items_of(app, sha).values():
        if item["status"] == "review":
            action = "delete" if item["kind"] == "project" else "accept"
            assert api_save(client, sha, item, action).status_code == 200


# -- 「接受本节其余 N 项」 / 「接受全部自动通过项」 -----------------------------------------------------

def test_accepting_a_section_confirms_its_auto_passed_items_one_audit_row_each_and_leaves_flagged_ones(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    before = items_of(app, sha)
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    n, listed = section_button(page, "预算与执行")  # a section with flagged items among auto-passed ones
    section = [k for k in ("budget_initial", "budget_full_year", "spending_actual", "execution_rate",
                           "execution_weight", "execution_score")]
    auto = [f"field:{k}" for k in section if auto_passed(before[f"field:{k}"])]
    flagged = [f"field:{k}" for k in section if before[f"field:{k}"]["status"] == "review"]
    assert n == len(auto) > 0 and flagged

    resp = bulk_accept(client, sha, listed, page)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/documents/{sha}")
    assert f"已接受 {n} 项" in flashes(client, f"/documents/{sha}")
    after = items_of(app, sha)
    for key in auto:
        assert after[key]["status"] == "confirmed" and after[key]["updated_by"] == "rev"
        assert after[key]["value"] == before[key]["value"] and after[key]["version"] == before[key]["version"] + 1
    for key, item in after.items():
        if key not in auto:  # flagged ones and every other section untouched
            assert item["status"] == before[key]["status"] and item["version"] == before[key]["version"]
    bulk = [a for a in audit_of(app, sha) if a["action"] == "bulk_accept"]
    assert sorted(a["item"] for a in bulk) == sorted(auto)
    assert {a["old_status"] for a in bulk} == {"accepted"} and {a["user_name"] for a in bulk} == {"rev"}
    assert len({a["batch"] for a in bulk}) == 1 and bulk[0]["batch"] is not None


def test_the_change_log_lists_each_bulk_accepted_item_in_chinese(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    n, listed = section_button(page, "基本信息")
    bulk_accept(client, sha, listed, page)
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    log = page[page.index('<details class="audit">'):page.index("</details>")]
    rows = [r for r in log.split("<tr>") if "批量接受" in r]
    assert len(rows) == n
    assert any("部门（单位）名称" in r for r in rows) and "field:" not in log and "bulk_accept" not in log
    assert section_button(page, "基本信息") is None  # N is 0 now: no button


def test_accepting_all_auto_passed_items_never_touches_a_flagged_one(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    before = items_of(app, sha)
    resp = bulk_accept(client, sha, report_button(client.get(f"/documents/{sha}").get_data(as_text=True)))
    assert resp.status_code == 303
    after = items_of(app, sha)
    assert not [i for i in after.values() if i["status"] == "accepted"]
    for key, item in before.items():
        if item["status"] == "review":
            assert after[key]["status"] == "review" and after[key]["version"] == item["version"]
    n = sum(1 for i in before.values() if auto_passed(i))
    assert f"已接受 {n} 项" in flashes(client, f"/documents/{sha}")
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    assert report_button(page) is None and "接受本节其余" not in page


@pytest.mark.parametrize(("item", "auto"), [
    ({"status": "accepted", "issues": []}, True),
    ({"status": "accepted", "issues": ["与合计不符"]}, False),  # a failed check is never bulk-accepted
    ({"status": "review", "issues": []}, False),
    ({"status": "confirmed", "issues": []}, False),
    ({"status": "corrected", "issues": []}, False),
    ({"status": "deleted", "issues": []}, False),
])
def test_only_an_auto_passed_item_without_issues_is_bulk_accepted(item, auto):
    assert auto_passed(item) is auto


def test_an_item_changed_since_the_page_was_drawn_is_skipped_and_counted(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    n, listed = section_button(page, "基本信息")
    boss = as_user(app, "boss")  # meanwhile: one item corrected, another corrected and put back (accepted again)
    unit = items_of(app, sha)["field:unit_name"]
    assert api_save(boss, sha, unit, "correct", "某某县某某局").status_code == 200
    year = items_of(app, sha)["field:fiscal_year"]
    assert api_save(boss, sha, year, "correct", "2021").status_code == 200
    boss.post(f"/api/documents/{sha}/undo", headers={"X-CSRFToken": csrf_token(boss, f"/documents/{sha}")})
    assert items_of(app, sha)["field:fiscal_year"]["status"] == "accepted"

    assert bulk_accept(client, sha, listed, page).status_code == 303
    assert f"已接受 {n - 2} 项；2 项在打开页面后已有改动" in flashes(client, f"/documents/{sha}")
    after = items_of(app, sha)
    assert after["field:unit_name"]["value"] == "某某县某某局" and after["field:unit_name"]["updated_by"] == "boss"
    assert after["field:fiscal_year"]["status"] == "accepted" and after["field:fiscal_year"]["updated_by"] == "boss"
    assert after["field:report_date"]["status"] == "confirmed"


def test_a_read_only_report_shows_no_bulk_buttons_and_refuses_a_bulk_accept(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    listed = section_button(client.get(f"/documents/{sha}").get_data(as_text=True), "基本信息")[1]
    resolve(app, sha)
    assert client.post(f"/documents/{sha}/confirm", data=confirm_form(client, sha)).status_code == 303
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    assert "接受本节其余" not in page and report_button(page) is None
    before = items_of(app, sha)
    resp = bulk_accept(client, sha, listed, page)
    assert resp.status_code == 409 and "不在待审核状态" in resp.get_data(as_text=True)
    assert items_of(app, sha) == before


def test_a_bulk_accept_needs_a_reviewer_a_csrf_token_a_known_report_and_a_well_formed_list(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    listed = report_button(page)
    assert client.post(f"/documents/{sha}/accept-auto", data={"items": listed}).status_code == 400  # no CSRF
    assert bulk_accept(client, sha, "field:unit_name", page).status_code == 400
    assert bulk_accept(client, sha, "", page).status_code == 400
    assert bulk_accept(client, "0" * 64, listed, page).status_code == 404
    oper = as_user(app, "oper")
    token = csrf_token(oper, "/upload")
    assert oper.post(f"/documents/{sha}/accept-auto", data={"csrf_token": token, "items": listed}).status_code == 403
    assert not [a for a in audit_of(app, sha) if a["action"] == "bulk_accept"]


# -- undo (u) of a bulk accept ------------------------------------------------------------------

def _undo(client, sha):
    return client.post(f"/api/documents/{sha}/undo",
                       headers={"X-CSRFToken": csrf_token(client, f"/documents/{sha}"), "Accept": "application/json"})


def test_undo_takes_a_whole_bulk_accept_back_as_one_step(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    flagged = next(i for i in items_of(app, sha).values() if i["status"] == "review")
    assert api_save(client, sha, flagged, "accept").status_code == 200  # an earlier action of the reviewer
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    n, listed = section_button(page, "基本信息")
    bulk_accept(client, sha, listed, page)

    resp = _undo(client, sha)
    assert resp.status_code == 200 and len(resp.json["items"]) == n
    assert all(i["html"] and "自动通过" in i["html"] for i in resp.json["items"])
    keys = [x.partition("@")[0] for x in listed.split()]
    after = items_of(app, sha)
    assert all(after[k]["status"] == "accepted" for k in keys)
    undos = [a for a in audit_of(app, sha) if a["action"] == "undo"]
    assert sorted(a["item"] for a in undos) == sorted(keys)

    assert _undo(client, sha).json["item"] == flagged["item"]  # the next u: the action before it
    assert items_of(app, sha)[flagged["item"]]["status"] == "review"


def test_undo_of_a_bulk_accept_never_overwrites_someone_elses_later_change(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    bulk_accept(client, sha, section_button(page, "基本信息")[1], page)
    boss = as_user(app, "boss")
    assert api_save(boss, sha, items_of(app, sha)["field:rating"], "correct", "优").status_code == 200
    before = items_of(app, sha)
    resp = _undo(client, sha)
    assert resp.status_code == 409 and "已被他人修改" in resp.json["error"]
    assert items_of(app, sha) == before  # nothing of the step was undone


# -- 「确认所选报告入库」 on the queue -------------------------------------------------------------

def queue_boxes(page: str) -> dict[str, str]:
    """The queue's checkboxes: sha256 -> what each posts (sha256@seen)."""
    return {v.partition("@")[0]: v for v in re.findall(r'<input type="checkbox" name="report" value="([^"]+)"', page)}


def confirm_selected(client, page: str, values: list[str]):
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return client.post("/queue/confirm?state=review", data={"csrf_token": token, "report": values})


@pytest.fixture
def queue(app, tmp_path):
    """Four reports in review: two with nothing flagged, one flagged, one (a .docx of the first, nothing flagged)
    whose unit and year already has a confirmed record once the first is confirmed."""
    first, other, flagged = (upload_and_extract(app, p) for p in (REPORT, OTHER, FLAGGED))
    twin = upload_and_extract(app, make_docx(REPORT.read_text(encoding="utf-8"), tmp_path / "000.docx"))
    for sha in (first, other, twin):
        resolve(app, sha)
    return {"first": first, "other": other, "flagged": flagged, "twin": twin}


def test_the_queue_offers_a_checkbox_only_for_a_report_that_can_be_confirmed_at_once(app, queue):
    client = as_user(app, "rev")
    page = client.get("/queue").get_data(as_text=True)
    assert set(queue_boxes(page)) == {queue["first"], queue["other"], queue["twin"]}
    assert "确认所选报告入库" in page and 'id="pick-all"' in page and "queue.js" in page

    resp = confirm_selected(client, page, [queue_boxes(page)[queue["first"]]])
    assert resp.status_code == 303
    page = client.get("/queue").get_data(as_text=True)
    boxes = queue_boxes(page)
    assert set(boxes) == {queue["other"]}  # the twin now needs 以哪一份为准 on its page
    twin_row = next(r for r in page.split("<tr>") if f"/documents/{queue['twin']}" in r)
    assert "需选以哪份为准" in twin_row and 'name="report"' not in twin_row


def test_confirming_selected_reports_confirms_each_as_its_page_would_and_names_those_skipped(app, queue):
    client = as_user(app, "rev")
    page = client.get("/queue").get_data(as_text=True)
    boxes = queue_boxes(page)
    store = store_of(app)
    try:
        name = {k: store.job(sha)["unit_name"] for k, sha in queue.items()}
        # since the queue was drawn: someone corrects a value of `other`, and the first gets confirmed, so the
        # twin becomes a second record of its unit and year
        boss = as_user(app, "boss")
        item = store.review_item(queue["other"], "field:rating")
        assert api_save(boss, queue["other"], item, "correct", "良").status_code == 200
        assert boss.post(f"/documents/{queue['first']}/confirm",
                         data=confirm_form(boss, queue["first"])).status_code == 303
        third = upload_and_extract(app, SAMPLES / "003_30586584fcfb4137.txt")
        resolve(app, third)
        values = [boxes[queue["first"]], boxes[queue["other"]], boxes[queue["twin"]],
                  f"{third}@{store.last_change(third)}"]

        resp = confirm_selected(client, page, values)
        assert resp.status_code == 303 and resp.headers["Location"].endswith("/queue?state=review")
        said = flashes(client, "/queue")
        name["third"] = store.job(third)["unit_name"]
        assert f"已确认入库 1 份：{name['third']}" in said
        assert "未确认 3 份" in said
        assert f"{name['first']}（现为“已确认”，不能确认入库）" in said
        assert f"{name['other']}（打开队列后已被修改" in said
        assert f"{name['twin']}（同单位同年度已有确认入库的记录" in said
        assert store.job(third)["state"] == "confirmed" and store.job(third)["confirmed_by"] == "rev"
        assert [a["action"] for a in store.audit_entries(third)].count("confirm") == 1
        for key in ("other", "twin"):
            assert store.job(queue[key])["state"] == "review"
        fields = {f["key"]: f["value"] for f in store.confirmed_parts(third)["confirmed_fields"]}
        assert fields["unit_name"] == store.job(third)["unit_name"]
    finally:
        store.close()
    export = client.get("/export/reports.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(export)))
    assert len(rows) == 3 and {name["first"], name["third"]} <= {c for r in rows for c in r}


def test_confirming_from_the_queue_needs_a_reviewer_and_a_csrf_token_and_says_when_nothing_was_ticked(app, queue):
    client = as_user(app, "rev")
    page = client.get("/queue").get_data(as_text=True)
    value = queue_boxes(page)[queue["first"]]
    assert client.post("/queue/confirm", data={"report": [value]}).status_code == 400
    assert confirm_selected(client, page, ["not-a-report"]).status_code == 400
    assert confirm_selected(client, page, []).status_code == 303
    assert "请先勾选要确认入库的报告" in flashes(client, "/queue")
    oper = as_user(app, "oper")
    token = csrf_token(oper, "/upload")
    assert oper.post("/queue/confirm", data={"csrf_token": token, "report": [value]}).status_code == 403
    store = store_of(app)
    try:
        assert store.job(queue["first"])["state"] == "review"
    finally:
        store.close()


# -- in a browser ---------------------------------------------------------------------------------

@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
def test_in_a_browser_a_reviewer_accepts_a_section_then_confirms_two_reports_from_the_queue(app, browser):
    from playwright.sync_api import expect
    from werkzeug.serving import make_server

    from tests.test_browser import _QuietHandler

    first, other = upload_and_extract(app, REPORT), upload_and_extract(app, OTHER)
    resolve(app, first)
    resolve(app, other)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context(base_url=f"http://127.0.0.1:{server.server_port}", locale="zh-CN",
                                  viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto("/auth/login")
        page.fill("#name", "rev")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"/documents/{first}")
        group = page.locator(".group", has=page.locator("h2", has_text="人员与车辆"))
        button = group.locator("h2 .bulk-accept")
        n = int(re.search(r"其余 (\d+) 项", button.text_content()).group(1))
        assert n == group.locator(".item.status-accepted").count() > 0
        button.click()
        expect(page.locator(".flash.ok")).to_have_text(f"已接受 {n} 项")
        expect(group.locator(".item.status-confirmed .pill")).to_have_count(n)
        expect(group.locator(".item .pill").first).to_have_text("已确认")
        expect(group.locator("h2 .bulk-accept")).to_have_count(0)
        page.locator("details.audit summary").click()
        expect(page.locator(".audit-log tbody tr", has_text="批量接受")).to_have_count(n)
        expect(page.locator(".audit-log tbody tr", has_text="批量接受").first).to_contain_text("rev")
        page.keyboard.press("u")  # undo: the whole batch is back to 自动通过, on the page as in the store
        expect(group.locator(".item.status-accepted")).to_have_count(n)
        expect(group.locator(".item.status-confirmed")).to_have_count(0)
        button = page.locator(".group", has=page.locator("h2", has_text="人员与车辆")).locator("h2 .bulk-accept")
        page.reload()
        button.click()
        expect(page.locator(".flash.ok")).to_have_text(f"已接受 {n} 项")

        page.goto("/queue")
        page.locator("#pick-all").check()  # queue.js: 全选 ticks both
        expect(page.locator("input[name=report]:checked")).to_have_count(2)
        page.get_by_role("button", name="确认所选报告入库").click()
        expect(page.locator(".flash.ok")).to_contain_text("已确认入库 2 份")
        expect(page.locator("input[name=report]")).to_have_count(0)
        assert errors == []
    finally:
        context.close()
        server.shutdown()
    store = store_of(app)
    try:
        assert {store.job(s)["state"] for s in (first, other)} == {"confirmed"}
    finally:
        store.close()
