"""Expected facts checked for presence: a value the report states is never silently null.

Both engines leave a field empty when they did not read it; that is not the
same as the report not stating it. After extraction every empty field is
judged here, on the document's text alone:

- a fact every report of the genre states (unit, year; for a department's
  report its self-evaluation score and its budget block) is 「未找到」 and goes
  to review;
- a field whose label words stand next to a number in the text (「流动负债其他应付款
  1181.09万元」 for 负债总额) is 「未找到」 too, with that place highlighted and its
  number proposed;
- otherwise the text gives no sign of the fact, and the empty value is
  accepted as 未提及: confirmed absent by this check, never by default.

The label words are deliberately wider than the extractors' (lexicon.py):
they only decide what a reviewer looks at, never a value.

Pure functions: the record in, the record out.
"""

from __future__ import annotations

import re

from service.core.genre import sign_off_span, simplified
from service.core.project_docs import is_department_document
from service.fields import BY_KEY
from service.models import ACCEPTED, REVIEW, Evidence
from service.record import FieldEntry, Reading, Record

# field -> label words that, next to a number, suggest the report states it
MENTIONS: dict[str, str] = {
    "staff_authorized": r"编制(?:数|人数)?",
    "staff_actual": r"在职(?:人员|人数)?|实有(?:人员|人数)",
    "retirees": r"退休(?:人员|人数)?",
    "vehicles": r"公务用车|公车|车辆",
    "budget_initial": r"年初预算",
    "budget_full_year": r"全年预算|调整(?:后)?预算|预算总(?:金)?额",
    "spending_actual": r"全年执行数|执行数|决算(?:支出|数)|实际支出",
    "execution_rate": r"执行率",
    "income_total": r"收入(?:合计|总计|总额)|总收入|本年收入",
    "income_general_budget": r"一般公共(?:财政|预算)|财政拨款收入",
    "income_gov_fund": r"政府性基金",
    "income_other": r"其他收入|其他资金",
    "expense_total": r"支出(?:合计|总计|总额)|总支出",
    "expense_basic": r"基本支出",
    "expense_project": r"项目支出(?!绩效)",
    "expense_personnel": r"人员经费",
    "expense_public": r"公用经费",
    "sangong_budget": r"三公[”\"」']?\s*经费[^。；\n]{0,6}预算",
    "sangong_actual": r"三公[”\"」']?\s*经费",
    "sangong_overseas_actual": r"因公出国|出国(?:经|费)",
    "sangong_vehicle_actual": r"公务用车(?:购置|运行)|公车(?:购置|运行)",
    "sangong_reception_actual": r"公务接待",
    "procurement_actual": r"政府采购",
    "assets_total": r"(?<!净)资产",
    "liabilities_total": r"负债",
    "net_assets": r"净资产",
    "self_score": r"(?<!项目)(?:自评|综合|评价)?(?:总分|得分)",
    "execution_weight": r"执行率[^。；\n]{0,4}(?:分值|权重)",
    "execution_score": r"执行率[^。；\n]{0,8}得分",
}
# a number near the label: not a year, a date, a list number or an ordinal
_NUMBER = re.compile(r"(?<![\d.])(\d[\d,]*(?:\.\d+)?)\s*(万元|万|亿元|元|%|％|人|名|辆|分)?(?![\d.,])(?!\s*[年月日号届期、])")
_NONE = re.compile(r"^(?:情况|支出|经费|费用|金额)?[\s:：为是]{0,3}无(?![\u4e00-\u9fff])")  # 项目支出情况 无: a zero
_DIGITS = re.compile(r"(?<!\d)\d[\d.,]{2,}")  # cells run together (736.55185.53032.07): a number, unread
_NEAR = 14
# what may stand between a label and its number: the label's own ending, a colon, 为, a unit in brackets
_CONNECTOR = re.compile(r"(?:总额|总计|合计|共计|金额|总数|人数|数|[ \u3000:：为是共达约（）()万元])*")
_COMPOUND = re.compile(r"[和及与](?:净资产|负债|资产)")
# a whole-department figure named after a part (三公经费年初预算5万元) is the part's: shown, not proposed
_WHOLE = {"budget_initial", "budget_full_year", "spending_actual", "expense_total", "income_total", "execution_rate"}
_PART = re.compile(r"三公|项目|基本支出|人员经费|公用经费|专项|经费")
_RANGE = {"score": 100.0, "percent": 200.0, "int": 100000.0}
_UNITS = {"money": {"万元", "万"}, "percent": {"%", "％"}, "int": {"人", "名", "辆"}, "score": {"分", None}}
# the units a number may carry to be a value of each kind at all
_FITTING = {"money": {"万元", "万", "亿元", "元", None}, "percent": {"%", "％", None}, "int": {"人", "名", "辆", None},
            "score": {"分", None}, "text": set(), "year": set(), "date": set()}

