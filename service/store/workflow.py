"""The store's review workflow: users, the job queue, review items, the audit log, confirmed records.

A mixin of `Store` (same connection, same lock). Every method that changes
several rows does so in ONE transaction. The job queue lives in the `jobs`
table so that it survives restarts: a worker claims a job with one UPDATE;
a job whose worker died (its claim older than the lease) is claimed again;
the document's key is its SHA-256, so a retried job never duplicates it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from service.document import Document
from service.errors import StoreError
from service.labels import AUDIT_NAMES, item_label
from service.models import CONFIRMED, CORRECTED, FIRST_POSITION, REVIEW, Extraction, Section
from service.record import Record
from service.store import rows

QUEUED, EXTRACTING, IN_REVIEW, CONFIRMED_STATE, FAILED = "queued", "extracting", "review", "confirmed", "failed"
DELETED = "deleted"  # review.DELETED: a score row or project a reviewer said is not one
SYSTEM = "系统"
LoginDecision = tuple[float, dict[str, tuple[int, float]]]  # seconds to wait, streaks to write
UNIT_CHOICE_ACTIONS = ("unit_choice", "unit_choice_cleared")  # store.units: a person's choice of a report's unit


class StaleEdit(StoreError):
    """Someone saved this item since the reviewer loaded it; `current` is the item as it is now."""

    def __init__(self, current: dict[str, Any]):
        self.current = current
        who = current.get("updated_by") or SYSTEM
        super().__init__(f"该项已被 {who} 修改，当前值为 {_describe(current.get('value'))}；请查看后再保存")


class LastAdmin(StoreError):
    """A change that would leave no active administrator (checked inside the write: two admins demoting each
    other at once cannot both succeed)."""


class DuplicateRecord(StoreError):
    """A confirm of a second current record for a unit and year; `current` are the records already there."""

    def __init__(self, current: list[dict[str, Any]]):
        self.current = current
        names = "、".join(f"{r['source_name']}（{r['confirmed_by']} 确认）" for r in current)
        super().__init__(f"{current[0]['unit_name']} {current[0]['fiscal_year']} 年度已有确认入库的记录：{names}；"
                         "请选择以哪一份为准（另一份保留为“已被取代”）")


class StaleConfirm(StoreError):
    """A confirm from a page older than someone else's change; `changes` are the audit entries since."""

    def __init__(self, changes: list[dict[str, Any]]):
        self.changes = changes
        said = "；".join(f"{c['user_name']} {AUDIT_NAMES.get(c['action'], c['action'])}"
                        + (f"“{item_label(c['item'])}”" if c.get("item") else "") for c in changes[:5])
        more = f" 等 {len(changes)} 处" if len(changes) > 5 else ""
        super().__init__(f"打开本页后报告已被修改（{said}{more}），未确认入库；请刷新页面查看后再确认")


def _describe(value: Any) -> str:
    """A value as a reviewer reads it: a row by its name and numbers, a list by its length."""
    if value is None:
        return "未提及"
    if isinstance(value, dict):
        numbers = {"weight": "分值", "score": "得分", "spending_actual": "全年执行"}
        parts = [f"{label} {value[k]}" for k, label in numbers.items() if value.get(k) is not None]
        return f"“{value.get('name') or ''}”" + (f"（{'，'.join(parts)}）" if parts else "")
    if isinstance(value, list):
        return f"{len(value)} 条"
    return str(value)


