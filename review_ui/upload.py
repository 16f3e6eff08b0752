"""Uploading reports and watching them being processed (operators)."""

from __future__ import annotations

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
    url_for,
)

from service.review import STATE_NAMES
from service.worker import submit

from .auth import UPLOADERS, login_required
from .db import get_store
from .forms import PlainForm, UploadForm

bp = Blueprint("upload", __name__)


@bp.route("/upload", methods=("GET", "POST"))
@login_required(*UPLOADERS)
def index():
    form = UploadForm()
    results = []
    if request.method == "POST":
        if not form.validate_on_submit():
            flash("请选择要上传的文件", "error")
        else:
            results = [_accept(f.filename or "", f.read()) for f in request.files.getlist(form.files.name)]
            if _wants_json():
                return jsonify({"results": results}), _status(results)
    page = max(request.args.get("page", 1, type=int), 1)
    per_page = current_app.config["PER_PAGE"]
    jobs = get_store().jobs(limit=per_page, offset=(page - 1) * per_page)
    return render_template("upload/index.html", form=form, results=results, jobs=jobs, page=page,
                           per_page=per_page, retry_form=PlainForm()), _status(results)


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
    return render_template("upload/job.html", job=found, retry_form=PlainForm(),
                           alike=get_store().same_unit_and_year(sha256))


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
