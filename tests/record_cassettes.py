"""Record (and replay) the LLM engine's HTTP traffic as vcrpy cassettes in `cassettes/`.

    .venv/bin/python -m tests.record_cassettes                     the five samples, against FakeOpenAI
    .venv/bin/python -m tests.record_cassettes --failures          cassettes/failures/*.yaml
    .venv/bin/python -m tests.record_cassettes --print-prompts STEM  every prompt the engine sends for STEM
    .venv/bin/python -m tests.record_cassettes --live              against OPENAI_BASE_URL with JIXIAO_MODEL
    .venv/bin/python -m tests.record_cassettes --bridge            samples and tests/data/new_layouts, answered
                                                                   through ../shared/tools/llm_bridge.py

`--bridge` serves the answers in `tests/llm_answers/bridge/` (one JSON file per request, keyed by the
request's hash, written by someone acting as the model from `llm_bridge.py show`, never by the
engineer who wrote the prompt): a request without an answer is written to its `pending/` folder, the
cassette is not written, and the keys are listed, to be answered and recorded again.

By default the real engine (`service.extract.llm.engine.extract`) and client talk to
`tests.llm_server.FakeOpenAI`, which answers from `tests/llm_answers/STEM.json`:
answers written by a person reading each rendered prompt (`--print-prompts`),
the way a competent model would answer it, first-attempt slips included. An
answer file is a list of `{"prompt": "facts"|"score_table"|"lists", "title":
call.title, "attempts": [answer, re-ask answer, ...], "note": why (optional)}`;
the server picks the entry by the prompt template and the 章节标题/表格标题 in
the request, and the attempt by how many assistant messages the request
carries (a re-ask appends the failed answer and the error). A request no entry
answers gets HTTP 500 and the recording stops with the title named.

The cassettes match requests on method, scheme, host, path and body (the
port of FakeOpenAI changes every run, so every URI is rewritten to
`REPLAY_BASE_URL` before it is recorded or matched). A cassette keeps, as
vcrpy metadata, the model, mode and settings it was recorded with, so replay
sends byte-identical requests. A request that timed out has no response to
record: it is stored as a status-599 interaction marked `x-recorded-exception`
and raised again as a timeout on replay.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from service.document import Document
from service.extract.llm.engine import LLMRun, _render
from service.extract.llm.planner import plan
from service.extract.llm.replay import (  # noqa: F401  (re-exported for the replay tests)
    PROMPT_MARKS,
    REPLAY_BASE_URL,
    TIMEOUT_MARK,
    TITLE,
    MissingRecording,
    Recording,
    assistant_turns,
    describe,
    prompt_and_title,
)
from service.ingest import load, load_bytes
from service.models import Section
from service.sections import split_sections
from service.settings import load_settings
from tests.cassettes import (  # noqa: F401  (re-exported for the replay tests)
    MATCH_ON,
    CassetteTransport,
    normalise,
    replay,
    run_in_cassette,
    use_cassette,
)
from tests.llm_server import FakeOpenAI, HTTPFailure

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "reports"
STEMS = sorted(p.stem for p in SAMPLES.glob("*.txt"))
CASSETTES = ROOT / "cassettes"
FAILURES = CASSETTES / "failures"
ANSWERS = Path(__file__).resolve().parent / "llm_answers"
BRIDGE_ANSWERS = ANSWERS / "bridge"
BRIDGE_PY = ROOT.parent / "shared" / "tools" / "llm_bridge.py"
NEW_LAYOUTS = ROOT / "tests" / "data" / "new_layouts"
BRIDGE_MODEL = "bridge-answers"  # answered through llm_bridge.py by a helper acting as the model

LOCAL_MODEL = "local-authored-answers"  # FakeOpenAI serving tests/llm_answers: no real model answered


def sample(stem: str) -> tuple[Document, list[Section]]:
    doc = load(SAMPLES / f"{stem}.txt", load_settings(env={}))
    return doc, split_sections(doc)


def text_document(text: str, name: str) -> tuple[Document, list[Section]]:
    doc = load_bytes(text.encode("utf-8"), name, load_settings(env={}))
    return doc, split_sections(doc)


# -- answers ---------------------------------------------------------------------

class AnswerBook:
    """FakeOpenAI's answer function: the authored answer for a request's prompt, title and attempt.

    An entry may also carry `"http": [failure, ...]`, served in order to its first requests before
    any answer (`{"status": 429}`, `{"status": 500}`, `{"delay_s": 3}` for a timeout); an attempt
    that is a string is sent as message content verbatim (malformed JSON).
    """

    def __init__(self, entries: list[dict]):
        self.entries = entries
        self.missing: list[str] = []
        self.served: dict[int, int] = {}
        self._lock = threading.Lock()

    def __call__(self, request: dict):
        prompt, title = prompt_and_title(request)
        turn = assistant_turns(request)
        found = [i for i, e in enumerate(self.entries) if e["prompt"] == prompt and e["title"] == title]
        with self._lock:
            if not found or turn >= len(self.entries[found[0]]["attempts"]):
                self.missing.append(f"{prompt} “{title}” attempt {turn + 1}")
                return HTTPFailure(500, f"no authored answer for {prompt} “{title}” attempt {turn + 1}")
            i = found[0]
            n = self.served.get(i, 0)
            self.served[i] = n + 1
        entry = self.entries[i]
        failures = entry.get("http", [])
        if n < len(failures):
            f = failures[n]
            return HTTPFailure(f.get("status", 200), f.get("message", "error"), f.get("delay_s", 0.0))
        return entry["attempts"][turn]


# -- failure scenarios -------------------------------------------------------------

# A tiny report made from report 002: its 基本情况 and its 自评表 money written out as one sentence.
# The engine plans one facts call for it.
FAILURE_TEXT = """2022年度古岳峰镇人民政府部门整体支出绩效自评报告

