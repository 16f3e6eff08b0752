"""The broker: Dramatiq over Redis, and the few Redis keys of our own beside it.

Dramatiq carries the tasks to the worker hosts: a message stays in Redis until the actor that took it has
finished (acknowledged after completion), and the messages a worker host held when it died (no heartbeat for
`remote_heartbeat_s`) go back to the queue for another host. Its heartbeat is a worker process's, not a
task's: every broker command carries one, and a worker's delay-queue consumers keep fetching while all its
threads are busy, so a task that runs for an hour on a live host is not given to a second one (Celery's Redis
transport does: see BENCHMARKS.md, "Remote worker hosts"). A worker host prefetches no message beyond the ones
its threads work on, so no document waits behind a long one while another host sits idle.

Our own keys (`KEYS`): the claims the dispatcher stands behind (a task whose claim is gone is not run, or is
stopped), each task's deliveries, heartbeat and progress, and the results on their way back.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from service.errors import JixiaoError
from service.settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "jixiao"
QUEUES = {"text": "extract-text", "scan": "extract-scan"}  # lane -> Dramatiq queue
ACTORS = {lane: f"extract_{lane}" for lane in QUEUES}
BEAT_S = 1.0  # each running task's beat: its claim looked up, its time written (more often for a short heartbeat)
# Out of Dramatiq's million: how many broker commands also look for dead hosts' messages to requeue. Its default
# (1,000) finds them minutes after the heartbeat timeout; 100,000 within seconds, for a handful of ZRANGEBYSCORE.
MAINTENANCE_CHANCE = 100_000
RESULT_TTL_S = 7 * 24 * 3600  # a result nobody collected (its job was re-claimed) is forgotten after a week


class KEYS:
    claims = f"{NAMESPACE}:claims"  # hash: sha256 -> JSON of the claim the dispatcher stands behind
    done = f"{NAMESPACE}:done"  # list: task ids with a result waiting (wakes the dispatcher)
    heartbeats = f"{NAMESPACE}:__heartbeats__"  # Dramatiq's: broker id -> its last heartbeat (ms)

    @staticmethod
    def task(task_id: str) -> str:  # hash: deliveries, worker, beat_at, progress
        return f"{NAMESPACE}:task:{task_id}"

    @staticmethod
    def result(task_id: str) -> str:  # hash: head (JSON), result (JSON)
        return f"{NAMESPACE}:result:{task_id}"

    @staticmethod
    def dispatcher(name: str) -> str:  # string: the process that is this dispatcher now
        return f"{NAMESPACE}:dispatcher:{name}"

    @staticmethod
    def queue(queue: str) -> str:  # Dramatiq's list of the queue's waiting message ids
        return f"{NAMESPACE}:{queue}"

    @staticmethod
    def messages(queue: str) -> str:  # Dramatiq's hash of the queue's messages not yet acknowledged
        return f"{NAMESPACE}:{queue}.msgs"


def beat_every(settings: Settings) -> float:
    """How often a running task beats: BEAT_S, or four times within `remote_heartbeat_s` when that is short."""
    return min(BEAT_S, settings.remote_heartbeat_s / 4)


def shown_url(url: str) -> str:
    """The broker's address as messages and logs show it: any password replaced by ***."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


class BrokerUnreachable(JixiaoError):
    """The broker's address is wrong, or nothing answers there."""


def connect(url: str, timeout_s: float = 5.0) -> redis.Redis:
    """A Redis client of the broker at `url`, checked with a PING; BrokerUnreachable (in Chinese) when not."""
    if not url:
        raise BrokerUnreachable("未指定任务队列（Redis）地址：请用 --broker 或配置项 broker_url"
                                "（JIXIAO_BROKER_URL）给出，例如 redis://主机:6379/0")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=max(timeout_s, 30.0),
                                      health_check_interval=30)
    except ValueError as e:
        raise BrokerUnreachable(f"任务队列地址 {shown_url(url)} 无效（{e}）；应写成 redis://主机:端口/库号") from None
    try:
        client.ping()
    except redis.AuthenticationError as e:
        raise BrokerUnreachable(f"任务队列（Redis）{shown_url(url)} 拒绝了登录（{e}）；请检查地址中的密码") from None
    except redis.RedisError as e:
        raise BrokerUnreachable(f"无法连接任务队列（Redis）{shown_url(url)}：{e}；请确认 Redis 已启动、地址和端口"
                                "正确且本机可以访问") from None
    return client


@dataclass
class Broker:
    """Dramatiq's broker and our actors on it, for one process (a dispatcher or a worker host)."""

    url: str
    dramatiq: RedisBroker
    client: redis.Redis
    actors: dict[str, dramatiq.Actor]

    def send(self, lane: str, task: dict[str, Any]) -> str:
        """Queue a task in its lane's queue; the id of its message in Redis (to see it is still there)."""
        message = self.actors[lane].send(task)
        return message.options["redis_message_id"]

    def holds(self, lane: str, message_id: str) -> bool:
        """Whether the broker still holds this message: queued, running, or back in the queue after a death."""
        return bool(self.client.hexists(KEYS.messages(QUEUES[lane]), message_id))

    def alive(self, broker_id: str, heartbeat_s: float) -> bool:
        """Whether the Dramatiq broker of this id (a worker host's process) has beaten within `heartbeat_s`."""
        last = self.client.zscore(KEYS.heartbeats, broker_id)
        return last is not None and time.time() * 1000 - last < heartbeat_s * 1000

    def close(self) -> None:
        self.dramatiq.close()
        self.client.close()


def open_broker(url: str, settings: Settings, fn=None) -> Broker:
    """Connect (BrokerUnreachable when the broker cannot be reached) and declare the lanes' actors, running `fn`
    (a worker host's) or none (the dispatcher only sends)."""
    client = connect(url)
    # No middleware: no retries (a task's failure is its result; a redelivery is for a host that died) and no
    # time-limit thread raising into ours (the child process extracting a document has `job_timeout_s`).
    broker = RedisBroker(url=url, namespace=NAMESPACE, middleware=[],
                         heartbeat_timeout=int(settings.remote_heartbeat_s * 1000),
                         maintenance_chance=MAINTENANCE_CHANCE)
    actors = {lane: dramatiq.Actor(fn or _not_here, broker=broker, actor_name=ACTORS[lane], queue_name=queue,
                                   priority=0, options={})
              for lane, queue in QUEUES.items()}
    return Broker(url, broker, client, actors)


def _not_here(task: dict) -> None:  # the dispatcher's actors only send
    raise RuntimeError("the dispatcher does not run tasks")


class Beat(threading.Thread):
    """Calls `fn` every `every_s` until stopped; an error is logged and tried again at the next beat."""

    def __init__(self, fn, every_s: float, name: str):
        super().__init__(name=name, daemon=True)
        self.fn, self.every_s, self._stop_event = fn, every_s, threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            try:
                self.fn()
            except Exception as e:  # noqa: BLE001 - a missed beat is tried again; the next may work
                log.warning("%s: %s", self.name, e)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
