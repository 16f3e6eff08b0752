"""The review app through Flask's test client: log-in, roles, uploads, the queue, reviewing, confirming."""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import SAMPLES, start_serve
from tests.webapp import (
    PASSWORD,
    api_save,
    as_user,
    confirm_form,
    csrf_token,
    login,
    make_app,
    store_of,
    upload_and_extract,
)

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"  # 3 items flagged by the rules engine


@pytest.fixture
def doc(app):
    return upload_and_extract(app, REPORT)


def flagged(app, sha):
    store = store_of(app)
    try:
        return [i for i in store.review_items(sha) if i["status"] == "review"]
    finally:
        store.close()


def upload(client, *files):
    token = csrf_token(client, "/upload")
    data = {"csrf_token": token, "files": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/upload", data=data, content_type="multipart/form-data",
                       follow_redirects=True)  # the results are shown on the page the post redirects to


# -- log-in -------------------------------------------------------------------------

def test_every_page_asks_for_log_in_first(client, doc):
    for url in ("/", "/queue", "/upload", f"/documents/{doc}", "/admin/users", "/export/xlsx", f"/jobs/{doc}"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"], url


def test_the_json_api_answers_401_not_a_redirect_without_log_in(client, doc):
    assert client.get(f"/api/jobs?sha256={doc}").status_code == 401


def test_a_wrong_password_is_refused_with_a_message(client):
    resp = login(client, "rev", "wrong-password", follow=True)
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert client.get("/queue").status_code == 302


def test_log_in_goes_back_to_the_page_asked_for_but_never_off_site(app, client):
    token = csrf_token(client)
    resp = client.post("/auth/login?next=/export/", data={"name": "rev", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/export/"
    client = app.test_client()
    token = csrf_token(client)
    resp = client.post("/auth/login?next=https://evil.example/", data={"name": "rev", "password": PASSWORD,
                                                                        "csrf_token": token})
    assert resp.headers["Location"] == "/"


def test_each_role_lands_on_its_own_page(app):
    assert as_user(app, "oper").get("/").headers["Location"] == "/upload"
    assert as_user(app, "rev").get("/").headers["Location"] == "/queue"


def test_log_out_ends_the_session(app):
    client = as_user(app, "rev")
    token = csrf_token(client, "/queue")
    client.post("/auth/logout", data={"csrf_token": token})
    assert client.get("/queue").status_code == 302


# -- roles: 403 ------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/queue", "/documents/{sha}", "/export/", "/export/xlsx", "/admin/users"])
def test_an_operator_cannot_see_review_export_or_admin_pages(app, doc, url):
    resp = as_user(app, "oper").get(url.format(sha=doc))
    assert resp.status_code == 403
    assert "无权访问" in resp.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/upload", "/admin/users"])
def test_a_reviewer_cannot_see_upload_or_admin_pages(app, url):
    assert as_user(app, "rev").get(url).status_code == 403


def test_a_reviewer_cannot_upload_or_retry(app, doc):
    client = as_user(app, "rev")
    token = csrf_token(client, "/queue")
    assert client.post("/upload", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/jobs/{doc}/retry", data={"csrf_token": token}).status_code == 403


def test_an_operator_cannot_act_on_review_items_or_confirm(app, doc):
    client = as_user(app, "oper")
    item = flagged(app, doc)[0]
    token = csrf_token(client, "/upload")
    assert api_save(client, doc, item, "accept", token=token).status_code == 403
    assert client.post(f"/documents/{doc}/confirm", data={"csrf_token": token}).status_code == 403


def test_an_admin_can_do_everything(app, doc):
    client = as_user(app, "boss")
    for url in ("/upload", "/queue", f"/documents/{doc}", "/admin/users", "/export/"):
        assert client.get(url).status_code == 200, url


# -- 404 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/documents/" + "0" * 64, "/jobs/" + "0" * 64, "/export/pdf", "/nowhere"])
def test_unknown_pages_and_documents_are_404_in_chinese(app, url):
    resp = as_user(app, "boss").get(url)
    assert resp.status_code == 404
    assert "找不到" in resp.get_data(as_text=True)


def test_an_unknown_review_item_is_404(app, doc):
    client = as_user(app, "rev")
    resp = api_save(client, doc, {"item": "field:nonsense", "version": 1}, "accept")
    assert resp.status_code == 404 and resp.json["error"] == "找不到该项"


def test_retrying_an_unknown_job_is_404(app):
    client = as_user(app, "oper")
    token = csrf_token(client, "/upload")
    assert client.post("/jobs/" + "0" * 64 + "/retry", data={"csrf_token": token}).status_code == 404


def test_an_unknown_user_in_admin_is_404(app):
    client = as_user(app, "boss")
    token = csrf_token(client, "/admin/users")
    assert client.post("/admin/users/999/active", data={"csrf_token": token}).status_code == 404


# -- CSRF ------------------------------------------------------------------------------------

def test_a_form_without_its_csrf_token_is_refused(app):
    client = as_user(app, "oper")
    resp = client.post("/upload", data={"files": [(io.BytesIO(b"x"), "a.txt")]}, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)
    assert store_of(app).jobs() == []


def test_log_in_without_a_csrf_token_is_refused(client):
    resp = client.post("/auth/login", data={"name": "rev", "password": PASSWORD})
    assert resp.status_code == 400


def test_a_review_action_without_the_csrf_header_is_refused_and_changes_nothing(app, doc):
    client = as_user(app, "rev")
    item = flagged(app, doc)[0]
    resp = client.post(f"/api/documents/{doc}/items/{item['item']}", json={"action": "accept", "version": 1})
    assert resp.status_code == 400 and "CSRF" in resp.json["error"]
    assert flagged(app, doc)[0]["version"] == item["version"]


# -- uploads ---------------------------------------------------------------------------------

def test_several_files_are_uploaded_at_once_and_queued(app):
    client = as_user(app, "oper")
    resp = upload(client, ("a.txt", REPORT.read_bytes()), ("b.txt", (SAMPLES / "001_dea89b1d5430c4b7.txt").read_bytes()))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and page.count("已加入处理队列") == 2
    assert [j["state"] for j in store_of(app).jobs()] == ["queued", "queued"]
    assert "排队中" in page


def test_the_same_file_uploaded_again_is_recognised_with_a_link(app, doc):
    client = as_user(app, "oper")
    resp = upload(client, ("again.txt", REPORT.read_bytes()))
    page = resp.get_data(as_text=True)
    assert "已上传过" in page and f"/jobs/{doc}" in page
    assert len(store_of(app).jobs()) == 1


def test_a_bad_file_is_refused_before_anything_is_stored_and_the_rest_go_on(app):
    client = as_user(app, "oper")
    resp = upload(client, ("empty.txt", b""), ("garbage.pdf", b"\x00\x01\x02" * 100),
                  ("good.txt", REPORT.read_bytes()))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "empty.txt" in page and "文件为空" in page
    assert "garbage.pdf" in page and "无法识别的文件类型" in page
    jobs = store_of(app).jobs()
    assert [j["name"] for j in jobs] == ["good.txt"]
    assert len(list(Path(app.config["UPLOADS"]).iterdir())) == 1  # only the good file was kept


def test_an_upload_of_only_bad_files_is_a_400(app):
    client = as_user(app, "oper")
    resp = upload(client, ("sheet.xlsx", _xlsx_bytes()))
    assert resp.status_code == 400
    assert "Excel" in resp.get_data(as_text=True)


def test_an_oversize_file_is_refused_with_the_limit(tmp_path):
    app = make_app(tmp_path, max_upload_mb=0.01)  # 10 KB; the report is larger
    client = as_user(app, "oper")
    resp = upload(client, ("big.txt", REPORT.read_bytes()))
    assert resp.status_code == 400 and "超过上限" in resp.get_data(as_text=True)
    assert store_of(app).jobs() == []


def test_a_request_far_over_the_limit_is_refused_whole_with_a_chinese_message(tmp_path):
    app = make_app(tmp_path, max_upload_mb=0.001)
    client = as_user(app, "oper")
    resp = upload(client, ("big.txt", REPORT.read_bytes()))
    assert resp.status_code == 413 and "上传内容过大" in resp.get_data(as_text=True)
    assert store_of(app).jobs() == []


def test_uploading_with_no_file_says_so(app):
    client = as_user(app, "oper")
    resp = client.post("/upload", data={"csrf_token": csrf_token(client, "/upload")})
    assert "请选择要上传的文件" in resp.get_data(as_text=True)


def test_the_upload_answer_is_json_for_scripts(app):
    client = as_user(app, "oper")
    token = csrf_token(client, "/upload")
    resp = client.post("/upload", data={"csrf_token": token, "files": [(io.BytesIO(REPORT.read_bytes()), "r.txt")]},
                       headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert resp.json["results"][0]["outcome"] == "queued"


def _xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    openpyxl.Workbook().save(buf)
    return buf.getvalue()


# -- processing states ---------------------------------------------------------------------

def test_job_states_are_served_for_the_page_to_update_without_reload(app, doc):
    client = as_user(app, "oper")
    state = client.get(f"/api/jobs?sha256={doc}").json[doc]
    assert state["state"] == "review" and state["label"] == "待审核"
    assert state["unit_name"] == "衡山县岭坡乡人民政府" and state["flagged"] == 3


def test_a_failed_document_shows_why_and_can_be_retried(app):
    client = as_user(app, "oper")
    upload(client, ("lost.txt", REPORT.read_bytes()))
    from service.worker import process_next

    store = store_of(app)
    Path(store.jobs()[0]["path"]).unlink()  # the stored upload lost before the worker reads it
    job = process_next(store, app.config["SETTINGS"])
    assert job["state"] == "failed" and job["error"]
    page = client.get(f"/jobs/{job['sha256']}").get_data(as_text=True)
    assert "失败" in page and "lost.txt" in page and "重试" in page
    token = csrf_token(client, "/upload")
    resp = client.post(f"/jobs/{job['sha256']}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "已重新加入处理队列" in resp.get_data(as_text=True)
    assert store.job(job["sha256"])["state"] == "queued"


def test_the_job_page_links_a_reviewer_to_the_review_page(app, doc):
    page = as_user(app, "rev").get(f"/jobs/{doc}").get_data(as_text=True)
    assert f"/documents/{doc}" in page and "待审核" in page


# -- the queue ------------------------------------------------------------------------------

@pytest.fixture
def three_docs(app):
    return [upload_and_extract(app, SAMPLES / name) for name in
            ("000_8d720d4fc0889d24.txt", "001_dea89b1d5430c4b7.txt", "004_b638ef10e80c4f2a.txt")]


def test_the_queue_puts_the_most_uncertain_documents_first(app, three_docs):
    page = as_user(app, "rev").get("/queue").get_data(as_text=True)
    order = [page.index(u) for u in ("平等乡人民政府", "衡山县岭坡乡人民政府", "常宁市荫田镇人民政府")]
    assert order == sorted(order)


def test_the_queue_filters_by_year_and_searches_by_unit(app, three_docs):
    client = as_user(app, "rev")
    page = client.get("/queue?year=2022").get_data(as_text=True)
    assert "常宁市荫田镇人民政府" in page and "平等乡人民政府" not in page
    page = client.get("/queue?unit=荫田").get_data(as_text=True)
    assert "常宁市荫田镇人民政府" in page and "衡山县" not in page
    page = client.get("/queue?state=confirmed").get_data(as_text=True)
    assert "没有符合条件的报告" in page


def test_the_queue_is_paginated(tmp_path, three_docs, app):
    app.config["PER_PAGE"] = 2
    client = as_user(app, "rev")
    first = client.get("/queue").get_data(as_text=True)
    assert "第 1 / 2 页" in first and "常宁市荫田镇人民政府" not in first and "上一页" not in first
    second = client.get(pager_link(first, "next")).get_data(as_text=True)  # 下一页: a cursor, not an offset
    assert "第 2 / 2 页" in second and "常宁市荫田镇人民政府" in second and "下一页" not in second
    back = client.get(pager_link(second, "prev")).get_data(as_text=True)  # 上一页
    assert "第 1 / 2 页" in back and "常宁市荫田镇人民政府" not in back


def pager_link(page: str, rel: str) -> str:
    """The URL of the queue's 下一页 (rel="next") or 上一页 (rel="prev") link."""
    return html.unescape(re.search(rf'<a href="([^"]+)" rel="{rel}">', page).group(1))


# -- reviewing -----------------------------------------------------------------------------

def test_the_review_page_shows_the_source_and_flagged_fields_first_with_their_evidence(app, doc):
    page = as_user(app, "rev").get(f"/documents/{doc}").get_data(as_text=True)
    assert "衡山县岭坡乡人民政府" in page and 'id="source"' in page
    assert page.index("预算与执行") < page.index("基本信息")  # the group with flagged fields comes first
    assert "报告中有不一致的数值" in page and 'data-start="' in page
    assert "2769.17439" in page  # the other value the report states, as a candidate


def test_report_text_is_shown_escaped(app, tmp_path):
    evil = tmp_path / "evil.txt"
    evil.write_text(REPORT.read_text(encoding="utf-8") + "\n<script>alert('x')</script>\n", encoding="utf-8")
    sha = upload_and_extract(app, evil)
    page = as_user(app, "rev").get(f"/documents/{sha}").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_accepting_a_flagged_field_marks_it_confirmed_and_audits_it(app, doc):
    client = as_user(app, "rev")
    item = next(i for i in flagged(app, doc) if i["item"] == "field:budget_full_year")
    resp = api_save(client, doc, item, "accept")
    assert resp.status_code == 200
    assert resp.json["item"]["status"] == "confirmed" and resp.json["item"]["version"] == item["version"] + 1
    assert resp.json["blockers"] == ["还有 2 项待复核"]
    entry = store_of(app).audit_entries(doc)[-1]
    assert (entry["action"], entry["item"], entry["user_name"]) == ("accept", "field:budget_full_year", "rev")


def test_a_correction_is_typed_as_a_number_in_wanyuan(app, doc):
    client = as_user(app, "rev")
    item = next(i for i in flagged(app, doc) if i["item"] == "field:spending_actual")
    resp = api_save(client, doc, item, "correct", "2,844.28141")
    assert resp.status_code == 200
    saved = resp.json["item"]
    assert saved["value"] == 2844.28141 and saved["status"] == "corrected"
    entry = store_of(app).audit_entries(doc)[-1]
    assert entry["old_value"] == 2946.602828 and entry["new_value"] == 2844.28141


@pytest.mark.parametrize(("typed", "message"), [("abc", "请输入数字"), ("2844元", "以万元填写"), ("", "请输入数值"),
                                                 ("-5", "不能为负数")])
def test_a_correction_that_is_not_a_valid_amount_is_refused_with_a_reason(app, doc, typed, message):
    client = as_user(app, "rev")
    item = next(i for i in flagged(app, doc) if i["item"] == "field:spending_actual")
    resp = api_save(client, doc, item, "correct", typed)
    assert resp.status_code == 422 and message in resp.json["error"]
    assert next(i for i in flagged(app, doc) if i["item"] == "field:spending_actual")["version"] == item["version"]


def test_a_field_can_be_marked_not_stated(app, doc):
    client = as_user(app, "rev")
    item = next(i for i in flagged(app, doc) if i["item"] == "field:budget_full_year")
    saved = api_save(client, doc, item, "not_stated").json["item"]
    assert saved["value"] is None and saved["status"] == "corrected"


def test_a_score_row_that_is_not_one_can_be_deleted_and_a_row_corrected_in_the_grid(app):
    sha = upload_and_extract(app, SAMPLES / "004_b638ef10e80c4f2a.txt")
    client = as_user(app, "rev")
    row = next(i for i in flagged(app, sha) if i["kind"] == "indicator")
    assert api_save(client, sha, row, "delete").json["item"]["status"] == "deleted"
    project = next(i for i in flagged(app, sha) if i["kind"] == "project")
    value = {**{k: "" if v is None else str(v) for k, v in project["value"].items()}, "budget_full_year": "70"}
    saved = api_save(client, sha, project, "correct", value).json["item"]
    assert saved["value"]["budget_full_year"] == 70 and saved["status"] == "corrected"


def test_a_score_above_its_weight_is_refused_in_the_grid(app):
    sha = upload_and_extract(app, SAMPLES / "004_b638ef10e80c4f2a.txt")
    client = as_user(app, "rev")
    row = next(i for i in flagged(app, sha) if i["kind"] == "indicator")
    value = {**{k: "" if v is None else str(v) for k, v in row["value"].items()}, "weight": "5", "score": "6"}
    resp = api_save(client, sha, row, "correct", value)
    assert resp.status_code == 422 and "超过分值" in resp.json["error"]


def api_add(client, sha: str, value: dict, after: str | None, kind: str = "indicator", token: str | None = None):
    token = csrf_token(client, f"/documents/{sha}") if token is None else token
    return client.post(f"/api/documents/{sha}/items", json={"kind": kind, "after": after, "value": value},
                       headers={"X-CSRFToken": token, "Accept": "application/json"})


MISSED_ROW = {"level1": "产出指标", "level2": "时效指标", "name": "资金拨付及时率", "target": "100%",
              "actual": "100%", "weight": "5", "score": "4.5"}


def test_a_missed_score_row_is_added_below_its_neighbour_and_confirmed_in_that_place(app, doc):
    client = as_user(app, "rev")
    rows = [i for i in store_of(app).review_items(doc) if i["kind"] == "indicator"]
    resp = api_add(client, doc, MISSED_ROW, after=rows[1]["item"])
    assert resp.status_code == 201, resp.json
    added = resp.json["item"]
    assert added["value"]["name"] == "资金拨付及时率" and added["value"]["score"] == 4.5
    assert added["value"]["table"] == rows[1]["value"]["table"] and added["status"] == "corrected"
    assert "人工新增" in resp.json["html"]
    order = [i["item"] for i in store_of(app).review_items(doc) if i["kind"] == "indicator"]
    assert order[:3] == [rows[0]["item"], rows[1]["item"], added["item"]] and order[3] == rows[2]["item"]
    page = client.get(f"/documents/{doc}").get_data(as_text=True)
    assert "资金拨付及时率" in page and "人工新增" in page
    _resolve_all(app, client, doc)
    client.post(f"/documents/{doc}/confirm", data=confirm_form(client, doc))
    names = [r["name"] for r in store_of(app).confirmed_parts(doc)["confirmed_indicators"]]
    assert names[2] == "资金拨付及时率" and len(names) == len(rows) + 1
    audit = [a for a in store_of(app).audit_entries(doc) if a["action"] == "add"]
    assert len(audit) == 1 and audit[0]["user_name"] == "rev" and audit[0]["new_value"]["name"] == "资金拨付及时率"


@pytest.mark.parametrize(("change", "message"), [({"score": "6"}, "超过分值"), ({"name": ""}, "名称不能为空"),
                                                 ({"weight": "五分"}, "分值")])
def test_an_added_row_that_does_not_fit_is_refused_and_nothing_is_added(app, doc, change, message):
    client = as_user(app, "rev")
    before = len(store_of(app).review_items(doc))
    resp = api_add(client, doc, {**MISSED_ROW, **change}, after="indicator:0")
    assert resp.status_code == 422 and message in resp.json["error"]
    assert len(store_of(app).review_items(doc)) == before


def test_adding_a_row_needs_a_reviewer_a_csrf_token_a_known_document_and_an_open_review(app, doc):
    operator = as_user(app, "oper")
    token = csrf_token(operator, "/upload")
    assert api_add(operator, doc, MISSED_ROW, after="indicator:0", token=token).status_code == 403
    client = as_user(app, "rev")
    assert api_add(client, doc, MISSED_ROW, after="indicator:0", token="").status_code == 400  # no CSRF token
    assert api_add(client, "0" * 64, MISSED_ROW, after="indicator:0").status_code == 404
    assert api_add(client, doc, MISSED_ROW, after="indicator:999").status_code == 404
    assert api_add(client, doc, MISSED_ROW, after="field:unit_name").status_code == 404
    assert api_add(client, doc, MISSED_ROW, after=None, kind="field").status_code == 400
    _resolve_all(app, client, doc)
    client.post(f"/documents/{doc}/confirm", data=confirm_form(client, doc))
    resp = api_add(client, doc, MISSED_ROW, after="indicator:0")
    assert resp.status_code == 409 and "已确认入库" in resp.json["error"]


def test_a_project_the_extraction_missed_can_be_added_last(app, doc):
    client = as_user(app, "rev")
    value = {"name": "农村人居环境整治", "budget_initial": "20", "budget_full_year": "25", "spending_actual": "24.5",
             "execution_rate": "98", "score": "92"}
    resp = api_add(client, doc, value, after=None, kind="project")
    assert resp.status_code == 201, resp.json
    projects = [i for i in store_of(app).review_items(doc) if i["kind"] == "project"]
    assert projects[-1]["value"]["name"] == "农村人居环境整治" and projects[-1]["value"]["spending_actual"] == 24.5


def test_a_stale_save_is_refused_with_the_current_value(app, doc):
    first, second = as_user(app, "rev"), as_user(app, "boss")
    item = next(i for i in flagged(app, doc) if i["item"] == "field:spending_actual")
    assert api_save(first, doc, item, "correct", "2844.28141").status_code == 200
    resp = api_save(second, doc, item, "accept")  # loaded before the first save
    assert resp.status_code == 409
    assert "rev" in resp.json["error"] and resp.json["current"]["value"] == 2844.28141
    assert "2844.28141" in resp.json["html"]
    assert store_of(app).review_item(doc, "field:spending_actual")["status"] == "corrected"


def test_a_malformed_action_is_a_400(app, doc):
    client = as_user(app, "rev")
    item = flagged(app, doc)[0]
    assert api_save(client, doc, item, "explode").status_code == 400


# -- confirming ----------------------------------------------------------------------------

def _resolve_all(app, client, sha):
    for item in flagged(app, sha):
        assert api_save(client, sha, item, "accept").status_code == 200


def test_confirm_is_refused_while_fields_wait_for_review(app, doc):
    client = as_user(app, "rev")
    resp = client.post(f"/documents/{doc}/confirm", data=confirm_form(client, doc), follow_redirects=True)
    assert "还有 3 项待复核" in resp.get_data(as_text=True)
    assert store_of(app).job(doc)["state"] == "review"
    assert store_of(app).confirmed_documents() == []


def test_confirming_writes_the_record_with_provenance_and_moves_on(app, doc):
    other = upload_and_extract(app, SAMPLES / "001_dea89b1d5430c4b7.txt")
    client = as_user(app, "rev")
    _resolve_all(app, client, doc)
    resp = client.post(f"/documents/{doc}/confirm", data=confirm_form(client, doc))
    assert resp.status_code == 303 and resp.headers["Location"] == f"/documents/{other}"  # the next in the queue
    store = store_of(app)
    (report,) = store.confirmed_documents()
    assert report["unit_name"] == "衡山县岭坡乡人民政府" and report["confirmed_by"] == "rev"
    assert report["expense_total"] is not None
    parts = store.confirmed_parts(doc)
    assert len(parts["confirmed_indicators"]) > 10 and parts["confirmed_list_items"]
    assert store.job(doc)["state"] == "confirmed"
    assert store.audit_entries(doc)[-1]["action"] == "confirm"


def test_a_confirmed_document_can_no_longer_be_edited(app, doc):
    client = as_user(app, "rev")
    _resolve_all(app, client, doc)
    form = confirm_form(client, doc)
    token = form["csrf_token"]
    client.post(f"/documents/{doc}/confirm", data=form)
    item = store_of(app).review_item(doc, "field:unit_name")
    resp = api_save(client, doc, item, "correct", "别的单位", token=token)
    assert resp.status_code == 409 and "已确认入库" in resp.json["error"]


def _confirm(app, client, sha):
    _resolve_all(app, client, sha)
    client.post(f"/documents/{sha}/confirm", data=confirm_form(client, sha))
    assert store_of(app).job(sha)["state"] == "confirmed"


def _reopen(client, sha, reason="单位名称录错，需更正"):
    token = csrf_token(client, f"/documents/{sha}")
    return client.post(f"/documents/{sha}/reopen", data={"csrf_token": token, "reason": reason})


def test_an_admin_reopens_a_confirmed_report_with_a_reason_and_it_can_be_corrected_and_confirmed_again(app, doc):
    _confirm(app, as_user(app, "rev"), doc)
    admin = as_user(app, "boss")
    page = admin.get(f"/documents/{doc}").get_data(as_text=True)
    assert "重新打开" in page
    resp = _reopen(admin, doc)
    assert resp.status_code == 303
    store = store_of(app)
    assert store.job(doc)["state"] == "review" and store.confirmed_documents() == []
    assert store.confirmed_parts(doc)["confirmed_indicators"] == []
    last = store.audit_entries(doc)[-1]
    assert (last["action"], last["user_name"], last["reason"], last["old_value"]) == \
        ("reopen", "boss", "单位名称录错，需更正", "rev")
    assert "已重新打开" in admin.get(f"/documents/{doc}").get_data(as_text=True)
    rev = as_user(app, "rev")
    item = store.review_item(doc, "field:unit_name")
    assert api_save(rev, doc, item, "correct", "衡山县岭坡乡政府").status_code == 200
    rev.post(f"/documents/{doc}/confirm", data=confirm_form(rev, doc))
    (report,) = store_of(app).confirmed_documents()
    assert report["unit_name"] == "衡山县岭坡乡政府"


def test_reopening_is_for_admins_with_a_csrf_token_and_a_reason_on_a_confirmed_report(app, doc):
    assert "重新打开" not in as_user(app, "rev").get(f"/documents/{doc}").get_data(as_text=True)
    admin = as_user(app, "boss")
    refused = _reopen(admin, doc)  # still in review
    assert refused.status_code == 303
    assert "尚未确认入库" in admin.get(f"/documents/{doc}").get_data(as_text=True)
    _confirm(app, as_user(app, "rev"), doc)
    rev = as_user(app, "rev")
    assert _reopen(rev, doc).status_code == 403
    assert admin.post(f"/documents/{doc}/reopen", data={"reason": "x"}).status_code == 400  # no CSRF token
    assert _reopen(admin, "0" * 64).status_code == 404
    assert _reopen(admin, doc, reason="  ").status_code == 303
    assert "请写明重新打开的原因" in admin.get(f"/documents/{doc}").get_data(as_text=True)
    assert store_of(app).job(doc)["state"] == "confirmed" and len(store_of(app).confirmed_documents()) == 1


def test_the_audit_log_cannot_be_rewritten(app, doc):
    store = store_of(app)
    with pytest.raises(Exception, match="append-only"):
        store.db.execute("UPDATE audit_log SET user_name = 'x'")
    with pytest.raises(Exception, match="append-only"):
        store.db.execute("DELETE FROM audit_log")


# -- export --------------------------------------------------------------------------------

def test_confirmed_records_download_as_xlsx_csv_and_json(app, doc):
    client = as_user(app, "rev")
    _resolve_all(app, client, doc)
    client.post(f"/documents/{doc}/confirm", data=confirm_form(client, doc))
    assert "共 1 份已确认入库" in client.get("/export/").get_data(as_text=True)
    xlsx = client.get("/export/xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    assert "衡山县岭坡乡人民政府" in [c.value for row in book.worksheets[0].iter_rows() for c in row]
    csv_text = client.get("/export/reports.csv").data.decode("utf-8")
    assert csv_text.startswith("\ufeff") and "衡山县岭坡乡人民政府" in csv_text
    assert "各重点工作完成率" in client.get("/export/indicators.csv").data.decode("utf-8")
    names = zipfile.ZipFile(io.BytesIO(client.get("/export/json.zip").data)).namelist()
    assert names == ["000_8d720d4fc0889d24.json"]


# -- admin ---------------------------------------------------------------------------------

def test_an_admin_adds_a_user_who_can_then_log_in(app):
    client = as_user(app, "boss")
    token = csrf_token(client, "/admin/users")
    resp = client.post("/admin/users", data={"csrf_token": token, "name": "王芳", "role": "reviewer",
                                             "password": "a-long-password"}, follow_redirects=True)
    assert "已添加用户 王芳" in resp.get_data(as_text=True)
    assert login(app.test_client(), "王芳", "a-long-password").status_code == 302


def test_adding_a_user_twice_or_with_a_short_password_says_why(app):
    client = as_user(app, "boss")
    token = csrf_token(client, "/admin/users")
    page = client.post("/admin/users", data={"csrf_token": token, "name": "rev", "role": "reviewer",
                                             "password": "a-long-password"}).get_data(as_text=True)
    assert "用户 rev 已存在" in page
    page = client.post("/admin/users", data={"csrf_token": token, "name": "新人", "role": "reviewer",
                                             "password": "short"}).get_data(as_text=True)
    assert "密码至少 8 位" in page


def test_a_deactivated_user_cannot_log_in_and_an_admin_cannot_deactivate_themself(app):
    client = as_user(app, "boss")
    store = store_of(app)
    token = csrf_token(client, "/admin/users")
    client.post(f"/admin/users/{store.get_user('rev')['id']}/active", data={"csrf_token": token})
    assert login(app.test_client(), "rev").status_code == 200  # the log-in page again, with a message
    page = client.post(f"/admin/users/{store.get_user('boss')['id']}/active", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "不能停用自己的账号" in page


def test_an_admin_changes_a_role(app):
    client = as_user(app, "boss")
    store = store_of(app)
    token = csrf_token(client, "/admin/users")
    client.post(f"/admin/users/{store.get_user('oper')['id']}/role", data={"csrf_token": token, "role": "reviewer"})
    assert store.get_user("oper")["role"] == "reviewer"
    assert as_user(app, "oper").get("/queue").status_code == 200


# -- scans: the page image beside the text ---------------------------------------------------

@pytest.mark.ocr
def test_a_scan_is_reviewed_on_its_page_image_with_the_evidence_boxes(app, tmp_path):
    from tests.scans import crop_to_ink, find_cjk_font, render_pages

    font = find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (make test installs fonts-wqy-zenhei)")
    text = "衡山县岭坡乡人民政府\n2023年度部门整体支出绩效自评报告\n年初预算数1045.9万元，全年预算数2946.60万元。"
    scan = tmp_path / "scan.png"
    crop_to_ink(render_pages(text, font)[0]).save(scan)
    sha = upload_and_extract(app, scan)
    client = as_user(app, "rev")
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    assert "页面图像" in page and f"/documents/{sha}/pages/1.jpg" in page and 'id="ocr-lines"' in page
    image = client.get(f"/documents/{sha}/pages/1.jpg")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    from PIL import Image

    assert Image.open(io.BytesIO(image.data)).size == Image.open(scan).size  # the pixels the OCR boxes are in
    assert client.get(f"/documents/{sha}/pages/2.jpg").status_code == 404


def test_a_text_report_has_no_page_images(app, doc):
    assert as_user(app, "rev").get(f"/documents/{doc}/pages/1.jpg").status_code == 404


def test_a_corrected_value_points_at_where_the_report_states_it(app, doc):
    client = as_user(app, "rev")
    item = next(i for i in flagged(app, doc) if i["item"] == "field:spending_actual")
    saved = api_save(client, doc, item, "correct", "2844.28141").json["item"]
    text = store_of(app).get_document(doc)["text"]
    assert "2844.28141" in text[saved["evidence"]["start"]:saved["evidence"]["end"]]
    item = store_of(app).review_item(doc, "field:spending_actual")
    saved = api_save(client, doc, item, "correct", "1234.5").json["item"]
    assert saved["evidence"] is None  # stated nowhere: nothing to highlight
    page = client.get(f"/documents/{doc}").get_data(as_text=True)
    assert "无原文位置" in page


def test_times_are_shown_in_beijing_time():
    from review_ui import local_time

    assert local_time("2026-11-23T20:36:05+00:00") == "2026-11-24 04:36"
    assert local_time(None) == ""


def test_the_secret_key_is_made_once_outside_the_code_and_kept(tmp_path):
    first = make_app(tmp_path / "a")
    key_file = Path(first.instance_path) / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(first.config["SECRET_KEY"]) >= 32
    from review_ui import create_app

    again = create_app(settings=first.config["SETTINGS"])
    assert again.config["SECRET_KEY"] == first.config["SECRET_KEY"]


@pytest.mark.slow  # `jixiao serve` is started as a process
def test_jixiao_serve_starts_the_app_and_its_worker(tmp_path):
    import os
    import urllib.request

    env = {**os.environ, "JIXIAO_DB": str(tmp_path / "j.db"), "JIXIAO_INSTANCE": str(tmp_path / "inst"),
           "JIXIAO_ENGINE": "rules"}
    proc, login_page = start_serve(env)
    try:
        assert "登录" in urllib.request.urlopen(login_page, timeout=5).read().decode()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert "后台提取进程已启动" in out


# -- cancel and re-extract ------------------------------------------------------------

def test_an_operator_cancels_a_queued_upload_from_its_page(app):
    client = as_user(app, "oper")
    assert upload(client, ("r.txt", REPORT.read_bytes())).status_code == 200
    store = store_of(app)
    sha = store.jobs()[0]["sha256"]
    page = client.get(f"/jobs/{sha}").get_data(as_text=True)
    assert "取消处理" in page
    resp = client.post(f"/jobs/{sha}/cancel", data={"csrf_token": csrf_token(client, f"/jobs/{sha}")})
    assert resp.status_code == 302
    job = store.job(sha)
    store.close()
    assert job["state"] == "failed" and job["error"] == "已由 oper 取消"


def test_the_uploader_re_extracts_a_document_in_review_and_a_reviewers_correction_stays(app, doc):
    reviewer = as_user(app, "rev")
    item = flagged(app, doc)[0]
    kept = "某某县人民政府" if item["item"] == "field:unit_name" else None
    resp = api_save(reviewer, doc, item, "not_stated") if kept is None else api_save(reviewer, doc, item, "correct",
                                                                                      kept)
    assert resp.status_code == 200
    oper = as_user(app, "oper")
    resp = oper.post(f"/jobs/{doc}/reextract", data={"csrf_token": csrf_token(oper, f"/jobs/{doc}")})
    assert resp.status_code == 302
    store = store_of(app)
    try:
        assert store.job(doc)["state"] == "queued"
        from service.worker import process_next

        process_next(store, app.config["SETTINGS"])
        again = {i["item"]: i for i in store.review_items(doc)}
    finally:
        store.close()
    assert again[item["item"]]["status"] in ("confirmed", "corrected")
    assert again[item["item"]]["updated_by"] == "rev"


def test_only_an_admin_or_the_uploader_may_re_extract(app, doc):
    store = store_of(app)
    store.add_user("oper2", "operator", store.get_user("oper")["password_hash"])
    store.close()
    other = as_user(app, "oper2")
    assert other.post(f"/jobs/{doc}/reextract", data={"csrf_token": csrf_token(other, "/upload")}).status_code == 403
    reviewer = as_user(app, "rev")
    assert reviewer.post(f"/jobs/{doc}/reextract",
                         data={"csrf_token": csrf_token(reviewer, "/queue")}).status_code == 403
    boss = as_user(app, "boss")
    assert boss.post(f"/jobs/{doc}/reextract", data={"csrf_token": csrf_token(boss, "/upload")}).status_code == 302


def test_a_whole_number_read_as_a_float_shows_without_its_point(tmp_path):
    from flask import render_template_string

    app = make_app(tmp_path)
    with app.app_context():
        shown = render_template_string("{{ a|plain }} {{ b|plain }} {{ c|plain }}", a=18.0, b=2769.17439, c="无")
    assert shown == "18 2769.17439 无"  # a 编制数 offered as 18, not 18.0
