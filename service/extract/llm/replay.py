"""Answering the LLM engine from recorded traffic (vcrpy cassettes) instead of an endpoint.

`jixiao extract --engine llm --replay cassettes/` and `jixiao demo` (when no
endpoint is configured) run the real engine and client, but every HTTP
request is answered from the cassette recorded for that document
(`<dir>/<file stem>.yaml`, made by `python -m tests.record_cassettes`). A
request the cassette has no answer for is an error naming the prompt and the
section, never a silent skip.

The cassettes are vcrpy's, and vcrpy records them and replays them in the
tests (tests/cassettes.py). Here they are read as data by `RecordedTransport`,
an httpx transport given to this one client, instead of vcrpy patching httpx
for the whole process while a cassette is open: nothing global changes, so
several documents can be replayed at once. It matches as the tests' vcrpy
does (method, path, and the body, each interaction played once): every URI
was rewritten to `REPLAY_BASE_URL` when recorded, so neither a local server's
port nor a live endpoint's host matters. A cassette keeps, as vcrpy metadata,
the model, mode and settings it was recorded with, so replay sends
byte-identical requests. A request that timed out is stored as a status-599
interaction marked `x-recorded-exception` and raised again as a timeout.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import yaml

from service.document import Document
from service.errors import JixiaoError
from service.extract.llm.client import LLMClient
from service.extract.llm.config import Endpoint
from service.extract.llm.engine import LLMRun, extract
from service.models import Section
from service.settings import load_settings

REPLAY_BASE_URL = "http://llm.test/v1"
TIMEOUT_MARK = "x-recorded-exception"
UNSENT_HEADERS = {"content-length", "content-encoding", "transfer-encoding"}  # the body is stored decoded

# Text unique to each prompt template (prompts/*.md), to tell which one a request carries.
PROMPT_MARKS = {"score_table": "对其中的每一张评分表分别作答", "lists": "请把存在的问题和改进措施分别逐条列出",
                "facts": "请只根据这些文字，找出其中明确写出的下列事实"}
TITLE = re.compile(r"^(?:章节标题|表格标题)：(.*)$", re.M)


class MissingRecording(JixiaoError):
    """A request the cassette has no recording for: the prompt, the schema or the settings changed."""


def describe(body: bytes | str | None) -> str:
    """`prompt “title” (attempt n)` of a chat request body, for error messages."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return "无法解析的请求"
    prompt, title = prompt_and_title(request)
    return f"{prompt}“{title}”（第 {assistant_turns(request) + 1} 次请求）"


def prompt_and_title(request: dict) -> tuple[str | None, str | None]:
    user = next((m.get("content") or "" for m in request.get("messages", []) if m.get("role") == "user"), "")
    if not isinstance(user, str):
        user = json.dumps(user, ensure_ascii=False)
    prompt = next((name for name, mark in PROMPT_MARKS.items() if mark in user), None)
    m = TITLE.search(user)
    return prompt, m.group(1).strip() if m else None


def assistant_turns(request: dict) -> int:
    return sum(1 for m in request.get("messages", []) if m.get("role") == "assistant")


@dataclass
class Recording:
    """How a cassette was made: the model and the settings that shape its requests."""

    model: str
    mode: str = "tools"
    env: dict[str, str] = field(default_factory=dict)  # other JIXIAO_* settings (retries, timeout)

    def settings(self):
        return load_settings(env={"JIXIAO_MODEL": self.model, "JIXIAO_LLM_MODE": self.mode, **self.env})


def _body_key(body: bytes | str | None) -> str:
    """A request body as the matcher compares it: JSON by its content, anything else as sent."""
    text = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True)
    except ValueError:
        return text


def _path(uri: str) -> str:
    path = urlsplit(uri).path
    return path[path.index("/chat/completions"):] if "/chat/completions" in path else path


class RecordedTransport(httpx2.BaseTransport):
    """The client's transport: each request answered from a cassette's interactions, each played once."""

    def __init__(self, cassette: Path):
        data = yaml.load(cassette.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        self.recording = Recording(**(data.get("metadata") or {})["llm"])
        self._answers: dict[tuple, deque] = defaultdict(deque)
        for interaction in data.get("interactions") or []:
            request = interaction["request"]
            key = (request["method"].upper(), _path(request["uri"]), _body_key(request.get("body")))
            self._answers[key].append(interaction["response"])
        self.missing: list[str] = []
        self.sent = 0  # requests the engine made, whether the cassette had them or not
        self._lock = threading.Lock()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        with self._lock:
            self.sent += 1
            queue = self._answers.get((request.method.upper(), _path(str(request.url)), _body_key(body)))
            recorded = queue.popleft() if queue else None
            if recorded is None:
                self.missing.append(describe(body))
        if recorded is None:  # the openai client retries it, then the call is kept for review; the caller fails
            raise httpx2.ConnectError("no recorded answer for this request", request=request)
        headers = [(name, value) for name, values in (recorded.get("headers") or {}).items()
                   if name.lower() not in UNSENT_HEADERS for value in values]
        if any(name.lower() == TIMEOUT_MARK for name, _ in headers):
            raise httpx2.ReadTimeout(f"recorded {dict(headers)[TIMEOUT_MARK]}", request=request)
        content = (recorded.get("body") or {}).get("string") or ""
        return httpx2.Response(recorded["status"]["code"], headers=headers, request=request,
                               content=content.encode("utf-8") if isinstance(content, str) else content)


def no_recording(path: Path) -> MissingRecording:
    return MissingRecording(f"没有录制文件 {path}（用 python -m tests.record_cassettes 录制）")


def missing_answers(path: Path, missing: list[str]) -> MissingRecording:
    """The error for requests the cassette at `path` has no answer for, each named once."""
    return MissingRecording(f"录制文件 {path} 中没有这些请求的回答：" + "；".join(dict.fromkeys(missing))
                            + "。提示词、模型或设置已改变，请重新录制（python -m tests.record_cassettes）")


def replay_run(doc: Document, sections: list[Section], path: Path, cache=None,
               sleep=lambda s: None) -> tuple[LLMRun, int]:
    """The engine's run of `doc` answered from the cassette at `path` (nothing else is reachable), and the
    number of HTTP requests it made; raises `MissingRecording` naming every request the cassette lacks."""
    if not path.exists():
        raise no_recording(path)
    transport = RecordedTransport(path)
    how = transport.recording
    with httpx2.Client(transport=transport) as http:
        client = LLMClient(Endpoint(REPLAY_BASE_URL, "replay", how.model), how.settings(), http_client=http,
                           sleep=sleep)
        run = extract(doc, sections, client, cache=cache)
    if transport.missing:
        raise missing_answers(path, transport.missing)
    return run, transport.sent


def replay(doc: Document, sections: list[Section], path: Path, cache=None) -> LLMRun:
    return replay_run(doc, sections, path, cache=cache)[0]
