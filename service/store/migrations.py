"""Schema migrations: an append-only list of small named functions.

Each function takes a `sqlite_utils.Database` and is registered, in order, with
`@migration` into `MIGRATIONS`. Applying them is sqlite-utils' job, not ours:
`migrate(db)` hands the list to `sqlite_utils.migrations.Migrations` (set
"jixiao"), which records each applied migration in `_sqlite_migrations` and runs
it, together with that record, inside ONE transaction, so a migration that
fails leaves no trace and stays pending. The library is used because that
bookkeeping is exactly what it is kept (and tested) for; a copy of it here
would be a second place for the same idea.

What is still hand-written, and why:
- `MIGRATIONS`, a plain list the store reads at each `migrate(db)`: a test can
  add a migration for one block with `registered(fn)` (a field registry test's
  new `confirmed_reports` column) without it leaking into the next test.
- the failure message: a migration that fails raises `StoreError` naming it.
- a one-off move of the old runner's history: databases made before the switch
  list their migrations in `_migrations`; those are recorded in
  `_sqlite_migrations` (keeping when they ran) and `_migrations` is dropped, so
  none runs again (`_move_old_history`).

NEVER edit a migration that has shipped: databases in the field already ran
it and will not run it again. Change the schema by appending a new
`mNNN_what_it_does` function. Migrations spell out their tables literally
(no shared helpers) so that editing other code cannot change one after the
fact. `tests/test_store.py` checks the exact schema a blank database gets;
`tests/test_migrations.py` the move of old history, `registered`, and processes migrating at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from service.errors import StoreError

Migration = Callable[[Database], None]

MIGRATIONS: list[Migration] = []

MIGRATION_SET = "jixiao"  # this project's name in sqlite-utils' `_sqlite_migrations.migration_set`
OLD_TABLE = "_migrations"  # where the hand-written runner (until m012) recorded what it applied


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration; its name is its identity."""
    if any(m.__name__ == fn.__name__ for m in MIGRATIONS):
        raise ValueError(f"duplicate migration name: {fn.__name__}")
    MIGRATIONS.append(fn)
    return fn


@contextlib.contextmanager
def registered(*fns: Migration) -> Iterator[None]:
    """`fns` registered after the others inside the block only: every `migrate(db)` (so every
    `Store(path)`) in it applies them too. For tests; shipped migrations use `@migration` here."""
    before = list(MIGRATIONS)
    try:
        for fn in fns:
            migration(fn)
        yield
    finally:
        MIGRATIONS[:] = before


def migration_set(migrations: Sequence[Migration]) -> Migrations:
    """`migrations`, in order, as sqlite-utils' migration set for this project."""
    chosen = Migrations(MIGRATION_SET)
    for fn in migrations:
        chosen(name=fn.__name__)(fn)
    return chosen


def applied_migrations(db: Database) -> list[str]:
    """Names of the migrations recorded in `db`, in the order they ran."""
    return [m.name for m in Migrations(MIGRATION_SET).applied(db)]


