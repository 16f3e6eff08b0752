"""Uploading reports and watching them being processed (operators)."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from service.errors import StoreError
from service.review import STATE_NAMES
from service.store.workflow import FAILED as FAILED_STATE
from service.worker import (
    NOT_REMOVABLE,
    REJECTED,
    UPLOAD_SUFFIXES,
    accepted_suffixes,
    remove_upload,
    replace_upload,
    submit,
)

from . import refuse
from .auth import UPLOADERS, login_required
from .db import get_store
from .forms import PlainForm, UploadForm

bp = Blueprint("upload", __name__)


NO_FILE = "请选择要上传的文件"
RESULTS_COOKIE_BYTES = 1800  # a batch's results ride in the session cookie to the page after the redirect


@bp.context_processor
def upload_rules() -> dict:
    """What the upload forms' script checks before sending (the names of the kinds we read, the size limit)
    and the page shows; from the constants and settings the server checks with."""
    settings = current_app.config["SETTINGS"]
    return {"upload_rules": {"kinds": UPLOAD_SUFFIXES, "suffixes": accepted_suffixes(),
                             "max_bytes": settings.max_upload_bytes, "max_mb": f"{settings.max_upload_mb:g}",
                             "max_request_bytes": current_app.config["MAX_CONTENT_LENGTH"],
                             "no_file": NO_FILE}}


@bp.route("/upload", methods=("GET", "POST"))
@login_required(*UPLOADERS)
def index():
    """The upload page. A form post is answered with a redirect (303) to this page showing the batch's
    results, so reloading it posts nothing again; a batch of which nothing could be kept is answered with its
    results at once, with the 4xx (or 507). A script asking for JSON gets the results as JSON."""
    if request.method == "GET":
        return _page(*_recalled())
    chosen = [(f.filename or "", f.read()) for f in request.files.getlist(UploadForm().files.name)]
    chosen = [(name, data) for name, data in chosen if name or data]  # no file chosen: one empty part
    if not chosen:
        if _wants_json():
            return jsonify({"error": NO_FILE}), 400
        flash(NO_FILE, "error")
        return _page([], 0, 400)
    results = [_accept(name, data) for name, data in chosen]
    status = _status(results)
    if _wants_json():
        return jsonify({"results": results}), status
    if status != 200:
        return _page(results, 0, status)
    _remember(results)
    return redirect(url_for("upload.index"), code=303)


def _page(results: list[dict], omitted: int, status: int = 200):
    page = max(request.args.get("page", 1, type=int), 1)
    per_page = current_app.config["PER_PAGE"]
    jobs = get_store().jobs(limit=per_page, offset=(page - 1) * per_page)
    return render_template("upload/index.html", form=UploadForm(), results=results, omitted=omitted, jobs=jobs,
                           page=page, per_page=per_page, retry_form=PlainForm()), status


def _remember(results: list[dict]) -> None:
    """Keep a batch's results for the page the redirect leads to: as many as fit in the session cookie (the
    rest are counted; their jobs are in the list below)."""
    kept = [{k: r[k] for k in ("name", "outcome", "message", "sha256") if r.get(k)} for r in results]
    while kept and _cookie_bytes(kept) > RESULTS_COOKIE_BYTES:
        kept.pop()
    session["upload_results"] = {"results": kept, "omitted": len(results) - len(kept)}


def _cookie_bytes(value) -> int:
    """About what `value` adds to the session cookie: Flask's compressed JSON in base64."""
    return len(base64.urlsafe_b64encode(zlib.compress(json.dumps(value).encode())))


def _recalled() -> tuple[list[dict], int]:
    """The results of the batch posted just before this page (once: a reload shows them no more)."""
    kept = session.pop("upload_results", None) or {}
    results = [dict(r, url=url_for("upload.job", sha256=r["sha256"])) if r.get("sha256") else dict(r)
               for r in kept.get("results", [])]
    return results, kept.get("omitted", 0)


def _status(results: list[dict]) -> int:
    """200 when some file was queued (or was there already); 400 when every file was refused; 507 when the
    server could not store them (a full disk)."""
    if not results or any(r["outcome"] in ("queued", "duplicate") for r in results):
        return 200
    return 507 if any(r["outcome"] == "failed" for r in results) else 400


def _accept(name: str, data: bytes) -> dict:
    """Check one uploaded file and queue it; what happened, for the page. Each file of a request is judged
    on its own: one that fails never hides the others' results."""
    try:
        result = submit(get_store(), Path(current_app.config["UPLOADS"]), name, data, g.user["name"],
                        current_app.config["SETTINGS"])
    except Exception:  # a bug must not lose the rest of the upload; logged with its traceback
        current_app.logger.exception("upload of %r failed", name)
        return {"name": name or "未命名文件", "outcome": "failed", "message": "保存时发生内部错误，该文件未加入队列"}
    job = result.pop("job")
    if job is not None:
        result.update(url=url_for("upload.job", sha256=job["sha256"]), sha256=job["sha256"])
    return result


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/jobs/<sha256>")
@login_required()
def job(sha256: str):
    found = get_store().job(sha256)
    if found is None:
        abort(404)
    return _job_page(found)


