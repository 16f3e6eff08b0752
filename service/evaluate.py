"""Score records against gold answers: the figures of ../shared/tools/score.py, per field and overall.

correct   the value equals the gold value (or an allowed alternative)
auto_ok   correct and trusted, and the gold does not require a look
review    sent to review (a person looks)
escape    trusted but wrong, or trusted although the gold says a person must look
missed    no value although the report states one, and not sent to review
made_up   a value for a field the report does not state
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict

from service.core.numbers import squeeze

TRUSTED = {"accepted", "confirmed", "corrected", None, ""}
KINDS = ("correct", "auto_ok", "review", "escape", "missed", "made_up")


def _norm(s) -> str:
    return squeeze(s).rstrip("。;；,，")


def _date(s):
    m = re.search(r"(\d{4})\D+(\d{1,2})\D+(\d{1,2})", unicodedata.normalize("NFKC", str(s)))
    return tuple(int(g) for g in m.groups()) if m else _norm(s)


def same(key: str, got, want) -> bool:
    if want is None:
        return got is None or got == "" or got == []
    if got is None:
        return False
    if key == "report_date":
        return _date(got) == _date(want)
    if isinstance(want, int | float) and not isinstance(want, bool):
        try:
            # score.py's own tolerance (abs 1e-6), so that `jixiao eval` prints the figures score.py gives
            return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-6)
        except (TypeError, ValueError):
            return False
    return _norm(got) == _norm(want)


def score_record(gold: dict, record: dict) -> dict[str, dict[str, int]]:
    """Per field: 1 in each outcome that applies."""
    out: dict[str, dict[str, int]] = {}
    fields = record.get("fields") or {}
    for key, spec in (gold.get("fields") or {}).items():
        want, alts, must = spec, [], False
        if isinstance(spec, dict) and "value" in spec:
            want, alts, must = spec["value"], spec.get("alternatives", []), bool(spec.get("must_review"))
        f = fields.get(key)
        got, status = (f.get("value"), f.get("status")) if isinstance(f, dict) else (f, None)
        correct = any(same(key, got, w) for w in [want, *alts])
        row = dict.fromkeys(KINDS, 0)
        row["correct"] = int(correct)
        if status == "review":
            row["review"] = 1
        elif got is None and not correct:
            row["missed"] = 1
        elif correct and not must:
            row["auto_ok"] = 1
        else:
            row["escape"] = 1
        row["made_up"] = int(want is None and got is not None and not correct)
        row["n"] = 1
        out[key] = row
    return out


def summarize(per_report: list[dict[str, dict[str, int]]]) -> tuple[dict[str, dict[str, int]], dict[str, float]]:
    by_field: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*KINDS, "n"), 0))
    for report in per_report:
        for key, row in report.items():
            for k, v in row.items():
                by_field[key][k] += v
    total = dict.fromkeys((*KINDS, "n"), 0)
    for row in by_field.values():
        for k, v in row.items():
            total[k] += v
    n = total["n"] or 1
    overall = {"accuracy": total["correct"] / n, "automation": total["auto_ok"] / n,
               "review_rate": total["review"] / n, "escape_rate": total["escape"] / n,
               "missed_rate": total["missed"] / n, "made_up": total["made_up"], "fields": total["n"]}
    return dict(by_field), overall
