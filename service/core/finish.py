"""The steps every engine ends with: candidates merged per field, checks run, OCR doubts flagged.

The rules extractor and the LLM engine both produce `Candidate`s, score rows
and projects; what turns them into trusted or to-be-reviewed values is the
same, so it lives here once.
"""

from __future__ import annotations

from collections import defaultdict

from service.check.consistency import FIELD_CHECKS, indicator_score_in_range, table_adds_up, table_sums
from service.core.candidates import Candidate
from service.core.genre import is_deduction
from service.core.merge import merge_field
from service.document import Document
from service.fields import FIELDS
from service.models import ACCEPTED, REVIEW, Extraction, IndicatorRow


def check_score_table(rows: list[IndicatorRow], money: dict, stated_total) -> list[str]:
    """Rows scored outside 0..weight go to review; the table's sum problems are returned for its total."""
    counted = [r for r in rows if not is_deduction(r.level1)]
    for r in rows:
        issue = indicator_score_in_range(r.weight, r.score)
        if issue:
            r.status = REVIEW
            r.issues.append(issue)
    return table_sums([r.weight for r in counted], [r.score for r in counted],
                      money.get("execution_weight"), money.get("execution_score"), stated_total)


def trust_rebuilt_rows(rows: list[IndicatorRow], money: dict, stated_total, trustable: set[str]) -> None:
    """Rows of a score table rebuilt from the order of its cells are trusted only when the table adds up:
    its weights (with 预算执行率's) make 100 and its scores the stated total, which shows every number in
    its column. Only the rows whose doubts are all `trustable` (their 指标值 and 完成值 both empty, so only
    分值 and 得分 were placed) are then accepted; a row whose text columns were inferred stays in review."""
    fits = _adds_up(rows, money, stated_total)
    for r in rows:
        if fits and r.status == REVIEW and r.issues and all(i in trustable for i in r.issues):
            r.status, r.confidence, r.issues = ACCEPTED, 0.8, []
        elif not fits and r.status != REVIEW:
            r.status = REVIEW
            r.confidence = min(r.confidence, 0.6)
            r.issues.append("表格由文本还原，分值或得分合计与总分对不上，无法确认每个数在哪一列，请核对原表")


def keep_paired_rows(rows: list[IndicatorRow], money: dict, stated_total) -> list[IndicatorRow]:
    """Rows whose names and values were paired by order from separate runs (`service.ingest.stream_runs`)
    stand only when the table adds up, as `trust_rebuilt_rows` asks: a run paired with the wrong names, or
    read with a cell too many or too few, shows in the sums; then no row is given, never a guess."""
    return rows if _adds_up(rows, money, stated_total) else []


def _adds_up(rows: list[IndicatorRow], money: dict, stated_total) -> bool:
    counted = [r for r in rows if not is_deduction(r.level1)]
    return table_adds_up([r.weight for r in counted], [r.score for r in counted],
                         money.get("execution_weight"), money.get("execution_score"), stated_total)


def flag_low_ocr(doc: Document, item, threshold: float) -> None:
    """A field, score row or project read from OCR text below the threshold goes to review."""
    if item.evidence is None:
        return
    conf = doc.ocr_confidence(item.evidence.start, item.evidence.end)
    if conf is not None and conf < threshold:
        item.status = REVIEW
        if hasattr(item, "confidence"):
            item.confidence = min(item.confidence, round(conf, 2))
        item.issues.append(f"该内容来自扫描件 OCR 识别，置信度较低（{conf:.2f}），请对照原件核对")


def merge_candidates(doc: Document, ex: Extraction, cands: list[Candidate], ocr_review_below: float) -> None:
    """One value per field into `ex.fields`, then the field checks and OCR flags."""
    by_field: dict[str, list[Candidate]] = defaultdict(list)
    for c in cands:
        by_field[c.field].append(c)
    year = merge_field("fiscal_year", by_field.get("fiscal_year", []))
    if year is not None and year.value:
        for key, found in by_field.items():  # 2022年基本支出… in a 2023 report is another year's amount
            by_field[key] = [c for c in found if c.year is None or c.year == year.value]
    for spec in FIELDS:
        fv = merge_field(spec.key, by_field.get(spec.key, []))
        if fv is not None:
            flag_low_ocr(doc, fv, ocr_review_below)
            ex.fields[spec.key] = fv
    for check in FIELD_CHECKS:
        for key, issue in check(ex.fields):
            ex.fields[key].status = REVIEW
            ex.fields[key].issues.append(issue)
    for item in [*ex.indicators, *ex.projects]:
        flag_low_ocr(doc, item, ocr_review_below)
