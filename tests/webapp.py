"""Helpers for the review app's tests: an app over a temporary database, users of each role, logging in."""

from __future__ import annotations

import re
from pathlib import Path

from werkzeug.security import generate_password_hash

from review_ui import create_app
from service.settings import load_settings
from service.store import Store
from service.worker import process_next, store_upload

PASSWORD = "correct-horse"
USERS = {"oper": "operator", "rev": "reviewer", "boss": "admin"}


def make_app(tmp_path: Path, **settings_overrides):
    settings = load_settings(db=str(tmp_path / "jixiao.db"), instance=str(tmp_path / "instance"), engine="rules",
                             **settings_overrides)
    app = create_app({"TESTING": True}, settings=settings)
    store = Store(settings.db)
    for name, role in USERS.items():
        store.add_user(name, role, generate_password_hash(PASSWORD))
    store.close()
    return app


def csrf_token(client, url: str = "/auth/login") -> str:
    """The CSRF token of the session, read from a page's meta tag as the browser's scripts do."""
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(client, name: str, password: str = PASSWORD, follow: bool = False):
    token = csrf_token(client)
    return client.post("/auth/login", data={"name": name, "password": password, "csrf_token": token},
                       follow_redirects=follow)


def upload_and_extract(app, path: Path, user: str = "oper", engine=None) -> str:
    """Queue one report as an upload and run the worker on it; its SHA-256."""
    settings = app.config["SETTINGS"]
    store = Store(settings.db)
    try:
        job, _ = store_upload(store, Path(app.config["UPLOADS"]), path.name, path.read_bytes(), user)
        process_next(store, settings, engine)
        return job["sha256"]
    finally:
        store.close()


def store_of(app) -> Store:
    return Store(app.config["DATABASE"])


def api_save(client, sha: str, item: dict, action: str, value=None, token: str | None = None, version=None):
    token = token or csrf_token(client, f"/documents/{sha}")
    return client.post(f"/api/documents/{sha}/items/{item['item']}",
                       json={"action": action, "version": item["version"] if version is None else version,
                             "value": value}, headers={"X-CSRFToken": token, "Accept": "application/json"})


def confirm_form(client, sha: str) -> dict:
    """What the review page's 确认入库 form posts: its CSRF token and the change it was shown."""
    html = client.get(f"/documents/{sha}").get_data(as_text=True)
    seen = re.search(r'name="seen" value="(\d+)"', html)
    return {"csrf_token": re.search(r'name="csrf-token" content="([^"]+)"', html).group(1),
            "seen": seen.group(1) if seen else ""}


def as_user(app, name: str, password: str = PASSWORD):
    """A test client logged in as `name`."""
    client = app.test_client()
    assert login(client, name, password).status_code == 302
    return client
