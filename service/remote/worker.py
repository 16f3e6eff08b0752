"""A worker host: takes tasks off the remote queue, extracts each document, and sends the result back.

It never opens the web host's database. A task carries the file's bytes and the web host's settings; the
document is extracted exactly as `jixiao worker` extracts it (`service.worker.extract`, in a child process
under `job_memory_mb` and `job_timeout_s`, by `service.isolate.ChildRunner`), and what the store keeps of it
goes back as JSON (`service.remote.codec`). The only file it writes is its own folder (`--folder`): the task's
file while it is extracted, and `answers.db`, the LLM answer cache of this host (a SQLite file of its own).

Before a task runs, and every second while it runs, its claim is looked up: a task whose job was cancelled or
given to another task (the dispatcher's claims, `KEYS.claims`) is not run, or is stopped. Each start counts a
delivery; a task delivered more than `job_max_attempts` times (its hosts kept dying on it) fails with that
reason instead of running again.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import dramatiq

from service.errors import JixiaoError
from service.isolate import ChildRunner, JobStopped
from service.remote.broker import KEYS, QUEUES, RESULT_TTL_S, Beat, beat_every, open_broker
from service.remote.codec import CodecError, decode_task, encode_head, encode_result, task_settings
from service.settings import Settings
from service.store import Store

log = logging.getLogger(__name__)

STOP_WAIT_S = 10  # on Ctrl+C / SIGTERM: how long running documents may finish before their children are killed


def host_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RemoteWorker:
    """One worker host's process: `threads` documents at once, of `lanes`."""

    def __init__(self, url: str, settings: Settings, folder: Path, lanes: tuple[str, ...] = tuple(QUEUES),
                 threads: int = 1):
        self.settings, self.lanes, self.threads = settings, lanes, threads
        self.folder = folder
        self.files = folder / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self.answers = str(folder / "answers.db")
        Store(self.answers).close()  # migrated once here, so the children open it as it is
        self.name = host_name()
        self.broker = open_broker(url, settings, fn=self.handle)
        self._local = threading.local()
        self._runners: list[ChildRunner] = []
        self._lock = threading.Lock()
        self._closing, self._parked = threading.Event(), threading.Event()

    # -- one task -------------------------------------------------------------------------------------------

    def handle(self, raw: dict) -> None:
        """The actor: runs in one of Dramatiq's worker threads. Returns (and so acknowledges the message)
        once the result is in Redis, or once it is clear the task is not to be run."""
        tid = raw.get("task") if isinstance(raw, dict) else None
        try:
            task = decode_task(raw)
        except CodecError as e:
            log.error("task %s cannot be read: %s", tid, e)
            if isinstance(tid, str):
                self._send(tid, ok=False, error=str(e))
            return
        tid, sha, name = task["task"], task["sha256"], task["name"]
        client = self.broker.client
        if not self._current(sha, tid):
            log.info("task %s: its job was cancelled or claimed again; not run", tid)
            return
        deliveries = client.hincrby(KEYS.task(tid), "deliveries", 1)
        client.hset(KEYS.task(tid), mapping={"worker": self.name, "broker_id": self.broker.dramatiq.broker_id,
                                             "beat_at": time.time(),
                                             "progress": f"处理节点 {socket.gethostname()} 正在提取"})
        client.expire(KEYS.task(tid), RESULT_TTL_S)
        try:
            settings = task_settings(task["settings"], self.settings, db=self.answers,
                                     instance=str(self.folder / "instance"))
        except (JixiaoError, TypeError) as e:
            self._send(tid, ok=False, error=f"{name}：处理节点无法使用主机的配置（{e}）")
            return
        if settings.job_max_attempts and deliveries > settings.job_max_attempts:
            self._send(tid, ok=False, error=(
                f"{name}：已在处理节点上开始 {deliveries - 1} 次均未完成（处理节点每次都中断：可能内存不足、超时或"
                "已宕机），已停止自动重试；请检查文件后由管理员重试"))
            return
        log.info("task %s (%s): delivery %d on %s", tid, name, deliveries, self.name)
        work = self.files / tid
        work.mkdir(parents=True, exist_ok=True)
        path = work / task["file_name"]
        stop = threading.Event()
        beat = Beat(lambda: self._task_beat(sha, tid, stop), beat_every(self.settings),
                    f"jixiao-remote-beat-{tid[:8]}")
        try:
            path.write_bytes(task["data"])
            beat.start()
            try:
                doc, sections, extraction, meta, items = self._runner(settings).run(sha, str(path), name, stop)
            finally:
                beat.stop()
                if self._closing.is_set():  # this host is stopping: never acknowledged, the task goes elsewhere
                    self._parked.wait()
            self._send(tid, ok=True, result=encode_result(doc, sections, extraction, meta, items))
        except JobStopped as e:
            log.info("task %s stopped: %s", tid, e)
        except JixiaoError as e:
            log.info("task %s failed: %s", tid, e)
            self._send(tid, ok=False, error=str(e))
        except OSError as e:  # this host's disk: the document is not to blame, another host may do better
            log.error("task %s: cannot write its file here: %s", tid, e)
            raise
        finally:
            beat.stop()
            shutil.rmtree(work, ignore_errors=True)

    def _current(self, sha: str, tid: str) -> bool:
        current = self.broker.client.hget(KEYS.claims, sha)
        return current is not None and current.decode() == tid

    def _task_beat(self, sha: str, tid: str, stop: threading.Event) -> None:
        self.broker.client.hset(KEYS.task(tid), "beat_at", time.time())
        if not self._current(sha, tid):
            log.info("task %s: its job was cancelled or claimed again; stopping", tid)
            stop.set()

    def _send(self, tid: str, *, ok: bool, result: bytes | None = None, error: str | None = None) -> None:
        """The result (or the reason), then the task's id on the list that wakes the dispatcher, in one
        transaction: it is in Redis before the message is acknowledged."""
        with self.broker.client.pipeline(transaction=True) as pipe:
            key = KEYS.result(tid)
            pipe.hset(key, mapping={"head": encode_head(tid, self.name, ok=ok, error=error),
                                    **({"result": result} if result is not None else {})})
            pipe.expire(key, RESULT_TTL_S)
            pipe.rpush(KEYS.done, tid)
            pipe.execute()

    def _runner(self, settings: Settings) -> ChildRunner:
        """This thread's child process, for these settings (a task with other limits gets a fresh one)."""
        key = settings.model_dump_json()
        runner = getattr(self._local, "runner", None)
        if runner is not None and self._local.key == key:
            return runner
        if runner is not None:
            runner.close()
            with self._lock:
                self._runners.remove(runner)
        runner = ChildRunner(settings)
        self._local.runner, self._local.key = runner, key
        with self._lock:
            self._runners.append(runner)
        return runner

    # -- the host ---------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; documents still running then get STOP_WAIT_S to finish, then their children
        are killed and their messages, never acknowledged, go to another host."""
        worker = dramatiq.Worker(self.broker.dramatiq, queues={QUEUES[lane] for lane in self.lanes},
                                 worker_threads=self.threads)
        worker.queue_prefetch = self.threads  # nothing waits here behind a long document (see broker.py)
        worker.start()
        log.info("worker host %s: %d at once, lanes %s", self.name, self.threads, ",".join(self.lanes))
        try:
            stop.wait()
        finally:
            stopper = threading.Thread(target=worker.stop, kwargs={"timeout": STOP_WAIT_S * 1000}, daemon=True)
            stopper.start()
            stopper.join(STOP_WAIT_S + 5)
            # Documents still running: their threads are parked before acknowledging anything, their children
            # killed; their messages go back to the queue once this host's heartbeat is missed.
            self._closing.set()
            with self._lock:
                runners = list(self._runners)
            for runner in runners:
                runner._kill()  # ChildRunner has no public way to stop a running child (isolate.py)