1、 预算单位基本情况
渌口区古岳峰镇人民政府是区人民政府主管的正科级行政机关，内设机构7个。在职人员51人，离休人员0人，退休人员17人，属区一级预算单位。
二、一般公共预算支出情况
2022年度一般公共预算财政拨款收入3777.82万元，政府性基金拨款74.72万元，全年支出3852.54万元，其中基本支出3852.54万元。
"""

# Report 002's 问题 and 措施 under its title: one lists call (and a facts call for the title).
FAILURE_LISTS_TEXT = """2022年度古岳峰镇人民政府部门整体支出绩效自评报告

四、存在的问题及原因分析
2022年绩效目标执行主要存在的问题有：各行业部门各项重点工作还需进一步精细化，偶尔出现收支不及时的情况，村级自身经济发展速度较慢，可持续发展效率有待加强等。
5、 下一步改进措施
各行业部门各项重点工作还需进一步精细化，要加强村级自身经济发展能力，继续保持农村生态环境保护可持续发展，进一步提升群众满意度。
"""


@dataclass
class Scenario:
    name: str
    text: str
    entries: list[dict]
    mode: str = "tools"
    env: dict[str, str] = field(default_factory=dict)

    def document(self) -> tuple[Document, list[Section]]:
        return text_document(self.text, f"{self.name}.txt")

    @property
    def cassette(self) -> Path:
        return FAILURES / f"{self.name}.yaml"


FACTS_TITLE = "2022年度古岳峰镇人民政府部门整体支出绩效自评报告 / 1、 预算单位基本情况 / 二、一般公共预算支出情况"
LISTS_TITLE = "四、存在的问题及原因分析 / 5、 下一步改进措施"
IDENTITY_TITLE = "2022年度古岳峰镇人民政府部门整体支出绩效自评报告"
GENERAL_QUOTE = "2022年度一般公共预算财政拨款收入3777.82万元"


def _fact(key, value, unit, quote):
    return {"key": key, "value": value, "unit": unit, "quote": quote}


def good_facts(general=3777.82, general_key="income_general_budget") -> dict:
    """What a competent model answers for FAILURE_TEXT's one facts prompt."""
    return {"facts": [
        _fact("unit_name", "渌口区古岳峰镇人民政府", None, "渌口区古岳峰镇人民政府是区人民政府主管的正科级行政机关"),
        _fact("fiscal_year", 2022, None, "2022年度古岳峰镇人民政府部门整体支出绩效自评报告"),
        _fact("staff_actual", 51, "人", "在职人员51人"),
        _fact("retirees", 17, "人", "离休人员0人，退休人员17人"),
        _fact(general_key, general, "万元", GENERAL_QUOTE),
        _fact("income_gov_fund", 74.72, "万元", "政府性基金拨款74.72万元"),
        _fact("expense_total", 3852.54, "万元", "全年支出3852.54万元"),
        _fact("spending_actual", 3852.54, "万元", "全年支出3852.54万元"),
        _fact("expense_basic", 3852.54, "万元", "其中基本支出3852.54万元"),
    ]}


def _facts_entry(attempts, http=None) -> dict:
    return {"prompt": "facts", "title": FACTS_TITLE, "attempts": attempts, **({"http": http} if http else {})}


