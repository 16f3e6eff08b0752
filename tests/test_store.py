"""The store: exact schema, content-addressed documents, one transaction per write."""

from __future__ import annotations

import pytest
import sqlite_utils

from service.document import DocumentBuilder
from service.errors import StoreError
from service.models import REVIEW, Evidence, Extraction, FieldValue, IndicatorRow, Project, Section, TextList
from service.store import MIGRATIONS, Store, applied_migrations, migrate, open_db

SHA = "ab" * 32

EXPECTED_SCHEMA = {
    "_sqlite_migrations": [("id", "INTEGER"), ("migration_set", "TEXT"), ("name", "TEXT"),
                           ("applied_at", "TEXT")],
    "documents": [("sha256", "TEXT"), ("name", "TEXT"), ("kind", "TEXT"), ("text", "TEXT"),
                  ("ocr", "INTEGER"), ("page_count", "INTEGER"), ("created_at", "TEXT"),
                  ("warnings", "TEXT")],
    "document_names": [("document_sha256", "TEXT"), ("name", "TEXT"), ("first_seen", "TEXT")],
    "pages": [("document_sha256", "TEXT"), ("number", "INTEGER"), ("start", "INTEGER"),
              ("end", "INTEGER"), ("ocr", "INTEGER"), ("width", "INTEGER"),
              ("height", "INTEGER")],
    "sections": [("document_sha256", "TEXT"), ("idx", "INTEGER"), ("title", "TEXT"), ("level", "INTEGER"),
                 ("kind", "TEXT"), ("start", "INTEGER"), ("end", "INTEGER"), ("marker", "TEXT")],
    "tables": [("document_sha256", "TEXT"), ("idx", "INTEGER"), ("start", "INTEGER"), ("end", "INTEGER"),
               ("origin", "TEXT"), ("grid", "TEXT")],
    "ocr_lines": [("document_sha256", "TEXT"), ("idx", "INTEGER"), ("page", "INTEGER"), ("start", "INTEGER"),
                  ("end", "INTEGER"), ("confidence", "REAL"), ("box", "TEXT"), ("parts", "TEXT")],
    "extraction_runs": [("id", "INTEGER"), ("document_sha256", "TEXT"), ("engine", "TEXT"),
                        ("engine_version", "TEXT"), ("started_at", "TEXT"), ("finished_at", "TEXT"),
                        ("status", "TEXT"), ("stats", "TEXT")],
    "field_results": [("run_id", "INTEGER"), ("key", "TEXT"), ("value", "TEXT"), ("status", "TEXT"),
                      ("confidence", "REAL"), ("quote", "TEXT"), ("start", "INTEGER"), ("end", "INTEGER"),
                      ("issues", "TEXT"), ("note", "TEXT"), ("candidates", "TEXT")],
    "indicator_results": [("run_id", "INTEGER"), ("idx", "INTEGER"), ("table_name", "TEXT"),
                          ("level1", "TEXT"), ("level2", "TEXT"), ("name", "TEXT"), ("target", "TEXT"),
                          ("actual", "TEXT"), ("weight", "REAL"), ("score", "REAL"), ("remark", "TEXT"),
                          ("status", "TEXT"), ("confidence", "REAL"), ("quote", "TEXT"),
                          ("start", "INTEGER"), ("end", "INTEGER"), ("issues", "TEXT")],
    "project_results": [("run_id", "INTEGER"), ("idx", "INTEGER"), ("name", "TEXT"),
                        ("budget_initial", "REAL"), ("budget_full_year", "REAL"),
                        ("spending_actual", "REAL"), ("execution_rate", "REAL"), ("score", "REAL"),
                        ("status", "TEXT"), ("quote", "TEXT"), ("start", "INTEGER"), ("end", "INTEGER"),
                        ("issues", "TEXT")],
    "list_results": [("run_id", "INTEGER"), ("key", "TEXT"), ("items", "TEXT"), ("status", "TEXT"),
                     ("quote", "TEXT"), ("start", "INTEGER"), ("end", "INTEGER"), ("issues", "TEXT")],
    "llm_cache": [("key", "TEXT"), ("model", "TEXT"), ("prompt", "TEXT"), ("prompt_version", "TEXT"),
                  ("response", "TEXT"), ("prompt_tokens", "INTEGER"), ("completion_tokens", "INTEGER"),
                  ("created_at", "TEXT")],
    "users": [("id", "INTEGER"), ("name", "TEXT"), ("role", "TEXT"), ("password_hash", "TEXT"),
             ("active", "INTEGER"), ("created_at", "TEXT"), ("session_version", "INTEGER")],
    "jobs": [("sha256", "TEXT"), ("name", "TEXT"), ("path", "TEXT"), ("size", "INTEGER"),
            ("state", "TEXT"), ("error", "TEXT"), ("attempts", "INTEGER"), ("uploaded_by", "TEXT"),
            ("uploaded_at", "TEXT"), ("updated_at", "TEXT"), ("claimed_by", "TEXT"),
            ("claimed_at", "TEXT"), ("run_id", "INTEGER"), ("unit_name", "TEXT"),
            ("fiscal_year", "INTEGER"), ("flagged", "INTEGER"), ("min_confidence", "REAL"),
            ("confirmed_by", "TEXT"), ("confirmed_at", "TEXT"), ("lane", "TEXT"), ("progress", "TEXT"),
            ("cancel_requested", "INTEGER")],
    "review_items": [("document_sha256", "TEXT"), ("item", "TEXT"), ("kind", "TEXT"),
                    ("position", "INTEGER"), ("value", "TEXT"), ("extracted", "TEXT"), ("status", "TEXT"),
                    ("confidence", "REAL"), ("evidence", "TEXT"), ("issues", "TEXT"),
                    ("candidates", "TEXT"), ("version", "INTEGER"), ("updated_by", "TEXT"),
                    ("updated_at", "TEXT")],
    "audit_log": [("id", "INTEGER"), ("document_sha256", "TEXT"), ("item", "TEXT"), ("action", "TEXT"),
                 ("old_value", "TEXT"), ("new_value", "TEXT"), ("user_name", "TEXT"), ("at", "TEXT"),
                 ("reason", "TEXT"), ("old_status", "TEXT"), ("old_evidence", "TEXT"), ("undoes", "INTEGER"),
                 ("batch", "INTEGER"), ("confidence", "REAL")],
    "confirmed_reports": [("document_sha256", "TEXT"), ("source_name", "TEXT"), ("unit_name", "TEXT"),
                         ("fiscal_year", "INTEGER"), ("report_date", "TEXT"), ("self_score", "REAL"),
                         ("rating", "TEXT"), ("staff_authorized", "INTEGER"), ("staff_actual", "INTEGER"),
                         ("retirees", "INTEGER"), ("vehicles", "INTEGER"), ("budget_initial", "REAL"),
                         ("budget_full_year", "REAL"), ("spending_actual", "REAL"),
                         ("execution_rate", "REAL"), ("execution_weight", "REAL"),
                         ("execution_score", "REAL"), ("income_total", "REAL"),
                         ("income_general_budget", "REAL"), ("income_gov_fund", "REAL"),
                         ("income_other", "REAL"), ("expense_total", "REAL"), ("expense_basic", "REAL"),
                         ("expense_project", "REAL"), ("expense_personnel", "REAL"),
                         ("expense_public", "REAL"), ("sangong_budget", "REAL"),
                         ("sangong_actual", "REAL"), ("sangong_overseas_actual", "REAL"),
                         ("sangong_vehicle_actual", "REAL"), ("sangong_reception_actual", "REAL"),
                         ("procurement_actual", "REAL"), ("assets_total", "REAL"),
                         ("liabilities_total", "REAL"), ("net_assets", "REAL"), ("run_id", "INTEGER"),
                         ("engine", "TEXT"), ("confirmed_by", "TEXT"), ("confirmed_at", "TEXT"),
                          ("superseded_by", "TEXT")],
    "confirmed_fields": [("document_sha256", "TEXT"), ("key", "TEXT"), ("value", "TEXT"),
                        ("status", "TEXT"), ("quote", "TEXT"), ("start", "INTEGER"), ("end", "INTEGER")],
    "confirmed_indicators": [("document_sha256", "TEXT"), ("idx", "INTEGER"), ("table_name", "TEXT"),
                            ("level1", "TEXT"), ("level2", "TEXT"), ("name", "TEXT"), ("target", "TEXT"),
                            ("actual", "TEXT"), ("weight", "REAL"), ("score", "REAL"), ("remark", "TEXT"),
                            ("status", "TEXT")],
    "confirmed_projects": [("document_sha256", "TEXT"), ("idx", "INTEGER"), ("name", "TEXT"),
                          ("budget_initial", "REAL"), ("budget_full_year", "REAL"),
                          ("spending_actual", "REAL"), ("execution_rate", "REAL"), ("score", "REAL"),
                          ("status", "TEXT")],
    "confirmed_list_items": [("document_sha256", "TEXT"), ("list", "TEXT"), ("idx", "INTEGER"),
                            ("text", "TEXT")],
    "job_counts": [("state", "TEXT"), ("fiscal_year", "INTEGER"), ("n", "INTEGER"), ("named", "INTEGER")],
    "job_units": [("unit", "")],  # FTS5 (trigram) over the view job_unit_text, and its shadow tables
    "job_units_data": [("id", "INTEGER"), ("block", "BLOB")],
    "job_units_idx": [("segid", ""), ("term", ""), ("pgno", "")],
    "job_units_docsize": [("id", "INTEGER"), ("sz", "BLOB")],
    "job_units_config": [("k", ""), ("v", "")],
    "job_unit_trigrams": [("term", "TEXT"), ("n", "INTEGER")],
    "threshold_changes": [("id", "INTEGER"), ("key", "TEXT"), ("action", "TEXT"), ("old_threshold", "REAL"),
                          ("new_threshold", "REAL"), ("old_source", "TEXT"), ("target_escape", "REAL"),
                          ("basis", "TEXT"), ("user_name", "TEXT"), ("at", "TEXT")],
    "calibration_targets": [("id", "INTEGER"), ("target_escape", "REAL"), ("user_name", "TEXT"), ("at", "TEXT")],
    "login_failures": [("key", "TEXT"), ("failures", "INTEGER"), ("last_at", "REAL")],
    "api_tokens": [("id", "INTEGER"), ("name", "TEXT"), ("token_sha256", "TEXT"), ("created_by", "TEXT"),
                   ("created_at", "TEXT"), ("last_used_at", "TEXT"), ("revoked_by", "TEXT"), ("revoked_at", "TEXT")],
    "units": [("id", "INTEGER"), ("name", "TEXT"), ("name_key", "TEXT"), ("category", "TEXT"), ("code", "TEXT"),
              ("aliases", "TEXT"), ("created_by", "TEXT"), ("created_at", "TEXT"), ("updated_by", "TEXT"),
              ("updated_at", "TEXT")],
    "unit_audit": [("id", "INTEGER"), ("unit_id", "INTEGER"), ("action", "TEXT"), ("old_value", "TEXT"),
                   ("new_value", "TEXT"), ("user_name", "TEXT"), ("at", "TEXT"), ("reason", "TEXT")],
    "record_units": [("document_sha256", "TEXT"), ("unit_id", "INTEGER"), ("chosen_by", "TEXT"),
                     ("chosen_at", "TEXT")],
    "prior_scans": [("document_sha256", "TEXT"), ("finder", "TEXT"), ("fiscal_year", "INTEGER"),
                    ("scanned_at", "TEXT")],
    "prior_statements": [("document_sha256", "TEXT"), ("idx", "INTEGER"), ("key", "TEXT"), ("year", "INTEGER"),
                         ("value", "REAL"), ("digits", "INTEGER"), ("computed", "INTEGER"), ("note", "TEXT"),
                         ("quote", "TEXT"), ("start", "INTEGER"), ("end", "INTEGER"), ("value_start", "INTEGER"),
                         ("value_end", "INTEGER"), ("context", "TEXT")],
}
# what `db.tables` does not show: generated columns, views, triggers
EXPECTED_GENERATED = {"jobs": [("sort_flagged", "INTEGER"), ("sort_confidence", "REAL")]}
EXPECTED_VIEWS = {"job_unit_text"}
EXPECTED_TRIGGERS = {"audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace", "job_counts_insert",
                     "job_counts_update", "job_counts_delete", "job_units_insert", "job_units_update",
                     "job_units_delete", "unit_audit_no_update", "unit_audit_no_delete", "unit_audit_no_replace",
                     *(f"{table}_no_{op}" for table in ("threshold_changes", "calibration_targets")
                       for op in ("update", "delete", "replace"))}