def migrate(db: Database, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply the pending migrations in order; return the names applied now.

    The web app and separate worker processes open the same file, often at once (a deployment starting up).
    Each pending migration runs in its own transaction that takes SQLite's write lock first (BEGIN
    IMMEDIATE) and asks again, once the lock is held, whether it is still pending: a second process waits
    for the first (busy_timeout) and skips what the first applied meanwhile, instead of running a migration
    twice. A migration that fails leaves no trace and stays pending (the ones before it stay applied)."""
    fns = MIGRATIONS if migrations is None else migrations
    chosen = migration_set(fns)
    _move_old_history(db, chosen)
    pending = {m.name for m in chosen.pending(db)}
    applied = []
    for fn in fns:
        if fn.__name__ not in pending:
            continue
        one = migration_set([fn])  # sqlite-utils runs it and records it, as a savepoint of ours
        db.execute("BEGIN IMMEDIATE")
        try:
            if one.pending(db):
                one.apply(db)
                applied.append(fn.__name__)
        except Exception as e:
            db.rollback()
            raise StoreError(f"数据库升级失败（{fn.__name__}），未做任何更改：{e}") from e
        db.execute("COMMIT")
    return applied


def _move_old_history(db: Database, chosen: Migrations) -> None:
    """Record what the old runner applied (its `_migrations`) in `_sqlite_migrations`, then drop
    `_migrations`: one transaction, taking the write lock first (BEGIN IMMEDIATE) so that a second
    process opening the same file meanwhile waits and then finds nothing left to move."""
    if not db[OLD_TABLE].exists():
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if db[OLD_TABLE].exists():
            chosen.ensure_migrations_table(db)
            old = db.execute(f"SELECT name, applied_at FROM {OLD_TABLE} ORDER BY rowid").fetchall()
            db[chosen.migrations_table].insert_all(
                ({"migration_set": chosen.name, "name": name, "applied_at": at} for name, at in old), ignore=True)
            db[OLD_TABLE].drop()
    except BaseException:
        db.rollback()
        raise
    db.execute("COMMIT")


@migration
def m001_initial(db: Database) -> None:
    """Documents, keyed by the SHA-256 of their bytes, and their parts."""
    doc_fk = [("document_sha256", "documents", "sha256")]
    db["documents"].create(
        {"sha256": str, "name": str, "kind": str, "text": str, "ocr": int,
         "page_count": int, "created_at": str, "warnings": str},
        pk="sha256",
        not_null=["sha256", "name", "kind", "text", "ocr", "page_count", "created_at", "warnings"],
    )
    db["document_names"].create(
        {"document_sha256": str, "name": str, "first_seen": str},
        pk=("document_sha256", "name"), foreign_keys=doc_fk,
        not_null=["document_sha256", "name", "first_seen"],
    )
    db["pages"].create(
        {"document_sha256": str, "number": int, "start": int, "end": int, "ocr": int},
        pk=("document_sha256", "number"), foreign_keys=doc_fk, not_null=["document_sha256", "number", "start", "end", "ocr"],
    )
    db["sections"].create(
        {"document_sha256": str, "idx": int, "title": str, "level": int, "kind": str,
         "start": int, "end": int, "marker": str},
        pk=("document_sha256", "idx"), foreign_keys=doc_fk,
        not_null=["document_sha256", "idx", "title", "level", "kind", "start", "end"],
    )
    db["tables"].create(
        {"document_sha256": str, "idx": int, "start": int, "end": int, "origin": str, "grid": str},
        pk=("document_sha256", "idx"), foreign_keys=doc_fk,
        not_null=["document_sha256", "idx", "start", "end", "origin", "grid"],
    )
    db["ocr_lines"].create(
        {"document_sha256": str, "idx": int, "page": int, "start": int, "end": int,
         "confidence": float, "box": str},
        pk=("document_sha256", "idx"), foreign_keys=doc_fk,
        not_null=["document_sha256", "idx", "page", "start", "end", "confidence"],
    )


@migration
def m002_extraction_runs(db: Database) -> None:
    """One row per extraction of a document, and what that run read."""
    run_fk = [("run_id", "extraction_runs", "id")]
    db["extraction_runs"].create(
        {"id": int, "document_sha256": str, "engine": str, "engine_version": str,
         "started_at": str, "finished_at": str, "status": str, "stats": str},
        pk="id", foreign_keys=[("document_sha256", "documents", "sha256")],
        not_null=["document_sha256", "engine", "engine_version", "started_at", "status", "stats"],
    )
    db["extraction_runs"].create_index(["document_sha256", "id"])
    db["field_results"].create(
        {"run_id": int, "key": str, "value": str, "status": str, "confidence": float,
         "quote": str, "start": int, "end": int, "issues": str, "note": str, "candidates": str},
        pk=("run_id", "key"), foreign_keys=run_fk,
        not_null=["run_id", "key", "value", "status", "confidence", "issues", "candidates"],
    )
    db["indicator_results"].create(
        {"run_id": int, "idx": int, "table_name": str, "level1": str, "level2": str, "name": str,
         "target": str, "actual": str, "weight": float, "score": float, "remark": str,
         "status": str, "confidence": float, "quote": str, "start": int, "end": int, "issues": str},
        pk=("run_id", "idx"), foreign_keys=run_fk,
        not_null=["run_id", "idx", "table_name", "status", "confidence", "issues"],
    )
    db["project_results"].create(
        {"run_id": int, "idx": int, "name": str, "budget_initial": float, "budget_full_year": float,
         "spending_actual": float, "execution_rate": float, "score": float, "status": str,
         "quote": str, "start": int, "end": int, "issues": str},
        pk=("run_id", "idx"), foreign_keys=run_fk, not_null=["run_id", "idx", "name", "status", "issues"],
    )
    db["list_results"].create(
        {"run_id": int, "key": str, "items": str, "status": str,
         "quote": str, "start": int, "end": int, "issues": str},
        pk=("run_id", "key"), foreign_keys=run_fk, not_null=["run_id", "key", "items", "status", "issues"],
    )


@migration
def m003_llm_cache(db: Database) -> None:
    """LLM answers keyed by a hash of (model, mode, prompt version, schema, prompt text)."""
    db["llm_cache"].create(
        {"key": str, "model": str, "prompt": str, "prompt_version": str, "response": str,
         "prompt_tokens": int, "completion_tokens": int, "created_at": str},
        pk="key", not_null=["key", "model", "prompt", "prompt_version", "response", "prompt_tokens",
                            "completion_tokens", "created_at"],
    )


@migration
def m004_review_workflow(db: Database) -> None:
    """Users, the upload/extraction job queue, the review working copy and the append-only audit log."""
    db["users"].create(
        {"id": int, "name": str, "role": str, "password_hash": str, "active": int, "created_at": str},
        pk="id", not_null=["name", "role", "password_hash", "active", "created_at"],
    )
    db["users"].create_index(["name"], unique=True)
    db["jobs"].create(
        {"sha256": str, "name": str, "path": str, "size": int, "state": str, "error": str,
         "attempts": int, "uploaded_by": str, "uploaded_at": str, "updated_at": str,
         "claimed_by": str, "claimed_at": str, "run_id": int, "unit_name": str, "fiscal_year": int,
         "flagged": int, "min_confidence": float, "confirmed_by": str, "confirmed_at": str},
        pk="sha256",
        not_null=["sha256", "name", "path", "size", "state", "attempts", "uploaded_by", "uploaded_at",
                  "updated_at", "flagged"],
    )
    db["jobs"].create_index(["state", "flagged", "min_confidence"])
    db["jobs"].create_index(["uploaded_at"])
    db["jobs"].create_index(["fiscal_year"])
    db["jobs"].create_index(["unit_name"])
    db["review_items"].create(
        {"document_sha256": str, "item": str, "kind": str, "position": int, "value": str, "extracted": str,
         "status": str, "confidence": float, "evidence": str, "issues": str, "candidates": str,
         "version": int, "updated_by": str, "updated_at": str},
        pk=("document_sha256", "item"), foreign_keys=[("document_sha256", "jobs", "sha256")],
        not_null=["document_sha256", "item", "kind", "position", "value", "extracted", "status",
                  "confidence", "issues", "candidates", "version"],
    )
    db["review_items"].create_index(["document_sha256", "status"])
    db["audit_log"].create(
        {"id": int, "document_sha256": str, "item": str, "action": str, "old_value": str,
         "new_value": str, "user_name": str, "at": str, "reason": str},
        pk="id", not_null=["document_sha256", "action", "user_name", "at"],
    )
    db["audit_log"].create_index(["document_sha256", "id"])
    for op in ("UPDATE", "DELETE"):
        db.execute(f"CREATE TRIGGER audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
                   "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")


@migration
def m005_confirmed_records(db: Database) -> None:
    """What reviewers confirmed: one wide row per report, its score rows, projects and list items."""
    doc = {"document_sha256": str}
    db["confirmed_reports"].create(
        {**doc, "source_name": str, "unit_name": str, "fiscal_year": int, "report_date": str,
         "self_score": float, "rating": str, "staff_authorized": int, "staff_actual": int, "retirees": int,
         "vehicles": int, "budget_initial": float, "budget_full_year": float, "spending_actual": float,
         "execution_rate": float, "execution_weight": float, "execution_score": float,
         "income_total": float, "income_general_budget": float, "income_gov_fund": float,
         "income_other": float, "expense_total": float, "expense_basic": float, "expense_project": float,
         "expense_personnel": float, "expense_public": float, "sangong_budget": float,
         "sangong_actual": float, "sangong_overseas_actual": float, "sangong_vehicle_actual": float,
         "sangong_reception_actual": float, "procurement_actual": float, "assets_total": float,
         "liabilities_total": float, "net_assets": float,
         "run_id": int, "engine": str, "confirmed_by": str, "confirmed_at": str},
        pk="document_sha256", not_null=["document_sha256", "source_name", "confirmed_by", "confirmed_at"],
    )
    db["confirmed_reports"].create_index(["fiscal_year", "unit_name"])
    db["confirmed_fields"].create(
        {**doc, "key": str, "value": str, "status": str, "quote": str, "start": int, "end": int},
        pk=("document_sha256", "key"), foreign_keys=[("document_sha256", "confirmed_reports", "document_sha256")],
        not_null=["document_sha256", "key", "value", "status"],
    )
    db["confirmed_indicators"].create(
        {**doc, "idx": int, "table_name": str, "level1": str, "level2": str, "name": str, "target": str,
         "actual": str, "weight": float, "score": float, "remark": str, "status": str},
        pk=("document_sha256", "idx"), foreign_keys=[("document_sha256", "confirmed_reports", "document_sha256")],
        not_null=["document_sha256", "idx", "table_name", "status"],
    )
    db["confirmed_projects"].create(
        {**doc, "idx": int, "name": str, "budget_initial": float, "budget_full_year": float,
         "spending_actual": float, "execution_rate": float, "score": float, "status": str},
        pk=("document_sha256", "idx"), foreign_keys=[("document_sha256", "confirmed_reports", "document_sha256")],
        not_null=["document_sha256", "idx", "name", "status"],
    )
    db["confirmed_list_items"].create(
        {**doc, "list": str, "idx": int, "text": str},
        pk=("document_sha256", "list", "idx"),
        foreign_keys=[("document_sha256", "confirmed_reports", "document_sha256")],
        not_null=["document_sha256", "list", "idx", "text"],
    )


@migration
def m006_queue_order_index(db: Database) -> None:
    """The review queue's exact order, so a page of it needs no sort (100,000 documents: 384 ms -> 23 ms)."""
    db.execute("CREATE INDEX idx_jobs_queue_order ON jobs "
               "(state, flagged DESC, coalesce(min_confidence, 1), uploaded_at)")


