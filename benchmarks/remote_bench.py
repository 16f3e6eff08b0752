"""The remote queue: which library (measured), and how fast 200 reports go through it.

    # which library: Celery, RQ and Dramatiq over Redis, each on the same three questions (about 6 minutes);
    # the two not chosen are not the project's dependencies, so in a scratch virtual environment:
    python3.11 -m venv /tmp/qb && /tmp/qb/bin/pip install celery[redis]==5.7.0 rq==3.0.0 dramatiq[redis]==2.2.1
    /tmp/qb/bin/python benchmarks/remote_bench.py choose [--libs celery,rq,dramatiq]

    # throughput: 200 generated text reports through 2 Redis-fed worker hosts and through the embedded queue
    .venv/bin/python benchmarks/remote_bench.py throughput [--reports 200] [--workers 2]

`choose` starts its own redis-server (Debian's `redis-server`) on a free port and, for each library, runs a
probe task (it records its start and its end in Redis and sleeps) in worker processes it starts, and kills a
worker with everything below it to stand for a worker host dying:

(a) kill -9 mid-job: a 6 s task is started on worker 1, worker 1 and every process below it are killed with
    SIGKILL, worker 2 is started: is the task run again (and how long after the kill)?
(b) acknowledgement after completion: while the task of (a) runs, does the broker still hold its message (so
    that a death can give it back), and once it has finished, is the message gone?
(c) a task longer than the visibility timeout: with two workers alive, a 75 s task, longer than the broker's
    visibility timeout (Celery's `visibility_timeout` 10 s, Dramatiq's `heartbeat_timeout` 10 s, RQ's
    started-job registry entry, 60 s past its last heartbeat): how many times does it start? Then the same
    with 4 one-second tasks sent behind it, so that the queue holds more than the workers take at once.

Each library is configured for redelivery as its documentation says (Celery: acks_late,
reject_on_worker_lost, prefetch 1; RQ: Retry(max=3), maintenance every second; Dramatiq: maintenance on
every broker command) and with the same short timeouts, so the answers come in minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.remote.local_redis import LocalRedis  # noqa: E402

VISIBILITY_S = 10  # Celery's visibility_timeout and Dramatiq's heartbeat_timeout in these runs
KILL_TASK_S = 6
LONG_TASK_S = 75
QUEUE = "probe"
LOAD_TASKS = 4


# -- the probe task, for every library ----------------------------------------------------------------------

def probe(tag: str, seconds: float) -> None:
    """Record a start, sleep, record an end (in the broker's own Redis)."""
    import redis

    r = redis.Redis.from_url(os.environ["PROBE_REDIS"])
    r.rpush(f"probe:{tag}:starts", f"{os.getpid()}@{time.time():.3f}")
    time.sleep(seconds)
    r.rpush(f"probe:{tag}:ends", f"{os.getpid()}@{time.time():.3f}")


def celery_app(url: str):
    from celery import Celery

    app = Celery("probe", broker=url)
    app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                    task_serializer="json", accept_content=["json"], task_ignore_result=True,
                    broker_connection_retry_on_startup=True,
                    broker_transport_options={"visibility_timeout": VISIBILITY_S, "unacked_restore_interval": 1,
                                              "unacked_restore_throttle": 1})
    app.task(name="probe")(probe)
    return app


def dramatiq_broker(url: str):
    import dramatiq
    from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

    broker = RedisBroker(url=url, heartbeat_timeout=VISIBILITY_S * 1000, maintenance_chance=MAINTENANCE_SCALE)
    dramatiq.set_broker(broker)
    actor = dramatiq.actor(probe, actor_name="probe", queue_name=QUEUE, max_retries=0,
                           time_limit=3_600_000)
    return broker, actor


class Lib:
    name = ""

    def __init__(self, url: str):
        self.url = url

    def send(self, tag: str, seconds: float) -> None:
        raise NotImplementedError

    def work(self) -> None:  # in the worker process
        raise NotImplementedError

    def held(self, r) -> bool:
        """Whether the broker still holds the (one) probe message: queued, or delivered and not acknowledged."""
        raise NotImplementedError


class CeleryLib(Lib):
    name = "celery"

    def send(self, tag, seconds):
        celery_app(self.url).send_task("probe", args=[tag, seconds], queue=QUEUE)

    def work(self):
        celery_app(self.url).worker_main(["worker", "-Q", QUEUE, "-c", "1", "--pool", "prefork", "-l", "warning",
                                          "--without-gossip", "--without-mingle", "--without-heartbeat"])

    def held(self, r):
        return bool(r.hlen("unacked") or r.llen(QUEUE))


