"""Acceptance thresholds learned from what reviewers did (issue 17): per field, how often a value a person
looked at was wrong, by the confidence it was extracted with, and the lowest threshold that keeps the values
accepted without review right often enough.

The input is the audit log's item entries (what the store records when a reviewer acts on an item: the
action, the value before and after, the item's status and confidence at that moment) and, for entries written
before the confidence was recorded there (migration m018), the items' own confidences. Pure functions: no
SQL, no Flask. (`service.check.calibration` is another thing: routing measured offline by injecting mistakes
into gold values.)

One *decision* per value the machine read and a person then settled:
- its field key: the scalar field's key; `indicators` for a score-table row, `projects` for a project,
  `problems` / `measures` for the lists (`threshold_key`);
- `machine_status`: what the machine said before anyone touched it, the first entry's `old_status`:
  `accepted` (自动通过) or `review` (sent to review);
- `looked_at`: a person acted on this value by itself (确认无误, 更正, 未提及, 删除此行). A bulk accept
  (接受本节其余项 / 接受全部自动通过项) is not a look at the value, and neither is confirming the report with
  the value untouched: nothing records that anyone read it;
- `corrected`: the value it ended with differs from the machine's, or the row was deleted. Undone entries
  do not count; what an undo restored is what stands.
Values the machine left empty are not decisions (presence decides those, not a threshold), nor rows a
reviewer added, nor values whose every action was undone.

A re-extraction replaces the items nobody had settled: an entry on an item after the document's latest
`extracted` entry, whose item was back in a machine status, starts a new decision.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TARGET = 0.003  # 0.3 %: at most 3 wrong values in 1,000 accepted without review
CONFIDENCE_LEVEL = 0.95  # of the one-sided upper bound on the escape rate
ACCEPTED, REVIEW = "accepted", "review"
LOOKS = ("accept", "correct", "not_stated", "delete")  # a person's action on one value
ITEM_ACTIONS = (*LOOKS, "bulk_accept", "undo", "add")
TOO_LITTLE = "数据太少，无法判断"
NONE_MEETS = "在现有数据下没有能达到目标的阈值"


def threshold_key(item: str) -> str:
    """The key a review item's threshold goes by: field:unit_name -> unit_name, indicator:3 -> indicators."""
    kind, _, key = item.partition(":")
    return {"field": key, "indicator": "indicators", "project": "projects", "list": key}.get(kind, kind)


@dataclass(frozen=True)
class Decision:
    document: str
    item: str
    key: str
    confidence: float
    machine_status: str
    looked_at: bool
    corrected: bool


def decisions(entries: Iterable[Mapping[str, Any]],
              item_confidence: Mapping[tuple[str, str], float] | None = None) -> list[Decision]:
    """Every value a person settled, from audit entries (decoded: `old_value`/`new_value` as values) in any
    order; `item_confidence`: (document, item) -> the item's confidence, for entries without their own."""
    ordered = sorted(entries, key=lambda e: e["id"])
    undone = {e["undoes"] for e in ordered if e["action"] == "undo" and e.get("undoes") is not None}
    out = []
    for group in _histories(ordered):
        found = _decision(group, undone, item_confidence or {})
        if found is not None:
            out.append(found)
    return out


