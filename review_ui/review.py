"""The review queue, the two-pane review page, reviewers' actions and 确认入库 (reviewers)."""

from __future__ import annotations

import re
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
    send_file,
    url_for,
)

from service.check.grounding import ground
from service.errors import JixiaoError, StoreError
from service.fields import BY_KEY, grouped
from service.labels import ACTIONS, AUDIT_NAMES, LISTS
from service.last_year import PriorNotSeen, document_mismatches, fingerprint, require_seen
from service.models import DEPARTMENT_TABLE
from service.overview import spending_jumps
from service.page_images import cache_folder, cached_page
from service.record import EngineInfo
from service.review import (
    STATE_NAMES,
    UNITS,
    InvalidValue,
    apply_action,
    auto_passed,
    bulk_status,
    can_confirm,
    new_row,
    record_from_items,
)
from service.store.queue import QueueKey
from service.store.workflow import IN_REVIEW, DuplicateRecord, StaleConfirm, StaleEdit
from service.units.matching import match_documents
from service.units.same_unit import keys_of

from . import refuse
from .auth import REVIEWERS, login_required
from .db import get_store
from .forms import PlainForm, ReopenForm

bp = Blueprint("review", __name__)


@bp.route("/queue")
@login_required(*REVIEWERS)
def queue():
    """The queue, a page at a time: 下一页 / 上一页 carry the cursor of the row they continue from (`after` /
    `before`, keyset paging: no page costs more than the first), and the page's number for display."""
    store = get_store()
    state = request.args.get("state", IN_REVIEW)
    year = request.args.get("year", type=int)
    unit = (request.args.get("unit") or "").strip()
    after, before = _cursor("after"), _cursor("before")
    if after and before:
        refuse(400, "翻页参数无效，请回到队列第一页")
    per_page = current_app.config["PER_PAGE"]
    found = store.queue(state=state or None, year=year, unit=unit or None, per_page=per_page, after=after,
                        before=before)
    pages = max(1, -(-found.total // per_page)) if found.total is not None else None
    number = _page_number(found, pages)
    filters = {"state": state, "year": year, "unit": unit}
    links = {"next": found.next and url_for("review.queue", **filters, after=found.next.encode(),
                                            page=number and number + 1),
             "prev": found.prev and url_for("review.queue", **filters, before=found.prev.encode(),
                                            page=number and number - 1)}
    here = {k: request.args[k] for k in ("after", "before") if request.args.get(k)}
    return render_template("review/queue.html", docs=found.docs, total=found.total, number=number, pages=pages,
                           links=links, here={**filters, **here, "page": number},
                           state=state, year=year, unit=unit, years=store.queue_years(),
                           counts=store.state_counts(), form=PlainForm(),
                           ready=store.confirm_readiness([d["sha256"] for d in found.docs]))


def _cursor(name: str) -> QueueKey | None:
    """The cursor of a 下一页 / 上一页 link (`after` / `before`); 400 for one that is not."""
    given = request.args.getlist(name)
    if not given or given == [""]:
        return None
    try:
        if len(given) > 1:
            raise ValueError(given)
        return QueueKey.decode(given[0])
    except ValueError:
        refuse(400, "翻页参数无效，请回到队列第一页")


def _page_number(found, pages: int | None) -> int | None:
    """The page's number, as the link that led here carried it: 1 at the queue's start, the last at its end
    (when the queue is counted); None when unknown (a link without it)."""
    if found.prev is None:
        return 1
    if found.next is None and pages is not None:
        return pages
    number = request.args.get("page", type=int)
    if number is None:
        return None
    return max(2, min(number, pages - 1)) if pages is not None and pages > 2 else max(2, number)


@bp.route("/documents/<sha256>")
@login_required(*REVIEWERS)
def document(sha256: str):
    store = get_store()
    job = store.job(sha256)
    doc = store.get_document(sha256) if job else None
    if job is None or doc is None:
        abort(404)
    items = store.review_items(sha256)
    groups = _groups(items)
    registry = store.registry()
    unit_match = None
    if registry:
        choice = store.unit_choice(sha256)
        unit_match = match_documents({sha256: job["unit_name"]}, registry, {sha256: choice} if choice else {})[sha256]
    prior = document_mismatches(store, sha256)
    return render_template("review/document.html", job=job, doc=doc, items=items, groups=groups,
                           registry=registry, unit_match=unit_match,
                           prior=[_shown(doc["text"], m) for m in prior], prior_seen=fingerprint(prior),
                           bulk={name: _accept_list(group) for name, _, group in groups},
                           bulk_all=_accept_list(items),
                           blockers=can_confirm(items), form=PlainForm(), audit=store.audit_entries(sha256),
                           seen=store.last_change(sha256), alike=store.same_unit_and_year(sha256),
                           current_records=store.current_records_like(sha256, _of_its_unit(store, job)),
                           reopen_form=ReopenForm(),
                           labels=_labels(), actions=AUDIT_NAMES, stated=_stated_totals(items),
                           across=_spending_against_earlier_years(store, job, items))


def _spending_against_earlier_years(store, job: dict, items: list[dict]) -> list[dict]:
    """The 总览's check of a unit's 全年执行数 against its own earlier years, for this report as it now stands
    (its value as extracted or corrected): a reason for review, with links to the earlier reports."""
    values = {i["item"]: i["value"] for i in items}
    row = {"document_sha256": job["sha256"], "unit_name": values.get("field:unit_name") or job["unit_name"],
           "spending_actual": values.get("field:spending_actual")}
    year = values.get("field:fiscal_year") or job["fiscal_year"]
    if not row["unit_name"] or not isinstance(year, int):
        return []
    earlier = store.confirmed_before(year)
    return spending_jumps([row], earlier, current_app.config["SETTINGS"].cross_year_spending_change,
                          keys_of(store, [row, *earlier]))


_AROUND = 24  # characters of the report shown either side of a statement about last year


def _shown(text: str, mismatch) -> dict:
    """A mismatch of a statement about last year as the page shows it: the statement in its sentence (a few
    characters either side, on one line) and its spans for highlighting in the source."""
    s = mismatch.statement

    def line(part: str) -> str:
        return re.sub(r"\s+", " ", part)

    return {"m": mismatch, "s": s, "before": line(text[max(0, s.start - _AROUND):s.start]),
            "quote": line(text[s.start:s.end]), "after": line(text[s.end:s.end + _AROUND]),
            "context": [list(c) for c in s.context]}


def _stated_totals(items: list[dict]) -> dict[str, dict]:
    """Per score table, the total the report states and (department table) the budget-execution points."""
    values = {i["item"]: i["value"] for i in items}
    out = {DEPARTMENT_TABLE: {"total": values.get("field:self_score"), "exec_weight": values.get("field:execution_weight"),
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
    fields = [(name, "field", [by_item[f"field:{k}"] for k in keys if f"field:{k}" in by_item]) for name, keys in grouped()]
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


@bp.route("/documents/<sha256>/pages/<int:number>.jpg")
@login_required(*REVIEWERS)
def page_image(sha256: str, number: int):
    """A scanned page as an image, in the pixels its OCR boxes were measured in (rendered once, cached)."""
    store = get_store()
    job = store.job(sha256)
    doc = store.get_document(sha256) if job else None
    if doc is None or not any(p["number"] == number and p["ocr"] for p in doc["pages"]):
        abort(404)
    settings = current_app.config["SETTINGS"]
    try:
        path = cached_page(Path(job["path"]), sha256, number, settings.ocr_dpi, cache_folder(settings.instance))
    except (OSError, JixiaoError):
        abort(404)
    # the upload behind a sha256 never changes: the browser may keep the page as long as it likes
    resp = send_file(path, mimetype="image/jpeg", conditional=True, max_age=86400 * 30)
    resp.headers["Cache-Control"] = "private, max-age=2592000, immutable"
    return resp


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
                    "items": [{"item": i["item"], "html": _item_html(i)} for i in done["items"] if i],
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
    try:
        _confirm_report(store, job, seen, stands=request.form.get("stands") or None,
                        prior_seen=request.form.get("prior_seen"))
    except (StoreError, PriorNotSeen) as e:
        flash(str(e), "error")
        return redirect(url_for("review.document", sha256=sha256)), 303
    flash(f"{job['unit_name'] or job['name']} 已确认入库", "ok")
    nxt = store.queue(state=IN_REVIEW, per_page=1).docs
    return redirect(url_for("review.document", sha256=nxt[0]["sha256"]) if nxt else url_for("review.queue")), 303


def _confirm_report(store, job: dict, seen: int, stands: str | None = None, prior_seen: str | None = None) -> None:
    """确认入库 of one report, from its page or the queue: the record built from its reviewed items and written
    by the store, which refuses it (StoreError) over a change by someone else since `seen`, over an item
    waiting for review, out of the review state, or as a second record of its unit and year without `stands`.
    A report whose statements of last year's figures last year's confirmed report contradicts is refused
    (PriorNotSeen) unless `prior_seen` is the fingerprint of the mismatches its page showed (the reviewer ticked
    「已核对上年数差异」); the confirm's audit entry then says so."""
    sha256 = job["sha256"]
    items = store.review_items(sha256)
    doc = store.get_document(sha256) or {}
    run = store.latest_run(sha256) or {}
    source = {"name": job["name"], "sha256": sha256, "kind": doc.get("kind"), "ocr": doc.get("ocr")}
    record = record_from_items(source, items)
    record.engine = EngineInfo(name=run.get("engine"))
    note = require_seen(document_mismatches(store, sha256), prior_seen)
    store.confirm(sha256, g.user["name"], record, seen=seen, stands=stands, note=note,
                  same_unit=_of_its_unit(store, job))


def _of_its_unit(store, job: dict) -> list[str]:
    """The current confirmed records of the report's year that are of its unit by the list of units (matched or
    chosen) though printed under another name: one record per unit and year holds for them too."""
    if job["fiscal_year"] is None:
        return []
    mine = {"document_sha256": job["sha256"], "unit_name": job["unit_name"]}
    records = store.confirmed_of_year(job["fiscal_year"])
    keys = keys_of(store, [mine, *records])
    if keys is None or not keys[job["sha256"]]:
        return []
    return [r["document_sha256"] for r in records if keys.get(r["document_sha256"]) == keys[job["sha256"]]]


# -- bulk actions ------------------------------------------------------------------------------

_ITEM_AT_VERSION = re.compile(r"((?:field|indicator|project|list):\w+)@(\d{1,9})")
_REPORT_AT_SEEN = re.compile(r"([0-9a-f]{64})@(\d{1,18})")


def _accept_list(items: list[dict]) -> tuple[int, str]:
    """What a bulk-accept button carries: how many of `items` are auto-passed, and each as item@version (the
    version the page shows, so that an item changed since is skipped)."""
    auto = [i for i in items if auto_passed(i)]
    return len(auto), " ".join(f"{i['item']}@{i['version']}" for i in auto)


@bp.route("/documents/<sha256>/accept-auto", methods=("POST",))
@login_required(*REVIEWERS)
def accept_auto(sha256: str):
    """接受本节其余 N 项 / 接受全部自动通过项: the auto-passed items the button listed become this reviewer's
    confirmed, each audited; one changed since the page was drawn is skipped, and the message says how many."""
    store = get_store()
    if store.job(sha256) is None:
        abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    listed = [_ITEM_AT_VERSION.fullmatch(x) for x in request.form.get("items", "").split()]
    if not listed or not all(listed):
        refuse(400, "请求格式不正确，请刷新页面后重试")
    try:
        accepted, skipped = store.accept_in_bulk(sha256, g.user["name"],
                                                 {m.group(1): int(m.group(2)) for m in listed}, bulk_status)
    except StoreError as e:
        refuse(409, str(e))
    note = f"；{skipped} 项在打开页面后已有改动，未接受，请查看" if skipped else ""
    flash(f"已接受 {len(accepted)} 项{note}", "ok" if accepted else "error")
    return redirect(url_for("review.document", sha256=sha256)), 303


@bp.route("/queue/confirm", methods=("POST",))
@login_required(*REVIEWERS)
def confirm_selected():
    """确认所选报告入库: each report ticked in the queue (sha256@the change its row was drawn at) confirmed as its
    own 确认入库 does it, one by one; one that cannot be confirmed any more is skipped by name, the rest go on."""
    store = get_store()
    if not PlainForm().validate_on_submit():
        abort(400)
    chosen = [_REPORT_AT_SEEN.fullmatch(x) for x in request.form.getlist("report")]
    if not all(chosen):
        refuse(400, "请求格式不正确，请刷新页面后重试")
    done, skipped = [], []
    for sha256, seen in (m.groups() for m in chosen):
        job = store.job(sha256)
        if job is None:
            skipped.append(f"{sha256[:12]}（找不到该报告）")
            continue
        name = job["unit_name"] or job["name"]
        try:
            _confirm_report(store, job, int(seen))
        except (StoreError, PriorNotSeen) as e:
            skipped.append(f"{name}（{_why_not_confirmed(e, store.job(sha256))}）")
        else:
            done.append(name)
    if done:
        flash(f"已确认入库 {len(done)} 份：{'、'.join(done)}", "ok")
    if skipped:
        flash(f"未确认 {len(skipped)} 份：{'；'.join(skipped)}", "error")
    if not chosen:
        flash("请先勾选要确认入库的报告", "error")
    back = {k: request.args.get(k) for k in ("state", "year", "unit", "page", "after", "before") if k in request.args}
    return redirect(url_for("review.queue", **back)), 303


def _why_not_confirmed(e: StoreError | PriorNotSeen, job: dict) -> str:
    """Why a report ticked in the queue was not confirmed, in a few words (its page says the rest)."""
    if job["state"] != IN_REVIEW:  # confirmed by someone else meanwhile, re-extracted, …
        return f"现为“{STATE_NAMES[job['state']]}”，不能确认入库"
    if isinstance(e, StaleConfirm):
        return "打开队列后已被修改，请到报告页查看后再确认"
    if isinstance(e, DuplicateRecord):
        return "同单位同年度已有确认入库的记录，请到报告页选择以哪一份为准"
    return str(e)


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
