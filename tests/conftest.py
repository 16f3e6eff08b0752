"""Shared fixtures: sample reports, a CLI runner with an isolated database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "reports"  # the five real reports, read in place (never copied into the project)
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, never `playwright install`


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
