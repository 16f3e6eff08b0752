"""Security of the CLI, the exports, confirming and typed values: no file outside the input, no formula in
an export, no confirm over someone else's change, no number a field cannot hold, no unsafe stored name."""

from __future__ import annotations

import csv
import io
import os

import pytest

from service.cli import cli
from service.record import Record
from service.review import InvalidValue, parse_field, parse_row
from service.store import Store
from service.store.workflow import StaleConfirm
from tests.conftest import SAMPLES
from tests.webapp import api_save, confirm_form, login, make_app, store_of, upload_and_extract

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"


# -- inputs are regular files inside what was given ------------------------------------------

@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "ok.txt").write_bytes(REPORT.read_bytes())
    secret = tmp_path / "secret.txt"
    secret.write_text("不该被读取的文件", encoding="utf-8")
    os.symlink(secret, d / "s.txt")
    os.mkfifo(d / "pipe.txt")
    return d


def test_submit_refuses_symlinks_and_special_files_by_name_and_queues_the_rest(runner, folder):
    result = runner.invoke(cli, ["submit", str(folder)], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert "s.txt" in result.output and "符号链接" in result.output
    assert "pipe.txt" in result.output and "不是普通文件" in result.output
    store = Store(os.environ["JIXIAO_DB"])
    assert [j["name"] for j in store.jobs()] == ["ok.txt"]
    assert all("不该被读取" not in (d["text"] or "") for d in store.list_documents())
    store.close()


def test_extract_refuses_a_symlink_given_directly(runner, folder):
    result = runner.invoke(cli, ["extract", str(folder / "s.txt"), "--no-store", "--out", "out"],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 1 and "符号链接" in result.output
    assert not list((folder.parent / "out").glob("*.json")) if (folder.parent / "out").exists() else True


# -- exports ------------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://example.com","点我")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1"]


def _confirmed_with(app, doc, unit: str, row_name: str) -> None:
    client = app.test_client()
    login(client, "rev")
    store = store_of(app)
    try:
        unit_item = store.review_item(doc, "field:unit_name")
        assert api_save(client, doc, unit_item, "correct", unit).status_code == 200
        row = next(i for i in store.review_items(doc) if i["kind"] == "indicator")
        assert api_save(client, doc, row, "correct", {**{k: "" if v is None else str(v)
                                                         for k, v in row["value"].items()},
                                                      "name": row_name}).status_code == 200
        for item in [i for i in store.review_items(doc) if i["status"] == "review"]:
            assert api_save(client, doc, item, "accept").status_code == 200
        assert client.post(f"/documents/{doc}/confirm", data=confirm_form(client, doc)).status_code == 303
    finally:
        store.close()


@pytest.mark.parametrize("formula", FORMULAS)
def test_no_csv_cell_of_an_export_can_run_as_a_formula(tmp_path, formula):
    app = make_app(tmp_path)
    doc = upload_and_extract(app, REPORT)
    _confirmed_with(app, doc, formula, formula)
    client = app.test_client()
    login(client, "rev")
    for fmt in ("reports.csv", "indicators.csv"):
        resp = client.get(f"/export/{fmt}")
        assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
        cells = [c for row in csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))) for c in row]
        # what a spreadsheet would evaluate: a text cell starting with = + - @ or a tab / CR
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], fmt
        assert "'" + formula.strip() in cells  # the value itself is kept, shown as text
    runner_out = tmp_path / "cli.csv"
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["export", "--db", app.config["DATABASE"], "--format", "csv",
                                      "--out", str(runner_out)])
    assert result.exit_code == 0, result.output
    cells = [c for row in csv.reader(io.StringIO(runner_out.read_text(encoding="utf-8-sig"))) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or c.startswith("-2")]


# -- confirming --------------------------------------------------------------------------------

def test_a_confirm_from_a_page_older_than_someone_elses_change_is_refused_saying_what_changed(tmp_path):
    app = make_app(tmp_path)
    doc = upload_and_extract(app, REPORT)
    store = store_of(app)
    try:
        for item in [i for i in store.review_items(doc) if i["status"] == "review"]:
            store.save_item(doc, item["item"], item["version"], item["value"], "confirmed", "rev", "accept")
        a = app.test_client()
        login(a, "rev")
        stale = confirm_form(a, doc)  # reviewer A's page
        b = app.test_client()
        login(b, "boss")
        budget = store.review_item(doc, "field:budget_initial")
        assert api_save(b, doc, budget, "correct", "99999").status_code == 200
        resp = a.post(f"/documents/{doc}/confirm", data=stale, follow_redirects=True)
        page = resp.get_data(as_text=True)
        assert "打开本页后报告已被修改" in page and "boss" in page and "年初预算数" in page
        assert store.job(doc)["state"] == "review" and store.confirmed_documents() == []
        with pytest.raises(StaleConfirm):
            store.confirm(doc, "rev", Record(), seen=int(stale["seen"]))
        # the reviewer's own saves since the page loaded do not block their confirm
        assert a.post(f"/documents/{doc}/confirm", data=confirm_form(a, doc)).status_code == 303
        assert store.job(doc)["state"] == "confirmed"
    finally:
        store.close()