def _job_page(found: dict, status: int = 200):
    return render_template("upload/job.html", job=found, retry_form=PlainForm(),
                           alike=get_store().same_unit_and_year(found["sha256"])), status


@bp.route("/jobs/<sha256>/retry", methods=("POST",))
@login_required(*UPLOADERS)
def retry(sha256: str):
    """Queue a failed job again (any operator)."""
    return _job_action(sha256, lambda store, sha, user: store.retry_job(sha, user), "已重新加入处理队列",
                       "只有处理失败的文件可以重试", owner_only=False)


def _job_action(sha256: str, act, done: str, refused: str, owner_only: bool = True):
    """A POST on one job (by an administrator or, with `owner_only`, the operator who uploaded it, else any
    operator); back where it came from."""
    store = get_store()
    found = store.job(sha256)
    if found is None:
        abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    if owner_only and g.user["role"] != "admin" and found["uploaded_by"] != g.user["name"]:
        abort(403)
    if act(store, sha256, g.user["name"]):
        flash(done, "ok")
    else:
        flash(refused, "error")
    return redirect(request.referrer if request.referrer else url_for("upload.job", sha256=sha256))


@bp.route("/jobs/<sha256>/remove", methods=("POST",))
@login_required(*UPLOADERS)
def remove(sha256: str):
    """Delete a failed (or cancelled) upload with what it wrote and its stored file (any operator, as 重试);
    anything else is refused with a 409."""
    found = _failed_job(sha256)
    removed = remove_upload(get_store(), Path(current_app.config["UPLOADS"]), sha256, g.user["name"],
                            current_app.config["SETTINGS"])
    if removed is None:  # no longer failed: someone retried it meanwhile
        refuse(409, _not_removable(get_store().job(sha256) or found))
    flash(f"已删除 {removed['name']}", "ok")
    return redirect(url_for("upload.index"), code=303)


@bp.route("/jobs/<sha256>/replace", methods=("POST",))
@login_required(*UPLOADERS)
def replace(sha256: str):
    """Upload another file in place of a failed one, in one action: the new file is checked as any upload is
    (a refused one changes nothing), the failed job is removed and the new one queued; then its job page."""
    found = _failed_job(sha256)
    upload = request.files.get("file")
    data = upload.read() if upload else b""
    if upload is None or not (upload.filename or data):
        flash(NO_FILE, "error")
        return _job_page(found, 400)
    try:
        result = replace_upload(get_store(), Path(current_app.config["UPLOADS"]), sha256, upload.filename or "",
                                data, g.user["name"], current_app.config["SETTINGS"])
    except StoreError as e:  # the new file could not be kept (a full disk): the failed upload stays
        flash(f"未替换：{e}", "error")
        return _job_page(found, 507)
    if result["outcome"] == NOT_REMOVABLE:
        refuse(409, _not_removable(get_store().job(sha256) or found))
    if result["outcome"] == REJECTED:
        flash(f"{result['name']}：{result['message']}（未替换，原文件保留）", "error")
        return _job_page(found, 400)
    flash(f"{result['name']}：{result['message']}", "ok")
    return redirect(url_for("upload.job", sha256=result["job"]["sha256"]), code=303)


def _failed_job(sha256: str) -> dict:
    """The job a 删除 or 替换 acts on: 404 when unknown, 400 without the form's token, 409 unless failed."""
    found = get_store().job(sha256)
    if found is None:
        abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    if found["state"] != FAILED_STATE:
        refuse(409, _not_removable(found))
    return found


def _not_removable(job: dict) -> str:
    state = STATE_NAMES.get(job["state"], job["state"])
    return f"只有处理失败（或已取消）的上传可以删除或替换；“{job['name']}”当前为“{state}”，未做任何更改"


@bp.route("/jobs/<sha256>/cancel", methods=("POST",))
@login_required(*UPLOADERS)
def cancel(sha256: str):
    """Stop a queued or running job (a running one stops within a few seconds; a re-extraction cancelled
    leaves the document in review as it was)."""
    return _job_action(sha256, lambda store, sha, user: store.cancel_job(sha, user),
                       "已取消：排队中的任务不再处理，正在处理的任务即将停止", "只有排队中或处理中的任务可以取消")


@bp.route("/jobs/<sha256>/reextract", methods=("POST",))
@login_required(*UPLOADERS)
def reextract(sha256: str):
    """Extract a document again (after an LLM outage, or with another engine or model); what reviewers
    confirmed or corrected is kept."""
    return _job_action(sha256, lambda store, sha, user: store.reextract_job(sha, user),
                       "已重新加入处理队列；审核人已确认或更正的内容会保留",
                       "只有待审核或处理失败的文件可以重新提取（已确认的请先重新打开）")


@bp.route("/api/jobs")
@login_required()
def states():
    """The state of the given jobs (?sha256=a,b), for the pages that update without reload."""
    shas = [s for s in request.args.get("sha256", "").split(",") if s][:200]
    found = get_store().jobs(shas)
    return jsonify({j["sha256"]: {"state": j["state"], "label": STATE_NAMES.get(j["state"], j["state"]),
                                  "error": j["error"], "flagged": j["flagged"], "unit_name": j["unit_name"],
                                  "progress": j.get("progress") if j["state"] == "extracting" else None,
                                  "fiscal_year": j["fiscal_year"]} for j in found})
