"""LLM engine benchmarks against a local OpenAI-compatible server (no network, no key).

    .venv/bin/python benchmarks/llm_bench.py            # all three
    .venv/bin/python benchmarks/llm_bench.py tokens     # one of: tokens, overhead, batch

tokens    request size of the section-wise design vs one call with the whole document
prefix    share of each request that is the same for every request of its kind (tools + instructions): what
          providers' prompt caching can serve from cache
overhead  pipeline time per report excluding the LLM's wait (zero-latency server; and all answers cached)
batch     wall time of 50 reports when every request takes 1 s, at concurrency 1 and 8
reasks    tokens per report in the recorded answers (cassettes/), first asks and re-asks apart: the prompt and
          completion tokens each recorded response reports (`usage`)
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
logging.getLogger("instructor").setLevel(logging.CRITICAL)

from service.extract.llm import prompts  # noqa: E402
from service.extract.llm.client import LLMClient  # noqa: E402
from service.extract.llm.config import Endpoint  # noqa: E402
from service.extract.llm.engine import extract  # noqa: E402
from service.extract.llm.runner import LLMEngine  # noqa: E402
from service.extract.llm.schema import ListsModel, ScoreTableModel, SectionFacts  # noqa: E402
from service.fields import FIELDS  # noqa: E402
from service.ingest import load  # noqa: E402
from service.pipeline import run_batch  # noqa: E402
from service.sections import split_sections  # noqa: E402
from service.settings import load_settings  # noqa: E402
from service.store import Store  # noqa: E402
from tests.llm_server import FakeOpenAI  # noqa: E402

SAMPLES = sorted((ROOT.parent / "shared" / "reports").glob("*.txt"))
NEW_LAYOUTS = sorted((ROOT / "tests" / "data" / "new_layouts").glob("*.txt"))
REAL = sorted((ROOT.parent / "shared" / "real" / "raw").glob("*.txt"))


def empty_answer(request: dict) -> dict:
    """A valid answer that states nothing: the server side of these benchmarks costs nothing."""
    text = json.dumps(request, ensure_ascii=False)
    if "WholeReport" in text:
        return {"facts": {"facts": []}, "tables": [], "lists": {"problems": [], "measures": []}}
    if "ScoreTablesModel" in text:
        return {"tables": [], "facts": []}
    if "改进措施（建议）" in text:
        return {"problems": [], "measures": []}
    return {"facts": []}


def client_for(server, **env) -> LLMClient:
    return LLMClient(Endpoint(server.base_url, "bench", "bench-model"), load_settings(env=env))


def tokens() -> None:
    class WholeReport(BaseModel):
        facts: SectionFacts = Field(description="全文写明的事实")
        tables: list[ScoreTableModel] = Field(default_factory=list, description="全部评分表")
        lists: ListsModel = Field(description="存在的问题和改进措施")

    print("| report | section-wise requests | section-wise chars | whole-document chars | ratio |")
    print("|---|---|---|---|---|")
    totals = [0, 0]
    for path in SAMPLES + NEW_LAYOUTS + REAL:
        doc = load(path)
        sections = split_sections(doc)
        with FakeOpenAI(empty_answer) as server:
            extract(doc, sections, client_for(server))
            split = sum(len(json.dumps(r, ensure_ascii=False)) for r in server.requests)
            n = len(server.requests)  # one request per call: every empty answer is valid, nothing is re-asked
        whole_prompt = "\n\n".join(
            prompts.render(name, document_name=doc.name, section_title="全文", section_text=text,
                           fields=[f.key for f in FIELDS] if name == "facts" else None).text
            for name, text in (("facts", doc.text), ("score_table", ""), ("lists", "")))
        with FakeOpenAI(empty_answer) as server:
            client_for(server).structured(whole_prompt, WholeReport, {"section": doc.text})
            whole = sum(len(json.dumps(r, ensure_ascii=False)) for r in server.requests)
        totals[0] += split
        totals[1] += whole
        print(f"| {path.stem} | {n} | {split} | {whole} | {split / whole:.2f} |")
    print(f"| all | | {totals[0]} | {totals[1]} | {totals[0] / totals[1]:.2f} |")


def prefix() -> None:
    """Per prompt kind (its tool), the characters every request of that kind starts with (the tool's schema,
    then the instructions), against each request's whole size."""
    import os

    kinds: dict[str, list[str]] = {}
    for path in SAMPLES + NEW_LAYOUTS + REAL:
        doc = load(path)
        with FakeOpenAI(empty_answer) as server:
            extract(doc, split_sections(doc), client_for(server))
            for r in server.requests:
                tool = r["tools"][0]["function"]["name"] if r.get("tools") else "json"
                schema = json.dumps(r.get("tools"), ensure_ascii=False, sort_keys=True)
                kinds.setdefault(tool, []).append(schema + "".join(m["content"] or "" for m in r["messages"]))
    print("| request kind | requests | identical prefix, chars | mean request, chars | cacheable share |")
    print("|---|---|---|---|---|")
    shared_all = total_all = 0
    for tool, texts in sorted(kinds.items()):
        shared = len(os.path.commonprefix(texts))
        mean = sum(map(len, texts)) / len(texts)
        shared_all += shared * len(texts)
        total_all += sum(map(len, texts))
        print(f"| {tool} | {len(texts)} | {shared} | {mean:.0f} | {shared / mean:.0%} |")
    print(f"| all | {sum(map(len, kinds.values()))} | | | {shared_all / total_all:.0%} |")


