"""How well routing works: inject realistic model mistakes into gold values and see what reaches review.

Each kind of mistake is applied to one field at a time of a gold record, the
record is re-checked against its report (`service.recheck`), and the
perturbed field either goes to review (caught) or is accepted (an escape).
The correct gold values are checked too: the share of them sent to review is
what routing costs reviewers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from .document import Document
from .fields import BY_KEY
from .models import Section
from .recheck import recheck

NEIGHBOURS = [("expense_basic", "expense_project"), ("income_general_budget", "income_total"),
              ("budget_initial", "budget_full_year"), ("assets_total", "net_assets"),
              ("staff_authorized", "staff_actual"), ("sangong_actual", "sangong_reception_actual"),
              ("expense_total", "spending_actual"), ("expense_personnel", "expense_public")]


def _digits(v) -> str:
    return format(Decimal(str(v)), "f")


def drop_digit(v, rng):
    s = _digits(v)
    idx = [i for i, ch in enumerate(s) if ch.isdigit()]
    if len(idx) < 2:
        return None
    i = rng.choice(idx[1:])
    return _number(s[:i] + s[i + 1:])


def transpose_digits(v, rng):
    s = _digits(v)
    pairs = [i for i in range(len(s) - 1) if s[i].isdigit() and s[i + 1].isdigit() and s[i] != s[i + 1]]
    if not pairs:
        return None
    i = rng.choice(pairs)
    return _number(s[:i] + s[i + 1] + s[i] + s[i + 2:])


def yuan_as_wan(v, rng):
    return v * 10000 if v else None


def rounded(v, rng):
    r = round(float(v), 1)
    return r if r != float(v) else (round(float(v)) if round(float(v)) != float(v) else None)


def _number(s: str):
    d = Decimal(s)
    return int(d) if d == d.to_integral_value() and "." not in s else float(d)


NUMERIC_MISTAKES: dict[str, Callable] = {
    "digit dropped": drop_digit,
    "digits transposed": transpose_digits,
    "元 read as 万元": yuan_as_wan,
    "rounded": rounded,
}


@dataclass
class Tally:
    caught: int = 0
    total: int = 0
    escapes: list[str] = field(default_factory=list)

    def add(self, caught: bool, what: str) -> None:
        self.total += 1
        self.caught += int(caught)
        if not caught:
            self.escapes.append(what)

    @property
    def share(self) -> float:
        return self.caught / self.total if self.total else 1.0


def gold_record(gold: dict) -> tuple[dict, set[str]]:
    fields = {k: {"value": v["value"] if isinstance(v, dict) else v} for k, v in gold["fields"].items()}
    must = {k for k, v in gold["fields"].items() if isinstance(v, dict) and v.get("must_review")}
    return {"fields": fields}, must


def mistakes(record: dict, seed: int = 0) -> list[tuple[str, str, object]]:
    """(kind, field, wrong value) for every mistake that applies to this record."""
    rng = random.Random(seed)
    values = {k: f["value"] for k, f in record["fields"].items()}
    out = []
    for key, v in values.items():
        kind = BY_KEY[key].kind if key in BY_KEY else None
        if v is None:
            if kind == "money":
                out.append(("made-up value", key, round(rng.uniform(1, 3000), 2)))
            elif kind == "int":
                out.append(("made-up value", key, rng.randint(1, 80)))
            continue
        if kind in ("money", "score", "percent", "int") and isinstance(v, int | float):
            for name, fn in NUMERIC_MISTAKES.items():
                if name == "元 read as 万元" and kind != "money":
                    continue
                wrong = fn(v, rng)
                if wrong is not None and wrong != v:
                    out.append((name, key, wrong))
        if key == "fiscal_year" and isinstance(v, int):
            out.append(("report's year as fiscal year", key, v + 1))
    for a, b in NEIGHBOURS:
        if values.get(a) is not None and values.get(b) is not None and values[a] != values[b]:
            out.append(("neighbouring field's value", a, values[b]))
    if values.get("budget_initial") is not None and values.get("budget_full_year") is not None \
            and values["budget_initial"] != values["budget_full_year"]:
        out.append(("年初/全年 swapped", "budget_initial", values["budget_full_year"]))
        out.append(("年初/全年 swapped", "budget_full_year", values["budget_initial"]))
    return out


def calibrate(doc: Document, sections: list[Section], gold: dict, tallies: dict[str, Tally],
              correct: Tally) -> None:
    """Add this report's caught/missed mistakes per kind to `tallies`, and its correct values to `correct`."""
    record, must = gold_record(gold)
    checked = recheck(doc, sections, record)["fields"]
    for key, f in checked.items():
        if f.get("value") is not None and key not in must:
            correct.add(f.get("status") != "review", f"{doc.name}:{key}={f['value']}")
    for kind, key, wrong in mistakes(record):
        perturbed = {"fields": {**record["fields"], key: {"value": wrong}}}
        status = recheck(doc, sections, perturbed)["fields"][key].get("status")
        tallies.setdefault(kind, Tally()).add(status == "review", f"{doc.name}:{key}={wrong}")
