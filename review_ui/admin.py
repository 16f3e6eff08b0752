"""Users and roles (admins). There is always an active admin: the last one can be neither demoted nor
deactivated, and no admin can deactivate themself (409, with the reason on the users page)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from werkzeug.security import generate_password_hash

from service.errors import StoreError
from service.labels import ROLES
from service.store.workflow import LastAdmin

from .auth import login_required
from .db import get_store
from .forms import MIN_PASSWORD, PasswordForm, PlainForm, RoleForm, UserForm

bp = Blueprint("admin", __name__, url_prefix="/admin")

LAST_ADMIN = "这是最后一位启用中的管理员，不能{}：请先把另一位用户设为管理员"


@bp.route("/users", methods=("GET", "POST"))
@login_required("admin")
def users():
    form = UserForm()
    if form.validate_on_submit():
        try:
            get_store().add_user(form.name.data.strip(), form.role.data, generate_password_hash(form.password.data))
            flash(f"已添加用户 {form.name.data.strip()}", "ok")
            return redirect(url_for("admin.users"), 303)
        except StoreError as e:
            flash(str(e), "error")
    return _users_page(form)


def _users_page(form: UserForm | None = None, status: int = 200):
    page = render_template("admin/users.html", form=form or UserForm(formdata=None), users=get_store().list_users(),
                           role_form=RoleForm(formdata=None), plain=PlainForm(),
                           password_form=PasswordForm(formdata=None), min_password=MIN_PASSWORD)
    return page, status


def _refused(message: str):
    """The users page again with why the change was not made: 409 (it conflicts with the users as they are)."""
    flash(message, "error")
    return _users_page(status=409)


@bp.route("/users/<int:user_id>/role", methods=("POST",))
@login_required("admin")
def set_role(user_id: int):
    user = _user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    if form.role.data != "admin" and _is_last_admin(user):
        return _refused(LAST_ADMIN.format("取消其管理员角色"))
    try:
        get_store().update_user(user["id"], role=form.role.data)
    except LastAdmin:  # another admin was demoted meanwhile
        return _refused(LAST_ADMIN.format("取消其管理员角色"))
    flash(f"{user['name']} 的角色已改为 {ROLES[form.role.data]}", "ok")
    return redirect(url_for("admin.users"), 303)


@bp.route("/users/<int:user_id>/active", methods=("POST",))
@login_required("admin")
def toggle_active(user_id: int):
    user = _user(user_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    if user["active"] and user["id"] == g.user["id"]:
        return _refused("不能停用自己的账号")
    if user["active"] and _is_last_admin(user):
        return _refused(LAST_ADMIN.format("停用"))
    try:
        get_store().update_user(user["id"], active=0 if user["active"] else 1)
    except LastAdmin:
        return _refused(LAST_ADMIN.format("停用"))
    flash(f"{user['name']} 已{'停用' if user['active'] else '启用'}", "ok")
    return redirect(url_for("admin.users"), 303)


@bp.route("/users/<int:user_id>/password", methods=("POST",))
@login_required("admin")
def set_password(user_id: int):
    """A new password for a user (asked twice); the store ends every session of theirs. Users have no audit
    table: the admin is told, nothing else is recorded."""
    user = _user(user_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        errors = [e for field in (form.password, form.confirm) for e in field.errors]
        flash(f"未修改 {user['name']} 的密码：{errors[0]}", "error")
        return _users_page(status=400)
    get_store().update_user(user["id"], password_hash=generate_password_hash(form.password.data))
    if user["id"] == g.user["id"]:  # their own session ended too: the next page asks them to log in
        flash("密码已修改，请用新密码重新登录", "ok")
    else:
        flash(f"已为 {user['name']} 设置新密码，其已登录的会话均已退出", "ok")
    return redirect(url_for("admin.users"), 303)


def _is_last_admin(user: dict) -> bool:
    return user["role"] == "admin" and bool(user["active"]) and get_store().active_admins() <= 1


def _user(user_id: int) -> dict:
    user = get_store().get_user_by_id(user_id)
    if user is None:
        abort(404)
    return user
