"""`jixiao serve`: the review app under a production WSGI server, and the extraction worker in its own process.

The web app runs under gunicorn (`web_workers` processes, `web_threads` request threads each): Flask's own
server is one process and was measured at a third of gunicorn's throughput under 8 connections, and a scan
being read beside it held up every page. Each gunicorn worker builds its own app (and so its own database
connection) after the fork. Extraction never runs in the web server's processes: `extraction_process` starts
`jixiao worker`, which works the queue's lanes (`lanes`: a text lane and a scan lane, so a text report is never
behind a scan; the scan lane runs `worker_processes` documents at once), each document in a child process
under the job limits (`service.isolate`). Gunicorn is used through its documented custom-application API
(`gunicorn.app.base.BaseApplication`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading

from gunicorn.app.base import BaseApplication

from service.settings import Settings

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30  # seconds the extraction process gets to stop its workers before it is killed


class ReviewServer(BaseApplication):
    """The review app under gunicorn, with the options `jixiao serve` sets."""

    def __init__(self, settings: Settings, host: str, port: int):
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}",
            "workers": settings.web_workers,
            "worker_class": "gthread",
            "threads": settings.web_threads,
            "timeout": 120,  # a worker silent this long (a stuck request) is restarted
            "graceful_timeout": 10,
            "max_requests": 0,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "jixiao-serve",
            "forwarded_allow_ips": "*" if settings.proxy_hops > 0 else "127.0.0.1",
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from review_ui import create_app

        return create_app(settings=self.settings)


def lanes_and_counts(settings: Settings, lane: str = "all", processes: int | None = None
                     ) -> list[tuple[tuple[str, ...] | None, int]]:
    """(lanes, loops) for each kind of worker loop a worker host runs. For every lane (`lane` "all"): one loop
    for text and `processes` (by default `worker_processes`) for the scan lane, or one loop over every lane
    when the setting `lanes` names fewer than two; for one lane, `processes` loops of it."""
    from service.worker import SCAN_LANE, lanes_of

    processes = processes or settings.worker_processes
    if lane != "all":
        return [((lane,), processes)]
    return [(lanes, processes if lanes in ((SCAN_LANE,), None) else 1) for lanes in lanes_of(settings)]


def work_lanes(settings: Settings, stop: threading.Event, loops) -> None:
    """Work the queue until `stop` is set: a thread per worker loop (`loops` from `lanes_and_counts`), each
    extracting its documents in its own child process under the job limits."""
    from service.worker import start_worker_thread

    stops = [start_worker_thread(settings.db, settings, lanes=lanes, isolate=True)
             for lanes, count in loops for _ in range(count)]
    stop.wait()
    for s in stops:
        s.set()


def extraction_process(settings: Settings) -> subprocess.Popen:
    """`jixiao worker` on the same database, started beside the web server. A separate program rather than a
    multiprocessing child: gunicorn forks its workers from this process, and a forked copy of a
    multiprocessing parent tries to join children that are not its own."""
    env = {**os.environ, "JIXIAO_DB": settings.db, "JIXIAO_INSTANCE": settings.instance}
    return subprocess.Popen([sys.executable, "-c", "from service.cli import main; main()", "worker", "--quiet"],
                            env=env)


def stop_process(proc: subprocess.Popen) -> None:
    """Ask the extraction process to stop (SIGINT, as Ctrl+C); kill it when it has not within STOP_TIMEOUT_S."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("extraction process did not stop in %s s; killing it", STOP_TIMEOUT_S)
            proc.kill()
            proc.wait()