@migration
def m007_job_lanes_progress_cancel(db: Database) -> None:
    """A job's lane (text or scan, each with its own worker), its progress (OCR page by page), and an
    operator's request to cancel it while it runs."""
    db["jobs"].add_column("lane", str, not_null_default="text")
    db["jobs"].add_column("progress", str)
    db["jobs"].add_column("cancel_requested", int, not_null_default=0)
    db.execute("CREATE INDEX idx_jobs_lane_claim ON jobs (state, lane, uploaded_at)")


@migration
def m008_sessions_and_append_only_replace(db: Database) -> None:
    """A user's session version (log-out and deactivation end every session of theirs on the server), and
    the audit log append-only against INSERT OR REPLACE too (a REPLACE deletes the old row first)."""
    db["users"].add_column("session_version", int, not_null_default=0)
    db.execute("CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
               "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id) "
               "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")


@migration
def m009_audit_undo(db: Database) -> None:
    """What an item's action changed beyond its value (status, evidence), and which entry an undo undid: so a
    reviewer's action can be taken back exactly."""
    db["audit_log"].add_column("old_status", str)
    db["audit_log"].add_column("old_evidence", str)
    db["audit_log"].add_column("undoes", int)


@migration
def m010_superseded_records(db: Database) -> None:
    """One current record per unit and year: a confirmed report another one replaced points at it."""
    db["confirmed_reports"].add_column("superseded_by", str)


