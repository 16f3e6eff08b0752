"""The only code that talks to the network: one structured-output request to an OpenAI-compatible endpoint.

instructor enforces the response schema: a response that fails validation is
re-asked with the error (`llm_max_retries` re-asks). Rate limits, server
errors, timeouts and dropped connections are retried with exponential
backoff and jitter, or after the server's `Retry-After` (`llm_http_retries`);
other 4xx are not. tenacity runs those retries, not the openai SDK's own
(`max_retries=0`): the SDK's sleep cannot be injected (tests would wait for
real), it knows nothing of the call's deadline, it drops a `Retry-After` over
a minute for its own backoff, it retries 408/409, and it retries inside one
`create`, where each attempt can no longer be counted in the usage.
Every answer is judged, never trusted: an answer larger than
`llm_max_answer_kb` is refused unread, and one of the wrong shape (a list,
a missing key, no answer at all) is a failed call. What fails comes back as a
`CallResult` with the reason in Chinese, so the caller can mark the section's
fields for review instead of losing the batch.

Time: `llm_timeout_s` limits one HTTP attempt by the client's clock (each socket
operation, and reading the body however slowly it drips), `llm_deadline_s`
the whole call (attempts, re-asks, backoff and Retry-After waits). Usage
counts every attempt sent, whether it was answered, refused or timed out.
A server that drips its response *headers* is bounded only per socket read.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
import instructor
import openai
import tenacity
from instructor.core import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, ValidationError

from service.extract.llm.config import Endpoint
from service.settings import Settings

log = logging.getLogger(__name__)

MODES = {"tools": instructor.Mode.TOOLS, "json": instructor.Mode.JSON, "md_json": instructor.Mode.MD_JSON}
RETRYABLE = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError)
BACKOFF = tenacity.wait_exponential_jitter(multiplier=0.5, max=30, jitter=0.5)  # when no Retry-After says
WIRE_FACTOR = 8  # a response body may be this many times the answer it carries (JSON escaping) before it is cut off


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
    raw: dict | None = None  # the last answer, of the schema's shape, when only the validators' checks failed
    error: str | None = None  # Chinese, for the reviewer
    attempts: int = 0
    cached: bool = False


class AnswerRefused(openai.OpenAIError):
    """An attempt the client itself stopped (past the deadline, answer too large): not retried, not re-asked."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Call:
    """One `structured` call in progress: its result so far and the time it has left."""

    result: CallResult
    settings: Settings
    clock: Callable[[], float]
    deadline: float = 0.0  # on `clock`
    attempt_end: float = float("inf")  # on `clock`: when the current HTTP attempt must have been read

    def __post_init__(self):
        self.deadline = self.clock() + self.settings.llm_deadline_s

    def left(self) -> float:
        return self.deadline - self.clock()

    def past_deadline(self, why: str) -> str:
        return f"大模型请求超过总时限（{self.settings.llm_deadline_s} 秒，含重试和等待）：{why}"

    def start_attempt(self) -> float:
        """The seconds the next HTTP attempt may take; refused when the deadline has passed."""
        now = self.clock()
        if now >= self.deadline:
            raise AnswerRefused(self.past_deadline("时间已用完，不再发送请求"))
        limit = min(float(self.settings.llm_timeout_s), self.deadline - now)
        self.attempt_end = now + limit
        return limit

    @property
    def max_answer_bytes(self) -> int:
        return int(self.settings.llm_max_answer_kb * 1024)


_current = threading.local()  # the `_Call` this thread is making, for the HTTP hooks


class LLMClient:
    def __init__(self, endpoint: Endpoint, settings: Settings, http_client: Any = None, sleep=time.sleep,
                 clock=time.monotonic):
        self.endpoint, self.settings, self._sleep, self._clock = endpoint, settings, sleep, clock
        self._http_client = _guarded(http_client) if http_client is not None else None
        self._local = threading.local()  # one instructor client per thread

    def _instructor(self):
        if getattr(self._local, "client", None) is None:
            raw = openai.OpenAI(base_url=self.endpoint.base_url, api_key=self.endpoint.api_key or "not-set",
                                timeout=self.settings.llm_timeout_s, max_retries=0,
                                http_client=self._http_client or _guarded(openai.DefaultHttpxClient()))
            mode = MODES[self.settings.llm_mode]
            create = instructor.patch(create=_attempt(raw.chat.completions.create), mode=mode)
            self._local.client = instructor.Instructor(client=raw, create=create, mode=mode)
        return self._local.client

    def structured(self, prompt: str, response_model: type[BaseModel], context: dict) -> CallResult:
        """Ask once (with re-asks and HTTP retries, within the deadline) for `response_model`; never raises for
        a model failure."""
        call = _Call(CallResult(value=None), self.settings, self._clock)
        _current.call = call
        try:
            self._with_retries(call, prompt, response_model, context)
        finally:
            _current.call = None
        return call.result

    def _with_retries(self, call: _Call, prompt: str, response_model, context: dict) -> None:
        try:
            _retrying(call, self._sleep)(self._ask, prompt, response_model, context, call.result)
        except AnswerRefused as e:
            call.result.error = e.reason
        except openai.APIStatusError as e:  # 4xx other than 429: retrying will not help
            call.result.error = f"大模型接口拒绝了请求（HTTP {e.status_code}）：{_message(e)}"

    def _ask(self, prompt: str, response_model, context: dict, result: CallResult) -> CallResult:
        try:
            result.value = self._instructor().chat.completions.create(
                model=self.endpoint.model, response_model=response_model, context=context,
                max_retries=self.settings.llm_max_retries, temperature=0,
                messages=[{"role": "user", "content": prompt}])
            result.raw, result.error = None, None
        except IncompleteOutputException:
            result.raw, result.error = None, "大模型的回答被截断（达到输出长度上限），无法读取"
        except InstructorRetryException as e:
            cause = _root_cause(e)
            if isinstance(cause, openai.APIStatusError | openai.APIConnectionError | AnswerRefused):
                raise cause from e  # not a bad answer: retried or reported by the caller
            result.raw, result.error = judge(e.last_completion, response_model, cause)
        return result