class WorkflowMixin:
    db: Any
    lock: Any
    write: Any  # Store.write: one BEGIN IMMEDIATE transaction

    # -- users ---------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str) -> int:
        with self.write():
            if self.get_user(name) is not None:
                raise StoreError(f"用户 {name} 已存在")
            return self.db["users"].insert({"name": name, "role": role, "password_hash": password_hash,
                                            "active": 1, "created_at": rows.now()}).last_pk

    def get_user(self, name: str) -> dict[str, Any] | None:
        return self._one("users", "name = ?", [name])

    def get_user_by_id(self, user_id: int) -> dict[str, Any] | None:
        return self._one("users", "id = ?", [user_id])

    def list_users(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.db["users"].rows_where(order_by="id"))

    def update_user(self, user_id: int, **changes: Any) -> None:
        """Change role, active or password_hash of a user."""
        allowed = {k: v for k, v in changes.items() if k in ("role", "active", "password_hash")}
        with self.write():
            user = self.get_user_by_id(user_id)
            losing = user is not None and user["role"] == "admin" and user["active"] and \
                (allowed.get("role", "admin") != "admin" or not allowed.get("active", 1))
            if losing and self.db.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1 "
                                          "AND id != ?", [user_id]).fetchone()[0] == 0:
                raise LastAdmin("至少需要保留一名在用的管理员，不能取消最后一名管理员的角色或停用其账号")
            self.db["users"].update(user_id, allowed)
            if "active" in allowed or "password_hash" in allowed:  # every session of theirs ends
                self.db.execute("UPDATE users SET session_version = session_version + 1 WHERE id = ?", [user_id])

    def end_sessions(self, user_id: int) -> None:
        """Log-out: every session of this user ends on the server (the cookie's version no longer matches)."""
        with self.write():
            self.db.execute("UPDATE users SET session_version = session_version + 1 WHERE id = ?", [user_id])

    def active_admins(self) -> int:
        with self.lock:
            return self.db.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1").fetchone()[0]

    def login_attempt(self, keys: Sequence[str], decide: Callable[[dict[str, tuple[int, float]]], LoginDecision],
                      forget_before: float) -> float:
        """One log-in try against the streaks of wrong passwords of `keys`, in one write transaction so that
        tries sent at once to several web processes are counted one after the other. `decide` (the policy,
        review_ui.throttle) gets {key: (failures, last_at)} of the keys that have a streak and returns the
        seconds to wait and the streaks to write; streaks whose last failure is before `forget_before` go."""
        with self.write():
            marks = ",".join("?" * len(keys))
            streaks = {r["key"]: (r["failures"], r["last_at"]) for r in self.db.query(
                f"SELECT key, failures, last_at FROM login_failures WHERE key IN ({marks})", list(keys))}
            wait, changed = decide(streaks)
            self.db.execute("DELETE FROM login_failures WHERE last_at < ?", [forget_before])
            if changed:
                self.db["login_failures"].upsert_all(
                    [{"key": k, "failures": n, "last_at": t} for k, (n, t) in changed.items()], pk="key")
            return wait

    def login_succeeded(self, keys: Sequence[str]) -> None:
        """The password proved right: the streaks of `keys` end."""
        with self.write():
            self.db.execute(f"DELETE FROM login_failures WHERE key IN ({','.join('?' * len(keys))})", list(keys))

    # -- API tokens ----------------------------------------------------------

    def issue_token(self, name: str, token_sha256: str, user: str) -> int:
        with self.write():
            return self.db["api_tokens"].insert({"name": name, "token_sha256": token_sha256, "created_by": user,
                                                 "created_at": rows.now()}).last_pk

    def list_tokens(self) -> list[dict[str, Any]]:
        """Every token ever issued (revoked ones too), newest first, without the hash."""
        with self.lock:
            return [{k: v for k, v in t.items() if k != "token_sha256"}
                    for t in self.db["api_tokens"].rows_where(order_by="id desc")]

    def token_by_sha256(self, token_sha256: str) -> dict[str, Any] | None:
        """The token with this hash if it is not revoked; its last use is noted (at most once a minute)."""
        with self.lock:
            token = self._one("api_tokens", "token_sha256 = ? AND revoked_at IS NULL", [token_sha256])
        if token is not None:
            now = rows.now()
            last = token["last_used_at"]
            if last is None or datetime.fromisoformat(now) - datetime.fromisoformat(last) > timedelta(minutes=1):
                with self.write():
                    self.db["api_tokens"].update(token["id"], {"last_used_at": now})
        return token

    def revoke_token(self, token_id: int, user: str) -> bool:
        """Revoke a token; False when there is no such token or it was revoked already."""
        with self.write():
            done = self.db.execute("UPDATE api_tokens SET revoked_by = ?, revoked_at = ? "
                                   "WHERE id = ? AND revoked_at IS NULL", [user, rows.now(), token_id])
            return done.rowcount == 1

    # -- jobs ----------------------------------------------------------------

    def enqueue(self, sha256: str, name: str, path: str, size: int, user: str,
                lane: str = "text") -> tuple[dict[str, Any], bool]:
        """Queue a stored upload for extraction in `lane`; (job, False) when these bytes were uploaded before."""
        with self.write():
            existing = self.job(sha256)
            if existing is not None:
                return existing, False
            stamp = rows.now()
            self.db["jobs"].insert({"sha256": sha256, "name": name, "path": path, "size": size, "state": QUEUED,
                                    "attempts": 0, "uploaded_by": user, "uploaded_at": stamp,
                                    "updated_at": stamp, "flagged": 0, "lane": lane})
            self._audit(sha256, None, "upload", None, name, user)
            return self.job(sha256), True

    def job(self, sha256: str) -> dict[str, Any] | None:
        return self._one("jobs", "sha256 = ?", [sha256])

    def jobs(self, shas: list[str] | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Jobs by key, or the newest uploads first."""
        with self.lock:
            if shas is not None:
                marks = ",".join("?" * len(shas))
                return list(self.db["jobs"].rows_where(f"sha256 in ({marks})", shas)) if shas else []
            return list(self.db["jobs"].rows_where(order_by="uploaded_at desc, rowid desc", limit=limit,
                                                   offset=offset))

    def claim_job(self, worker: str, lease_s: float, max_attempts: int = 0,
                  lanes: tuple[str, ...] | None = None) -> dict[str, Any] | None:
        """Take the oldest queued job of `lanes` (any lane when None) for `worker`. A job whose worker stopped
        renewing its lease is queued again, unless it was claimed `max_attempts` times already: then it is
        parked as failed with the reason, so one poison file cannot come back forever."""
        now = datetime.now(UTC)
        cutoff = (now - timedelta(seconds=lease_s)).isoformat(timespec="milliseconds")
        with self.write():
            if max_attempts:
                stuck = self.db.execute("SELECT sha256, attempts FROM jobs WHERE state = ? AND claimed_at <= ? "
                                        "AND attempts >= ?", [EXTRACTING, cutoff, max_attempts]).fetchall()
                for sha, attempts in stuck:
                    error = (f"已处理 {attempts} 次均未完成（处理进程每次都中断：可能内存不足、超时或被终止），"
                             "已停止自动重试；请检查文件后由管理员重试")
                    self.db.execute("UPDATE jobs SET state = ?, error = ?, claimed_by = NULL, progress = NULL, "
                                    "updated_at = ? WHERE sha256 = ?", [FAILED, error, rows.now(), sha])
                    self._audit(sha, None, "failed", None, error, SYSTEM)
            for (sha,) in self.db.execute("SELECT sha256 FROM jobs WHERE state = ? AND claimed_at <= ? "
                                          "AND cancel_requested = 1", [EXTRACTING, cutoff]).fetchall():
                self._end_cancelled(sha, "任务已取消（处理它的进程已停止）")
            for sha, was in self.db.execute("SELECT sha256, claimed_by FROM jobs WHERE state = ? AND claimed_at <= ?",
                                            [EXTRACTING, cutoff]).fetchall():
                self._audit(sha, None, "requeued", was, "租约已过期（处理进程未再响应），重新排队", SYSTEM)
            self.db.execute("UPDATE jobs SET state = ?, claimed_by = NULL, progress = NULL, updated_at = ? "
                            "WHERE state = ? AND claimed_at <= ?", [QUEUED, rows.now(), EXTRACTING, cutoff])
            lane_sql, lane_args = "", []
            if lanes is not None:
                lane_sql = f" AND lane IN ({','.join('?' * len(lanes))})"
                lane_args = list(lanes)
            cur = self.db.execute(
                "UPDATE jobs SET state = ?, claimed_by = ?, claimed_at = ?, attempts = attempts + 1, "
                "updated_at = ?, error = NULL, progress = NULL, cancel_requested = 0 "
                f"WHERE sha256 = (SELECT sha256 FROM jobs WHERE state = ?{lane_sql} ORDER BY uploaded_at, rowid "
                "LIMIT 1) AND state = ? RETURNING sha256",
                [EXTRACTING, worker, now.isoformat(timespec="milliseconds"), rows.now(), QUEUED, *lane_args, QUEUED])
            found = cur.fetchone()
        return self.job(found[0]) if found else None

    def renew_lease(self, sha256: str, worker: str) -> bool:
        """The worker's heartbeat: its claim is fresh again. False when the job is no longer this worker's
        or an operator asked to cancel it (the worker then stops working on it)."""
        with self.write():
            cur = self.db.execute("UPDATE jobs SET claimed_at = ? WHERE sha256 = ? AND claimed_by = ? AND state = ? "
                                  "AND cancel_requested = 0",
                                  [datetime.now(UTC).isoformat(timespec="milliseconds"), sha256, worker, EXTRACTING])
            return bool(cur.rowcount)

    def set_progress(self, sha256: str, progress: str | None) -> None:
        """What the job is doing now, for the operator (「OCR 识别第 3/4 页」)."""
        with self.write():
            self.db.execute("UPDATE jobs SET progress = ? WHERE sha256 = ? AND state = ?",
                            [progress, sha256, EXTRACTING])

    def cancel_job(self, sha256: str, user: str) -> bool:
        """An operator stops a job: a queued one fails at once, a running one when its worker next beats."""
        with self.write():
            job = self.job(sha256)
            if job is None or job["state"] not in (QUEUED, EXTRACTING):
                return False
            reason = f"已由 {user} 取消"
            if job["state"] == QUEUED:
                self._end_cancelled(sha256, reason)
            else:
                self.db.execute("UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE sha256 = ?",
                                [rows.now(), sha256])
            self._audit(sha256, None, "cancel", None, reason, user)
            return True

    def end_cancelled(self, sha256: str, worker: str, reason: str) -> None:
        """The worker of a cancelled job gives it up (nothing of its run is written)."""
        with self.write():
            job = self.job(sha256)
            if job is not None and job["state"] == EXTRACTING and job["claimed_by"] == worker:
                self._end_cancelled(sha256, reason)

    def _end_cancelled(self, sha256: str, reason: str) -> None:
        """A cancelled job: a document that already has a run (a re-extraction) goes back to review with it,
        a new one fails with the reason."""
        job = self.job(sha256)
        state, error = (IN_REVIEW, None) if job["run_id"] is not None else (FAILED, reason)
        self.db.execute("UPDATE jobs SET state = ?, error = ?, claimed_by = NULL, progress = NULL, "
                        "cancel_requested = 0, updated_at = ? WHERE sha256 = ?", [state, error, rows.now(), sha256])

    def cancel_requested(self, sha256: str) -> bool:
        job = self.job(sha256)
        return bool(job and job.get("cancel_requested"))

    def jobs_by_prefix(self, prefix: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.db["jobs"].rows_where("sha256 LIKE ?", [prefix.lower() + "%"], limit=2))

    def jobs_to_reextract(self, llm_failures: bool = False, failed: bool = False) -> list[str]:
        """Documents worth extracting again: in review with a failed LLM call in their run (an outage), and/or
        failed jobs."""
        out: list[str] = []
        with self.lock:
            if llm_failures:
                out += [r[0] for r in self.db.execute(
                    "SELECT jobs.sha256 FROM jobs JOIN extraction_runs r ON r.id = jobs.run_id "
                    "WHERE jobs.state = ? AND json_array_length(json_extract(r.stats, '$.llm_failures')) > 0 "
                    "ORDER BY jobs.uploaded_at", [IN_REVIEW]).fetchall()]
            if failed:
                out += [r[0] for r in self.db.execute("SELECT sha256 FROM jobs WHERE state = ? ORDER BY uploaded_at",
                                                      [FAILED]).fetchall()]
        return out

    def reextract_job(self, sha256: str, user: str) -> bool:
        """Queue a document again (after an LLM outage, or for another engine or model): a failed one or one
        in review. What reviewers confirmed or corrected is kept when the new run lands (`complete_job`)."""
        with self.write():
            cur = self.db.execute("UPDATE jobs SET state = ?, error = NULL, claimed_by = NULL, attempts = 0, "
                                  "cancel_requested = 0, updated_at = ? WHERE sha256 = ? AND state IN (?, ?)",
                                  [QUEUED, rows.now(), sha256, FAILED, IN_REVIEW])
            if cur.rowcount:
                self._audit(sha256, None, "reextract", None, None, user)
            return bool(cur.rowcount)

    def complete_job(self, sha256: str, worker: str, doc: Document, sections: list[Section],
                     extraction: Extraction, meta: dict[str, Any], items: list[dict[str, Any]]) -> int:
        """Keep the document, its run and its review items, and mark the job 待审核 — all or nothing."""
        summary = rows.queue_summary(items)
        with self.write():
            job = self.job(sha256)
            if job is None or job["state"] != EXTRACTING or job["claimed_by"] != worker:
                raise StoreError(f"任务 {sha256[:12]} 已不属于本进程（可能已超时被重新分配），结果未保存")
            text_changed = self._write_or_replace_document(doc, sections)
            run_id = self._write_run(doc, extraction, meta)
            self.db.execute(
                "UPDATE jobs SET state = ?, run_id = ?, unit_name = ?, fiscal_year = ?, flagged = ?, progress = NULL, "
                "min_confidence = ?, updated_at = ?, error = NULL WHERE sha256 = ? AND claimed_by = ? "
                "AND state = ?",
                [IN_REVIEW, run_id, summary["unit_name"], summary["fiscal_year"], summary["flagged"],
                 summary["min_confidence"], rows.now(), sha256, worker, EXTRACTING])
            old = list(self.db["review_items"].rows_where("document_sha256 = ?", [sha256]))
            # a page loaded before this run holds the old versions: a save against them is refused
            version = 1 + max((r["version"] for r in old), default=0)
            reviewed = {r["item"]: r for r in old if r["status"] in (CONFIRMED, CORRECTED, DELETED)}
            if text_changed:
                reviewed = {k: _relocated(r, doc.text) for k, r in reviewed.items()}
            self.db.execute("DELETE FROM review_items WHERE document_sha256 = ?", [sha256])
            stamp = rows.now()
            self.db["review_items"].insert_all(
                {"document_sha256": sha256, **{k: _json_if(k, v) for k, v in item.items()}, "version": version,
                 "updated_by": None, "updated_at": stamp} for item in _beside_reviewed(items, reviewed))
            if reviewed:  # a re-extraction keeps what a person confirmed, corrected or deleted
                self.db["review_items"].insert_all({**r, "version": version} for r in reviewed.values())
                self._refresh_summary(sha256)
            self._audit(sha256, None, "extracted", None,
                        f"run {run_id}" + (f"（保留人工确认/更正的 {len(reviewed)} 项）" if reviewed else ""), SYSTEM)
            return run_id

    def fail_job(self, sha256: str, worker: str, error: str) -> None:
        with self.write():
            cur = self.db.execute("UPDATE jobs SET state = ?, error = ?, progress = NULL, updated_at = ? "
                                  "WHERE sha256 = ? AND claimed_by = ? AND state = ?",
                                  [FAILED, error, rows.now(), sha256, worker, EXTRACTING])
            if cur.rowcount:
                self._audit(sha256, None, "failed", None, error, SYSTEM)

    def retry_job(self, sha256: str, user: str) -> bool:
        """Queue a failed job again; False when it is not failed."""
        with self.write():
            cur = self.db.execute("UPDATE jobs SET state = ?, error = NULL, claimed_by = NULL, attempts = 0, "
                                  "updated_at = ? WHERE sha256 = ? AND state = ?", [QUEUED, rows.now(), sha256, FAILED])
            if cur.rowcount:
                self._audit(sha256, None, "retry", None, None, user)
            return bool(cur.rowcount)

    def remove_job(self, sha256: str, user: str, reason: str | None = None) -> dict[str, Any] | None:
        """Take a failed upload (a cancelled one is failed too) out of the queue with everything written for it,
        in one transaction, audited as `remove`: the job and its review items, and, when it had been extracted
        before (a re-extraction that failed), its document with the document's runs. The job as it was (its
        stored file is the caller's to delete), or None when there is no such job or it is not failed."""
        with self.write():
            job = self.job(sha256)
            if job is None or job["state"] != FAILED:
                return None
            self._delete_with_dependents("jobs", "sha256", sha256)
            if job["run_id"] is not None:
                self._delete_with_dependents("documents", "sha256", sha256)
            self._audit(sha256, None, "remove", job["name"], None, user, reason)
            return job

    def replace_job(self, old_sha: str, sha256: str, name: str, path: str, size: int, user: str,
                    lane: str = "text") -> tuple[dict[str, Any], dict[str, Any]] | None:
        """A failed upload replaced by another stored file in one transaction: the failed job removed as
        `remove_job` removes it, the new file queued as `enqueue` queues it, both audited. (old job, new job),
        or None (nothing changed) when the old job is not failed."""
        with self.write():
            old = self.remove_job(old_sha, user, f"替换为 {name}")
            if old is None:
                return None
            job, _ = self.enqueue(sha256, name, path, size, user, lane)
            self._audit(sha256, None, "replace", old["name"], name, user, f"替换处理失败的 {old_sha[:12]}")
            return old, job

    def upload_in_use(self, path: str) -> bool:
        """Whether a job still points at this stored upload."""
        with self.lock:
            return self.db.execute("SELECT 1 FROM jobs WHERE path = ? LIMIT 1", [path]).fetchone() is not None

    def _delete_with_dependents(self, table: str, column: str, value: Any) -> None:
        """Delete the rows of `table` whose `column` is `value`, each row that refers to them by a foreign key
        first (and rows referring to those): whatever tables the migrations gave a job or a document."""
        for child in self.db.table_names():
            for fk in self.db[child].foreign_keys:
                if fk.other_table == table:
                    keys = self.db.execute(f'SELECT DISTINCT "{fk.other_column}" FROM "{table}" WHERE "{column}" = ?',
                                           [value]).fetchall()
                    for (key,) in keys:
                        self._delete_with_dependents(child, fk.column, key)
        self.db.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', [value])

    # -- review items --------------------------------------------------------

    def review_items(self, sha256: str) -> list[dict[str, Any]]:
        with self.lock:
            found = self.db["review_items"].rows_where("document_sha256 = ?", [sha256], order_by="position")
            return [_decode_item(r) for r in found]

    def review_item(self, sha256: str, item: str) -> dict[str, Any] | None:
        with self.lock:
            found = list(self.db["review_items"].rows_where("document_sha256 = ? AND item = ?", [sha256, item]))
        return _decode_item(found[0]) if found else None

    def save_item(self, sha256: str, item: str, version: int, value: Any, status: str, user: str,
                  action: str, reason: str | None = None, evidence: dict | None | bool = False) -> dict[str, Any]:
        """Apply a reviewer's action if nobody saved the item since `version`; audit it; return the item.

        `evidence` (when given) replaces the item's evidence: a corrected value points at where the
        report states it, or at nothing.
        """
        with self.write():
            current = self.review_item(sha256, item)
            if current is None:
                raise LookupError(item)
            job = self.job(sha256)
            if job and job["state"] == CONFIRMED_STATE:
                raise StoreError("该报告已确认入库，不能再修改")
            if current["version"] != version:
                raise StaleEdit(current)
            self.db.execute(
                "UPDATE review_items SET value = ?, status = ?, version = version + 1, updated_by = ?, "
                "updated_at = ? WHERE document_sha256 = ? AND item = ?",
                [rows.to_json(value), status, user, rows.now(), sha256, item])
            if evidence is not False:  # where the report states the corrected value (None: nowhere)
                self.db.execute("UPDATE review_items SET evidence = ? WHERE document_sha256 = ? AND item = ?",
                                [rows.to_json(evidence), sha256, item])
            self._audit(sha256, item, action, current["value"], value, user, reason,
                        old_status=current["status"], old_evidence=current.get("evidence"),
                        confidence=current["confidence"])
            self._refresh_summary(sha256)
            return self.review_item(sha256, item)

    UNDOABLE = ("accept", "correct", "not_stated", "delete", "add", "bulk_accept")
    _UNDO_COLUMNS = ("id", "item", "action", "old_value", "new_value", "old_status", "old_evidence", "batch")

    def undo_last(self, sha256: str, user: str) -> dict[str, Any] | None:
        """Take back `user`'s latest action on this report that is not undone yet: the item's value, status and
        evidence as they were (an added row removed), audited as `undo`; a bulk accept is one action, every
        item of it taken back together. None when there is nothing to undo; StoreError when someone else
        changed an item since (their change is not overwritten, and nothing of the action is undone)."""
        with self.write():
            job = self.job(sha256)
            if job and job["state"] == CONFIRMED_STATE:
                raise StoreError("该报告已确认入库，不能撤销")
            undone = {r[0] for r in self.db.execute(
                "SELECT undoes FROM audit_log WHERE document_sha256 = ? AND undoes IS NOT NULL", [sha256])}
            marks = ",".join("?" * len(self.UNDOABLE))
            pending = [dict(zip(self._UNDO_COLUMNS, r, strict=True)) for r in self.db.execute(
                f"SELECT {', '.join(self._UNDO_COLUMNS)} FROM audit_log "
                f"WHERE document_sha256 = ? AND user_name = ? AND action IN ({marks}) AND undoes IS NULL "
                "ORDER BY id DESC", [sha256, user, *self.UNDOABLE]) if r[0] not in undone]
            if not pending:
                return None
            latest = pending[0]
            step = [e for e in pending if e["batch"] == latest["batch"]] if latest["batch"] is not None else [latest]
            for entry in step:
                self._undo_entry(sha256, user, entry)
            self._refresh_summary(sha256)
            return {"item": latest["item"], "removed": latest["action"] == "add",
                    "current": self.review_item(sha256, latest["item"]),
                    "items": [self.review_item(sha256, e["item"]) for e in step]}

    def _undo_entry(self, sha256: str, user: str, entry: dict[str, Any]) -> None:
        """One audit entry of `user`'s taken back, if the item is still as that entry left it."""
        current = self.review_item(sha256, entry["item"])
        if current is None or current.get("updated_by") != user or \
                rows.to_json(current["value"]) != (entry["new_value"] or "null"):
            raise StoreError(f"“{item_label(entry['item'])}”之后已被他人修改，不能撤销")
        if entry["action"] == "add":
            self.db.execute("DELETE FROM review_items WHERE document_sha256 = ? AND item = ?",
                            [sha256, entry["item"]])
        else:
            self.db.execute(
                "UPDATE review_items SET value = ?, status = ?, evidence = coalesce(?, evidence), "
                "version = version + 1, updated_by = ?, updated_at = ? WHERE document_sha256 = ? AND item = ?",
                [entry["old_value"], entry["old_status"] or REVIEW, entry["old_evidence"], user, rows.now(),
                 sha256, entry["item"]])
        self._audit(sha256, entry["item"], "undo", current["value"],
                    json.loads(entry["old_value"]) if entry["old_value"] else None, user, undoes=entry["id"])

    def add_item(self, sha256: str, kind: str, after: str | None, value: Any, status: str, user: str,
                 reason: str | None = None) -> dict[str, Any]:
        """A score row or project the extraction missed, added by a reviewer below `after` (or last); audited."""
        with self.write():
            job = self._existing_job(sha256)
            if job["state"] == CONFIRMED_STATE:
                raise StoreError("该报告已确认入库，不能再修改")
            mine = list(self.db["review_items"].rows_where("document_sha256 = ? AND kind = ?", [sha256, kind],
                                                           select="item, position"))
            if after is not None:
                anchor = next((r for r in mine if r["item"] == after), None)
                if anchor is None:
                    raise LookupError(after)
                position = anchor["position"] + 1
                self.db.execute("UPDATE review_items SET position = position + 1 "
                                "WHERE document_sha256 = ? AND kind = ? AND position >= ?", [sha256, kind, position])
            else:
                position = max((r["position"] for r in mine), default=FIRST_POSITION[kind] - 1) + 1
            index = max((int(r["item"].partition(":")[2]) for r in mine), default=-1) + 1
            item = f"{kind}:{index}"
            stamp = rows.now()
            self.db["review_items"].insert(
                {"document_sha256": sha256, "item": item, "kind": kind, "position": position,
                 **{k: rows.to_json(v) for k, v in {"value": value, "extracted": None, "evidence": None,
                                                    "issues": [], "candidates": []}.items()},
                 "status": status, "confidence": 1.0, "version": 1, "updated_by": user, "updated_at": stamp})
            self._audit(sha256, item, "add", None, value, user, reason)
            self._refresh_summary(sha256)
            return self.review_item(sha256, item)

    def _refresh_summary(self, sha256: str) -> None:
        s = rows.queue_summary(self.review_items(sha256))
        self.db.execute("UPDATE jobs SET unit_name = ?, fiscal_year = ?, flagged = ?, min_confidence = ?, "
                        "updated_at = ? WHERE sha256 = ?",
                        [s["unit_name"], s["fiscal_year"], s["flagged"], s["min_confidence"], rows.now(),
                         sha256])

    # -- confirming ----------------------------------------------------------

    def last_change(self, sha256: str) -> int:
        """The id of the document's latest audit entry: what a review page was shown, for `confirm`."""
        with self.lock:
            found = self.db.execute("SELECT max(id) FROM audit_log WHERE document_sha256 = ?", [sha256]).fetchone()
        return found[0] or 0

    def current_records_like(self, sha256: str, same_unit: Iterable[str] = ()) -> list[dict[str, Any]]:
        """The current confirmed records of this document's unit and year, other than its own (`same_unit`:
        documents the caller found to be of its unit under another name, by the list of units)."""
        job = self.job(sha256)
        with self.lock:
            return self._current_records(job and job["unit_name"], job and job["fiscal_year"], sha256, same_unit)

    def same_unit_and_year(self, sha256: str) -> list[dict[str, Any]]:
        """Other documents of the same unit and year (「可能重复」: the same report in another format, or a
        corrected resubmission), newest first; failed ones left out."""
        with self.lock:
            job = self.job(sha256)
            if job is None or not job["unit_name"] or job["fiscal_year"] is None:
                return []
            return list(self.db["jobs"].rows_where(
                "unit_name = ? AND fiscal_year = ? AND sha256 != ? AND state != ?",
                [job["unit_name"], job["fiscal_year"], sha256, FAILED], order_by="uploaded_at desc"))

    def confirm(self, sha256: str, user: str, record: Record, seen: int | None = None,
                stands: str | None = None, note: str | None = None, same_unit: Iterable[str] = ()) -> None:
        """Write the reviewed record into the confirmed tables and mark the job 已确认, in one transaction.
        With `seen` (the `last_change` the confirming page was shown), a change by anyone else since then
        refuses the confirm, saying what changed and by whom: nobody confirms a value they did not see.
        `note` is kept as the confirm's reason in the audit log (「已核对上年数差异 1 处：…」)."""
        with self.write():
            if seen is not None:  # a unit chosen for the report meanwhile changes none of its values
                newer = list(self.db["audit_log"].rows_where(
                    "document_sha256 = ? AND id > ? AND user_name != ? AND action NOT IN (?, ?)",
                    [sha256, seen, user, *UNIT_CHOICE_ACTIONS], order_by="id"))
                if newer:
                    raise StaleConfirm(newer)
            waiting = self.db.execute("SELECT count(*) FROM review_items WHERE document_sha256 = ? AND status = ?",
                                      [sha256, REVIEW]).fetchone()[0]
            if waiting:
                raise StoreError(f"还有 {waiting} 项待复核，不能确认入库")
            job = self.job(sha256)
            if job is None or job["state"] != IN_REVIEW:
                raise StoreError("该报告不在待审核状态，不能确认入库")
            stamp = rows.now()
            report = rows.confirmed_report_row(sha256, job, record, user, stamp)
            current = self._current_records(report["unit_name"], report["fiscal_year"], sha256, same_unit)
            if current and stands not in ("this", *(r["document_sha256"] for r in current)):
                raise DuplicateRecord(current)
            for table in ("confirmed_fields", "confirmed_indicators", "confirmed_projects", "confirmed_list_items"):
                self.db.execute(f"DELETE FROM {table} WHERE document_sha256 = ?", [sha256])
            if current:  # one current record per unit and year: the other is kept, superseded, audited
                keep = sha256 if stands == "this" else stands
                for r in [*current, {"document_sha256": sha256}]:
                    if r["document_sha256"] != keep:
                        report_of = r["document_sha256"]
                        if report_of == sha256:
                            report["superseded_by"] = keep
                        else:
                            self.db.execute("UPDATE confirmed_reports SET superseded_by = ? WHERE document_sha256 = ?",
                                            [keep, report_of])
                        self._audit(report_of, None, "superseded", None, keep, user,
                                    f"同单位同年度以 {keep[:12]} 为准")
            self.db["confirmed_reports"].upsert(report, pk="document_sha256")
            self.db["confirmed_fields"].insert_all(rows.confirmed_field_rows(sha256, record))
            self.db["confirmed_indicators"].insert_all(rows.confirmed_indicator_rows(sha256, record))
            self.db["confirmed_projects"].insert_all(rows.confirmed_project_rows(sha256, record))
            self.db["confirmed_list_items"].insert_all(rows.confirmed_list_rows(sha256, record))
            self.db.execute("UPDATE jobs SET state = ?, confirmed_by = ?, confirmed_at = ?, updated_at = ? "
                            "WHERE sha256 = ?", [CONFIRMED_STATE, user, stamp, stamp, sha256])
            self._audit(sha256, None, "confirm", None, None, user, note)

    def confirm_readiness(self, shas: list[str]) -> dict[str, dict[str, Any]]:
        """Of these documents, those in review with nothing flagged, each with the change its queue row was
        drawn at (`seen`, for `confirm`) and the current confirmed records of its unit and year other than
        its own (`current_records`: those ask 以哪一份为准 on the report page)."""
        out = {}
        with self.lock:
            for sha256 in shas:
                job = self.job(sha256)
                if job is None or job["state"] != IN_REVIEW or job["flagged"]:
                    continue
                out[sha256] = {"seen": self.last_change(sha256),
                               "current_records": self._current_records(job["unit_name"], job["fiscal_year"],
                                                                        sha256)}
        return out

    def accept_in_bulk(self, sha256: str, user: str, versions: dict[str, int],
                       status_of: Callable[[dict[str, Any]], str | None]) -> tuple[list[str], int]:
        """接受本节其余项 / 接受全部自动通过项: each item of `versions` (item -> the version the page showed)
        still at that version gets the status `status_of(item)` gives it (None: not to be accepted in bulk),
        as `user`'s, audited one by one as `bulk_accept` with one `batch`, in one transaction. An item changed
        since is skipped, never overwritten. The items accepted and how many were skipped."""
        with self.write():
            job = self._existing_job(sha256)
            if job["state"] != IN_REVIEW:
                raise StoreError("该报告不在待审核状态，不能修改")
            batch = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM audit_log").fetchone()[0]
            accepted = []
            for item, version in versions.items():
                current = self.review_item(sha256, item)
                status = status_of(current) if current is not None and current["version"] == version else None
                if status is None:
                    continue
                self.db.execute(
                    "UPDATE review_items SET status = ?, version = version + 1, updated_by = ?, updated_at = ? "
                    "WHERE document_sha256 = ? AND item = ? AND version = ?",
                    [status, user, rows.now(), sha256, item, version])
                self._audit(sha256, item, "bulk_accept", current["value"], current["value"], user,
                            old_status=current["status"], old_evidence=current.get("evidence"), batch=batch,
                            confidence=current["confidence"])
                accepted.append(item)
            if accepted:
                self._refresh_summary(sha256)
            return accepted, len(versions) - len(accepted)

    def _existing_job(self, sha256: str) -> dict[str, Any]:
        """The job of `sha256`; LookupError when there is none (the routes answer 404)."""
        job = self.job(sha256)
        if job is None:
            raise LookupError(sha256)
        return job

    def reopen(self, sha256: str, user: str, reason: str) -> None:
        """Take a confirmed report out of the confirmed tables and back to 待审核, with who and why audited.

        Its review items keep their reviewed values, so only what was wrong needs a second look.
        """
        with self.write():
            job = self._existing_job(sha256)
            if job["state"] != CONFIRMED_STATE:
                raise StoreError("该报告尚未确认入库，无需重新打开")
            for table in ("confirmed_fields", "confirmed_indicators", "confirmed_projects", "confirmed_list_items",
                          "confirmed_reports"):
                self.db.execute(f"DELETE FROM {table} WHERE document_sha256 = ?", [sha256])
            for (other,) in self.db.execute("SELECT document_sha256 FROM confirmed_reports WHERE superseded_by = ?",
                                            [sha256]).fetchall():  # what this one replaced is current again
                self.db.execute("UPDATE confirmed_reports SET superseded_by = NULL WHERE document_sha256 = ?", [other])
                self._audit(other, None, "current_again", sha256, None, user, "取代它的报告已被重新打开")
            self.db.execute("UPDATE jobs SET state = ?, confirmed_by = NULL, confirmed_at = NULL, updated_at = ? "
                            "WHERE sha256 = ?", [IN_REVIEW, rows.now(), sha256])
            self._audit(sha256, None, "reopen", job["confirmed_by"], None, user, reason)

    def _current_records(self, unit: str | None, year: int | None, besides: str,
                         same_unit: Iterable[str] = ()) -> list[dict[str, Any]]:
        """The current confirmed records of `unit` and `year` but `besides`: by the name, and the documents of
        `same_unit` (the same unit of the list under another name) when they are current records of `year`."""
        if year is None:
            return []
        found = list(self.db["confirmed_reports"].rows_where(
            "unit_name = ? AND fiscal_year = ? AND document_sha256 != ? AND superseded_by IS NULL",
            [unit, year, besides])) if unit else []
        others = [s for s in dict.fromkeys(same_unit) if s != besides and s not in {r["document_sha256"] for r in found}]
        if others:
            found += self.db["confirmed_reports"].rows_where(
                f"document_sha256 IN ({','.join('?' * len(others))}) AND fiscal_year = ? AND superseded_by IS NULL",
                [*others, year])
        return found

    def confirmed_before(self, year: int) -> list[dict[str, Any]]:
        """The current confirmed reports of fiscal years before `year`, only what the checks across years read
        (document_sha256, unit_name, fiscal_year, spending_actual): the review page's spending check."""
        with self.lock:
            return list(self.db.query(
                "SELECT document_sha256, unit_name, fiscal_year, spending_actual FROM confirmed_reports "
                "WHERE fiscal_year < ? AND superseded_by IS NULL ORDER BY fiscal_year", [year]))

    def confirmed_documents(self, superseded: bool = False) -> list[dict[str, Any]]:
        """The confirmed reports; only the current ones (one per unit and year) unless `superseded`."""
        with self.lock:
            where = None if superseded else "superseded_by IS NULL"
            return list(self.db["confirmed_reports"].rows_where(where, order_by="confirmed_at, rowid"))

    def confirmed_indicators_of(self, shas: list[str]) -> list[dict[str, Any]]:
        """The confirmed score rows of these reports, in one query per 500 of them (the overview)."""
        out: list[dict[str, Any]] = []
        with self.lock:
            for i in range(0, len(shas), 500):
                part = shas[i:i + 500]
                out += self.db["confirmed_indicators"].rows_where(
                    f"document_sha256 IN ({','.join('?' * len(part))})", part, order_by="document_sha256, idx")
        return out

    def document_years(self) -> list[int]:
        """The fiscal years of the documents not failed, newest first: the 总览's years (a year whose reports
        are all still in review is one too)."""
        with self.lock:
            rows = self.db.execute("SELECT DISTINCT fiscal_year FROM jobs WHERE fiscal_year IS NOT NULL "
                                   "AND state != 'failed' ORDER BY fiscal_year DESC").fetchall()
        return [r[0] for r in rows]

    def state_counts_of_year(self, year: int | None) -> dict[str, int]:
        """How many of the documents of fiscal year `year` are in each state (the overview)."""
        with self.lock:
            rows = self.db.execute("SELECT state, count(*) FROM jobs WHERE fiscal_year IS ? GROUP BY state",
                                   [year]).fetchall()
        return dict(sorted(rows))

    def confirmed_parts(self, sha256: str) -> dict[str, list[dict[str, Any]]]:
        """The confirmed fields, score rows, projects and list items of one report."""
        with self.lock:
            return {table: [rows.decode(r) for r in self.db[table].rows_where(
                        "document_sha256 = ?", [sha256], order_by="rowid")]
                    for table in ("confirmed_fields", "confirmed_indicators", "confirmed_projects",
                                  "confirmed_list_items")}

    # -- audit ---------------------------------------------------------------

    def audit_entries(self, sha256: str) -> list[dict[str, Any]]:
        with self.lock:
            return [rows.decode(r) for r in self.db["audit_log"].rows_where(
                "document_sha256 = ?", [sha256], order_by="id")]

    def _audit(self, sha256: str, item: str | None, action: str, old: Any, new: Any, user: str,
               reason: str | None = None, old_status: str | None = None, old_evidence: Any = None,
               undoes: int | None = None, batch: int | None = None, confidence: float | None = None) -> None:
        """One audit entry. `old_status` and `confidence`: the item's status and confidence when it was acted
        on (an auto-accepted value a reviewer looked at reads old_status `accepted`), for the calibration page."""
        self.db["audit_log"].insert({"document_sha256": sha256, "item": item, "action": action,
                                     "old_value": rows.to_json(old), "new_value": rows.to_json(new),
                                     "user_name": user, "at": rows.now(), "reason": reason,
                                     "old_status": old_status, "undoes": undoes, "batch": batch,
                                     "old_evidence": rows.to_json(old_evidence) if old_evidence else None,
                                     "confidence": confidence})

    def _one(self, table: str, where: str, args: list[Any]) -> dict[str, Any] | None:
        with self.lock:
            found = list(self.db[table].rows_where(where, args, limit=1))
        return found[0] if found else None


_ITEM_JSON = ("value", "extracted", "evidence", "issues", "candidates")


def _row_identity(kind: str, value: Any) -> tuple | None:
    if kind not in ("indicator", "project") or not isinstance(value, dict):
        return None
    return kind, value.get("table"), value.get("name")


def _beside_reviewed(items: list[dict[str, Any]], reviewed: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A new run's items without those a reviewer already settled: a field or list by its key, a score row
    or project by its table and name; a new row whose key a kept row holds gets the next free key."""
    kept_rows = {_row_identity(r["kind"], json.loads(r[col]) if r[col] else None)
                 for r in reviewed.values() for col in ("value", "extracted")} - {None}
    used = set(reviewed)
    out = []
    for item in items:
        ident = _row_identity(item["kind"], item["value"])
        if item["item"] in reviewed and ident is None or ident in kept_rows:
            continue
        if item["item"] in used:
            kind = item["kind"]
            n = 1 + max(int(k.partition(":")[2]) for k in used | {i["item"] for i in items} if k.startswith(kind + ":"))
            item = {**item, "item": f"{kind}:{n}"}
        used.add(item["item"])
        out.append(item)
    return out


def _relocated(row: dict[str, Any], text: str) -> dict[str, Any]:
    """A kept item's evidence in the document's new text: the same quote where it occurs nearest to where it
    was, else none; its cells and context spans moved with it."""
    ev = json.loads(row["evidence"]) if row.get("evidence") else None
    if not ev or not ev.get("quote"):
        return row
    quote, was = ev["quote"], ev.get("start") or 0
    found = [m.start() for m in re.finditer(re.escape(quote), text)]
    at = min(found, key=lambda x: abs(x - was)) if found else None
    if at is None:
        return {**row, "evidence": rows.to_json(None)}
    shift = at - was

    def moved(span: dict) -> dict | None:
        s, e = span.get("start"), span.get("end")
        if not isinstance(s, int) or not isinstance(e, int) or not 0 <= s + shift < e + shift <= len(text):
            return None
        return {"start": s + shift, "end": e + shift}

    out = {**ev, "start": at, "end": at + len(quote)}
    if ev.get("context"):
        out["context"] = [m for m in (moved(c) for c in ev["context"] if isinstance(c, dict)) if m]
    if ev.get("cells"):
        out["cells"] = {k: m for k, c in ev["cells"].items() if isinstance(c, dict) and (m := moved(c))}
    return {**row, "evidence": rows.to_json(out)}


def _json_if(key: str, value: Any) -> Any:
    return rows.to_json(value) if key in _ITEM_JSON else value


def _decode_item(row: dict[str, Any]) -> dict[str, Any]:
    out = rows.decode(row)
    out.pop("document_sha256", None)
    return out
