"""The review queue, the two-pane review page, reviewers' actions and 确认入库 (reviewers)."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
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

from service.errors import JixiaoError, StoreError
from service.fields import BY_KEY
from service.grounding import ground
from service.page_images import page_png
from service.review import (
    ACTIONS,
    AUDIT_NAMES,
    GROUPS,
    LISTS,
    UNITS,
    InvalidValue,
    apply_action,
    can_confirm,
    new_row,
    record_from_items,
)
from service.store.workflow import IN_REVIEW, StaleEdit

from .auth import REVIEWERS, login_required
from .db import get_store
from .forms import PlainForm, ReopenForm

bp = Blueprint("review", __name__)


@bp.route("/queue")
@login_required(*REVIEWERS)
def queue():
    store = get_store()
    state = request.args.get("state", IN_REVIEW)
    year = request.args.get("year", type=int)
    unit = (request.args.get("unit") or "").strip()
    page = max(request.args.get("page", 1, type=int), 1)
    per_page = current_app.config["PER_PAGE"]
    docs, total = store.queue(state=state or None, year=year, unit=unit or None, page=page, per_page=per_page)
    return render_template("review/queue.html", docs=docs, total=total, page=page, per_page=per_page,
                           state=state, year=year, unit=unit, years=store.queue_years(),
                           counts=store.state_counts())


@bp.route("/documents/<sha256>")
@login_required(*REVIEWERS)
def document(sha256: str):
    store = get_store()
    job = store.job(sha256)
    doc = store.get_document(sha256) if job else None
    if job is None or doc is None:
        abort(404)
    items = store.review_items(sha256)
    return render_template("review/document.html", job=job, doc=doc, items=items, groups=_groups(items),
                           blockers=can_confirm(items), form=PlainForm(), audit=store.audit_entries(sha256),
                           seen=store.last_change(sha256), alike=store.same_unit_and_year(sha256),
                           current_records=store.current_records_like(sha256),
                           reopen_form=ReopenForm(),
                           labels=_labels(), actions=AUDIT_NAMES, stated=_stated_totals(items))


def _stated_totals(items: list[dict]) -> dict[str, dict]:
    """Per score table, the total the report states and (department table) the budget-execution points."""
    values = {i["item"]: i["value"] for i in items}
    out = {"整体": {"total": values.get("field:self_score"), "exec_weight": values.get("field:execution_weight"),
                  "exec_score": values.get("field:execution_score")}}
    for i in items:
        if i["kind"] == "project" and i["value"].get("name"):
            out[i["value"]["name"]] = {"total": i["value"].get("score"), "exec_weight": None, "exec_score": None}
    return out


def _groups(items: list[dict]) -> list[tuple[str, str, list[dict]]]:
    """(name, kind, items) per section: fields grouped as in spec/fields.md, then score rows, projects and lists;
    flagged sections first. The score-table and project sections are kept when empty, as the place to add the
    rows the extraction missed."""
    by_item = {i["item"]: i for i in items}
    fields = [(name, "field", [by_item[f"field:{k}"] for k in keys if f"field:{k}" in by_item]) for name, keys in GROUPS]
    groups = [g for g in fields if g[2]]
    groups.append(("评分表", "indicator", [i for i in items if i["kind"] == "indicator"]))
    groups.append(("项目", "project", [i for i in items if i["kind"] == "project"]))
    lists = [i for i in items if i["kind"] == "list"]
    if lists:
        groups.append(("问题与措施", "list", lists))
    return sorted(groups, key=lambda g: not any(i["status"] == "review" for i in g[2]))


def _labels() -> dict[str, dict]:
    fields = {f"field:{k}": {"label": s.zh, "kind": s.kind, "unit": UNITS.get(s.kind, "")} for k, s in BY_KEY.items()}
    lists = {f"list:{k}": {"label": v, "kind": "list", "unit": ""} for k, v in LISTS.items()}
    return {**fields, **lists}


@bp.route("/documents/<sha256>/pages/<int:number>.png")
@login_required(*REVIEWERS)
def page_image(sha256: str, number: int):
    """A scanned page as an image, in the pixels its OCR boxes were measured in."""
    store = get_store()
    job = store.job(sha256)
    doc = store.get_document(sha256) if job else None
    if doc is None or not any(p["number"] == number and p["ocr"] for p in doc["pages"]):
        abort(404)
    try:
        png = page_png(Path(job["path"]), number, current_app.config["SETTINGS"].ocr_dpi)
    except (OSError, JixiaoError):
        abort(404)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=86400"})


@bp.route("/api/documents/<sha256>/items/<item>", methods=("POST",))
@login_required(*REVIEWERS)
def save_item(sha256: str, item: str):
    """A reviewer's action on one item: JSON {action, version, value?, reason?}; 409 when someone saved first."""
    store = get_store()
    current = store.review_item(sha256, item)
    if current is None:
        return jsonify({"error": "找不到该项"}), 404
    body = request.get_json(silent=True) or {}
    action, version = body.get("action"), body.get("version")
    if action not in ACTIONS or not isinstance(version, int):
        return jsonify({"error": "请求格式不正确"}), 400
    try:
        value, status = apply_action(current, action, body.get("value"))
        saved = store.save_item(sha256, item, version, value, status, g.user["name"], action,
                                body.get("reason") or None, _evidence_of(store, sha256, current, value))
    except InvalidValue as e:
        return jsonify({"error": str(e)}), 422
    except StaleEdit as e:
        return jsonify({"error": str(e), "current": e.current, "html": _item_html(e.current)}), 409
    except StoreError as e:
        return jsonify({"error": str(e)}), 409
    items = store.review_items(sha256)
    return jsonify({"item": saved, "html": _item_html(saved), "blockers": can_confirm(items),
                    "flagged": sum(1 for i in items if i["status"] == "review")})


