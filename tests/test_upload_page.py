"""The upload page (issue 14): files checked in the browser before sending, upload progress, POST-redirect-GET,
a clear message for an empty submit, and a failed upload removed (删除) or replaced (替换)."""

from __future__ import annotations

import hashlib
import io
import re
import threading
from pathlib import Path

import pytest

from review_ui.upload import _cookie_bytes
from service.worker import UPLOAD_SUFFIXES, accepted_suffixes, store_upload
from tests.conftest import CHROMIUM, SAMPLES
from tests.webapp import PASSWORD, as_user, csrf_token, make_app, store_of, upload_and_extract

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"
OTHER = SAMPLES / "001_dea89b1d5430c4b7.txt"
SMALL = SAMPLES / "002_6ebd5ff7b055c059.txt"  # 6 KB


def post_files(client, *files, **kwargs):
    data = {"csrf_token": csrf_token(client, "/upload"),
            "files": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/upload", data=data, content_type="multipart/form-data", **kwargs)


def results_of(page: str) -> str:
    return re.search(r'<ul class="results" id="upload-results">(.*?)</ul>', page, re.S).group(1)


def failed_job(app, path: Path = REPORT, name: str | None = None) -> dict:
    """An upload whose extraction failed (its stored file still there)."""
    store = store_of(app)
    try:
        job, _ = store_upload(store, Path(app.config["UPLOADS"]), name or path.name, path.read_bytes(), "oper")
        assert store.claim_job("test-worker", 60)["sha256"] == job["sha256"]
        store.fail_job(job["sha256"], "test-worker", "测试：提取失败")
        return store.job(job["sha256"])
    finally:
        store.close()


def action(client, sha: str, what: str, **data):
    form = {"csrf_token": csrf_token(client, "/upload"), **data}
    return client.post(f"/jobs/{sha}/{what}", data=form, content_type="multipart/form-data")


# -- POST-redirect-GET ------------------------------------------------------------------------------

def test_a_form_upload_is_answered_with_a_303_to_the_upload_page_which_shows_the_batchs_results(app):
    client = as_user(app, "oper")
    resp = post_files(client, ("a.txt", REPORT.read_bytes()), ("empty.txt", b""))
    assert resp.status_code == 303 and resp.headers["Location"] == "/upload"
    shown = results_of(client.get("/upload").get_data(as_text=True))
    sha = store_of(app).jobs()[0]["sha256"]
    assert "a.txt" in shown and "已加入处理队列" in shown and f"/jobs/{sha}" in shown
    assert "empty.txt" in shown and "文件为空" in shown


def test_reloading_the_page_after_an_upload_posts_nothing_again_and_shows_the_results_once(app):
    client = as_user(app, "oper")
    resp = post_files(client, ("a.txt", REPORT.read_bytes()), follow_redirects=True)
    assert resp.status_code == 200 and resp.request.method == "GET"  # the redirect was followed with a GET
    assert "已加入处理队列" in results_of(resp.get_data(as_text=True))
    again = client.get("/upload")  # what a reload of that page asks
    assert again.status_code == 200 and results_of(again.get_data(as_text=True)) == ""
    assert len(store_of(app).jobs()) == 1


def test_a_batch_of_which_nothing_was_kept_is_answered_at_once_with_its_4xx(app):
    client = as_user(app, "oper")
    resp = post_files(client, ("empty.txt", b""))
    assert resp.status_code == 400 and "文件为空" in results_of(resp.get_data(as_text=True))


def test_scripts_asking_for_json_still_get_the_results_as_json(app):
    client = as_user(app, "oper")
    resp = post_files(client, ("a.txt", REPORT.read_bytes()), headers={"Accept": "application/json"})
    assert resp.status_code == 200 and resp.json["results"][0]["outcome"] == "queued"


def test_results_too_many_for_the_session_cookie_are_counted_not_lost(app, monkeypatch):
    first = {"name": "a.txt", "outcome": "queued", "message": "已加入处理队列",
             "sha256": hashlib.sha256(REPORT.read_bytes()).hexdigest()}
    monkeypatch.setattr("review_ui.upload.RESULTS_COOKIE_BYTES", _cookie_bytes([first]))  # room for one
    client = as_user(app, "oper")
    resp = post_files(client, ("a.txt", REPORT.read_bytes()), ("b.txt", OTHER.read_bytes()), follow_redirects=True)
    shown = results_of(resp.get_data(as_text=True))
    assert "a.txt" in shown and "b.txt" not in shown and "另有 1 个文件的结果未列出" in shown


# -- an empty submit --------------------------------------------------------------------------------

@pytest.mark.parametrize("files", [None, [(io.BytesIO(b""), "")]], ids=["no file part", "an empty file part"])
def test_an_empty_submit_asks_to_choose_a_file_with_a_400_and_queues_nothing(app, files):
    client = as_user(app, "oper")
    data = {"csrf_token": csrf_token(client, "/upload")}
    if files is not None:
        data["files"] = files
    resp = client.post("/upload", data=data, content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "请选择要上传的文件" in page and "未命名文件" not in page and "文件为空" not in page
    assert store_of(app).jobs() == []


def test_an_empty_submit_from_a_script_is_a_json_400(app):
    client = as_user(app, "oper")
    resp = client.post("/upload", data={"csrf_token": csrf_token(client, "/upload"), "files": [(io.BytesIO(b""), "")]},
                       headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert resp.status_code == 400 and resp.json == {"error": "请选择要上传的文件"}


# -- what the browser checks comes from the server ------------------------------------------------

def test_the_upload_form_carries_the_servers_kinds_and_size_limit_for_the_script(tmp_path):
    app = make_app(tmp_path, max_upload_mb=3)
    page = as_user(app, "oper").get("/upload").get_data(as_text=True)
    form = re.search(r'<form [^>]*id="upload-form"[^>]*>', page).group(0)
    suffixes = ",".join(accepted_suffixes())
    assert f'data-suffixes="{suffixes}"' in form and f'data-max-bytes="{3 * 1024 * 1024}"' in form
    assert f'accept="{suffixes}"' in page
    assert all(s in suffixes.split(",") for s in (".docx", ".doc", ".wps", ".pdf", ".jpg", ".txt"))
    assert all(kind in page for kind in UPLOAD_SUFFIXES)


# -- removing a failed upload ---------------------------------------------------------------------

def test_a_failed_upload_is_removed_with_its_stored_file_and_the_removal_is_audited(app):
    job = failed_job(app)
    client = as_user(app, "oper")
    resp = action(client, job["sha256"], "remove")
    assert resp.status_code == 303 and resp.headers["Location"] == "/upload"
    store = store_of(app)
    assert store.job(job["sha256"]) is None
    assert not Path(job["path"]).exists() and not Path(job["path"]).parent.exists()
    assert store.audit_entries(job["sha256"])[-1]["action"] == "remove"
    assert store.audit_entries(job["sha256"])[-1]["user_name"] == "oper"
    assert f"已删除 {job['name']}" in client.get("/upload").get_data(as_text=True)


def test_a_failed_reextraction_is_removed_with_its_document_runs_and_review_items(app):
    sha = upload_and_extract(app, REPORT)
    store = store_of(app)
    assert store.reextract_job(sha, "boss")
    store.claim_job("test-worker", 60)
    store.fail_job(sha, "test-worker", "测试：提取失败")
    assert store.review_items(sha) and store.latest_run(sha)
    assert action(as_user(app, "oper"), sha, "remove").status_code == 303
    assert store.job(sha) is None and store.review_items(sha) == []
    assert store.get_document(sha) is None and store.latest_run(sha) is None
    assert store.db["field_results"].count == 0 and store.db["pages"].count == 0


def test_a_removal_failing_part_way_leaves_the_job_and_its_file_whole(app, monkeypatch):
    job = failed_job(app)
    store = store_of(app)

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit failed")

    monkeypatch.setattr(type(store), "_audit", broken_audit)
    with pytest.raises(RuntimeError):
        store.remove_job(job["sha256"], "oper")
    assert store.job(job["sha256"])["state"] == "failed" and Path(job["path"]).exists()


def test_removing_or_replacing_a_job_in_review_is_refused_with_a_409_and_changes_nothing(app):
    sha = upload_and_extract(app, REPORT)
    client = as_user(app, "oper")
    for resp in (action(client, sha, "remove"),
                 action(client, sha, "replace", file=(io.BytesIO(OTHER.read_bytes()), "new.txt"))):
        page = resp.get_data(as_text=True)
        assert resp.status_code == 409
        assert "只有处理失败（或已取消）的上传可以删除或替换" in page and "待审核" in page
    store = store_of(app)
    assert store.job(sha)["state"] == "review" and len(store.jobs()) == 1
    assert Path(store.job(sha)["path"]).exists()


def test_a_cancelled_upload_can_be_removed(app):
    store = store_of(app)
    job, _ = store_upload(store, Path(app.config["UPLOADS"]), "a.txt", REPORT.read_bytes(), "oper")
    assert store.cancel_job(job["sha256"], "oper")
    assert action(as_user(app, "oper"), job["sha256"], "remove").status_code == 303
    assert store.job(job["sha256"]) is None


def test_only_operators_and_admins_remove_or_replace_and_an_unknown_job_is_404(app):
    job = failed_job(app)
    reviewer = as_user(app, "rev")
    token = csrf_token(reviewer, "/queue")
    for what in ("remove", "replace"):
        assert reviewer.post(f"/jobs/{job['sha256']}/{what}", data={"csrf_token": token}).status_code == 403
        assert action(as_user(app, "boss"), "0" * 64, what).status_code == 404
    assert as_user(app, "oper").post(f"/jobs/{job['sha256']}/remove").status_code == 400  # no CSRF token
    assert store_of(app).job(job["sha256"])["state"] == "failed"


def test_a_failed_job_offers_remove_and_replace_on_its_page_and_in_the_list(app):
    job = failed_job(app)
    client = as_user(app, "oper")
    page = client.get(f"/jobs/{job['sha256']}").get_data(as_text=True)
    assert f'action="/jobs/{job["sha256"]}/replace"' in page and f'action="/jobs/{job["sha256"]}/remove"' in page
    listing = client.get("/upload").get_data(as_text=True)
    assert f'action="/jobs/{job["sha256"]}/remove"' in listing and f'data-remove-url="/jobs/{job["sha256"]}/remove"' in listing


# -- replacing a failed upload --------------------------------------------------------------------

def test_a_failed_upload_is_replaced_by_a_new_file_in_one_action(app):
    job = failed_job(app)
    client = as_user(app, "oper")
    resp = action(client, job["sha256"], "replace", file=(io.BytesIO(OTHER.read_bytes()), "修正版.txt"))
    store = store_of(app)
    [new] = store.jobs()
    assert resp.status_code == 303 and resp.headers["Location"] == f"/jobs/{new['sha256']}"
    assert new["name"] == "修正版.txt" and new["state"] == "queued" and Path(new["path"]).exists()
    assert store.job(job["sha256"]) is None and not Path(job["path"]).exists()
    assert store.audit_entries(job["sha256"])[-1]["action"] == "remove"
    assert [e["action"] for e in store.audit_entries(new["sha256"])] == ["upload", "replace"]
    assert "已替换" in client.get(f"/jobs/{new['sha256']}").get_data(as_text=True)


def test_a_failed_upload_replaced_by_the_same_file_is_queued_afresh_and_keeps_its_file(app):
    job = failed_job(app)
    resp = action(as_user(app, "oper"), job["sha256"], "replace", file=(io.BytesIO(REPORT.read_bytes()), job["name"]))
    assert resp.status_code == 303
    again = store_of(app).job(job["sha256"])
    assert again["state"] == "queued" and again["attempts"] == 0 and Path(again["path"]).exists()


def test_a_refused_replacement_leaves_the_failed_upload_as_it_was(app):
    job = failed_job(app)
    client = as_user(app, "oper")
    for file, message in (((io.BytesIO(b""), "new.txt"), "文件为空"),
                          ((io.BytesIO(b"\x00\x01\x02" * 100), "new.pdf"), "无法识别的文件类型"),
                          ((io.BytesIO(b""), ""), "请选择要上传的文件")):
        resp = action(client, job["sha256"], "replace", file=file)
        assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    store = store_of(app)
    assert [j["sha256"] for j in store.jobs()] == [job["sha256"]] and store.job(job["sha256"])["state"] == "failed"
    assert Path(job["path"]).exists()


# -- in a browser ---------------------------------------------------------------------------------

@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
def test_in_a_browser_an_oversize_and_an_unsupported_file_are_refused_before_sending_and_the_valid_one_uploads_with_progress(  # noqa: E501
        tmp_path, browser):
    from playwright.sync_api import expect
    from werkzeug.serving import make_server

    from tests.test_browser import _QuietHandler

    app = make_app(tmp_path, max_upload_mb=0.02)  # 20 KB: the small sample fits, a 30 KB file does not
    picked = tmp_path / "picked"
    picked.mkdir()
    (picked / "过大.txt").write_bytes(REPORT.read_bytes())
    (picked / "表格.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (picked / "自评报告.txt").write_bytes(SMALL.read_bytes())
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context(base_url=f"http://127.0.0.1:{server.server_port}")
    try:
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto("/auth/login")
        page.fill("#name", "oper")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto("/upload")
        held = []  # the upload's POST, held until the page has been looked at
        page.route("**/upload", lambda route: held.append(route) if route.request.method == "POST"
                   else route.continue_())
        page.evaluate("window.notReloaded = true")
        page.set_input_files("#files", [str(picked / n) for n in ("过大.txt", "表格.xlsx", "自评报告.txt")])
        page.click("#upload-form button[type=submit]")

        refused = page.locator("#upload-refused li")
        expect(refused).to_have_count(2)
        expect(refused.filter(has_text="过大.txt")).to_contain_text("超过上限 0.02 MB")
        expect(refused.filter(has_text="表格.xlsx")).to_contain_text("不支持的文件类型（.xlsx）")
        expect(page.locator("#upload-progress")).to_be_visible()
        page.wait_for_function("() => document.querySelector('#upload-form button[type=submit]').disabled")
        for _ in range(50):
            if held:
                break
            page.wait_for_timeout(100)
        assert len(held) == 1 and store_of(app).jobs() == []  # nothing reached the server yet
        body = held[0].request.post_data_buffer
        assert "自评报告.txt".encode() in body and "过大.txt".encode() not in body and b".xlsx" not in body
        held[0].continue_()

        expect(page.locator("#upload-results li.queued")).to_contain_text("自评报告.txt")
        expect(page.locator("#upload-progress .percent")).to_have_text("100%")
        expect(page.locator("#upload-progress progress")).to_have_js_property("value", 100)
        expect(page.locator("#upload-progress .what")).to_have_text("上传完成")
        expect(page.locator("#jobs tbody tr", has_text="自评报告.txt")).to_have_count(1)
        expect(refused).to_have_count(2)  # the refusals stay in view
        assert page.evaluate("window.notReloaded") is True  # all of it without a reload
        assert [j["name"] for j in store_of(app).jobs()] == ["自评报告.txt"]
    finally:
        context.close()
        server.shutdown()
