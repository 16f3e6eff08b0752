"""The `jixiao` command: a thin layer over service.pipeline. Messages for operators are in Chinese."""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
from pathlib import Path

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.errors import JixiaoError
from service.extract.engines import Engine, RulesEngine, build_engine
from service.extract.llm.config import resolve_engine
from service.ingest import UPLOAD_SUFFIXES
from service.labels import ROLES
from service.models import REVIEW
from service.pipeline import FileResult, expand_inputs, run_batch
from service.record import Record
from service.settings import ENGINE_CHOICES, SETTINGS, Settings, load_settings
from service.store import Store
from service.threshold_report import applied_lines
from service.thresholds import for_jobs
from service.units.registry import CATEGORIES as UNIT_CATEGORIES

console = Console()
ROOT = Path(__file__).resolve().parents[1]  # a source checkout
CASSETTES = ROOT / "cassettes"  # recorded LLM answers
# The demo's reports: written by the project's authors in eight layouts (made-up units and figures, see
# its README), with their recorded LLM answers in cassettes/new_layouts. Real reports are never bundled.
DEMO_REPORTS = ROOT / "tests" / "data" / "new_layouts"
err_console = Console(stderr=True)


class Refused(click.ClickException):
    """What the command cannot do, said in Chinese on stderr with exit status 1: 「错误：找不到文件 …」 (click's own
    ClickException puts an English 「Error:」 in front)."""

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True, file=file)


def _settings(**overrides) -> Settings:
    try:
        return load_settings(**overrides)
    except JixiaoError as e:
        raise Refused(str(e)) from None


def _open_store(settings: Settings) -> Store:
    try:
        return Store(settings.db)
    except JixiaoError as e:
        raise Refused(str(e)) from None


@click.group()
@click.version_option(package_name="jixiao")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
def cli(verbose: bool) -> None:
    """jixiao（绩效）：把部门整体支出绩效自评报告变成经过核验的结构化数据。"""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the record JSON files (<file stem>.json).")
@click.option("--engine", type=click.Choice(ENGINE_CHOICES), default=None,
              help="Extraction engine (default from JIXIAO_ENGINE: auto = the LLM when configured, else rules).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
@click.option("--no-store", is_flag=True, help="Write JSON only, do not save to the database.")
@click.option("--no-cache", is_flag=True, help="Ask the LLM again even where an answer is cached.")
@click.option("--resume", is_flag=True,
              help="Skip files this engine version already extracted into --out (continue a stopped batch).")
@click.option("--replay", "replay_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --engine llm: answer from recorded cassettes (<dir>/<file stem>.yaml), no network.")
def extract(files: tuple[Path, ...], out_dir: Path, engine: str | None, db: str | None, no_store: bool,
            no_cache: bool, resume: bool, replay_dir: Path | None) -> None:
    """Extract every FILE (.txt .docx .pdf .png .jpg .tif, or a folder of them) into record JSON."""
    settings = _settings(db=db, engine=engine)
    paths = _inputs(files)
    if not paths:
        raise Refused("没有找到要处理的文件")
    store = None if no_store else _open_store(settings)
    engine = _build_engine(settings, replay_dir, cache=None if no_cache else store)
    if isinstance(engine, RulesEngine):
        why = "离线规则" if settings.engine == "rules" else "未配置大模型接口，使用离线规则"
        console.print(f"提取引擎：rules（{why}）；共 {len(paths)} 个文件")
    else:
        where = f"回放录制的回答（{replay_dir}），不联网" if replay_dir is not None else engine.client.endpoint.model
        console.print(f"提取引擎：大模型（{where}）；共 {len(paths)} 个文件", soft_wrap=True)
    try:
        in_force = for_jobs(settings, store) if store is not None else settings  # with the applied 校准
        results = _run_with_progress(paths, in_force, store, out_dir, engine, resume)
    finally:
        engine.close()
    _print_summary(results)
    if not isinstance(engine, RulesEngine):
        llm, u = engine, engine.usage
        console.print(f"大模型：{llm.calls} 次调用，{u.requests} 个请求（含重问与重试；缓存命中不计），"
                      f"输入 {u.prompt_tokens} tokens，输出 {u.completion_tokens} tokens，"
                      f"费用约 {u.cost(settings):.4f}", soft_wrap=True)
    failed = [r for r in results if not r.ok]
    for r in failed:
        err_console.print(f"[red]错误[/red] {r.error}", soft_wrap=True)
    ok = len(results) - len(failed)
    saved = "" if no_store else f"，并保存到数据库 {settings.db}"
    console.print(f"完成：成功 {ok} 个，失败 {len(failed)} 个。记录已写入 {out_dir}/{saved}", soft_wrap=True)
    if failed:
        raise SystemExit(1)


def _run_with_progress(paths, settings, store, out_dir, engine: Engine, resume=False) -> list[FileResult]:
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err_console, transient=True, disable=len(paths) < 2) as progress:
        task = progress.add_task("处理中", total=len(paths))
        return run_batch(paths, settings, store, out_dir, engine=engine, resume=resume,
                         workers=settings.llm_concurrency if engine.concurrent else 1,
                         on_done=lambda r: progress.update(task, advance=1, description=r.path.name))