# -- typed values are bounded -----------------------------------------------------------------

@pytest.mark.parametrize(("key", "raw"), [
    ("budget_initial", "9" * 5000), ("budget_initial", "9" * 25), ("budget_initial", "1e9"),
    ("budget_initial", "200000000"), ("self_score", "101"), ("execution_rate", "5000"), ("staff_actual", "2000000"),
    ("fiscal_year", "1800"), ("report_date", "2024-02-31"), ("report_date", "3024-01-01"),
])
def test_a_value_no_field_can_hold_is_refused_in_chinese(key, raw):
    with pytest.raises(InvalidValue) as err:
        parse_field(key, raw)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(err.value))


def test_a_row_score_above_100_is_refused_and_a_valid_date_passes():
    with pytest.raises(InvalidValue):
        parse_row("indicator", {"name": "满意度", "weight": "500", "score": "400"})
    assert parse_field("report_date", "2024-02-29") == "2024-02-29"


def test_the_review_api_refuses_an_unbounded_correction_with_a_4xx(tmp_path):
    app = make_app(tmp_path)
    doc = upload_and_extract(app, REPORT)
    client = app.test_client()
    login(client, "rev")
    store = store_of(app)
    try:
        item = store.review_item(doc, "field:budget_initial")
        for raw in ("9" * 5000, "9" * 25, ["1", "2"]):
            resp = api_save(client, doc, item, "correct", raw)
            assert resp.status_code == 422 and resp.json["error"], raw  # the review API's invalid-input code
        listed = store.review_item(doc, "list:problems")
        assert api_save(client, doc, listed, "correct", [1, {"a": 2}]).status_code in (200, 400)
    finally:
        store.close()


def test_jixiao_check_flags_values_no_field_can_hold(runner, tmp_path):
    import json

    record = {"fields": {"budget_initial": {"value": 1e30}, "report_date": {"value": "2024-02-31"},
                         "execution_score": {"value": 150}}}
    (tmp_path / "r.json").write_text(json.dumps(record), encoding="utf-8")
    result = runner.invoke(cli, ["check", str(REPORT), str(tmp_path / "r.json"), "--out", "checked"])
    assert result.exit_code == 0, result.output
    checked = json.loads((tmp_path / "checked" / "r.json").read_text(encoding="utf-8"))["fields"]
    for key in ("budget_initial", "report_date", "execution_score"):
        assert checked[key]["status"] == "review", key


# -- stored names -------------------------------------------------------------------------------

def test_uploads_named_dot_dot_or_too_long_are_stored_safely_and_each_file_gets_its_result(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    login(client, "oper")
    from tests.webapp import csrf_token

    other = (SAMPLES / "001_dea89b1d5430c4b7.txt").read_bytes()
    files = [(io.BytesIO(REPORT.read_bytes()), "good.txt"), (io.BytesIO(other), ".."),
             (io.BytesIO(b"x" * 10 + REPORT.read_bytes()), "长" * 300 + ".txt")]
    resp = client.post("/upload", data={"csrf_token": csrf_token(client, "/upload"), "files": files},
                       content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert resp.status_code == 200
    results = resp.json["results"]
    assert [r["outcome"] for r in results] == ["queued", "queued", "queued"]
    uploads = tmp_path / "instance" / "uploads"
    stored = [p for p in uploads.rglob("*") if p.is_file()]
    assert len(stored) == 3 and all(uploads in p.parents for p in stored)
    assert all(len(p.name.encode("utf-8")) <= 120 and not p.name.startswith(".") for p in stored)


# -- the audit log --------------------------------------------------------------------------------

def test_a_re_claim_after_the_lease_is_audited_and_the_log_cannot_be_replaced(tmp_path):
    import sqlite3

    from service.worker import store_upload

    store = Store(str(tmp_path / "j.db"))
    job = store_upload(store, tmp_path / "uploads", REPORT.name, REPORT.read_bytes(), "oper")[0]
    store.claim_job("dead", lease_s=900)
    store.claim_job("next", lease_s=0)
    entries = store.audit_entries(job["sha256"])
    assert entries[-1]["action"] == "requeued" and entries[-1]["old_value"] == "dead"
    first = entries[0]
    with pytest.raises(sqlite3.DatabaseError):
        store.db.execute("INSERT OR REPLACE INTO audit_log (id, document_sha256, action, user_name, at) "
                         "VALUES (?, ?, 'upload', 'mallory', 'now')", [first["id"], job["sha256"]])
    assert store.audit_entries(job["sha256"])[0]["user_name"] == "oper"
    store.close()
