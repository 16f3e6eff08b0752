"""The background worker: takes uploaded files off the job queue and extracts them for review.

The queue is the `jobs` table (see `service.store.workflow`), so it survives
restarts. `jixiao serve` runs a worker thread beside the web app; `jixiao
worker` runs one on its own. A job whose worker was killed is claimed again
once its lease runs out; the document is keyed by its SHA-256 and the result
is written in one transaction, so nothing is lost or duplicated.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

from .errors import IngestError, JixiaoError
from .ingest import check_upload, load
from .pipeline import Engine, RulesEngine, extract_record
from .review import items_from_record, summary
from .sections import split_sections
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def store_upload(store: Store, uploads: Path, name: str, data: bytes, user: str) -> tuple[dict, bool]:
    """Keep an uploaded file under `uploads/<sha256>/<name>` and queue it; (job, False) for a duplicate."""
    sha = hashlib.sha256(data).hexdigest()
    existing = store.job(sha)
    if existing is not None:
        return existing, False
    folder = uploads / sha
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_name(name)
    tmp = folder / f".{path.name}.part"
    tmp.write_bytes(data)
    os.replace(tmp, path)
    try:
        return store.enqueue(sha, name, str(path), len(data), user)
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise


QUEUED, DUPLICATE, REJECTED = "queued", "duplicate", "rejected"


def submit(store: Store, uploads: Path, name: str, data: bytes, user: str, settings: Settings) -> dict:
    """Check one file the way an upload is checked and queue it: outcome, Chinese message, and the job."""
    name = Path(name.replace("\\", "/")).name or "未命名文件"
    try:
        check_upload(data, name, settings)
    except IngestError as e:
        return {"name": name, "outcome": REJECTED, "message": e.reason, "job": None}
    job, created = store_upload(store, uploads, name, data, user)
    if not created:
        return {"name": name, "outcome": DUPLICATE, "message": f"已上传过（{job['name']}）", "job": job}
    return {"name": name, "outcome": QUEUED, "message": "已加入处理队列", "job": job}


def _safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name.strip() or "upload"
    return "".join(ch for ch in base if ch not in '<>:"|?*\x00') or "upload"


def process_next(store: Store, settings: Settings, engine: Engine | None = None,
                 worker: str | None = None) -> dict | None:
    """Claim one job and extract it; the job (after), or None when the queue is empty."""
    worker = worker or worker_id()
    job = store.claim_job(worker, settings.job_lease_s)
    if job is None:
        return None
    engine = engine or RulesEngine(settings)
    t0 = time.perf_counter()
    try:
        doc = load(Path(job["path"]), settings)
        sections = split_sections(doc)
        ex, stats, record = extract_record(doc, sections, engine, settings)
        items = [i.row() for i in items_from_record(record)]
        meta = {"source_path": job["path"], "engine": ex.engine, "seconds": round(time.perf_counter() - t0, 3),
                **stats}
        store.complete_job(job["sha256"], worker, doc, sections, ex, meta, items, summary(items))
    except JixiaoError as e:
        log.info("job %s failed: %s", job["sha256"][:12], e)
        store.fail_job(job["sha256"], worker, str(e))
    except Exception as e:  # a bug must not stop the worker; the operator sees why and can retry
        log.exception("job %s failed unexpectedly", job["sha256"][:12])
        store.fail_job(job["sha256"], worker, f"{job['name']}：处理时发生内部错误（{type(e).__name__}: {e}），"
                                              "请联系维护人员")
    return store.job(job["sha256"])


def run_worker(store: Store, settings: Settings, engine: Engine | None = None,
               stop: threading.Event | None = None, poll_s: float = 1.0, until_empty: bool = False) -> int:
    """Process jobs until `stop` is set (or, with `until_empty`, until none is queued); jobs processed."""
    stop = stop or threading.Event()
    worker, done = worker_id(), 0
    while not stop.is_set():
        if process_next(store, settings, engine, worker) is not None:
            done += 1
            continue
        if until_empty:
            break
        stop.wait(poll_s)
    return done


def start_worker_thread(db_path: str, settings: Settings, engine: Engine | None = None) -> threading.Event:
    """A daemon thread working the queue with its own connection; set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        store = Store(db_path)
        try:
            run_worker(store, settings, engine, stop)
        finally:
            store.close()

    threading.Thread(target=loop, name="jixiao-worker", daemon=True).start()
    return stop
