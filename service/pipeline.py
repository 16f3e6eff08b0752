"""One document's run, and a batch of them: ingest -> sections -> extract -> check -> record JSON.

`run_document` is the one way a document is run, by `jixiao extract` (here, with
the store and the JSON written after), by the queue's worker (`worker.extract`)
and by `jixiao eval`. A file that fails is reported with its reason and leaves
nothing behind (no JSON, no database rows); the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from service.check.presence import check_presence
from service.check.second_look import second_look
from service.document import Document
from service.errors import JixiaoError
from service.extract.engines import Engine, RulesEngine
from service.ingest import UPLOAD_SUFFIXES, load
from service.models import Extraction, Section
from service.progress import report, reporting
from service.record import Record, to_record
from service.sections import split_sections
from service.settings import Settings
from service.store import Store

log = logging.getLogger(__name__)


@dataclass
class FileResult:
    path: Path
    ok: bool = False
    pages: int = 0
    ocr: bool = False
    fields_found: int = 0
    fields_review: int = 0
    indicators: int = 0
    error: str | None = None
    record_path: Path | None = None
    sha256: str | None = None
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)  # engine figures: LLM requests, tokens, cost


def extract_record(doc: Document, sections: list[Section], engine: Engine,
                   settings: Settings) -> tuple[Extraction, dict, Record]:
    """Run `engine` on a document: its extraction, its stats and the checked record reviewers see."""
    ex, stats = engine(doc, sections)
    record = to_record(doc, ex)
    if engine.rechecked:  # the LLM's values, re-checked by value and by the rules extractor's reading
        record = second_look(doc, sections, record, settings)
    return ex, stats, check_presence(doc.text, record, doc.ocr_confidence if doc.ocr else None)


@dataclass
class DocumentRun:
    """What one run of a document gives: the document, its sections, the engine's extraction and figures, and
    the checked record reviewers see."""

    doc: Document
    sections: list[Section]
    extraction: Extraction
    stats: dict
    record: Record


def run_document(path: Path, settings: Settings, engine: Engine, progress=None) -> DocumentRun:
    """Read `path`, split it, extract it with `engine` and check the result; `progress(text)` is told what it
    is doing (OCR page by page). Raises JixiaoError with a message for the user when the file cannot be read."""
    with reporting(progress):  # None: nobody watching
        doc = load(path, settings)
        report("提取字段与评分表")
        sections = split_sections(doc)
        ex, stats, record = extract_record(doc, sections, engine, settings)
    return DocumentRun(doc, sections, ex, stats, record)


def already_done(path: Path, store: Store | None, out_file: Path | None, engine) -> bool:
    """Resuming a batch: this file's bytes were extracted by this engine version and its record is written."""
    if store is None or out_file is None or not out_file.exists() or not path.is_file():
        return False
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return store.has_run(sha, engine.name, engine.version)


def process_file(path: Path, settings: Settings, store: Store | None, out_dir: Path | None,
                 out_name: str | None = None, engine: Engine | None = None, resume: bool = False) -> FileResult:
    result = FileResult(path=path)
    engine = engine or RulesEngine(settings)
    out_file = out_dir / (out_name or f"{path.stem}.json") if out_dir is not None else None
    if resume and already_done(path, store, out_file, engine):
        result.ok, result.record_path, result.stats = True, out_file, {"skipped": True}
        return result
    t0 = time.perf_counter()
    try:
        run = run_document(path, settings, engine)
        doc, ex, result.stats = run.doc, run.extraction, run.stats
        if store is not None:
            store.save_run(doc, run.sections, ex, {"source_path": str(path), "engine": ex.engine, **result.stats})
        if out_file is not None:
            result.record_path = write_json(out_file, run.record.json())
    except JixiaoError as e:
        result.error = str(e)
        log.info("failed %s: %s", path, e)
        return result
    except Exception as e:  # an unexpected bug must not stop the batch; say so plainly
        log.exception("unexpected error on %s", path)
        result.error = f"{path.name}：处理时发生内部错误（{type(e).__name__}: {e}），请联系维护人员"
        return result
    result.ok = True
    result.pages, result.ocr, result.sha256 = len(doc.pages), doc.ocr, doc.sha256
    result.fields_found = sum(1 for f in ex.fields.values() if f.value is not None)
    result.fields_review = ex.review_count()
    result.indicators = len(ex.indicators)
    result.seconds = time.perf_counter() - t0
    return result


def write_json(path: Path, data: dict) -> Path:
    """Write atomically: a reader never sees half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def expand_inputs(paths: Iterable[str | Path], skipped: list[Path] | None = None) -> list[Path]:
    """Files as given; a folder stands for the entries directly inside it other than folders and hidden ones
    (symlinks and special files among them are kept, so that reading refuses them by name), and other than
    files whose name says they are no report (README.md, 名单.xlsx: a suffix none of `UPLOAD_SUFFIXES`),
    which go to `skipped`. A file named on its own is always read: its content decides."""
    reports = {s for group in UPLOAD_SUFFIXES.values() for s in group}
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():  # a folder named on the command line is the user's choice, even through a link
            for x in sorted(x for x in p.iterdir() if not x.name.startswith(".")
                            and (x.is_symlink() or not x.is_dir())):
                if x.suffix and x.suffix.lower() not in reports:
                    if skipped is not None:
                        skipped.append(x)
                    continue
                out.append(x)
        else:
            out.append(p)
    return out


def output_names(paths: list[Path]) -> list[str]:
    """`<stem>.json`, or `<stem>.<ext>.json` when two inputs share a stem."""
    stems = [p.stem for p in paths]
    return [f"{p.stem}.json" if stems.count(p.stem) == 1 else f"{p.name}.json" for p in paths]


def run_batch(paths: list[Path], settings: Settings, store: Store | None, out_dir: Path | None,
              on_done: Callable[[FileResult], None] | None = None, engine: Engine | None = None,
              workers: int = 1, resume: bool = False) -> list[FileResult]:
    """Process every file; with `workers` > 1 several documents at once (the LLM waits overlap)."""
    jobs = list(zip(paths, output_names(paths), strict=True))
    if workers <= 1:
        results = []
        for path, name in jobs:
            results.append(process_file(path, settings, store, out_dir, name, engine, resume))
            if on_done:
                on_done(results[-1])
        return results
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(process_file, path, settings, store, out_dir, name, engine, resume): i
                   for i, (path, name) in enumerate(jobs)}
        done: dict[int, FileResult] = {}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            if on_done:
                on_done(done[futures[future]])
    return [done[i] for i in range(len(jobs))]
