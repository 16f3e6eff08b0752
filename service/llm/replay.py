"""Replaying recorded LLM traffic (vcrpy cassettes) instead of calling an endpoint.

`jixiao extract --engine llm --replay cassettes/` and `jixiao demo` (when no
endpoint is configured) run the real engine and client, but every HTTP
request is answered from the cassette recorded for that document
(`<dir>/<file stem>.yaml`, made by `python -m tests.record_cassettes`). A
request the cassette has no answer for is an error naming the prompt and the
section, never a silent skip.

Requests are matched on method, scheme, host, path and body; every URI is
rewritten to `REPLAY_BASE_URL` before it is recorded or matched, so neither a
local server's port nor a live endpoint's host matters. A cassette keeps, as
vcrpy metadata, the model, mode and settings it was recorded with, so replay
sends byte-identical requests. A request that timed out is stored as a
status-599 interaction marked `x-recorded-exception` and raised again as a
timeout on replay.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import vcr
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request as VcrRequest
from vcr.serializers import yamlserializer

from ..document import Document
from ..errors import JixiaoError
from ..models import Section
from ..settings import load_settings
from .client import LLMClient
from .config import Endpoint
from .engine import LLMRun, extract

REPLAY_BASE_URL = "http://llm.test/v1"
MATCH_ON = ["method", "scheme", "host", "path", "body"]
TIMEOUT_MARK = "x-recorded-exception"

# Text unique to each prompt template (prompts/*.md), to tell which one a request carries.
PROMPT_MARKS = {"score_table": "对其中的每一张评分表分别作答", "lists": "请把存在的问题和改进措施分别逐条列出",
                "facts": "请只根据这些文字，找出其中明确写出的下列事实"}
TITLE = re.compile(r"^(?:章节标题|表格标题)：(.*)$", re.M)


class MissingRecording(JixiaoError):
    """A request the cassette has no recording for: the prompt, the schema or the settings changed."""


# -- cassettes -------------------------------------------------------------------

def normalise(request):
    """One URI whatever served the recording (FakeOpenAI's port, a live endpoint); no client noise."""
    path = request.parsed_uri.path
    tail = path[path.index("/chat/completions"):] if "/chat/completions" in path else path
    request.uri = REPLAY_BASE_URL + tail
    for name in [h for h in request.headers if h.lower().startswith("x-stainless") or h.lower() == "user-agent"]:
        del request.headers[name]
    if "host" in request.headers:
        request.headers["host"] = request.parsed_uri.netloc
    return request


class ReadableYaml:
    """vcrpy's YAML, with Chinese written as characters (not \\u escapes) so a reviewer can read the answers."""

    @staticmethod
    def deserialize(text):
        return yamlserializer.deserialize(text)

    @staticmethod
    def serialize(cassette_dict):
        return yaml.dump(cassette_dict, Dumper=yamlserializer._CassetteDumper, allow_unicode=True)


def quiet_response(response):
    """Leave out the headers that change on every recording (a re-record's diff shows only real changes)."""
    for name in ("date", "server"):
        response["headers"].pop(name, None)
    return response


def use_cassette(path: Path, record_mode: str):
    recorder = vcr.VCR()
    recorder.register_serializer("readable_yaml", ReadableYaml)
    return recorder.use_cassette(str(path), record_mode=record_mode, match_on=MATCH_ON, serializer="readable_yaml",
                                 filter_headers=["authorization"], before_record_request=normalise,
                                 before_record_response=quiet_response, decode_compressed_response=True)


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


class CassetteTransport(httpx2.HTTPTransport):
    """The client's transport inside a cassette: remembers requests the cassette lacks; records timeouts.

    vcrpy patches `httpx2.HTTPTransport.handle_request`, so `super()` is the cassette. A request
    it cannot play is turned by the openai client into a connection error (and retried, then kept
    for review): `missing` keeps what it was, so the caller can fail loudly instead.
    """

    def __init__(self, cassette, recording: bool):
        super().__init__()
        self.cassette, self.recording = cassette, recording
        self.missing: list[str] = []
        self.sent = 0  # requests the engine made, whether the cassette had them or not
        self._lock = threading.Lock()

    def handle_request(self, request):
        body = request.read()
        with self._lock:
            self.sent += 1
        try:
            response = super().handle_request(request)
        except CannotOverwriteExistingCassetteException:
            with self._lock:
                self.missing.append(describe(body))
            raise
        except httpx2.TimeoutException as e:
            if self.recording:
                self.cassette.append(VcrRequest(request.method, str(request.url), body, dict(request.headers)), {
                    "status": {"code": 599, "message": "Recorded timeout"},
                    "headers": {TIMEOUT_MARK: [type(e).__name__], "content-type": ["application/json"]},
                    "body": {"string": json.dumps({"error": f"{type(e).__name__}: {e}"})}})
            raise
        if TIMEOUT_MARK in response.headers:
            response.close()
            raise httpx2.ReadTimeout(f"recorded {response.headers[TIMEOUT_MARK]}", request=request)
        return response


@dataclass
class Recording:
    """How a cassette was made: the model and the settings that shape its requests."""

    model: str
    mode: str = "tools"
    env: dict[str, str] = field(default_factory=dict)  # other JIXIAO_* settings (retries, timeout)

    def settings(self):
        return load_settings(env={"JIXIAO_MODEL": self.model, "JIXIAO_LLM_MODE": self.mode, **self.env})


def run_in_cassette(doc: Document, sections: list[Section], path: Path, *, record: Recording | None = None,
                    base_url: str = REPLAY_BASE_URL, api_key: str = "replay", sleep=lambda s: None,
                    cache=None) -> tuple[LLMRun, int]:
    """The real engine inside a cassette: recording `record` (record_mode all), else replaying (none).

    Returns the run and the number of HTTP requests it made. Replaying raises `MissingRecording`
    naming every request the cassette has no answer for.
    """
    if record is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    elif not path.exists():
        raise MissingRecording(f"没有录制文件 {path}（用 python -m tests.record_cassettes 录制）")
    with use_cassette(path, "all" if record else "none") as cassette:
        if record is not None:
            cassette.get_metadata("llm", {"model": record.model, "mode": record.mode, "env": record.env})
            how = record
        else:
            how = Recording(**cassette.get_metadata("llm", None))
        settings = how.settings()
        if record is not None:  # one request at a time: the interactions are stored in the plan's order
            settings = dataclasses.replace(settings, llm_concurrency=1)
        transport = CassetteTransport(cassette, recording=record is not None)
        with httpx2.Client(transport=transport) as http:
            client = LLMClient(Endpoint(base_url, api_key, how.model), settings, http_client=http, sleep=sleep)
            run = extract(doc, sections, client, cache=cache)
    if transport.missing:
        raise MissingRecording(f"录制文件 {path} 中没有这些请求的回答：" + "；".join(dict.fromkeys(transport.missing))
                               + "。提示词、模型或设置已改变，请重新录制（python -m tests.record_cassettes）")
    return run, transport.sent


def replay(doc: Document, sections: list[Section], path: Path, cache=None) -> LLMRun:
    """The engine's run of `doc` answered from the cassette at `path` (nothing else is reachable)."""
    return run_in_cassette(doc, sections, path, cache=cache)[0]
