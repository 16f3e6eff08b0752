"""The LLM engine: relevant sections to schema-enforced, source-grounded values.

Each planned call (see `planner.plan`) is rendered from its prompt
template, sent through `LLMClient` (concurrently), and its answer turned into
the same `Candidate`s, score rows and lists the rules extractor makes: every
quote is located in the document's text, so evidence offsets point at the
characters it was read from. A value whose answer never passed validation is
kept for review with the reason; a call that failed outright (an HTTP error, an
answer of the wrong shape or too large, the deadline passed) marks the fields
it was asked for as review with the error, and the rest of the document goes on.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pydantic import ValidationError

from service.core.align import locate
from service.core.candidates import Candidate
from service.core.finish import check_score_table, merge_candidates
from service.core.genre import published_date
from service.core.numbers import money_to_wan
from service.core.project_docs import file_under_project, project_signal
from service.document import Document
from service.extract.llm import prompts
from service.extract.llm.cells import Cells
from service.extract.llm.client import CallResult, LLMClient, Usage
from service.extract.llm.planner import FURNITURE_TITLE, Call, plan
from service.extract.llm.schema import (
    NUMBER,
    Fact,
    ListsModel,
    ScoreTableModel,
    ScoreTablesModel,
    SectionFacts,
    number_in_quote,
)
from service.fields import BY_KEY
from service.models import (
    DEPARTMENT_TABLE,
    REVIEW,
    Evidence,
    Extraction,
    FieldValue,
    IndicatorRow,
    Project,
    Section,
    TextList,
)

ENGINE = "llm"


@dataclass
class LLMRun:
    extraction: Extraction
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    failures: list[str] = field(default_factory=list)
    call_log: list[dict] = field(default_factory=list)  # per call: requests (re-asks, retries), tokens, cache


def engine_version(model: str) -> str:
    """The model and the version of every prompt: a run is redone when any of them changes."""
    return model + "/" + "+".join(f"{n}:{prompts.version(n)}" for n in ("facts", "score_table", "lists"))


MODELS = {"facts": SectionFacts, "score_table": ScoreTablesModel, "lists": ListsModel}


def _model_for(call: Call):
    """One response model per prompt: every facts-bearing call may return every scalar field."""
    return MODELS[call.prompt]


def extract(doc: Document, sections: list[Section], client: LLMClient, ocr_review_below: float = 0.9,
            pool: ThreadPoolExecutor | None = None, cache=None) -> LLMRun:
    """Run the planned calls (cached answers first, the rest concurrently) and read their answers.

    `cache` is the store (or None): looked up and written on this thread only.
    """
    calls = plan(doc, sections)
    rendered = [_render(doc, c) for c in calls]
    keys = [cache_key(client, c, p) for c, p in zip(calls, rendered, strict=True)]
    results: list[CallResult | None] = [_from_cache(cache, k, c, doc) for k, c in zip(keys, calls, strict=True)]
    todo = [i for i, r in enumerate(results) if r is None]
    own = pool is None
    pool = pool or ThreadPoolExecutor(max_workers=max(1, client.settings.llm_concurrency))
    try:
        fresh = list(pool.map(lambda i: client.structured(rendered[i].text, _model_for(calls[i]),
                                                          {"section": calls[i].text(doc)}), todo))
    finally:
        if own:
            pool.shutdown()
    for i, result in zip(todo, fresh, strict=True):
        results[i] = result
        if cache is not None and result.value is not None:
            cache.cache_answer(keys[i], client.endpoint.model, calls[i].prompt, rendered[i].version,
                               result.value.model_dump(mode="json"), result.usage.prompt_tokens,
                               result.usage.completion_tokens)
    run = LLMRun(Extraction(engine=ENGINE, engine_version=engine_version(client.endpoint.model)), calls=len(calls))
    cands: list[Candidate] = []
    tables: list[tuple[Call, CallResult]] = []
    failed_fields: dict[str, str] = {}
    cells = Cells(doc, sections)
    for call, result in zip(calls, results, strict=True):
        run.usage.add(result.usage)
        run.call_log.append({"prompt": call.prompt, "title": call.title, "requests": result.usage.requests,
                             "prompt_tokens": result.usage.prompt_tokens,
                             "completion_tokens": result.usage.completion_tokens, "cached": result.cached,
                             "error": result.error})
        if result.value is None and not isinstance(result.raw, dict):  # nothing of the schema's shape to read
            result.error = result.error or "大模型没有给出可用的回答"
            run.failures.append(f"{call.title}：{result.error}")
            for key in call.fields:
                failed_fields.setdefault(key, f"章节“{call.title}”的大模型请求失败：{result.error}")
            continue
        if call.prompt == "score_table":
            tables.append((call, result))
            continue
        if call.prompt == "facts":
            cands += _facts(doc, call, result, run.extraction, cells)
        else:
            cands += _lists(doc, call, result, run.extraction)
    for call, result in tables:
        cands += _facts(doc, call, result, run.extraction, cells)
    department = {c.field: c.value for c in cands if c.field in ("execution_weight", "execution_score")}
    for call, result in tables:
        cands += _score_tables(doc, call, result, run.extraction, department, cells)
    tables_read = {r.table for r in run.extraction.indicators} | {p.name for p in run.extraction.projects}
    signal = project_signal(doc.text, tables_read)
    if signal is not None:  # spec: a project-only document's budget block and total are the project's
        cands = file_under_project(doc.text, cands, run.extraction.projects, signal)
    cands += _published_date_fallback(doc, cands)
    merge_candidates(doc, run.extraction, cands, ocr_review_below)
    for key, issue in failed_fields.items():
        if key not in run.extraction.fields:
            run.extraction.fields[key] = FieldValue(key=key, value=None, status=REVIEW, confidence=0.0,
                                                    issues=[issue])
    return run


def _render(doc: Document, call: Call) -> prompts.Prompt:
    return prompts.render(call.prompt, document_name=doc.name, section_title=call.title,
                          section_text=call.text(doc), fields=call.fields)


def cache_key(client: LLMClient, call: Call, prompt: prompts.Prompt) -> str:
    """Hash of everything that decides the answer: model, mode, prompt version, schema and prompt text."""
    schema = _model_for(call).model_json_schema()
    blob = json.dumps([client.endpoint.model, client.settings.llm_mode, prompt.version, schema, prompt.text],
                      ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _from_cache(cache, key: str, call: Call, doc: Document) -> CallResult | None:
    hit = cache.cached_answer(key) if cache is not None else None
    if hit is None:
        return None
    try:
        value = _model_for(call).model_validate(hit["response"], context={"section": call.text(doc)})
    except ValidationError:  # cached before a validator changed: asked again
        return None
    return CallResult(value=value, usage=Usage(), attempts=0, cached=True)


def _locate(doc: Document, call: Call, quote: str | None) -> Evidence | None:
    if not quote:
        return None
    for start, end in call.spans:
        span = locate(quote, doc.text, start, end)
        if span:
            return Evidence(doc.text[span.start:span.end], span.start, span.end)
    return None


def _answer(result: CallResult, model):
    """The validated answer, or the raw one read without validation (kept for review)."""
    if result.value is not None:
        return result.value, None
    return model.model_construct(**result.raw), result.error


def _facts(doc: Document, call: Call, result: CallResult, ex: Extraction, cells: Cells | None = None) -> list[Candidate]:
    answer, doubt = _answer(result, _model_for(call))
    furniture = [span for span, title in zip(call.spans, call.titles, strict=True) if title == FURNITURE_TITLE]
    out = []
    for raw in getattr(answer, "facts", None) or []:
        fact = raw if isinstance(raw, Fact) else _loose_fact(raw)
        if fact is None or fact.key not in BY_KEY:
            continue
        ev = _locate(doc, call, fact.quote)
        value, note = _convert(fact)
        issue = doubt or (None if ev else f"引文“{(fact.quote or '')[:40]}”在原文中找不到")
        if ev is None:
            ev = Evidence("", call.spans[0][0], call.spans[0][0])
        if issue is None and _split_from_run(fact.value, fact.quote):
            issue = f"数字 {fact.value} 是从连在一起的数字中拆出来的（“{fact.quote[:30]}”），请核对拆分是否正确"
        if issue is None and any(s <= ev.start < e for s, e in furniture):
            issue = "取自网页或文件附带的信息（发布机构、发布日期等），不是报告正文，请核对"
        source = "table" if doc.table_at(ev.start) else "text"  # where this quote was read, for the reviewer
        if cells is not None:
            ev = cells.of_value(call, fact.key, value, fact.value, ev)
        out.append(Candidate(fact.key, value, ev, 1, source, note, issue=issue))
    return out


def _split_from_run(value, quote: str | None) -> bool:
    """A number the validators let through only as part of a run of digits (877383.91% → 87, 73)."""
    return (isinstance(value, int | float) and not isinstance(value, bool) and value != 0
            and not number_in_quote(value, quote or ""))


def _published_date_fallback(doc: Document, cands: list[Candidate]) -> list[Candidate]:
    """No report date read: the page's 发布日期 / 发文日期 is proposed, for review, marked as such."""
    if any(c.field == "report_date" and c.value for c in cands):
        return []
    found = published_date(doc.text)
    if found is None:
        return []
    value, start, end = found
    return [Candidate("report_date", value, Evidence(doc.text[start:end], start, end), 2, "text",
                      issue="报告未写落款日期；这是网页的发布日期，不一定是报告日期，请核对")]


