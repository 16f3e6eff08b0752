"""From candidates to one value per field: agreement raises confidence, disagreement goes to review."""

from __future__ import annotations

from service.core.candidates import Candidate
from service.core.numbers import same_value
from service.models import REVIEW, FieldValue

BASE_CONFIDENCE = {"table": 0.9, "text": 0.85}




def _fmt(v) -> str:
    return str(v)


def merge_field(field: str, cands: list[Candidate]) -> FieldValue | None:
    if not cands:
        return None
    tier = min(c.tier for c in cands)
    cands = [c for c in cands if c.tier == tier]
    groups: list[list[Candidate]] = []
    for c in cands:
        for g in groups:
            if same_value(g[0].value, c.value):
                g.append(c)
                break
        else:
            groups.append([c])
    if field == "unit_name" and len(groups) > 1:
        groups = _nest_names(groups)
    groups.sort(key=lambda g: (-sum(c.source == "table" for c in g), -len(g), g[0].evidence.start))
    best = groups[0]
    lead = min(best, key=lambda c: (c.source != "table", c.evidence.start))
    conf = BASE_CONFIDENCE[lead.source] - (0.1 if tier > 1 else 0.0)
    conf = min(0.98, conf + 0.04 * (len({(c.evidence.start) for c in best}) - 1))
    fv = FieldValue(key=field, value=lead.value, confidence=round(conf, 2), evidence=lead.evidence,
                    note=lead.note)
    doubts = sorted({c.issue for c in best if c.issue})
    if doubts:
        fv.status = REVIEW
        fv.confidence = min(fv.confidence, 0.5)
        fv.issues += doubts
    if len(groups) > 1:
        fv.status = REVIEW
        fv.confidence = 0.4
        fv.candidates = [FieldValue(key=field, value=g[0].value, evidence=g[0].evidence, note=g[0].note,
                                    confidence=BASE_CONFIDENCE[g[0].source]) for g in groups[1:]]
        others = "、".join(f"{_where(g[0])} {_fmt(g[0].value)}" for g in groups[1:])
        fv.issues.append(f"报告中有不一致的数值：{_where(lead)} {_fmt(lead.value)}；{others}")
    return fv


def _where(c: Candidate) -> str:
    return "表格" if c.source == "table" else "正文"


def _nest_names(groups):
    """`平等乡人民政府` and `峨边彝族自治县平等乡人民政府` name one unit: keep the fullest."""
    groups.sort(key=lambda g: -len(str(g[0].value)))
    longest = str(groups[0][0].value)
    if all(str(g[0].value) in longest for g in groups):
        return [[c for g in groups for c in g if str(c.value) == longest]]
    return groups
