""".docx reports: paragraphs and tables, in document order.

Tables are read from the XML grid (`w:tr`/`w:tc`), not from python-docx's
`table.rows[i].cells`, which repeats a merged cell once per grid column it
covers. Here a merged cell appears once, the way reports exported from Word
to text look: a horizontal merge (`w:gridSpan`) is one cell, and a vertical
merge continuation (`w:vMerge` without `restart`) is an empty cell in its row.

The zip is checked before python-docx opens it, so a small upload cannot
unpack into gigabytes (zip bomb).
"""

from __future__ import annotations

import io
import logging
import zipfile

from docx.oxml.ns import qn

from service.document import DocumentBuilder
from service.errors import IngestError
from service.settings import Settings

log = logging.getLogger(__name__)

MAX_RATIO = 200  # compressed-to-unpacked ratio above which a big member looks like a bomb
BIG_MEMBER = 10 * 1024 * 1024

_P, _TBL, _TR, _TC = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
_SDT_CONTENT = qn("w:sdtContent")
_WRAPPERS = (qn("w:sdt"), qn("w:customXml"))


def read_docx(data: bytes, name: str, builder: DocumentBuilder, settings: Settings) -> None:
    """Write the body of a .docx into `builder`; headers, footers and notes are left out."""
    check_zip(data, name, settings)
    body = _body(data, name)
    builder.start_page(1)  # a .docx carries no reliable page breaks
    try:
        for el in _blocks(body):
            if el.tag == _P:
                text = paragraph_text(el)
                if text.strip():
                    builder.add_paragraph(_untab(text))
                else:
                    builder.add_blank()
            else:
                builder.add_table(row_texts(el), origin="docx")
    except IngestError:
        raise
    except Exception as e:
        log.info("docx body read failed for %s: %r", name, e)
        raise IngestError(name, "Word 文档（.docx）内容结构异常，无法读取正文") from None


def check_docx(data: bytes, name: str, settings: Settings) -> None:
    """Refuse, before it is stored, a .docx that would unpack too large or that python-docx cannot open."""
    check_zip(data, name, settings)
    _body(data, name)


def _body(data: bytes, name: str):
    """The `w:body` element of the document, or IngestError when python-docx cannot open it."""
    try:
        import docx

        return docx.Document(io.BytesIO(data)).element.body
    except Exception as e:  # python-docx, lxml and zipfile raise many kinds
        log.info("docx open failed for %s: %r", name, e)
        raise IngestError(name, "Word 文档（.docx）已损坏或格式不正确，无法打开；请用 Word/WPS 打开后重新另存为 .docx") from None


def check_zip(data: bytes, name: str, settings: Settings) -> None:
    """Reject archives that would unpack too large, before anything is decompressed."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise IngestError(name, "Word 文档（.docx）的压缩结构已损坏，无法打开") from None
    total = sum(i.file_size for i in infos)
    if total > settings.max_unpacked_bytes:
        raise IngestError(
            name,
            f"Word 文档解压后过大（{total / 1024 / 1024:.0f} MB），超过上限 {settings.max_unpacked_mb} MB，"
            "可能是恶意压缩文件（压缩炸弹）",
        )
    for i in infos:
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > BIG_MEMBER and ratio > MAX_RATIO:
            raise IngestError(
                name, f"Word 文档中的 {i.filename} 压缩比异常（{ratio:.0f} 倍），可能是恶意压缩文件（压缩炸弹）"
            )


def _blocks(container):
    """`w:p` and `w:tbl` children in document order, looking inside content controls.

    Like python-docx's `iter_inner_content`, but also descends into `w:sdt` and
    `w:customXml` wrappers, where templates often keep real text.
    """
    for child in container:
        if child.tag in (_P, _TBL):
            yield child
        elif child.tag in _WRAPPERS:
            yield from _blocks(_content_of(child))


def _content_of(wrapper):
    content = wrapper.find(_SDT_CONTENT)
    return wrapper if content is None else content


def paragraph_text(p) -> str:
    """Text of one `w:p`, including runs inside hyperlinks, fields, smart tags and insertions.

    Deleted or moved-away text is left out, and so are text boxes anchored in
    the paragraph (their runs belong to a nested `w:p`).
    """
    depth = len(p.xpath("ancestor-or-self::w:p"))
    runs = p.xpath(
        f".//w:r[not(ancestor::w:del) and not(ancestor::w:moveFrom) and count(ancestor::w:p) = {depth}]"
    )
    return "".join(r.text for r in runs)


def row_texts(tbl) -> list[list[str]]:
    """Rows of cell texts in grid order; each merged cell once (see module docstring)."""
    rows = []
    for tr in _children(tbl, _TR):
        row = []
        for tc in _children(tr, _TC):
            row.append("" if _continues_vmerge(tc) else cell_text(tc))
        rows.append(row)
    return [r for r in rows if r]


def _children(el, tag):
    for child in el:
        if child.tag == tag:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _children(_content_of(child), tag)


def _continues_vmerge(tc) -> bool:
    v = tc.find(f"{qn('w:tcPr')}/{qn('w:vMerge')}")
    return v is not None and v.get(qn("w:val"), "continue") != "restart"


def cell_text(tc) -> str:
    """A cell's paragraphs one per line; a nested table adds one line per row."""
    lines = []
    for el in _blocks(tc):
        if el.tag == _P:
            lines.append(paragraph_text(el))
        else:
            for row in row_texts(el):
                lines.append("  ".join(c.replace("\n", " ") for c in row if c.strip()))
    return "\n".join(lines)


def _untab(text: str) -> str:
    """Drop tabs that start a line: in the flattened form a leading tab opens a table cell."""
    return "\n".join(line.lstrip("\t") for line in text.split("\n"))