# -- retrying HTTP failures ------------------------------------------------------------

def _retrying(call: _Call, sleep: Callable[[float], None]) -> tenacity.Retrying:
    """Retries of `call`'s retryable failures: at most `llm_http_retries`, each wait taken only if it ends
    before the deadline; giving up sets the reason instead of raising."""
    retries_spent = tenacity.stop_after_attempt(call.settings.llm_http_retries + 1)
    return tenacity.Retrying(
        sleep=sleep, retry=tenacity.retry_if_exception_type(RETRYABLE), wait=_wait,
        stop=retries_spent | (lambda rs: rs.upcoming_sleep >= call.left()),  # or the wait would end past the deadline
        before_sleep=_log_retry, retry_error_callback=lambda rs: _give_up(call, rs))


def _wait(rs: tenacity.RetryCallState) -> float:
    """The server's Retry-After, else exponential backoff with jitter."""
    asked = retry_after(rs.outcome.exception())
    return asked if asked is not None else BACKOFF(rs)


def _log_retry(rs: tenacity.RetryCallState) -> None:
    log.info("retrying after %s (attempt %d, %.1fs)", type(rs.outcome.exception()).__name__, rs.attempt_number,
             rs.upcoming_sleep)


def _give_up(call: _Call, rs: tenacity.RetryCallState) -> None:
    """Set why the last failure is not retried: the deadline passed, the retries ran out, or the wait is too long."""
    e = rs.outcome.exception()
    why = _http_reason(e)
    if call.left() <= 0:
        call.result.error = call.past_deadline(why)
    elif rs.attempt_number > call.settings.llm_http_retries:
        call.result.error = f"{why}，重试后仍失败"
    else:
        told = "（接口的 Retry-After）" if retry_after(e) is not None else ""
        call.result.error = call.past_deadline(f"{why}，需等待 {rs.upcoming_sleep:.0f} 秒{told}后才能重试")


# -- one HTTP attempt -------------------------------------------------------------------

def _attempt(create):
    """`create` as one HTTP attempt of the call in progress: counted, limited in time, its answer's size checked
    before instructor parses it."""

    def send(*args, **kwargs):
        call: _Call = _current.call
        limit = call.start_attempt()
        call.result.usage.requests += 1
        call.result.attempts += 1
        completion = create(*args, **{**kwargs, "timeout": httpx2.Timeout(limit)})
        usage = getattr(completion, "usage", None)
        if usage is not None:
            call.result.usage.prompt_tokens += usage.prompt_tokens or 0
            call.result.usage.completion_tokens += usage.completion_tokens or 0
        size = len(answer_text(completion).encode("utf-8"))
        if size > call.max_answer_bytes:
            raise AnswerRefused(f"大模型的回答过大（{size / 1024:.0f} KB，上限 {call.settings.llm_max_answer_kb} KB），"
                                "未读取")
        return completion

    return send


def _guarded(http: httpx2.Client) -> httpx2.Client:
    """`http` with the hook that limits each response body in time and size (added once)."""
    hooks = http.event_hooks
    if _guard_body not in hooks["response"]:
        http.event_hooks = {"request": hooks["request"], "response": [*hooks["response"], _guard_body]}
    return http


def _guard_body(response: httpx2.Response) -> None:
    call: _Call | None = getattr(_current, "call", None)
    if call is not None:
        response.stream = _GuardedBody(response.stream, call.clock, call.attempt_end,
                                       call.max_answer_bytes * WIRE_FACTOR + 65536)


class _GuardedBody(httpx2.SyncByteStream):
    """A response body read until `end` (on `clock`) and up to `max_bytes`, however slowly it comes."""

    def __init__(self, inner, clock: Callable[[], float], end: float, max_bytes: int):
        self.inner, self.clock, self.end, self.max_bytes = inner, clock, end, max_bytes

    def __iter__(self):
        size = 0
        for chunk in self.inner:
            size += len(chunk)
            if size > self.max_bytes:
                raise AnswerRefused(f"大模型的回答过大（响应超过 {self.max_bytes // 1024} KB），未读取")
            if self.clock() > self.end:
                raise httpx2.ReadTimeout("the response took longer than the request's time limit")
            yield chunk

    def close(self) -> None:
        self.inner.close()


