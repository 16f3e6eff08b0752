"""Shared fixtures: sample reports, a CLI runner with an isolated database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "service" / "samples"
SHARED = ROOT.parent / "shared"


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
