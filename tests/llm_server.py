"""A small OpenAI-compatible server on localhost for recording cassettes and testing the client.

It answers `POST /v1/chat/completions` with whatever its `answer` callable
returns for the request: a dict (the structured answer: sent back as a tool
call when the request offered tools, else as JSON message content), a string
(sent as message content verbatim, e.g. malformed JSON), or an `HTTPFailure`
(an error status). An optional delay imitates a slow model.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class HTTPFailure:
    status: int
    message: str = "error"
    delay_s: float = 0.0


Answer = dict | str | HTTPFailure


def completion(request: dict, answer: dict | str) -> dict:
    prompt_tokens = sum(len(str(m.get("content") or "")) for m in request.get("messages", []))
    content = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
    message: dict = {"role": "assistant", "content": content}
    if isinstance(answer, dict) and request.get("tools"):
        name = request["tools"][0]["function"]["name"]
        message = {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function", "function": {"name": name, "arguments": content}}]}
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": request.get("model", "test"),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content),
                      "total_tokens": prompt_tokens + len(content)}}


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
                if isinstance(reply, HTTPFailure):
                    time.sleep(reply.delay_s)
                    self._send(reply.status, {"error": {"message": reply.message, "type": "test"}})
                else:
                    self._send(200, completion(body, reply))

            def _send(self, status: int, payload: dict):
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