ALWAYS = ("unit_name", "fiscal_year")
DEPARTMENT = ("self_score",)
# in a document about projects only these are the projects' (spec: `projects`), not the fields'
DEPARTMENT_ONLY = {"self_score", "budget_initial", "budget_full_year", "spending_actual", "execution_rate",
                   "execution_weight", "execution_score"}
BUDGET_BLOCK = ("budget_full_year", "spending_actual", "execution_rate")
NOT_FOUND = "未找到"


def mention(text: str, key: str) -> tuple[int, int, float | None] | None:
    """Where the text first names `key` next to a number: (start, end, the number when its unit fits)."""
    words = MENTIONS.get(key)
    if words is None:
        return None
    raw = simplified(text)
    flat = re.sub(r"[|\t]", " ", raw)
    kind = BY_KEY[key].kind
    for m in re.finditer(words, flat):
        if _COMPOUND.match(flat, m.end()) or (m.start() and flat[m.start() - 1] in "和及与"):
            continue  # 负债和净资产合计: the sum of two fields, neither of them
        window = flat[m.end():m.end() + _NEAR]
        cut = re.search(r"[。；;]", window)
        window = window[:cut.start()] if cut else window
        none = _NONE.match(window) if kind in ("money", "int") else None
        if none is not None:
            return m.start(), m.end() + none.end(), 0
        numbers = list(_NUMBER.finditer(window))
        fits = [n for n in numbers if n.group(2) in _FITTING[kind]]
        if fits:
            n = fits[0]
            part = key in _WHOLE and _PART.search(raw[max(0, m.start() - 8):m.start()])
            proposal = None if part else _proposal(kind, n, raw[m.end():m.end() + n.start()])
            return m.start(), m.end() + n.end(), proposal
        run = _DIGITS.search(window)
        if not numbers and run is not None:
            return m.start(), m.end() + run.end(), None
    return None


def _proposal(kind: str, number: re.Match, between: str) -> float | None:
    """The number proposed for review: only one that follows its label directly, on the same line and in the
    same cell (「负债总额：1181.09万元」), with its kind's unit, and in its kind's range; a number further on
    may be another label's, and is shown by its place alone."""
    if not _CONNECTOR.fullmatch(between) or number.group(2) not in _UNITS.get(kind, ()):
        return None
    value = float(number.group(1).replace(",", ""))
    return value if value <= _RANGE.get(kind, float("inf")) else None


def is_department_report(text: str, record: Record) -> bool:
    """A department's (部门整体) report, not a document about projects only."""
    return is_department_document(text, {r.table or "" for r in record.indicators})


def check_presence(text: str, record: Record, ocr_confidence=None) -> Record:
    """Every empty field of `record` judged on `text`, in place: expected or mentioned -> review 「未找到」,
    else 未提及. `ocr_confidence(start, end)` (a scan's): a mention on a poorly read line says so."""
    fields = record.fields
    expected = set(ALWAYS)
    department = is_department_report(text, record)
    if department:
        expected |= set(DEPARTMENT)
        if all(record.field_value(k) is None for k in BUDGET_BLOCK):
            expected |= set(BUDGET_BLOCK)
    for key in BY_KEY:
        f = fields.get(key) or FieldEntry(value=None, status=ACCEPTED, confidence=1.0, evidence=None, issues=[])
        if f.value is not None or f.status == REVIEW:
            continue
        found = mention(text, key) if key in MENTIONS and (department or key not in DEPARTMENT_ONLY) else None
        if key == "report_date":
            found = _sign_off_date(text)
        if found is None and key not in expected:
            fields[key] = f.model_copy(update={"status": ACCEPTED, "confidence": 1.0})
            continue
        name = BY_KEY[key].zh
        issue = f"{NOT_FOUND}：报告通常写明{name}，但没有读到，请在原文中查找" if found is None else \
            f"{NOT_FOUND}：原文此处提到{name}并有数字，但没有读出{name}，请核对"
        out = f.model_copy(deep=True, update={"value": None, "status": REVIEW, "confidence": 0.0,
                                              "issues": [*f.issues, issue]})
        if found is not None:
            start, end, value = found
            out.evidence = Evidence(text[start:end], start, end)
            conf = ocr_confidence(start, end) if ocr_confidence else None
            if conf is not None:
                out.issues.append(f"该处来自扫描件 OCR 识别（置信度 {conf:.2f}），数字可能识别有误或缺失，请对照原件")
            if value is not None:
                out.candidates = [*out.candidates, Reading(value=value, evidence=out.evidence,
                                                           note="原文提及处的数字（建议值，未经核实）")]
        fields[key] = out
    return record


def _sign_off_date(text: str) -> tuple[int, int, None] | None:
    span = sign_off_span(text)
    return (span[0], span[1], None) if span else None
