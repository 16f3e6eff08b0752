"""The review web app: operators upload reports, reviewers check and confirm what was read.

`create_app(test_config=None)` in the flaskr shape: settings (service.settings)
first, then the instance folder (a secret key generated on first run and kept
there, outside the code), then the test config. One blueprint per area:
auth, upload, review, admin, export. Every form and POST is CSRF-protected.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from service.review import STATE_NAMES
from service.settings import Settings, load_settings
from service.store import Store

from . import db

csrf = CSRFProtect()

ROLE_NAMES = {"operator": "上传员", "reviewer": "审核员", "admin": "管理员"}


def create_app(test_config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    instance = Path(settings.instance).resolve()
    app = Flask(__name__, instance_path=str(instance))
    app.config.from_mapping(
        DATABASE=settings.db, SETTINGS=settings, UPLOADS=str(instance / "uploads"),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes * 20,  # one request may carry many files
        WTF_CSRF_TIME_LIMIT=None, PER_PAGE=50, SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(instance)
    Store(app.config["DATABASE"]).close()  # create and migrate the database once, before any request
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


CHINA = timezone(timedelta(hours=8))  # times are stored in UTC and shown in Beijing time (no DST)


def local_time(stamp: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO time stored in UTC, as reviewers read it (Beijing time)."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).strftime(fmt)


def _register(app: Flask) -> None:
    from . import admin, auth, export, review, upload

    for bp in (auth.bp, upload.bp, review.bp, admin.bp, export.bp):
        app.register_blueprint(bp)
    app.add_url_rule("/", endpoint="index", view_func=auth.home)
    app.jinja_env.globals.update(ROLE_NAMES=ROLE_NAMES, STATE_NAMES=STATE_NAMES)
    app.jinja_env.filters["local"] = local_time

    def error(code: int, message: str):
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            return jsonify({"error": message}), code
        return render_template("error.html", code=code, message=message), code

    app.register_error_handler(CSRFError, lambda e: error(400, "页面已过期或请求来源不明（CSRF 校验失败），请刷新页面后重试"))
    app.register_error_handler(403, lambda e: error(403, "您的角色无权访问此页面"))
    app.register_error_handler(404, lambda e: error(404, "找不到该页面或报告"))
    app.register_error_handler(405, lambda e: error(405, "不支持该操作"))
    app.register_error_handler(413, lambda e: error(413, "上传内容过大，请减少一次上传的文件数量或大小"))