def _loose_fact(raw) -> Fact | None:
    """A fact from an answer that never validated: kept only if it has a key and a value."""
    if not isinstance(raw, dict) or "key" not in raw or raw.get("value") is None:
        return None
    return Fact.model_construct(key=raw["key"], value=raw["value"], unit=raw.get("unit"),
                                quote=str(raw.get("quote") or ""))


def _convert(fact: Fact):
    """Money to 万元 (saying so); years to int; other numbers as given."""
    kind = BY_KEY[fact.key].kind
    if kind == "money" and isinstance(fact.value, int | float):
        got = money_to_wan(str(fact.value), fact.unit or "万元")
        return got if got else (fact.value, None)
    if kind in ("year", "int") and isinstance(fact.value, str | float) and str(fact.value).isdigit():
        return int(fact.value), None
    return fact.value, None


def _score_tables(doc: Document, call: Call, result: CallResult, ex: Extraction,
                  department: dict | None = None, cells: Cells | None = None) -> list[Candidate]:
    answer, doubt = _answer(result, ScoreTablesModel)
    out = []
    for table in _joined(getattr(answer, "tables", None) or []):
        out += _score_table(doc, call, table, doubt, ex, department, cells)
    return out


def _joined(tables: list) -> list[ScoreTableModel]:
    """A table given in parts (its rows split over chunks of one call) as one table."""
    out: list[ScoreTableModel] = []
    for t in tables:
        if isinstance(t, dict):
            t = ScoreTableModel.model_construct(**{"rows": [], **t})
        same = next((o for o in out if o.table == t.table), None)
        if same is None:
            out.append(t.model_copy(update={"rows": list(t.rows or [])}))
            continue
        update = {"rows": list(same.rows or []) + list(t.rows or [])}
        for k in ("total", "total_quote", "budget_initial", "budget_full_year", "spending_actual", "execution_rate",
                  "execution_weight", "execution_score", "money_unit"):
            if getattr(same, k, None) is None and getattr(t, k, None) is not None:
                update[k] = getattr(t, k)
        out[out.index(same)] = same.model_copy(update=update)
    return out