def _print_summary(results: list[FileResult]) -> None:
    table = Table(title="处理结果")
    for col in ("文件", "页数", "OCR", "提取字段", "待复核", "指标行", "错误"):
        table.add_column(col, overflow="fold")  # a reason or a file name is wrapped, never cut off
    for r in results:
        if r.stats.get("skipped"):
            table.add_row(r.path.name, "-", "-", "-", "-", "-", "已完成，跳过")
            continue
        table.add_row(r.path.name, str(r.pages) if r.ok else "-", ("是" if r.ocr else "否") if r.ok else "-",
                      str(r.fields_found) if r.ok else "-", str(r.fields_review) if r.ok else "-",
                      str(r.indicators) if r.ok else "-", "" if r.ok else (r.error or "").split("：", 1)[-1])
    console.print(table)


@cli.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web app listens on.")
@click.option("--port", default=5000, show_default=True, help="Port of the web app.")
@click.option("--no-serve", is_flag=True, help="Load and extract the demo reports, print the log-in, do not start the web app.")
def demo(db: str | None, host: str, port: int, no_serve: bool) -> None:
    """Load the eight demo reports (made-up, in eight layouts), extract them for review, serve the review app."""
    from service.worker import run_worker, store_upload

    settings = _settings(db=db)
    store = _open_store(settings)
    samples = sorted(DEMO_REPORTS.glob("*.txt"))
    if not samples:
        raise Refused(f"找不到演示报告：{DEMO_REPORTS}（演示需在源码目录中运行）")
    engine = _demo_engine(settings, store, len(samples))
    uploads = Path(settings.instance) / "uploads"
    shas = [store_upload(store, uploads, p.name, p.read_bytes(), "演示")[0]["sha256"] for p in samples]
    try:
        run_worker(store, settings, engine, until_empty=True)
    finally:
        engine.close()
    jobs = sorted(store.jobs(shas), key=lambda j: j["name"])
    _print_jobs(jobs)
    ok = [j for j in jobs if j["state"] in ("review", "confirmed")]
    console.print(f"已将 {len(ok)} 份报告载入数据库 {settings.db}，其中 {sum(j['flagged'] for j in ok)} 项需人工复核。"
                  f"数据库现有 {store.document_count()} 份文档、{store.run_count()} 次提取记录。", soft_wrap=True)
    password = _demo_login(store)
    console.print(f"审核界面：http://{host}:{port}/auth/login  用户名 demo  密码 {password}（管理员，每次演示重新生成）",
                  soft_wrap=True)
    store.close()
    if len(ok) < len(jobs):
        raise SystemExit(1)
    if not no_serve:
        _serve(settings, host, port, worker=True)


