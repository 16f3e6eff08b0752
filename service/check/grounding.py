"""Where does the report state this value? Grounding by value, not by the quote a source claims.

A number is looked for in every written form the report may use: thousands
separators, full-width digits, 元 / 万元 / 亿元 (converted to the field's 万元),
a percent sign. A match next to a label that means this field is `near_label`;
the number somewhere else is `numeric`; a zero written as 无 right after the label is `near_label` too;
a text value found verbatim is
`exact`; nothing is `not_found`, and a value the report does not contain was
made up until a person says otherwise. Pure functions of (document text,
field, value).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from service.core.lexicon import LABELS
from service.core.numbers import NUMBER, money_to_wan, same_number, to_decimal
from service.fields import BY_KEY
from service.models import Evidence

EXACT, NEAR_LABEL, NUMERIC, NOT_FOUND = "exact", "near_label", "numeric", "not_found"
_AMOUNT = re.compile(rf"(?P<num>{NUMBER})\s*(?P<unit>万元|亿元|万|元|%|％|分|人|名|辆|个)?")
_LABEL_WINDOW = 16  # characters before a number in which its label must stand


@dataclass(frozen=True)
class Grounding:
    match: str
    evidence: Evidence | None = None


def _labels(key: str) -> list[re.Pattern]:
    return [re.compile(lab.pattern) for lab in LABELS if lab.field == key]




def _as_field_value(key: str, num: str, unit: str | None) -> float | None:
    kind = BY_KEY[key].kind
    if kind == "money":
        got = money_to_wan(num, unit or "万元")
        return float(got[0]) if got else None
    d = to_decimal(num)
    return float(d) if d is not None else None


def ground(text: str, key: str, value) -> Grounding:
    """How (and where) `text` states `value` for field `key`."""
    if value is None:
        return Grounding(NOT_FOUND)
    if key == "fiscal_year" and isinstance(value, int | float) and not isinstance(value, bool):
        return _ground_year(text, int(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _ground_number(text, key, float(value))
    return _ground_text(text, key, str(value))


def _ground_number(text: str, key: str, value: float) -> Grounding:
    folded = unicodedata.normalize("NFKC", text)  # same length for digits and ASCII punctuation
    if len(folded) != len(text):
        folded = text
    labels = _labels(key)
    found = None
    for m in _AMOUNT.finditer(folded):
        v = _as_field_value(key, m.group("num"), m.group("unit"))
        if v is None or not same_number(v, value):
            continue
        window = folded[max(0, m.start() - _LABEL_WINDOW):m.start()]
        if any(rx.search(window) for rx in labels):
            start = max(0, m.start() - _LABEL_WINDOW)
            start = next((start + x.start() for rx in labels for x in [rx.search(window)] if x), start)
            return Grounding(NEAR_LABEL, Evidence(text[start:m.end()], start, m.end()))
        found = found or Grounding(NUMERIC, Evidence(text[m.start():m.end()], m.start(), m.end()))
    if found is None and value == 0:
        found = _ground_none(text, key, labels)
    return found or Grounding(NOT_FOUND)


# 「项目支出情况：无」「（二）项目支出情况\n无」: the label, then 无 / 零 / 没有 standing alone
_NONE_AFTER = re.compile(r"(?:情况)?[ \t\u3000:：为是]*\n?[ \t\u3000]*(?:无|零|没有)(?=$|[\s。，,；;）)])", re.M)


def _ground_none(text: str, key: str, labels: list[re.Pattern]) -> Grounding | None:
    """A zero the report writes as 无 right after a label of the field (or 无公务用车 for vehicles)."""
    if key == "vehicles":
        m = re.search(r"无公务用车|没有公务用车", text)
        if m:
            return Grounding(NEAR_LABEL, Evidence(m.group(), m.start(), m.end()))
    for rx in labels:
        for lab in rx.finditer(text):
            m = _NONE_AFTER.match(text, lab.end())
            if m:
                return Grounding(NEAR_LABEL, Evidence(text[lab.start():m.end()], lab.start(), m.end()))
    return None


def _ground_year(text: str, year: int) -> Grounding:
    m = re.search(rf"{year}\s*年", text)
    return Grounding(EXACT, Evidence(m.group(), m.start(), m.end())) if m else Grounding(NOT_FOUND)


def _ground_text(text: str, key: str, value: str) -> Grounding:
    if key == "report_date":
        m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            rx = re.compile(rf"{y}\s*年\s*0?{mo}\s*月\s*0?{d}\s*日")
            hit = rx.search(text)
            if hit:
                return Grounding(EXACT, Evidence(hit.group(), hit.start(), hit.end()))
        return Grounding(NOT_FOUND)
    if key == "fiscal_year" and value.isdigit():
        return _ground_year(text, int(value))
    i = text.find(value)
    if i >= 0:
        return Grounding(EXACT, Evidence(value, i, i + len(value)))
    return Grounding(NOT_FOUND)
