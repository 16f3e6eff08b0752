"""The remote queue over a real Redis: worker hosts extract, the web host's dispatcher stores each document once,
whatever happens to a worker host (docs/deployment.md).

Each test starts its own redis-server (Debian's `redis-server`, installed by `make test`) on a free port in
its temporary folder, worker hosts as processes of their own, and the dispatcher in a thread over the test's
database. Every extraction a worker host starts is written to `starts.log` (the sha256 and the process), by a
wrapper around `ChildRunner.run` that changes nothing else; a held document also waits there after it was
extracted, its result made but not yet sent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest

from service.remote.broker import KEYS, NAMESPACE, QUEUES
from service.remote.cli import remote
from service.remote.dispatch import run_dispatcher
from service.remote.local_redis import LocalRedis, free_port
from service.store import Store
from service.worker import process_next, store_upload
from tests.conftest import ROOT, wait_until

HEARTBEAT_S = 4  # remote_heartbeat_s in these tests: a silent host is taken for dead after 4 s

WORKER = textwrap.dedent("""
    import os, signal, sys, threading, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from service.isolate import ChildRunner
    from service.remote.worker import RemoteWorker
    from service.settings import load_settings
    url, folder, starts, hold, hold_s, lanes = sys.argv[1:7]
    real = ChildRunner.run
    def run(self, sha, path, name, stop):
        with open(starts, "a", encoding="utf-8") as f:
            f.write(f"{{sha}} {{os.getpid()}}\\n")
        out = real(self, sha, path, name, stop)
        if sha == hold:  # extracted; its result made but not sent: the task is running as far as Redis knows
            Path(starts + ".held").write_text(str(os.getpid()))
            time.sleep(float(hold_s))
        return out
    ChildRunner.run = run
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    RemoteWorker(url, load_settings(), Path(folder), tuple(lanes.split(","))).run(stop)
""").format(root=str(ROOT))

REPORT = """{unit}{year}年度部门整体支出绩效自评报告

单位名称：{unit}

一、部门基本情况
本单位为财政全额拨款的行政单位，编制人数{staff}人，实有在职人员{staff}人。

二、部门整体支出情况
{year}年度全年预算数{budget}万元，全年执行数{spent}万元，预算执行率{rate}%。

三、绩效自评结果
经自评，本部门{year}年度部门整体支出绩效自评得分{score}分，评价等级为“优”。

四、存在的问题
1.预算编制不够精准。

五、改进措施
1.加强预算编制管理。
"""
COUNTIES = ["衡山县", "常宁市", "渌口区", "沅陵县", "平江县"]
TOWNS = ["岭坡乡", "荫田镇", "古岳峰镇", "太常乡", "平等乡", "白果镇", "新塘镇", "石湾镇", "洪山镇", "金兰镇"]


def report(i: int) -> tuple[str, str]:
    """A small report of its own (its own unit, so its own bytes): (unit, text)."""
    unit = f"{COUNTIES[i // len(TOWNS) % len(COUNTIES)]}{TOWNS[i % len(TOWNS)]}人民政府"
    budget = 300 + i
    return unit, REPORT.format(unit=unit, year=2023, staff=10 + i % 7, budget=f"{budget}.5",
                               spent=f"{budget - 20}.5", rate=f"{(budget - 20.0) / (budget + 0.5) * 100:.2f}",
                               score=f"{80 + i % 20}.5")


@pytest.fixture
def broker(tmp_path):
    with LocalRedis(tmp_path / "redis") as redis_server:
        yield redis_server


@pytest.fixture
def remote_settings(settings):
    return settings.replace(remote_heartbeat_s=HEARTBEAT_S)


class Hosts:
    """Worker hosts, each a process (group) of its own; every one still running is killed at the end."""

    def __init__(self, tmp_path: Path, url: str):
        self.tmp, self.url, self.procs = tmp_path, url, []
        self.starts = tmp_path / "starts.log"

    def start(self, hold: str = "", hold_s: float = 0, lanes: str = "text,scan") -> subprocess.Popen:
        folder = self.tmp / f"host{len(self.procs)}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("JIXIAO_")}
        env["JIXIAO_REMOTE_HEARTBEAT_S"] = str(HEARTBEAT_S)
        proc = subprocess.Popen([sys.executable, "-c", WORKER, self.url, str(folder), str(self.starts), hold,
                                 str(hold_s), lanes], cwd=self.tmp, env=env, start_new_session=True,
                                stdout=(self.tmp / f"host{len(self.procs)}.log").open("wb"), stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        """kill -9 of a worker host: its process and its extraction child at once."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def started(self) -> Counter:
        """sha256 -> how many times an extraction of it was started, on any host."""
        if not self.starts.exists():
            return Counter()
        return Counter(line.split()[0] for line in self.starts.read_text(encoding="utf-8").splitlines())

    def pids(self) -> set[str]:
        return {line.split()[1] for line in self.starts.read_text(encoding="utf-8").splitlines()}

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def hosts(tmp_path, broker):
    h = Hosts(tmp_path, broker.url)
    yield h
    h.close()


