"""The review web app: operators upload reports, reviewers check and confirm what was read.

`create_app(test_config=None)` in the flaskr shape: settings (service.settings)
first, then the instance folder (a secret key generated on first run and kept
there, outside the code), then the test config. One blueprint per area:
auth, upload, review, admin, units (单位名单), calibration (校准, admins), export, overview (总览), open_data (the read-only JSON API). Every form and POST is CSRF-protected.

Also here, for every request: the security headers (a Content-Security-Policy with no inline script), the
one error shape (a Chinese page for the browser, `{"error": "…"}` under /api/, never Werkzeug's English
page or a traceback), and the checks of query parameters and API bodies that make a malformed request a
400 rather than a 500 further in.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, MethodNotAllowed, default_exceptions
from werkzeug.middleware.proxy_fix import ProxyFix

from service.export import plain_number
from service.labels import ROLES
from service.review import STATE_NAMES, context_pairs
from service.settings import Settings, load_settings
from service.store import Store

from . import db

csrf = CSRFProtect()



def create_app(test_config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    instance = Path(settings.instance).resolve()
    app = Flask(__name__, instance_path=str(instance))
    app.config.from_mapping(
        DATABASE=settings.db, SETTINGS=settings, UPLOADS=str(instance / "uploads"),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes * 20,  # one request may carry many files
        WTF_CSRF_TIME_LIMIT=None, PER_PAGE=50, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_lifetime_min),
    )
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(instance)
    Store(app.config["DATABASE"]).close()  # create and migrate the database once, before any request
    if settings.proxy_hops > 0:  # the client's address (log-in throttle) and scheme as the proxy saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    csrf.init_app(app)
    db.init_app(app)
    _register(app)
    return app


def secret_key(instance: Path) -> str:
    """The key signing sessions: made on first run, kept in the instance folder (mode 600)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def local_time(stamp: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO time stored in UTC, as reviewers read it: in the deployment's zone (setting `time_zone`)."""
    from flask import current_app, has_app_context

    from service.export import DEFAULT_TIME_ZONE, zone_of
    from service.export import local_time as in_zone

    name = current_app.config["SETTINGS"].time_zone if has_app_context() else DEFAULT_TIME_ZONE
    return in_zone(stamp, zone_of(name), fmt) or ""


def _register(app: Flask) -> None:
    from . import (
        admin,
        auth,
        calibration,
        export,
        history,
        open_data,
        overview,
        review,
        tokens,
        units,
        upload,
    )

    for bp in (auth.bp, upload.bp, review.bp, admin.bp, units.bp, calibration.bp, tokens.bp, export.bp, overview.bp,
               open_data.bp):
        app.register_blueprint(bp)
    app.add_url_rule("/", endpoint="index", view_func=auth.home)
    app.jinja_env.globals.update(ROLE_NAMES=ROLES, STATE_NAMES=STATE_NAMES)
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["plain"] = plain_number  # 18.0 read as a number shows as 18
    app.jinja_env.filters["context_pairs"] = context_pairs  # evidence context as data-context's [[s, e], …]
    history.register_filters(app)
    app.before_request(check_path_numbers)
    app.before_request(check_query)
    app.before_request(check_api_body)
    app.after_request(security_headers)
    app.register_error_handler(CSRFError, lambda e: error_response(
        400, "页面已过期或请求来源不明（CSRF 校验失败），请刷新页面后重试"))
    app.register_error_handler(HTTPException, http_error)


# -- security headers ---------------------------------------------------------------------------

# Scripts only from our own files (no inline script, no eval); the one JSON data block on the review page
# (<script type="application/json">) is not executed, so CSP does not apply to it. Styles only from app.css,
# no style attributes (the confidence bars get their width from review.js).
CSP = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'",
    "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# -- errors --------------------------------------------------------------------------------------

MESSAGES = {
    400: "请求格式不正确",
    401: "请先登录",
    403: "您的角色无权访问此页面",
    404: "找不到该页面或报告",
    405: "不支持该操作",
    409: "操作与当前状态冲突，请刷新页面后重试",
    413: "上传内容过大，请减少一次上传的文件数量或大小",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误，请稍后重试；如果一直出现，请联系管理员",
}


def refuse(code: int, message: str) -> NoReturn:
    """Stop the request with an HTTP error whose (Chinese) message the user is shown."""
    exc = default_exceptions[code](description=message)
    exc.for_user = True  # type: ignore[attr-defined]
    raise exc


def http_error(e: HTTPException):
    """Every HTTP error, an unhandled exception included (Flask hands it over as a 500): Werkzeug's own
    descriptions are English and may name internals, so only a message given to `refuse` is shown."""
    code = e.code or 500
    message = e.description if getattr(e, "for_user", False) else MESSAGES.get(code, f"请求无法处理（{code}）")
    response = error_response(code, message)
    if isinstance(e, MethodNotAllowed) and e.valid_methods:
        response.headers["Allow"] = ", ".join(e.valid_methods)
    return response


def error_response(code: int, message: str) -> Response:
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        response = jsonify({"error": message})
    else:
        try:
            response = Response(render_template("error.html", code=code, message=message), mimetype="text/html")
        except Exception:  # the page itself failed (the database is gone?): still Chinese, still no traceback
            response = Response(f"<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>{code}</title>"
                                f"<h1>{code}</h1><p>{message}</p></html>", mimetype="text/html")
    response.status_code = code
    return response


# -- malformed requests: 400, not a 500 further in ----------------------------------------------

# Query parameters the views read as one value; the numbers among them, with the range they may take.
SCALAR_PARAMS = ("page", "year", "state", "unit", "sha256", "next", "limit", "after")
NUMBER_PARAMS = {"page": ("页码", 1, 100_000), "year": ("年度", 1000, 9999)}
SQLITE_MAX_INT = 2**63 - 1
JSON_TEXT_KEYS = ("action", "kind", "after", "reason")  # API body keys that are text (or null) when given


def check_query() -> None:
    for name in SCALAR_PARAMS:
        if len(request.args.getlist(name)) > 1:
            refuse(400, f"参数 {name} 只能给一个值")
    for name, (label, low, high) in NUMBER_PARAMS.items():
        raw = request.args.get(name, "")
        if raw and not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
            refuse(400, f"{label}应为 {low} 到 {high} 之间的整数")
    state = request.args.get("state")
    if state and state not in STATE_NAMES:
        refuse(400, "未知的状态")
    if len(request.args.get("unit", "")) > 200:
        refuse(400, "单位名称过长")


def check_path_numbers() -> None:
    """An id in the path past what SQLite can hold names nothing: 404 (not an OverflowError)."""
    if any(isinstance(v, int) and v > SQLITE_MAX_INT for v in (request.view_args or {}).values()):
        refuse(404, MESSAGES[404])


def check_api_body() -> None:
    """A JSON body under /api/ is an object whose text keys hold text: a list or a number there is a 400."""
    if request.method != "POST" or not request.path.startswith("/api/") or not request.is_json:
        return
    body = request.get_json(silent=True)
    if body is None:
        return  # not JSON at all: the view answers 400 itself
    if not isinstance(body, dict) or any(not isinstance(body.get(k), str | None) for k in JSON_TEXT_KEYS) \
            or isinstance(body.get("version"), bool):
        refuse(400, MESSAGES[400])
