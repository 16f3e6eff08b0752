"""One document's extraction in a child process, with a memory and a time limit.

A poison file (a decompression bomb that slipped past the checks, a PDF that
sends a parser into a loop, an OCR run that eats the machine) must kill only
the process working on it, never the web app or the queue behind it. The
worker hands each job to one long-lived child (spawned, so it shares no
locks or threads with the web app; reused across jobs, so the libraries load
once). The child runs under `RLIMIT_AS` = `job_memory_mb`; the parent waits
at most `job_timeout_s`, renewing nothing itself (the worker's heartbeat
does), and kills the child when the time is up, when the job was cancelled,
or when its lease was lost. A killed or crashed child is replaced for the
next job.

concurrent.futures' ProcessPoolExecutor gives the child, its reuse and the
broken-pool signal; what it lacks (a memory limit, killing a running task) is
the little written here.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from service.errors import JixiaoError
from service.settings import Settings
from service.thresholds import with_calibration

log = logging.getLogger(__name__)

POLL_S = 0.25
TASKS_PER_CHILD = 50  # a fresh child now and then: memory a long run fragments is given back


class JobStopped(JixiaoError):
    """The job was cancelled by an operator, or is no longer this worker's: nothing is written."""


def _limit_memory(memory_mb: int) -> None:
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


_ENGINE = {}  # the child's engine, built once per (engine, model) setting


def _engine(settings: Settings):
    """The child's engine for these settings, with its own connection to the store as the answer cache (so a
    document extracted again, or a retried job, asks the model only what it has not answered yet)."""
    from service.extract.engines import build_engine
    from service.extract.llm.config import resolve_engine
    from service.store import Store

    key = (resolve_engine(settings), settings.model, settings.db)
    if key not in _ENGINE:
        _ENGINE[key] = build_engine(settings, cache=Store(settings.db, migrate=False))
    return _ENGINE[key]


def extract_job(sha256: str, path: str, settings: Settings):
    """In the child: the job's document extracted, what the store keeps of it (see `worker.extract`)."""
    from service.store import Store
    from service.worker import extract

    name = Path(path).name
    # Written before the job: once memory has run out, even formatting this message can fail.
    too_big = memory_message(name, settings)
    store = Store(settings.db, migrate=False)  # the job's progress, written by the child itself
    out_of_memory = False
    try:
        return extract(sha256, Path(path), settings, _engine(settings),
                       progress=lambda text: store.set_progress(sha256, text))
    except MemoryError:
        out_of_memory = True  # raised below, once leaving this block has freed the failed job's frames
    except JixiaoError as e:  # as a plain JixiaoError: any subclass, whatever its arguments, unpickles
        raise JixiaoError(str(e)) from None
    except Exception as e:  # a bug's exception may not unpickle at all (a broken pool would read as a crash)
        log.exception("extracting %s failed unexpectedly", name)
        raise JixiaoError(f"{name}：处理时发生内部错误（{type(e).__name__}: {e}），请联系维护人员") from None
    finally:
        store.close()
    if out_of_memory:
        raise JixiaoError(too_big)


def memory_message(name: str, settings: Settings) -> str:
    return (f"{name}：处理所需内存超过限制（{settings.job_memory_mb} MB，配置项 "
            "job_memory_mb），已停止；文件可能过大或已损坏")


class ChildRunner:
    """Runs `extract_job` in the child; `run` returns its result or raises a JixiaoError saying why not."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_limit_memory,
                initargs=(self.settings.job_memory_mb,), max_tasks_per_child=TASKS_PER_CHILD)
        return self._pool

    def run(self, sha256: str, path: str, name: str, stop: threading.Event,
            applied: Mapping[str, Mapping[str, Any]] | None = None):
        """`applied`: the thresholds an admin applied on the 校准 page (store.applied_thresholds()), put in
        force over the runner's settings for this document (service.thresholds)."""
        settings = with_calibration(self.settings, applied) if applied else self.settings
        future = self._get_pool().submit(extract_job, sha256, path, settings)
        deadline = time.monotonic() + self.settings.job_timeout_s
        while True:
            try:
                return future.result(timeout=POLL_S)
            except FutureTimeout:
                if stop.is_set():
                    self._kill()
                    raise JobStopped(f"{name}：任务已取消或已被重新分配，处理已停止") from None
                if time.monotonic() > deadline:
                    self._kill()
                    raise JixiaoError(f"{name}：处理超过时限（{self.settings.job_timeout_s} 秒，配置项 "
                                      "job_timeout_s），已停止；扫描件页数过多时可拆分后上传") from None
            except MemoryError:  # the child ran out even while reporting it
                raise JixiaoError(memory_message(name, self.settings)) from None
            except BrokenProcessPool:
                self._pool = None
                raise JixiaoError(f"{name}：处理进程意外退出（可能内存不足：限制 {self.settings.job_memory_mb} MB，"
                                  "配置项 job_memory_mb），文件未能处理") from None

    def _kill(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for proc in list(getattr(pool, "_processes", {}).values()):  # no public way to stop a running task
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
