"""Undo: a reviewer takes back their own last actions, one by one, exactly, audited; never someone else's."""

from __future__ import annotations

import pytest

from service.errors import StoreError
from tests.conftest import SAMPLES
from tests.webapp import api_save, csrf_token, login, store_of, upload_and_extract

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"


def _undo(client, sha):
    return client.post(f"/api/documents/{sha}/undo",
                       headers={"X-CSRFToken": csrf_token(client, f"/documents/{sha}"), "Accept": "application/json"})


def test_a_reviewer_undoes_a_correction_then_an_accept_and_each_item_is_as_it_was(app):
    doc = upload_and_extract(app, REPORT)
    client = app.test_client()
    login(client, "rev")
    store = store_of(app)
    try:
        flagged = next(i for i in store.review_items(doc) if i["status"] == "review")
        unit = store.review_item(doc, "field:unit_name")
        assert api_save(client, doc, flagged, "accept").status_code == 200
        assert api_save(client, doc, unit, "correct", "某某县某某局").status_code == 200
        before = store.job(doc)["flagged"]

        resp = _undo(client, doc)  # the correction first
        assert resp.status_code == 200 and resp.json["item"] == "field:unit_name" and resp.json["html"]
        back = store.review_item(doc, "field:unit_name")
        assert back["value"] == unit["value"] and back["status"] == unit["status"]

        resp = _undo(client, doc)  # then the accept: the item waits for review again
        assert resp.json["item"] == flagged["item"]
        assert store.review_item(doc, flagged["item"])["status"] == "review"
        assert store.job(doc)["flagged"] == before + 1

        assert _undo(client, doc).json["error"] == "没有可以撤销的操作"
        assert [a["action"] for a in store.audit_entries(doc)].count("undo") == 2
    finally:
        store.close()


def test_undo_restores_an_added_row_by_removing_it_and_a_deleted_row_by_bringing_it_back(app):
    doc = upload_and_extract(app, REPORT)
    store = store_of(app)
    try:
        row = next(i for i in store.review_items(doc) if i["kind"] == "indicator")
        store.save_item(doc, row["item"], row["version"], row["value"], "deleted", "rev", "delete")
        added = store.add_item(doc, "indicator", row["item"], {"name": "新增一行", "weight": 5, "score": 5},
                               "corrected", "rev")
        assert store.undo_last(doc, "rev")["removed"] is True
        assert store.review_item(doc, added["item"]) is None
        done = store.undo_last(doc, "rev")
        assert done["item"] == row["item"] and store.review_item(doc, row["item"])["status"] == row["status"]
        assert store.undo_last(doc, "rev") is None
    finally:
        store.close()


def test_undo_never_overwrites_someone_elses_later_change(app):
    doc = upload_and_extract(app, REPORT)
    store = store_of(app)
    try:
        item = store.review_item(doc, "field:unit_name")
        saved = store.save_item(doc, item["item"], item["version"], "甲单位", "corrected", "rev", "correct")
        store.save_item(doc, item["item"], saved["version"], "乙单位", "corrected", "boss", "correct")
        with pytest.raises(StoreError, match="已被他人修改"):
            store.undo_last(doc, "rev")
        assert store.review_item(doc, item["item"])["value"] == "乙单位"
    finally:
        store.close()
