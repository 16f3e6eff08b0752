"""The dispatcher: on the web host, the one process that gives queued jobs to worker hosts and stores what comes
back. The SQLite file stays the web host's alone: worker hosts never see it.

Each pass (every `POLL_S`, or at once when a result arrives):

- collect: a task whose result is in Redis is stored with the store's own methods, `complete_job` (the
  document, its run and its review items, and the job 待审核, in one transaction) or `fail_job` (失败, with the
  worker host's reason in Chinese). `complete_job` stores a result only for the claim it was made for, so a
  document is stored once whatever the broker delivered twice;
- watch: the lease of every job in flight is renewed (a job whose remote task is still queued or running is
  never claimed again); a cancel (取消) withdraws the task's claim, and the worker host running it stops; the
  worker host's progress is shown on the job; a task the broker lost (Redis restarted without its data) or
  whose host holds it but has stopped working on it is sent again, at most `job_max_attempts` times;
- fill: up to `remote_in_flight` jobs are claimed from the queue (`claim_job`, with its lease, as `jixiao
  worker` does) and sent, each as a task carrying the file's bytes and the settings.

The dispatcher's name is stable (`remote:<host>:<name>`), so a dispatcher started again after a crash takes
back the jobs it had in flight (their claims are in Redis) instead of waiting for their leases to run out;
a Redis key held while it runs keeps a second one of the same name from starting beside it.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from service.errors import JixiaoError, StoreError
from service.page_images import cache_folder, warm
from service.remote.broker import KEYS, QUEUES, RESULT_TTL_S, open_broker
from service.remote.codec import CodecError, decode_head, decode_result, encode_task, task_id
from service.settings import Settings
from service.store import Store
from service.store.workflow import EXTRACTING
from service.thresholds import for_jobs

log = logging.getLogger(__name__)

class NameTaken(JixiaoError):
    """Another process holds this dispatcher's name."""


POLL_S = 0.5  # longest wait between passes when no result arrives
CANCEL_CHECK_S = 2.0  # how often a job in flight is looked at for a cancel and for its progress
LOST_CHECK_S = 5.0  # how often the broker is asked whether it still holds each task
NAME_TTL_S = 15  # the dispatcher's name is held this long past its last pass
STALLED_BEATS = 3  # a task not beating for this many remote_heartbeat_s, held but not queued, is sent again


def dispatcher_name(name: str = "dispatch") -> str:
    return f"remote:{socket.gethostname()}:{name}"


@dataclass
class Flight:
    """A job in flight: claimed from SQLite, its task sent (or waiting to be, `message` None)."""

    sha256: str
    name: str
    path: str
    lane: str
    attempt: int  # the job's attempts, as its claim left them
    sends: int = 1
    message: str | None = None  # the task's message in Redis, once sent
    renewed: float = 0.0
    looked: float = 0.0
    checked: float = 0.0
    progress: str | None = None

    @property
    def task(self) -> str:
        return f"{task_id(self.sha256, self.attempt)}.{self.sends}"


