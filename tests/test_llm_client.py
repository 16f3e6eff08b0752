"""The LLM client against a local OpenAI-compatible server: re-asks, retries, and failures kept with a reason."""

from __future__ import annotations

import logging

import pytest

from service.llm.client import LLMClient
from service.llm.config import Endpoint
from service.llm.schema import SectionFacts
from service.settings import load_settings
from tests.llm_server import FakeOpenAI, HTTPFailure

logging.getLogger("instructor").setLevel(logging.CRITICAL)

SECTION = "2023年决算总收入2769.17439万元，其中一般公共财政拨款2326.032882万元"
GOOD = {"facts": [{"key": "income_total", "value": 2769.17439, "unit": "万元", "quote": "决算总收入2769.17439万元"}]}
MADE_UP = {"facts": [{"key": "income_total", "value": 2769.2, "unit": "万元", "quote": "决算总收入2769.17439万元"}]}
NOT_IN_SECTION = {"facts": [{"key": "income_total", "value": 2769.17439, "unit": "万元",
                             "quote": "收入合计2769.17439万元"}]}


def ask(answers, mode="tools", **env):
    settings = load_settings(env={"JIXIAO_LLM_MODE": mode, **env})
    queue = list(answers)
    with FakeOpenAI(lambda req: queue.pop(0) if len(queue) > 1 else queue[0]) as server:
        client = LLMClient(Endpoint(server.base_url, "test-key", "test-model"), settings, sleep=lambda s: None)
        return client.structured("提示", SectionFacts, {"section": SECTION}), server.requests


@pytest.mark.parametrize("mode", ["tools", "json", "md_json"])
def test_valid_answer_is_returned_with_usage(mode):
    result, requests = ask([GOOD], mode)
    assert result.value.facts[0].value == 2769.17439 and result.error is None
    assert result.usage.requests == 1 and result.usage.prompt_tokens > 0
    assert requests[0]["model"] == "test-model"


def test_made_up_number_is_re_asked_with_the_error_and_corrected():
    result, requests = ask([MADE_UP, GOOD])
    assert result.value.facts[0].value == 2769.17439
    assert len(requests) == 2 and result.usage.requests == 2
    assert "2769.2" in str(requests[1]["messages"])  # the re-ask carries the validation error


def test_quote_not_in_section_still_failing_after_re_asks_is_kept_with_the_reason():
    result, requests = ask([NOT_IN_SECTION])
    assert result.value is None and len(requests) == 3  # first try + 2 re-asks
    assert result.raw == NOT_IN_SECTION
    assert "在给定章节中找不到" in result.error


def test_malformed_json_is_reported_in_chinese():
    result, _ = ask(["{not json"], mode="json")
    assert result.value is None and "不是合法的 JSON" in result.error


def test_rate_limit_then_success_is_retried():
    result, requests = ask([HTTPFailure(429), GOOD])
    assert result.value is not None and len(requests) == 2


def test_persistent_server_error_gives_up_with_a_reason():
    result, requests = ask([HTTPFailure(500)], JIXIAO_LLM_HTTP_RETRIES="2")
    assert result.value is None and len(requests) == 3
    assert "HTTP 500" in result.error


def test_client_error_is_not_retried():
    result, requests = ask([HTTPFailure(401, "bad key")])
    assert result.value is None and len(requests) == 1
    assert "HTTP 401" in result.error


def test_timeout_is_retried_then_reported():
    result, requests = ask([HTTPFailure(200, delay_s=2.0)], JIXIAO_LLM_TIMEOUT_S="0.5",
                           JIXIAO_LLM_HTTP_RETRIES="1")
    assert result.value is None and "超时" in result.error
    assert len(requests) == 2
