"""A database whose audit log holds reviewers' decisions of known confidences, for the calibration page (校准):
one report's review items written by the store as a worker writes them (enqueue, claim, complete_job), then
acted on through the store's own methods as the review page acts (save_item, accept_in_bulk, undo_last,
add_item, confirm, reopen). `SEEDED` says what was done; the tests work the expected figures out from it.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import sqlite3
import tempfile
from pathlib import Path

from service.document import DocumentBuilder
from service.models import Extraction
from service.review import apply_action, bulk_status, record_from_items
from service.store import Store

REVIEWER, ADMIN = "rev", "boss"
SHA = hashlib.sha256(b"calibration seed").hexdigest()

# score rows: (count, confidence, status the machine gave, what the reviewer did); every row is its own value
ROWS = [
    (10, 0.60, "review", "correct", 5),  # sent to review: 5 corrected, the other 5 accepted as read
    (20, 0.70, "review", "accept", 0),  # sent to review: all accepted as read
    (2, 0.82, "accepted", "correct", 1),  # auto-accepted and opened: 1 corrected (an escape), 1 accepted
    (60, 0.85, "accepted", "accept", 0),  # auto-accepted, each opened and accepted as read
    (20, 0.90, "accepted", "bulk", 0),  # auto-accepted, only 接受全部自动通过项: not looked at
]
# fields: key -> (value, confidence, status, story)
FIELDS = {
    "unit_name": ("某某县农业局", 0.40, "review", "corrected"),  # sent to review, corrected
    "fiscal_year": (2023, 0.50, "review", "corrected, undone, accepted"),  # sent, in the end accepted as read
    "self_score": (92.5, 0.92, "accepted", "corrected after reopening"),  # auto-accepted: an escape found late
    "budget_initial": (100.0, 0.95, "accepted", "corrected, undone"),  # every action taken back: no decision
    "rating": (None, 0.50, "review", "filled in"),  # the machine read nothing: no decision
}


def _row(i: int, score: float) -> dict:
    return {"table": "整体", "level1": "产出指标", "level2": "数量指标", "name": f"指标{i}", "target": None,
            "actual": None, "remark": None, "weight": 10.0, "score": score}


def _items() -> list[dict]:
    items = []
    for position, (key, (value, conf, status, _)) in enumerate(FIELDS.items()):
        items.append({"item": f"field:{key}", "kind": "field", "position": position, "value": value,
                      "extracted": value, "status": status, "confidence": conf, "evidence": None, "issues": [],
                      "candidates": []})
    i = 0
    for count, conf, status, _, _ in ROWS:
        for _ in range(count):
            items.append({"item": f"indicator:{i}", "kind": "indicator", "position": 1000 + i, "value": _row(i, 8.0),
                          "extracted": _row(i, 8.0), "status": status, "confidence": conf, "evidence": None,
                          "issues": [], "candidates": []})
            i += 1
    return items


_ONCE: list[Path] = []  # the database as first seeded, copied for every later test


def seeded_copy(db: str) -> None:
    """`db` (a copy of the tests' blank database with their users) seeded: through `seed` the first time, then
    as a copy of what that made (seeding takes a second)."""
    if _ONCE:
        shutil.copyfile(_ONCE[0], db)
        return
    seed(db).close()
    folder = Path(tempfile.mkdtemp(prefix="jixiao-seeded-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    with sqlite3.connect(db) as source, sqlite3.connect(folder / "seeded.db") as kept:
        source.backup(kept)  # one file, whatever the WAL still held
    _ONCE.append(folder / "seeded.db")


def _act(store: Store, item: str, action: str, value=None, user: str = REVIEWER) -> None:
    current = store.review_item(SHA, item)
    new, status = apply_action(current, action, value)
    store.save_item(SHA, item, current["version"], new, status, user, action)


def seed(db: str) -> Store:
    """The seeded database at `db`; its store, open."""
    store = Store(db)
    b = DocumentBuilder()
    b.add_paragraph("某某县农业局2023年度部门整体支出绩效自评报告")
    doc = b.build(name="seed.txt", sha256=SHA, kind="txt")
    store.enqueue(SHA, "seed.txt", "/nonexistent/seed.txt", 1, "oper")
    store.claim_job("seed-worker", lease_s=900)
    store.complete_job(SHA, "seed-worker", doc, [], Extraction("rules", "seed"), {}, _items())
    _act_on_rows(store)
    _act_on_fields(store)
    store.add_item(SHA, "indicator", None, _row(999, 5.0), "corrected", REVIEWER)  # a row the machine missed
    store.confirm(SHA, REVIEWER, record_from_items({"name": "seed.txt", "sha256": SHA}, store.review_items(SHA)))
    store.reopen(SHA, ADMIN, "自评得分有误")
    _act(store, "field:self_score", "correct", "90")
    return store


def _act_on_rows(store: Store) -> None:
    i, bulk = 0, {}
    for count, _, _, what, corrected in ROWS:
        for n in range(count):
            item = f"indicator:{i}"
            if what == "bulk":
                bulk[item] = store.review_item(SHA, item)["version"]
            elif n < corrected:
                _act(store, item, "correct", {**_row(i, 6.0), "table": "整体"})
            else:
                _act(store, item, "accept")
            i += 1
    store.accept_in_bulk(SHA, REVIEWER, bulk, bulk_status)


def _act_on_fields(store: Store) -> None:
    _act(store, "field:unit_name", "correct", "某某县农业农村局")
    _act(store, "field:fiscal_year", "correct", "2022")
    store.undo_last(SHA, REVIEWER)
    _act(store, "field:fiscal_year", "accept")
    _act(store, "field:budget_initial", "correct", "120")
    store.undo_last(SHA, REVIEWER)
    _act(store, "field:rating", "correct", "优")
