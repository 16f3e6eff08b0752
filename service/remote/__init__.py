"""Extraction on other machines: worker hosts fed by a task queue over Redis, the web host the one writer of the
SQLite file (docs/deployment.md; `jixiao remote dispatch` on the web host, `jixiao remote worker` on each worker
host). The embedded queue (`jixiao worker`, `jixiao serve`) is untouched: nothing here runs unless asked for.

Extracting a document is a pure function of its bytes and the settings (`service.worker.extract`), so a worker
host needs neither the database nor the uploads folder: the dispatcher (`dispatch`) claims a queued job from
SQLite with its lease, as the embedded worker does, and sends a task carrying the file's bytes and the
settings; a worker host (`worker`) extracts it in a child process under the job limits and sends the result
back as JSON (`codec`); the dispatcher stores it with `complete_job` / `fail_job`, exactly once per claim.

Why Dramatiq (`broker`): measured against Celery and RQ over the same Redis (benchmarks/remote_bench.py
choose, BENCHMARKS.md "Remote worker hosts"). All three keep a message until its task has finished; only
Celery and Dramatiq gave a task whose worker was killed with kill -9 to another worker (RQ did not within
200 s), and only RQ and Dramatiq ran a task longer than the broker's visibility timeout once (Celery's Redis
transport started a 75 s task three times with a 10 s visibility timeout: it counts from delivery, whatever
the worker is doing). Dramatiq's liveness is a worker's heartbeat, not a per-task clock, which is what a
document that takes an hour to OCR needs. It is small (no dependencies of its own beyond redis-py) and speaks
JSON, so nothing from the network is unpickled.
"""