@migration
def m011_ocr_line_parts_page_sizes(db: Database) -> None:
    """Where each OCR box lies within its line, so the review page can box a value's own characters; a
    scanned page's size, so the page can hold the image's place before it loads."""
    db["ocr_lines"].add_column("parts", str)
    db["pages"].add_column("width", int)
    db["pages"].add_column("height", int)


@migration
def m012_audit_batch(db: Database) -> None:
    """Entries written together by one bulk action (接受本节其余项, 接受全部自动通过项) share `batch`, the id of
    the first of them: so an undo takes the whole action back as one step."""
    db["audit_log"].add_column("batch", int)


@migration
def m013_job_counts(db: Database) -> None:
    """How many jobs are in each state and fiscal year (0: none yet, the job not extracted), kept by triggers on
    `jobs`: the queue's counts and its year list read this small table, not every job (a GROUP BY over the
    jobs took 8.6 ms at 100,000 and grows with the table).

    Triggers, not the store, keep it: every write to `jobs` — each store method, a future one that forgets, a
    person with the sqlite3 shell, a migration — goes through them, in the same statement's transaction, so
    the counts cannot drift from the rows. (A REPLACE deletes without firing delete triggers unless
    `recursive_triggers` is on; `open_db` turns it on, and the store never REPLACEs a job.) `named` counts
    those of them with a unit name, so that a unit search passes over states (排队中, say) where none has one.
    Rows whose counts fell to 0 stay, and readers skip them. Filled from the jobs already there."""
    db["job_counts"].create({"state": str, "fiscal_year": int, "n": int, "named": int}, pk=("state", "fiscal_year"),
                            not_null=["state", "fiscal_year", "n", "named"])
    db.execute("INSERT INTO job_counts (state, fiscal_year, n, named) "
               "SELECT state, coalesce(fiscal_year, 0), count(*), count(unit_name) FROM jobs GROUP BY 1, 2")
    add = ("INSERT INTO job_counts (state, fiscal_year, n, named) "
           "VALUES (NEW.state, coalesce(NEW.fiscal_year, 0), 1, NEW.unit_name IS NOT NULL) "
           "ON CONFLICT (state, fiscal_year) DO UPDATE SET n = n + 1, named = named + excluded.named;")
    take = ("UPDATE job_counts SET n = n - 1, named = named - (OLD.unit_name IS NOT NULL) "
            "WHERE state = OLD.state AND fiscal_year = coalesce(OLD.fiscal_year, 0);")
    db.execute(f"CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN {add} END")
    db.execute(f"CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN {take} END")
    db.execute("CREATE TRIGGER job_counts_update AFTER UPDATE OF state, fiscal_year, unit_name ON jobs "
               "WHEN OLD.state IS NOT NEW.state OR OLD.fiscal_year IS NOT NEW.fiscal_year "
               "OR (OLD.unit_name IS NULL) != (NEW.unit_name IS NULL) "
               f"BEGIN {take} {add} END")


