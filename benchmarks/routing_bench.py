"""Routing calibration on the five samples: share of injected mistakes sent to review, per kind.

    .venv/bin/python benchmarks/routing_bench.py

Uses ../shared/gold and the bundled sample reports; prints markdown tables: field mistakes, then
score-table row mistakes, then the share of correct gold values (fields, rows) that routing sends to
review; last, the row mistakes again as if the rules extractor read none of the rows (grid only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.check.calibration import ROW_KINDS, Tally, calibrate, calibrate_rows_on_grid  # noqa: E402
from service.ingest import load  # noqa: E402
from service.sections import split_sections  # noqa: E402

GOLD = ROOT.parent / "shared" / "gold"


def main() -> None:
    tallies: dict[str, Tally] = {}
    correct, correct_rows = Tally(), Tally()
    grid: dict[str, Tally] = {}
    grid_correct = Tally()
    for path in sorted(GOLD.glob("*.json")):
        doc = load(ROOT.parent / "shared" / "reports" / f"{path.stem}.txt")
        gold = json.loads(path.read_text(encoding="utf-8"))
        calibrate(doc, split_sections(doc), gold, tallies, correct, correct_rows)
        calibrate_rows_on_grid(doc, gold, grid, grid_correct)
    total = print_mistakes(tallies)
    for what, tally in (("correct gold field values (not must_review)", correct),
                        ("correct gold score-table rows", correct_rows),
                        ("correct gold values, fields and rows together", together(correct, correct_rows))):
        print(f"| {what} sent to review | {tally.total} | {tally.total - tally.caught} | {1 - tally.share:.1%} |")
    print("\nScore-table rows with no second opinion (the rules extractor's rows hidden):\n")
    print_mistakes(grid)
    print(f"| correct gold score-table rows sent to review | {grid_correct.total} | "
          f"{grid_correct.total - grid_correct.caught} | {1 - grid_correct.share:.1%} |")
    print_list("escapes (accepted although wrong)", total.escapes)
    print_list("correct values sent to review", correct.escapes + correct_rows.escapes)
    print_list("correct rows sent to review with no second opinion", grid_correct.escapes)


def print_mistakes(tallies: dict[str, Tally]) -> Tally:
    """One line per kind, field kinds first; returns the sum."""
    print("| injected mistake | injected | sent to review | share |")
    print("|---|---|---|---|")
    total = Tally()
    for kind, t in sorted(tallies.items(), key=lambda item: (item[0] in ROW_KINDS, item[0])):
        print(f"| {kind} | {t.total} | {t.caught} | {t.share:.1%} |")
        total = together(total, t)
    print(f"| **all mistakes** | {total.total} | {total.caught} | **{total.share:.1%}** |")
    return total


def together(a: Tally, b: Tally) -> Tally:
    return Tally(a.caught + b.caught, a.total + b.total, a.escapes + b.escapes)


def print_list(title: str, lines: list[str]) -> None:
    if lines:
        print(f"\n{title}:")
        for line in lines:
            print("  " + line)


if __name__ == "__main__":
    main()
