"""Recording and replaying the LLM engine's traffic with vcrpy: the cassettes in cassettes/.

The tests replay every cassette through vcrpy (record_mode "none"): vcrpy patches httpx while a cassette
is open, answers each request from it, and fails a request it has no recording for.
`tests.record_cassettes` records them (record_mode "all") against FakeOpenAI, the bridge or a live endpoint.
The product answers from the same files without vcrpy (service/extract/llm/replay.py, `RecordedTransport`);
tests/test_llm_replay.py checks that both give the same run.

Requests are matched on method, scheme, host, path and body; every URI is rewritten to `REPLAY_BASE_URL`
before it is recorded or matched. A request that timed out is stored as a status-599 interaction marked
`x-recorded-exception` and raised again as a timeout on replay.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx2
import vcr
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request as VcrRequest
from vcr.serializers import yamlserializer

from service.document import Document
from service.extract.llm.client import LLMClient
from service.extract.llm.config import Endpoint
from service.extract.llm.engine import LLMRun, extract
from service.extract.llm.replay import (
    REPLAY_BASE_URL,
    TIMEOUT_MARK,
    Recording,
    describe,
    missing_answers,
    no_recording,
)
from service.models import Section

MATCH_ON = ["method", "scheme", "host", "path", "body"]


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
        raise no_recording(path)
    with use_cassette(path, "all" if record else "none") as cassette:
        if record is not None:
            cassette.get_metadata("llm", {"model": record.model, "mode": record.mode, "env": record.env})
            how = record
        else:
            how = Recording(**cassette.get_metadata("llm", None))
        settings = how.settings()
        if record is not None:  # one request at a time: the interactions are stored in the plan's order
            settings = settings.replace(llm_concurrency=1)
        transport = CassetteTransport(cassette, recording=record is not None)
        with httpx2.Client(transport=transport) as http:
            client = LLMClient(Endpoint(base_url, api_key, how.model), settings, http_client=http, sleep=sleep)
            run = extract(doc, sections, client, cache=cache)
    if transport.missing:
        raise missing_answers(path, transport.missing)
    return run, transport.sent


def replay(doc: Document, sections: list[Section], path: Path, cache=None) -> LLMRun:
    """The engine's run of `doc` answered by vcrpy from the cassette at `path` (nothing else is reachable)."""
    return run_in_cassette(doc, sections, path, cache=cache)[0]