def make_doc(name="自评报告.docx", sha256=SHA):
    b = DocumentBuilder()
    b.start_page(1)
    b.add_paragraph("一、部门基本情况")
    b.add_paragraph("2023年度部门预算总额为1234.56万元。")
    b.start_page(2, ocr=True)
    b.add_ocr_line(2, "二、绩效指标完成情况", 0.87, box=(10.0, 20.0, 300.0, 40.0))
    b.add_table([["一级指标", "二级指标", "分值"], ["产出指标", "数量指标", "20"]], origin="docx")
    return b.build(name=name, sha256=sha256, kind="docx")


def make_sections(doc):
    second = doc.text.index("二、")
    return [Section("部门基本情况", 1, "narrative", 0, second, marker="一、"),
            Section("绩效指标完成情况", 1, "table", second, len(doc.text), marker="二、")]


def evidence(doc, quote):
    start = doc.text.index(quote)
    return Evidence(quote=quote, start=start, end=start + len(quote))


def make_extraction(doc):
    total = FieldValue("budget_total", 1234.56, confidence=0.95, evidence=evidence(doc, "1234.56万元"),
                       candidates=[FieldValue("budget_total", 1234.0, confidence=0.2)])
    unit = FieldValue("department", None, status=REVIEW, issues=["未找到单位名称"])
    row = IndicatorRow("部门整体绩效指标", "产出指标", "数量指标", None, None, None, 20.0, None,
                       confidence=0.9, evidence=evidence(doc, "产出指标"))
    return Extraction(engine="rules", engine_version="1.0", fields={"budget_total": total, "department": unit},
                      indicators=[row], projects=[Project("办公设备购置", budget_initial=10.0, score=9.5)],
                      problems=TextList(["预算编制不够精细"], evidence=evidence(doc, "部门基本情况")))


