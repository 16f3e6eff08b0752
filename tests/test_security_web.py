"""The review app's defences: log-in throttling, sessions that end on the server, always an admin, security
headers on every response, and one error shape (Chinese pages; JSON under /api/; 400 for a bad request)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

import review_ui.auth
from review_ui import SECURITY_HEADERS
from review_ui.throttle import LoginThrottle
from tests.conftest import SAMPLES
from tests.webapp import PASSWORD, csrf_token, login, make_app, store_of, upload_and_extract

TEMPLATES = Path(review_ui.auth.__file__).parent / "templates"


def client_at(app, address: str = "10.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def as_user(app, name: str, address: str = "10.0.0.1"):
    client = client_at(app, address)
    assert login(client, name).status_code == 302
    return client


def text(resp) -> str:
    return resp.get_data(as_text=True)


# -- log-in throttling ---------------------------------------------------------------------------

def test_after_too_many_wrong_passwords_for_a_name_log_in_waits_even_with_the_right_one(app):
    for n in range(5):  # each from its own address: only the name's count adds up
        assert login(client_at(app, f"10.0.1.{n}"), "rev", "wrong").status_code == 200
    resp = login(client_at(app, "10.0.2.1"), "rev")
    assert resp.status_code == 429
    assert "登录失败次数过多，请 5 分钟后再试" in text(resp)
    assert resp.headers["Retry-After"] == "300"
    assert login(client_at(app, "10.0.2.1"), "boss").status_code == 302  # other names are not held up


def test_after_too_many_wrong_passwords_from_an_address_log_in_from_there_waits(app):
    for n in range(5):  # names that do not exist count too
        login(client_at(app, "10.0.3.1"), f"nobody{n}", "wrong")
    assert login(client_at(app, "10.0.3.1"), "boss").status_code == 429
    assert login(client_at(app, "10.0.3.2"), "boss").status_code == 302


def test_a_success_resets_the_count(app):
    client = client_at(app)
    for _ in range(2):
        for _ in range(4):
            login(client, "rev", "wrong")
        assert login(client, "rev").status_code == 302


def test_the_wait_ends_after_login_lockout_s(app):
    now = [1000.0]
    app.extensions["login_throttle"].clock = lambda: now[0]
    for _ in range(5):
        login(client_at(app), "rev", "wrong")
    now[0] += 299
    assert login(client_at(app), "rev").status_code == 429
    now[0] += 1
    assert login(client_at(app), "rev").status_code == 302


def test_tries_sent_in_parallel_count_before_their_passwords_are_checked(store):
    throttle = LoginThrottle(max_failures=5, lockout_s=300, clock=lambda: 0.0)
    assert [throttle.attempt(store, "name:rev") for _ in range(6)] == [0, 0, 0, 0, 0, 300]
    throttle.succeeded(store, "name:rev")
    assert throttle.attempt(store, "name:rev") == 0


def test_the_count_is_shared_by_every_web_process_and_survives_a_restart(tmp_path):
    from service.store import Store

    db = str(tmp_path / "j.db")
    first, second = Store(db), Store(db)  # two gunicorn workers: two connections to one file
    throttle = LoginThrottle(max_failures=5, lockout_s=300, clock=lambda: 1000.0)
    for n in range(5):
        assert throttle.attempt(first if n % 2 else second, "addr:10.0.0.7") == 0
    first.close()
    second.close()
    restarted = Store(db)
    try:
        assert throttle.attempt(restarted, "addr:10.0.0.7") == 300
    finally:
        restarted.close()


def test_a_wrong_name_and_a_wrong_password_get_the_same_answer(app):
    def answer(name):
        resp = login(client_at(app, "10.0.4.1"), name, "wrong")
        page = re.sub(r'"[\w-]{20,}\.[\w-]+\.[\w-]+"', '"csrf"', text(resp))  # each client has its own token
        return resp.status_code, page.replace(f'value="{name}"', 'value="…"')  # the name typed stays in the form

    assert answer("nobody") == answer("rev")
    assert "用户名或密码错误" in answer("nobody")[1]


def test_an_unknown_name_costs_the_same_password_hash_check(app, monkeypatch):
    checked = []

    def spy(hashed, password):
        checked.append(hashed)
        return False

    monkeypatch.setattr(review_ui.auth, "check_password_hash", spy)
    login(client_at(app), "nobody", "wrong")
    assert checked == [review_ui.auth.dummy_hash()]
    assert checked[0].startswith("scrypt:")  # the same method as the users' own hashes


def test_a_deactivated_account_is_told_so_only_after_the_right_password(app):
    store = store_of(app)
    store.update_user(store.get_user("rev")["id"], active=0)
    wrong = text(login(client_at(app), "rev", "wrong"))
    assert "用户名或密码错误" in wrong and "停用" not in wrong
    right = login(client_at(app), "rev")
    assert right.status_code == 200 and "该账号已停用，请联系管理员" in text(right)


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "/\t/evil.example/"])
def test_log_in_never_redirects_off_site(app, target):
    client = client_at(app)
    token = csrf_token(client)
    resp = client.post("/auth/login", query_string={"next": target},
                       data={"name": "rev", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/"


# -- sessions --------------------------------------------------------------------------------------

def test_a_cookie_copied_before_log_out_no_longer_works_after_it(app):
    client = as_user(app, "rev")
    copied = client.get_cookie("session").value
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/queue")})
    thief = client_at(app)
    thief.set_cookie("session", copied)
    assert thief.get("/queue").status_code == 302


@pytest.mark.parametrize("change", [{"active": 0}, {"password_hash": generate_password_hash("another-password")}])
def test_deactivation_or_a_new_password_ends_the_users_sessions(app, change):
    client = as_user(app, "rev")
    assert client.get("/queue").status_code == 200
    store = store_of(app)
    store.update_user(store.get_user("rev")["id"], **change)
    assert client.get("/queue").status_code == 302


def test_a_log_in_older_than_session_lifetime_min_has_ended(app):
    client = as_user(app, "rev")
    with client.session_transaction() as session:
        session["at"] -= 720 * 60 - 5
    assert client.get("/queue").status_code == 200
    with client.session_transaction() as session:
        session["at"] -= 10
    assert client.get("/queue").status_code == 302


def test_the_session_cookie_follows_the_settings(tmp_path):
    app = make_app(tmp_path, session_secure=True, session_lifetime_min=30)
    client = client_at(app)
    resp = login(client, "rev")
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.permanent_session_lifetime.total_seconds() == 30 * 60
    assert "Expires=" in cookie  # a permanent session: the cookie ends with the log-in


# -- always an admin -------------------------------------------------------------------------------

def _admin_post(app, client, url: str, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, "/admin/users"), **data})


def test_the_last_active_admin_cannot_be_demoted(app):
    client = as_user(app, "boss")
    boss = store_of(app).get_user("boss")
    resp = _admin_post(app, client, f"/admin/users/{boss['id']}/role", role="reviewer")
    assert resp.status_code == 409
    assert "最后一位启用中的管理员" in text(resp)
    assert store_of(app).get_user("boss")["role"] == "admin"


def test_an_admin_can_be_demoted_while_another_is_left(app):
    store = store_of(app)
    store.add_user("boss2", "admin", generate_password_hash(PASSWORD))
    client = as_user(app, "boss")
    resp = _admin_post(app, client, f"/admin/users/{store.get_user('boss2')['id']}/role", role="reviewer")
    assert resp.status_code == 303
    assert store.get_user("boss2")["role"] == "reviewer" and store.active_admins() == 1


def test_the_last_active_admin_cannot_be_deactivated(app):
    client = as_user(app, "boss")
    boss = store_of(app).get_user("boss")
    resp = _admin_post(app, client, f"/admin/users/{boss['id']}/active")
    assert resp.status_code == 409
    assert "不能停用自己的账号" in text(resp)
    assert store_of(app).get_user("boss")["active"] == 1


# -- security headers ------------------------------------------------------------------------------

def test_every_response_carries_the_security_headers(app):
    client = as_user(app, "boss")
    anonymous = client_at(app, "10.0.9.9")
    responses = [client.get("/queue"), client.get("/static/review.js"), client.get("/nowhere"),
                 client.get("/api/jobs?sha256="), client.get("/"), anonymous.get("/auth/login"),
                 anonymous.get("/api/jobs")]
    for resp in responses:
        for name, value in SECURITY_HEADERS.items():
            assert resp.headers.get(name) == value, (resp.request.path, name)
    csp = dict(d.strip().split(" ", 1) for d in SECURITY_HEADERS["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert SECURITY_HEADERS["X-Frame-Options"] == "DENY"


def test_no_template_has_an_inline_script_or_event_handler():
    for path in TEMPLATES.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, f"{path.name}: {tag}"
        assert not re.search(r"\son[a-z]+\s*=", html), path.name
        assert "javascript:" not in html, path.name


# -- one error shape -------------------------------------------------------------------------------

def _is_chinese_page(resp) -> bool:
    body = text(resp)
    return (resp.mimetype == "text/html" and 'lang="zh-CN"' in body and re.search(r"[\u4e00-\u9fff]", body)
            and "Traceback" not in body and "Werkzeug" not in body and "The requested URL" not in body)


@pytest.mark.parametrize("method, url, code", [
    ("get", "/queue?page=abc", 400),
    ("get", "/upload", 403),  # a reviewer
    ("get", "/nowhere", 404),
    ("put", "/queue", 405),
])
def test_errors_are_chinese_pages_for_the_browser(app, method, url, code):
    resp = getattr(as_user(app, "rev"), method)(url)
    assert resp.status_code == code
    assert _is_chinese_page(resp), text(resp)


def test_a_request_over_the_size_limit_is_a_chinese_413(tmp_path):
    app = make_app(tmp_path, max_upload_mb=1)
    client = as_user(app, "oper")
    resp = client.post("/upload", data={"csrf_token": csrf_token(client, "/upload"), "x": "x" * (21 << 20)})
    assert resp.status_code == 413 and _is_chinese_page(resp)


def test_throttled_log_in_is_a_chinese_429(app):
    for _ in range(5):
        login(client_at(app), "rev", "wrong")
    resp = login(client_at(app), "rev")
    assert resp.status_code == 429 and _is_chinese_page(resp)


def test_a_crash_is_a_chinese_500_page_and_json_under_api(tmp_path, monkeypatch):
    app = make_app(tmp_path)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error handler answers, not pytest
    client = as_user(app, "rev")
    from service.store import Store

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Store, "queue", broken)
    monkeypatch.setattr(Store, "jobs", broken)
    page = client.get("/queue")
    assert page.status_code == 500 and _is_chinese_page(page) and "secret internals" not in text(page)
    api = client.get("/api/jobs?sha256=abc")
    assert api.status_code == 500 and api.json == {"error": "服务器内部错误，请稍后重试；如果一直出现，请联系管理员"}


@pytest.mark.parametrize("method, url, code", [
    ("get", "/api/jobs", 401),  # not logged in
    ("post", "/api/jobs", 405),
    ("get", "/api/nowhere", 404),
    ("get", "/api/jobs?sha256=a&sha256=b", 400),
])
def test_errors_under_api_are_json_in_chinese(app, method, url, code):
    client = client_at(app) if code == 401 else as_user(app, "rev")
    resp = getattr(client, method)(url)
    assert resp.status_code == code
    assert resp.is_json and re.search(r"[\u4e00-\u9fff]", resp.json["error"]), text(resp)


BIG = "9" * 20


@pytest.mark.parametrize("query", [
    f"page={BIG}", "page=0", "page=-1", "page=abc", f"year={BIG}", "year=abc", "year=%EF%BC%92",
    "year=2023&year=2024", "page=1&page=2", "state=review&state=confirmed", "state=nonsense", "unit=" + "x" * 201,
])
def test_bad_query_parameters_are_400_not_500(app, query):
    client = as_user(app, "boss")
    for path in ("/queue", "/upload"):
        resp = client.get(f"{path}?{query}")
        assert resp.status_code == 400, (path, query)
        assert _is_chinese_page(resp)


def test_good_query_parameters_still_work(app):
    client = as_user(app, "boss")
    for query in ("", "year=", "state=", "page=1", "year=2023&state=review&unit=乡&page=2"):
        assert client.get(f"/queue?{query}").status_code == 200, query
    assert client.get("/upload?page=3").status_code == 200


def test_a_huge_id_in_a_path_is_404_not_500(app):
    client = as_user(app, "boss")
    token = csrf_token(client, "/admin/users")
    assert client.post(f"/admin/users/{BIG}/role", data={"csrf_token": token, "role": "admin"}).status_code == 404


@pytest.mark.parametrize("body", [[1, 2], "text", {"action": ["accept"], "version": 1},
                                  {"action": "accept", "version": True}, {"action": "accept", "version": 1,
                                                                          "reason": ["x"]}])
def test_a_json_body_of_the_wrong_shape_is_400(app, body):
    sha = upload_and_extract(app, SAMPLES / "000_8d720d4fc0889d24.txt")
    client = as_user(app, "rev")
    token = csrf_token(client, f"/documents/{sha}")
    for url in (f"/api/documents/{sha}/items/field:budget_full_year", f"/api/documents/{sha}/items"):
        resp = client.post(url, json=body, headers={"X-CSRFToken": token})
        assert resp.status_code == 400 and resp.json == {"error": "请求格式不正确"}, url


def test_the_store_refuses_to_leave_no_active_admin_whatever_the_caller_checked_before(tmp_path):
    from service.store import Store
    from service.store.workflow import LastAdmin

    store = Store(str(tmp_path / "j.db"))
    a = store.add_user("a", "admin", "x")
    b = store.add_user("b", "admin", "x")
    store.update_user(a, role="reviewer")  # b is still there
    with pytest.raises(LastAdmin):
        store.update_user(b, active=0)
    with pytest.raises(LastAdmin):
        store.update_user(b, role="operator")
    assert store.active_admins() == 1
    store.close()


def test_behind_a_trusted_proxy_the_throttle_counts_the_clients_address_not_the_proxys(tmp_path):
    from tests.webapp import csrf_token, make_app

    app = make_app(tmp_path, proxy_hops=1, login_max_failures=2)
    for n in range(3):  # three different clients (and names), one wrong password each: nobody is locked out
        client = app.test_client()
        token = csrf_token(client)
        resp = client.post("/auth/login", data={"name": f"proxied{n}", "password": "wrong", "csrf_token": token},
                           headers={"X-Forwarded-For": f"10.0.0.{n}"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert resp.status_code != 429
