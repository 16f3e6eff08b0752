"""The reviewer's workbench: a change history a reviewer can read, an admin setting a user's password, no stale
「0 项待复核」 badges or action buttons on a confirmed report, and 重试 offered live on the upload list."""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from review_ui import local_time
from review_ui.history import audit_value, item_name
from tests.conftest import CHROMIUM, SAMPLES
from tests.webapp import (
    PASSWORD,
    api_save,
    as_user,
    confirm_form,
    csrf_token,
    login,
    store_of,
    upload_and_extract,
)

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"  # 3 flagged: 全年预算数, 全年执行数, one project
ROWS = SAMPLES / "004_b638ef10e80c4f2a.txt"  # a flagged score row and a flagged project
CSS = Path(__file__).parent.parent / "review_ui" / "static" / "app.css"


def items_of(app, sha):
    store = store_of(app)
    try:
        return store.review_items(sha)
    finally:
        store.close()


def audit_table(page: str) -> str:
    return page[page.index('<details class="audit">'):page.index("</details>")]


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


# -- 1. the change history ----------------------------------------------------------------------

def test_the_change_history_names_fields_in_chinese_and_shows_values_as_read(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    item = next(i for i in items_of(app, sha) if i["item"] == "field:spending_actual")
    assert api_save(client, sha, item, "correct", "2844.28").status_code == 200
    item = next(i for i in items_of(app, sha) if i["item"] == "field:budget_full_year")
    assert api_save(client, sha, item, "not_stated").status_code == 200
    log = text_of(audit_table(client.get(f"/documents/{sha}").get_data(as_text=True)))
    assert "全年执行数" in log and "全年预算数" in log
    assert "field:" not in log
    assert re.search(r"2946\.602828 万元\s*→\s*2844\.28 万元", log)
    assert re.search(r"万元\s*→\s*未提及", log)
    assert "None" not in log


def test_the_change_history_shows_a_row_by_its_name_and_numbers_not_a_dict(app):
    sha = upload_and_extract(app, ROWS)
    client = as_user(app, "rev")
    row = next(i for i in items_of(app, sha) if i["kind"] == "indicator" and i["status"] == "review")
    value = {**{k: "" if v is None else str(v) for k, v in row["value"].items()}, "weight": "5", "score": "4"}
    assert api_save(client, sha, row, "correct", value).status_code == 200
    project = next(i for i in items_of(app, sha) if i["kind"] == "project" and i["status"] == "review")
    assert api_save(client, sha, project, "delete").status_code == 200
    log = text_of(audit_table(client.get(f"/documents/{sha}").get_data(as_text=True)))
    number = int(row["item"].partition(":")[2]) + 1
    assert f"评分表第 {number} 行" in log and f"项目 {int(project['item'].partition(':')[2]) + 1}" in log
    old = f"（分值 {row['value']['weight']}，得分 {row['value']['score']}）"
    assert re.search(rf"“{re.escape(row['value']['name'])}”{re.escape(old)}\s*→\s*“[^”]+”（分值 5，得分 4）", log)
    assert "{" not in log and "'name'" not in log and "indicator:" not in log


def test_the_change_history_says_who_and_when_in_beijing_time(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "rev")
    item = next(i for i in items_of(app, sha) if i["item"] == "field:budget_full_year")
    api_save(client, sha, item, "accept")
    entry = store_of(app).audit_entries(sha)[-1]
    log = audit_table(client.get(f"/documents/{sha}").get_data(as_text=True))
    row = next(r for r in log.split("<tr>") if "确认无误" in r or "rev" in r)
    assert local_time(entry["at"], "%Y-%m-%d %H:%M:%S") in row and "rev" in row
    assert "北京时间" in log


@pytest.mark.parametrize(("value", "item", "action", "side", "shown"), [
    (None, "field:budget_initial", "not_stated", "new", "未提及"),
    (12.0, "field:self_score", "correct", "new", "12 分"),
    (["问题一", "问题二"], "list:problems", "correct", "new", "1. 问题一；2. 问题二"),
    ([], "list:measures", "not_stated", "new", "无"),
    (None, "indicator:0", "add", "old", "—"),
    ({"name": "预算执行率", "budget_full_year": 70, "score": None}, "project:2", "correct", "new", "“预算执行率”（全年预算 70）"),
    ("a.txt", None, "upload", "new", "a.txt"),
    (None, None, "confirm", "new", ""),
])
def test_an_audit_value_reads_as_the_reviewer_sees_it(value, item, action, side, shown):
    assert audit_value(value, item, action, side) == shown


@pytest.mark.parametrize(("item", "name"), [("field:budget_initial", "年初预算数"), ("indicator:2", "评分表第 3 行"),
                                            ("project:0", "项目 1"), ("list:problems", "存在的问题"),
                                            ("list:measures", "改进措施"), (None, "")])
def test_an_item_is_named_in_chinese(item, name):
    assert item_name(item) == name


def test_the_history_table_is_wide_enough_to_read():
    css = CSS.read_text()
    assert re.search(r"table\.audit-log\s*\{[^}]*min-width", css)
    assert re.search(r"\.change\s*\{[^}]*min-width", css)


# -- 2. an admin sets a user's password ---------------------------------------------------------

def set_password(client, user_id: int, password: str, confirm: str):
    token = csrf_token(client, "/admin/users")
    return client.post(f"/admin/users/{user_id}/password",
                       data={"csrf_token": token, "password": password, "confirm": confirm})


def user_named(app, name):
    return store_of(app).get_user(name)


def test_an_admin_sets_a_new_password_and_the_users_sessions_end(app):
    reviewer = as_user(app, "rev")
    assert reviewer.get("/queue").status_code == 200
    boss = as_user(app, "boss")
    page = boss.get("/admin/users").get_data(as_text=True)
    rev = user_named(app, "rev")
    assert f'action="/admin/users/{rev["id"]}/password"' in page
    resp = set_password(boss, rev["id"], "new-secret-9", "new-secret-9")
    assert resp.status_code == 303
    assert "已为 rev 设置新密码" in boss.get("/admin/users").get_data(as_text=True)
    assert check_password_hash(user_named(app, "rev")["password_hash"], "new-secret-9")
    assert reviewer.get("/queue").status_code == 302  # the old session is over
    assert login(app.test_client(), "rev").status_code != 302  # the old password no longer works
    as_user(app, "rev", "new-secret-9")


@pytest.mark.parametrize(("password", "confirm", "message"), [("new-secret-9", "new-secret-8", "两次输入的密码不一致"),
                                                              ("short", "short", "密码至少 8 位"),
                                                              ("", "", "请输入新密码")])
def test_a_new_password_must_be_typed_twice_alike_and_long_enough(app, password, confirm, message):
    boss = as_user(app, "boss")
    rev = user_named(app, "rev")
    resp = set_password(boss, rev["id"], password, confirm)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert user_named(app, "rev")["password_hash"] == rev["password_hash"]


def test_only_an_admin_sets_passwords_and_an_unknown_user_is_404(app):
    rev = user_named(app, "rev")
    assert set_password(as_user(app, "rev"), rev["id"], "new-secret-9", "new-secret-9").status_code == 403
    assert set_password(as_user(app, "boss"), 9999, "new-secret-9", "new-secret-9").status_code == 404


def test_an_admin_setting_their_own_password_logs_in_again(app):
    boss = as_user(app, "boss")
    me = user_named(app, "boss")
    assert set_password(boss, me["id"], "new-secret-9", "new-secret-9").status_code == 303
    resp = boss.get("/admin/users")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
    assert "请用新密码重新登录" in boss.get(resp.headers["Location"]).get_data(as_text=True)


# -- 3. no stale labels -------------------------------------------------------------------------

def css_rules(selector_part: str) -> list[str]:
    """The declarations of every rule in app.css whose selector contains `selector_part`."""
    return [body for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", CSS.read_text())
            if selector_part in selectors]


def test_a_section_with_nothing_to_review_has_its_badge_hidden_and_the_style_keeps_it_hidden(app):
    sha = upload_and_extract(app, REPORT)
    page = as_user(app, "rev").get(f"/documents/{sha}").get_data(as_text=True)
    badges = re.findall(r'<span class="badge warn group-flagged"([^>]*)>(\d+) 项待复核', page)
    assert badges and all(("hidden" in attrs) == (n == "0") for attrs, n in badges)
    assert any("display: none" in body for body in css_rules(".badge[hidden]"))


def confirm_all(app, sha):
    """Resolve every flagged item (accept; a flagged project deleted) and confirm the report; the client."""
    client = as_user(app, "rev")
    for item in items_of(app, sha):
        if item["status"] == "review":
            assert api_save(client, sha, item, "delete" if item["kind"] == "project" else "accept").status_code == 200
    assert client.post(f"/documents/{sha}/confirm", data=confirm_form(client, sha)).status_code == 303
    return client


def test_a_confirmed_report_shows_no_action_buttons(app):
    sha = upload_and_extract(app, REPORT)
    client = confirm_all(app, sha)
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    assert 'id="fields" data-sha256="' in page and 'data-readonly="true"' in page
    hiding = css_rules('#fields[data-readonly="true"]')
    assert any("display: none" in body for body in hiding)
    selectors = " ".join(s for s, _ in re.findall(r"([^{}]+)\{([^}]*)\}", CSS.read_text()) if "data-readonly" in s)
    assert ".actions" in selectors and ".rowactions" in selectors


# -- 4. 重试 offered live -----------------------------------------------------------------------

def test_the_upload_list_gives_each_row_its_retry_address_for_the_script(app):
    sha = upload_and_extract(app, REPORT)
    page = as_user(app, "oper").get("/upload").get_data(as_text=True)
    assert f'data-retry-url="/jobs/{sha}/retry"' in page


def test_the_upload_script_renders_the_retry_form_with_the_pages_csrf_token():
    script = (Path(__file__).parent.parent / "review_ui" / "static" / "upload.js").read_text()
    assert "刷新后可重试" not in script
    assert "meta[name=csrf-token]" in script and "retryUrl" in script and '"重试"' in script


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
def test_in_a_browser_a_job_failing_while_watched_offers_retry_and_no_badge_reads_zero(app, browser):
    from playwright.sync_api import expect
    from werkzeug.serving import make_server

    from service.worker import store_upload
    from tests.test_browser import _QuietHandler

    sha = upload_and_extract(app, REPORT)
    store = store_of(app)
    waiting, _ = store_upload(store, Path(app.config["UPLOADS"]), "b.txt", ROWS.read_bytes(), "oper")
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context(base_url=f"http://127.0.0.1:{server.server_port}")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/auth/login")
        page.fill("#name", "boss")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"/documents/{sha}")
        flagged = page.locator(".group-flagged")
        assert flagged.count() > 1
        for i in range(flagged.count()):
            badge = flagged.nth(i)
            if badge.text_content().startswith("0 "):
                expect(badge).to_be_hidden()
            else:
                expect(badge).to_be_visible()

        confirm_all(app, sha)  # and once confirmed, no item offers an action, selected or not
        page.goto(f"/documents/{sha}")
        page.locator("#item-field-unit_name .label").click()
        expect(page.locator("#item-field-unit_name")).to_have_class(re.compile(r"\bselected\b"))
        expect(page.locator(".actions button:visible, .rowactions button:visible")).to_have_count(0)
        expect(page.locator(".group-flagged:visible")).to_have_count(0)

        page.goto("/upload")
        row = page.locator(f"tr[data-sha256='{waiting['sha256']}']")
        expect(row).to_have_attribute("data-state", "queued")
        claimed = store.claim_job("test-worker", 60)
        assert claimed["sha256"] == waiting["sha256"]
        store.fail_job(waiting["sha256"], "test-worker", "测试：提取失败")
        expect(row.locator(".retry button")).to_have_text("重试", timeout=10_000)
        expect(row.locator(".error")).to_have_text("测试：提取失败")
        row.locator(".retry button").click()
        expect(page.locator(".flash.ok")).to_contain_text("已重新加入处理队列")  # shown once the retry is saved
        assert store.job(waiting["sha256"])["state"] == "queued"
    finally:
        context.close()
        server.shutdown()
        store.close()
