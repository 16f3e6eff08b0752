"""The store's units registry (应报送单位) and the units people chose for reports.

A mixin of `Store` (same connection, same lock). Each change to the list is one transaction with its entry in
`unit_audit` (the audit log is per document; users have none, units do); a person's choice of a report's unit
is kept in `record_units` and audited in that document's `audit_log`. An import writes its whole file or
nothing. Units are given as `service.units.registry.clean_unit` makes them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from service.errors import StoreError
from service.store import rows
from service.store.workflow import UNIT_CHOICE_ACTIONS
from service.units.matching import name_clash
from service.units.registry import CATEGORIES, Unit, registry_key, unit_from_row

UNIT_COLUMNS = ("name", "category", "code", "aliases")
CHOICE, CHOICE_CLEARED = UNIT_CHOICE_ACTIONS  # audit_log actions of a person's choice (not a change of values)


class UnitsMixin:
    db: Any
    lock: Any
    write: Any  # Store.write: one BEGIN IMMEDIATE transaction
    _audit: Any  # WorkflowMixin._audit: an entry of a document's audit log

    # -- reading -------------------------------------------------------------

    def list_units(self) -> list[dict[str, Any]]:
        """The registry, by category (乡镇, 街道, 部门) then name."""
        order = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(CATEGORIES))
        with self.lock:
            found = self.db.query(f"SELECT * FROM units ORDER BY CASE category {order} END, name_key")
            return [_decoded(r) for r in found]

    def registry(self) -> list[Unit]:
        return [unit_from_row(r) for r in self.list_units()]

    def get_unit(self, unit_id: int) -> dict[str, Any] | None:
        with self.lock:
            found = list(self.db["units"].rows_where("id = ?", [unit_id], limit=1))
        return _decoded(found[0]) if found else None

    def unit_audit_entries(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest changes to the list, newest first."""
        with self.lock:
            return [rows.decode(r) for r in self.db["unit_audit"].rows_where(order_by="id desc", limit=limit)]

    def unit_choices(self) -> dict[str, dict[str, Any]]:
        """Every person's choice: document -> {unit_id, chosen_by, chosen_at}."""
        with self.lock:
            return {r["document_sha256"]: r for r in self.db["record_units"].rows}

    def unit_choice(self, sha256: str) -> dict[str, Any] | None:
        with self.lock:
            found = list(self.db["record_units"].rows_where("document_sha256 = ?", [sha256], limit=1))
        return found[0] if found else None

    def documents_for_units(self, year: int | None = None) -> list[dict[str, Any]]:
        """The documents that may be a unit's report: every job but the failed ones and the confirmed records
        another replaced (superseded), of fiscal year `year` (every year when None)."""
        where, args = "jobs.state != 'failed' AND c.superseded_by IS NULL", []
        if year is not None:
            where += " AND jobs.fiscal_year = ?"
            args.append(year)
        with self.lock:
            return list(self.db.query(
                "SELECT jobs.sha256, jobs.name, jobs.unit_name, jobs.fiscal_year, jobs.state FROM jobs "
                f"LEFT JOIN confirmed_reports c ON c.document_sha256 = jobs.sha256 WHERE {where} "
                "ORDER BY jobs.fiscal_year DESC, jobs.unit_name, jobs.uploaded_at", args))

    # -- changing the list ---------------------------------------------------

    def add_unit(self, unit: dict[str, Any], user: str) -> int:
        """Add a unit; StoreError when its name or code is already in the list."""
        with self.write():
            self._refuse_clash(unit, None)
            unit_id = self._insert_unit(unit, user)
            self._unit_audit(unit_id, "add", None, unit, user)
            return unit_id

    def update_unit(self, unit_id: int, unit: dict[str, Any], user: str) -> bool:
        """Change a unit's name, category, code and aliases; False when nothing changed. LookupError when there is
        no such unit, StoreError when the new name or code is another unit's."""
        with self.write():
            before = self.get_unit(unit_id)
            if before is None:
                raise LookupError(unit_id)
            if _kept(before) == _kept(unit):
                return False
            self._refuse_clash(unit, unit_id)
            self._write_unit(unit_id, unit, user)
            self._unit_audit(unit_id, "update", _kept(before), unit, user)
            return True

    def delete_unit(self, unit_id: int, user: str) -> dict[str, Any] | None:
        """Take a unit out of the list, and every report's choice of it (each audited in its document's log, the
        report is matched automatically again); the unit as it was, or None when there is none."""
        with self.write():
            before = self.get_unit(unit_id)
            if before is None:
                return None
            label = unit_from_row(before).label
            for (sha256,) in self.db.execute("SELECT document_sha256 FROM record_units WHERE unit_id = ?",
                                             [unit_id]).fetchall():
                self._audit(sha256, None, CHOICE_CLEARED, label, None, user, f"单位「{before['name']}」已从名单中删除")
            self.db.execute("DELETE FROM record_units WHERE unit_id = ?", [unit_id])
            self.db.execute("DELETE FROM units WHERE id = ?", [unit_id])
            self._unit_audit(unit_id, "delete", _kept(before), None, user)
            return before

    def import_units(self, units: list[Any], user: str, source: str) -> dict[str, int]:
        """A registry file's units (`UnitRow`s, each with its `line`) into the list in one transaction: each is
        matched to a unit of the list by its code, else by its name, and added, updated or left as it is; a code
        or alias the file leaves empty keeps the unit's own. Units the file does not name stay. Importing the same
        file again changes nothing. StoreError naming the lines when a row would take another unit's name or
        code (nothing is written). Counts of added, updated and unchanged."""
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        with self.write():
            plan = self._import_plan(units, source)
            for row, unit_id, before, after in plan:
                reason = f"导入 {source} 第 {row.line} 行"
                if unit_id is None:
                    new_id = self._insert_unit(after, user)
                    self._unit_audit(new_id, "import_add", None, after, user, reason)
                    counts["added"] += 1
                elif _kept(before) == after:
                    counts["unchanged"] += 1
                else:
                    self._write_unit(unit_id, after, user)
                    self._unit_audit(unit_id, "import_update", _kept(before), after, user, reason)
                    counts["updated"] += 1
        return counts

    def _import_plan(self, units: list[Any], source: str) -> list[tuple[Any, int | None, dict | None, dict]]:
        """(row, the unit it updates or None to add, that unit as it is, the unit as it will be) per row; StoreError
        naming every row that would clash with another unit of the list, or two rows naming one unit."""
        existing = self.list_units()
        by_code = {u["code"]: u for u in existing if u["code"]}
        by_key = {u["name_key"]: u for u in existing}
        claimed: dict[int, int] = {}
        plan, problems = [], []
        for row in units:
            target = by_code.get(row.code) if row.code else None
            target = target or by_key.get(registry_key(row.name))
            after = {"name": row.name, "category": row.category,
                     "code": row.code or (target or {}).get("code"),
                     "aliases": list(row.aliases) if row.aliases else list((target or {}).get("aliases") or [])}
            if target is not None and target["id"] in claimed:
                problems.append(f"第 {row.line} 行与第 {claimed[target['id']]} 行对应名单中的同一个单位「{target['name']}」")
                continue
            holder = by_key.get(registry_key(row.name))
            if target is not None and holder is not None and holder["id"] != target["id"]:
                problems.append(f"第 {row.line} 行：代码 {row.code} 属于「{target['name']}」，"
                                f"但名称「{row.name}」是名单中另一个单位（代码 {holder['code'] or '无'}）的")
                continue
            if target is not None:
                claimed[target["id"]] = row.line
            plan.append((row, target and target["id"], target, after))
        # the list as it will be: an alias may not be another unit's name or alias, as matching compares them
        final = {u["id"]: unit_from_row(u) for u in existing}
        for i, (_row, unit_id, _before, after) in enumerate(plan):
            final[unit_id if unit_id is not None else -1 - i] = unit_from_row({"id": unit_id, **after})
        for i, (row, unit_id, _before, _after) in enumerate(plan):
            key = unit_id if unit_id is not None else -1 - i
            why = name_clash(final[key], [u for k, u in final.items() if k != key])
            if why:
                problems.append(f"第 {row.line} 行：{why}")
        if problems:
            raise StoreError(f"{source}：有 {len(problems)} 行与名单中已有的单位冲突，未导入任何单位。" + "；".join(problems[:20]))
        return plan

    def _refuse_clash(self, unit: dict[str, Any], unit_id: int | None) -> None:
        """StoreError when another unit of the list has this unit's name (as compared) or code, or when one of
        its aliases is another unit's name or alias as matching compares them (`name_clash`)."""
        found = self.db.execute("SELECT name FROM units WHERE name_key = ? AND id IS NOT ?",
                                [registry_key(unit["name"]), unit_id]).fetchone()
        if found:
            raise StoreError(f"名单中已有单位「{found[0]}」")
        if unit.get("code"):
            found = self.db.execute("SELECT name FROM units WHERE code = ? AND id IS NOT ?",
                                    [unit["code"], unit_id]).fetchone()
            if found:
                raise StoreError(f"代码 {unit['code']} 已是单位「{found[0]}」的代码")
        why = name_clash(unit_from_row({"id": unit_id, **unit}), [u for u in self.registry() if u.id != unit_id])
        if why:
            raise StoreError(why)

    def _insert_unit(self, unit: dict[str, Any], user: str) -> int:
        try:
            return self.db["units"].insert({**_row(unit), "created_by": user, "created_at": rows.now()}).last_pk
        except sqlite3.IntegrityError as e:
            raise StoreError(f"无法添加单位「{unit['name']}」：名称或代码与名单中已有的单位重复") from e

    def _write_unit(self, unit_id: int, unit: dict[str, Any], user: str) -> None:
        try:
            self.db["units"].update(unit_id, {**_row(unit), "updated_by": user, "updated_at": rows.now()})
        except sqlite3.IntegrityError as e:
            raise StoreError(f"无法修改单位「{unit['name']}」：名称或代码与名单中已有的单位重复") from e

    def _unit_audit(self, unit_id: int, action: str, old: Any, new: Any, user: str, reason: str | None = None) -> None:
        self.db["unit_audit"].insert({"unit_id": unit_id, "action": action, "old_value": rows.to_json(old),
                                      "new_value": rows.to_json(new), "user_name": user, "at": rows.now(),
                                      "reason": reason})

    # -- a person's choice of a report's unit ----------------------------------------------------------------------

    def choose_unit(self, sha256: str, unit_id: int | None, user: str) -> bool:
        """`user` says which unit of the list this document is (None: back to the automatic match), audited in
        the document's log; False when that was already so. LookupError for no such document or unit."""
        with self.write():
            if self.db.execute("SELECT 1 FROM jobs WHERE sha256 = ?", [sha256]).fetchone() is None:
                raise LookupError(sha256)
            before = self.unit_choice(sha256)
            was = self.get_unit(before["unit_id"]) if before else None
            was_label = unit_from_row(was).label if was else None
            if unit_id is None:
                if before is None:
                    return False
                self.db.execute("DELETE FROM record_units WHERE document_sha256 = ?", [sha256])
                self._audit(sha256, None, CHOICE_CLEARED, was_label, None, user, "改回自动匹配")
                return True
            unit = self.get_unit(unit_id)
            if unit is None:
                raise LookupError(unit_id)
            if before is not None and before["unit_id"] == unit_id:
                return False
            self.db["record_units"].upsert({"document_sha256": sha256, "unit_id": unit_id, "chosen_by": user,
                                            "chosen_at": rows.now()}, pk="document_sha256")
            self._audit(sha256, None, CHOICE, was_label, unit_from_row(unit).label, user)
            return True


def _row(unit: dict[str, Any]) -> dict[str, Any]:
    return {"name": unit["name"], "name_key": registry_key(unit["name"]), "category": unit["category"],
            "code": unit.get("code") or None, "aliases": json.dumps(list(unit.get("aliases") or []), ensure_ascii=False)}


def _kept(unit: dict[str, Any] | None) -> dict[str, Any] | None:
    """The columns a person sets, as compared and audited."""
    if unit is None:
        return None
    return {"name": unit["name"], "category": unit["category"], "code": unit.get("code") or None,
            "aliases": list(unit.get("aliases") or [])}


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "aliases": json.loads(row["aliases"] or "[]")}