def counts(db):
    return {t: db[t].count for t in db.table_names()}


def test_blank_database_migrates_to_exact_schema(tmp_path):
    path = str(tmp_path / "blank.db")
    db = open_db(path)
    schema = {t.name: [(c.name, c.type) for c in t.columns] for t in db.tables}
    assert schema == EXPECTED_SCHEMA
    generated = {t.name: [(r[1], r[2]) for r in db.execute(f"pragma table_xinfo('{t.name}')") if r[6] in (2, 3)]
                 for t in db.tables if not t.name.startswith("job_units")}
    assert {t: cols for t, cols in generated.items() if cols} == EXPECTED_GENERATED
    assert set(db.view_names()) == EXPECTED_VIEWS
    assert {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")} == EXPECTED_TRIGGERS
    names = [m.__name__ for m in MIGRATIONS]
    assert applied_migrations(db) == names
    assert len(set(names)) == len(names)
    assert migrate(db) == []
    db.close()
    assert applied_migrations(open_db(path)) == names


def test_every_lookup_column_is_indexed(tmp_path):
    db = open_db(str(tmp_path / "x.db"))
    for table in db.tables:
        key = next((c for c in ("document_sha256", "run_id") if c in table.columns_dict), None)
        if key is None or table.name == "jobs":  # a job points at its latest run; nothing looks jobs up by it
            continue
        firsts = {db.execute(f"pragma index_info('{ix[1]}')").fetchone()[2]
                  for ix in db.execute(f"pragma index_list('{table.name}')").fetchall()}
        assert key in firsts, table.name


def test_wal_mode_is_on(tmp_path):
    db = open_db(str(tmp_path / "nested" / "dir" / "jixiao.db"))
    assert db.journal_mode == "wal"
    assert db.execute("pragma foreign_keys").fetchone()[0] == 1


def test_same_file_twice_is_one_document(store):
    doc = make_doc()
    assert store.save_document(doc, make_sections(doc)) is True
    again = make_doc(name="副本-自评报告.docx")
    assert store.save_document(again, make_sections(again)) is False
    assert store.save_document(again, make_sections(again)) is False
    assert store.document_count() == 1
    got = store.get_document(SHA)
    assert got["name"] == "自评报告.docx"
    assert got["names"] == ["自评报告.docx", "副本-自评报告.docx"]
    assert [p["number"] for p in got["pages"]] == [1, 2]
    assert [s["marker"] for s in got["sections"]] == ["一、", "二、"]
    assert len(got["tables"]) == 1 and len(got["ocr_lines"]) == 1
    assert got["ocr"] is True and got["page_count"] == 2


def test_document_parts_keep_their_offsets(store):
    doc = make_doc()
    store.save_document(doc, make_sections(doc))
    got = store.get_document(SHA)
    assert got["text"] == doc.text
    cell = got["tables"][0]["grid"][1][0]
    assert cell["text"] == "产出指标" == doc.text[cell["start"]:cell["end"]]
    line = got["ocr_lines"][0]
    assert doc.text[line["start"]:line["end"]] == "二、绩效指标完成情况"
    assert line["confidence"] == 0.87 and line["box"] == [10.0, 20.0, 300.0, 40.0]
    assert store.get_document("0" * 64) is None


def test_run_writes_fields_with_evidence_offsets(store):
    doc = make_doc()
    meta = {"started_at": "2024-05-01T08:00:00+00:00", "seconds": 1.5, "sections": 2}
    run_id = store.save_run(doc, make_sections(doc), make_extraction(doc), meta)
    assert store.document_count() == 1 and store.run_count() == 1
    run = store.latest_run(SHA)
    assert run["id"] == run_id and run["engine"] == "rules" and run["status"] == "done"
    assert run["started_at"] == meta["started_at"]
    assert run["stats"] == {"seconds": 1.5, "sections": 2}
    total = run["fields"]["budget_total"]
    assert total["value"] == 1234.56 and total["confidence"] == 0.95
    assert doc.text[total["start"]:total["end"]] == total["quote"] == "1234.56万元"
    assert total["candidates"][0]["value"] == 1234.0
    unit = run["fields"]["department"]
    assert unit["value"] is None and unit["quote"] is None and unit["issues"] == ["未找到单位名称"]
    ind = run["indicators"][0]
    assert ind["table_name"] == "部门整体绩效指标" and ind["weight"] == 20.0
    assert doc.text[ind["start"]:ind["end"]] == ind["quote"]
    assert run["projects"][0]["name"] == "办公设备购置" and run["projects"][0]["start"] is None
    assert run["lists"]["problems"]["items"] == ["预算编制不够精细"]
    assert "measures" not in run["lists"]


def test_second_run_of_same_document_is_latest(store):
    doc = make_doc()
    first = store.save_run(doc, make_sections(doc), make_extraction(doc), {})
    second = store.save_run(doc, make_sections(doc), make_extraction(doc), {"status": "partial"})
    assert second > first
    assert store.document_count() == 1 and store.run_count() == 2
    assert store.latest_run(SHA)["status"] == "partial"
    assert store.latest_run("0" * 64) is None
    listed = store.list_documents()
    assert [(d["sha256"], d["run_count"], d["latest_run_id"]) for d in listed] == [(SHA, 2, second)]
    assert "text" not in listed[0]


def _fail_on(monkeypatch, table_name):
    real = sqlite_utils.db.Table.insert_all

    def insert_all(self, records, *args, **kwargs):
        if self.name == table_name:
            raise RuntimeError("disk on fire")
        return real(self, records, *args, **kwargs)

    monkeypatch.setattr(sqlite_utils.db.Table, "insert_all", insert_all)


def test_failure_midway_leaves_nothing_half_written(store, monkeypatch):
    doc = make_doc()
    before = counts(store.db)
    _fail_on(monkeypatch, "field_results")
    with pytest.raises(StoreError, match="数据库未做任何更改"):
        store.save_run(doc, make_sections(doc), make_extraction(doc), {})
    assert counts(store.db) == before
    assert store.get_document(SHA) is None
    monkeypatch.undo()
    assert store.save_run(doc, make_sections(doc), make_extraction(doc), {}) > 0
    assert store.document_count() == 1 and store.run_count() == 1


def test_failed_run_of_known_document_keeps_no_new_name(store, monkeypatch):
    doc = make_doc()
    store.save_document(doc, make_sections(doc))
    before = counts(store.db)
    _fail_on(monkeypatch, "indicator_results")
    renamed = make_doc(name="另一个名字.pdf")
    with pytest.raises(StoreError):
        store.save_run(renamed, make_sections(renamed), make_extraction(renamed), {})
    assert counts(store.db) == before
    assert store.get_document(SHA)["names"] == ["自评报告.docx"]


def test_migration_failure_rolls_back(tmp_path):
    db = open_db(str(tmp_path / "x.db"))
    before_tables = set(db.table_names())

    def m900_add_notes(db):
        db["notes"].create({"id": int, "text": str}, pk="id")

    def m901_broken(db):
        db["scratch"].create({"id": int}, pk="id")
        db["_sqlite_migrations"].insert({"migration_set": "jixiao", "name": "fake", "applied_at": "now"})
        raise RuntimeError("boom")

    with pytest.raises(StoreError, match="m901_broken"):
        migrate(db, [*MIGRATIONS, m900_add_notes, m901_broken])
    assert set(db.table_names()) == before_tables | {"notes"}
    assert applied_migrations(db) == [m.__name__ for m in MIGRATIONS] + ["m900_add_notes"]
    assert not db.conn.in_transaction


def test_llm_answer_cache_round_trip(tmp_path):
    store = Store(str(tmp_path / "c.db"))
    assert store.cached_answer("k1") is None
    store.cache_answer("k1", "deepseek-chat", "facts", "abc123", {"facts": [{"key": "income_total"}]}, 120, 30)
    got = store.cached_answer("k1")
    assert got["response"] == {"facts": [{"key": "income_total"}]}
    assert (got["prompt_tokens"], got["completion_tokens"], got["prompt_version"]) == (120, 30, "abc123")
