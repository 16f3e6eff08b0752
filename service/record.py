"""Extraction -> record JSON (spec/record-format.md), the shape every export can take."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from service.core.evidence import as_dict as _evidence
from service.document import Document
from service.models import Extraction, FieldValue, TextList


def _field(fv: FieldValue) -> dict[str, Any]:
    out = {"value": fv.value, "status": fv.status, "confidence": fv.confidence,
           "evidence": _evidence(fv.evidence), "issues": list(fv.issues)}
    if fv.note:
        out["note"] = fv.note
    if fv.candidates:
        out["candidates"] = [{"value": c.value, "evidence": _evidence(c.evidence), "note": c.note}
                             for c in fv.candidates]
    return out


def _list(tl: TextList | None) -> dict | None:
    if tl is None:
        return None
    return {"value": tl.value, "status": tl.status, "evidence": _evidence(tl.evidence), "issues": tl.issues}


def to_record(doc: Document, ex: Extraction) -> dict[str, Any]:
    return {
        "source": {"name": doc.name, "sha256": doc.sha256, "kind": doc.kind, "ocr": doc.ocr,
                   "pages": len(doc.pages)},
        "engine": {"name": ex.engine, "version": ex.engine_version},
        "fields": {k: _field(v) for k, v in ex.fields.items()},
        "indicators": [{**{k: v for k, v in asdict(r).items() if k != "evidence"},
                        "evidence": _evidence(r.evidence)} for r in ex.indicators],
        "projects": [{**{k: v for k, v in asdict(p).items() if k != "evidence"},
                      "evidence": _evidence(p.evidence)} for p in ex.projects],
        "problems": _list(ex.problems),
        "measures": _list(ex.measures),
    }