def _print_jobs(jobs: list[dict]) -> None:
    from service.review import STATE_NAMES

    table = Table(title="处理结果")
    for col in ("文件", "单位", "年度", "状态", "待复核", "原因"):
        table.add_column(col, overflow="fold")  # a reason or a file name is wrapped, never cut off
    for j in jobs:
        table.add_row(j["name"], j["unit_name"] or "-", str(j["fiscal_year"] or "-"), STATE_NAMES[j["state"]],
                      str(j["flagged"]), j["error"] or "")
    console.print(table)


def _demo_login(store: Store) -> str:
    """The demo administrator, with a new random password each time."""
    import secrets

    from werkzeug.security import generate_password_hash

    password = secrets.token_urlsafe(9)
    user = store.get_user("demo")
    if user is None:
        store.add_user("demo", "admin", generate_password_hash(password))
    else:
        store.update_user(user["id"], password_hash=generate_password_hash(password), active=1, role="admin")
    return password


def _serve(settings: Settings, host: str, port: int, worker: bool, dev_server: bool = False) -> None:
    """The review app under gunicorn (Flask's own server with `dev_server`), the extraction worker beside it
    in its own process (`service.serve`)."""
    from service.serve import ReviewServer, extraction_process, lanes_and_counts, stop_process

    try:
        loops = lanes_and_counts(settings) if worker else []
    except JixiaoError as e:
        raise Refused(str(e)) from None
    names = "、".join(("全部" if lane is None else {"text": "文本", "scan": "扫描件"}[lane[0]])
                     + (f" ×{count}" if count > 1 else "") for lane, count in loops)
    proc = extraction_process(settings) if worker else None
    console.print(f"审核界面已启动：http://{host}:{port}/  （Ctrl+C 停止）"
                  + (f"，后台提取进程已启动（{names}）" if worker else "")
                  + ("；开发服务器，仅供调试" if dev_server else
                     f"；网页服务 {settings.web_workers} 个进程 × {settings.web_threads} 个线程"), soft_wrap=True)
    try:
        if dev_server:
            from review_ui import create_app

            create_app(settings=settings).run(host=host, port=port, threaded=True, use_reloader=False)
        else:
            ReviewServer(settings, host, port).run()
    finally:
        if proc is not None:
            stop_process(proc)


@cli.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@click.option("--no-worker", is_flag=True, help="Do not start a background worker (run `jixiao worker` separately).")
@click.option("--dev-server", is_flag=True, help="Flask's development server in one process (debugging only).")
def serve(db: str | None, host: str, port: int, no_worker: bool, dev_server: bool) -> None:
    """Serve the review app (log-in at /auth/login) under gunicorn, with the extraction worker in its own process."""
    settings = _settings(db=db)
    _open_store(settings).close()
    _serve(settings, host, port, worker=not no_worker, dev_server=dev_server)


@cli.command()
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
@click.option("--until-empty", is_flag=True, help="Stop when no job is queued instead of waiting for more.")
@click.option("--lane", type=click.Choice(["all", "text", "scan"]), default="all", show_default=True,
              help="Which jobs: text files, .docx and text PDFs (text), images and scanned PDFs (scan), or all "
                   "(a text worker and the scan workers side by side, so a text report is never behind a scan).")
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="Documents extracted at once, each in its own process: the scan lane's (with --lane all) or "
                   "the lane's (setting worker_processes).")
@click.option("--quiet", is_flag=True, help="Print nothing (as started by jixiao serve).")
def worker(db: str | None, until_empty: bool, lane: str, processes: int | None, quiet: bool) -> None:
    """Extract uploaded reports from the job queue (the same queue `jixiao serve` feeds)."""
    from service.serve import lanes_and_counts, work_lanes

    settings = _settings(db=db)
    _open_store(settings).close()  # migrated, or a clear message, before any worker starts
    try:
        loops = lanes_and_counts(settings, lane, processes)
    except JixiaoError as e:
        raise Refused(str(e)) from None
    if not quiet:
        console.print(f"后台提取进程已启动（{sum(n for _, n in loops)} 个同时处理），数据库 {settings.db}"
                      + ("" if until_empty else "（Ctrl+C 停止）"), soft_wrap=True)
    if until_empty:
        done = _work_until_empty(settings, loops)
        if not quiet:
            console.print(f"已处理 {done} 个任务")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    work_lanes(settings, stop, loops)


