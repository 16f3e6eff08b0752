"""Schema migrations: an append-only list of small named functions.

Each function takes a `sqlite_utils.Database` and is registered, in order, with
`@migration`. `migrate(db)` applies those not yet recorded in `_migrations`;
each one runs, together with the row that records it, inside ONE transaction,
so a migration that fails leaves no trace and stays pending.

NEVER edit a migration that has shipped: databases in the field already ran
it and will not run it again. Change the schema by appending a new
`mNNN_what_it_does` function. Migrations spell out their tables literally
(no shared helpers) so that editing other code cannot change one after the
fact. `tests/test_store.py` checks the exact schema a blank database gets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlite_utils import Database

from ..errors import StoreError

Migration = Callable[[Database], None]

MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration; its name is its identity."""
    if any(m.__name__ == fn.__name__ for m in MIGRATIONS):
        raise ValueError(f"duplicate migration name: {fn.__name__}")
    MIGRATIONS.append(fn)
    return fn


def applied_migrations(db: Database) -> list[str]:
    """Names of the migrations recorded in `db`, in the order they ran."""
    if not db["_migrations"].exists():
        return []
    return [r[0] for r in db.execute("select name from _migrations order by rowid").fetchall()]


def migrate(db: Database, migrations: list[Migration] | None = None) -> list[str]:
    """Apply the pending migrations in order; return the names applied now."""
    migrations = MIGRATIONS if migrations is None else migrations
    with db.atomic():
        db["_migrations"].create({"name": str, "applied_at": str}, pk="name",
                                 not_null=["name", "applied_at"], if_not_exists=True)
    done = set(applied_migrations(db))
    applied = []
    for fn in migrations:
        if fn.__name__ in done:
            continue
        try:
            with db.atomic():
                fn(db)
                db["_migrations"].insert({"name": fn.__name__,
                                          "applied_at": datetime.now(UTC).isoformat(timespec="seconds")})
        except Exception as e:
            raise StoreError(f"数据库升级失败（{fn.__name__}），未做任何更改：{e}") from e
        applied.append(fn.__name__)
    return applied


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