class RqLib(Lib):
    name = "rq"

    def _queue(self):
        from redis import Redis
        from rq import Queue

        return Queue(QUEUE, connection=Redis.from_url(self.url))

    def send(self, tag, seconds):
        from rq import Retry

        self._queue().enqueue("benchmarks.remote_bench.probe", tag, seconds, job_timeout=3600, retry=Retry(max=3))

    def work(self):
        from rq import Worker

        q = self._queue()
        Worker([q], connection=q.connection, job_monitoring_interval=1, maintenance_interval=1).work(
            logging_level="WARNING")

    def held(self, r):
        from rq.registry import StartedJobRegistry

        q = self._queue()
        return bool(q.count or StartedJobRegistry(queue=q).count)


class DramatiqLib(Lib):
    name = "dramatiq"

    def send(self, tag, seconds):
        _, actor = dramatiq_broker(self.url)
        actor.send(tag, seconds)

    def work(self):
        import dramatiq

        broker, _ = dramatiq_broker(self.url)
        worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=1)
        worker.start()
        while True:  # until SIGTERM (or SIGKILL) ends the process
            time.sleep(1)

    def held(self, r):
        return bool(r.hlen(f"dramatiq:{QUEUE}.msgs"))


LIBS = {lib.name: lib for lib in (CeleryLib, RqLib, DramatiqLib)}


# -- the three questions --------------------------------------------------------------------------------------

