"""The LLM engine over a local server: answers become located values, failures become review items."""

from __future__ import annotations

import logging

from service.ingest import load_bytes
from service.llm.client import LLMClient
from service.llm.config import Endpoint
from service.llm.engine import extract
from service.sections import split_sections
from service.settings import load_settings
from tests.llm_server import FakeOpenAI, HTTPFailure

logging.getLogger("instructor").setLevel(logging.CRITICAL)

REPORT = ("2023年度某某县某某局部门整体支出绩效自评报告\n\n一、部门支出情况\n"
          "2023年度部门支出合计1498.12万元，其中：基本支出856.34万元，项目支出641.78万元。\n"
          "二、其他情况\n2023年度政府采购支出12345.6元。\n")


def run(answer):
    doc = load_bytes(REPORT.encode("utf-8"), "r.txt", load_settings(env={}))
    with FakeOpenAI(answer) as server:
        client = LLMClient(Endpoint(server.base_url, "k", "m"), load_settings(env={"JIXIAO_LLM_HTTP_RETRIES": "1"}),
                           sleep=lambda s: None)
        return doc, extract(doc, split_sections(doc), client)


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