class Dispatching:
    """The web host's dispatcher in a thread, over its own connection to the test's database."""

    def __init__(self, settings, url: str):
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(settings, url), daemon=True)
        self.thread.start()

    def _run(self, settings, url):
        store = Store(settings.db)
        try:
            run_dispatcher(store, settings, url, self.stop)
        except BaseException as e:  # noqa: BLE001 - the test says so
            self.errors.append(e)
            raise
        finally:
            store.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.errors


@pytest.fixture
def dispatching(remote_settings, broker):
    made = []

    def start():
        made.append(Dispatching(remote_settings, broker.url))
        return made[-1]

    yield start
    for d in made:
        d.close()


class LookingForDeadHosts:
    """Another client of the broker that asks, on each of its commands, four times a second per lane, for the
    messages of hosts silent for `remote_heartbeat_s` to be requeued: a host taken for dead while it works
    loses its task to another host at once, rather than whenever Dramatiq's own chance comes."""

    def __init__(self, url: str):
        from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

        self.broker = RedisBroker(url=url, namespace=NAMESPACE, middleware=[], heartbeat_timeout=HEARTBEAT_S * 1000,
                                  maintenance_chance=MAINTENANCE_SCALE)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(0.25):
            for queue in QUEUES.values():
                self.broker.do_qsize(queue)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=10)
        self.broker.close()


def queue_reports(store, tmp_path, n: int) -> dict[str, str]:
    """n generated reports uploaded and queued: sha256 -> unit."""
    units = {}
    for i in range(n):
        unit, text = report(i)
        job, created = store_upload(store, tmp_path / "uploads", f"report_{i:03d}.txt", text.encode("utf-8"),
                                    "上传员")
        assert created
        units[job["sha256"]] = unit
    return units


def all_in_review(store, shas) -> bool:
    return all(store.job(sha)["state"] == "review" for sha in shas)


