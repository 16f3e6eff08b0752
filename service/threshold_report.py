"""The calibration page's figures (校准), and the changes its apply and revert buttons make.

Joins what the store reads (reviewers' decisions, the applied calibrations, the target escape rate) with the
pure learning (`service.check.threshold_learning`) and the thresholds in force (`service.thresholds`). The
web view (review_ui/calibration.py) only parses the request and renders; `jixiao settings` uses `applied_lines`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from service.check.threshold_learning import (
    CONFIDENCE_LEVEL,
    DEFAULT_TARGET,
    FieldFigures,
    decisions,
    figures,
    propose,
)
from service.export import local_time, zone_of
from service.fields import BY_KEY
from service.labels import LISTS
from service.settings import Settings
from service.thresholds import InForce, calibration_label, in_force, threshold_keys

UNGOVERNED = ("projects", *LISTS)  # keys whose status rules decide, not a threshold: figures only


def key_label(key: str) -> str:
    """A field key as users read it: 年初预算数, 评分表行, 项目, 存在的问题."""
    if key in BY_KEY:
        return BY_KEY[key].zh
    return {"indicators": "评分表行", "projects": "项目", **LISTS}.get(key, key)


MAX_TARGET = 0.10  # a target escape rate above this is a slip (0.5 typed for 0.5 %), not a policy


def parse_target(raw: str | None) -> float:
    """An admin's target escape rate: a fraction (0.003) or a percentage (0.3%), above 0 and at most
    `MAX_TARGET`; ValueError with the reason in Chinese."""
    text = unicodedata.normalize("NFKC", raw or "").strip().replace(" ", "")
    percent = text.endswith("%")
    number = text[:-1] if percent else text
    if not re.fullmatch(r"-?\d{1,3}(\.\d{1,8})?|-?\.\d{1,8}", number):
        raise ValueError("目标漏检率应为数字，例如 0.003 或 0.3%")
    value = float(number) / (100 if percent else 1)
    if not 0 < value < 1:
        raise ValueError("目标漏检率应大于 0 且小于 1（例如 0.003，即 0.3%）")
    if value > MAX_TARGET:  # 「0.5」 typed for 0.5 %: half of all auto-accepted values wrong is no target
        raise ValueError(f"目标漏检率 {value:.4g}（即 {value * 100:.4g}%）过高，最多 {MAX_TARGET:.0%}；"
                         f"若指 {float(number):g}%，请输入 {float(number):g}% 或 {float(number) / 100:g}")
    return value


def target_of(store) -> float:
    found = store.calibration_target()
    return found["target_escape"] if found else DEFAULT_TARGET


@dataclass(frozen=True)
class Row:
    """One field key on the page: its figures, the threshold in force (None where no threshold governs the
    key) and the calibration applied to it (None when none)."""

    key: str
    label: str
    figures: FieldFigures
    in_force: InForce | None
    applied: dict[str, Any] | None

    @property
    def proposed(self) -> float | None:
        return self.figures.proposal.threshold if self.in_force is not None and self.figures.proposal else None

    @property
    def applicable(self) -> bool:
        """A proposal that would change what is applied."""
        return self.proposed is not None and (self.applied is None or self.applied["threshold"] != self.proposed)


def day_writer(settings: Settings) -> Callable[[str], str]:
    zone = zone_of(settings.time_zone)
    return lambda at: local_time(at, zone, "%Y-%m-%d") or at


def report(store, settings: Settings, target: float) -> list[Row]:
    """Every field key, in the review page's order, then the keys no threshold governs."""
    entries, confidences = store.review_decisions()
    found = figures(decisions(entries, confidences), target)
    applied = store.applied_thresholds()
    day = day_writer(settings)
    out = []
    for key in [*threshold_keys(), *UNGOVERNED]:
        governed = key not in UNGOVERNED
        f = found.get(key) or FieldFigures(key, proposal=propose([], target))
        out.append(Row(key, key_label(key), f, in_force(settings, applied, key, day) if governed else None,
                       applied.get(key) if governed else None))
    return out


def apply_changes(rows: Iterable[Row], keys: set[str], seen: dict[str, float], target: float
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    """The changes applying the proposals of `keys` makes, and the keys left out because their proposal is
    no longer the one the page showed (`seen`: key -> threshold), i.e. the data changed since."""
    changes, stale = [], []
    for row in rows:
        if row.key not in keys or not row.applicable:
            continue
        if seen.get(row.key) != row.proposed:
            stale.append(row.key)
            continue
        p = row.figures.proposal
        changes.append({"key": row.key, "new_threshold": row.proposed, "old_threshold": row.in_force.value,
                        "old_source": row.in_force.label, "target_escape": target,
                        "basis": {"looked": p.looked, "corrected": p.corrected, "upper": p.upper,
                                  "needed": p.needed, "level": CONFIDENCE_LEVEL}})
    return changes, stale


def revert_changes(rows: Iterable[Row], keys: set[str], settings: Settings) -> list[dict[str, Any]]:
    """The changes taking back the calibrations applied to `keys`: back to the setting or the default."""
    return [{"key": row.key, "old_threshold": row.applied["threshold"], "old_source": row.in_force.label,
             "new_threshold": in_force(settings, {}, row.key).value}
            for row in rows if row.key in keys and row.applied is not None]


def applied_lines(store, settings: Settings) -> list[str]:
    """`jixiao settings`' lines for the applied calibrations: key, the threshold in force, its source."""
    applied = store.applied_thresholds()
    day = day_writer(settings)
    order = {k: i for i, k in enumerate(threshold_keys())}
    out = []
    for key in sorted(applied, key=lambda k: order.get(k, len(order))):
        now = in_force(settings, applied, key, day)
        if now.source == "calibration":
            out.append(f"{key:<24} {now.value:<8g} {now.label}")
        else:
            shadowed = calibration_label(applied[key], day(applied[key]["at"]))
            out.append(f"{key:<24} {now.value:<8g} {now.label}（{shadowed} 的 {applied[key]['threshold']:g} 未生效）")
    return out
