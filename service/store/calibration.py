"""The store's part of the calibration page (校准): what reviewers did, read for learning thresholds, and the
thresholds and target escape rate an admin applied, each kept in an append-only log (migration m019).

A mixin of `Store` (same connection, same lock), like `workflow.WorkflowMixin`. The latest
`threshold_changes` row of a key is what is applied to it: `apply` with its `new_threshold`, or `revert`
(none). Every change is a row, who and when, the threshold in force before and after: the log is the audit.
"""

from __future__ import annotations

import json
from typing import Any

from service.check.threshold_learning import ITEM_ACTIONS
from service.store import rows

APPLY, REVERT = "apply", "revert"


class CalibrationMixin:
    db: Any
    lock: Any
    write: Any

    def review_decisions(self) -> tuple[list[dict[str, Any]], dict[tuple[str, str], float]]:
        """The audit entries thresholds are learned from (every item action, and each document's `extracted`),
        decoded, in order; and each review item's confidence by (document, item), for entries written before
        their confidence was (m018)."""
        marks = ",".join("?" * len(ITEM_ACTIONS))
        with self.lock:
            entries = [rows.decode(dict(zip(("id", "document_sha256", "item", "action", "old_value", "new_value",
                                             "old_status", "confidence", "undoes"), r, strict=True)))
                       for r in self.db.execute(
                           "SELECT id, document_sha256, item, action, old_value, new_value, old_status, confidence, "
                           f"undoes FROM audit_log WHERE (item IS NOT NULL AND action IN ({marks})) "
                           "OR (item IS NULL AND action = 'extracted') ORDER BY id", list(ITEM_ACTIONS))]
            confidence = {(sha, item): conf for sha, item, conf in self.db.execute(
                "SELECT document_sha256, item, confidence FROM review_items")}
        return entries, confidence

    def applied_thresholds(self) -> dict[str, dict[str, Any]]:
        """Key -> the calibration applied to it now: {threshold, user_name, at, target_escape}."""
        with self.lock:
            if not self.db["threshold_changes"].exists():  # a database not migrated yet (jixiao settings)
                return {}
            found = self.db.execute(
                "SELECT key, action, new_threshold, user_name, at, target_escape FROM threshold_changes t "
                "WHERE id = (SELECT max(id) FROM threshold_changes WHERE key = t.key) ORDER BY key").fetchall()
        return {key: {"threshold": new, "user_name": user, "at": at, "target_escape": target}
                for key, action, new, user, at, target in found if action == APPLY}

    def apply_thresholds(self, changes: list[dict[str, Any]], user: str) -> None:
        """Apply calibrations, in one transaction: each change is {key, new_threshold, old_threshold, old_source,
        target_escape, basis} (the threshold in force before it and where it came from, the figures it rests on)."""
        self._threshold_changes(APPLY, changes, user)

    def revert_thresholds(self, changes: list[dict[str, Any]], user: str) -> None:
        """Take applied calibrations back, in one transaction: each {key, old_threshold (the calibration),
        old_source, new_threshold (what is in force without it)}."""
        self._threshold_changes(REVERT, changes, user)

    def _threshold_changes(self, action: str, changes: list[dict[str, Any]], user: str) -> None:
        stamp = rows.now()
        with self.write():
            self.db["threshold_changes"].insert_all(
                {"key": c["key"], "action": action, "old_threshold": c.get("old_threshold"),
                 "new_threshold": c.get("new_threshold"), "old_source": c.get("old_source"),
                 "target_escape": c.get("target_escape"),
                 "basis": rows.to_json(c["basis"]) if c.get("basis") is not None else None,
                 "user_name": user, "at": stamp} for c in changes)

    def threshold_history(self, limit: int = 200) -> list[dict[str, Any]]:
        """The latest threshold changes, newest first."""
        with self.lock:
            found = list(self.db["threshold_changes"].rows_where(order_by="id desc", limit=limit))
        return [{**r, "basis": json.loads(r["basis"]) if r["basis"] else None} for r in found]

    def calibration_target(self) -> dict[str, Any] | None:
        """The target escape rate an admin set last: {target_escape, user_name, at}, or None."""
        with self.lock:
            found = list(self.db["calibration_targets"].rows_where(order_by="id desc", limit=1))
        return found[0] if found else None

    def set_calibration_target(self, target: float, user: str) -> None:
        with self.write():
            self.db["calibration_targets"].insert({"target_escape": target, "user_name": user, "at": rows.now()})