def hosts_ready(broker_url: str, n: int) -> bool:
    """Whether n worker hosts beat in Redis (Dramatiq's heartbeats, the dispatcher's own not yet among them)."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        return client.zcard(KEYS.heartbeats) >= n
    finally:
        client.close()


@pytest.mark.slow  # a redis-server and two worker host processes
def test_two_worker_hosts_extract_fifty_queued_reports_each_exactly_once(store, remote_settings, tmp_path, broker,
                                                                        hosts, dispatching):
    units = queue_reports(store, tmp_path, 50)
    hosts.start()
    hosts.start()
    wait_until(lambda: hosts_ready(broker.url, 2), "both worker hosts beating")
    dispatching()
    wait_until(lambda: all_in_review(store, units), "all 50 reports stored for review", timeout_s=300)
    started = hosts.started()
    assert set(started) == set(units) and set(started.values()) == {1}  # each extracted once, on one host
    assert len(hosts.pids()) == 2  # both hosts took part
    assert store.document_count() == 50 and store.run_count() == 50
    for sha, unit in units.items():  # each result stored for its own job
        job = store.job(sha)
        assert job["unit_name"] == unit and job["attempts"] == 1
        assert store.get_document(sha)["text"].startswith(unit)


@pytest.mark.slow  # a redis-server, and a worker host killed with kill -9
def test_a_worker_host_killed_mid_job_has_its_task_redelivered_and_the_document_is_stored_once(
        store, remote_settings, tmp_path, broker, hosts, dispatching):
    units = queue_reports(store, tmp_path, 3)
    held = next(iter(units))
    doomed = hosts.start(hold=held, hold_s=3600)
    wait_until(lambda: hosts_ready(broker.url, 1), "the first worker host beating")
    dispatching()
    wait_until(lambda: (tmp_path / "starts.log.held").exists(), "the held report extracted, its result not sent")
    hosts.kill(doomed)  # mid-job: the task taken, the document extracted, nothing sent back or acknowledged
    assert store.job(held)["state"] == "extracting"
    hosts.start()
    wait_until(lambda: all_in_review(store, units), "every report stored, the held one by the second host",
               timeout_s=120)
    assert hosts.started()[held] == 2  # delivered again after the death, extracted again
    assert store.job(held)["attempts"] == 1  # by the broker: the job was never claimed again in SQLite
    assert store.document_count() == 3 and store.run_count() == 3


@pytest.mark.slow  # a redis-server, two worker hosts, and a task held three heartbeat timeouts long
def test_a_task_running_longer_than_the_visibility_timeout_is_not_run_twice(store, remote_settings, tmp_path,
                                                                            broker, hosts, dispatching):
    units = queue_reports(store, tmp_path, 8)
    held = next(iter(units))
    # longer than the time a silent host is taken for dead; on the text lane only, so that while it runs this host
    # fetches nothing (its one thread busy), which is when Dramatiq's own heartbeat falls silent
    hosts.start(hold=held, hold_s=3 * HEARTBEAT_S + 2, lanes="text")
    wait_until(lambda: hosts_ready(broker.url, 1), "the first worker host beating")
    dispatching()
    wait_until(lambda: (tmp_path / "starts.log.held").exists(), "the long task running on the first host")
    looking = LookingForDeadHosts(broker.url)
    try:
        hosts.start()  # a second host, idle or working the other seven, all the while the long task runs
        wait_until(lambda: all_in_review(store, units), "every report stored", timeout_s=120)
    finally:
        looking.close()
    assert hosts.started()[held] == 1
    assert set(hosts.started().values()) == {1}
    assert store.document_count() == 8 and store.run_count() == 8


@pytest.mark.slow  # a redis-server and a worker host
def test_a_job_cancelled_while_its_task_runs_ends_cancelled_and_its_late_result_is_not_stored(
        store, remote_settings, tmp_path, broker, hosts, dispatching):
    import redis

    units = queue_reports(store, tmp_path, 2)
    held, other = units
    hosts.start(hold=held, hold_s=3)
    dispatching()
    wait_until(lambda: (tmp_path / "starts.log.held").exists(), "the held report extracted, its result not sent")
    assert store.cancel_job(held, "上传员")
    wait_until(lambda: store.job(held)["state"] == "failed", "the cancelled job ended")
    assert "取消" in store.job(held)["error"]
    client = redis.Redis.from_url(broker.url)
    assert client.hget(KEYS.claims, held) is None  # withdrawn: a host running it stops, one not yet skips it
    wait_until(lambda: any(client.scan_iter(KEYS.result(f"{held}.*"))), "the held task's late result sent back")
    wait_until(lambda: store.job(other)["state"] == "review", "the other report stored")
    assert store.job(held)["state"] == "failed" and store.run_count() == 1 and store.document_count() == 1
    client.close()


@pytest.mark.slow  # a redis-server and a worker host
def test_a_dispatcher_started_again_takes_back_its_jobs_in_flight_and_stores_what_arrived(
        store, remote_settings, tmp_path, broker, hosts, dispatching):
    import redis

    units = queue_reports(store, tmp_path, 2)
    held = next(iter(units))
    hosts.start(hold=held, hold_s=3)
    first = dispatching()
    wait_until(lambda: (tmp_path / "starts.log.held").exists(), "the held report extracted, its result not sent")
    first.close()  # the web host's dispatcher stops with the task still running
    client = redis.Redis.from_url(broker.url)
    wait_until(lambda: any(client.scan_iter(KEYS.result(f"{held}.*"))), "the result waiting in Redis")
    assert store.job(held)["state"] == "extracting"
    dispatching()
    wait_until(lambda: all_in_review(store, units), "both reports stored by the dispatcher started again")
    assert store.job(held)["attempts"] == 1 and hosts.started()[held] == 1  # taken back, not claimed again
    assert store.run_count() == 2
    client.close()


@pytest.mark.slow  # a redis-server and a worker host
def test_a_report_that_cannot_be_read_fails_with_its_reason_and_the_rest_are_stored(store, remote_settings,
                                                                                   tmp_path, hosts, dispatching):
    units = queue_reports(store, tmp_path, 2)
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4\n" + b"broken" * 50)
    failed, _ = store_upload(store, tmp_path / "uploads", bad.name, bad.read_bytes(), "上传员")
    hosts.start()
    dispatching()
    wait_until(lambda: all_in_review(store, units) and store.job(failed["sha256"])["state"] == "failed",
               "the good reports stored, the broken one failed")
    error = store.job(failed["sha256"])["error"]
    assert "scan.pdf" in error and any("\u4e00" <= ch <= "\u9fff" for ch in error)
    assert store.review_items(failed["sha256"]) == []


@pytest.mark.slow  # a redis-server and a worker host
def test_what_a_worker_host_stores_is_what_the_embedded_worker_stores(store, remote_settings, settings, tmp_path,
                                                                      hosts, dispatching):
    units = queue_reports(store, tmp_path, 4)
    hosts.start()
    dispatching()
    wait_until(lambda: all_in_review(store, units), "the reports stored")
    local = settings.replace(db=str(tmp_path / "embedded.db"))
    embedded = Store(local.db)
    try:
        for i in range(4):
            store_upload(embedded, tmp_path / "uploads", f"report_{i:03d}.txt", report(i)[1].encode("utf-8"),
                         "上传员")
            process_next(embedded, local)
        for sha in units:
            assert _kept(embedded, sha) == _kept(store, sha)
    finally:
        embedded.close()


def _kept(store, sha):
    """What the store keeps of a document's extraction, less times and ids."""
    doc = {k: v for k, v in store.get_document(sha).items() if k not in ("created_at", "names")}
    run = store.latest_run(sha)
    run = {k: v for k, v in run.items() if k not in ("id", "started_at", "finished_at")}
    run["stats"] = {k: v for k, v in (run.get("stats") or {}).items() if k != "seconds"}
    items = [{k: v for k, v in i.items() if k not in ("updated_at", "updated_by", "version")}
             for i in store.review_items(sha)]
    return doc, run, items


def test_a_broker_that_cannot_be_reached_is_a_clear_message_and_exit_status_1(runner):
    url = f"redis://127.0.0.1:{free_port()}/0"
    for command in (["worker", "--broker", url], ["dispatch", "--broker", url]):
        result = runner.invoke(remote, command)
        assert result.exit_code == 1
        assert "无法连接任务队列（Redis）" in result.output and url in result.output


def test_a_broker_url_that_is_not_one_or_none_at_all_is_said_so(runner, monkeypatch):
    result = runner.invoke(remote, ["worker", "--broker", "http://example.invalid/"])
    assert result.exit_code == 1 and "任务队列地址" in result.output and "无效" in result.output
    monkeypatch.delenv("JIXIAO_BROKER_URL", raising=False)
    result = runner.invoke(remote, ["dispatch"])
    assert result.exit_code == 1 and "未指定任务队列" in result.output


def test_a_password_in_the_broker_url_is_not_shown(runner):
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    result = runner.invoke(remote, ["worker", "--broker", url])
    assert result.exit_code == 1 and "s3cret" not in result.output and ":***@" in result.output
