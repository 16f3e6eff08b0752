"""A small OpenAI-compatible server on localhost for recording cassettes and testing the client.

It answers `POST /v1/chat/completions` with whatever its `answer` callable
returns for the request:

- a dict, or any other JSON value (list, string, number, None): the structured
  answer, sent back as a tool call's arguments when the request offered tools,
  else as JSON message content — so an answer of the wrong shape is easy to serve;
- a `str`: sent as message content verbatim (e.g. malformed JSON);
- `Verbatim(text)`: `text` exactly, as the tool call's arguments when tools were offered
  (or `tool_call=False`: as content), e.g. `Verbatim("")` for an empty answer, with
  `finish_reason="length"` for an answer the model was cut off in;
- `NoAnswer()`: a reply with no tool call and empty content;
- an `HTTPFailure`: an error status, with headers (`Retry-After`);
- a `Drip`: the answer, its first bytes sent one at a time with a pause between them.

An optional delay imitates a slow model.

`MockOpenAI` gives the same answers without a socket, a thread or a real wait,
for tests that only need the responses: an httpx MockTransport whose delays
pass on the test's fake clock. `FakeOpenAI` stays for what needs a real
endpoint (the CLI configured by environment, recording cassettes).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2


@dataclass
class HTTPFailure:
    status: int
    message: str = "error"
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Verbatim:
    """Text sent exactly as it is: the tool call's arguments (tools offered and `tool_call`), else the content."""

    text: str
    tool_call: bool = True
    finish_reason: str | None = None  # "length": the model was cut off


@dataclass
class NoAnswer:
    """A reply with neither a tool call nor any content."""


@dataclass
class Drip:
    """`answer` sent slowly: its first `drip_bytes` bytes one at a time, `every_s` apart, then the rest."""

    answer: Any
    every_s: float = 0.3
    drip_bytes: int = 20


Answer = Any  # a JSON value, str, Verbatim, NoAnswer, HTTPFailure or Drip


def completion(request: dict, answer: Any) -> dict:
    prompt_tokens = sum(len(str(m.get("content") or "")) for m in request.get("messages", []))
    message = _message(request, answer)
    content = message.get("content") or "".join(c["function"]["arguments"] for c in message.get("tool_calls", []))
    finish = getattr(answer, "finish_reason", None) or ("tool_calls" if "tool_calls" in message else "stop")
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": request.get("model", "test"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content),
                      "total_tokens": prompt_tokens + len(content)}}


def _message(request: dict, answer: Any) -> dict:
    if isinstance(answer, NoAnswer):
        return {"role": "assistant", "content": ""}
    if isinstance(answer, str):
        return {"role": "assistant", "content": answer}
    as_tool = bool(request.get("tools"))
    if isinstance(answer, Verbatim):
        text, as_tool = answer.text, as_tool and answer.tool_call
    else:
        text = json.dumps(answer, ensure_ascii=False)
    if not as_tool:
        return {"role": "assistant", "content": text}
    name = request["tools"][0]["function"]["name"]
    return {"role": "assistant", "content": None, "tool_calls": [{
        "id": "call_1", "type": "function", "function": {"name": name, "arguments": text}}]}


@dataclass
class Reply:
    """What one request is answered with, whichever transport carries it."""

    status: int
    payload: dict
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before anything is sent
    drip: Drip | None = None

    def body(self) -> bytes:
        return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")


def reply(request: dict, answer: Answer) -> Reply:
    """How `answer` (one of the kinds the module docstring lists) is sent back for `request`."""
    if isinstance(answer, HTTPFailure):
        return Reply(answer.status, {"error": {"message": answer.message, "type": "test"}}, answer.headers,
                     answer.delay_s)
    if isinstance(answer, Drip):
        return Reply(200, completion(request, answer.answer), drip=answer)
    return Reply(200, completion(request, answer))


def huge_facts(n: int) -> dict:
    """An answer of `n` facts, all well-formed: too big to be worth reading."""
    fact = {"key": "income_total", "value": 2769.17439, "unit": "万元", "quote": "决算总收入2769.17439万元"}
    return {"facts": [fact] * n}


class FakeOpenAI:
    """`with FakeOpenAI(answer) as server:` then point OPENAI_BASE_URL at `server.base_url`."""

    def __init__(self, answer: Callable[[dict], Answer], delay_s: float = 0.0):
        self.answer, self.delay_s, self.requests = answer, delay_s, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                time.sleep(outer.delay_s)
                answer = reply(body, outer.answer(body))
                try:
                    time.sleep(answer.delay_s)
                    self._send(answer)
                except OSError:  # the client gave up and closed the connection
                    pass

            def _send(self, answer: Reply):
                data = answer.body()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                drip = answer.drip
                if drip is not None:
                    for i in range(min(drip.drip_bytes, len(data))):
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                        time.sleep(drip.every_s)
                    data = data[drip.drip_bytes:]
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        # polled every 10 ms, not every 0.5 s: `shutdown` waits for the next poll
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class MockOpenAI:
    """`FakeOpenAI`'s answers in process: `LLMClient(Endpoint(server.base_url, ...), http_client=server.http_client)`.

    No time passes but on `pass_time` (a test's fake clock): a delay longer than the request's read
    timeout passes that timeout and raises `httpx2.ReadTimeout`, as a socket would; a `Drip` passes
    `every_s` before each of its slow bytes. `timeouts` keeps each request's read timeout.
    """

    base_url = "http://fake-openai.invalid/v1"

    def __init__(self, answer: Callable[[dict], Answer], delay_s: float = 0.0,
                 pass_time: Callable[[float], None] = lambda seconds: None):
        self.answer, self.delay_s, self.pass_time = answer, delay_s, pass_time
        self.requests: list[dict] = []
        self.timeouts: list[float | None] = []
        self.http_client = httpx2.Client(transport=httpx2.MockTransport(self._handle))

    def __enter__(self) -> MockOpenAI:
        return self

    def __exit__(self, *exc) -> None:
        self.http_client.close()

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content or b"{}")
        self.requests.append(body)
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        self.timeouts.append(read_timeout)

        def wait(seconds: float) -> None:
            if read_timeout is not None and seconds > read_timeout:
                self.pass_time(read_timeout)
                raise httpx2.ReadTimeout("nothing came within the read timeout", request=request)
            self.pass_time(seconds)

        answer = reply(body, self.answer(body))
        wait(self.delay_s + answer.delay_s)
        data = answer.body()
        headers = {"content-type": "application/json", "content-length": str(len(data)), **answer.headers}
        return httpx2.Response(answer.status, headers=headers, stream=_Body(data, answer.drip, wait))


class _Body(httpx2.SyncByteStream):
    """A response body as a socket gives it: all at once, or its first bytes one at a time (a `Drip`)."""

    def __init__(self, data: bytes, drip: Drip | None, wait: Callable[[float], None]):
        self.data, self.drip, self.wait = data, drip, wait

    def __iter__(self):
        slow = min(self.drip.drip_bytes, len(self.data)) if self.drip else 0
        for i in range(slow):
            self.wait(self.drip.every_s)
            yield self.data[i:i + 1]
        if self.data[slow:]:
            yield self.data[slow:]