@migration
def m014_queue_keyset_order(db: Database) -> None:
    """The queue's order as plain (generated, not stored) columns, so that a page after (or before) a row is an
    index seek on (sort_flagged, sort_confidence, uploaded_at, sha256) > (the row's), not an OFFSET that walks
    every row before it: `sort_flagged` is -flagged (most flagged first in ascending order), `sort_confidence`
    is coalesce(min_confidence, 1), and sha256 breaks ties. SQLite seeks a row-value comparison only on
    plain columns in one direction, so an expression index in mixed directions (m006's) cannot serve it.
    One index per state, and one per state and year for the year filter; m006's index is replaced. Each ends
    with unit_name, so that a unit search walking the queue's order (one matching many jobs) tests each name
    in the index, reading only the jobs that match.
    Jobs of a unit and year (「可能重复」 on the review page) are found by (unit_name, fiscal_year), which
    replaces the index on unit_name alone."""
    db.execute("ALTER TABLE jobs ADD COLUMN sort_flagged INTEGER GENERATED ALWAYS AS (-flagged) VIRTUAL")
    db.execute("ALTER TABLE jobs ADD COLUMN sort_confidence REAL GENERATED ALWAYS AS (coalesce(min_confidence, 1)) "
               "VIRTUAL")
    db.execute("CREATE INDEX idx_jobs_queue_keyset ON jobs "
               "(state, sort_flagged, sort_confidence, uploaded_at, sha256, unit_name)")
    db.execute("CREATE INDEX idx_jobs_queue_keyset_year ON jobs "
               "(state, fiscal_year, sort_flagged, sort_confidence, uploaded_at, sha256, unit_name)")
    db.execute("DROP INDEX idx_jobs_queue_order")
    db.execute("CREATE INDEX idx_jobs_unit_name_fiscal_year ON jobs (unit_name, fiscal_year)")
    db.execute("DROP INDEX idx_jobs_unit_name")


