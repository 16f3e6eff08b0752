"""Dataclasses to table rows and back: pure functions, no SQL.

The store writes exactly the rows built here, so the mapping from the models
to the columns of `migrations.py` lives in one place. JSON columns are written
with `ensure_ascii=False` so Chinese stays readable in the database.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

from service.document import Document
from service.fields import field_keys
from service.labels import LISTS
from service.models import DEPARTMENT_TABLE, REVIEW, Evidence, Extraction, FieldValue, Section
from service.record import ListEntry, Record

# Columns holding JSON text, decoded by `decode`; `ocr` columns hold 0/1.
JSON_COLUMNS = {"warnings", "grid", "box", "parts", "stats", "value", "issues", "candidates", "items", "extracted",
                "evidence", "old_value", "new_value"}
RUN_TIME_KEYS = ("started_at", "finished_at", "status")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars from the OCR engine
        return value.item()
    return str(value)


def _evidence(ev: Evidence | None) -> dict[str, Any]:
    if ev is None:
        return {"quote": None, "start": None, "end": None}
    return {"quote": ev.quote, "start": ev.start, "end": ev.end}


def _timestamp(value: Any) -> str | None:
    """A time given as datetime, epoch seconds or text, as ISO-8601 text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return datetime.fromtimestamp(float(value), UTC).isoformat(timespec="seconds")


def document_row(doc: Document) -> dict[str, Any]:
    return {"sha256": doc.sha256, "name": doc.name, "kind": doc.kind, "text": doc.text,
            "ocr": int(doc.ocr), "page_count": len(doc.pages), "created_at": now(),
            "warnings": to_json(doc.warnings)}


def name_row(doc: Document) -> dict[str, Any]:
    return {"document_sha256": doc.sha256, "name": doc.name, "first_seen": now()}


def page_rows(doc: Document) -> list[dict[str, Any]]:
    return [{"document_sha256": doc.sha256, "number": p.number, "start": p.start, "end": p.end,
             "ocr": int(p.ocr), "width": p.width, "height": p.height} for p in doc.pages]


def section_rows(doc: Document, sections: list[Section]) -> list[dict[str, Any]]:
    return [{"document_sha256": doc.sha256, "idx": i, "title": s.title, "level": s.level,
             "kind": s.kind, "start": s.start, "end": s.end, "marker": s.marker}
            for i, s in enumerate(sections)]


def document_tables(doc: Document) -> list[dict[str, Any]]:
    return [{"document_sha256": doc.sha256, "idx": i, "start": t.start, "end": t.end,
             "origin": t.origin,
             "grid": to_json([[{"text": c.text, "start": c.start, "end": c.end} for c in row]
                              for row in t.rows])}
            for i, t in enumerate(doc.tables)]


def ocr_line_rows(doc: Document) -> list[dict[str, Any]]:
    return [{"document_sha256": doc.sha256, "idx": i, "page": ln.page, "start": ln.start,
             "end": ln.end, "confidence": ln.confidence,
             "box": None if ln.box is None else to_json(list(ln.box)),
             "parts": None if ln.parts is None else to_json([list(p) for p in ln.parts])}
            for i, ln in enumerate(doc.ocr_lines)]


def run_row(doc: Document, extraction: Extraction, meta: dict[str, Any]) -> dict[str, Any]:
    """`meta` may carry started_at / finished_at / status; everything else is stats."""
    stamp = now()
    stats = {k: v for k, v in meta.items() if k not in RUN_TIME_KEYS}
    return {"document_sha256": doc.sha256, "engine": extraction.engine,
            "engine_version": extraction.engine_version,
            "started_at": _timestamp(meta.get("started_at")) or stamp,
            "finished_at": _timestamp(meta.get("finished_at")) or stamp,
            "status": meta.get("status") or "done", "stats": to_json(stats)}


def field_rows(run_id: int, extraction: Extraction) -> list[dict[str, Any]]:
    return [_field_row(run_id, key, fv) for key, fv in extraction.fields.items()]


def _field_row(run_id: int, key: str, fv: FieldValue) -> dict[str, Any]:
    return {"run_id": run_id, "key": key, "value": to_json(fv.value), "status": fv.status,
            "confidence": fv.confidence, **_evidence(fv.evidence), "issues": to_json(fv.issues),
            "note": fv.note, "candidates": to_json(fv.candidates)}


