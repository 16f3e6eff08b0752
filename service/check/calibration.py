"""How well routing works: inject realistic model mistakes into gold values and see what reaches review.

Each kind of field mistake is applied to one field at a time of a gold
record, the record is re-checked against its report (`service.check.recheck`), and
the perturbed field either goes to review (caught) or is accepted (an
escape). Score-table row mistakes are applied to one table at a time: a
mistake is caught only when every row whose values it changed goes to review
(for a row left out: when a row of its table does). The correct gold values,
fields and rows, are checked too: the share of them sent to review is what
routing costs reviewers.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from service.check.recheck import ACCEPT_AT, recheck
from service.check.rows import recheck_rows
from service.document import Document
from service.fields import BY_KEY
from service.models import REVIEW, Section
from service.record import Record, RowEntry

NEIGHBOURS = [("expense_basic", "expense_project"), ("income_general_budget", "income_total"),
              ("budget_initial", "budget_full_year"), ("assets_total", "net_assets"),
              ("staff_authorized", "staff_actual"), ("sangong_actual", "sangong_reception_actual"),
              ("expense_total", "spending_actual"), ("expense_personnel", "expense_public")]


def _digits(v) -> str:
    return format(Decimal(str(v)), "f")


def drop_digit(v, rng):
    s = _digits(v)
    idx = [i for i, ch in enumerate(s) if ch.isdigit()]
    if len(idx) < 2:
        return None
    i = rng.choice(idx[1:])
    return _number(s[:i] + s[i + 1:])


def transpose_digits(v, rng):
    s = _digits(v)
    pairs = [i for i in range(len(s) - 1) if s[i].isdigit() and s[i + 1].isdigit() and s[i] != s[i + 1]]
    if not pairs:
        return None
    i = rng.choice(pairs)
    return _number(s[:i] + s[i + 1] + s[i] + s[i + 2:])


def yuan_as_wan(v, rng):
    return v * 10000 if v else None


def rounded(v, rng):
    r = round(float(v), 1)
    return r if r != float(v) else (round(float(v)) if round(float(v)) != float(v) else None)


def _number(s: str):
    d = Decimal(s)
    return int(d) if d == d.to_integral_value() and "." not in s else float(d)


NUMERIC_MISTAKES: dict[str, Callable] = {
    "digit dropped": drop_digit,
    "digits transposed": transpose_digits,
    "元 read as 万元": yuan_as_wan,
    "rounded": rounded,
}


@dataclass
class Tally:
    caught: int = 0
    total: int = 0
    escapes: list[str] = field(default_factory=list)

    def add(self, caught: bool, what: str) -> None:
        self.total += 1
        self.caught += int(caught)
        if not caught:
            self.escapes.append(what)

    @property
    def share(self) -> float:
        return self.caught / self.total if self.total else 1.0


ROW_KEYS = ("table", "level1", "level2", "name", "target", "actual", "weight", "score")
ROW_VALUES = ("target", "actual", "weight", "score")


def gold_record(gold: dict) -> tuple[dict, set[str]]:
    """The gold values as a record (rows without the optional ones), and the fields that must go to review."""
    fields = {k: {"value": v["value"] if isinstance(v, dict) else v} for k, v in gold["fields"].items()}
    must = {k for k, v in gold["fields"].items() if isinstance(v, dict) and v.get("must_review")}
    rows = [{k: r.get(k) for k in ROW_KEYS} for r in gold.get("indicators") or [] if not r.get("optional")]
    return {"fields": fields, "indicators": rows}, must


def mistakes(record: dict, seed: int = 0) -> list[tuple[str, str, object]]:
    """(kind, field, wrong value) for every mistake that applies to this record."""
    rng = random.Random(seed)
    values = {k: f["value"] for k, f in record["fields"].items()}
    out = []
    for key, v in values.items():
        kind = BY_KEY[key].kind if key in BY_KEY else None
        if v is None:
            if kind == "money":
                out.append(("made-up value", key, round(rng.uniform(1, 3000), 2)))
            elif kind == "int":
                out.append(("made-up value", key, rng.randint(1, 80)))
            continue
        if kind in ("money", "score", "percent", "int") and isinstance(v, int | float):
            for name, fn in NUMERIC_MISTAKES.items():
                if name == "元 read as 万元" and kind != "money":
                    continue
                wrong = fn(v, rng)
                if wrong is not None and wrong != v:
                    out.append((name, key, wrong))
        if key == "fiscal_year" and isinstance(v, int):
            out.append(("report's year as fiscal year", key, v + 1))
    for a, b in NEIGHBOURS:
        if values.get(a) is not None and values.get(b) is not None and values[a] != values[b]:
            out.append(("neighbouring field's value", a, values[b]))
    if values.get("budget_initial") is not None and values.get("budget_full_year") is not None \
            and values["budget_initial"] != values["budget_full_year"]:
        out.append(("年初/全年 swapped", "budget_initial", values["budget_full_year"]))
        out.append(("年初/全年 swapped", "budget_full_year", values["budget_initial"]))
    return out


ROW_KINDS = ("score-table rows shifted by one", "score-table row left out", "score above its weight",
             "row's score read as its weight", "row score digit dropped")


@dataclass
class RowMistake:
    kind: str
    rows: list[dict]  # every row of the record, one table's rows wrong
    changed: list[int]  # rows whose values the mistake changed (for a row left out: the rest of its table)
    what: str


def _tables(rows: list[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        out.setdefault(str(r.get("table") or ""), []).append(i)
    return out


def _values(row: dict) -> tuple:
    return tuple(row.get(k) for k in ROW_VALUES)


def shifted_rows(rows: list[dict]) -> list[RowMistake]:
    """From one row of a table to its end, every row carries the next row's values (the last keeps its own)."""
    out = []
    for table, idx in _tables(rows).items():
        for start in range(len(idx) - 1):
            wrong = [dict(r) for r in rows]
            for a, b in zip(idx[start:], idx[start + 1:], strict=False):
                wrong[a].update({k: rows[b].get(k) for k in ROW_VALUES})
            changed = [i for i in idx if _values(wrong[i]) != _values(rows[i])]
            if changed:
                out.append(RowMistake("score-table rows shifted by one", wrong, changed,
                                      f"{table}/{rows[idx[start]]['name']} on"))
    return out