@migration
def m015_unit_search(db: Database) -> None:
    """A trigram index of the jobs' unit names (SQLite's FTS5 `trigram` tokenizer, SQLite ≥ 3.34), so the queue's
    search by part of a name looks names up instead of scanning every job with LIKE '%…%'.

    `job_units` indexes `job_unit_text`, a view of each job's rowid and its unit name (ASCII letters in lower
    case, as LIKE compares them) followed by two U+001F characters: so every one- or two-character part of a
    name begins one of the name's trigrams, and a search shorter than three characters is answered from the
    index too, as the trigrams that begin with it. Those are listed in `job_unit_trigrams` (each distinct
    trigram of the names, and how many jobs' names hold it): FTS5's own list of its terms (fts5vocab) counts
    every occurrence of each term it lists, which grows with the table.

    `job_units` is an external-content index (the view holds the text; nothing is stored twice). Both are kept
    by triggers on `jobs`, as the counts are. `INSERT INTO job_units(job_units) VALUES('rebuild')` makes the
    index again from the view (after a VACUUM, which may renumber the rowids of `jobs`), and
    `INSERT INTO job_units(job_units, rank) VALUES('integrity-check', 1)` fails if it differs from the view.
    Filled from the jobs already there."""
    name = "lower({0}.unit_name) || char(31, 31)"
    positions = ("(WITH RECURSIVE p(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM p WHERE i < length({0}.unit_name)) "
                 "SELECT i FROM p)")
    db.execute(f"CREATE VIEW job_unit_text AS SELECT rowid AS job_rowid, {name.format('jobs')} AS unit "
               "FROM jobs WHERE unit_name IS NOT NULL")
    db.execute("CREATE VIRTUAL TABLE job_units USING fts5(unit, content='job_unit_text', content_rowid='job_rowid', "
               "tokenize='trigram case_sensitive 1')")
    db.execute("CREATE TABLE job_unit_trigrams (term TEXT PRIMARY KEY NOT NULL, n INTEGER NOT NULL) WITHOUT ROWID")
    db.execute("INSERT INTO job_units (job_units) VALUES ('rebuild')")
    db.execute("WITH RECURSIVE p(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM p "
               "WHERE i < (SELECT coalesce(max(length(unit_name)), 0) FROM jobs)) "
               "INSERT INTO job_unit_trigrams (term, n) SELECT term, count(*) FROM "
               f"(SELECT DISTINCT jobs.rowid, substr({name.format('jobs')}, p.i, 3) AS term FROM jobs "
               "JOIN p ON p.i <= max(length(jobs.unit_name), 1) WHERE jobs.unit_name IS NOT NULL) GROUP BY term")
    add = (f"INSERT INTO job_units (rowid, unit) SELECT NEW.rowid, {name.format('NEW')} "
           "WHERE NEW.unit_name IS NOT NULL; "
           f"INSERT INTO job_unit_trigrams (term, n) SELECT DISTINCT substr({name.format('NEW')}, i, 3), 1 "
           f"FROM {positions.format('NEW')} WHERE NEW.unit_name IS NOT NULL "
           "ON CONFLICT (term) DO UPDATE SET n = n + 1;")
    take = (f"INSERT INTO job_units (job_units, rowid, unit) SELECT 'delete', OLD.rowid, {name.format('OLD')} "
            "WHERE OLD.unit_name IS NOT NULL; "
            "UPDATE job_unit_trigrams SET n = n - 1 WHERE OLD.unit_name IS NOT NULL AND term IN "
            f"(SELECT substr({name.format('OLD')}, i, 3) FROM {positions.format('OLD')});")
    db.execute(f"CREATE TRIGGER job_units_insert AFTER INSERT ON jobs BEGIN {add} END")
    db.execute(f"CREATE TRIGGER job_units_delete AFTER DELETE ON jobs BEGIN {take} END")
    db.execute("CREATE TRIGGER job_units_update AFTER UPDATE OF unit_name ON jobs "
               f"WHEN OLD.unit_name IS NOT NEW.unit_name BEGIN {take} {add} END")


