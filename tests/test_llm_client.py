"""The LLM client against canned OpenAI responses: re-asks, retries, time limits, and failures kept with a reason.

Nothing here opens a socket or waits: the responses come from `MockOpenAI`, and time passes only on a
fake clock, so every wait is observed, never made.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from service.extract.llm.client import LLMClient
from service.extract.llm.config import Endpoint
from service.extract.llm.schema import SectionFacts
from service.settings import load_settings
from tests.llm_server import Drip, HTTPFailure, MockOpenAI, NoAnswer, Verbatim, huge_facts

logging.getLogger("instructor").setLevel(logging.CRITICAL)

SECTION = "2023年决算总收入2769.17439万元，其中一般公共财政拨款2326.032882万元"
GOOD = {"facts": [{"key": "income_total", "value": 2769.17439, "unit": "万元", "quote": "决算总收入2769.17439万元"}]}
MADE_UP = {"facts": [{"key": "income_total", "value": 2769.2, "unit": "万元", "quote": "决算总收入2769.17439万元"}]}
NOT_IN_SECTION = {"facts": [{"key": "income_total", "value": 2769.17439, "unit": "万元",
                             "quote": "收入合计2769.17439万元"}]}


class Clock:
    """A clock that moves only when slept on, when the server takes time (`advance`), or by `tick` on every
    reading: waits are recorded, never made."""

    def __init__(self, tick: float = 0.0):
        self.now, self.tick, self.slept = 0.0, tick, []

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def serve(answers, clock: Clock) -> MockOpenAI:
    """The answers in turn, the last one repeated, each taking its time on `clock`."""
    queue = list(answers)
    return MockOpenAI(lambda req: queue.pop(0) if len(queue) > 1 else queue[0], pass_time=clock.advance)


def client_for(server: MockOpenAI, clock: Clock, mode: str = "tools", **env) -> LLMClient:
    settings = load_settings(env={"JIXIAO_LLM_MODE": mode, **env})
    return LLMClient(Endpoint(server.base_url, "test-key", "test-model"), settings, http_client=server.http_client,
                     sleep=clock.sleep, clock=clock)


def ask(answers, mode="tools", clock=None, **env):
    clock = clock or Clock()
    with serve(answers, clock) as server:
        client = client_for(server, clock, mode, **env)
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


@pytest.mark.parametrize("status", [400, 401, 404, 408, 409, 422])
def test_client_error_is_not_retried(status):
    clock = Clock()
    result, requests = ask([HTTPFailure(status, "bad request")], clock=clock)
    assert result.value is None and len(requests) == 1 and clock.slept == []
    assert f"大模型接口拒绝了请求（HTTP {status}）：" in result.error


def test_server_error_is_retried_after_a_growing_backoff_with_jitter():
    clock = Clock()
    result, requests = ask([HTTPFailure(503)], clock=clock, JIXIAO_LLM_HTTP_RETRIES="4")
    assert len(requests) == 5 and result.error == "大模型接口出错（HTTP 503），重试后仍失败"
    assert [int(wait * 2) for wait in clock.slept] == [1, 2, 4, 8]  # 0.5 × 2^n, plus up to 0.5 s of jitter


def test_each_retry_is_logged_with_its_wait(caplog):
    caplog.set_level(logging.INFO, logger="service.extract.llm.client")
    ask([HTTPFailure(429, headers={"Retry-After": "3"}), GOOD])
    assert "retrying after RateLimitError (attempt 1, 3.0s)" in caplog.messages


def test_timeout_is_retried_then_reported():
    result, requests = ask([HTTPFailure(200, delay_s=2.0)], JIXIAO_LLM_TIMEOUT_S="0.5",
                           JIXIAO_LLM_HTTP_RETRIES="1")
    assert result.value is None and "超时" in result.error
    assert len(requests) == 2


# -- answers of any shape are judged ---------------------------------------------------

WRONG_SHAPES = {
    "a list": ([GOOD["facts"][0]], "应为 JSON 对象，却是列表"),
    "a string": (Verbatim('"决算总收入2769.17439万元"'), "应为 JSON 对象，却是字符串"),
    "a number": (2769.17439, "应为 JSON 对象，却是数字"),
    "null": (None, "应为 JSON 对象，却是空值"),
    "an object missing required keys": ({"facts": [{"key": "income_total", "value": 2769.17439}]},
                                        "缺少 facts.0.quote"),
    "facts that are not a list": ({"facts": "决算总收入2769.17439万元"}, "facts 的类型不对"),
    "facts that are not objects": ({"facts": [2769.17439]}, "facts.0 的类型不对"),
    "a value of the wrong type": ({"facts": [{**GOOD["facts"][0], "value": [2769.17439]}]}, "facts.0.value"),
}


@pytest.mark.parametrize("mode", ["tools", "json"])
@pytest.mark.parametrize("shape", list(WRONG_SHAPES))
def test_answer_of_the_wrong_shape_is_a_failed_call_with_the_reason(shape, mode):
    answer, reason = WRONG_SHAPES[shape]
    result, requests = ask([answer], mode)
    assert result.value is None and result.raw is None  # nothing of it is read as an answer
    assert "结构不对" in result.error and reason in result.error
    assert len(requests) == 3  # re-asked with the error first


@pytest.mark.parametrize("mode", ["tools", "json"])
@pytest.mark.parametrize("answer", [NoAnswer(), Verbatim(""), Verbatim("  ", tool_call=False)],
                         ids=["no tool call", "empty arguments", "blank content"])
def test_empty_answer_is_a_failed_call_saying_there_was_no_answer(answer, mode):
    result, _ = ask([answer], mode)
    assert result.value is None and result.raw is None
    assert "没有给出回答" in result.error


def test_answer_cut_off_at_the_length_limit_is_a_failed_call():
    result, requests = ask([Verbatim('{"facts": [{"key": "income_total", "val', finish_reason="length")])
    assert result.value is None and result.raw is None and "截断" in result.error
    assert result.usage.requests == 1


# -- time limits -------------------------------------------------------------------------

def test_answer_dripping_past_the_timeout_is_given_up():
    result, requests = ask([Drip(GOOD, every_s=0.3, drip_bytes=20)], JIXIAO_LLM_TIMEOUT_S="1",
                           JIXIAO_LLM_HTTP_RETRIES="0")
    assert result.value is None and "超时" in result.error
    assert len(requests) == 1 and result.usage.requests == 1


def test_deadline_ends_retries_and_backoff_with_the_reason():
    clock = Clock()
    result, requests = ask([HTTPFailure(500)], clock=clock, JIXIAO_LLM_HTTP_RETRIES="20",
                           JIXIAO_LLM_DEADLINE_S="10")
    assert result.value is None and "超过总时限" in result.error and "HTTP 500" in result.error
    assert len(requests) < 21 and sum(clock.slept) < 10


def test_deadline_ends_re_asks_with_the_reason():
    clock = Clock(tick=1.0)  # every reading of the clock is a second later
    result, requests = ask([MADE_UP], clock=clock, JIXIAO_LLM_MAX_RETRIES="20", JIXIAO_LLM_DEADLINE_S="5")
    assert result.value is None and "超过总时限" in result.error
    assert 1 <= len(requests) < 6


def test_retry_after_in_seconds_is_waited_before_retrying():
    clock = Clock()
    result, requests = ask([HTTPFailure(429, headers={"Retry-After": "5"}), GOOD], clock=clock)
    assert result.value is not None and len(requests) == 2
    assert clock.slept == [5.0]


def test_retry_after_as_an_http_date_is_waited_before_retrying():
    clock = Clock()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    result, _ = ask([HTTPFailure(503, headers={"Retry-After": when}), GOOD], clock=clock)
    assert result.value is not None
    assert len(clock.slept) == 1 and 3 <= clock.slept[0] <= 5


def test_retry_after_past_the_deadline_fails_at_once_with_the_reason():
    clock = Clock()
    result, requests = ask([HTTPFailure(429, headers={"Retry-After": "600"})], clock=clock,
                           JIXIAO_LLM_DEADLINE_S="60")
    assert result.value is None and len(requests) == 1 and clock.slept == []
    assert "超过总时限" in result.error and "Retry-After" in result.error


def test_retry_after_in_milliseconds_is_waited_before_retrying():
    clock = Clock()
    result, _ = ask([HTTPFailure(429, headers={"retry-after-ms": "1500", "Retry-After": "2"}), GOOD], clock=clock)
    assert result.value is not None and clock.slept == [1.5]


def test_an_attempt_is_given_at_most_the_time_left_before_the_deadline():
    clock = Clock()
    with serve([HTTPFailure(429, headers={"Retry-After": "50"}), GOOD], clock) as server:
        client = client_for(server, clock, JIXIAO_LLM_TIMEOUT_S="60", JIXIAO_LLM_DEADLINE_S="100")
        result = client.structured("提示", SectionFacts, {"section": SECTION})
    assert result.value is not None and clock.slept == [50.0]
    assert server.timeouts == [60.0, 50.0]


# -- usage and size ------------------------------------------------------------------------

@pytest.mark.parametrize("failure, env", [
    (HTTPFailure(500), {}),
    (HTTPFailure(429, headers={"Retry-After": "1"}), {}),
    (HTTPFailure(200, delay_s=2.0), {"JIXIAO_LLM_TIMEOUT_S": "0.5"}),
], ids=["http 500", "http 429", "timeout"])
def test_every_attempt_sent_counts_in_usage(failure, env):
    result, requests = ask([failure], JIXIAO_LLM_HTTP_RETRIES="2", **env)
    assert result.value is None and len(requests) == 3
    assert result.usage.requests == 3


@pytest.mark.parametrize("max_kb, facts", [(64, 3000), (1, 3000)], ids=["answer over the cap", "body over the cap"])
def test_answer_larger_than_the_cap_is_refused_unread_and_not_re_asked(max_kb, facts):
    result, requests = ask([huge_facts(facts)], JIXIAO_LLM_MAX_ANSWER_KB=str(max_kb))
    assert result.value is None and result.raw is None and "回答过大" in result.error
    assert len(requests) == 1  # no re-ask carrying it


def test_answer_with_more_facts_than_any_report_states_is_a_failed_call():
    result, _ = ask([huge_facts(301)])
    assert result.value is None and result.raw is None
    assert "facts 有 301 条，超过上限 300 条" in result.error
