"""`jixiao remote`: worker hosts and the web host's dispatcher over a Redis broker (docs/deployment.md).

    jixiao remote dispatch --broker redis://queue-host:6379/0      # on the web host, beside jixiao serve --no-worker
    jixiao remote worker --broker redis://queue-host:6379/0        # on each worker host

Without `--broker`, the setting `broker_url` (JIXIAO_BROKER_URL) is used. A broker that cannot be reached is
said in Chinese and the command exits with status 1.
"""

from __future__ import annotations

import logging
import signal
import tempfile
import threading
from pathlib import Path

import click

from service.errors import JixiaoError
from service.remote.broker import QUEUES, BrokerUnreachable, connect, shown_url
from service.settings import Settings, load_settings

log = logging.getLogger(__name__)

LANE_CHOICES = ["all", *QUEUES]


def _settings(**overrides) -> Settings:
    try:
        return load_settings(**overrides)
    except JixiaoError as e:
        raise click.ClickException(str(e)) from None


def _broker_url(settings: Settings, given: str | None) -> str:
    url = given or settings.broker_url
    try:
        connect(url).close()
    except BrokerUnreachable as e:
        raise click.ClickException(str(e)) from None
    return url


def _until_signalled() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@click.group()
def remote() -> None:
    """远程处理：在其他机器上提取报告（经 Redis 任务队列），本机仍是唯一写入数据库的主机。"""


@remote.command()
@click.option("--broker", "broker", default=None, metavar="URL",
              help="Redis URL of the task queue, e.g. redis://host:6379/0 (setting broker_url).")
@click.option("--lane", type=click.Choice(LANE_CHOICES), default="all", show_default=True,
              help="Which tasks: text files, .docx and text PDFs (text), images and scanned PDFs (scan), or all.")
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="Documents extracted at once, each in its own process (setting worker_processes).")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="This host's working folder: files being extracted, and answers.db, its LLM answer cache "
                   "(default: jixiao-remote in the system's temporary folder).")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def worker(broker: str | None, lane: str, processes: int | None, folder: Path | None, quiet: bool) -> None:
    """Extract documents sent by the web host's dispatcher (run on each worker host)."""
    from service.remote.worker import RemoteWorker

    settings = _settings()
    url = _broker_url(settings, broker)
    lanes = tuple(QUEUES) if lane == "all" else (lane,)
    threads = processes or settings.worker_processes
    folder = folder or Path(tempfile.gettempdir()) / "jixiao-remote"
    try:
        host = RemoteWorker(url, settings, folder, lanes, threads)
    except (JixiaoError, OSError) as e:
        raise click.ClickException(str(e)) from None
    if not quiet:
        click.echo(f"远程处理节点已启动（{threads} 个同时处理，处理通道 {'、'.join(lanes)}），任务队列 "
                   f"{shown_url(url)}（Ctrl+C 停止）")
    host.run(_until_signalled())


@remote.command()
@click.option("--broker", "broker", default=None, metavar="URL",
              help="Redis URL of the task queue, e.g. redis://host:6379/0 (setting broker_url).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
@click.option("--lane", type=click.Choice(LANE_CHOICES), default="all", show_default=True,
              help="Which queued jobs to send to worker hosts.")
@click.option("--name", default="dispatch", show_default=True,
              help="This dispatcher's name: one process per name; started again, it takes back its jobs in flight.")
@click.option("--until-empty", is_flag=True, help="Stop when nothing is queued or in flight.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def dispatch(broker: str | None, db: str | None, lane: str, name: str, until_empty: bool, quiet: bool) -> None:
    """Send queued jobs to worker hosts and store their results (run on the web host, the database's host)."""
    from service.remote.dispatch import run_dispatcher
    from service.store import Store

    settings = _settings(db=db)
    url = _broker_url(settings, broker)
    try:
        store = Store(settings.db)
    except JixiaoError as e:
        raise click.ClickException(str(e)) from None
    lanes = None if lane == "all" else (lane,)
    if not quiet:
        click.echo(f"远程分发进程已启动：数据库 {settings.db}，任务队列 {shown_url(url)}"
                   + ("" if until_empty else "（Ctrl+C 停止）"))
    try:
        done = run_dispatcher(store, settings, url, None if until_empty else _until_signalled(), until_empty,
                              name, lanes)
    except JixiaoError as e:
        raise click.ClickException(str(e)) from None
    finally:
        store.close()
    if not quiet and until_empty:
        click.echo(f"已处理 {done} 个任务")
