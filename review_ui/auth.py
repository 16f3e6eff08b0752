"""Log-in, log-out, and the role check every other view goes through."""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlparse

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash

from .db import get_store
from .forms import LoginForm, PlainForm

bp = Blueprint("auth", __name__, url_prefix="/auth")

UPLOADERS = ("operator", "admin")
REVIEWERS = ("reviewer", "admin")


@bp.before_app_request
def load_logged_in_user() -> None:
    user_id = session.get("user_id")
    user = get_store().get_user_by_id(user_id) if user_id is not None else None
    g.user = user if user and user["active"] else None


def login_required(*roles: str) -> Callable:
    """Only for logged-in users (else the log-in page), and with `roles` only for those roles (else 403)."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(**kwargs):
            if g.user is None:
                if request.path.startswith("/api/"):
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path))
            if roles and g.user["role"] not in roles:
                abort(403)
            return view(**kwargs)
        return wrapped
    return decorate


@bp.route("/login", methods=("GET", "POST"))
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = get_store().get_user(form.name.data.strip())
        if user is None or not user["active"] or not check_password_hash(user["password_hash"], form.password.data):
            flash("用户名或密码错误", "error")
        else:
            session.clear()
            session["user_id"] = user["id"]
            target = request.args.get("next") or ""
            return redirect(target if _is_local(target) else url_for("index"))
    return render_template("auth/login.html", form=form)


def _is_local(target: str) -> bool:
    parts = urlparse(target)
    return bool(target) and not parts.scheme and not parts.netloc and target.startswith("/")


@bp.route("/logout", methods=("POST",))
def logout():
    if PlainForm().validate_on_submit():
        session.clear()
    return redirect(url_for("auth.login"))


@login_required()
def home():
    """Where a user lands: the upload page for operators, the review queue for reviewers."""
    return redirect(url_for("upload.index" if g.user["role"] == "operator" else "review.queue"))