class Dispatcher:
    def __init__(self, store: Store, settings: Settings, url: str, name: str = "dispatch",
                 lanes: tuple[str, ...] | None = None):
        self.store, self.settings, self.lanes = store, settings, lanes
        self.me = dispatcher_name(name)
        self.broker = open_broker(url, settings)
        self.client = self.broker.client
        self.flights: dict[str, Flight] = {}
        self._token = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._warming: queue.Queue = queue.Queue()
        self._redis_down_logged = 0.0

    # -- the loop ---------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, until_empty: bool = False) -> int:
        """Pass until `stop` is set (or, with `until_empty`, until nothing is queued or in flight); the jobs
        that ended (stored or failed)."""
        stop = stop or threading.Event()
        self._hold_name(stop)
        threading.Thread(target=self._warm_pages, name="jixiao-remote-warm", daemon=True).start()
        ended = 0
        try:
            self._adopt()
            while not stop.is_set():
                claimed = 0
                try:
                    self._keep_name()
                    ended += self._collect()
                    ended += self._watch()
                    claimed = self._fill()
                except NameTaken:
                    raise
                except redis.RedisError as e:
                    self._redis_down(e)
                except (JixiaoError, OSError, sqlite3.Error) as e:  # a busy database, a full disk: the next pass
                    log.error("dispatcher %s: %s", self.me, e)
                self._renew()  # SQLite only: the jobs stay ours while the broker is away
                if until_empty and not self.flights and not claimed:
                    break
                try:
                    self.client.blpop(KEYS.done, timeout=POLL_S)  # a result arriving wakes the next pass at once
                except redis.RedisError:
                    stop.wait(POLL_S)
        finally:
            self._warming.put(None)
            try:
                if self.client.get(KEYS.dispatcher(self.me)) == self._token.encode():
                    self.client.delete(KEYS.dispatcher(self.me))
            except redis.RedisError:
                pass
        return ended

    def close(self) -> None:
        self.broker.close()

    # -- the name ---------------------------------------------------------------------------------------------

    def _hold_name(self, stop: threading.Event) -> None:
        """Take this dispatcher's name in Redis; while another process holds it, wait (it may be one that
        was killed: its hold runs out after NAME_TTL_S)."""
        said = False
        while not self.client.set(KEYS.dispatcher(self.me), self._token, nx=True, ex=NAME_TTL_S):
            if stop.is_set():
                raise NameTaken(f"分发进程 {self.me} 已在别处运行，未启动")
            if not said:
                holder = self.client.get(KEYS.dispatcher(self.me))
                log.warning("dispatcher %s is held by %s; waiting for it to stop", self.me,
                            holder.decode() if holder else "?")
                said = True
            stop.wait(1.0)

    def _keep_name(self) -> None:
        key = KEYS.dispatcher(self.me)
        holder = self.client.get(key)
        if holder is None and self.client.set(key, self._token, nx=True, ex=NAME_TTL_S):
            return  # it ran out while Redis was away: ours again
        if holder != self._token.encode():
            raise NameTaken(f"分发进程 {self.me} 的名称已被另一个进程占用，本进程停止分发")
        self.client.expire(key, NAME_TTL_S)

    def _adopt(self) -> None:
        """The jobs this dispatcher had in flight when it last stopped: their claims are still in Redis and
        the jobs still claimed by this name in SQLite."""
        for sha, tid in self.client.hgetall(KEYS.claims).items():
            sha, tid = sha.decode(), tid.decode()
            info = {k.decode(): v.decode() for k, v in self.client.hgetall(KEYS.task(tid)).items()}
            if info.get("claim") != self.me:
                continue  # another dispatcher's
            job = self.store.job(sha)
            if job is None or job["state"] != EXTRACTING or job["claimed_by"] != self.me:
                self._withdraw(sha, tid)
                continue
            attempt, sends = (int(x) for x in tid.split(".")[1:3])
            self.flights[sha] = Flight(sha, job["name"], job["path"], info.get("lane", "text"), attempt, sends,
                                       info.get("message") or None)
            log.info("dispatcher %s: took back task %s (%s)", self.me, tid, job["name"])

    # -- collect ----------------------------------------------------------------------------------------------

    def _collect(self) -> int:
        """Store every result that has arrived for a job in flight; how many jobs ended."""
        self.client.delete(KEYS.done)  # a wake-up only: which results are in is asked below
        flights = list(self.flights.values())
        with self.client.pipeline(transaction=False) as pipe:
            for f in flights:
                pipe.exists(KEYS.result(f.task))
            arrived = [f for f, there in zip(flights, pipe.execute(), strict=True) if there]
        return sum(self._store_result(f) for f in arrived)

    def _store_result(self, f: Flight) -> bool:
        head, raw = self.client.hmget(KEYS.result(f.task), ["head", "result"])
        try:
            head = decode_head(head)
            if head["ok"]:
                doc, sections, extraction, meta, items = decode_result(raw or b"")
        except CodecError as e:
            head = {"ok": False, "error": f"{f.name}：{e}", "worker": "?"}
        if self.store.cancel_requested(f.sha256):
            self.store.end_cancelled(f.sha256, self.me, f"{f.name}：任务已由操作员取消")
            self._done(f)
            return True
        try:
            if head["ok"]:
                meta = {**meta, "source_path": f.path}  # where the file is on this host, not where it was read
                self.store.complete_job(f.sha256, self.me, doc, sections, extraction, meta, items)
                log.info("task %s (%s) stored, extracted on %s", f.task, f.name, head["worker"])
                if doc.ocr:
                    self._warming.put((Path(f.path), f.sha256, [p.number for p in doc.pages if p.ocr]))
            else:
                log.info("task %s (%s) failed on %s: %s", f.task, f.name, head["worker"], head["error"])
                self.store.fail_job(f.sha256, self.me, head["error"] or f"{f.name}：处理失败（处理节点未说明原因）")
        except StoreError as e:
            job = self.store.job(f.sha256)
            if job is not None and job["state"] == EXTRACTING and job["claimed_by"] == self.me:
                log.error("task %s (%s) not stored yet: %s", f.task, f.name, e)  # a full disk: the next pass
                return False
            log.info("task %s (%s): the job is no longer ours (%s); its result is dropped", f.task, f.name, e)
        self._done(f)
        return True

    def _done(self, f: Flight) -> None:
        self.flights.pop(f.sha256, None)
        self._withdraw(f.sha256, f.task)
        self.client.delete(KEYS.result(f.task), KEYS.task(f.task))

    def _withdraw(self, sha: str, tid: str) -> None:
        """Take back a task's claim: a worker host not yet running it skips it, one running it stops."""
        if self.client.hget(KEYS.claims, sha) == tid.encode():
            self.client.hdel(KEYS.claims, sha)

    # -- watch ------------------------------------------------------------------------------------------------

    def _renew(self) -> None:
        """Renew the lease of every job in flight (every third of `job_lease_s`); a job that is no longer ours,
        or was cancelled, is given up."""
        every = max(0.5, self.settings.job_lease_s / 3)
        now = time.monotonic()
        for f in list(self.flights.values()):
            if now - f.renewed < every:
                continue
            try:
                if self.store.renew_lease(f.sha256, self.me):
                    f.renewed = now
                    continue
                self._give_up(f)
            except (JixiaoError, sqlite3.Error) as e:  # a busy database: the next pass
                log.warning("lease of %s not renewed: %s", f.sha256[:12], e)
            except redis.RedisError as e:
                self._redis_down(e)

    def _give_up(self, f: Flight) -> None:
        if self.store.cancel_requested(f.sha256):
            self.store.end_cancelled(f.sha256, self.me, f"{f.name}：任务已由操作员取消")
            log.info("task %s (%s) cancelled", f.task, f.name)
        else:
            log.info("task %s (%s): the job is no longer ours", f.task, f.name)
        self.flights.pop(f.sha256, None)
        self._withdraw(f.sha256, f.task)

    def _watch(self) -> int:
        """Cancels, progress, and tasks lost or stalled; how many jobs ended (failed after too many sends)."""
        now, ended = time.monotonic(), 0
        for f in list(self.flights.values()):
            if f.message is None:
                self._send(f)
                continue
            if now - f.looked >= CANCEL_CHECK_S:
                f.looked = now
                if self.store.cancel_requested(f.sha256):
                    self._give_up(f)
                    ended += 1
                    continue
                progress = self.client.hget(KEYS.task(f.task), "progress")
                progress = progress.decode() if progress else None
                if progress and progress != f.progress:
                    self.store.set_progress(f.sha256, progress)
                    f.progress = progress
            if now - f.checked >= LOST_CHECK_S:
                f.checked = now
                why = self._lost(f)
                if why:
                    ended += self._send_again(f, why)
        return ended

    def _lost(self, f: Flight) -> str | None:
        """Why a task is to be sent again, or None: gone from the broker with no result (Redis lost it), or
        held by a live host that has stopped working on it (the task's beat silent, its message neither queued
        nor given back; a host that died is the broker's to redeliver from)."""
        queue_name = QUEUES[f.lane]
        with self.client.pipeline(transaction=False) as pipe:
            pipe.exists(KEYS.result(f.task))
            pipe.hexists(KEYS.messages(queue_name), f.message)
            pipe.lpos(KEYS.queue(queue_name), f.message)
            pipe.hmget(KEYS.task(f.task), ["beat_at", "broker_id"])
            has_result, held, queued, (beat_at, holder) = pipe.execute()
        if has_result:
            return None
        if not held:
            return "任务队列中已找不到该任务（Redis 可能重启后丢失了数据）"
        heartbeat = self.settings.remote_heartbeat_s
        silent = beat_at is not None and time.time() - float(beat_at) > STALLED_BEATS * heartbeat
        if silent and queued is None and holder is not None and self.broker.alive(holder.decode(), heartbeat):
            return "处理节点仍在运行，但已停止处理该任务且未交回"
        return None

    def _send_again(self, f: Flight, why: str) -> int:
        limit = self.settings.job_max_attempts
        if limit and f.sends >= limit:
            error = f"{f.name}：远程处理任务已发送 {f.sends} 次均未完成（{why}），已停止自动重试；请检查处理节点后由管理员重试"
            self.store.fail_job(f.sha256, self.me, error)
            self._done(f)
            return 1
        log.warning("task %s (%s) sent again: %s", f.task, f.name, why)
        self._withdraw(f.sha256, f.task)
        self.client.delete(KEYS.task(f.task))
        f.sends += 1
        f.message, f.progress = None, None
        self._send(f)
        return 0

    # -- fill -------------------------------------------------------------------------------------------------

    def _fill(self) -> int:
        """Claim jobs up to `remote_in_flight` and send them; how many were claimed."""
        claimed = 0
        while len(self.flights) < self.settings.remote_in_flight:
            job = self.store.claim_job(self.me, self.settings.job_lease_s, self.settings.job_max_attempts,
                                       self.lanes)
            if job is None:
                break
            claimed += 1
            f = Flight(job["sha256"], job["name"], job["path"], job["lane"] or "text", job["attempts"],
                       renewed=time.monotonic())
            self.flights[f.sha256] = f
            self._send(f)
        return claimed

    def _send(self, f: Flight) -> None:
        """Send a job's task: its claim first (a worker host runs only a task whose claim stands), then the
        message. The file cannot be read: the job fails. The broker cannot be reached: the next pass tries
        again (the job stays claimed by us, its lease renewed)."""
        try:
            data = Path(f.path).read_bytes()
        except OSError as e:
            self.store.fail_job(f.sha256, self.me, f"{f.name}：找不到上传时保存的文件（{e.strerror or e}），"
                                "请重新上传")
            self.flights.pop(f.sha256, None)
            return
        task = encode_task(task=f.task, sha256=f.sha256, name=f.name, file_name=Path(f.path).name, data=data,
                           settings=for_jobs(self.settings, self.store), claim=self.me)  # with applied 校准
        try:
            self.client.hset(KEYS.claims, f.sha256, f.task)
            self.client.hset(KEYS.task(f.task), mapping={"claim": self.me, "lane": f.lane, "sent_at": time.time()})
            self.client.expire(KEYS.task(f.task), RESULT_TTL_S)
            f.message = self.broker.send(f.lane, task)
            self.client.hset(KEYS.task(f.task), "message", f.message)
            f.checked = time.monotonic()
        except redis.RedisError as e:
            self._redis_down(e)
            return
        self.store.set_progress(f.sha256, "已发送到远程处理节点，等待处理")
        log.info("task %s (%s) sent to %s", f.task, f.name, QUEUES[f.lane])

    # -- around ----------------------------------------------------------------------------------------------

    def _redis_down(self, e: Exception) -> None:
        if time.monotonic() - self._redis_down_logged > 60:
            self._redis_down_logged = time.monotonic()
            log.error("dispatcher %s: the broker cannot be reached (%s); jobs in flight stay claimed, retrying",
                      self.me, e)

    def _warm_pages(self) -> None:
        """The reviewer's page images of a scanned document, rendered beside the loop (as `jixiao worker` does
        after storing one)."""
        while (item := self._warming.get()) is not None:
            path, sha, pages = item
            warm(path, sha, pages, self.settings.ocr_dpi, cache_folder(self.settings.instance))


def run_dispatcher(store: Store, settings: Settings, url: str, stop: threading.Event | None = None,
                   until_empty: bool = False, name: str = "dispatch", lanes: tuple[str, ...] | None = None) -> int:
    """Dispatch the queue's jobs to worker hosts until `stop` (or until empty); the jobs that ended."""
    dispatcher = Dispatcher(store, settings, url, name, lanes)
    try:
        return dispatcher.run(stop, until_empty)
    finally:
        dispatcher.close()