def _score_table(doc: Document, call: Call, answer: ScoreTableModel, doubt: str | None, ex: Extraction,
                 department: dict | None, cells: Cells | None = None) -> list[Candidate]:
    rows = []
    for r in answer.rows or []:
        get = r.get if isinstance(r, dict) else lambda k, obj=r: getattr(obj, k, None)
        ev = _locate(doc, call, get("quote"))
        if cells is not None:
            ev = cells.of_row(ev, {k: (_num(get(k)) if k in ("weight", "score") else get(k))
                                   for k in ("level1", "level2", "name", "target", "actual", "weight", "score",
                                             "remark")})
        row = IndicatorRow(table=answer.table or DEPARTMENT_TABLE, level1=get("level1"), level2=get("level2"),
                           name=get("name"), target=get("target"), actual=get("actual"), weight=_num(get("weight")),
                           score=_num(get("score")), remark=get("remark"), confidence=0.85 if ev else 0.3, evidence=ev)
        if doubt or ev is None:
            row.status = REVIEW
            row.issues.append(doubt or "该行引文在原文中找不到")
        if row.weight is not None and row.score is None:
            row.status = REVIEW
            row.issues.append("该行有分值但没有读出得分")
        if any(_split_from_run(v, get("quote")) for v in (row.weight, row.score) if v is not None):
            row.status = REVIEW
            row.issues.append("分值或得分是从连在一起的数字中拆出来的，请核对")
        rows.append(row)
    total_ev = _locate(doc, call, getattr(answer, "total_quote", None))
    if cells is not None:
        total_ev = cells.of_value(call, "self_score", _num(getattr(answer, "total", None)),
                                  _num(getattr(answer, "total", None)), total_ev)
    money = {k: _num(getattr(answer, k, None)) for k in ("execution_weight", "execution_score")}
    if money["execution_weight"] is None:  # the department's execution row went to the facts prompt
        money = {k: (department or {}).get(k) for k in money}
    if any("预算执行率" in (r.name or "") for r in rows):
        money = {}  # 决策/过程/产出/效益: 预算执行率 is a row of the table, counted once
    issues = check_score_table(rows, money, _num(getattr(answer, "total", None))) if rows else []
    ex.indicators += rows
    if (answer.table or DEPARTMENT_TABLE) != DEPARTMENT_TABLE:
        project = Project(name=answer.table, score=_num(getattr(answer, "total", None)), evidence=total_ev,
                          **_project_money(answer))
        if cells is not None:
            project.evidence = cells.of_project(call, project)
        if issues or doubt:
            project.status = REVIEW
            project.issues += issues + ([doubt] if doubt else [])
        ex.projects.append(project)
        return []
    out = _department_money(doc, call, answer, doubt, cells)
    if answer.total is None or total_ev is None:
        return out
    doubts = [d for d in (doubt, "；".join(issues)) if d]
    return out + [Candidate("self_score", _num(answer.total), total_ev, 1, "table", issue="；".join(doubts) or None)]


