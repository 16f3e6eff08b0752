"""What crosses the network, as JSON: a task (a job's file and the settings it is extracted with) and its result
(what `service.worker.extract` returns: the document, its sections, the extraction, the run's figures and the
review items).

Nothing from the network is unpickled. The result's dataclasses (`Document` with its pages, tables, cells and OCR
lines; `Section`; `Extraction` with its fields, score rows, projects, lists and their evidence) are written and
read by pydantic's `TypeAdapter`, which knows them from their type hints and checks every value it reads back:
a result that is not one is refused (`CodecError`), never half-built. The file's bytes travel base64-encoded
inside the task and are checked against the job's SHA-256 on arrival.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from service import __version__
from service.document import Document
from service.errors import JixiaoError
from service.models import Extraction, Section
from service.settings import Settings

FORMAT = 1  # bumped when a task's or a result's shape changes
# Settings that stay on their own host: the web host's database and instance folder mean nothing on a worker
# host, and the broker's address may hold its password.
LOCAL_SETTINGS = frozenset({"db", "instance", "broker_url"})

_RESULT = TypeAdapter(tuple[Document, list[Section], Extraction, dict[str, Any], list[dict[str, Any]]])


class CodecError(JixiaoError):
    """A task or a result that cannot be read (another version, damaged, not ours)."""


def task_id(sha256: str, attempt: int) -> str:
    """The task of one claim of a job: a job claimed again (its lease ran out) is another task."""
    return f"{sha256}.{attempt}"


def encode_task(*, task: str, sha256: str, name: str, file_name: str, data: bytes, settings: Settings,
                claim: str) -> dict[str, Any]:
    """A task as the message's one argument (a JSON object)."""
    sent = {k: v for k, v in settings.model_dump(mode="json").items() if k not in LOCAL_SETTINGS}
    return {"format": FORMAT, "version": __version__, "task": task, "sha256": sha256, "name": name,
            "file_name": file_name, "claim": claim, "settings": sent,
            "data": base64.b64encode(data).decode("ascii")}


def decode_task(task: Any) -> dict[str, Any]:
    """A task's fields with `data` as bytes, checked: its format, its version and its bytes' SHA-256."""
    if not isinstance(task, dict) or task.get("format") != FORMAT:
        raise CodecError("任务格式无法识别（主机与处理节点的 jixiao 版本可能不一致）")
    if task.get("version") != __version__:
        raise CodecError(f"处理节点的 jixiao 版本（{__version__}）与主机（{task.get('version')}）不一致，"
                         "请先升级处理节点")
    try:
        data = base64.b64decode(task["data"], validate=True)
        fields = {k: task[k] for k in ("task", "sha256", "name", "file_name", "claim", "settings")}
    except (KeyError, TypeError, binascii.Error):
        raise CodecError("任务内容不完整或已损坏") from None
    if hashlib.sha256(data).hexdigest() != fields["sha256"]:
        raise CodecError(f"{fields['name']}：文件在传输中损坏（SHA-256 不符）")
    return {**fields, "data": data}


def task_settings(sent: dict[str, Any], base: Settings, **local: Any) -> Settings:
    """The settings a task is extracted with: the web host's (`sent`) over this host's own (`base`), with
    this host's `local` values (its answer cache, its scratch folder). A setting this version does not know is
    left out (the version check stops a real mismatch first)."""
    known = {k: v for k, v in sent.items() if k in Settings.model_fields and k not in LOCAL_SETTINGS}
    return base.replace(**known, **local)


def encode_result(doc: Document, sections: list[Section], extraction: Extraction, meta: dict[str, Any],
                  items: list[dict[str, Any]]) -> bytes:
    return _RESULT.dump_json((doc, sections, extraction, meta, items))


def decode_result(raw: bytes | str) -> tuple[Document, list[Section], Extraction, dict[str, Any], list[dict]]:
    try:
        return _RESULT.validate_json(raw)
    except ValidationError as e:
        raise CodecError(f"处理节点返回的结果无法读取（{e.error_count()} 处不符）") from None


def encode_head(task: str, worker: str, *, ok: bool, error: str | None = None) -> str:
    """What a worker host says of a task beside its result: which task, which host, whether it worked and, when
    not, why (in Chinese, for the operator)."""
    return json.dumps({"format": FORMAT, "task": task, "worker": worker, "ok": ok, "error": error},
                      ensure_ascii=False)


def decode_head(raw: bytes | str | None) -> dict[str, Any]:
    try:
        head = json.loads(raw) if raw is not None else None
    except (ValueError, UnicodeDecodeError):
        head = None
    if not isinstance(head, dict) or head.get("format") != FORMAT or not isinstance(head.get("ok"), bool):
        raise CodecError("处理节点返回的结果格式无法识别（主机与处理节点的 jixiao 版本可能不一致）")
    return head
