"""The review working copy: a record split into items a reviewer acts on, and put back together.

A record (spec/record-format.md) becomes one item per scalar field, per score
row, per project and per list (problems, measures). Each item keeps the value
the machine read (`extracted`), the current value, its status, confidence,
evidence and reasons. Reviewer actions are pure functions here: they check
the typed input and return the new value and status; the store applies them
with a version check and an audit entry.

Pure functions only: no SQL, no Flask.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from service.fields import BOUNDS, BY_KEY, DATE_YEARS, FIELDS
from service.labels import LISTS
from service.models import ACCEPTED, CONFIRMED, CORRECTED, DEPARTMENT_TABLE, FIRST_POSITION, REVIEW, Evidence
from service.record import Entry, FieldEntry, ListEntry, Record, evidence_json

STATE_NAMES = {"queued": "排队中", "extracting": "提取中", "review": "待审核", "confirmed": "已确认", "failed": "失败"}
DELETED = "deleted"  # a score row or project the reviewer says is not one
NOT_STATED = "未提及"

UNITS = {"money": "万元", "percent": "%", "score": "分", "int": "", "year": "年"}
ROW_NUMBERS = ("weight", "score")
ROW_TEXTS = ("table", "level1", "level2", "name", "target", "actual", "remark")
PROJECT_NUMBERS = ("budget_initial", "budget_full_year", "spending_actual", "execution_rate", "score")


class InvalidValue(ValueError):
    """Typed input that does not fit the item; the message is for the reviewer (Chinese)."""


@dataclass
class Item:
    item: str  # "field:budget_initial", "indicator:3", "project:0", "list:problems"
    kind: str  # field / indicator / project / list
    position: int
    value: Any
    status: str
    confidence: float
    evidence: dict | None
    issues: list[str]
    candidates: list[dict]

    def row(self) -> dict[str, Any]:
        return {"item": self.item, "kind": self.kind, "position": self.position, "value": self.value,
                "extracted": self.value, "status": self.status, "confidence": self.confidence,
                "evidence": self.evidence, "issues": self.issues, "candidates": self.candidates}


def items_from_record(record: Record, text_len: int | None = None) -> list[Item]:
    """Every reviewable item of a record, in review-page order (`text_len`: the length of the document's
    text, which every evidence span must lie in)."""
    out: list[Item] = []
    for pos, spec in enumerate(FIELDS):
        f = record.fields.get(spec.key) or FieldEntry(value=None, status=ACCEPTED, confidence=1.0)
        out.append(Item(f"field:{spec.key}", "field", FIRST_POSITION["field"] + pos, f.value, f.status or ACCEPTED, _conf(f),
                        _evidence(f.evidence, text_len), list(f.issues),
                        [c.model_dump(mode="json", exclude_unset=True) for c in f.candidates]))
    for i, r in enumerate(record.indicators):
        value = {k: getattr(r, k) for k in (*ROW_TEXTS, *ROW_NUMBERS)}
        out.append(Item(f"indicator:{i}", "indicator", FIRST_POSITION["indicator"] + i, value, r.status or ACCEPTED, _conf(r),
                        _evidence(r.evidence, text_len), list(r.issues), []))
    for i, p in enumerate(record.projects):
        value = {"name": p.name, **{k: getattr(p, k) for k in PROJECT_NUMBERS}}
        out.append(Item(f"project:{i}", "project", FIRST_POSITION["project"] + i, value, p.status or ACCEPTED, _conf(p),
                        _evidence(p.evidence, text_len), list(p.issues), []))
    for j, key in enumerate(LISTS):
        tl = getattr(record, key) or ListEntry(value=[], status=REVIEW, issues=["报告中未找到该部分"])
        out.append(Item(f"list:{key}", "list", FIRST_POSITION["list"] + j, list(tl.value), tl.status or ACCEPTED, _conf(tl),
                        _evidence(tl.evidence, text_len), list(tl.issues), []))
    return out


def _conf(entry: Entry) -> float:
    if entry.confidence is None:
        return 1.0 if (entry.status or ACCEPTED) == ACCEPTED else 0.5
    return float(entry.confidence)


def _evidence(ev: Evidence | None, text_len: int | None = None) -> dict | None:
    """An item's evidence as the review items keep it: the record JSON's form (`record.evidence_json`) with the
    `context` spans (a table value's row label and column header, or a row's column headers) and `cells` (each
    value of a row: its cell's span) that lie inside the text (`text_len`, when known); None without a span."""
    if ev is None or ev.end <= ev.start:
        return None
    return evidence_json(Evidence(ev.quote, ev.start, ev.end,
                                  context=[(s, e) for s, e in ev.context if _inside(e, text_len)],
                                  cells={k: (s, e) for k, (s, e) in ev.cells.items() if _inside(e, text_len)}))


def _inside(end: int, text_len: int | None) -> bool:
    return text_len is None or end <= text_len


def context_pairs(evidence: dict | None) -> list[list[int]]:
    """An item's context spans as [[start, end], …], the form the review page's data-context takes."""
    return [[s["start"], s["end"]] for s in (evidence or {}).get("context") or []]


# -- reviewer input ------------------------------------------------------------

def parse_field(key: str, raw: str) -> Any:
    """A reviewer's typed value for field `key`, as the field's type; InvalidValue when it does not fit."""
    spec = BY_KEY[key]
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        raise InvalidValue("请输入数值，或标记为“未提及”")
    if spec.kind == "text":
        return text
    if spec.kind == "date":
        m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", text)
        if not m:
            raise InvalidValue("日期格式应为 2024-03-15")
        y, mo, d = (int(g) for g in m.groups())
        try:
            day = dt.date(y, mo, d)
        except ValueError:
            raise InvalidValue(f"日期 {y}-{mo:02d}-{d:02d} 不存在") from None
        if not DATE_YEARS[0] <= day.year <= DATE_YEARS[1]:
            raise InvalidValue(f"日期的年份应在 {DATE_YEARS[0]}–{DATE_YEARS[1]} 之间")
        return day.isoformat()
    return parse_number(text, spec.kind)


def parse_number(text: str, kind: str) -> int | float:
    text = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    unit = UNITS.get(kind, "")
    if kind == "money" and re.search(r"(?<!万)元$|亿元$", text):
        raise InvalidValue("金额请以万元填写（例如 1234.56），不要填写元或亿元")
    text = re.sub(r"(万元|分|%|年|人|辆|个)$", "", text).strip()
    if not re.fullmatch(r"-?\d{1,12}(\.\d{1,6})?", text):
        hint = f"，单位为{unit}" if unit else ""
        raise InvalidValue(f"请输入数字{hint}（整数部分不超过 12 位，小数不超过 6 位）")
    if kind in ("int", "year"):
        if "." in text:
            raise InvalidValue("请输入整数")
        number: int | float = int(text)
    else:
        number = float(text)
        number = int(number) if number.is_integer() and "." not in text else number
    if number < 0:
        raise InvalidValue("不能为负数")
    low, high = BOUNDS.get(kind, (0, float("inf")))
    if not low <= number <= high:
        raise InvalidValue(f"数值 {number:g}{unit} 超出合理范围（{low:g}–{high:g}{unit}）")
    return number


def parse_row(kind: str, raw: dict[str, str]) -> dict[str, Any]:
    """A score row or project edited in the grid: texts kept, numbers parsed (blank = not stated)."""
    numbers = ROW_NUMBERS if kind == "indicator" else PROJECT_NUMBERS
    texts = ROW_TEXTS if kind == "indicator" else ("name",)
    out: dict[str, Any] = {}
    for k in texts:
        v = unicodedata.normalize("NFKC", str(raw.get(k) or "")).strip()
        out[k] = v or None
    for k in numbers:
        v = str(raw.get(k) or "").strip()
        try:
            out[k] = parse_number(v, "score" if kind == "indicator" else _project_kind(k)) if v else None
        except InvalidValue as e:
            raise InvalidValue(f"{_ROW_LABELS.get(k, k)}：{e}") from None
    if not out.get("name"):
        raise InvalidValue("名称不能为空")
    if kind == "indicator" and out.get("weight") is not None and out.get("score") is not None \
            and out["score"] > out["weight"]:
        raise InvalidValue(f"得分 {out['score']} 超过分值 {out['weight']}")
    return out


def _project_kind(key: str) -> str:
    return {"execution_rate": "percent", "score": "score"}.get(key, "money")


_ROW_LABELS = {"weight": "分值", "score": "得分", "budget_initial": "年初预算", "budget_full_year": "全年预算",
               "spending_actual": "全年执行", "execution_rate": "执行率"}


def parse_list(raw: str) -> list[str]:
    """Problems or measures typed one per line."""
    return [line.strip() for line in (raw or "").splitlines() if line.strip()]


def auto_passed(item: dict) -> bool:
    """自动通过: above the confidence threshold and no failed check, so a reviewer may accept it in bulk."""
    return item["status"] == ACCEPTED and not item.get("issues")


def bulk_status(item: dict) -> str | None:
    """The status 批量接受 gives an item: confirmed (or corrected) when it is auto-passed, else None (a
    flagged item is never accepted without being looked at)."""
    return reviewed_status(item["value"], item["extracted"]) if auto_passed(item) else None


def can_confirm(items: list[dict]) -> list[str]:
    """Why the document cannot be confirmed yet (empty when it can)."""
    waiting = [i for i in items if i["status"] == REVIEW]
    return [f"还有 {len(waiting)} 项待复核"] if waiting else []


# -- back to a record ------------------------------------------------------------

def record_from_items(source: dict, items: list[dict]) -> Record:
    """The confirmed record (spec/record-format.md) from the reviewed items."""
    out: dict[str, Any] = {"source": source, "fields": {}, "indicators": [], "projects": []}
    for i in sorted(items, key=lambda x: x["position"]):
        kind, _, key = i["item"].partition(":")
        if i["status"] == DELETED:
            continue
        base = {"status": i["status"], "confidence": i["confidence"], "evidence": i.get("evidence"),
                "issues": i.get("issues") or []}
        if kind == "field":
            out["fields"][key] = {"value": i["value"], **base}
        elif kind == "indicator":
            out["indicators"].append({**i["value"], **base})
        elif kind == "project":
            out["projects"].append({**i["value"], **base})
        elif kind == "list":
            out[key] = {"value": i["value"], **base}
    return Record.model_validate(out)


def reviewed_status(value: Any, extracted: Any) -> str:
    """After a person looked: `confirmed` when the machine's value stands, else `corrected`."""
    return CONFIRMED if value == extracted else CORRECTED


def apply_action(item: dict, action: str, raw: Any = None) -> tuple[Any, str]:
    """The value and status an item gets from a reviewer's action; InvalidValue when the input does not fit."""
    kind, _, key = item["item"].partition(":")
    if action == "accept":
        return item["value"], reviewed_status(item["value"], item["extracted"])
    if action == "not_stated":
        if kind not in ("field", "list"):
            raise InvalidValue("评分表行和项目请用“删除此行”")
        value = None if kind == "field" else []
        return value, reviewed_status(value, item["extracted"])
    if action == "delete":
        if kind not in ("indicator", "project"):
            raise InvalidValue("只有评分表行和项目可以删除")
        return item["value"], DELETED
    if action == "correct":
        if kind == "field":
            value = parse_field(key, raw if isinstance(raw, str) else "")
        elif kind == "list":
            value = parse_list(raw if isinstance(raw, str) else
                               "\n".join(str(x) for x in raw) if isinstance(raw, list) else "")
        else:
            value = parse_row(kind, raw if isinstance(raw, dict) else {})
            if kind == "indicator":
                value["table"] = value.get("table") or item["value"].get("table")
        return value, reviewed_status(value, item["extracted"])
    raise InvalidValue(f"未知操作：{action}")


def new_row(kind: str, raw: Any, table: str | None = None) -> tuple[dict[str, Any], str]:
    """A score row or project the extraction missed, as a reviewer typed it: the value and its status."""
    if kind not in ("indicator", "project"):
        raise InvalidValue("只能新增评分表行或项目")
    value = parse_row(kind, raw if isinstance(raw, dict) else {})
    if kind == "indicator":
        value["table"] = value.get("table") or table or DEPARTMENT_TABLE
    return value, CORRECTED
