"""The store's part of the previous-year check: each document's statements of last year's figures, kept.

A mixin of `Store` (same connection, same lock). Finding the statements is `service.check.prior_year`'s job
(pure); this module only keeps what was found (`prior_scans`, `prior_statements`, migration m020) and reads
what the check compares them with: the document's text and the confirmed reports of a year.
"""

from __future__ import annotations

import json
from typing import Any

from service.store import rows

_CHUNK = 500  # documents per query (SQLite's variable limit is far above; a year's overview has thousands)
STATEMENT_COLUMNS = ("key", "year", "value", "digits", "computed", "note", "quote", "start", "end", "value_start",
                     "value_end", "context")


class PriorMixin:
    db: Any
    lock: Any
    write: Any  # Store.write: one BEGIN IMMEDIATE transaction

    def kept_prior_statements(self, wanted: dict[str, int], finder: str) -> dict[str, list[dict[str, Any]]]:
        """Of the documents in `wanted` (sha256 -> the fiscal year to read them for), those already read by
        `finder` for that year, each with its statements in text order ([] when it has none). A document read
        by another finder version, or for another year, is left out: it is to be read again."""
        out: dict[str, list[dict[str, Any]]] = {}
        shas = list(wanted)
        with self.lock:
            for i in range(0, len(shas), _CHUNK):
                part = shas[i:i + _CHUNK]
                marks = ",".join("?" * len(part))
                for sha, by, year in self.db.execute(
                        f"SELECT document_sha256, finder, fiscal_year FROM prior_scans WHERE document_sha256 IN ({marks})",
                        part).fetchall():
                    if by == finder and year == wanted[sha]:
                        out[sha] = []
                for row in self.db["prior_statements"].rows_where(
                        f"document_sha256 IN ({marks})", part, order_by="document_sha256, idx"):
                    if row["document_sha256"] in out:
                        out[row["document_sha256"]].append(_decoded(row))
        return out

    def keep_prior_statements(self, sha256: str, fiscal_year: int, finder: str,
                              statements: list[dict[str, Any]]) -> bool:
        """What `finder` found in the document's text for `fiscal_year`, in place of anything kept before, in one
        transaction; False (nothing kept) when the document is not stored."""
        with self.write():
            if self.db.execute("SELECT 1 FROM documents WHERE sha256 = ?", [sha256]).fetchone() is None:
                return False
            self._forget_prior_statements(sha256)
            self.db["prior_scans"].insert({"document_sha256": sha256, "finder": finder, "fiscal_year": fiscal_year,
                                           "scanned_at": rows.now()})
            self.db["prior_statements"].insert_all(
                {"document_sha256": sha256, "idx": i, **{k: s.get(k) for k in STATEMENT_COLUMNS},
                 "computed": int(bool(s.get("computed"))), "context": json.dumps(s.get("context") or [])}
                for i, s in enumerate(statements))
        return True

    def _forget_prior_statements(self, sha256: str) -> None:
        """Within a write: the document's kept statements and scan gone (its text was replaced, or read again)."""
        self.db.execute("DELETE FROM prior_statements WHERE document_sha256 = ?", [sha256])
        self.db.execute("DELETE FROM prior_scans WHERE document_sha256 = ?", [sha256])

    def document_text(self, sha256: str) -> str | None:
        """A stored document's text alone (the statements' offsets point into it)."""
        with self.lock:
            found = self.db.execute("SELECT text FROM documents WHERE sha256 = ?", [sha256]).fetchone()
        return found[0] if found else None

    def confirmed_of_year(self, year: int) -> list[dict[str, Any]]:
        """The current confirmed reports of fiscal year `year` (one per unit and year)."""
        with self.lock:
            return list(self.db["confirmed_reports"].rows_where("fiscal_year = ? AND superseded_by IS NULL", [year],
                                                                order_by="confirmed_at, rowid"))


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in STATEMENT_COLUMNS}
    out["computed"] = bool(out["computed"])
    out["context"] = tuple(tuple(span) for span in json.loads(out["context"] or "[]"))
    return out
