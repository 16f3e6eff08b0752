"""The LLM engine on recorded traffic: the five samples and the failure cases, replayed from cassettes/.

Nothing here talks to a model or to FakeOpenAI: every request is answered from
a vcrpy cassette (record_mode "none"), and a request the cassette lacks is an
error naming its section. Re-record with `.venv/bin/python -m tests.record_cassettes`.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import yaml

from service.check.second_look import second_look
from service.extract.llm import prompts
from service.extract.llm.planner import plan
from service.ingest import load
from service.models import REVIEW
from service.record import to_record
from service.sections import split_sections
from service.settings import load_settings
from service.store import Store
from tests.record_cassettes import (
    CASSETTES,
    FACTS_TITLE,
    GENERAL_QUOTE,
    LISTS_TITLE,
    PARAPHRASED,
    SCENARIO,
    STEMS,
    MissingRecording,
    replay,
    run_in_cassette,
    sample,
)
from tests.scoring import fraction, score_records

logging.getLogger("instructor").setLevel(logging.CRITICAL)

CJK = re.compile(r"[\u4e00-\u9fff]")


def interactions(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]


def scenario(name: str):
    sc = SCENARIO[name]
    doc, sections = sc.document()
    return doc, sections, replay(doc, sections, sc.cassette)


def fields_of_call(doc, sections, title: str) -> list[str]:
    return next(c.fields for c in plan(doc, sections) if c.title == title)


# -- the five samples ---------------------------------------------------------------

@pytest.fixture(scope="module")
def replayed():
    out = {}
    for stem in STEMS:
        doc, sections = sample(stem)
        out[stem] = (doc, replay(doc, sections, CASSETTES / f"{stem}.yaml"))
    return out


def test_sample_reports_through_the_llm_engine_meet_the_bar(replayed, tmp_path):
    assert all(run.failures == [] for _doc, run in replayed.values())
    summary, report = score_records({stem: to_record(doc, run.extraction).json() for stem, (doc, run) in replayed.items()},
                                    tmp_path)
    assert summary["field_escape_rate"] <= 0.01, report
    assert summary["made_up_values"] == 0, report
    sent, must = fraction(summary["must_review_sent"])
    assert must > 0 and sent == must, f"only {sent} of {must} must-review fields were sent to review\n{report}"


def test_contradicting_budget_figures_of_report_000_go_to_review_with_both_values(replayed):
    doc, run = replayed["000_8d720d4fc0889d24"]
    for key, stated in (("budget_full_year", {2946.602828, 2769.17439}),
                        ("spending_actual", {2946.602828, 2844.28141})):
        field = run.extraction.fields[key]
        assert field.status == REVIEW
        assert {field.value, *(c.value for c in field.candidates)} == stated
        assert any("不一致" in issue for issue in field.issues)


NEW_LAYOUTS = Path(__file__).resolve().parent / "data" / "new_layouts"


def test_new_layouts_through_the_llm_engine_let_no_wrong_value_through(tmp_path):
    """As `jixiao extract --engine llm` runs them: the engine, then the second look."""
    records = {}
    for path in sorted(NEW_LAYOUTS.glob("*.txt")):
        doc = load(path, load_settings(env={}))
        sections = split_sections(doc)
        run = replay(doc, sections, CASSETTES / "new_layouts" / f"{path.stem}.yaml")
        assert run.failures == [], path.name
        records[path.stem] = second_look(doc, sections, to_record(doc, run.extraction), load_settings(env={})).json()
    summary, report = score_records(records, tmp_path, gold=NEW_LAYOUTS / "gold")
    assert summary["field_escape_rate"] == 0 and summary["indicator_escapes"] == 0, report
    assert summary["field_accuracy"] >= 0.97 and summary["indicator_row_f1"] >= 0.95, report
    sent, must = fraction(summary["must_review_sent"])
    assert sent == must, report


@pytest.mark.parametrize("stem", STEMS)
def test_every_llm_evidence_points_at_its_characters(replayed, stem):
    doc, run = replayed[stem]
    ex = run.extraction
    evidences = [(k, f.evidence) for k, f in ex.fields.items()] + [(r.name, r.evidence) for r in ex.indicators]
    for where, ev in evidences:
        assert ev is not None and ev.quote.strip(), where
        assert doc.text[ev.start:ev.end] == ev.quote, where


# -- failure cassettes ---------------------------------------------------------------

def assert_accepted_as_answered(ex):
    general = ex.fields["income_general_budget"]
    assert general.value == 3777.82 and general.status == "accepted", general
    assert general.evidence.quote == GENERAL_QUOTE
    assert ex.fields["staff_actual"].value == 51 and ex.fields["retirees"].value == 17
    assert ex.review_count() == 0


def test_malformed_json_is_re_asked_and_the_complete_answer_kept():
    _doc, _sections, run = scenario("malformed_json")

    assert run.failures == [] and run.usage.requests == 2
    assert_accepted_as_answered(run.extraction)
    reask = json.loads(interactions(SCENARIO["malformed_json"].cassette)[1]["request"]["body"])
    assert reask["response_format"]["type"] == "json_object"  # recorded in JSON mode
    assert reask["messages"][-2]["role"] == "assistant"  # the cut-off reply went back with the error


def test_schema_violation_is_corrected_on_re_ask():
    _doc, _sections, run = scenario("schema_violation")

    assert run.failures == [] and run.usage.requests == 2
    assert_accepted_as_answered(run.extraction)
    assert "income_general" not in run.extraction.fields
    bodies = [json.loads(i["request"]["body"]) for i in interactions(SCENARIO["schema_violation"].cassette)]
    first, reask = sorted(bodies, key=lambda b: len(b["messages"]))
    assert len(first["messages"]) == 1
    assert "income_general" in json.dumps(reask["messages"][1:], ensure_ascii=False)  # the error names the key


def test_made_up_number_still_wrong_after_re_asks_is_kept_for_review_with_the_reason():
    doc, sections, run = scenario("made_up_number")
    ex = run.extraction

    assert run.usage.requests == 3  # the answer and two re-asks, none passing the quote check
    general = ex.fields["income_general_budget"]
    assert general.value == 3777.8 and general.status == REVIEW
    assert any("3777.8" in i and "没有出现在引文" in i for i in general.issues), general.issues
    assert general.evidence.quote == GENERAL_QUOTE  # the reviewer sees the 3777.82 it was read from
    # Nothing of the unvalidated answer is trusted, and nothing of it is lost.
    for key in ("staff_actual", "retirees", "income_gov_fund", "expense_total", "expense_basic"):
        assert ex.fields[key].status == REVIEW and ex.fields[key].value is not None, key
        assert all(CJK.search(i) for i in ex.fields[key].issues)
    assert set(fields_of_call(doc, sections, FACTS_TITLE)) >= set(ex.fields)


def test_quote_not_in_the_section_keeps_the_list_for_review_with_the_reason():
    _doc, _sections, run = scenario("quote_not_in_section")
    ex = run.extraction

    assert run.failures == []
    assert ex.problems.value == PARAPHRASED and ex.problems.status == REVIEW
    assert any("在给定章节中找不到" in i and "重点工作还需要进一步精细化" in i for i in ex.problems.issues)
    assert ex.measures.value and ex.measures.status == REVIEW  # from the same unvalidated answer
    assert ex.fields["unit_name"].status == "accepted"  # the other call is unaffected


def test_rate_limit_then_success_is_retried_and_nothing_goes_to_review():
    _doc, _sections, run = scenario("rate_limit_then_success")

    codes = [i["response"]["status"]["code"] for i in interactions(SCENARIO["rate_limit_then_success"].cassette)]
    assert codes == [429, 200]
    assert run.failures == []
    assert_accepted_as_answered(run.extraction)


def test_persistent_server_error_sends_the_calls_fields_to_review_naming_http_500():
    doc, sections, run = scenario("persistent_500")
    ex = run.extraction

    codes = [i["response"]["status"]["code"] for i in interactions(SCENARIO["persistent_500"].cassette)]
    assert codes == [500, 500, 500]  # the try and both retries
    assert len(run.failures) == 1 and run.failures[0].startswith(FACTS_TITLE)
    asked = fields_of_call(doc, sections, FACTS_TITLE)
    assert sorted(ex.fields) == sorted(asked)  # every field the call was for is there, none silently dropped
    for key in asked:
        field = ex.fields[key]
        assert field.status == REVIEW and field.value is None
        assert any("HTTP 500" in i and FACTS_TITLE in i and CJK.search(i) for i in field.issues), field.issues


def test_timeout_sends_the_calls_fields_to_review_saying_it_timed_out():
    doc, sections, run = scenario("timeout")
    ex = run.extraction

    codes = [i["response"]["status"]["code"] for i in interactions(SCENARIO["timeout"].cassette)]
    assert codes == [599, 599]  # recorded timeouts: the try and its one retry
    assert len(run.failures) == 1 and "超时" in run.failures[0]
    for key in fields_of_call(doc, sections, FACTS_TITLE):
        assert ex.fields[key].status == REVIEW
        assert any("超时" in i for i in ex.fields[key].issues), ex.fields[key].issues


# -- replay discipline -----------------------------------------------------------------

def test_request_without_a_recording_is_an_error_naming_the_section(monkeypatch):
    render = prompts.render

    def changed(name, **kwargs):
        p = render(name, **kwargs)
        return prompts.Prompt(p.name, p.text + "。", p.version)

    monkeypatch.setattr(prompts, "render", changed)
    doc, sections = sample("002_6ebd5ff7b055c059")

    with pytest.raises(MissingRecording) as failed:
        replay(doc, sections, CASSETTES / "002_6ebd5ff7b055c059.yaml")

    message = str(failed.value)
    assert "002_6ebd5ff7b055c059.yaml" in message
    assert "score_table“部门整体支出绩效自评表”" in message and "重新录制" in message
    assert LISTS_TITLE.split(" / ")[0] in message


def test_rerun_with_cache_makes_no_new_requests(tmp_path):
    store = Store(str(tmp_path / "jixiao.db"))
    doc, sections = sample("002_6ebd5ff7b055c059")
    cassette = CASSETTES / "002_6ebd5ff7b055c059.yaml"
    try:
        first, sent_first = run_in_cassette(doc, sections, cassette, cache=store)
        again, sent_again = run_in_cassette(doc, sections, cassette, cache=store)
    finally:
        store.close()

    assert sent_first == 3  # three calls, each answered at the first try
    assert sent_again == 0 and again.usage.requests == 0
    assert to_record(doc, again.extraction) == to_record(doc, first.extraction)


# -- the product's replay (no vcrpy) -----------------------------------------------

def _same_run(a, b) -> None:
    assert a.extraction == b.extraction
    assert (a.usage.requests, a.usage.prompt_tokens, a.usage.completion_tokens) == \
        (b.usage.requests, b.usage.prompt_tokens, b.usage.completion_tokens)
    assert a.failures == b.failures


@pytest.mark.parametrize("name", ["malformed_json", "rate_limit_then_success", "persistent_500", "timeout"])
def test_jixiao_replays_a_cassette_as_vcrpy_does_without_patching_http(name):
    """`jixiao demo` and `--replay` read the cassettes themselves: the same run as vcrpy's, re-asks, retries,
    recorded timeouts and failures included."""
    from service.extract.llm.replay import replay_run

    sc = SCENARIO[name]
    doc, sections = sc.document()
    by_vcr, sent_vcr = run_in_cassette(doc, sections, sc.cassette)
    by_jixiao, sent = replay_run(doc, sections, sc.cassette)
    _same_run(by_jixiao, by_vcr)
    assert sent == sent_vcr


def test_jixiao_replays_a_whole_report_as_vcrpy_does(replayed):
    from service.extract.llm.replay import replay as jixiao_replay

    stem = "000_8d720d4fc0889d24"
    doc, by_vcr = replayed[stem]
    _same_run(jixiao_replay(doc, split_sections(doc), CASSETTES / f"{stem}.yaml"), by_vcr)


def test_a_request_the_cassette_lacks_is_an_error_naming_its_section(tmp_path):
    from service.extract.llm.replay import replay as jixiao_replay

    sc = SCENARIO["malformed_json"]
    doc, sections = sc.document()
    data = yaml.safe_load(sc.cassette.read_text(encoding="utf-8"))
    data["interactions"] = data["interactions"][:1]  # the re-ask's answer is gone
    cut = tmp_path / "cut.yaml"
    cut.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MissingRecording, match="第 2 次请求"):
        jixiao_replay(doc, sections, cut)
