"""Benchmarks (outside the test run): time per text report and peak memory of a batch.

    .venv/bin/python benchmarks/run.py            # or: make bench

Prints a markdown table to paste into BENCHMARKS.md. OCR speed is measured by
benchmarks/ocr_bench.py.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.extract.rules.engine import extract  # noqa: E402
from service.ingest import load  # noqa: E402
from service.pipeline import run_batch  # noqa: E402
from service.sections import split_sections  # noqa: E402
from service.settings import load_settings  # noqa: E402
from service.store import Store  # noqa: E402

SAMPLES = sorted((ROOT.parent / "shared" / "reports").glob("*.txt"))


def per_report_ms(repeat: int = 20) -> dict[str, float]:
    out = {}
    for p in SAMPLES:
        load(p), extract(load(p), split_sections(load(p)))  # warm up imports and caches
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            doc = load(p)
            extract(doc, split_sections(doc))
            times.append((time.perf_counter() - t0) * 1000)
        out[p.name] = statistics.median(times)
    return out


def batch_of_50() -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) for 50 reports through the whole pipeline, store and JSON included."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = []
        for i in range(50):
            src = SAMPLES[i % len(SAMPLES)]
            dst = tmp / f"r{i:02d}.txt"
            dst.write_text(src.read_text(encoding="utf-8") + f"\n{i}\n", encoding="utf-8")  # distinct bytes
            paths.append(dst)
        settings = load_settings(env={"JIXIAO_DB": str(tmp / "bench.db")})
        store = Store(settings.db)
        t0 = time.perf_counter()
        results = run_batch(paths, settings, store, tmp / "out")
        wall = time.perf_counter() - t0
        assert all(r.ok for r in results)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return wall, peak_mb


def main() -> None:
    ms = per_report_ms()
    wall, peak = batch_of_50()
    print("| measure | result | target |")
    print("|---|---|---|")
    for name, v in ms.items():
        print(f"| ingest + sections + rules, {name} (median of 20) | {v:.1f} ms | < 100 ms |")
    print(f"| 50-report batch, whole pipeline incl. SQLite and JSON | {wall:.2f} s ({wall / 50 * 1000:.0f} ms/report) | — |")
    print(f"| peak memory (RSS) of that batch | {peak:.0f} MB | — |")


if __name__ == "__main__":
    main()
