"""Re-check a record from any source against the report it claims to come from.

The values are all that is trusted: evidence may be missing, wrong or made
up. Every field is grounded by value in the report (`service.check.grounding`),
compared with the rules extractor's reading (a second opinion), and run
through the consistency rules (`service.check.consistency`). The signals combine into
one confidence per field:

| signal | effect |
|---|---|
| stated next to its label (or verbatim, for text) | base 0.92 |
| the number is in the report, but not next to a label of this field | base 0.60 (0.92 when the rules extractor reads it for this field, e.g. under a table's column header) |
| not in the report | base 0.05: made up until a person says otherwise |
| the claimed quote is not in the report | −0.30 |
| the rules extractor reads the same value | +0.05 |
| the rules extractor reads another value, or the report states two | −0.50 |
| a consistency or plausibility rule breaks | −0.50 |
| OCR confidence of the evidence below `ocr_review_below` | capped at that confidence |

A field is `accepted` when its confidence reaches its threshold (setting
`accept_at`, default 0.80; per-field overrides in `accept_at_fields`), else
`review`, with every reason in Chinese.

The score-table rows (`indicators`) are re-checked the same way, by
`service.check.rows`, whose docstring has their table of signals; their
threshold is the one for the key `indicators`.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.check.consistency import FIELD_CHECKS
from service.check.grounding import EXACT, NEAR_LABEL, NOT_FOUND, NUMERIC, Grounding, ground
from service.check.rows import recheck_rows
from service.core.align import locate
from service.core.numbers import same_value
from service.document import Document
from service.extract.rules.engine import extract as rules_extract
from service.fields import BY_KEY
from service.models import ACCEPTED, REVIEW, Evidence, Extraction, FieldValue, Section
from service.record import FieldEntry, Record

BASE = {EXACT: 0.92, NEAR_LABEL: 0.92, NUMERIC: 0.60, NOT_FOUND: 0.05}
ACCEPT_AT = 0.80


@dataclass
class FieldCheck:
    confidence: float
    reasons: list[str]
    match: str
    evidence: Evidence | None = None


def recheck(doc: Document, sections: list[Section], record: Record, accept_at=ACCEPT_AT,
            ocr_review_below: float = 0.9, rules: Extraction | None = None) -> Record:
    """A copy of `record` with every field's and score row's status, confidence, evidence and issues recomputed.

    `accept_at` is one threshold, or a function of the field key (Settings.threshold; `indicators` for rows).
    `rules` is the rules extractor's reading of the document (the second opinion), made here when not given.
    """
    threshold = accept_at if callable(accept_at) else (lambda _key: accept_at)
    out = record.model_copy(deep=True)
    rules = rules or rules_extract(doc, sections, ocr_review_below=ocr_review_below)
    _recheck_fields(doc, out, rules.fields, threshold, ocr_review_below)
    recheck_rows(doc, out.indicators, rules.indicators, threshold, ocr_review_below)
    return out


def _recheck_fields(doc: Document, out: Record, second: dict[str, FieldValue], threshold,
                    ocr_review_below: float) -> None:
    """Every stated field of `out`, in place, against the report and the rules extractor's fields (`second`)."""
    values = {k: FieldValue(key=k, value=f.value) for k, f in out.fields.items() if k in BY_KEY}
    broken: dict[str, list[str]] = {}
    for check in FIELD_CHECKS:
        for key, reason in check(values):
            broken.setdefault(key, []).append(reason)
    for key, field in out.fields.items():
        if key not in BY_KEY or field.value is None:
            continue
        result = check_field(doc, key, field, second.get(key), broken.get(key, []), ocr_review_below)
        field.confidence = round(result.confidence, 2)
        field.status = ACCEPTED if result.confidence >= threshold(key) else REVIEW
        field.issues = result.reasons
        field.grounding = result.match
        if result.evidence is not None:
            field.evidence = result.evidence


def check_field(doc: Document, key: str, field: FieldEntry, rules_value: FieldValue | None, broken: list[str],
                ocr_review_below: float) -> FieldCheck:
    value = field.value
    g = ground(doc.text, key, value)
    agrees = rules_value is not None and same_value(rules_value.value, value)
    if g.match == NUMERIC and agrees and rules_value.evidence is not None:
        g = Grounding(NEAR_LABEL, rules_value.evidence)  # read under its column header or row label in a table
    conf, reasons = BASE[g.match], []
    if g.match == NOT_FOUND:
        reasons.append(f"原文中找不到 {value}")
    elif g.match == NUMERIC:
        reasons.append(f"原文中有 {value}，但不在“{BY_KEY[key].zh}”的标签旁")
    quote = field.evidence.quote if field.evidence is not None else None
    if quote and locate(quote, doc.text) is None:
        conf -= 0.30
        reasons.append("所附引文在原文中找不到")
    if rules_value is not None and rules_value.value is not None:
        if same_value(rules_value.value, value) and not rules_value.candidates:
            conf += 0.05
        else:
            conf -= 0.50
            others = [c.value for c in [rules_value, *rules_value.candidates] if not same_value(c.value, value)]
            if others:
                reasons.append("报告中另有数值：" + "、".join(str(v) for v in others))
            else:
                reasons.append("报告在不同位置给出了不同的数值")
    if broken:
        conf -= 0.50
        reasons += broken
    if g.evidence is not None:
        ocr = doc.ocr_confidence(g.evidence.start, g.evidence.end)
        if ocr is not None and ocr < ocr_review_below:
            conf = min(conf, ocr)
            reasons.append(f"OCR 识别置信度较低（{ocr:.2f}）")
    return FieldCheck(max(0.0, min(1.0, conf)), reasons, g.match, g.evidence)