@bp.route("/api/documents/<sha256>/undo", methods=("POST",))
@login_required(*REVIEWERS)
def undo(sha256: str):
    """Take back this reviewer's latest action on the report (accept, correct, 未提及, delete, add)."""
    store = get_store()
    if store.job(sha256) is None:
        return jsonify({"error": "找不到该报告"}), 404
    try:
        done = store.undo_last(sha256, g.user["name"])
    except StoreError as e:
        return jsonify({"error": str(e)}), 409
    if done is None:
        return jsonify({"error": "没有可以撤销的操作"}), 409
    items = store.review_items(sha256)
    return jsonify({"item": done["item"], "removed": done["removed"],
                    "html": None if done["removed"] else _item_html(done["current"]),
                    "blockers": can_confirm(items), "flagged": sum(1 for i in items if i["status"] == "review")})


@bp.route("/api/documents/<sha256>/items", methods=("POST",))
@login_required(*REVIEWERS)
def add_item(sha256: str):
    """A row the extraction missed: JSON {kind: indicator|project, after?: item, value: {...}, reason?}."""
    store = get_store()
    if store.job(sha256) is None:
        return jsonify({"error": "找不到该报告"}), 404
    body = request.get_json(silent=True) or {}
    kind, after = body.get("kind"), body.get("after")
    if kind not in ("indicator", "project") or not (after is None or isinstance(after, str)):
        return jsonify({"error": "请求格式不正确"}), 400
    anchor = store.review_item(sha256, after) if after else None
    if after and (anchor is None or anchor["kind"] != kind):
        return jsonify({"error": "找不到该项"}), 404
    try:
        value, status = new_row(kind, body.get("value"), (anchor or {}).get("value", {}).get("table"))
        added = store.add_item(sha256, kind, after, value, status, g.user["name"], body.get("reason") or None)
    except InvalidValue as e:
        return jsonify({"error": str(e)}), 422
    except StoreError as e:
        return jsonify({"error": str(e)}), 409
    items = store.review_items(sha256)
    return jsonify({"item": added, "html": _item_html(added), "blockers": can_confirm(items),
                    "flagged": sum(1 for i in items if i["status"] == "review")}), 201


def _evidence_of(store, sha256: str, item: dict, value) -> dict | None | bool:
    """For a field whose value changed: where the report states the new value (None if nowhere)."""
    kind, _, key = item["item"].partition(":")
    if kind != "field" or value == item["value"]:
        return False  # unchanged
    if value is None:
        return None
    found = ground(store.get_document(sha256)["text"], key, value).evidence
    return None if found is None else {"quote": found.quote, "start": found.start, "end": found.end}


def _item_html(item: dict) -> str:
    partial = "review/_row.html" if item["kind"] in ("indicator", "project") else "review/_item.html"
    return render_template(partial, i=item, labels=_labels())


@bp.route("/documents/<sha256>/confirm", methods=("POST",))
@login_required(*REVIEWERS)
def confirm(sha256: str):
    store = get_store()
    job = store.job(sha256)
    if job is None:
        abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    seen = request.form.get("seen", type=int)
    if seen is None:
        flash("页面已过期，请刷新后再确认入库", "error")
        return redirect(url_for("review.document", sha256=sha256)), 303
    items = store.review_items(sha256)
    doc = store.get_document(sha256) or {}
    run = store.latest_run(sha256) or {}
    source = {"name": job["name"], "sha256": sha256, "kind": doc.get("kind"), "ocr": doc.get("ocr")}
    record = {**record_from_items(source, items), "engine": {"name": run.get("engine")}}
    try:
        store.confirm(sha256, g.user["name"], record, seen=seen, stands=request.form.get("stands") or None)
    except StoreError as e:
        flash(str(e), "error")
        return redirect(url_for("review.document", sha256=sha256)), 303
    flash(f"{job['unit_name'] or job['name']} 已确认入库", "ok")
    nxt, _ = store.queue(state=IN_REVIEW, per_page=1)
    return redirect(url_for("review.document", sha256=nxt[0]["sha256"]) if nxt else url_for("review.queue")), 303


@bp.route("/documents/<sha256>/reopen", methods=("POST",))
@login_required("admin")
def reopen(sha256: str):
    """An admin takes a confirmed report back to 待审核 (it leaves the confirmed tables), with a reason."""
    store = get_store()
    if store.job(sha256) is None:
        abort(404)
    form = ReopenForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash("；".join(e for errs in form.errors.values() for e in errs), "error")
        return redirect(url_for("review.document", sha256=sha256)), 303
    try:
        store.reopen(sha256, g.user["name"], form.reason.data.strip())
    except StoreError as e:
        flash(str(e), "error")
    else:
        flash("已重新打开，回到待审核；已从确认库中移除", "ok")
    return redirect(url_for("review.document", sha256=sha256)), 303
