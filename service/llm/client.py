"""The only code that talks to the network: one structured-output request to an OpenAI-compatible endpoint.

instructor enforces the response schema: a response that fails validation is
re-asked with the error (`llm_max_retries` re-asks). Rate limits, server
errors, timeouts and dropped connections are retried with exponential
backoff and jitter (`llm_http_retries`); what still fails comes back as a
`CallResult` with the reason, so the caller can mark the section's fields for
review instead of losing the batch. Token usage is summed over every attempt.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import instructor
import openai
from instructor.core import InstructorRetryException
from pydantic import BaseModel, ValidationError

from ..settings import Settings
from .config import Endpoint

log = logging.getLogger(__name__)

MODES = {"tools": instructor.Mode.TOOLS, "json": instructor.Mode.JSON, "md_json": instructor.Mode.MD_JSON}
RETRYABLE = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError)


@dataclass
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def cost(self, settings: Settings) -> float:
        return (self.prompt_tokens * settings.llm_price_in_per_1k
                + self.completion_tokens * settings.llm_price_out_per_1k) / 1000


@dataclass
class CallResult:
    """What one request gave: a validated model, or the last unvalidated answer and why it failed."""

    value: BaseModel | None
    usage: Usage = field(default_factory=Usage)
    raw: dict | None = None  # the last answer as JSON when validation never passed
    error: str | None = None  # Chinese, for the reviewer
    attempts: int = 0
    cached: bool = False


class LLMClient:
    def __init__(self, endpoint: Endpoint, settings: Settings, http_client: Any = None, sleep=time.sleep):
        self.endpoint, self.settings, self._sleep = endpoint, settings, sleep
        self._http_client = http_client
        self._local = threading.local()  # one instructor client per thread: usage hooks stay per call

    def _instructor(self):
        if getattr(self._local, "client", None) is None:
            raw = openai.OpenAI(base_url=self.endpoint.base_url, api_key=self.endpoint.api_key or "not-set",
                                timeout=self.settings.llm_timeout_s, max_retries=0, http_client=self._http_client)
            self._local.client = instructor.from_openai(raw, mode=MODES[self.settings.llm_mode])
        return self._local.client

    def structured(self, prompt: str, response_model: type[BaseModel], context: dict) -> CallResult:
        """Ask once (with re-asks and HTTP retries) for `response_model`; never raises for a model failure."""
        result = CallResult(value=None)
        for attempt in range(self.settings.llm_http_retries + 1):
            try:
                return self._ask(prompt, response_model, context, result)
            except RETRYABLE as e:
                result.error = _http_reason(e)
                if attempt == self.settings.llm_http_retries:
                    break
                delay = min(30.0, 0.5 * 2 ** attempt) * (0.5 + random.random())
                log.info("retrying after %s (attempt %d, %.1fs)", type(e).__name__, attempt + 1, delay)
                self._sleep(delay)
            except openai.APIStatusError as e:  # 4xx other than 429: retrying will not help
                result.error = f"大模型接口拒绝了请求（HTTP {e.status_code}）：{_message(e)}"
                break
        return result

    def _ask(self, prompt: str, response_model, context: dict, result: CallResult) -> CallResult:
        client = self._instructor()

        def count(response: Any) -> None:
            usage = getattr(response, "usage", None)
            result.usage.requests += 1
            result.attempts += 1
            if usage is not None:
                result.usage.prompt_tokens += usage.prompt_tokens or 0
                result.usage.completion_tokens += usage.completion_tokens or 0

        client.on("completion:response", count)
        try:
            result.value = client.chat.completions.create(
                model=self.endpoint.model, response_model=response_model, context=context,
                max_retries=self.settings.llm_max_retries, temperature=0,
                messages=[{"role": "user", "content": prompt}])
            result.error = None
        except InstructorRetryException as e:
            cause = _root_cause(e)
            if isinstance(cause, openai.APIStatusError | openai.APIConnectionError):
                raise cause from e  # an HTTP failure, not a bad answer: retried or reported by the caller
            result.raw = _last_json(e.last_completion)
            result.error = _validation_reason(cause or e)
        finally:
            client.off("completion:response", count)
        return result


def _message(e: Exception) -> str:
    return str(getattr(e, "message", e))[:200]


def _http_reason(e: Exception) -> str:
    if isinstance(e, openai.RateLimitError):
        return "大模型接口限流（HTTP 429），重试后仍失败"
    if isinstance(e, openai.APITimeoutError):
        return "大模型接口超时，重试后仍失败"
    if isinstance(e, openai.APIConnectionError):
        cause = type(e.__cause__).__name__ if e.__cause__ else "连接失败"
        log.warning("connection error: %r", e.__cause__)
        return f"无法连接大模型接口（{cause}），重试后仍失败"
    return f"大模型接口出错（HTTP {getattr(e, 'status_code', '5xx')}），重试后仍失败"


def _root_cause(e: InstructorRetryException) -> BaseException | None:
    failed = getattr(e, "failed_attempts", None) or []
    cause = failed[-1].exception if failed else e.__cause__
    while isinstance(cause, InstructorRetryException) and cause.__cause__ is not None:
        cause = cause.__cause__
    return cause


def _validation_reason(e: BaseException) -> str:
    """The validators' own (Chinese) messages, without pydantic's English framing."""
    if isinstance(e, ValidationError):
        msgs = [err["msg"].removeprefix("Value error, ") for err in e.errors()]
        if any(err["type"] == "json_invalid" for err in e.errors()):
            msgs = ["回答不是合法的 JSON"]
        return "大模型的回答多次未通过校验：" + "；".join(dict.fromkeys(msgs))[:300]
    return f"大模型的回答多次未通过校验：{str(e)[:300]}"


def _last_json(completion: Any) -> dict | None:
    """The last answer's JSON, from tool arguments or message content, for showing to a reviewer."""
    try:
        message = completion.choices[0].message
        if message.tool_calls:
            return json.loads(message.tool_calls[0].function.arguments)
        text = (message.content or "").strip().removeprefix("```json").removesuffix("```")
        return json.loads(text)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
