"""The shared scorer (../shared/tools/score.py) and gold answers, for tests that score records."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import SHARED

SCORE_PY = SHARED / "tools" / "score.py"
GOLD = SHARED / "gold"


def load_scorer():
    spec = importlib.util.spec_from_file_location("shared_score", SCORE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fraction(text: str) -> tuple[int, int]:
    """`"3/3"` -> (3, 3)."""
    sent, total = text.split("/")
    return int(sent), int(total)


def score_records(records: dict, tmp_path: Path, gold: Path = GOLD) -> tuple[dict, str]:
    """Write `{stem: record}` as JSON and score them against the gold: (summary, readable report)."""
    import json

    score = load_scorer()
    for stem, record in records.items():
        (tmp_path / f"{stem}.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    golds = sorted(p for p in gold.glob("*.json") if p.stem in records)
    assert [p.stem for p in golds] == sorted(records)
    results = [score.score_one(g, tmp_path / f"{g.stem}.json") for g in golds]
    report = "\n".join(line for r in results for line in [r["name"], *r["lines"]])
    summary = score.summarize(results)
    assert summary["records_found"] == len(records)
    return summary, report
