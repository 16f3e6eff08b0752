"""Helpers for the review app's tests: an app over a temporary database, users of each role, logging in."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import pickle
import re
import shutil
import tempfile
from pathlib import Path

import jinja2
from werkzeug.security import generate_password_hash

import service.worker
from review_ui import create_app
from service.settings import load_settings
from service.store import Store
from service.worker import process_next, store_upload

PASSWORD = "correct-horse"
USERS = {"oper": "operator", "rev": "reviewer", "boss": "admin"}
# scrypt, as the app hashes, at 1/32 of werkzeug's default cost (n = 2**10): a log-in takes a few milliseconds,
# not a seventh of a second. Made once for every test app.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")


class _Compiled(jinja2.BytecodeCache):
    """The templates compiled once for every test app (a new app compiles them again, a quarter second)."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _Compiled()
_BLANK: list[Path] = []  # a database migrated and given the USERS, made once and copied for every test app


def _blank_database() -> Path:
    if not _BLANK:
        folder = tempfile.mkdtemp(prefix="jixiao-tests-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = Path(folder) / "blank.db"
        store = Store(str(path))
        for name, role in USERS.items():
            store.add_user(name, role, PASSWORD_HASH)
        store.close()
        _BLANK.append(path)
    return _BLANK[0]


def make_app(tmp_path: Path, **settings_overrides):
    settings = load_settings(db=str(tmp_path / "jixiao.db"), instance=str(tmp_path / "instance"), engine="rules",
                             **settings_overrides)
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_blank_database(), settings.db)
    app = create_app({"TESTING": True}, settings=settings)
    app.jinja_env.bytecode_cache = _COMPILED
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
        with _extracted_once(settings) if engine is None and settings.engine == "rules" else contextlib.nullcontext():
            process_next(store, settings, engine)
        return job["sha256"]
    finally:
        store.close()


_EXTRACTED: dict[tuple[str, str, str], bytes] = {}  # pickled, as the worker's child hands its result back


@contextlib.contextmanager
def _extracted_once(settings):
    """The rules engine's extraction of a file, done once per test session for the same bytes, name and settings:
    the app's tests test the app, and the rules read a report the same way every time. The worker claims,
    saves and reports the job as ever; only the reading is not done again."""
    extract = service.worker.extract
    kept = json.dumps(settings.model_dump(exclude={"db", "instance"}), sort_keys=True, default=str)

    def once(sha256, path, *args, **kwargs):
        key = (hashlib.sha256(Path(path).read_bytes()).hexdigest(), Path(path).name, kept)
        if key not in _EXTRACTED:
            _EXTRACTED[key] = pickle.dumps(extract(sha256, path, *args, **kwargs))
        doc, sections, extraction, meta, items = pickle.loads(_EXTRACTED[key])
        return doc, sections, extraction, {**meta, "source_path": str(path)}, items

    service.worker.extract = once
    try:
        yield
    finally:
        service.worker.extract = extract


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
