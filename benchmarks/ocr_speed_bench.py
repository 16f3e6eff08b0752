"""OCR speed and accuracy: jixiao vs rapidocr alone, the full vs the fast models, and 1/2/4 OCR processes.

Pages: every page of the five sample reports rendered at 200 dpi, clean and
degraded (`benchmarks/ocr_pages.py`: noise, blur, JPEG, low contrast,
rotation), each scored against the text drawn on it (`tests.scans.cer`).
Timings are paired, never single runs: other work shares the machine.

    .venv/bin/python benchmarks/ocr_speed_bench.py configs [--pages N]
        Every page through each configuration back to back, the order turning
        from page to page (A B C, B C A, ...). Prints per configuration the
        median s/page, the median per-page ratio to jixiao full (and its
        interquartile range), and the CER on the clean and degraded sets.
    .venv/bin/python benchmarks/ocr_speed_bench.py processes [--rounds 3] [--pages 20]
        The first 20 degraded pages shared among 1, 2 and 4 OCR processes
        (spawned, models loaded and warmed before the clock starts), threads
        as `ocr_threads = 0` gives (cores / processes) and as before (every
        process on all cores); the variants interleaved round by round. Prints
        pages/min, median and range, and each variant's median ratio to one
        process.
    .venv/bin/python benchmarks/ocr_speed_bench.py overhead [--pages 8]
        jixiao full against rapidocr alone (the same engine object) on each page,
        twice, the order swapped each time: the median ratio, clean and degraded.
    .venv/bin/python benchmarks/ocr_speed_bench.py sweep [--pages N]
        The fast model's fallback threshold: every line read by both models
        (same crops), the mix of the two at each threshold scored by CER and by
        the share of lines read twice.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ocr_pages import PROFILES, pages  # noqa: E402
from service.document import DocumentBuilder  # noqa: E402
from service.ingest import ocr  # noqa: E402
from service.ingest.ocr_models import build_engine, openvino_installed  # noqa: E402
from service.settings import load_settings  # noqa: E402
from tests.scans import _normalize, edit_distance  # noqa: E402


def jixiao_text(image: Image.Image, settings) -> str:
    builder = DocumentBuilder()
    ocr.ocr_image(image, 1, builder, settings)
    return builder.build("bench", "", "image").text


def rapidocr_text(engine, image: Image.Image) -> str:
    """rapidocr alone, with jixiao's parameters, on the page as it is (no deskew, no layout)."""
    result = engine(cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR), return_word_box=True)
    return "\n".join(result.txts) if result is not None and getattr(result, "txts", None) else ""


class Score:
    """Edit distance and reference characters, added up per set ("clean", "degraded", a damage's name)."""

    def __init__(self):
        self.errors: dict[str, int] = {}
        self.chars: dict[str, int] = {}

    def add(self, kinds: str | tuple[str, ...], reference: str, hypothesis: str) -> None:
        ref = _normalize(reference)
        errors = edit_distance(ref, _normalize(hypothesis))
        for kind in (kinds,) if isinstance(kinds, str) else kinds:
            self.errors[kind] = self.errors.get(kind, 0) + errors
            self.chars[kind] = self.chars.get(kind, 0) + len(ref)

    def cer(self, kind: str) -> float:
        return self.errors.get(kind, 0) / max(self.chars.get(kind, 0), 1)