def retry_after(e: Exception) -> float | None:
    """The seconds a 429/503 response asks to wait (`Retry-After` in seconds or as an HTTP-date), if it says."""
    response = getattr(e, "response", None)
    headers = response.headers if response is not None else {}
    if headers.get("retry-after-ms"):
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# -- judging an answer ------------------------------------------------------------------

def _message(e: Exception) -> str:
    return str(getattr(e, "message", e))[:200]


def _http_reason(e: Exception) -> str:
    if isinstance(e, openai.RateLimitError):
        return "大模型接口限流（HTTP 429）"
    if isinstance(e, openai.APITimeoutError):
        return "大模型接口超时"
    if isinstance(e, openai.APIConnectionError):
        cause = type(e.__cause__).__name__ if e.__cause__ else "连接失败"
        log.warning("connection error: %r", e.__cause__)
        return f"无法连接大模型接口（{cause}）"
    return f"大模型接口出错（HTTP {getattr(e, 'status_code', '5xx')}）"


def _root_cause(e: InstructorRetryException) -> BaseException | None:
    """The exception that ended instructor's attempts (the last one), through nested retry exceptions."""
    failed = getattr(e, "failed_attempts", None) or []
    cause = e.__cause__ or (failed[-1].exception if failed else None)
    while isinstance(cause, InstructorRetryException) and cause.__cause__ is not None:
        cause = cause.__cause__
    return cause


def judge(completion: Any, model: type[BaseModel], cause: BaseException | None) -> tuple[dict | None, str]:
    """The last answer to keep for review, and why it failed.

    Only an answer of the schema's shape, failing the validators' own checks (a quote not in the
    section, a number not in its quote), is kept: its values go to review with the reason. An empty
    answer, malformed JSON, or JSON of the wrong shape keeps nothing: the call has failed.
    """
    if completion is None:
        return None, _validation_reason(cause)
    text = answer_text(completion).strip()
    if not text:
        return None, "大模型没有给出回答（没有工具调用，内容为空）"
    parsed = _parse_json(text)
    if not parsed:
        return None, "大模型的回答不是合法的 JSON"
    raw = parsed[0]
    problem = shape_problem(raw, model)
    if problem:
        return None, f"大模型的回答结构不对：{problem}"
    return raw, _validation_reason(cause)


def _parse_json(text: str) -> tuple[Any] | tuple[()]:
    """(the JSON value,) of the text or of its ```json code block (md_json), else ()."""
    fenced = re.search(r"```(?:json)?\s*(.*?)\s*```", text, re.S)
    for candidate in (text, fenced.group(1) if fenced else None):
        if candidate is not None:
            try:
                return (json.loads(candidate),)
            except ValueError:
                pass
    return ()


_JSON_KINDS = {list: "列表", str: "字符串", int: "数字", float: "数字", bool: "布尔值", type(None): "空值（null）"}


def shape_problem(raw: Any, model: type[BaseModel]) -> str | None:
    """How `raw` does not fit the schema (not an object, a key missing, a value of the wrong type), or None."""
    if not isinstance(raw, dict):
        return f"应为 JSON 对象，却是{_JSON_KINDS.get(type(raw), type(raw).__name__)}"
    try:
        model.model_validate(raw)
    except ValidationError as e:
        wrong = [err for err in e.errors() if err["type"] != "value_error"]  # value_error: the validators' checks
        if wrong:
            return "；".join(dict.fromkeys(_describe(err) for err in wrong[:5]))
    return None


def _describe(err: dict) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "回答"
    if err["type"] == "missing":
        return f"缺少 {where}"
    if err["type"] == "too_many_items":
        return f"{where} {err['msg']}"
    if err["type"] == "literal_error":
        return f"{where} 的取值不在允许的范围内"
    return f"{where} 的类型不对"


def _validation_reason(e: BaseException | None) -> str:
    """The validators' own (Chinese) messages, without pydantic's English framing."""
    if isinstance(e, ValidationError):
        msgs = [err["msg"].removeprefix("Value error, ") for err in e.errors()]
        if any(err["type"] == "json_invalid" for err in e.errors()):
            msgs = ["回答不是合法的 JSON"]
        return "大模型的回答多次未通过校验：" + "；".join(dict.fromkeys(msgs))[:300]
    return "大模型的回答多次未通过校验" + (f"：{str(e)[:300]}" if e is not None else "")


def answer_text(completion: Any) -> str:
    """What the model answered: its tool calls' arguments, else its message content ("" when neither)."""
    try:
        message = completion.choices[0].message
    except (AttributeError, IndexError, TypeError):
        return ""
    calls = getattr(message, "tool_calls", None) or []
    arguments = "".join(getattr(getattr(c, "function", None), "arguments", None) or "" for c in calls)
    return arguments or getattr(message, "content", None) or ""
