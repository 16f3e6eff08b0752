"""The SQLite store: the only code in the project that writes SQL.

`open_db` opens (creating it if need be) and migrates a database. `Store`
writes a document and its extraction runs, each call in ONE transaction, so a
failure part way leaves nothing of that call behind, and reads back what the
CLI and the review UI show. Documents are content-addressed: their key is the
SHA-256 of the file's bytes, so the same file seen twice is one document and
every name it arrived under is kept in `document_names`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from service.document import Document
from service.errors import StoreError
from service.models import Extraction, Section
from service.store import rows
from service.store.calibration import CalibrationMixin
from service.store.migrations import migrate
from service.store.prior import PriorMixin
from service.store.queue import QueueMixin
from service.store.units import UnitsMixin
from service.store.workflow import WorkflowMixin


def open_db(path: str, migrate_now: bool = True) -> Database:
    """Open `path` with WAL and foreign keys on, creating parent folders, and migrate it (unless told not to)."""
    try:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # one connection shared by the batch's worker threads; every use goes through Store's lock
        db = Database(sqlite3.connect(path, check_same_thread=False))
        # first, so that even switching a new file to WAL waits for another process opening it at once
        db.execute("PRAGMA busy_timeout = 10000")  # the web app and a separate worker process share the file
        _enable_wal(db)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA recursive_triggers = ON")  # a REPLACE's delete fires delete triggers (the job counts)
    except (OSError, sqlite3.Error) as e:
        raise StoreError(f"无法打开数据库 {path}：{e}") from e
    if migrate_now:
        migrate(db)
    return db


def _enable_wal(db: Database, wait: float = 10.0) -> None:
    """Switch the file to WAL, waiting as busy_timeout would: SQLite answers a journal-mode change that races
    another process opening a new file with "database is locked" at once, without calling the busy handler
    (it would deadlock), so the switch is asked again for up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


DISK_FULL = "数据库所在磁盘已满，本次写入未保存（数据库未做任何更改）；请清理磁盘空间后重试"


