"""What kind of file is this? Decided by its bytes, not its name."""

from __future__ import annotations

import io
import zipfile

from service.errors import IngestError
from service.ingest.text import UNKNOWN_ENCODING, looks_like_text_bytes

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpeg",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
    b"BM": "bmp",
}
SUPPORTED_IMAGES = "PNG、JPEG、TIFF 或 BMP"
OTHER_IMAGE_MAGIC = {  # images we do not OCR, named in the refusal
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"\x00\x00\x00\x0cjP  \r\n\x87\n": "JPEG 2000",
    b"\xff\x4f\xff\x51": "JPEG 2000",
    b"8BPS": "PSD（Photoshop）",
}
HEIF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"hevx": "HEIC", b"heim": "HEIC", b"heis": "HEIC",
               b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF", b"avis": "AVIF"}


def sniff(data: bytes, name: str) -> str:
    """Return one of "txt", "docx", "pdf", "image", "doc"; raise IngestError otherwise."""
    if not data.strip():
        raise IngestError(name, "文件为空")
    if data[:1024].lstrip().startswith(b"%PDF-") or data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data, name)
    if data.startswith(OLE2):
        return "doc"
    for magic in IMAGE_MAGIC:
        if data.startswith(magic):
            return "image"
    other = other_image_format(data)
    if other:
        raise IngestError(name, f"不支持 {other} 格式的图片，请转换为 PNG 或 JPEG 后重新上传（支持 {SUPPORTED_IMAGES}）")
    if data.startswith(b"{\\rtf"):
        return "doc"
    if looks_like_text(data):
        return "txt"
    if looks_like_text_bytes(data):
        raise IngestError(name, UNKNOWN_ENCODING)
    raise IngestError(name, "无法识别的文件类型（不是文本、Word、PDF 或图片），可能已损坏")


def other_image_format(data: bytes) -> str | None:
    """The name of an image format we do not read (GIF, WEBP, HEIC, …), or None."""
    for magic, label in OTHER_IMAGE_MAGIC.items():
        if data.startswith(magic):
            return label
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        return HEIF_BRANDS.get(data[8:12])
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<?xml", b"<svg")) and b"<svg" in head:
        return "SVG"
    return None


def _sniff_zip(data: bytes, name: str) -> str:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        raise IngestError(name, "压缩包结构损坏，无法作为 Word 文档打开") from None
    if "word/document.xml" in names:
        return "docx"
    if any(n.startswith("xl/") for n in names):
        raise IngestError(name, "这是 Excel 表格，暂不支持；请上传 Word、PDF、图片或文本格式的报告")
    if "content.xml" in names:
        return "doc"  # OpenDocument text: LibreOffice converts it like .doc
    raise IngestError(name, "不支持的压缩文件类型（不是 .docx）")


def looks_like_text(data: bytes) -> bool:
    """True when the bytes decode as text with few control characters."""
    from service.ingest.encoding import decode

    try:
        text = decode(data)
    except UnicodeDecodeError:
        return False
    sample = text[:20000]
    if not sample:
        return False
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f") + sample.count("\ufffd")
    return bad / len(sample) < 0.01
