"""A throwaway redis-server on a free loopback port, in a folder of its own: for the tests, the benchmarks and
trying the remote queue on one machine (`python -m service.remote.local_redis`). Never a production broker:
nothing is saved to disk."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REDIS_SERVER = "redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRedis:
    """`with LocalRedis() as r: r.url` — a redis-server started on entry and stopped (killed if need be) on
    exit; its folder is removed."""

    def __init__(self, folder: str | Path | None = None, executable: str = REDIS_SERVER):
        self.executable = shutil.which(executable) or executable
        self._own = folder is None
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="jixiao-redis-"))
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 20.0) -> LocalRedis:
        if shutil.which(self.executable) is None:
            raise RuntimeError(f"{self.executable} is not installed: apt-get install redis-server (make test does)")
        self.port = free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
             "--logfile", str(self.folder / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        give_up = time.monotonic() + timeout_s
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > give_up:
                log = (self.folder / "redis.log")
                said = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}: {said}")
            time.sleep(0.05)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._own:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # a broker to try `jixiao remote` with on one machine; Ctrl+C stops it
    with LocalRedis() as redis:
        print(redis.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            redis.proc.wait()