def _work_until_empty(settings: Settings, loops) -> int:
    """Every loop until its lanes are empty, at once; the jobs processed."""
    from service.worker import run_worker

    done: list[int] = []

    def loop(lanes) -> None:
        store = Store(settings.db)
        try:
            done.append(run_worker(store, settings, until_empty=True, lanes=lanes, isolate=True))
        finally:
            store.close()

    threads = [threading.Thread(target=loop, args=(lanes,)) for lanes, count in loops for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


@cli.command()
@click.argument("documents", nargs=-1)
@click.option("--llm-failures", is_flag=True, help="Every document in review whose LLM calls failed (an outage).")
@click.option("--failed", "failed_jobs", is_flag=True, help="Every job that failed.")
@click.option("--run", "run_now", is_flag=True, help="Extract them now, then stop (no web app needed).")
@click.option("--user", default=None, help="Name recorded in the audit log (default: your login name).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def reextract(documents: tuple[str, ...], llm_failures: bool, failed_jobs: bool, run_now: bool, user: str | None,
              db: str | None) -> None:
    """Queue DOCUMENTS (SHA-256 or its first 12+ characters) for extraction again, e.g. after an LLM outage or
    with another engine or model; what reviewers confirmed, corrected or deleted is kept."""
    import getpass

    from service.worker import run_worker

    settings = _settings(db=db)
    store = _open_store(settings)
    user = user or f"命令行（{getpass.getuser()}）"
    shas, unknown = store.jobs_to_reextract(llm_failures, failed_jobs), []
    for prefix in documents:
        hexed = re.fullmatch(r"[0-9a-fA-F]{12,64}", prefix) is not None
        found = [j["sha256"] for j in store.jobs_by_prefix(prefix)] if hexed else []
        if len(found) == 1:
            shas.append(found[0])
        else:
            unknown.append(prefix)
    if not shas and not unknown:
        store.close()
        raise Refused("没有要重新提取的文档（给出文档的 SHA-256，或用 --llm-failures / --failed）")
    queued = [sha for sha in dict.fromkeys(shas) if store.reextract_job(sha, user)]
    skipped = len(dict.fromkeys(shas)) - len(queued)
    if run_now and queued:
        run_worker(store, settings, until_empty=True, isolate=True)
    console.print(f"已重新排队 {len(queued)} 份" + (f"，{skipped} 份不在待审核或失败状态（已确认的请先重新打开）" if skipped else "")
                  + ("；已处理完毕" if run_now and queued else ""), soft_wrap=True)
    for prefix in unknown:
        err_console.print(f"[red]错误[/red] 找不到文档 {prefix}（需要 SHA-256 或其前 12 位以上）", soft_wrap=True)
    store.close()
    if unknown or skipped:
        raise SystemExit(1)


def _inputs(files: tuple[Path, ...]) -> list[Path]:
    """The files to read (`expand_inputs`), saying which files of a folder were skipped as no report."""
    skipped: list[Path] = []
    paths = expand_inputs(files, skipped)
    if skipped:
        kinds = "、".join(s for group in UPLOAD_SUFFIXES.values() for s in group)
        err_console.print(f"已跳过 {len(skipped)} 个不是报告的文件（{'、'.join(p.name for p in skipped[:10])}"
                          f"{' 等' if len(skipped) > 10 else ''}）：只读取 {kinds}", soft_wrap=True, highlight=False)
    return paths


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--user", default=None, help="Name recorded as the uploader (default: your login name).")
@click.option("--run", "run_now", is_flag=True, help="Extract the queued files now, then stop (no web app needed).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def submit(files: tuple[Path, ...], user: str | None, run_now: bool, db: str | None) -> None:
    """Queue every FILE (or folder of them) for extraction and review, as an upload in the web app would."""
    import getpass

    from service.errors import IngestError
    from service.ingest import read_file
    from service.review import STATE_NAMES
    from service.worker import REJECTED, run_worker
    from service.worker import submit as submit_one

    settings = _settings(db=db)
    paths = _inputs(files)
    if not paths:
        raise Refused("没有找到要提交的文件")
    store = _open_store(settings)
    uploads = Path(settings.instance) / "uploads"
    user = user or f"命令行（{getpass.getuser()}）"
    results = []
    for path in paths:
        try:
            data = read_file(path, settings)
        except IngestError as e:
            results.append({"name": path.name, "outcome": REJECTED, "message": e.reason, "job": None})
            continue
        results.append(submit_one(store, uploads, path.name, data, user, settings))
    if run_now and any(r["job"] for r in results):
        run_worker(store, settings, until_empty=True, isolate=True)
    names = {"queued": "已排队", "duplicate": "已上传过", "rejected": "已拒绝", "failed": "未保存"}
    table = Table(title="提交结果")
    for col in ("文件", "结果", "状态", "待复核", "说明"):
        table.add_column(col, overflow="fold")  # a reason or a file name is wrapped, never cut off
    jobs = {j["sha256"]: j for j in store.jobs([r["job"]["sha256"] for r in results if r["job"]])}
    for r in results:
        job = jobs.get(r["job"]["sha256"]) if r["job"] else None
        table.add_row(r["name"], names[r["outcome"]], STATE_NAMES.get(job["state"], "") if job else "",
                      str(job["flagged"]) if job and job["state"] in ("review", "confirmed") else "",
                      (job.get("error") or r["message"]) if job and job["state"] == "failed" else r["message"])
    console.print(table)
    counts = {k: sum(r["outcome"] == k for r in results) for k in names}
    then = "已处理完毕" if run_now else "由 jixiao serve 或 jixiao worker 在后台处理"
    not_stored = f"，未能保存 {counts['failed']} 个（见说明）" if counts["failed"] else ""
    console.print(f"新排队 {counts['queued']} 个，已上传过 {counts['duplicate']} 个，拒绝 {counts['rejected']} 个"
                  f"{not_stored}；{then}。数据库 {settings.db}", soft_wrap=True)
    store.close()
    failed = [j for j in jobs.values() if j["state"] == "failed"]
    if counts["rejected"] or counts["failed"] or failed:
        raise SystemExit(1)


@cli.group()
def users() -> None:
    """Accounts of the review app: operators upload, reviewers review, admins manage users."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="The user's role.")
@click.option("--password", prompt="密码", hide_input=True, confirmation_prompt="再次输入密码",
              help="Asked for when not given.")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def users_add(name: str, role: str, password: str, db: str | None) -> None:
    """Add user NAME with a role; the password is asked for and stored hashed."""
    from werkzeug.security import generate_password_hash

    if len(password) < 8:
        raise Refused("密码至少 8 位")
    store = _open_store(_settings(db=db))
    try:
        store.add_user(name.strip(), role, generate_password_hash(password))
    except JixiaoError as e:
        raise Refused(str(e)) from None
    console.print(f"已添加用户 {name}（{role}）")


@users.command("list")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def users_list(db: str | None) -> None:
    """List the users and their roles."""
    for u in _open_store(_settings(db=db)).list_users():
        click.echo(f"{u['name']}\t{u['role']}\t{'active' if u['active'] else 'inactive'}")


@cli.group()
def tokens() -> None:
    """API tokens for the read-only JSON API (docs/api.md); admins issue them here or on the app's API 令牌 page."""


@tokens.command("issue")
@click.argument("name")
@click.option("--by", "user", default="命令行", show_default=True, help="Who issues it (kept with the token).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def tokens_issue(name: str, user: str, db: str | None) -> None:
    """Issue a token for NAME (what it is for); it is printed once and kept only as its SHA-256."""
    from service import api_tokens

    name = name.strip()
    if not name or len(name) > api_tokens.MAX_NAME:
        raise Refused(f"请写明令牌的用途（1 到 {api_tokens.MAX_NAME} 个字）")
    token, digest = api_tokens.new_token()
    _open_store(_settings(db=db)).issue_token(name, digest, user)
    console.print(f"已签发令牌「{name}」，请立即保存（不会再次显示）：", highlight=False)
    click.echo(token)


@tokens.command("list")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def tokens_list(db: str | None) -> None:
    """The tokens issued: id, what for, by whom, when, last use, and whether revoked."""
    for t in _open_store(_settings(db=db)).list_tokens():
        state = f"revoked {t['revoked_at']} by {t['revoked_by']}" if t["revoked_at"] else "active"
        click.echo(f"{t['id']}\t{t['name']}\t{t['created_by']}\t{t['created_at']}\t{t['last_used_at'] or '-'}\t{state}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.option("--by", "user", default="命令行", show_default=True, help="Who revokes it (kept with the token).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def tokens_revoke(token_id: int, user: str, db: str | None) -> None:
    """Revoke token TOKEN_ID (see `jixiao tokens list`): programs using it can no longer read."""
    if not _open_store(_settings(db=db)).revoke_token(token_id, user):
        raise Refused(f"没有编号为 {token_id} 的有效令牌")
    console.print(f"已撤销令牌 {token_id}")


@cli.group()
def units() -> None:
    """The list of units expected to report (应报送单位): import it from CSV or XLSX, list it."""


@units.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--user", default=None, help="Name recorded in the units' audit (default: your login name).")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def units_import(file: Path, user: str | None, db: str | None) -> None:
    """Import FILE (CSV or XLSX: 名称, 类别, optional 代码 and 别名) into the list: units matched by code, else by
    name, are updated, the others added; all of it or, on any bad row, nothing (exit 1, the rows named)."""
    import getpass

    from service.units.importing import read_units_file

    settings = _settings(db=db)
    if not file.is_file():
        raise Refused(f"找不到文件 {file}（或它不是普通文件）")
    try:
        data = file.read_bytes()
    except OSError as e:
        raise Refused(f"无法读取 {file}：{e.strerror or e}") from None
    store = _open_store(settings)
    try:
        rows = read_units_file(file.name, data, settings.max_unpacked_bytes)
        counts = store.import_units(rows, user or f"命令行（{getpass.getuser()}）", file.name)
        total = len(store.list_units())
    except JixiaoError as e:
        raise Refused(str(e)) from None
    finally:
        store.close()
    console.print(f"已导入 {file.name}：新增 {counts['added']} 个，更新 {counts['updated']} 个，"
                  f"{counts['unchanged']} 个未改动；名单现有 {total} 个单位", soft_wrap=True)


@units.command("list")
@click.option("--category", type=click.Choice(list(UNIT_CATEGORIES)), default=None, help="Only this category.")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def units_list(category: str | None, db: str | None) -> None:
    """List the units: name, category, code and aliases, tab-separated."""
    store = _open_store(_settings(db=db))
    try:
        found = [u for u in store.list_units() if category is None or u["category"] == category]
    finally:
        store.close()
    for u in found:
        click.echo("\t".join([u["name"], u["category"], u["code"] or "", "、".join(u["aliases"])]))
    if not found:
        err_console.print("名单是空的：请先用 jixiao units import 导入" if category is None else f"名单中没有{category}")


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), required=True, help="Output format.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="File (csv, xlsx) or folder (json: one <report>.json per confirmed report).")
@click.option("--year", type=int, default=None, help="Only the reports of this year (评价年度).")
@click.option("--unit", default=None, help="Only the reports of units whose name contains this text.")
@click.option("--keys", is_flag=True, help="CSV: the field keys as the header (statuses as stored), for scripts.")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite database (JIXIAO_DB).")
def export_cmd(fmt: str, out: Path, year: int | None, unit: str | None, keys: bool, db: str | None) -> None:
    """Export the confirmed records as CSV, XLSX or record JSON (times in the setting time_zone)."""
    from service import export

    settings = _settings(db=db)
    store = _open_store(settings)
    selection = export.Selection(year=year, unit=unit)
    n = sum(selection.matches(r) for r in store.confirmed_documents())
    try:
        if fmt == "json":
            written = export.write_json(store, out, selection)
        elif fmt == "csv":
            written = export.write_csv(store, out, selection, keys=keys, time_zone=settings.time_zone)
        else:
            written = [export.write_xlsx(store, out, selection, time_zone=settings.time_zone)]
    except JixiaoError as e:
        raise Refused(str(e)) from None
    console.print(f"已导出 {n} 份已确认的报告：" + "、".join(str(p) for p in written[:3])
                  + ("…" if len(written) > 3 else ""), soft_wrap=True)


@cli.command()
@click.argument("report", type=click.Path(path_type=Path))
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write each checked record here (same file name); without it, print the JSON of one record.")
def check(report: Path, records: tuple[Path, ...], out_dir: Path | None) -> None:
    """Re-check the values of RECORDS (record JSON from any source) against REPORT."""
    from service.check.presence import check_presence
    from service.check.recheck import recheck
    from service.ingest import load
    from service.pipeline import write_json
    from service.sections import split_sections

    settings = _settings()
    try:
        doc = load(report, settings)
    except JixiaoError as e:
        raise Refused(str(e)) from None
    sections = split_sections(doc)
    failed = 0
    for path in records:
        try:
            record = Record.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except ValidationError as e:
            where = "、".join(".".join(str(p) for p in err["loc"]) or "记录" for err in e.errors()[:3])
            err_console.print(f"[red]错误[/red] {path.name}：不是记录 JSON（{where} 的格式不对）", soft_wrap=True)
            failed += 1
            continue
        except (OSError, ValueError) as e:
            err_console.print(f"[red]错误[/red] {path.name}：无法读取记录（{e}）", soft_wrap=True)
            failed += 1
            continue
        checked = check_presence(doc.text, recheck(doc, sections, record, accept_at=settings.threshold,
                                                   ocr_review_below=settings.ocr_review_below))
        _print_check(path.name, checked)
        if out_dir is not None:
            write_json(out_dir / path.name, checked.json())
        elif len(records) == 1:
            click.echo(json.dumps(checked.json(), ensure_ascii=False, indent=2))
    if failed:
        raise SystemExit(1)


@cli.command("eval")
@click.option("--gold", "gold_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="Folder of gold answers (<stem>.json).")
@click.option("--reports", "reports_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              required=True, help="Folder of the reports (<stem>.<any extension>).")
@click.option("--engine", type=click.Choice(ENGINE_CHOICES), default=None, help="Extraction engine.")
@click.option("--replay", "replay_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With the LLM engine: answer from recorded cassettes.")
def evaluate(gold_dir: Path, reports_dir: Path, engine: str | None, replay_dir: Path | None) -> None:
    """Extract and re-check every report of a labelled set; print accuracy, automation, review and escape rates."""
    from service.evaluate import score_record, summarize
    from service.pipeline import run_document

    settings = _settings(engine=engine)
    runner = _build_engine(settings, replay_dir)
    per_report = []
    try:
        for gold_path in sorted(gold_dir.glob("*.json")):
            report = next((p for p in sorted(reports_dir.iterdir()) if p.stem == gold_path.stem), None)
            if report is None:
                err_console.print(f"[red]错误[/red] 找不到 {gold_path.stem} 的报告文件", soft_wrap=True)
                continue
            try:
                record = run_document(report, settings, runner).record  # the record reviewers would see
            except JixiaoError as e:
                err_console.print(f"[red]错误[/red] {e}", soft_wrap=True)
                continue
            per_report.append(score_record(json.loads(gold_path.read_text(encoding="utf-8")), record.json()))
    finally:
        runner.close()
    by_field, overall = summarize(per_report)
    table = Table(title=f"评估：{len(per_report)} 份报告，{overall['fields']} 个字段")
    for col in ("字段", "数量", "正确", "自动通过", "复核", "漏检(escape)", "缺失", "编造"):
        table.add_column(col, overflow="fold")  # a reason or a file name is wrapped, never cut off
    for key, row in sorted(by_field.items()):
        table.add_row(key, str(row["n"]), str(row["correct"]), str(row["auto_ok"]), str(row["review"]),
                      str(row["escape"]), str(row["missed"]), str(row["made_up"]))
    console.print(table)
    click.echo(" ".join(f"{k}={round(v, 4) if isinstance(v, float) else v}" for k, v in overall.items()))


def _print_check(name: str, record: Record) -> None:
    fields = record.fields
    review = {k: f for k, f in fields.items() if f.status == REVIEW}
    rows = [r for r in record.indicators if r.status == REVIEW]
    if not review and not rows:
        n_rows = len(record.indicators)
        err_console.print(f"{name}：{len(fields)} 个字段" + (f"、评分表 {n_rows} 行" if n_rows else "")
                          + "，全部可信，无需复核", soft_wrap=True)
        return
    table = Table(title=f"{name}：{len(fields)} 个字段，{len(review)} 个需复核")
    for col in ("字段", "值", "置信度", "原因"):
        table.add_column(col, overflow="fold")  # a reason or a file name is wrapped, never cut off
    for key, f in review.items():
        table.add_row(key, str(f.value), str(f.confidence), "；".join(f.issues))
    for r in rows:
        table.add_row(f"评分表：{r.name}", f"分值 {r.weight} 得分 {r.score}", str(r.confidence), "；".join(r.issues))
    if rows:
        table.title += f"；评分表 {len(rows)} 行需复核"
    err_console.print(table)


def _build_engine(settings: Settings, replay: Path | None = None, cache=None) -> Engine:
    try:
        return build_engine(settings, replay=replay, cache=cache)
    except JixiaoError as e:
        raise Refused(str(e)) from None


def _demo_engine(settings: Settings, store: Store, n: int) -> Engine:
    """The LLM when configured; else its recorded answers (cassettes/) when present; else the rules."""
    replayed = CASSETTES / DEMO_REPORTS.name
    replay = replayed if resolve_engine(settings) != "llm" and settings.engine != "rules" and replayed.is_dir() else None
    engine = _build_engine(settings, replay, cache=store)
    if replay is not None:
        console.print(f"演示：未配置大模型接口，回放录制好的大模型回答（{replayed}）处理 {n} 份演示报告，"
                      "不联网、无需 API 密钥", soft_wrap=True)
    elif isinstance(engine, RulesEngine):
        console.print(f"演示：用离线规则引擎处理 {n} 份演示报告（无需 API 密钥）")
    else:
        console.print(f"演示：用大模型（{settings.model}）处理 {n} 份演示报告")
    return engine


@cli.command("settings")
def show_settings() -> None:
    """List every setting, its environment variable and current value."""
    current = _settings()
    for s in SETTINGS:
        click.echo(f"{s.name:<20} {s.env:<26} {getattr(current, s.name)!s:<14} {s.help}")
    lines = _applied_thresholds(current)
    if lines:
        click.echo("\n已应用的校准阈值（管理员在“校准”页面应用；accept_at_fields 指定的字段以配置为准）：")
        for line in lines:
            click.echo(line)


def _applied_thresholds(settings: Settings) -> list[str]:
    """The calibrations applied in the database, with the threshold in force and its source; nothing when the
    database does not exist yet (it is not created, nor migrated, for this)."""
    if settings.db == ":memory:" or not Path(settings.db).is_file():
        return []
    try:
        store = Store(settings.db, migrate=False)
    except JixiaoError as e:
        raise Refused(str(e)) from None
    try:
        return applied_lines(store, settings)
    finally:
        store.close()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
