"""What the browser tests of one page share: the app served in a thread, and a Chromium page logged in that
records console errors, script errors and failed responses (`errors`) under the CSP watch."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from flask import Flask
from werkzeug.serving import make_server

from tests.test_browser import CSP_WATCH, _QuietHandler
from tests.webapp import PASSWORD


@contextlib.contextmanager
def served(app: Flask) -> Iterator[str]:
    """`app` on a free port of 127.0.0.1 while the block runs; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def logged_in(browser, url: str, user: str = "rev", width: int = 1440, height: int = 900):
    """A page of a new context at `url`, logged in as `user`; yields (page, errors). The context is closed after."""
    context = browser.new_context(base_url=url, viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(15_000)
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"script error: {e}"))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto("/auth/login")
        page.fill("#name", user)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        yield page, errors
    finally:
        context.close()