def overhead() -> None:
    docs = [(load(p), None) for p in SAMPLES]
    docs = [(d, split_sections(d)) for d, _ in docs]
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(empty_answer) as server, \
            ThreadPoolExecutor(max_workers=4) as pool:
        store = Store(str(Path(tmp) / "b.db"))
        client = client_for(server)
        extract(*docs[0], client, pool=pool)  # warm up: one client per worker thread, imports
        live, cached = [], []
        for doc, sections in docs:
            t0 = time.perf_counter()
            extract(doc, sections, client, cache=store, pool=pool)
            live.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            extract(doc, sections, client, cache=store, pool=pool)
            cached.append(time.perf_counter() - t0)
    print(f"| zero-latency local server, incl. HTTP on loopback | {statistics.mean(live) * 1000:.0f} ms/report |")
    print(f"| every answer from the cache (no HTTP) | {statistics.mean(cached) * 1000:.0f} ms/report |")


def batch(n_reports: int = 50) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = []
        for i in range(n_reports):
            p = tmp / f"r{i:02d}.txt"
            p.write_text(SAMPLES[i % len(SAMPLES)].read_text(encoding="utf-8") + f"\n{i}\n", encoding="utf-8")
            paths.append(p)
        print("| concurrency | requests | wall time | speed-up |")
        print("|---|---|---|---|")
        base = None
        for conc in (1, 8):
            with FakeOpenAI(empty_answer, delay_s=1.0) as server:
                env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "bench", "JIXIAO_MODEL": "bench-model",
                       "JIXIAO_LLM_CONCURRENCY": str(conc), "JIXIAO_DB": str(tmp / f"c{conc}.db")}
                settings = load_settings(env=env)
                import os

                os.environ.update({k: v for k, v in env.items() if k.startswith("OPENAI")})
                engine = LLMEngine(settings, cache=None)
                t0 = time.perf_counter()
                results = run_batch(paths, settings, None, None, engine=engine, workers=conc)
                wall = time.perf_counter() - t0
                engine.close()
                assert all(r.ok for r in results)
                base = base or wall
                print(f"| {conc} | {len(server.requests)} | {wall:.1f} s | {base / wall:.1f}x |")


def reasks() -> None:
    """A re-ask is a request that carries the model's earlier answer (an assistant or tool message) back
    with the validation errors (instructor's re-ask)."""
    import yaml

    print("| cassettes | reports | requests (re-asks) | prompt tokens per report | completion tokens per report "
          "| re-asks' share of all tokens |")
    print("|---|---|---|---|---|---|")
    sets = {"samples": sorted((ROOT / "cassettes").glob("*.yaml")),
            "new layouts": sorted((ROOT / "cassettes" / "new_layouts").glob("*.yaml")),
            "fault scenarios (hand-written)": sorted((ROOT / "cassettes" / "failures").glob("*.yaml"))}
    for name, paths in sets.items():
        requests = reasked = prompt = completion = reask_tokens = 0
        for path in paths:
            for hit in yaml.safe_load(path.read_text())["interactions"]:
                body = json.loads(hit["request"]["body"])
                again = any(m["role"] in ("assistant", "tool") for m in body["messages"])
                try:
                    usage = json.loads(hit["response"]["body"]["string"]).get("usage") or {}
                except (TypeError, ValueError):  # an error page (500, 429) has no usage
                    usage = {}
                tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
                requests, reasked = requests + 1, reasked + again
                prompt += usage.get("prompt_tokens", 0)
                completion += usage.get("completion_tokens", 0)
                reask_tokens += tokens if again else 0
        n = len(paths)
        share = reask_tokens / (prompt + completion) if prompt + completion else 0
        print(f"| {name} | {n} | {requests} ({reasked}) | {prompt / n:.0f} | {completion / n:.0f} | {share:.0%} |")


if __name__ == "__main__":
    which = sys.argv[1:] or ["tokens", "overhead", "batch"]
    for name in which:
        print(f"\n## {name}\n")
        globals()[name]()
