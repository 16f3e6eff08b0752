"""单位名单 (admins): the units expected to report — imported from a CSV or XLSX file, added, changed and deleted
in the browser, every change audited — and the reports that match no unit or more than one (待匹配), each with
a choice of its unit. A reviewer chooses a report's unit on its review page (`choose`, reviewers and admins).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from service.errors import StoreError
from service.labels import UNIT_AUDIT_NAMES
from service.units.importing import MAX_FILE_BYTES, UnitsFileError, read_units_file
from service.units.matching import match_documents
from service.units.registry import CATEGORIES, InvalidUnit, clean_unit, unit_from_row

from .auth import REVIEWERS, _is_local, login_required
from .db import get_store
from .forms import PlainForm, UnitChoiceForm, UnitForm, UnitsImportForm

bp = Blueprint("units", __name__)


@bp.route("/admin/units", methods=("GET", "POST"))
@login_required("admin")
def index():
    """The list, and the form adding a unit to it (posted here)."""
    form = UnitForm()
    if form.validate_on_submit():
        unit = _unit_of(form)
        if unit is not None:
            try:
                get_store().add_unit(unit, g.user["name"])
            except StoreError as e:
                flash(f"未添加：{e}", "error")
            else:
                flash(f"已添加单位 {unit['name']}（{unit['category']}）", "ok")
                return redirect(url_for("units.index"), 303)
        return _page(add_form=form, status=400)
    if form.is_submitted():
        if form.csrf_token.errors:
            abort(400)
        return _page(add_form=form, status=400)
    return _page()


def _page(add_form: UnitForm | None = None, import_form: UnitsImportForm | None = None, status: int = 200):
    store = get_store()
    units = store.list_units()
    registry = [unit_from_row(u) for u in units]
    choices = store.unit_choices()
    docs = _documents(store)
    matches = match_documents({d["sha256"]: d["unit_name"] for d in docs}, registry, choices) if registry else {}
    unsettled = [{**d, "match": matches[d["sha256"]]} for d in docs if d["sha256"] in matches
                 and not matches[d["sha256"]].settled]
    counts = {c: sum(1 for u in units if u["category"] == c) for c in CATEGORIES}
    return render_template("admin/units.html", units=units, registry=registry, counts=counts,
                           add_form=add_form or UnitForm(formdata=None),
                           import_form=import_form or UnitsImportForm(formdata=None), plain=PlainForm(),
                           choice_form=UnitChoiceForm(formdata=None), unsettled=unsettled,
                           audit=store.unit_audit_entries(), audit_names=UNIT_AUDIT_NAMES,
                           max_mb=MAX_FILE_BYTES // 1024 // 1024), status


def _documents(store) -> list[dict]:
    """The reports to match on this page: confirmed (current) ones and those in review, of every year."""
    return [d for d in store.documents_for_units() if d["state"] in ("confirmed", "review")]


def _unit_of(form: UnitForm) -> dict | None:
    """The form's unit as the store keeps it; None (with the reason flashed) when it cannot be kept."""
    try:
        return clean_unit(form.name.data, form.category.data, form.code.data, form.aliases.data)
    except InvalidUnit as e:
        flash(f"未保存：{e}", "error")
        return None


@bp.route("/admin/units/import", methods=("POST",))
@login_required("admin")
def import_file():
    """A registry file (CSV or XLSX) into the list, in one transaction: all of it, or nothing with the reason
    and the line of each bad row."""
    form = UnitsImportForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(form.file.errors[0] if form.file.errors else "请选择要导入的 CSV 或 XLSX 文件", "error")
        return _page(import_form=form, status=400)
    upload = form.file.data
    name = upload.filename or "名单"
    data = upload.read(MAX_FILE_BYTES + 1)
    settings = current_app.config["SETTINGS"]
    try:
        rows = read_units_file(name, data, settings.max_unpacked_bytes)
        counts = get_store().import_units(rows, g.user["name"], name)
    except (UnitsFileError, StoreError) as e:
        flash(str(e), "error")
        return _page(import_form=form, status=400)
    flash(f"已导入 {name}：新增 {counts['added']} 个，更新 {counts['updated']} 个，"
          f"{counts['unchanged']} 个与名单一致未改动", "ok")
    return redirect(url_for("units.index"), 303)


@bp.route("/admin/units/<int:unit_id>/edit", methods=("GET", "POST"))
@login_required("admin")
def edit(unit_id: int):
    store = get_store()
    unit = store.get_unit(unit_id)
    if unit is None:
        abort(404)
    form = UnitForm(data={**unit, "aliases": "、".join(unit["aliases"])} if request.method == "GET" else None)
    if form.validate_on_submit():
        changed = _unit_of(form)
        if changed is not None:
            try:
                done = store.update_unit(unit_id, changed, g.user["name"])
            except StoreError as e:
                flash(f"未保存：{e}", "error")
            else:
                flash(f"已保存 {changed['name']}" if done else "没有改动", "ok")
                return redirect(url_for("units.index"), 303)
    elif form.is_submitted() and form.csrf_token.errors:
        abort(400)
    status = 400 if form.is_submitted() else 200
    return render_template("admin/unit_edit.html", unit=unit, form=form), status


@bp.route("/admin/units/<int:unit_id>/delete", methods=("POST",))
@login_required("admin")
def delete(unit_id: int):
    if not PlainForm().validate_on_submit():
        abort(400)
    gone = get_store().delete_unit(unit_id, g.user["name"])
    if gone is None:
        abort(404)
    flash(f"已从名单中删除 {gone['name']}", "ok")
    return redirect(url_for("units.index"), 303)


@bp.route("/documents/<sha256>/unit", methods=("POST",))
@login_required(*REVIEWERS)
def choose(sha256: str):
    """A person says which unit of the list a report is (it wins over the automatic match), or takes that back
    (an empty `unit`); audited in the report's log. Back to `next` (the units page), else the report."""
    store = get_store()
    if store.job(sha256) is None:
        abort(404)
    form = UnitChoiceForm()
    if not form.validate_on_submit():
        abort(400)
    raw = (form.unit.data or "").strip()
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) < 18):
        abort(400)
    try:
        changed = store.choose_unit(sha256, int(raw) if raw else None, g.user["name"])
    except LookupError:  # the unit was deleted since the page was drawn
        flash("名单中已没有该单位，请刷新页面后重新选择", "error")
    else:
        unit = store.get_unit(int(raw)) if raw else None
        if unit is not None:
            flash(f"已指定所属单位：{unit['name']}（{unit['category']}）" if changed else "所属单位没有变化", "ok")
        else:
            flash("已改回自动匹配" if changed else "本报告没有人工指定的单位", "ok")
    target = form.next.data or ""
    return redirect(target if _is_local(target) else url_for("review.document", sha256=sha256), 303)
