"""Shared fixtures and markers: the sample reports, a CLI runner, settings, a store and the review app over a
temporary database, Chromium, and `wait_until` for tests that wait on another thread or process.

The real reports, their gold answers and the scoring tools are read in place from ../shared (never copied into
the project). A run without all of it stops at once, saying what is missing; with
JIXIAO_TESTS_WITHOUT_SHARED=1 it goes on and skips every test module that reads ../shared.

Markers, for `make test-fast` (`-m "not ocr and not browser and not slow"`); `make test` runs them all:
- `browser`: drives Chromium; given here to every test that uses the `browser` fixture.
- `ocr`: reads scanned pages by OCR (its models load on first use, and a page takes seconds).
- `slow`: slow for another reason: a worker child process or a subprocess started, the samples typeset as
  PDFs, a child filling its memory limit, injected mistakes over every gold value.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

# pytest-xdist's workers set COLUMNS=80, and rich fixes a console's width from COLUMNS when the console is made
# (at import): without it, the width follows each test's own COLUMNS, as in a terminal.
os.environ.pop("COLUMNS", None)

from service.settings import load_settings
from service.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "reports"  # the five real reports, read in place (never copied into the project)
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, never `playwright install`

WITHOUT_SHARED = "JIXIAO_TESTS_WITHOUT_SHARED"
SHARED_NEEDED = ("reports/*.txt", "gold/*.json", "real/raw/*.txt", "real/gold/*.json", "tools/score.py",
                 "tools/llm_coverage.py", "tools/llm_bridge.py")
MARKERS = {
    "browser": "drives Chromium (given to every test that uses the `browser` fixture)",
    "ocr": "reads scanned pages by OCR",
    "slow": "slow for another reason than OCR or the browser",
}


def missing_shared() -> list[str]:
    """What the tests read from ../shared and cannot find there."""
    return [pattern for pattern in SHARED_NEEDED if not any(SHARED.glob(pattern))]


def reads_shared(module, seen: frozenset[str] = frozenset()) -> bool:
    """Whether a test module names a path in ../shared (SAMPLES, a report of it, the gold, the scorer), or
    uses a helper of tests/ that does (tests.scoring)."""
    for value in vars(module).values():
        if isinstance(value, Path) and value.is_relative_to(SHARED):
            return True
        helper = value if isinstance(value, ModuleType) else sys.modules.get(getattr(value, "__module__", "") or "")
        name = getattr(helper, "__name__", "")
        seen_now = seen | {module.__name__}
        if name.startswith("tests.") and name not in seen_now and reads_shared(helper, seen_now):
            return True
    return False


def wait_until(condition, what: str, timeout_s: float = 60.0) -> None:
    """Return once `condition()` holds. `timeout_s` only stops a test that hangs: no test passes or fails by
    how long something takes."""
    give_up = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"still waiting after {timeout_s:.0f} s: {what}")
        time.sleep(0.02)


def free_port() -> int:
    """A TCP port nobody listens on now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(env: dict[str, str], cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`jixiao serve` started as a process on a free port, returned once its log-in page answers, with that
    page's address. The caller stops it (SIGINT or terminate) and reads its output."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], env=env,
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    login_page = f"http://127.0.0.1:{port}/auth/login"

    def answers() -> bool:
        assert proc.poll() is None, "jixiao serve stopped: " + (proc.stdout.read() if proc.stdout else "")
        try:
            urllib.request.urlopen(login_page, timeout=5).close()
            return True
        except OSError:  # not listening yet
            return False

    try:
        wait_until(answers, "jixiao serve to answer")
    except BaseException:
        proc.kill()
        proc.communicate(timeout=20)
        raise
    return proc, login_page


def pytest_configure(config):
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_sessionstart(session):
    missing = missing_shared()
    if missing and os.environ.get(WITHOUT_SHARED) != "1":
        what = f"is incomplete (no {', no '.join(missing)})" if SHARED.is_dir() else "is not there"
        raise pytest.UsageError(
            f"{SHARED} {what}. The tests read the real reports, their gold answers and the scoring tools there "
            f"in place: put the shared folder beside the repository, or set {WITHOUT_SHARED}=1 to skip the "
            "tests that read it.")


def pytest_collection_modifyitems(config, items):
    skip_shared = None
    if missing_shared():  # only with JIXIAO_TESTS_WITHOUT_SHARED=1: pytest_sessionstart stopped the run otherwise
        skip_shared = pytest.mark.skip(reason=f"reads {SHARED}, which is not there ({WITHOUT_SHARED}=1)")
    for item in items:
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)
        if skip_shared is not None and reads_shared(item.module):
            item.add_marker(skip_shared)


@pytest.fixture
def runner(tmp_path, monkeypatch):
    """A click runner whose database and config live in tmp_path."""
    monkeypatch.setenv("JIXIAO_DB", str(tmp_path / "jixiao.db"))
    monkeypatch.delenv("JIXIAO_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


@pytest.fixture
def sample_paths() -> list[Path]:
    return sorted(SAMPLES.glob("*.txt"))


@pytest.fixture
def settings(tmp_path):
    """The defaults (no JIXIAO_* variable of the shell's counts), a database and an instance folder in tmp_path,
    and the offline rules engine."""
    return load_settings(env={}, db=str(tmp_path / "jixiao.db"), instance=str(tmp_path / "instance"),
                         engine="rules")


@pytest.fixture
def store(settings):
    """A store over `settings`' database."""
    s = Store(settings.db)
    yield s
    s.close()


@pytest.fixture
def app(tmp_path):
    """The review app over a database in tmp_path, with a user of each role (tests.webapp.USERS)."""
    from tests.webapp import make_app

    return make_app(tmp_path)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def browser():
    """Chromium for the browser tests (each module skips itself when CHROMIUM is missing); playwright is
    imported only here, so modules that mix server and browser tests import without it."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM_ARGS

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