# A reply cut off in the middle of the JSON (max_tokens, a dropped stream): not valid JSON.
TRUNCATED = json.dumps(good_facts(), ensure_ascii=False)[:220]
PARAPHRASED = ["重点工作还需要进一步精细化", "偶尔出现收支不及时的情况", "村级自身经济发展速度较慢", "可持续发展效率有待加强"]
MEASURES = ["各行业部门各项重点工作还需进一步精细化，要加强村级自身经济发展能力，继续保持农村生态环境保护可持续发展，"
            "进一步提升群众满意度。"]

SCENARIOS: list[Scenario] = [
    # JSON mode: the first reply is cut off mid-JSON; the re-ask gets the whole answer.
    Scenario("malformed_json", FAILURE_TEXT, [_facts_entry([TRUNCATED, good_facts()])], mode="json"),
    # A key the schema does not allow (income_general for income_general_budget); corrected on re-ask.
    Scenario("schema_violation", FAILURE_TEXT, [_facts_entry([good_facts(general_key="income_general"),
                                                               good_facts()])]),
    # 3777.82 rounded to 3777.8, then 3778, then 3777.8 again: never in the quote; kept for review.
    Scenario("made_up_number", FAILURE_TEXT, [_facts_entry([good_facts(3777.8), good_facts(3778),
                                                             good_facts(3777.8)])]),
    # One problem paraphrased (重点工作还需要…) on every attempt: not in the section; kept for review.
    Scenario("quote_not_in_section", FAILURE_LISTS_TEXT, [
        {"prompt": "facts", "title": IDENTITY_TITLE, "attempts": [{"facts": [
            _fact("unit_name", "古岳峰镇人民政府", None, "2022年度古岳峰镇人民政府部门整体支出绩效自评报告"),
            _fact("fiscal_year", 2022, None, "2022年度古岳峰镇人民政府部门整体支出绩效自评报告")]}]},
        {"prompt": "lists", "title": LISTS_TITLE,
         "attempts": [{"problems": PARAPHRASED, "measures": MEASURES}] * 3}]),
    # HTTP 429 once, then the answer.
    Scenario("rate_limit_then_success", FAILURE_TEXT, [_facts_entry(
        [good_facts()], http=[{"status": 429, "message": "Rate limit reached for requests per minute"}])]),
    # HTTP 500 on the first try and both retries.
    Scenario("persistent_500", FAILURE_TEXT, [_facts_entry(
        [good_facts()], http=[{"status": 500, "message": "The server had an error while processing your request"}] * 3)],
        env={"JIXIAO_LLM_HTTP_RETRIES": "2"}),
    # The model takes 3 s, the client waits 1 s: the try and its one retry time out.
    Scenario("timeout", FAILURE_TEXT, [_facts_entry([good_facts()], http=[{"delay_s": 3.0}] * 2)],
             env={"JIXIAO_LLM_TIMEOUT_S": "1", "JIXIAO_LLM_HTTP_RETRIES": "1"}),
]
SCENARIO = {sc.name: sc for sc in SCENARIOS}


# -- recording ---------------------------------------------------------------------

def record_local(doc, sections, path: Path, entries: list[dict], mode="tools", env=None) -> tuple[LLMRun, int]:
    book = AnswerBook(entries)
    with FakeOpenAI(book) as server:
        run, requests = run_in_cassette(doc, sections, path, record=Recording(LOCAL_MODEL, mode, dict(env or {})),
                                        base_url=server.base_url, api_key="local")
    if book.missing:
        path.unlink(missing_ok=True)  # it holds the HTTP 500s, not answers
        raise SystemExit(f"{path.name}: no authored answer for " + "; ".join(dict.fromkeys(book.missing))
                         + f" (add it to {ANSWERS.relative_to(ROOT)})")
    return run, requests


def record_live(doc, sections, path: Path) -> tuple[LLMRun, int]:
    env = os.environ
    missing = [v for v in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "JIXIAO_MODEL") if not env.get(v)]
    if missing:
        raise SystemExit("--live needs " + ", ".join(missing))
    how = Recording(env["JIXIAO_MODEL"], env.get("JIXIAO_LLM_MODE", "tools"))
    return run_in_cassette(doc, sections, path, record=how, base_url=env["OPENAI_BASE_URL"],
                           api_key=env["OPENAI_API_KEY"], sleep=time.sleep)


