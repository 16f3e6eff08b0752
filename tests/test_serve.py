"""`jixiao serve` as an operator starts it: the review app under gunicorn, extraction in a process of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from service.store import Store
from tests.conftest import SAMPLES, start_serve, wait_until

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"


def _descendants(pid: int) -> set[int]:
    """The processes started under `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


@pytest.mark.slow  # `jixiao serve` and its processes are started
def test_serve_answers_from_gunicorn_extracts_in_its_own_process_and_stops_everything_on_ctrl_c(tmp_path):
    env = {**os.environ, "JIXIAO_DB": str(tmp_path / "j.db"), "JIXIAO_INSTANCE": str(tmp_path / "inst"),
           "JIXIAO_ENGINE": "rules", "JIXIAO_WEB_WORKERS": "2"}
    proc, login_page = start_serve(env, cwd=tmp_path)
    try:
        with urllib.request.urlopen(login_page, timeout=5) as resp:
            assert resp.headers["Server"].startswith("gunicorn") and "登录" in resp.read().decode()
        submitted = subprocess.run([sys.executable, "-m", "service.cli", "submit", str(REPORT)], env=env,
                                   cwd=tmp_path, capture_output=True, text=True)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        store = Store(str(tmp_path / "j.db"))
        try:
            wait_until(lambda: store.jobs()[0]["state"] == "review", "the report in review")
            worker = store.jobs()[0]["claimed_by"] or ""
        finally:
            store.close()
        started = _descendants(proc.pid)
        assert len(started) >= 4  # two web workers, the extraction process and its document child
        web_pids = {int(p) for p in started if "serve" in Path(f"/proc/{p}/cmdline").read_text()}
        assert worker and int(worker.split(":")[1]) not in web_pids | {proc.pid}  # extracted outside the web
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        out = proc.communicate(timeout=60)[0]
    assert "后台提取进程已启动" in out and "网页服务 2 个进程" in out
    assert not [p for p in started if _alive(p)]  # nothing left running
