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
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
                reply = outer.answer(body)
                try:
                    if isinstance(reply, HTTPFailure):
                        time.sleep(reply.delay_s)
                        self._send(reply.status, {"error": {"message": reply.message, "type": "test"}},
                                   reply.headers)
                    elif isinstance(reply, Drip):
                        self._send(200, completion(body, reply.answer), drip=reply)
                    else:
                        self._send(200, completion(body, reply))
                except OSError:  # the client gave up and closed the connection
                    pass

            def _send(self, status: int, payload: dict, headers: dict | None = None, drip: Drip | None = None):
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
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
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