def start_worker(lib: str, url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PROBE_REDIS": url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, __file__, "_probe_worker", lib, url], env=env, cwd=ROOT,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (RQ's work horse, for one, leaves its parent's process group)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_host(proc: subprocess.Popen) -> None:
    """kill -9 of a worker host: the worker and every process below it, at once."""
    for pid in [proc.pid, *descendants(proc.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    for pid in descendants(proc.pid):  # a pool or work horse outside the worker's group
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    else:
        with contextlib.suppress(ProcessLookupError):  # the group's children (a pool) may outlive their parent
            os.killpg(proc.pid, signal.SIGKILL)


def wait_for(condition, timeout_s: float) -> bool:
    give_up = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.1)
    return True


def measure(lib_name: str, folder: Path) -> dict:
    import redis

    out: dict = {"lib": lib_name}
    with LocalRedis(folder / f"redis-{lib_name}") as broker:
        r = redis.Redis.from_url(broker.url)
        lib = LIBS[lib_name](broker.url)
        os.environ["PROBE_REDIS"] = broker.url
        log = folder / f"{lib_name}.log"
        starts = lambda tag: r.llen(f"probe:{tag}:starts")  # noqa: E731
        ends = lambda tag: r.llen(f"probe:{tag}:ends")  # noqa: E731

        # (a) and (b): kill -9 mid-job
        w1 = start_worker(lib_name, broker.url, log)
        lib.send("kill", KILL_TASK_S)
        if not wait_for(lambda: starts("kill") == 1, 60):
            raise RuntimeError(f"{lib_name}: the probe never started (see {log})")
        out["held_while_running"] = lib.held(r)
        kill_host(w1)
        killed = time.monotonic()
        w2 = start_worker(lib_name, broker.url, log)
        out["redelivered"] = wait_for(lambda: starts("kill") >= 2, 150)
        out["redelivered_after_s"] = round(time.monotonic() - killed, 1) if out["redelivered"] else None
        if out["redelivered"]:
            wait_for(lambda: ends("kill") >= 1, KILL_TASK_S + 30)
            time.sleep(2)
        out["kill_completed"] = ends("kill")
        out["held_after_completion"] = lib.held(r)
        stop(w2)

        # (c): a task longer than the visibility timeout, two workers alive
        r.flushdb()
        workers = [start_worker(lib_name, broker.url, log) for _ in range(2)]
        time.sleep(3)
        lib.send("long", LONG_TASK_S)
        wait_for(lambda: ends("long") >= 1, LONG_TASK_S + 60)
        time.sleep(VISIBILITY_S + 5)  # a second run started late would show now
        out["long_starts"] = starts("long")

        # (c) under load: the same while more tasks wait than the two workers take at once
        r.flushdb()
        lib.send("long", LONG_TASK_S)
        wait_for(lambda: starts("long") >= 1, 60)
        for i in range(LOAD_TASKS):
            lib.send(f"short{i}", 1)
        wait_for(lambda: ends("long") >= 1, LONG_TASK_S + 60)
        time.sleep(VISIBILITY_S + 5)
        out["long_starts_loaded"] = starts("long")
        out["short_starts"] = sum(starts(f"short{i}") for i in range(LOAD_TASKS))
        for w in workers:
            stop(w)
    return out


def choose(libs: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="jixiao-choose-") as tmp:
        rows = []
        for name in libs:
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            rows.append(measure(name, Path(tmp)))
            print(rows[-1], file=sys.stderr, flush=True)
    print("| library | (a) kill -9 mid-job: run again | after | (b) held while running | (b) gone after "
          f"completion | (c) starts of a 75 s task | (c) the same, {LOAD_TASKS} more tasks waiting |")
    print("|---|---|---:|---|---|---:|---:|")
    for row in rows:
        after = f"{row['redelivered_after_s']} s" if row["redelivered"] else "—"
        print(f"| {row['lib']} | {'yes' if row['redelivered'] else 'no'} | {after} | "
              f"{'yes' if row['held_while_running'] else 'no'} | {'no' if row['held_after_completion'] else 'yes'} "
              f"| {row['long_starts']} | {row['long_starts_loaded']} (short tasks: {row['short_starts']} starts) |")


# -- throughput: 200 reports, remote and embedded -------------------------------------------------------------

def _queued_db(folder: Path, reports: int) -> Path:
    """A database with `reports` generated text reports queued (as uploads are), and their files."""
    from service.settings import load_settings
    from service.store import Store
    from service.worker import store_upload
    from tests.test_remote_queue import report

    db = folder / "jixiao.db"
    settings = load_settings(env={}, db=str(db), instance=str(folder / "instance"), engine="rules")
    store = Store(settings.db)
    try:
        for i in range(reports):
            store_upload(store, folder / "uploads", f"report_{i:03d}.txt", report(i)[1].encode("utf-8"), "上传员")
    finally:
        store.close()
    return db


def _checked(db: Path, reports: int) -> str:
    from service.store import Store

    store = Store(str(db))
    try:
        counts, docs, runs = store.state_counts(), store.document_count(), store.run_count()
    finally:
        store.close()
    if counts != {"review": reports} or docs != reports or runs != reports:
        raise RuntimeError(f"not every report stored once: {counts}, {docs} documents, {runs} runs")
    return f"{docs} documents, {runs} runs, all 待审核"


JIXIAO = [sys.executable, "-c", "from service.cli import main; main()"]
REMOTE = [sys.executable, "-c", "from service.remote.cli import remote; remote()"]


def _env(db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIXIAO_")}
    return {**env, "JIXIAO_DB": str(db), "JIXIAO_ENGINE": "rules", "PYTHONPATH": str(ROOT)}


def _timed(cmd: list[str], db: Path, cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=_env(db), cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def throughput(reports: int, workers: int) -> None:
    import tempfile

    import redis

    from service.remote.broker import KEYS

    rows = []
    with tempfile.TemporaryDirectory(prefix="jixiao-remote-bench-") as tmp:
        for label, processes in (("embedded queue, `jixiao worker --lane text` (1 process)", 1),
                                 (f"embedded queue, `jixiao worker --lane text --processes {workers}`", workers)):
            folder = Path(tmp) / f"embedded{processes}"
            db = _queued_db(folder, reports)
            seconds = _timed([*JIXIAO, "worker", "--until-empty", "--quiet", "--lane", "text", "--processes",
                              str(processes)], db, folder)
            rows.append((label, seconds, _checked(db, reports)))
            print(rows[-1], file=sys.stderr, flush=True)
        folder = Path(tmp) / "remote"
        db = _queued_db(folder, reports)
        with LocalRedis(folder / "redis") as broker:
            hosts = [subprocess.Popen([*REMOTE, "worker", "--broker", broker.url, "--quiet", "--folder",
                                       str(folder / f"host{i}")], env=_env(folder / "unused.db"), cwd=folder,
                                      start_new_session=True)
                     for i in range(workers)]
            client = redis.Redis.from_url(broker.url)
            try:
                if not wait_for(lambda: client.zcard(KEYS.heartbeats) >= workers, 60):
                    raise RuntimeError("the worker hosts did not start")
                seconds = _timed([*REMOTE, "dispatch", "--until-empty", "--quiet", "--broker", broker.url], db,
                                 folder)
            finally:
                for host in hosts:
                    stop(host)
            rows.append((f"remote queue: `jixiao remote dispatch --until-empty`, {workers} `jixiao remote worker`",
                         seconds,
                         _checked(db, reports)))
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"| {reports} generated text reports (rules engine) | seconds | reports/s | stored |")
    print("|---|---:|---:|---|")
    for label, seconds, stored in rows:
        print(f"| {label} | {seconds:.1f} | {reports / seconds:.1f} | {stored} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("choose", help="Celery, RQ and Dramatiq on the three questions")
    c.add_argument("--libs", default="celery,rq,dramatiq")
    t = sub.add_parser("throughput", help="reports through worker hosts over Redis and through the embedded queue")
    t.add_argument("--reports", type=int, default=200)
    t.add_argument("--workers", type=int, default=2)
    w = sub.add_parser("_probe_worker")
    w.add_argument("lib")
    w.add_argument("url")
    args = parser.parse_args(argv)
    if args.mode == "choose":
        choose([x.strip() for x in args.libs.split(",") if x.strip()])
    elif args.mode == "throughput":
        throughput(args.reports, args.workers)
    elif args.mode == "_probe_worker":
        LIBS[args.lib](args.url).work()


if __name__ == "__main__":
    main()
