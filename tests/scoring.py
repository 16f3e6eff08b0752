"""The shared scorer (../shared/tools/score.py) and gold answers, for tests that score records."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCORE_PY = Path(__file__).resolve().parents[2] / "shared" / "tools" / "score.py"
GOLD = SCORE_PY.parents[1] / "gold"


def load_scorer():
    spec = importlib.util.spec_from_file_location("shared_score", SCORE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fraction(text: str) -> tuple[int, int]:
    """`"3/3"` -> (3, 3)."""
    sent, total = text.split("/")
    return int(sent), int(total)
