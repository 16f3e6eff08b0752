"""The second look at an LLM engine's record: what the engine trusted but the re-check doubts goes to
review; the engine's own doubts are kept; what the engine left empty but the rules engine reads is proposed
for review (a value the report states is never silently dropped). Mutates and returns the record JSON.
"""

from __future__ import annotations

import re
import unicodedata

from service.check.recheck import recheck
from service.document import Document
from service.extract.rules import engine as rules
from service.models import Section
from service.record import to_record
from service.settings import Settings


def second_look(doc: Document, sections: list[Section], record: dict, settings: Settings) -> dict:
    """Send to review what the engine trusted but the re-check doubts; keep the engine's own doubts; propose
    for review what the engine left empty but the rules extractor reads."""
    second = rules.extract(doc, sections, ocr_review_below=settings.ocr_review_below)
    checked = recheck(doc, sections, record, accept_at=settings.threshold,
                      ocr_review_below=settings.ocr_review_below, rules=second)
    for key, value in (record.get("fields") or {}).items():
        _escalate(value, checked["fields"].get(key) or {})
    for row, again in zip(record.get("indicators") or [], checked.get("indicators") or [], strict=False):
        _escalate(row, again)
    rules_record = to_record(doc, second)
    _propose_what_the_engine_missed(record, rules_record["fields"])
    _propose_rows_the_engine_missed(record, rules_record["indicators"])
    return record


def _row_key(row: dict) -> str:
    return re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", row.get("name") or ""))


def _propose_rows_the_engine_missed(record: dict, rules_rows: list[dict]) -> None:
    """Score rows the rules extractor reads and trusts that the model did not return go to review as
    proposals, so a table the model read short is never trusted short (rows the rules extractor doubts
    itself are mostly text it could not place, and would only bury the reviewer)."""
    rows = record.setdefault("indicators", [])
    have = {_row_key(r) for r in rows}
    for r in rules_rows:
        key = _row_key(r)
        if r.get("status") == "review" or not key or key in have or any(key in k or k in key for k in have if len(k) >= 4 and len(key) >= 4):
            continue
        have.add(key)
        rows.append({**r, "status": "review", "confidence": min(r.get("confidence") or 0.0, 0.5),
                     "issues": [*r.get("issues", []), "大模型没有读出此行；规则提取在原文读到此行（建议值），请核对或删除"]})


def _propose_what_the_engine_missed(record: dict, second: dict) -> None:
    """A field left empty that the rules extractor reads goes to review with that reading: never silently
    dropped (a value the report states but nobody sees is the second worst outcome)."""
    fields = record.setdefault("fields", {})
    for key, found in second.items():
        if (fields.get(key) or {}).get("value") is not None or found.get("value") is None:
            continue
        fields[key] = {**found, "status": "review", "confidence": min(found.get("confidence") or 0.0, 0.5),
                       "issues": [f"大模型没有读出此项；规则提取在原文读到 {found['value']}，请核对"]}


def _escalate(value: dict, again: dict) -> None:
    if again.get("status") == "review" and value.get("status") != "review":
        value["status"] = "review"
        value["confidence"] = min(value.get("confidence") or 0.0, again.get("confidence") or 0.0)
        value["issues"] = list(dict.fromkeys([*value.get("issues", []), *again.get("issues", [])]))
