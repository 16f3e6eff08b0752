"""The LLM engine as a pipeline engine: one client and one thread pool for the whole batch."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from service.document import Document
from service.errors import JixiaoError
from service.extract.llm.client import LLMClient, Usage
from service.extract.llm.config import endpoint
from service.extract.llm.engine import engine_version, extract
from service.extract.llm.replay import replay
from service.models import Extraction, Section
from service.settings import Settings


class LLMEngine:
    """Callable as `engine(doc, sections) -> (extraction, stats)`; sums usage over the batch."""

    rechecked, concurrent = True, True

    def __init__(self, settings: Settings, cache=None, http_client=None):
        ep = endpoint(settings)
        if ep is None:
            raise JixiaoError("未配置大模型接口：请设置 OPENAI_BASE_URL（或 OPENAI_API_KEY）和 JIXIAO_MODEL，"
                              "或使用 --engine rules（离线规则）")
        self.settings, self.cache = settings, cache
        self.client = LLMClient(ep, settings, http_client=http_client)
        self.pool = ThreadPoolExecutor(max_workers=max(1, settings.llm_concurrency))
        self.usage = Usage()
        self.calls = 0
        self.name, self.version = "llm", engine_version(ep.model)

    def __call__(self, doc: Document, sections: list[Section]) -> tuple[Extraction, dict]:
        run = extract(doc, sections, self.client, self.settings.ocr_review_below, pool=self.pool, cache=self.cache)
        self.usage.add(run.usage)
        self.calls += run.calls
        stats = {"llm_calls": run.calls, "llm_requests": run.usage.requests,
                 "prompt_tokens": run.usage.prompt_tokens, "completion_tokens": run.usage.completion_tokens,
                 "cost": round(run.usage.cost(self.settings), 6), "llm_failures": run.failures,
                 "llm_call_log": run.call_log}
        return run.extraction, stats

    def close(self) -> None:
        self.pool.shutdown()


class ReplayEngine:
    """The LLM engine answered from recorded cassettes (`<dir>/<file stem>.yaml`): no endpoint, no key."""

    name, version = "llm", "replay"
    rechecked, concurrent = True, True  # each document gets its own transport: nothing is patched

    def __init__(self, settings: Settings, cassettes: Path):
        if not cassettes.is_dir():
            raise JixiaoError(f"找不到录制文件夹：{cassettes}")
        self.settings, self.cassettes = settings, cassettes
        self.usage, self.calls = Usage(), 0
        self.model = "replay"
        self._lock = threading.Lock()

    def __call__(self, doc: Document, sections: list[Section]) -> tuple[Extraction, dict]:
        run = replay(doc, sections, self.cassettes / f"{Path(doc.name).stem}.yaml")
        with self._lock:  # documents may be replayed at once
            self.usage.add(run.usage)
            self.calls += run.calls
            self.model = run.extraction.engine_version.split("/", 1)[0]
        return run.extraction, {"llm_calls": run.calls, "llm_requests": run.usage.requests,
                                "prompt_tokens": run.usage.prompt_tokens,
                                "completion_tokens": run.usage.completion_tokens, "replayed": True,
                                "llm_failures": run.failures}

    def close(self) -> None:
        pass
