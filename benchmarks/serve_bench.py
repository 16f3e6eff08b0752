"""Requests per second of `jixiao serve` under 8 connections: gunicorn (the default) against Flask's own server.

    .venv/bin/python benchmarks/serve_bench.py                  # 1,000 documents, 3 rounds of 10 s per server
    .venv/bin/python benchmarks/serve_bench.py --documents 10000 --rounds 5 --seconds 20

The database is seeded as in `web_bench.py` (one real report extracted, the rest inserted in state 待审核).
Each server is started as an operator starts it (`jixiao serve --no-worker`, and `--dev-server`), a reviewer
logs in through the log-in form, and 8 client processes, each with its own keep-alive connection and the
reviewer's cookie, request the page over and over for the given seconds. The two servers alternate, round by
round (A B A B …), so that other load on the machine falls on both; the medians and the ratio are printed as
a markdown table. The load generator runs on the same 2 cores, as a reviewer's browser would not: the figures
are a floor for the server.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx  # the project's HTTP client (pyproject: httpx2)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from web_bench import seed  # noqa: E402

PASSWORD = "bench-password"  # web_bench.seed's reviewer 审核员


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db: str, instance: str, dev: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "JIXIAO_DB": db, "JIXIAO_INSTANCE": instance, "JIXIAO_ENGINE": "rules"}
    args = [sys.executable, "-m", "service.cli", "serve", "--no-worker", "--port", str(port)]
    proc = subprocess.Popen([*args, *(["--dev-server"] if dev else [])], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/auth/login", timeout=2)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def log_in(base: str) -> httpx.Cookies:
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        page = client.get("/auth/login").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        resp = client.post("/auth/login", data={"csrf_token": token, "name": "审核员", "password": PASSWORD})
        assert resp.status_code in (302, 303), resp.status_code
        return client.cookies


def _client(base: str, path: str, cookies: dict, until: float, out) -> None:
    n = 0
    with httpx.Client(base_url=base, cookies=cookies, timeout=30) as c:
        while time.time() < until:
            assert c.get(path).status_code == 200
            n += 1
    out.put(n)


def hammer(base: str, path: str, cookies: httpx.Cookies, connections: int, seconds: float) -> float:
    """Requests per second, `connections` client processes (each its own keep-alive connection) for
    `seconds`; processes rather than threads, so that the client's own GIL is not what is measured."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    t0 = time.time()
    until = t0 + seconds
    procs = [ctx.Process(target=_client, args=(base, path, dict(cookies), until, out)) for _ in range(connections)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    return total / (time.time() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    import random

    with tempfile.TemporaryDirectory() as tmp:
        db, real = seed(Path(tmp), args.documents, random.Random(7))
        instance = str(Path(tmp) / "instance")
        pages = [("queue", "/queue"), ("review page", f"/documents/{real}")]
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name, dev in (("gunicorn", False), ("flask dev server", True)):
                proc, base = start(db, instance, dev)
                try:
                    cookies = log_in(base)
                    for label, path in pages:
                        hammer(base, path, cookies, args.connections, 1.0)  # warm-up
                        results.setdefault((name, label), []).append(
                            hammer(base, path, cookies, args.connections, args.seconds))
                finally:
                    proc.terminate()
                    proc.wait(30)
    print(f"\n{args.connections} connections, {args.documents} documents, {args.rounds} rounds × {args.seconds:g} s "
          f"(cores: {os.cpu_count()})\n")
    print("| page | gunicorn req/s | Flask dev server req/s | ratio |")
    print("|---|---|---|---|")
    for label, _ in pages:
        g = statistics.median(results[("gunicorn", label)])
        d = statistics.median(results[("flask dev server", label)])
        print(f"| {label} | {g:.0f} | {d:.0f} | {g / d:.2f}× |")


if __name__ == "__main__":
    main()