def bridge_documents() -> list[tuple[Path, Path]]:
    """(document, cassette) for every document recorded through the bridge: the samples, the new layouts."""
    return ([(SAMPLES / f"{stem}.txt", CASSETTES / f"{stem}.yaml") for stem in STEMS]
            + [(p, CASSETTES / "new_layouts" / f"{p.stem}.yaml") for p in sorted(NEW_LAYOUTS.glob("*.txt"))])


def _pending(answers: Path) -> set[str]:
    answered = {p.stem for p in (answers / "answers").glob("*.json")}
    return {p.stem for p in (answers / "pending").glob("*.json")} - answered


def record_bridge(only: list[str], answers: Path = BRIDGE_ANSWERS) -> list[str]:
    """Record through llm_bridge.py serving `answers`; a cassette is kept only when every request was answered."""
    if not BRIDGE_PY.exists():
        raise SystemExit(f"--bridge needs {BRIDGE_PY}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, str(BRIDGE_PY), "serve", str(answers), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines = []
    log = answers / "log.jsonl"
    seen_before = len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
    try:
        time.sleep(1.0)
        for path, cassette in bridge_documents():
            if only and path.stem not in only:
                continue
            before = _pending(answers)
            doc = load(path, load_settings(env={}))
            run, n = run_in_cassette(doc, split_sections(doc), cassette, record=Recording(BRIDGE_MODEL),
                                     base_url=f"http://127.0.0.1:{port}/v1", api_key="bridge")
            new = _pending(answers) - before
            if new or any("HTTP 400" in f for f in run.failures):
                cassette.unlink(missing_ok=True)
                lines.append(f"{path.name}: not recorded, requests to answer: {' '.join(sorted(_pending(answers)))}")
                continue
            lines.append(summary_line(str(cassette.relative_to(ROOT)), run, n))
    finally:
        server.terminate()
        server.wait(timeout=10)
    if not only and not any("not recorded" in line for line in lines):
        _prune(answers, log.read_text(encoding="utf-8").splitlines()[seen_before:])
    return lines


def _prune(answers: Path, requests: list[str]) -> None:
    """Every document recorded: answers no request asked for any more (an old prompt's) are removed."""
    asked = {json.loads(line)["key"] for line in requests}
    for path in (answers / "answers").glob("*.json"):
        if path.stem not in asked:
            path.unlink()


def summary_line(name: str, run: LLMRun, requests: int) -> str:
    review = sum(1 for f in run.extraction.fields.values() if f.status == "review")
    line = (f"{name}: {run.calls} calls, {requests} requests, {len(run.extraction.fields)} fields "
            f"({review} review), {len(run.extraction.indicators)} score rows")
    return line + ("".join(f"\n    failed: {f}" for f in run.failures))


def print_prompts(stem: str, out=sys.stdout) -> None:
    doc, sections = sample(stem)
    for i, call in enumerate(plan(doc, sections)):
        prompt = _render(doc, call)
        print(f"===== [{i}] {call.prompt} | {call.title}", file=out)
        print(prompt.text, file=out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--print-prompts", metavar="STEM", help="print the prompts for ../shared/reports/STEM.txt")
    ap.add_argument("--live", action="store_true",
                    help="record the samples and new layouts against OPENAI_BASE_URL with JIXIAO_MODEL")
    ap.add_argument("--failures", action="store_true", help="record cassettes/failures/ (local server)")
    ap.add_argument("--bridge", action="store_true",
                    help="record the samples and tests/data/new_layouts through ../shared/tools/llm_bridge.py")
    ap.add_argument("stems", nargs="*", help="only these documents (file stems) or failure scenarios")
    a = ap.parse_args(argv)
    logging.getLogger("instructor").setLevel(logging.CRITICAL)  # its retry chatter; the summary says what failed
    if a.print_prompts:
        print_prompts(a.print_prompts)
        return 0
    lines = []
    if a.failures:
        for sc in SCENARIOS:
            if a.stems and sc.name not in a.stems:
                continue
            doc, sections = sc.document()
            run, n = record_local(doc, sections, sc.cassette, sc.entries, sc.mode, sc.env)
            lines.append(summary_line(str(sc.cassette.relative_to(ROOT)), run, n))
    elif a.live:
        for path, cassette in bridge_documents():
            if a.stems and path.stem not in a.stems:
                continue
            doc = load(path, load_settings(env={}))
            run, n = record_live(doc, split_sections(doc), cassette)
            lines.append(summary_line(str(cassette.relative_to(ROOT)), run, n))
    elif a.bridge:
        lines = record_bridge(a.stems)
    else:
        ap.error("say what to record: --bridge, --live or --failures")
    print(f"{len(lines)} documents:")
    print("\n".join("  " + line for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