@migration
def m016_units_registry(db: Database) -> None:
    """The units expected to report (应报送单位): a name (unique by `name_key`, the name in NFKC without spaces), a
    category (乡镇 / 街道 / 部门), an optional code (unique when given) and aliases (JSON list); and `unit_audit`,
    append-only like `audit_log`, with every change to the list (the audit log is per document)."""
    db.execute("""CREATE TABLE units (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        name_key TEXT NOT NULL UNIQUE,
        category TEXT NOT NULL CHECK (category IN ('乡镇', '街道', '部门')),
        code TEXT UNIQUE,
        aliases TEXT NOT NULL DEFAULT '[]',
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_by TEXT,
        updated_at TEXT
    )""")
    db.execute("""CREATE TABLE unit_audit (
        id INTEGER PRIMARY KEY,
        unit_id INTEGER,
        action TEXT NOT NULL,
        old_value TEXT,
        new_value TEXT,
        user_name TEXT NOT NULL,
        at TEXT NOT NULL,
        reason TEXT
    )""")
    db.execute("CREATE INDEX idx_unit_audit_unit_id ON unit_audit (unit_id, id)")
    for op in ("UPDATE", "DELETE"):
        db.execute(f"CREATE TRIGGER unit_audit_no_{op.lower()} BEFORE {op} ON unit_audit "
                   "BEGIN SELECT RAISE(ABORT, 'unit_audit is append-only'); END")
    db.execute("CREATE TRIGGER unit_audit_no_replace BEFORE INSERT ON unit_audit "
               "WHEN EXISTS (SELECT 1 FROM unit_audit WHERE id = NEW.id) "
               "BEGIN SELECT RAISE(ABORT, 'unit_audit is append-only'); END")


@migration
def m017_record_units(db: Database) -> None:
    """A person's choice of the unit a report is (待匹配 → 人工指定): one row per document, winning over the
    automatic match; each choice is audited in the document's `audit_log`."""
    db.execute("""CREATE TABLE record_units (
        document_sha256 TEXT PRIMARY KEY NOT NULL REFERENCES jobs (sha256),
        unit_id INTEGER NOT NULL REFERENCES units (id),
        chosen_by TEXT NOT NULL,
        chosen_at TEXT NOT NULL
    )""")
    db.execute("CREATE INDEX idx_record_units_unit_id ON record_units (unit_id)")


