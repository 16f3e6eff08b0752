"""The read-only JSON API of confirmed records (docs/api.md): the export's records, by year and unit, paged."""

from __future__ import annotations

import re

import pytest

from service.cli import cli
from service.store import Store
from tests.test_export import exported, resolve_and_confirm
from tests.webapp import as_user, csrf_token, make_app, store_of

STEMS = ["000_8d720d4fc0889d24", "001_dea89b1d5430c4b7", "002_6ebd5ff7b055c059"]


def as_exported(record: dict) -> dict:
    """An API record without what the API adds to the export's record (its unit of the list, superseded_by)."""
    return {k: v for k, v in record.items() if k not in ("unit", "superseded_by")}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """An app whose database holds three confirmed sample reports, and a reviewer's client."""
    from service.settings import load_settings
    from service.worker import process_next, store_upload
    from tests.conftest import SAMPLES

    folder = tmp_path_factory.mktemp("api")
    app = make_app(folder)
    store = Store(app.config["DATABASE"])
    settings = load_settings(env={}, db=app.config["DATABASE"], engine="rules")
    for stem in STEMS:
        path = SAMPLES / f"{stem}.txt"
        store_upload(store, folder / "uploads", path.name, path.read_bytes(), "oper")
    while process_next(store, settings) is not None:
        pass
    resolve_and_confirm(store)
    yield app, store
    store.close()


def test_the_records_are_the_exports_records(api):
    app, store = api
    body = as_user(app, "rev").get("/api/v1/records").get_json()
    assert body["count"] == 3 and body["next"] is None
    assert [as_exported(r) for r in body["records"]] == exported(store)
    assert [r["unit"] for r in body["records"]] == [None] * 3  # no list of units imported


def test_with_a_list_of_units_each_record_names_its_unit_of_the_list(tmp_path):
    from service.settings import load_settings
    from service.units.importing import read_units_file
    from service.worker import process_next, store_upload
    from tests.conftest import SAMPLES

    app = make_app(tmp_path)
    store = Store(app.config["DATABASE"])
    path = SAMPLES / f"{STEMS[0]}.txt"
    store_upload(store, tmp_path / "uploads", path.name, path.read_bytes(), "oper")
    while process_next(store, load_settings(env={}, db=app.config["DATABASE"], engine="rules")) is not None:
        pass
    resolve_and_confirm(store)
    listed = "名称,类别,代码\n岭坡乡,乡镇,101\n白果镇,乡镇,102\n"
    store.import_units(read_units_file("名单.csv", listed.encode("utf-8")), "admin", "名单.csv")
    [record] = as_user(app, "rev").get("/api/v1/records").get_json()["records"]
    assert record["fields"]["unit_name"]["value"] == "衡山县岭坡乡人民政府"
    assert {k: record["unit"][k] for k in ("name", "category", "code", "match")} == \
        {"name": "岭坡乡", "category": "乡镇", "code": "101", "match": "matched"}
    one = as_user(app, "rev").get(f"/api/v1/records/{record['source']['sha256']}").get_json()
    assert one["unit"] == record["unit"]
    store.close()


def test_records_are_selected_by_year_and_part_of_a_unit_name(api):
    app, store = api
    client = as_user(app, "rev")
    for query, want in [("year=2022", lambda r: r["fields"]["fiscal_year"]["value"] == 2022),
                        ("unit=荫田", lambda r: "荫田" in (r["fields"]["unit_name"]["value"] or ""))]:
        got = client.get(f"/api/v1/records?{query}").get_json()["records"]
        assert [as_exported(r) for r in got] == [r for r in exported(store) if want(r)] and got


def test_pages_follow_next_and_visit_every_record_once(api):
    app, store = api
    client = as_user(app, "rev")
    seen, after = [], ""
    while True:
        body = client.get(f"/api/v1/records?limit=2{'&after=' + after if after else ''}").get_json()
        seen += [r["source"]["sha256"] for r in body["records"]]
        if body["next"] is None:
            break
        after = body["next"]
    assert seen == [r["source"]["sha256"] for r in exported(store)]


def test_one_record_and_the_units_with_their_years(api):
    app, store = api
    client = as_user(app, "rev")
    first = exported(store)[0]
    one = client.get(f"/api/v1/records/{first['source']['sha256']}").get_json()
    assert as_exported(one) == first and one["superseded_by"] is None
    units = client.get("/api/v1/units").get_json()["units"]
    assert {u["unit_name"] for u in units} == {r["fields"]["unit_name"]["value"] for r in exported(store)}
    assert all(u["years"] for u in units)


