"""Any report file in, one normalized `Document` out.

`load_bytes` checks size, decides the kind by content (never by extension
alone) and hands the bytes to the reader for that kind. Each reader refuses
what it must not decode (too many pages, too many pixels, a zip bomb) before
decoding it; `check_upload` runs the same checks, from headers only, before
an upload is stored. Every reader writes through a `DocumentBuilder`; tables
that arrive flattened in text are found afterwards by `service.ingest.tables`, so
they look the same whatever their source.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from service.core.genre import squeezed
from service.document import Document, DocumentBuilder
from service.errors import IngestError
from service.ingest.detect import sniff
from service.ingest.legacy import KNOWN_SUFFIXES as LEGACY_SUFFIXES
from service.ingest.stream_criteria import find_criteria_tables
from service.ingest.stream_money import find_money_blocks
from service.ingest.stream_runs import find_run_tables
from service.ingest.stream_tables import TRUE_GRIDS, find_stream_tables
from service.ingest.tables import find_tables, join_page_breaks
from service.settings import Settings, load_settings

# what a report file is called, by kind: the upload page's file picker, and the files of a folder given to
# `jixiao extract` / `jixiao submit` (a README.md or a spreadsheet beside the reports is not one)
UPLOAD_SUFFIXES: dict[str, tuple[str, ...]] = {
    "Word": (".docx", *sorted(LEGACY_SUFFIXES)),
    "PDF": (".pdf",),
    "图片": (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"),
    "文本": (".txt",),
}


def load(path: str | Path, settings: Settings | None = None) -> Document:
    path = Path(path)
    settings = settings or load_settings()
    return load_bytes(read_file(path, settings), path.name, settings)


def read_file(path: Path, settings: Settings) -> bytes:
    """A report file's bytes, refused (IngestError, in Chinese) when missing, a folder, a symlink or a special
    file (a device, a pipe: only regular files are read, so `ln -s /etc/shadow` is never a report), or too
    large to read. Opened without following links, and checked on the open file, not on its name."""
    if path.is_symlink():
        raise IngestError(path.name, "这是一个符号链接，出于安全不读取；请直接给出文件本身")
    if not path.exists():
        raise IngestError(path.name, "文件不存在")
    if path.is_dir():
        raise IngestError(path.name, "这是一个文件夹，不是文件")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise IngestError(path.name, "这是一个符号链接，出于安全不读取；请直接给出文件本身") from None
        raise IngestError(path.name, "无法读取文件（没有权限或已损坏）") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise IngestError(path.name, "这不是普通文件（可能是设备、管道或套接字），不读取")
        _check_size(path.name, info.st_size, settings)
        try:
            return f.read()
        except OSError:
            raise IngestError(path.name, "无法读取文件（没有权限或已损坏）") from None


def _check_size(name: str, size: int, settings: Settings) -> None:
    if size > settings.max_upload_bytes:
        raise IngestError(name, f"文件过大（{size / 1024 / 1024:.1f} MB），超过上限 {settings.max_upload_mb} MB")


def check_upload(data: bytes, name: str, settings: Settings) -> str:
    """The checks an upload passes before it is stored; returns the kind.

    Size, a kind of file we read, and what its reader would refuse that can be seen without OCR or
    rendering: a PDF pdfium cannot open, its page count and the size of its scans; an image's format and
    pixel count from its header; a .docx's unpacked size and whether it opens.
    """
    _check_size(name, len(data), settings)
    kind = sniff(data, name)
    if kind == "pdf":
        from service.ingest.pdf import check_pdf

        check_pdf(data, name, settings)
    elif kind == "image":
        from service.ingest.image import check_image

        check_image(data, name, settings)
    elif kind == "docx":
        from service.ingest.docx import check_docx

        check_docx(data, name, settings)
    elif kind == "doc":
        from service.ingest.legacy import check_legacy

        check_legacy(data, name, settings)
    return kind  # a text file is decoded by `sniff` already


def load_bytes(data: bytes, name: str, settings: Settings | None = None) -> Document:
    settings = settings or load_settings()
    _check_size(name, len(data), settings)
    kind = sniff(data, name)
    builder = DocumentBuilder()
    if kind == "txt":
        from service.ingest.text import read_text

        read_text(data, builder)
    elif kind == "docx":
        from service.ingest.docx import read_docx

        read_docx(data, name, builder, settings)
    elif kind == "pdf":
        from service.ingest.pdf import read_pdf

        read_pdf(data, name, builder, settings)
    elif kind == "image":
        from service.ingest.image import read_image

        read_image(data, name, builder, settings)
    elif kind == "doc":
        from service.ingest.legacy import read_legacy

        kind = read_legacy(data, name, builder, settings)
    doc = builder.build(name=name, sha256=hashlib.sha256(data).hexdigest(), kind=kind)
    if not doc.text.strip():
        raise IngestError(name, "文件中没有可读取的文字")
    _add_text_tables(doc)
    return doc


def _add_text_tables(doc: Document) -> None:
    """Find tables flattened into text, outside the tables a reader already recorded."""
    native = [(t.start, t.end) for t in doc.tables]
    for t in find_tables(doc.text):
        if not any(s < t.end and t.start < e for s, e in native):
            doc.tables.append(t)
    doc.tables.sort(key=lambda t: t.start)
    join_page_breaks(doc)
    folded = squeezed(doc.text)  # one folding of the text for both readers
    true = [(t.start, t.end) for t in doc.tables if t.origin in TRUE_GRIDS]
    runs = [f for f in find_run_tables(doc.text) if not any(s <= f.start < e for s, e in true)]
    criteria = [t for t in find_criteria_tables(doc.text, folded) if not any(s <= t.start < e for s, e in true)]
    taken = [(f.start, f.end) for f in runs] + [(t.start, t.end) for t in criteria]
    doc.rebuilt = sorted(find_stream_tables(doc.text, folded, doc.tables, taken) + criteria
                         + [f.table for f in runs if f.table is not None] + find_money_blocks(doc.text, folded),
                         key=lambda t: t.start)
