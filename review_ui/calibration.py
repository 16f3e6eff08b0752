"""校准 (admins): per field, what reviewers did with the values routed by its threshold, the threshold the data
proposes for the target escape rate, and applying or taking back those proposals (service.threshold_report).

Every change is stored by the store in an append-only log (who, when, old -> new), which the page lists; a
job extracted after an apply uses the new threshold (service.thresholds). A bad target is refused with the
reason, and nothing is stored.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from service.check.threshold_learning import CONFIDENCE_LEVEL, TOO_LITTLE
from service.threshold_report import (
    apply_changes,
    key_label,
    report,
    revert_changes,
    target_of,
)

from .auth import login_required
from .db import get_store
from .forms import PlainForm, TargetForm

bp = Blueprint("calibration", __name__, url_prefix="/admin/calibration")

_PAIR = re.compile(r"(\w{1,40})=(\d(?:\.\d{1,6})?)")
_KEY = re.compile(r"\w{1,40}")


def percent(x: float | None) -> str:
    """0.016129 -> 1.61%, 0.003 -> 0.3%; None -> —."""
    if x is None:
        return "—"
    return f"{100 * x:.2f}".rstrip("0").rstrip(".") + "%"


@bp.app_template_filter("percent")
def _percent_filter(x: float | None) -> str:
    return percent(x)


@bp.route("")
@login_required("admin")
def index():
    return _page(TargetForm(formdata=None))


def _page(form: TargetForm, status: int = 200):
    store, settings = get_store(), current_app.config["SETTINGS"]
    target = target_of(store)
    rows = report(store, settings, target)
    page = render_template("admin/calibration.html", rows=rows, target=target, target_set=store.calibration_target(),
                           form=form, plain=PlainForm(), history=store.threshold_history(), key_label=key_label,
                           level=CONFIDENCE_LEVEL, too_little=TOO_LITTLE,
                           applicable=[r for r in rows if r.applicable], applied=[r for r in rows if r.applied])
    return page, status


@bp.route("/target", methods=("POST",))
@login_required("admin")
def set_target():
    form = TargetForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _page(form, 400)  # the form says why, beside the field; nothing is stored
    get_store().set_calibration_target(form.target.parsed, g.user["name"])
    flash(f"目标漏检率已设为 {percent(form.target.parsed)}，建议阈值已按新目标重新计算", "ok")
    return redirect(url_for("calibration.index"), 303)


@bp.route("/apply", methods=("POST",))
@login_required("admin")
def apply():
    """Apply the proposals the form lists ("key=threshold …", as the page showed them): one, or all."""
    if not PlainForm().validate_on_submit():
        abort(400)
    pairs = [_PAIR.fullmatch(x) for x in request.form.get("proposals", "").split()]
    if not pairs or not all(pairs):
        flash("请求格式不正确，请刷新页面后重试", "error")
        return redirect(url_for("calibration.index"), 303)
    seen = {m.group(1): float(m.group(2)) for m in pairs}
    store, settings = get_store(), current_app.config["SETTINGS"]
    target = target_of(store)
    changes, stale = apply_changes(report(store, settings, target), set(seen), seen, target)
    if changes:
        store.apply_thresholds(changes, g.user["name"])
        said = "、".join(f"{key_label(c['key'])} {c['old_threshold']:g} → {c['new_threshold']:g}" for c in changes)
        flash(f"已应用校准阈值：{said}；之后提取的报告按新阈值判断", "ok")
    if stale:
        flash(f"{'、'.join(key_label(k) for k in stale)} 的建议阈值在打开页面后已有变化，未应用，请查看后再试",
              "error")
    if not changes and not stale:
        flash("没有可应用的建议阈值（可能已经应用过）", "error")
    return redirect(url_for("calibration.index"), 303)


@bp.route("/revert", methods=("POST",))
@login_required("admin")
def revert():
    """Take back the calibrations of the keys the form lists: back to the setting or the default."""
    if not PlainForm().validate_on_submit():
        abort(400)
    keys = request.form.get("keys", "").split()
    if not keys or not all(_KEY.fullmatch(k) for k in keys):
        flash("请求格式不正确，请刷新页面后重试", "error")
        return redirect(url_for("calibration.index"), 303)
    store, settings = get_store(), current_app.config["SETTINGS"]
    changes = revert_changes(report(store, settings, target_of(store)), set(keys), settings)
    if not changes:
        flash("这些字段没有已应用的校准阈值", "error")
        return redirect(url_for("calibration.index"), 303)
    store.revert_thresholds(changes, g.user["name"])
    said = "、".join(f"{key_label(c['key'])} {c['old_threshold']:g} → {c['new_threshold']:g}" for c in changes)
    flash(f"已撤销校准阈值：{said}", "ok")
    return redirect(url_for("calibration.index"), 303)