class Store(QueueMixin, WorkflowMixin, CalibrationMixin, UnitsMixin, PriorMixin):
    """Documents and extraction runs in one SQLite database (and the review workflow, calibration, the units
    registry, last year's figures reports state)."""

    def __init__(self, db: Database | str, migrate: bool = True):
        self.db = open_db(db, migrate) if isinstance(db, str) else db
        self.lock = threading.RLock()  # documents of a batch may be processed on several threads

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction, taking SQLite's write lock at its start (BEGIN IMMEDIATE).

        With a plain BEGIN, a transaction that reads and then writes fails at once with "database is
        locked" when another connection (the web app, a worker process) wrote in between; taking the
        lock first makes it wait (busy_timeout) instead. Nested calls become savepoints.
        """
        with self.lock:
            if self.db.conn.in_transaction:
                with self.db.atomic():
                    yield
                return
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    if self.db.conn.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as e:
                if self.db.conn.in_transaction:
                    self.db.execute("ROLLBACK")
                if "full" in str(e):  # SQLITE_FULL: the disk (or the database's size limit) is full
                    raise StoreError(DISK_FULL) from e
                raise

    # -- writing -------------------------------------------------------------

    def save_document(self, doc: Document, sections: list[Section]) -> bool:
        """Keep `doc` and its parts; False when the same bytes were already stored."""
        return self._atomically(doc, lambda: self._write_document(doc, sections))

    def save_run(self, doc: Document, sections: list[Section], extraction: Extraction,
                 meta: dict[str, Any]) -> int:
        """Keep `doc` (if new) and one extraction run of it; return the run's id."""
        def write() -> int:
            self._write_document(doc, sections)
            return self._write_run(doc, extraction, meta)
        return self._atomically(doc, write)

    def _atomically(self, doc: Document, write: Callable[[], Any]) -> Any:
        try:
            with self.write():
                return write()
        except Exception as e:
            raise StoreError(f"保存文件 {doc.name} 失败，数据库未做任何更改：{e}") from e

    def _write_document(self, doc: Document, sections: list[Section]) -> bool:
        new = self._insert_or_ignore("documents", rows.document_row(doc))
        self._insert_or_ignore("document_names", rows.name_row(doc))
        if not new:
            return False
        self.db["pages"].insert_all(rows.page_rows(doc))
        self.db["sections"].insert_all(rows.section_rows(doc, sections))
        self.db["tables"].insert_all(rows.document_tables(doc))
        self.db["ocr_lines"].insert_all(rows.ocr_line_rows(doc))
        return True

    def _write_or_replace_document(self, doc: Document, sections: list[Section]) -> bool:
        """Keep `doc`; when its bytes were read into another text before (a reader fixed since, e.g. its
        encoding), the stored text and its parts are replaced by the new reading. True when replaced."""
        found = self.db.execute("SELECT text FROM documents WHERE sha256 = ?", [doc.sha256]).fetchone()
        if found is None or found[0] == doc.text:
            self._write_document(doc, sections)
            return False
        for table in ("pages", "sections", "tables", "ocr_lines"):
            self.db.execute(f'DELETE FROM "{table}" WHERE document_sha256 = ?', [doc.sha256])
        self._forget_prior_statements(doc.sha256)  # their offsets were into the old text
        self.db["documents"].update(doc.sha256, rows.document_row(doc))
        self._write_document(doc, sections)  # its name, and the parts again
        self.db["pages"].insert_all(rows.page_rows(doc))
        self.db["sections"].insert_all(rows.section_rows(doc, sections))
        self.db["tables"].insert_all(rows.document_tables(doc))
        self.db["ocr_lines"].insert_all(rows.ocr_line_rows(doc))
        return True

    def _insert_or_ignore(self, table: str, row: dict[str, Any]) -> bool:
        """Insert `row` unless its key exists; True when it was inserted."""
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join(f":{c}" for c in row)
        cur = self.db.execute(f'INSERT OR IGNORE INTO "{table}" ({cols}) VALUES ({marks})', row)
        return cur.rowcount == 1

    def _write_run(self, doc: Document, extraction: Extraction, meta: dict[str, Any]) -> int:
        run_id = self.db["extraction_runs"].insert(rows.run_row(doc, extraction, meta)).last_pk
        self.db["field_results"].insert_all(rows.field_rows(run_id, extraction))
        self.db["indicator_results"].insert_all(rows.indicator_results(run_id, extraction))
        self.db["project_results"].insert_all(rows.project_rows(run_id, extraction))
        self.db["list_results"].insert_all(rows.list_rows(run_id, extraction))
        return run_id

    # -- reading -------------------------------------------------------------

    def cached_answer(self, key: str) -> dict[str, Any] | None:
        """A stored LLM answer (JSON-decoded `response`, token counts), or None."""
        with self.lock:
            rows = list(self.db["llm_cache"].rows_where("key = ?", [key]))
        if not rows:
            return None
        row = rows[0]
        return {**row, "response": json.loads(row["response"])}

    def cache_answer(self, key: str, model: str, prompt: str, prompt_version: str, response: dict,
                     prompt_tokens: int, completion_tokens: int) -> None:
        with self.write():
            self.db["llm_cache"].insert(
                {"key": key, "model": model, "prompt": prompt, "prompt_version": prompt_version,
                 "response": json.dumps(response, ensure_ascii=False), "prompt_tokens": prompt_tokens,
                 "completion_tokens": completion_tokens,
                 "created_at": datetime.now(UTC).isoformat(timespec="seconds")}, replace=True)

    def document_count(self) -> int:
        return self.db["documents"].count

    def run_count(self) -> int:
        return self.db["extraction_runs"].count

    def list_documents(self) -> list[dict[str, Any]]:
        """Every document, newest first, without its text, with its run count."""
        sql = """
            select d.sha256, d.name, d.kind, d.ocr, d.page_count, d.created_at,
                   count(r.id) as run_count, max(r.id) as latest_run_id
            from documents d left join extraction_runs r on r.document_sha256 = d.sha256
            group by d.sha256 order by d.created_at desc, d.rowid desc
        """
        return [rows.decode(r) for r in self.db.query(sql)]

    def get_document(self, sha256: str) -> dict[str, Any] | None:
        """The document row with its names, pages, sections, tables and OCR lines."""
        found = list(self.db["documents"].rows_where("sha256 = ?", [sha256]))
        if not found:
            return None
        doc = rows.decode(found[0])
        doc["names"] = [r["name"] for r in self._children("document_names", sha256, "rowid")]
        doc["pages"] = self._children("pages", sha256, "number")
        for table in ("sections", "tables", "ocr_lines"):
            doc[table] = self._children(table, sha256, "idx")
        return doc

    def has_run(self, sha256: str, engine: str, engine_version: str) -> bool:
        """Whether this document was already extracted by this engine at this version."""
        with self.lock:
            return bool(list(self.db["extraction_runs"].rows_where(
                "document_sha256 = ? and engine = ? and engine_version = ?", [sha256, engine, engine_version],
                limit=1)))

    def latest_run(self, sha256: str) -> dict[str, Any] | None:
        """The newest run of a document with everything it read, or None."""
        found = list(self.db["extraction_runs"].rows_where(
            "document_sha256 = ?", [sha256], order_by="id desc", limit=1))
        if not found:
            return None
        run = rows.decode(found[0])
        fields = self._run_children("field_results", run["id"], "rowid")
        run["fields"] = {f["key"]: f for f in fields}
        run["indicators"] = self._run_children("indicator_results", run["id"], "idx")
        run["projects"] = self._run_children("project_results", run["id"], "idx")
        lists = self._run_children("list_results", run["id"], "rowid")
        run["lists"] = {x["key"]: x for x in lists}
        return run

    def _children(self, table: str, sha256: str, order_by: str) -> list[dict[str, Any]]:
        where = self.db[table].rows_where("document_sha256 = ?", [sha256], order_by=order_by)
        return [_without(rows.decode(r), "document_sha256") for r in where]

    def _run_children(self, table: str, run_id: int, order_by: str) -> list[dict[str, Any]]:
        where = self.db[table].rows_where("run_id = ?", [run_id], order_by=order_by)
        return [_without(rows.decode(r), "run_id") for r in where]


def _without(row: dict[str, Any], column: str) -> dict[str, Any]:
    row.pop(column, None)
    return row
