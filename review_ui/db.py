"""One store (SQLite connection) per request, kept on `g` and closed at teardown, as in flaskr."""

from __future__ import annotations

from flask import Flask, current_app, g

from service.store import Store


def get_store() -> Store:
    if "store" not in g:
        g.store = Store(current_app.config["DATABASE"], migrate=False)
    return g.store


def close_store(_exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_store)