_TABLE_MONEY = ("budget_initial", "budget_full_year", "spending_actual", "execution_rate", "execution_weight",
                "execution_score")


def _department_money(doc: Document, call: Call, answer: ScoreTableModel, doubt: str | None,
                      cells: Cells | None = None) -> list[Candidate]:
    """The department table's 年度资金总额 / 预算执行率 block as field values, each located by its cell (the
    rules extractor's cell for the field, so that equal numbers point at their own cells), else by its number."""
    out = []
    for key in _TABLE_MONEY:
        stated = _num(getattr(answer, key, None))
        if stated is None:
            continue
        value, note = _table_value(answer, key)
        ev = (cells.in_call(call, key, value) if cells is not None else None) or _number_at(doc, call, stated)
        issue = doubt or (None if ev else f"评分表中读出的 {stated} 在原文中找不到")
        ev = ev or Evidence("", call.spans[0][0], call.spans[0][0])
        out.append(Candidate(key, value, ev, 1, "table", note, issue=issue))
    return out


def _number_at(doc: Document, call: Call, value) -> Evidence | None:
    """Where the call's text first states `value` as a number of its own."""
    for start, end in call.spans:
        for m in NUMBER.finditer(doc.text, start, end):
            if number_in_quote(value, m.group()):
                return Evidence(m.group(), m.start(), m.end())
    return None


def _table_value(answer: ScoreTableModel, key: str):
    """A table's amount in 万元 (stated in the table's `money_unit`) and the note saying so; other numbers as read."""
    value = _num(getattr(answer, key, None))
    if value is None or BY_KEY[key].kind != "money":
        return value, None
    got = money_to_wan(str(value), getattr(answer, "money_unit", None) or "万元")
    return got if got else (value, None)


def _project_money(answer: ScoreTableModel) -> dict:
    """The project's money in 万元 and its execution rate."""
    return {k: _table_value(answer, k)[0]
            for k in ("budget_initial", "budget_full_year", "spending_actual", "execution_rate")}


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f == int(f) else f


def _lists(doc: Document, call: Call, result: CallResult, ex: Extraction) -> list[Candidate]:
    answer, doubt = _answer(result, ListsModel)
    for key in ("problems", "measures"):
        items = list(getattr(answer, key) or [])
        spans = [_locate(doc, call, item) for item in items]
        located = [s for s in spans if s]
        ev = Evidence(doc.text[located[0].start:located[-1].end], located[0].start, located[-1].end) if located else None
        tl = TextList(value=items, evidence=ev)
        if doubt or len(located) < len(items):
            tl.status = REVIEW
            tl.issues.append(doubt or "部分条目在原文中找不到")
        if getattr(ex, key) is None or (items and not getattr(ex, key).value):
            setattr(ex, key, tl)
    return []
