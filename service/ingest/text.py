"""Plain-text reports: UTF-8 (with or without BOM), UTF-16/32, GB18030/GBK, Big5 (see `encoding`)."""

from __future__ import annotations

from service.document import DocumentBuilder
from service.ingest.encoding import decode

UNKNOWN_ENCODING = (
    "文本文件的编码无法识别（支持 UTF-8、UTF-16、GB18030/GBK 和 Big5），按其他编码读出来会是乱码；"
    "请用记事本或 WPS 另存为 UTF-8 编码后重新上传"
)


def looks_like_text_bytes(data: bytes) -> bool:
    """True when the bytes could be text in some 8-bit or multibyte encoding: no NUL, few control bytes."""
    sample = data[:20000]
    if b"\x00" in sample:
        return False
    control = sum(1 for b in sample if b < 32 and b not in b"\t\n\r\f\x1a")
    return control / max(len(sample), 1) < 0.01


def read_text(data: bytes, builder: DocumentBuilder) -> None:
    """One page per form feed (text exported from a PDF keeps them), else one page."""
    pages = decode(data).split("\f")
    for number, page in enumerate(pages, start=1):
        builder.start_page(number)
        builder.add_paragraph(page.rstrip("\n"))