@migration
def m018_audit_confidence(db: Database) -> None:
    """The confidence an item had when a person (or a bulk accept) acted on it, kept in its audit entry: the
    calibration page (service.check.threshold_learning) learns thresholds from what reviewers did with values
    of each confidence, and the item's own row may be replaced by a re-extraction since."""
    db["audit_log"].add_column("confidence", float)


@migration
def m019_threshold_calibration(db: Database) -> None:
    """Thresholds an admin applied on the calibration page (校准), and the target escape rate they set, each an
    append-only log that is its own audit: the latest `threshold_changes` row of a field key says what is
    applied (`apply`: `new_threshold`; `revert`: none), the latest `calibration_targets` row the target."""
    db["threshold_changes"].create(
        {"id": int, "key": str, "action": str, "old_threshold": float, "new_threshold": float, "old_source": str,
         "target_escape": float, "basis": str, "user_name": str, "at": str},
        pk="id", not_null=["key", "action", "user_name", "at"],
    )
    db["threshold_changes"].create_index(["key", "id"])
    db["calibration_targets"].create(
        {"id": int, "target_escape": float, "user_name": str, "at": str},
        pk="id", not_null=["target_escape", "user_name", "at"],
    )
    for table in ("threshold_changes", "calibration_targets"):
        for op in ("UPDATE", "DELETE"):
            db.execute(f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        db.execute(f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                   f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


@migration
def m020_prior_statements(db: Database) -> None:
    """Last year's figures each report states (「上年决算数为…」, a 上年数 column; service/check/prior_year.py),
    read from its text once and kept, so that the 总览 of a year does not read every report's text again.
    `prior_scans`: that a document's text was read, by which finder version and for which fiscal year (a
    report with no such statement has a scan and no statements); `prior_statements`: what was found, with its
    offsets into `documents.text` (`context`: JSON list of [start, end] spans shown lightly). A scan of another
    finder version or fiscal year is read again; a document whose text is replaced loses both."""
    db["prior_scans"].create(
        {"document_sha256": str, "finder": str, "fiscal_year": int, "scanned_at": str}, pk="document_sha256",
        foreign_keys=[("document_sha256", "documents", "sha256")],
        not_null=["document_sha256", "finder", "fiscal_year", "scanned_at"])
    db["prior_statements"].create(
        {"document_sha256": str, "idx": int, "key": str, "year": int, "value": float, "digits": int,
         "computed": int, "note": str, "quote": str, "start": int, "end": int, "value_start": int,
         "value_end": int, "context": str},
        pk=("document_sha256", "idx"), foreign_keys=[("document_sha256", "prior_scans", "document_sha256")],
        not_null=["document_sha256", "idx", "key", "year", "value", "digits", "computed", "quote", "start", "end",
                  "value_start", "value_end"])


@migration
def m021_login_failures(db: Database) -> None:
    """Wrong passwords in a row per key ("name:王芳", "addr:10.0.0.7") and the time of the last (Unix seconds),
    in the database so that every web process behind gunicorn counts the same streak and a restart keeps it."""
    db["login_failures"].create({"key": str, "failures": int, "last_at": float}, pk="key")
    db["login_failures"].create_index(["last_at"])


@migration
def m022_api_tokens(db: Database) -> None:
    """API tokens an admin issues for the read-only JSON API: only the SHA-256 of a token is kept. A token is
    revoked, never deleted, so the table says who issued and who revoked each one and when."""
    db["api_tokens"].create({"id": int, "name": str, "token_sha256": str, "created_by": str, "created_at": str,
                             "last_used_at": str, "revoked_by": str, "revoked_at": str}, pk="id",
                            not_null={"name", "token_sha256", "created_by", "created_at"})
    db["api_tokens"].create_index(["token_sha256"], unique=True)
