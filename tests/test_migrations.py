"""Migrations: databases made by the old hand-written runner keep their history, and a test can add one."""

from __future__ import annotations

import functools
import multiprocessing

import sqlite_utils

from service.store import MIGRATIONS, Store, applied_migrations, migrations

NAMES = [m.__name__ for m in MIGRATIONS]

# The old runner's bookkeeping table, exactly as it created it (its code is gone; this is its format).
OLD_BOOKKEEPING = """CREATE TABLE "_migrations" (
   "name" TEXT PRIMARY KEY NOT NULL,
   "applied_at" TEXT NOT NULL
)"""
OLD_AT = "2025-03-01T08:00:00+00:00"


def old_runner_database(path: str, count: int) -> sqlite_utils.Database:
    """A database as the old runner left it after the first `count` migrations."""
    db = sqlite_utils.Database(path)
    db.execute(OLD_BOOKKEEPING)
    for fn in MIGRATIONS[:count]:
        with db.atomic():
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [fn.__name__, OLD_AT])
    return db


def spy_on_migrations(monkeypatch) -> list[str]:
    """The names of the migrations run from now on (the store reads `migrations.MIGRATIONS` at each run)."""
    ran: list[str] = []

    def spying(fn):
        @functools.wraps(fn)
        def run(db):
            ran.append(fn.__name__)
            fn(db)
        return run

    monkeypatch.setattr(migrations, "MIGRATIONS", [spying(fn) for fn in MIGRATIONS])
    return ran


def schema(db: sqlite_utils.Database) -> set[tuple[str, str, str]]:
    return set(db.execute("SELECT type, name, sql FROM sqlite_master").fetchall())


def test_old_history_is_moved_and_only_newer_migrations_run(tmp_path, monkeypatch):
    path = str(tmp_path / "old.db")
    db = old_runner_database(path, 10)  # before m011_ocr_line_parts_page_sizes
    db["documents"].insert({"sha256": "ab" * 32, "name": "自评报告.docx", "kind": "docx", "text": "正文",
                            "ocr": 0, "page_count": 1, "created_at": OLD_AT, "warnings": "[]"})
    db["confirmed_reports"].insert({"document_sha256": "ab" * 32, "source_name": "自评报告.docx",
                                    "unit_name": "某某局", "confirmed_by": "审核员", "confirmed_at": OLD_AT})
    db.close()
    ran = spy_on_migrations(monkeypatch)

    store = Store(path)

    assert ran == NAMES[10:]  # m011_ocr_line_parts_page_sizes and every one after it
    assert applied_migrations(store.db) == NAMES
    moved = store.db.execute("SELECT applied_at FROM _sqlite_migrations ORDER BY id LIMIT 10").fetchall()
    assert moved == [(OLD_AT,)] * 10  # when each old one ran is kept
    assert not store.db["_migrations"].exists()
    assert [r["unit_name"] for r in store.db["confirmed_reports"].rows] == ["某某局"]
    assert store.document_count() == 1
    assert "parts" in store.db["ocr_lines"].columns_dict and "batch" in store.db["audit_log"].columns_dict
    store.close()
    assert ran == NAMES[10:]  # m011_ocr_line_parts_page_sizes and every one after it
    Store(path).close()
    assert len(ran) == len(NAMES) - 10  # opened again: nothing more to run


def test_fully_migrated_old_database_ends_like_a_fresh_one(tmp_path, monkeypatch):
    old_runner_database(str(tmp_path / "old.db"), len(MIGRATIONS)).close()
    fresh = Store(str(tmp_path / "fresh.db"))
    ran = spy_on_migrations(monkeypatch)

    moved = Store(str(tmp_path / "old.db"))

    assert ran == []
    assert schema(moved.db) == schema(fresh.db)
    assert applied_migrations(moved.db) == NAMES


def test_registered_migration_runs_inside_the_block_only(tmp_path):
    Store(str(tmp_path / "existing.db")).close()

    def m900_add_public_rank(db):
        db["confirmed_reports"].add_column("public_rank", int)

    with migrations.registered(m900_add_public_rank):
        fresh = Store(str(tmp_path / "fresh.db"))
        existing = Store(str(tmp_path / "existing.db"))
    after = Store(str(tmp_path / "after.db"))

    for store in (fresh, existing):
        assert "public_rank" in store.db["confirmed_reports"].columns_dict
        assert applied_migrations(store.db) == [*NAMES, "m900_add_public_rank"]
    assert "public_rank" not in after.db["confirmed_reports"].columns_dict
    assert [m.__name__ for m in migrations.MIGRATIONS] == NAMES


def _open_at_once(path: str, start, errors) -> None:
    """A process of a deployment starting up: wait for the others, then open (and so migrate) the file."""
    start.wait()
    try:
        Store(path).close()
    except Exception as e:  # reported to the test, which names it
        errors.put(f"{type(e).__name__}: {e}")


def test_processes_opening_a_new_database_at_once_apply_each_migration_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    start, errors = ctx.Event(), ctx.Queue()
    path = str(tmp_path / "jixiao.db")
    procs = [ctx.Process(target=_open_at_once, args=(path, start, errors)) for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == [] and [p.exitcode for p in procs] == [0] * 4
    db = sqlite_utils.Database(path)
    assert applied_migrations(db) == NAMES  # each once, in order
    assert schema(db) == schema(Store(str(tmp_path / "fresh.db")).db)