@pytest.mark.parametrize(("path", "code", "message"), [
    ("/api/v1/records?limit=0", 400, "limit"),
    ("/api/v1/records?limit=abc", 400, "limit"),
    ("/api/v1/records?year=20x3", 400, "年度"),
    ("/api/v1/records?after=zzz", 400, "after"),
    ("/api/v1/records?after=" + "0" * 64, 400, "after"),
    ("/api/v1/records/" + "0" * 64, 404, "没有这份"),
    ("/api/v1/records/not-a-sha", 404, "没有这份"),
])
def test_bad_queries_get_a_chinese_reason_as_json(api, path, code, message):
    app, _ = api
    resp = as_user(app, "rev").get(path)
    assert resp.status_code == code and message in resp.get_json()["error"]


def test_the_api_needs_a_reviewer_log_in(api):
    app, _ = api
    assert app.test_client().get("/api/v1/records").status_code == 401
    assert as_user(app, "oper").get("/api/v1/records").status_code == 403


# -- API tokens -------------------------------------------------------------------------------------

def _issue(admin, name: str) -> str:
    """An admin issues a token on the API 令牌 page; the token as the page shows it, once."""
    page = admin.post("/admin/tokens", data={"name": name, "csrf_token": csrf_token(admin, "/admin/tokens")})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "关闭此页后将无法再次查看" in html
    return re.search(r'<code class="token">(jx_[\w-]+)</code>', html).group(1)


def test_a_program_reads_the_records_with_a_token_an_admin_issued(api):
    app, store = api
    token = _issue(as_user(app, "boss"), "市财政局数据平台")
    program = app.test_client()  # no session: only the header
    resp = program.get("/api/v1/records", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and [as_exported(r) for r in resp.get_json()["records"]] == exported(store)
    listed = as_user(app, "boss").get("/admin/tokens").get_data(as_text=True)
    assert "市财政局数据平台" in listed and token not in listed  # shown once, then never again
    assert all(token not in str(row) for row in store.db["api_tokens"].rows)  # only its hash is kept
    assert store.list_tokens()[0]["last_used_at"] is not None


def test_a_token_reads_the_json_api_and_nothing_else(api):
    app, _ = api
    token = _issue(as_user(app, "boss"), "只读")
    program = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert program.get("/queue", headers=bearer).status_code == 302  # the web app still wants a log-in
    assert program.get("/admin/tokens", headers=bearer).status_code == 302
    sha = program.get("/api/v1/records", headers=bearer).get_json()["records"][0]["source"]["sha256"]
    assert program.post(f"/api/documents/{sha}/items/unit_name", json={"action": "accept"},
                        headers=bearer).status_code in (400, 403)  # no change through a token


def test_a_revoked_or_mistyped_token_is_a_401_with_a_chinese_reason(api):
    app, _ = api
    admin = as_user(app, "boss")
    token = _issue(admin, "将被撤销")
    token_id = next(t["id"] for t in store_of(app).list_tokens() if t["name"] == "将被撤销")
    revoked = admin.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(admin, "/admin/tokens")})
    assert revoked.status_code == 303
    program = app.test_client()
    for bad in (token, token[:-1] + ("A" if token[-1] != "A" else "B"), "not-a-token"):
        resp = program.get("/api/v1/records", headers={"Authorization": f"Bearer {bad}"})
        assert resp.status_code == 401 and "API 令牌无效或已被撤销" in resp.get_json()["error"]
    row = next(t for t in store_of(app).list_tokens() if t["id"] == token_id)
    assert row["revoked_by"] == "boss" and row["revoked_at"]


def test_only_an_admin_issues_tokens(api):
    app, _ = api
    assert as_user(app, "rev").get("/admin/tokens").status_code == 403
    assert app.test_client().get("/admin/tokens").status_code == 302
    admin = as_user(app, "boss")
    empty = admin.post("/admin/tokens", data={"name": " ", "csrf_token": csrf_token(admin, "/admin/tokens")})
    assert empty.status_code == 400 and "请写明令牌的用途" in empty.get_data(as_text=True)


def test_tokens_issued_and_revoked_from_the_command_line(api, runner):
    app, _ = api
    db = app.config["DATABASE"]
    issued = runner.invoke(cli, ["tokens", "issue", "脚本", "--db", db])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    assert app.test_client().get("/api/v1/units", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    token_id = runner.invoke(cli, ["tokens", "list", "--db", db]).output.split("\t")[0]
    assert runner.invoke(cli, ["tokens", "revoke", token_id, "--db", db]).exit_code == 0
    again = runner.invoke(cli, ["tokens", "revoke", token_id, "--db", db])
    assert again.exit_code == 1 and "没有编号为" in again.output
    assert app.test_client().get("/api/v1/units", headers={"Authorization": f"Bearer {token}"}).status_code == 401
