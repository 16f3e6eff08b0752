"""Users and roles (admins)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from werkzeug.security import generate_password_hash

from service.errors import StoreError

from .auth import login_required
from .db import get_store
from .forms import ROLE_CHOICES, PlainForm, RoleForm, UserForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=("GET", "POST"))
@login_required("admin")
def users():
    form = UserForm()
    store = get_store()
    if form.validate_on_submit():
        try:
            store.add_user(form.name.data.strip(), form.role.data, generate_password_hash(form.password.data))
            flash(f"已添加用户 {form.name.data.strip()}", "ok")
            return redirect(url_for("admin.users"), 303)
        except StoreError as e:
            flash(str(e), "error")
    return render_template("admin/users.html", form=form, users=store.list_users(), role_form=RoleForm(),
                           plain=PlainForm())


@bp.route("/users/<int:user_id>/role", methods=("POST",))
@login_required("admin")
def set_role(user_id: int):
    user = _user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    get_store().update_user(user["id"], role=form.role.data)
    flash(f"{user['name']} 的角色已改为 {ROLE_CHOICES[form.role.data]}", "ok")
    return redirect(url_for("admin.users"), 303)


@bp.route("/users/<int:user_id>/active", methods=("POST",))
@login_required("admin")
def toggle_active(user_id: int):
    user = _user(user_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    if user["id"] == g.user["id"]:
        flash("不能停用自己的账号", "error")
    else:
        get_store().update_user(user["id"], active=0 if user["active"] else 1)
        flash(f"{user['name']} 已{'停用' if user['active'] else '启用'}", "ok")
    return redirect(url_for("admin.users"), 303)


def _user(user_id: int) -> dict:
    user = get_store().get_user_by_id(user_id)
    if user is None:
        abort(404)
    return user
