"""The background worker: takes uploaded files off the job queue and extracts them for review.

The queue is the `jobs` table (see `service.store.workflow`), so it survives
restarts. `jixiao serve` runs a worker thread beside the web app; `jixiao
worker` runs one on its own. A job whose worker was killed is claimed again
once its lease runs out; the document is keyed by its SHA-256 and the result
is written in one transaction, so nothing is lost or duplicated.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import socket
import sqlite3
import threading
import time
from pathlib import Path

from service.errors import IngestError, JixiaoError, StoreError
from service.extract.engines import Engine, build_engine
from service.ingest import UPLOAD_SUFFIXES, check_upload
from service.ingest.detect import sniff
from service.isolate import ChildRunner, JobStopped
from service.last_year import remember
from service.page_images import cache_folder, warm
from service.pipeline import run_document
from service.review import items_from_record
from service.settings import Settings
from service.store import Store
from service.thresholds import with_calibration

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


TEXT_LANE, SCAN_LANE = "text", "scan"


def lane_of(data: bytes, name: str) -> str:
    """The lane a file is extracted in: `scan` for images and PDFs without a text layer (OCR, slow), else
    `text`. Decided from the first pages only; a file the checks refuse goes to `text` (it fails fast)."""
    try:
        kind = sniff(data, name)
    except IngestError:
        return TEXT_LANE
    if kind == "image":
        return SCAN_LANE
    if kind != "pdf":
        return TEXT_LANE
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return TEXT_LANE
    try:
        for i in range(min(3, len(pdf))):
            page = pdf[i]
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            page.close()
            if len(text.strip()) > 20:
                return TEXT_LANE
        return SCAN_LANE
    finally:
        pdf.close()


def store_upload(store: Store, uploads: Path, name: str, data: bytes, user: str) -> tuple[dict, bool]:
    """Keep an uploaded file under `uploads/<sha256>/<name>` and queue it; (job, False) for a duplicate."""
    sha = hashlib.sha256(data).hexdigest()
    existing = store.job(sha)
    if existing is not None:
        return existing, False
    path, made = _keep_file(uploads, sha, name, data)
    try:
        return store.enqueue(sha, name, str(path), len(data), user, lane_of(data, name))
    except Exception:
        _unkeep(path, made)
        raise


def _keep_file(uploads: Path, sha: str, name: str, data: bytes) -> tuple[Path, bool]:
    """Write an upload's bytes to `uploads/<sha256>/<safe name>` (via a temporary file); the path, and whether
    its folder was made now. Nothing half-written stays behind (StoreError, in Chinese, when it fails)."""
    folder = uploads / sha
    path = folder / _safe_name(name)
    tmp = folder / f".{path.name}.part"
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:  # a full disk above all
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        reason = "磁盘已满" if e.errno == errno.ENOSPC else f"{e.strerror or e}"
        raise StoreError(f"无法保存上传的文件（{reason}），该文件未加入队列") from None
    return path, made


def _unkeep(path: Path, made: bool) -> None:
    """Take back what `_keep_file` wrote: its folder when it made it, else the file alone."""
    if made:
        shutil.rmtree(path.parent, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


QUEUED, DUPLICATE, REJECTED, FAILED = "queued", "duplicate", "rejected", "failed"
NOT_REMOVABLE = "not_removable"


def submit(store: Store, uploads: Path, name: str, data: bytes, user: str, settings: Settings) -> dict:
    """Check one file the way an upload is checked and queue it: outcome, Chinese message, and the job."""
    name = upload_name(name)
    try:
        check_upload(data, name, settings)
    except IngestError as e:
        return {"name": name, "outcome": REJECTED, "message": e.reason, "job": None}
    try:
        job, created = store_upload(store, uploads, name, data, user)
    except StoreError as e:  # the rest of a batch goes on; this file says why it was not stored
        return {"name": name, "outcome": FAILED, "message": str(e), "job": None}
    if not created:
        return {"name": name, "outcome": DUPLICATE, "message": f"已上传过（{job['name']}）", "job": job}
    return {"name": name, "outcome": QUEUED, "message": "已加入处理队列", "job": job}


def upload_name(name: str) -> str:
    """The name an upload is shown under: no folders; a name too long for lists and messages is cut, its end
    (the extension) kept."""
    name = Path(name.replace("\\", "/")).name.strip() or "未命名文件"
    return name[:120] + "…" + name[-40:] if len(name) > 200 else name


# What the files of each kind we read are called: the upload page offers these (its `accept`) and its script
# refuses another name before sending. The checks above stay the authority: they decide by content.
def accepted_suffixes() -> list[str]:
    return [s for group in UPLOAD_SUFFIXES.values() for s in group]


def replace_upload(store: Store, uploads: Path, old_sha: str, name: str, data: bytes, user: str,
                   settings: Settings) -> dict:
    """A failed upload replaced by another file in one action: the new file is checked as any upload is (one
    refused leaves the failed upload as it was); then, in one transaction, the failed job goes with what it
    wrote and the new one is queued; then the old stored file is deleted. Outcome, message and job as
    `submit` says them; outcome `not_removable` when the old job is not (or no longer) failed."""
    name = upload_name(name)
    try:
        check_upload(data, name, settings)
    except IngestError as e:
        return {"name": name, "outcome": REJECTED, "message": e.reason, "job": None}
    sha = hashlib.sha256(data).hexdigest()
    existing, old = store.job(sha), store.job(old_sha)
    if old is None:
        return {"name": name, "outcome": NOT_REMOVABLE, "message": "", "job": None}
    if existing is not None and sha != old_sha:  # already here: the failed one goes, the other stays as it is
        removed = remove_upload(store, uploads, old_sha, user, settings, f"替换为已上传过的 {existing['name']}")
        if removed is None:
            return {"name": name, "outcome": NOT_REMOVABLE, "message": "", "job": None}
        return {"name": name, "outcome": DUPLICATE, "job": existing,
                "message": f"已上传过（{existing['name']}）；处理失败的 {removed['name']} 已删除"}
    path, made = _keep_file(uploads, sha, name, data)
    ours = path.resolve() != Path(old["path"]).resolve()  # the same bytes under the same name: the old file
    try:
        replaced = store.replace_job(old_sha, sha, name, str(path), len(data), user, lane_of(data, name))
    except Exception:
        if ours:
            _unkeep(path, made)
        raise
    if replaced is None:
        if ours:
            _unkeep(path, made)
        return {"name": name, "outcome": NOT_REMOVABLE, "message": "", "job": None}
    old, job = replaced
    _discard_files(store, uploads, old, settings)
    log.info("upload %s (%s) replaced by %s (%s) by %s", old_sha[:12], old["name"], sha[:12], name, user)
    return {"name": name, "outcome": QUEUED, "message": f"已替换 {old['name']}，已加入处理队列", "job": job}


def remove_upload(store: Store, uploads: Path, sha256: str, user: str, settings: Settings,
                  reason: str | None = None) -> dict | None:
    """Remove a failed upload: its job and everything written for it in one transaction (audited), then its
    stored file and rendered pages. The job as it was, or None when it is not (or no longer) failed."""
    removed = store.remove_job(sha256, user, reason)
    if removed is not None:
        _discard_files(store, uploads, removed, settings)
        log.info("upload %s (%s) removed by %s", sha256[:12], removed["name"], user)
    return removed


def _discard_files(store: Store, uploads: Path, job: dict, settings: Settings) -> None:
    """Delete a removed job's stored file (unless a job still points at it, as one replaced by the same bytes
    under the same name does; never a file outside `uploads`), its folder once empty, and its rendered pages.
    Best effort, after the database was changed: a file left behind is logged, a job is never half removed."""
    root, path = uploads.resolve(), Path(job["path"]).resolve()
    try:
        if root in path.parents and not store.upload_in_use(job["path"]):
            path.unlink(missing_ok=True)
            if path.parent != root and not any(path.parent.iterdir()):
                path.parent.rmdir()
        shutil.rmtree(cache_folder(settings.instance) / job["sha256"], ignore_errors=True)
    except OSError as e:
        log.warning("files of removed upload %s not deleted: %s", job["sha256"][:12], e)


MAX_STORED_NAME_BYTES = 120


def _safe_name(name: str) -> str:
    """The name an upload is stored under (the original is kept for display): no folders, no control or
    reserved characters, not hidden, not `.`/`..`, at most `MAX_STORED_NAME_BYTES` bytes with its extension."""
    base = Path(name.replace("\\", "/")).name.strip()
    base = "".join(ch for ch in base if ch not in '<>:"|?*/\\' and ord(ch) >= 32 and ch != "\x7f")
    base = base.lstrip(".").strip() or "upload"
    stem, dot, ext = base.rpartition(".")
    if not dot or len(ext.encode()) > 10:
        stem, ext = base, ""
    ext = f".{ext}" if ext else ""
    while len((stem + ext).encode("utf-8")) > MAX_STORED_NAME_BYTES:
        stem = stem[:-1]
    return (stem or "upload") + ext


def extract(sha256: str, path: Path, settings: Settings, engine: Engine, progress=None):
    """One job's document extracted: what `Store.complete_job` keeps (runs in the child when isolated);
    `progress(text)` is told what it is doing (OCR page by page)."""
    t0 = time.perf_counter()
    run = run_document(path, settings, engine, progress)
    items = [i.row() for i in items_from_record(run.record, len(run.doc.text))]
    meta = {"source_path": str(path), "engine": run.extraction.engine, "seconds": round(time.perf_counter() - t0, 3),
            **run.stats}
    return run.doc, run.sections, run.extraction, meta, items


class _Heartbeat(threading.Thread):
    """Renews the job's lease every `every_s` while it is worked on, and looks for a cancel every
    `CANCEL_CHECK_S`; `lost` is set when the job was cancelled or taken by another worker."""

    CANCEL_CHECK_S = 2.0

    def __init__(self, store: Store, sha256: str, worker: str, every_s: float):
        super().__init__(name=f"jixiao-heartbeat-{sha256[:8]}", daemon=True)
        self.store, self.sha256, self.worker, self.every_s = store, sha256, worker, every_s
        self.lost, self._done = threading.Event(), threading.Event()

    def run(self) -> None:
        tick = min(self.CANCEL_CHECK_S, self.every_s)
        renewed = time.monotonic()
        while not self._done.wait(tick):
            try:
                if time.monotonic() - renewed >= self.every_s - tick / 2:
                    renewed = time.monotonic()
                    if not self.store.renew_lease(self.sha256, self.worker):
                        self.lost.set()
                        return
                elif self.store.cancel_requested(self.sha256):
                    self.lost.set()
                    return
            except (JixiaoError, sqlite3.Error) as e:  # a busy database: try again at the next beat
                log.warning("lease of %s not renewed: %s", self.sha256[:12], e)

    def finish(self) -> None:
        self._done.set()
        self.join(timeout=5)


def process_next(store: Store, settings: Settings, engine: Engine | None = None,
                 worker: str | None = None, lanes: tuple[str, ...] | None = None,
                 runner: ChildRunner | None = None) -> dict | None:
    """Claim one job of `lanes` and extract it (in `runner`'s child process when given, else here with
    `engine`, by default the one the settings ask for); the job (after), or None when the queue is empty."""
    worker = worker or worker_id()
    job = store.claim_job(worker, settings.job_lease_s, settings.job_max_attempts, lanes)
    if job is None:
        return None
    sha, name = job["sha256"], job["name"]
    beat = _Heartbeat(store, sha, worker, max(0.5, settings.job_lease_s / 3))
    beat.start()
    try:
        applied = store.applied_thresholds()  # what an admin applied on the 校准 page, as of now
        if runner is not None:
            doc, sections, ex, meta, items = runner.run(sha, job["path"], name, beat.lost, applied)
        else:
            calibrated = with_calibration(settings, applied)
            own = engine is None
            engine = build_engine(settings, cache=store) if own else engine
            try:
                doc, sections, ex, meta, items = extract(sha, Path(job["path"]), calibrated, engine,
                                                         progress=lambda text: store.set_progress(sha, text))
            finally:
                if own:
                    engine.close()
        beat.finish()
        if store.cancel_requested(sha):
            raise JobStopped(f"{name}：任务已取消")
        store.complete_job(sha, worker, doc, sections, ex, meta, items)
        remember(store, sha)  # its statements of last year's figures, read once for the review page and 总览
        if doc.ocr:  # the reviewer's page images, ready before anyone opens the report
            warm(Path(job["path"]), sha, [p.number for p in doc.pages if p.ocr], settings.ocr_dpi,
                 cache_folder(settings.instance))
    except JobStopped as e:
        beat.finish()
        if store.cancel_requested(sha):
            store.end_cancelled(sha, worker, f"{name}：任务已由操作员取消")
        else:
            log.info("job %s is no longer ours: %s", sha[:12], e)
    except JixiaoError as e:
        beat.finish()
        log.info("job %s failed: %s", sha[:12], e)
        _fail(store, sha, worker, str(e))
    except Exception as e:  # a bug must not stop the worker; the operator sees why and can retry
        beat.finish()
        log.exception("job %s failed unexpectedly", sha[:12])
        _fail(store, sha, worker, f"{name}：处理时发生内部错误（{type(e).__name__}: {e}），请联系维护人员")
    return store.job(sha)


def _fail(store: Store, sha: str, worker: str, error: str) -> None:
    """Mark the job failed; when even that cannot be written (a full disk), leave it: its lease runs out and
    it is tried again, up to job_max_attempts."""
    try:
        store.fail_job(sha, worker, error)
    except StoreError as e:
        log.error("job %s: could not record its failure (%s): %s", sha[:12], error, e)


def run_worker(store: Store, settings: Settings, engine: Engine | None = None,
               stop: threading.Event | None = None, poll_s: float = 1.0, until_empty: bool = False,
               lanes: tuple[str, ...] | None = None, isolate: bool = False) -> int:
    """Process jobs of `lanes` until `stop` is set (or, with `until_empty`, until none is queued); jobs
    processed. With `isolate`, each document is extracted in a child process under the job limits."""
    stop = stop or threading.Event()
    worker, done = worker_id(), 0
    runner = ChildRunner(settings) if isolate else None
    own = engine is None and runner is None
    engine = build_engine(settings, cache=store) if own else engine
    try:
        while not stop.is_set():
            try:
                if process_next(store, settings, engine, worker, lanes, runner) is not None:
                    done += 1
                    continue
            except StoreError as e:  # the database cannot be written now (full disk): wait, then go on
                log.error("worker %s: %s", worker, e)
            if until_empty:
                break
            stop.wait(poll_s)
    finally:
        if runner is not None:
            runner.close()
        if own:
            engine.close()
    return done


def lanes_of(settings: Settings) -> list[tuple[str, ...] | None]:
    """The lanes `jixiao serve` gives a worker each (`lanes` setting); [None] (one worker, every lane) when
    the setting names fewer than two."""
    named = tuple(dict.fromkeys(x.strip() for x in settings.lanes.split(",") if x.strip()))
    unknown = set(named) - {TEXT_LANE, SCAN_LANE}
    if unknown:
        raise JixiaoError(f"配置项 lanes 中有未知的处理通道：{'、'.join(sorted(unknown))}（可用：text、scan）")
    return [(lane,) for lane in named] if len(named) > 1 else [None]


def start_worker_thread(db_path: str, settings: Settings, engine: Engine | None = None,
                        lanes: tuple[str, ...] | None = None, isolate: bool = False) -> threading.Event:
    """A daemon thread working the queue (`lanes` of it) with its own connection; set the event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        store = Store(db_path)
        try:
            run_worker(store, settings, engine, stop, lanes=lanes, isolate=isolate)
        finally:
            store.close()

    label = "-".join(lanes) if lanes else "all"
    threading.Thread(target=loop, name=f"jixiao-worker-{label}", daemon=True).start()
    return stop
