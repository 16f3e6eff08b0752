"""Log-in, log-out, and the role check every other view goes through.

A session holds the user's id, their `session_version` at log-in and the time of log-in. It counts only
while the version still matches the user's (log-out, deactivation and a password change bump it, ending
every session of theirs on the server) and for `session_lifetime_min` after log-in. Log-in is throttled
per user name and per client address (review_ui.throttle); an unknown name costs the same password-hash
check as a known one, and both get the same message.
"""

from __future__ import annotations

import functools
import math
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlparse

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from werkzeug.security import check_password_hash, generate_password_hash

from service import api_tokens

from . import refuse
from .db import get_store
from .forms import LoginForm, PlainForm
from .throttle import LoginThrottle

bp = Blueprint("auth", __name__, url_prefix="/auth")

UPLOADERS = ("operator", "admin")
REVIEWERS = ("reviewer", "admin")
API_READER = "api"  # a request made with an API token: the JSON API's reads (review_ui.open_data), nothing else
SESSION_KEYS = ("user_id", "version", "at")
WRONG = "用户名或密码错误"  # the same for a wrong name and a wrong password


@bp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    settings = state.app.config["SETTINGS"]
    state.app.extensions["login_throttle"] = LoginThrottle(settings.login_max_failures, settings.login_lockout_s)
    dummy_hash()  # made now, so the first log-in with an unknown name is not the slow one


@functools.cache
def dummy_hash() -> str:
    """A hash no password matches, checked for unknown names so they take as long as known ones."""
    return generate_password_hash(secrets.token_hex(16))


@bp.before_app_request
def load_logged_in_user() -> None:
    token = api_tokens.bearer(request.headers.get("Authorization")) if request.path.startswith("/api/") else None
    if token is not None:  # a token an admin issued (review_ui.tokens); the session is not looked at
        g.user = _token_user(token)
        return
    g.user = _session_user()
    if g.user is None and "user_id" in session:
        for key in SESSION_KEYS:  # the CSRF token stays: a log-in form open in another tab still works
            session.pop(key, None)


def _token_user(token: str) -> dict:
    found = get_store().token_by_sha256(api_tokens.token_sha256(token)) if api_tokens.well_formed(token) else None
    if found is None:
        refuse(401, "API 令牌无效或已被撤销，请向管理员申请新的令牌")
    return {"id": None, "name": f"令牌：{found['name']}", "role": API_READER, "token_id": found["id"]}


def _session_user() -> dict | None:
    user_id = session.get("user_id")
    if user_id is None:
        return None
    user = get_store().get_user_by_id(user_id)
    if user is None or not user["active"] or session.get("version") != user["session_version"]:
        return None
    at = session.get("at")
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if not isinstance(at, int | float) or not -60 <= time.time() - at < lifetime:  # a minute of clock slack
        return None
    return user


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
        name = form.name.data.strip()
        keys = (f"name:{name}", f"addr:{request.remote_addr or ''}")
        throttle: LoginThrottle = current_app.extensions["login_throttle"]
        store = get_store()
        wait = throttle.attempt(store, *keys)  # counted as a failure until the password proves right
        if wait:
            return _too_many_tries(form, wait)
        user = store.get_user(name)
        right = check_password_hash(user["password_hash"] if user else dummy_hash(), form.password.data)
        if user is None or not right:
            flash(WRONG, "error")
        elif not user["active"]:
            flash("该账号已停用，请联系管理员", "error")
        else:
            throttle.succeeded(store, *keys)
            _start_session(user)
            target = request.args.get("next") or ""
            return redirect(target if _is_local(target) else url_for("index"))
    return render_template("auth/login.html", form=form)


def _too_many_tries(form: LoginForm, wait: float):
    minutes = max(1, math.ceil(wait / 60))
    flash(f"登录失败次数过多，请 {minutes} 分钟后再试", "error")
    return render_template("auth/login.html", form=form), 429, {"Retry-After": str(math.ceil(wait))}


def _start_session(user: dict) -> None:
    session.clear()
    session.permanent = True  # the cookie expires with PERMANENT_SESSION_LIFETIME; the server checks "at"
    session.update(user_id=user["id"], version=user["session_version"], at=int(time.time()))


def _is_local(target: str) -> bool:
    """A path on this site: browsers read "/\\evil.example" or "/<tab>/evil.example" as another site."""
    parts = urlparse(target)
    odd = any(c == "\\" or not c.isprintable() for c in target)
    return target.startswith("/") and not target.startswith("//") and not odd and not parts.scheme and not parts.netloc


@bp.route("/logout", methods=("POST",))
def logout():
    if PlainForm().validate_on_submit():
        if g.user is not None:
            get_store().end_sessions(g.user["id"])  # a copy of the cookie stops working too
        session.clear()
    return redirect(url_for("auth.login"))


@login_required()
def home():
    """Where a user lands: the upload page for operators, the review queue for reviewers."""
    return redirect(url_for("upload.index" if g.user["role"] == "operator" else "review.queue"))
