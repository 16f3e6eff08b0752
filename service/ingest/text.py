"""Plain-text reports: UTF-8 (with or without BOM), GB18030/GBK, UTF-16 with BOM."""

from __future__ import annotations

from charset_normalizer import from_bytes

from ..document import DocumentBuilder


def decode(data: bytes) -> str:
    """Decode report bytes; raise UnicodeDecodeError when no Chinese encoding fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise UnicodeDecodeError("unknown", data[:1], 0, 1, "no encoding fits")
    return str(best)


def read_text(data: bytes, builder: DocumentBuilder) -> None:
    """One page per form feed (text exported from a PDF keeps them), else one page."""
    pages = decode(data).split("\f")
    for number, page in enumerate(pages, start=1):
        builder.start_page(number)
        builder.add_paragraph(page.rstrip("\n"))