def _histories(ordered: list[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Entries grouped per value: per (document, item), split where a re-extraction replaced the item."""
    extracted: dict[str, int] = {}
    current: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    groups = []
    for e in ordered:
        sha, item = e["document_sha256"], e.get("item")
        if item is None:
            if e["action"] == "extracted":
                extracted[sha] = e["id"]
            continue
        if e["action"] == "undo" or e["action"] not in ITEM_ACTIONS:
            continue
        group = current.get((sha, item))
        replaced = group is not None and group[-1]["id"] < extracted.get(sha, 0) and \
            e.get("old_status") in (ACCEPTED, REVIEW)
        if group is None or replaced:
            group = current[(sha, item)] = []
            groups.append(group)
        group.append(e)
    return groups


def _decision(group: list[Mapping[str, Any]], undone: set[int],
              item_confidence: Mapping[tuple[str, str], float]) -> Decision | None:
    first = group[0]
    machine_value = first.get("old_value")
    if first["action"] == "add" or first.get("old_status") not in (ACCEPTED, REVIEW) or machine_value in (None, []):
        return None
    standing = [e for e in group if e["id"] not in undone]
    sha, item = first["document_sha256"], first["item"]
    confidence = first.get("confidence")
    if confidence is None:
        confidence = item_confidence.get((sha, item))
    if not standing or confidence is None:
        return None
    last = standing[-1]
    corrected = last["action"] == "delete" or last.get("new_value") != machine_value
    return Decision(sha, item, threshold_key(item), float(confidence), first["old_status"],
                    any(e["action"] in LOOKS for e in standing), corrected)


# -- the statistics ------------------------------------------------------------------------------------


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (n in the hundred thousands is fine)."""
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
             for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def upper_bound(k: int, n: int, level: float = CONFIDENCE_LEVEL) -> float:
    """The one-sided Clopper-Pearson upper bound on a rate seen as k in n: the p at which seeing k or fewer
    has probability 1 - level (for k = 0: 1 - (1 - level)^(1/n), about 3/n, the "rule of three")."""
    if n == 0 or k >= n:
        return 1.0
    alpha, low, high = 1.0 - level, k / n, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if binomial_cdf(k, n, mid) > alpha else (low, mid)
    return high


def meets(k: int, n: int, target: float, level: float = CONFIDENCE_LEVEL) -> bool:
    """Whether k corrected in n looked-at values shows, at `level`, an escape rate of at most `target`: the
    Clopper-Pearson upper bound is <= target exactly when P(X <= k | n, target) <= 1 - level."""
    return n > 0 and binomial_cdf(k, n, target) <= 1.0 - level


def min_sample(target: float, level: float = CONFIDENCE_LEVEL) -> int:
    """The fewest looked-at values that can show an escape rate of at most `target`: even with none of them
    corrected, fewer leave the upper bound above the target. 998 for the default 0.3 % at 95 %; 59 for 5 %."""
    n = math.ceil(math.log(1.0 - level) / math.log1p(-target))
    return n if meets(0, n, target, level) else n + 1


@dataclass(frozen=True)
class Proposal:
    """The lowest threshold that meets the target, or None with the reason (`why`, Chinese). `looked`,
    `corrected` and `upper`: the looked-at values at or above it, how many were corrected, and the upper bound
    of their escape rate; `needed`: the minimum sample for this target."""

    threshold: float | None
    needed: int
    looked: int = 0
    corrected: int = 0
    upper: float | None = None
    why: str | None = None


def propose(points: Iterable[tuple[float, bool]], target: float = DEFAULT_TARGET,
            level: float = CONFIDENCE_LEVEL) -> Proposal:
    """The lowest threshold t among the confidences seen such that, of the looked-at values (confidence,
    corrected) with confidence >= t, the corrected share is at most `target` with `level` confidence.

    The minimum sample is not a fixed N: the upper bound of the escape rate must be at or below the target, so
    a field with few values cannot pass however clean they are (`min_sample`), and one with a few corrections
    needs more. The exact (Clopper-Pearson) bound is used rather than Wilson's interval, which near a rate of
    zero is narrower than the data can show (for no corrections in n, about 2.7/n against 3/n): a threshold
    lowered on too little evidence lets mistakes through unreviewed, so the conservative bound is the right one.
    """
    points = sorted(points, reverse=True)  # most confident first
    needed = min_sample(target, level)
    at_least: list[tuple[float, int, int]] = []  # (t, values >= t, corrected among them), t descending
    corrected = 0
    for i, (conf, wrong) in enumerate(points):
        corrected += wrong
        if i + 1 == len(points) or points[i + 1][0] != conf:
            at_least.append((conf, i + 1, corrected))
    for t, n, k in reversed(at_least):  # lowest t first: the most values
        if n < needed:
            break  # fewer values at every higher t: none of them can pass
        if meets(k, n, target, level):
            return Proposal(round(t, 4), needed, n, k, upper_bound(k, n, level))
    why = TOO_LITTLE if len(points) < needed else NONE_MEETS
    return Proposal(None, needed, why=why)


@dataclass
class FieldFigures:
    """What the calibration page shows of one field key."""

    key: str
    auto_looked: int = 0  # accepted automatically, then looked at by a person
    auto_corrected: int = 0  # … and corrected: an escape the person caught
    auto_bulk: int = 0  # accepted automatically, then only accepted in bulk (not looked at)
    sent: int = 0  # sent to review and settled by a person
    sent_unchanged: int = 0  # … accepted as the machine read it: review that was not needed
    points: list[tuple[float, bool]] = field(default_factory=list, repr=False)
    proposal: Proposal | None = None

    @property
    def escape_rate(self) -> float | None:
        return self.auto_corrected / self.auto_looked if self.auto_looked else None

    @property
    def wasted_share(self) -> float | None:
        return self.sent_unchanged / self.sent if self.sent else None


def figures(found: Iterable[Decision], target: float = DEFAULT_TARGET,
            level: float = CONFIDENCE_LEVEL) -> dict[str, FieldFigures]:
    """Per field key: the counts, the observed rates and the proposed threshold."""
    out: dict[str, FieldFigures] = defaultdict(lambda: FieldFigures(""))
    for d in found:
        f = out[d.key]
        f.key = d.key
        if d.machine_status == ACCEPTED and not d.looked_at:
            f.auto_bulk += 1
            continue
        if d.machine_status == ACCEPTED:
            f.auto_looked += 1
            f.auto_corrected += d.corrected
        else:
            f.sent += 1
            f.sent_unchanged += not d.corrected
        f.points.append((d.confidence, d.corrected))
    for f in out.values():
        f.proposal = propose(f.points, target, level)
    return dict(out)
