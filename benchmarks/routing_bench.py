"""Routing calibration on the five samples: share of injected mistakes sent to review, per kind.

    .venv/bin/python benchmarks/routing_bench.py

Uses ../shared/gold and the bundled sample reports; prints a markdown table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.calibration import Tally, calibrate  # noqa: E402
from service.ingest import load  # noqa: E402
from service.sections import split_sections  # noqa: E402

GOLD = ROOT.parent / "shared" / "gold"


def main() -> None:
    tallies: dict[str, Tally] = {}
    correct = Tally()
    for path in sorted(GOLD.glob("*.json")):
        doc = load(ROOT / "service" / "samples" / f"{path.stem}.txt")
        calibrate(doc, split_sections(doc), json.loads(path.read_text(encoding="utf-8")), tallies, correct)
    print("| injected mistake | injected | sent to review | share |")
    print("|---|---|---|---|")
    total = Tally()
    for kind, t in sorted(tallies.items()):
        print(f"| {kind} | {t.total} | {t.caught} | {t.share:.1%} |")
        total.caught += t.caught
        total.total += t.total
        total.escapes += t.escapes
    print(f"| **all mistakes** | {total.total} | {total.caught} | **{total.share:.1%}** |")
    wrongly = correct.total - correct.caught
    print(f"| correct gold values (not must_review) sent to review | {correct.total} | {wrongly} | "
          f"{wrongly / correct.total:.1%} |")
    if total.escapes:
        print("\nescapes (accepted although wrong):")
        for e in total.escapes:
            print("  " + e)


if __name__ == "__main__":
    main()