def row_left_out(rows: list[dict]) -> list[RowMistake]:
    """One row missing from its table (the rest of the table must show it)."""
    out = []
    for table, idx in _tables(rows).items():
        for i in idx:
            rest = [r for j, r in enumerate(rows) if j != i]
            others = [j - (j > i) for j in idx if j != i]
            if others:
                out.append(RowMistake("score-table row left out", rest, others, f"{table}/{rows[i]['name']}"))
    return out


def one_row_wrong(rows: list[dict], seed: int = 0) -> list[RowMistake]:
    """One row's score wrong: above its weight, read as its weight, or a digit dropped."""
    rng = random.Random(seed)
    out = []
    for i, row in enumerate(rows):
        weight, score = row.get("weight"), row.get("score")
        if not isinstance(weight, int | float) or not isinstance(score, int | float):
            continue
        wrong_scores = [("score above its weight", weight + 1), ("row's score read as its weight", weight),
                        ("row score digit dropped", drop_digit(score, rng))]
        for kind, wrong in wrong_scores:
            if wrong is not None and wrong != score:
                changed = [dict(r) for r in rows]
                changed[i]["score"] = wrong
                out.append(RowMistake(kind, changed, [i], f"{row['table']}/{row['name']} 得分={wrong}"))
    return out


LEFT_OUT = "stated field left out (null)"


def left_out(doc: Document, sections: list[Section], record: dict, key: str) -> Record:
    """The record with `key` emptied, as an engine that missed it returns it, through what every LLM record
    goes through: the second look (re-check, the rules extractor's proposals) and the presence check."""
    from service.check.presence import check_presence
    from service.check.second_look import second_look
    from service.settings import load_settings

    perturbed = Record.model_validate(copy.deepcopy({**record, "fields": {**record["fields"], key: {"value": None}}}))
    return check_presence(doc.text, second_look(doc, sections, perturbed, load_settings(env={})))


def row_mistakes(rows: list[dict], seed: int = 0) -> list[RowMistake]:
    """Every score-table row mistake that applies to these rows."""
    return [*shifted_rows(rows), *row_left_out(rows), *one_row_wrong(rows, seed)]


def calibrate(doc: Document, sections: list[Section], gold: dict, tallies: dict[str, Tally],
              correct: Tally, correct_rows: Tally) -> None:
    """Add this report's caught/missed mistakes per kind to `tallies`, its correct values to `correct` (fields)
    and `correct_rows` (score-table rows)."""
    record, must = gold_record(gold)
    for key, f in recheck(doc, sections, Record.model_validate(record)).fields.items():
        if f.value is not None and key not in must:
            correct.add(f.status != REVIEW, f"{doc.name}:{key}={f.value}")
    for kind, key, wrong in mistakes(record):
        perturbed = {**record, "fields": {**record["fields"], key: {"value": wrong}}}
        status = recheck(doc, sections, Record.model_validate(perturbed)).fields[key].status
        tallies.setdefault(kind, Tally()).add(status == REVIEW, f"{doc.name}:{key}={wrong}")
    for key, f in record["fields"].items():
        if f.get("value") is not None:
            status = left_out(doc, sections, record, key).fields[key].status
            tallies.setdefault(LEFT_OUT, Tally()).add(status == REVIEW, f"{doc.name}:{key} left out")

    def check_rows(rows: list[dict]) -> list[dict]:
        checked = recheck(doc, sections, Record.model_validate({**record, "indicators": rows}))
        return [r.model_dump() for r in checked.indicators]

    calibrate_rows(doc.name, record["indicators"], check_rows, tallies, correct_rows)


def calibrate_rows_on_grid(doc: Document, gold: dict, tallies: dict[str, Tally], correct_rows: Tally) -> None:
    """The same row mistakes, re-checked as if the rules extractor read none of the rows (a layout it cannot
    read): the report's table grid is all there is to go by."""
    record, _ = gold_record(gold)

    def check_rows(rows: list[dict]) -> list[dict]:
        typed = [RowEntry.model_validate(r) for r in copy.deepcopy(rows)]
        recheck_rows(doc, typed, [], lambda _key: ACCEPT_AT, ocr_review_below=0.9)
        return [r.model_dump() for r in typed]

    calibrate_rows(doc.name, record["indicators"], check_rows, tallies, correct_rows)


def calibrate_rows(name: str, rows: list[dict], check_rows: Callable[[list[dict]], list[dict]],
                   tallies: dict[str, Tally], correct_rows: Tally) -> None:
    """Correct rows into `correct_rows`, each row mistake into `tallies`: caught when every row it changed goes
    to review (a row left out: when a row of its table does)."""
    for row in check_rows(rows):
        correct_rows.add(row.get("status") != "review", f"{name}:{row['table']}/{row['name']}")
    for m in row_mistakes(rows):
        checked = check_rows(m.rows)
        sent = [checked[i].get("status") == "review" for i in m.changed]
        caught = any(sent) if m.kind == "score-table row left out" else all(sent)
        tallies.setdefault(m.kind, Tally()).add(caught, f"{name}:{m.what}")