def indicator_results(run_id: int, extraction: Extraction) -> list[dict[str, Any]]:
    return [{"run_id": run_id, "idx": i, "table_name": r.table, "level1": r.level1,
             "level2": r.level2, "name": r.name, "target": r.target, "actual": r.actual,
             "weight": r.weight, "score": r.score, "remark": r.remark, "status": r.status,
             "confidence": r.confidence, **_evidence(r.evidence), "issues": to_json(r.issues)}
            for i, r in enumerate(extraction.indicators)]


def project_rows(run_id: int, extraction: Extraction) -> list[dict[str, Any]]:
    return [{"run_id": run_id, "idx": i, "name": p.name, "budget_initial": p.budget_initial,
             "budget_full_year": p.budget_full_year, "spending_actual": p.spending_actual,
             "execution_rate": p.execution_rate, "score": p.score, "status": p.status,
             **_evidence(p.evidence), "issues": to_json(p.issues)}
            for i, p in enumerate(extraction.projects)]


def list_rows(run_id: int, extraction: Extraction) -> list[dict[str, Any]]:
    lists = {"problems": extraction.problems, "measures": extraction.measures}
    return [{"run_id": run_id, "key": key, "items": to_json(tl.value), "status": tl.status,
             **_evidence(tl.evidence), "issues": to_json(tl.issues)}
            for key, tl in lists.items() if tl is not None]


def decode(row: dict[str, Any]) -> dict[str, Any]:
    """A row as read back: JSON columns parsed, `ocr` as bool."""
    out = dict(row)
    for col in JSON_COLUMNS.intersection(out):
        if isinstance(out[col], str):
            out[col] = json.loads(out[col])
    if "ocr" in out and out["ocr"] is not None:
        out["ocr"] = bool(out["ocr"])
    return out


def queue_summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    """What the queue shows of a document: unit, year, number of flagged items, the least confidence."""
    values = {i["item"]: i["value"] for i in items}
    flagged = [i for i in items if i["status"] == REVIEW]
    year = values.get("field:fiscal_year")
    return {"unit_name": values.get("field:unit_name"),
            "fiscal_year": year if isinstance(year, int) else None,
            "flagged": len(flagged),
            "min_confidence": min((i["confidence"] for i in flagged), default=None)}


# -- confirmed records (a reviewed record JSON -> the confirmed tables) ------------



def confirmed_report_row(sha256: str, job: dict[str, Any], record: Record, user: str,
                         stamp: str) -> dict[str, Any]:
    return {"document_sha256": sha256, "source_name": job["name"],
            **{k: record.field_value(k) for k in field_keys()},
            "run_id": job.get("run_id"), "engine": record.engine.name if record.engine else None,
            "confirmed_by": user, "confirmed_at": stamp}


def confirmed_field_rows(sha256: str, record: Record) -> list[dict[str, Any]]:
    out = []
    for key, f in record.fields.items():
        out.append({"document_sha256": sha256, "key": key, "value": to_json(f.value), "status": f.status,
                    **_evidence(f.evidence)})
    for key in LISTS:
        tl = getattr(record, key)
        if tl is not None:
            out.append({"document_sha256": sha256, "key": key, "value": to_json(tl.value), "status": tl.status,
                        **_evidence(tl.evidence)})
    return out


def confirmed_indicator_rows(sha256: str, record: Record) -> list[dict[str, Any]]:
    return [{"document_sha256": sha256, "idx": i, "table_name": r.table or DEPARTMENT_TABLE,
             **{k: getattr(r, k) for k in ("level1", "level2", "name", "target", "actual", "weight", "score",
                                           "remark")}, "status": r.status}
            for i, r in enumerate(record.indicators)]


def confirmed_project_rows(sha256: str, record: Record) -> list[dict[str, Any]]:
    return [{"document_sha256": sha256, "idx": i,
             **{k: getattr(p, k) for k in ("name", "budget_initial", "budget_full_year", "spending_actual",
                                           "execution_rate", "score")}, "status": p.status}
            for i, p in enumerate(record.projects)]


def confirmed_list_rows(sha256: str, record: Record) -> list[dict[str, Any]]:
    return [{"document_sha256": sha256, "list": key, "idx": i, "text": text}
            for key in LISTS for i, text in enumerate((getattr(record, key) or ListEntry()).value)]
