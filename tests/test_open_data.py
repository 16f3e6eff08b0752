"""The read-only JSON API of confirmed records (docs/api.md): the export's records, by year and unit, paged."""

from __future__ import annotations

import pytest

from service.store import Store
from tests.test_export import exported, resolve_and_confirm
from tests.webapp import as_user, make_app

STEMS = ["000_8d720d4fc0889d24", "001_dea89b1d5430c4b7", "002_6ebd5ff7b055c059"]


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
    assert body["records"] == exported(store)


def test_records_are_selected_by_year_and_part_of_a_unit_name(api):
    app, store = api
    client = as_user(app, "rev")
    for query, want in [("year=2022", lambda r: r["fields"]["fiscal_year"]["value"] == 2022),
                        ("unit=荫田", lambda r: "荫田" in (r["fields"]["unit_name"]["value"] or ""))]:
        got = client.get(f"/api/v1/records?{query}").get_json()["records"]
        assert got == [r for r in exported(store) if want(r)] and got


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
    assert {k: v for k, v in one.items() if k != "superseded_by"} == first and one["superseded_by"] is None
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
