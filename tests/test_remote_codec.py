"""What crosses the network to and from worker hosts, as JSON: a task, and what the store keeps of its result."""

from __future__ import annotations

import hashlib

import pytest

from service import __version__
from service.document import Document, OcrLine, Page
from service.extract.engines import build_engine
from service.remote.codec import (
    CodecError,
    decode_head,
    decode_result,
    decode_task,
    encode_head,
    encode_result,
    encode_task,
    task_settings,
)
from service.worker import extract
from tests.builders import make_docx
from tests.conftest import ROOT

LAYOUTS = ROOT / "tests" / "data" / "new_layouts"


def extracted(path, settings):
    return extract(hashlib.sha256(path.read_bytes()).hexdigest(), path, settings, build_engine(settings))


@pytest.mark.parametrize("name", ["r_a1.txt", "r_b4.txt", "docx"])
def test_a_result_comes_back_from_json_as_it_was(name, settings, tmp_path):
    path = LAYOUTS / name
    if name == "docx":  # Word tables: cells with their offsets, a table's origin
        path = make_docx((LAYOUTS / "r_a2.txt").read_text(encoding="utf-8"), tmp_path / "r_a2.docx")
    out = extracted(path, settings)
    assert decode_result(encode_result(*out)) == out


def test_a_scanned_documents_ocr_lines_and_page_sizes_come_back_as_they_were():
    doc = Document(name="scan.png", sha256="0" * 64, kind="image", text="预算执行率98.2%\n",
                   pages=[Page(number=1, start=0, end=12, ocr=True, width=1654, height=2339)],
                   ocr_lines=[OcrLine(page=1, start=0, end=11, confidence=0.93, box=(10.0, 20.0, 400.0, 60.0),
                                      parts=[(0, 5, 10.0, 20.0, 200.0, 60.0, [[10, 40], [40, 70]]),
                                             (5, 11, 210.0, 20.0, 400.0, 60.0)])])
    from service.models import Extraction

    out = (doc, [], Extraction(engine="rules", engine_version="1"), {"seconds": 1.5}, [])
    back = decode_result(encode_result(*out))
    assert back == out and back[0].ocr and isinstance(back[0].ocr_lines[0].box, tuple)


def test_a_result_that_is_not_one_is_refused():
    with pytest.raises(CodecError, match="无法读取"):
        decode_result(b'[{"name": 1}]')
    with pytest.raises(CodecError, match="格式无法识别"):
        decode_head(b"not json")
    assert decode_head(encode_head("t", "host:1", ok=False, error="坏了"))["error"] == "坏了"


def task_of(settings, raw=b"report", **changes):
    task = encode_task(task="t.1.1", sha256=hashlib.sha256(raw).hexdigest(), name="报告.txt",
                       file_name="报告.txt", data=raw, settings=settings, claim="remote:web:dispatch")
    return {**task, **changes}


def test_a_task_carries_the_file_and_the_settings_but_not_this_hosts_database_or_broker(settings):
    settings = settings.replace(broker_url="redis://:s3cret@queue:6379/0", job_timeout_s=77)
    task = task_of(settings)
    assert {"db", "instance", "broker_url"}.isdisjoint(task["settings"]) and "s3cret" not in str(task)
    got = decode_task(task)
    assert got["data"] == b"report" and got["settings"]["job_timeout_s"] == 77
    here = task_settings(got["settings"], settings.replace(db="elsewhere.db"), db="answers.db")
    assert here.job_timeout_s == 77 and here.db == "answers.db" and here.engine == settings.engine


def test_a_damaged_task_or_one_from_another_version_is_refused(settings):
    with pytest.raises(CodecError, match="SHA-256 不符"):
        decode_task(task_of(settings, sha256="0" * 64))
    with pytest.raises(CodecError, match="版本"):
        decode_task(task_of(settings, version=__version__ + "x"))
    with pytest.raises(CodecError, match="不完整或已损坏"):
        decode_task(task_of(settings, data="not base64!"))
    with pytest.raises(CodecError, match="任务格式无法识别"):
        decode_task(["not", "a", "task"])