def configs(args) -> None:
    settings = load_settings(env={})
    threads = ocr.ocr_threads(settings)
    full = build_engine("full", threads, ocr.PARAMS)
    variants = {  # name -> (ocr_mode, engine); None: rapidocr alone on the full engine
        "rapidocr alone (full models)": None,
        "jixiao full": ("full", full),
        "jixiao fast, detection on onnxruntime": ("fast", build_engine("fast", threads, ocr.PARAMS,
                                                                        det_runtime="onnxruntime")),
    }
    if openvino_installed():
        variants["jixiao fast, detection on OpenVINO"] = ("fast", build_engine("fast", threads, ocr.PARAMS,
                                                                               det_runtime="openvino"))
    names = list(variants)

    def run(name: str, image: Image.Image) -> str:
        if variants[name] is None:
            return rapidocr_text(full, image)
        mode, engine = variants[name]
        ocr._engines[(mode, threads)] = engine
        return jixiao_text(image, settings.replace(ocr_mode=mode))

    work = [(p, kind) for p in pages()[: args.pages] for kind in ("clean", "degraded")]
    first = Image.open(work[0][0].clean)
    for name in names:  # models load on first use: not timed
        run(name, first)
    times = {n: [] for n in names}
    scores = {n: Score() for n in names}
    for k, (page, kind) in enumerate(work):
        image = Image.open(page.clean if kind == "clean" else page.degraded).convert("RGB")
        for name in names[k % len(names):] + names[: k % len(names)]:
            t0 = time.perf_counter()
            text = run(name, image)
            times[name].append(time.perf_counter() - t0)
            scores[name].add((kind, page.profile) if kind == "degraded" else kind, page.text, text)
        print(f"{k + 1}/{len(work)} {page.name} {kind}", file=sys.stderr, flush=True)
    base = times["jixiao full"]
    print(f"{len(work)} pages ({len(work) // 2} clean, {len(work) // 2} degraded), 200 dpi, {threads} threads, "
          f"{os.cpu_count()} cores\n")
    print("| configuration | median s/page | pages/min | per-page time ÷ jixiao full: median (IQR) | "
          "CER clean | CER degraded |")
    print("|---|---|---|---|---|---|")
    for name in names:
        ratios = [a / b for a, b in zip(times[name], base, strict=True)]
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        med = statistics.median(times[name])
        print(f"| {name} | {med:.2f} | {60 / med:.1f} | {statistics.median(ratios):.3f} ({q1:.3f}–{q3:.3f}) "
              f"| {scores[name].cer('clean'):.4f} | {scores[name].cer('degraded'):.4f} |")
    for name in names:
        engine = variants[name][1] if variants[name] else None
        if engine is not None and hasattr(engine, "reread"):
            print(f"\n{name}: {engine.reread} of {engine.lines} lines read again by the full model "
                  f"({100 * engine.reread / max(engine.lines, 1):.1f} %), {engine.replaced} readings replaced")
    profiles = sorted({page.profile for page, _ in work}, key=list(PROFILES).index)
    print("\nCER of the degraded pages by damage (pages):")
    counts = {p: sum(1 for page, _ in work if page.profile == p) // 2 for p in profiles}
    print("| configuration | " + " | ".join(f"{p} ({counts[p]})" for p in profiles) + " |")
    print("|---|" + "---|" * len(profiles))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{scores[name].cer(p):.4f}" for p in profiles) + " |")


def overhead(args) -> None:
    settings = load_settings(env={})
    work = pages()[: args.pages]
    jixiao_text(Image.open(work[0].clean).convert("RGB"), settings)
    engine = ocr._get_engine(settings)
    ratios: dict[str, list[float]] = {"clean": [], "degraded": []}
    for i, page in enumerate(work):
        for kind in ratios:
            image = Image.open(page.clean if kind == "clean" else page.degraded).convert("RGB")
            for rep in range(2):
                t = {}
                for who in ("rapidocr", "jixiao") if (i + rep) % 2 == 0 else ("jixiao", "rapidocr"):
                    t0 = time.perf_counter()
                    rapidocr_text(engine, image) if who == "rapidocr" else jixiao_text(image, settings)
                    t[who] = time.perf_counter() - t0
                ratios[kind].append(t["jixiao"] / t["rapidocr"])
    print("| pages | jixiao ÷ rapidocr alone, median (IQR) | pairs |")
    print("|---|---|---|")
    for kind, values in ratios.items():
        q1, med, q3 = statistics.quantiles(values, n=4)
        print(f"| {kind} | {statistics.median(values):.3f} ({q1:.3f}–{q3:.3f}) | {len(values)} |")


def _worker(settings_kw: dict, paths: list[str], barrier, out) -> None:
    settings = load_settings(env={}, **settings_kw)
    jixiao_text(Image.open(paths[0]).convert("RGB"), settings)  # load and warm the models
    images = [Image.open(p).convert("RGB") for p in paths]
    barrier.wait()
    t0 = time.perf_counter()
    for image in images:
        jixiao_text(image, settings)
    out.put((t0, time.perf_counter()))


def run_processes(n: int, paths: list[str], threads: int) -> float:
    """Wall seconds for n spawned OCR processes to read `paths` between them (page i to process i % n)."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(n + 1), ctx.Queue()
    kw = {"worker_processes": n, "ocr_threads": threads}
    procs = [ctx.Process(target=_worker, args=(kw, paths[i::n], barrier, out)) for i in range(n)]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    ends = [out.get()[1] for _ in procs]
    for p in procs:
        p.join()
    return max(ends) - start


def processes(args) -> None:
    paths = [str(p.degraded) for p in pages()[: args.pages]]
    cores = os.cpu_count() or 1
    variants = [(1, 0), (2, 0), (4, 0), (2, cores), (4, cores)]  # (processes, ocr_threads; 0 = auto)
    walls: dict[tuple[int, int], list[float]] = {v: [] for v in variants}
    for r in range(args.rounds):
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        for v in order:
            walls[v].append(run_processes(v[0], paths, v[1]))
            print(f"round {r + 1}: {v} {walls[v][-1]:.1f} s", file=sys.stderr, flush=True)
    one = walls[(1, 0)]
    print(f"{len(paths)} degraded pages, {cores} cores, {args.rounds} rounds (variants interleaved)\n")
    print("| OCR processes | threads each | pages/min, median (range) | ÷ one process, median of rounds |")
    print("|---|---|---|---|")
    for v in variants:
        n, t = v
        rates = [60 * len(paths) / w for w in walls[v]]
        ratio = statistics.median(o / w for o, w in zip(one, walls[v], strict=True))
        threads = f"{max(1, cores // n)} (auto)" if t == 0 else f"{t} (as before: all cores)"
        print(f"| {n} | {threads} | {statistics.median(rates):.1f} ({min(rates):.1f}–{max(rates):.1f}) "
              f"| {ratio:.2f}× |")


def sweep(args) -> None:
    """Read every line with both models, then score the fallback at several thresholds."""
    from rapidocr.utils.process_img import get_rotate_crop_image

    threads = ocr.ocr_threads(load_settings(env={}))
    fast = build_engine("fast", threads, ocr.PARAMS, det_runtime="onnxruntime")
    full = fast.full
    rows = []  # (kind, reference, [(tiny text, tiny score, full text, full score) per line])
    for page in pages()[: args.pages]:
        for kind in ("clean", "degraded"):
            arr, _ = ocr.prepare(Image.open(page.clean if kind == "clean" else page.degraded))
            boxes = fast(arr, use_rec=False).boxes
            if boxes is None:
                continue
            order = sorted(range(len(boxes)), key=lambda i: (round(float(boxes[i][0][1]) / 25), boxes[i][0][0]))
            crops = [get_rotate_crop_image(arr, copy.deepcopy(boxes[i])) for i in order]
            a = RecOnly.read(fast, crops)
            b = RecOnly.read(full, crops)
            rows.append((kind, page.text, list(zip(a.txts, a.scores, b.txts, b.scores, strict=True))))
            print(f"{page.name} {kind}", file=sys.stderr, flush=True)
    print("| fallback below | lines read twice | CER clean | CER degraded |")
    print("|---|---|---|---|")
    for below in (0.0, 0.8, 0.9, 0.93, 0.95, 0.97, 0.98, 1.01):
        score, twice, lines = Score(), 0, 0
        for kind, ref, line_list in rows:
            hyp = []
            for ta, sa, tb, sb in line_list:
                lines += 1
                if sa < below:
                    twice += 1
                    hyp.append(tb if sb > sa else ta)
                else:
                    hyp.append(ta)
            score.add(kind, ref, "\n".join(hyp))
        label = "never (tiny only)" if below == 0 else "always (better of both)" if below > 1 else f"{below:.2f}"
        print(f"| {label} | {100 * twice / max(lines, 1):.1f} % | {score.cer('clean'):.4f} | "
              f"{score.cer('degraded'):.4f} |")
    score = Score()
    for kind, ref, line_list in rows:
        score.add(kind, ref, "\n".join(tb for _, _, tb, _ in line_list))
    print(f"| full model only | — | {score.cer('clean'):.4f} | {score.cer('degraded'):.4f} |")


class RecOnly:
    @staticmethod
    def read(engine, crops):
        """The plain recogniser of `engine` (rapidocr's, without FallbackOCR's second look)."""
        from rapidocr.ch_ppocr_rec import TextRecInput

        return engine._load_rec_model()(TextRecInput(img=crops, return_word_box=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("configs")
    c.add_argument("--pages", type=int, default=1000)
    p = sub.add_parser("processes")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pages", type=int, default=20)
    o = sub.add_parser("overhead")
    o.add_argument("--pages", type=int, default=8)
    s = sub.add_parser("sweep")
    s.add_argument("--pages", type=int, default=1000)
    args = parser.parse_args()
    {"configs": configs, "processes": processes, "overhead": overhead, "sweep": sweep}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
