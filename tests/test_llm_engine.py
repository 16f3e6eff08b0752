"""The LLM engine over a local server: answers become located values, failures become review items."""

from __future__ import annotations

import logging

from service.extract.llm.client import LLMClient
from service.extract.llm.config import Endpoint
from service.extract.llm.engine import extract
from service.extract.llm.planner import plan
from service.ingest import load_bytes
from service.sections import split_sections
from service.settings import load_settings
from tests.llm_server import FakeOpenAI, HTTPFailure, huge_facts

logging.getLogger("instructor").setLevel(logging.CRITICAL)

REPORT = ("2023年度某某县某某局部门整体支出绩效自评报告\n\n一、部门支出情况\n"
          "2023年度部门支出合计1498.12万元，其中：基本支出856.34万元，项目支出641.78万元。\n"
          "二、其他情况\n2023年度政府采购支出12345.6元。\n")


SCORE_TABLE = ("三、部门整体支出绩效自评表\n"
               "一级指标 | 二级指标 | 三级指标 | 年度指标值 | 实际完成值 | 分值 | 得分 |\n"
               "产出指标 | 数量指标 | 培训人次 | ≥300人次 | 320人次 | 50 | 48 |\n"
               "效益指标 | 社会效益 | 群众知晓率 | ≥90% | 92% | 50 | 47 |\n"
               "合计 | | | | | 100 | 95 |\n")
EXPENSE = {"key": "expense_total", "value": 1498.12, "unit": "万元", "quote": "部门支出合计1498.12万元"}


def run(answer, text=REPORT, **env):
    doc = load_bytes(text.encode("utf-8"), "r.txt", load_settings(env={}))
    settings = load_settings(env={"JIXIAO_LLM_HTTP_RETRIES": "1", **env})
    with FakeOpenAI(answer) as server:
        client = LLMClient(Endpoint(server.base_url, "k", "m"), settings, sleep=lambda s: None)
        return doc, extract(doc, split_sections(doc), client)


def by_prompt(table_answer):
    """Facts calls answer the 部门支出合计 they can see, list calls nothing, score-table calls `table_answer`."""
    def answer(request):
        tool = request["tools"][0]["function"]["name"]
        if tool == "ScoreTablesModel":
            return table_answer
        if tool == "ListsModel":
            return {"problems": [], "measures": []}
        return {"facts": [EXPENSE] if EXPENSE["quote"] in request["messages"][0]["content"] else []}
    return answer


def fields_of(doc, prompt: str) -> list[str]:
    return [key for call in plan(doc, split_sections(doc)) if call.prompt == prompt for key in call.fields]


def assert_failed_call_sent_to_review(doc, result, prompt: str, reason: str):
    """The call's fields are all there, for review, with the reason; the other calls' values are kept."""
    assert len(result.failures) == 1 and reason in result.failures[0]
    fields = result.extraction.fields
    asked = [k for k in fields_of(doc, prompt) if k != "expense_total"]
    assert asked
    for key in asked:
        assert fields[key].status == "review" and fields[key].value is None, key
        assert any(reason in i for i in fields[key].issues), fields[key].issues
    assert fields["expense_total"].value == 1498.12 and fields["expense_total"].status == "accepted"


def test_money_given_in_yuan_is_converted_and_located():
    def answer(request):
        return {"facts": [{"key": "procurement_actual", "value": 12345.6, "unit": "元",
                           "quote": "政府采购支出12345.6元"}]}

    doc, result = run(answer)
    fv = result.extraction.fields["procurement_actual"]
    assert fv.value == 1.23456 and "元" in fv.note
    assert doc.text[fv.evidence.start:fv.evidence.end] == "政府采购支出12345.6元"


def test_failed_call_marks_the_fields_it_was_asked_for_as_review_with_the_error():
    doc, result = run(lambda request: HTTPFailure(500))
    fields = result.extraction.fields
    assert fields and all(f.status == "review" and f.value is None for f in fields.values())
    assert "HTTP 500" in fields["expense_total"].issues[0]
    assert result.failures


def test_answer_that_never_validates_is_kept_for_review_with_the_reason():
    def answer(request):  # the model insists on a number the quote does not have
        return {"facts": [{"key": "expense_basic", "value": 856.3, "unit": "万元", "quote": "基本支出856.34万元"}]}

    _doc, result = run(answer)
    fv = result.extraction.fields["expense_basic"]
    assert fv.value == 856.3 and fv.status == "review"
    assert "没有出现在引文" in fv.issues[0]


def test_tool_arguments_that_are_a_list_send_the_calls_fields_to_review():
    doc, result = run(by_prompt([{"table": "整体", "rows": [], "total": 95}]), REPORT + SCORE_TABLE)
    assert_failed_call_sent_to_review(doc, result, "score_table", "应为 JSON 对象，却是列表")


def test_score_table_answer_without_table_sends_its_fields_to_review_and_the_rest_goes_on():
    rows = [{"level1": "产出指标", "name": "培训人次", "weight": 50, "score": 48,
             "quote": "产出指标 | 数量指标 | 培训人次 | ≥300人次 | 320人次 | 50 | 48 |"}]
    doc, result = run(by_prompt({"tables": [{"rows": rows, "total": 95}]}), REPORT + SCORE_TABLE)
    assert_failed_call_sent_to_review(doc, result, "score_table", "缺少 tables.0.table")
    assert result.extraction.indicators == []  # nothing of the answer is read


def test_answer_larger_than_the_cap_sends_the_calls_fields_to_review():
    doc, result = run(by_prompt(huge_facts(3000)), REPORT + SCORE_TABLE, JIXIAO_LLM_MAX_ANSWER_KB="64")
    assert_failed_call_sent_to_review(doc, result, "score_table", "回答过大")
    assert result.usage.requests == len(plan(doc, split_sections(doc)))  # refused, not re-asked


def test_call_past_the_deadline_sends_its_fields_to_review_with_the_reason():
    def answer(request):
        if request["tools"][0]["function"]["name"] == "ScoreTablesModel":
            return HTTPFailure(429, headers={"Retry-After": "600"})
        return by_prompt(None)(request)

    doc, result = run(answer, REPORT + SCORE_TABLE, JIXIAO_LLM_DEADLINE_S="60")
    assert_failed_call_sent_to_review(doc, result, "score_table", "大模型请求超过总时限")
