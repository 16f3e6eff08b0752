"""Legacy word-processor files (.doc, .wps, .rtf, .odt): converted to .docx by LibreOffice.

Binary Word and WPS formats have no reader in Python worth trusting, so a
headless LibreOffice (`settings.soffice`) converts the file to .docx, which
`read_docx` then reads. Each conversion runs with its own throw-away profile
directory, so parallel conversions do not fight over one user profile, and
under `settings.convert_timeout_s`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from service.document import DocumentBuilder
from service.errors import IngestError
from service.ingest.docx import check_zip, read_docx
from service.settings import Settings

log = logging.getLogger(__name__)

NOT_INSTALLED = (
    "这是旧版 Word/WPS 文件（.doc/.wps），需要安装 LibreOffice 才能转换："
    "apt-get install libreoffice-writer-nogui，或先另存为 .docx 再上传"
)
ENCRYPTED = "Word 文档已加密（需要密码），请取消密码后重新上传"
# A password-protected .docx is an OLE2 container holding this stream (name in UTF-16).
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
KNOWN_SUFFIXES = {".doc", ".dot", ".wps", ".wpt", ".rtf", ".odt", ".ott"}


def read_legacy(data: bytes, name: str, builder: DocumentBuilder, settings: Settings) -> str:
    """Convert with LibreOffice and read the result as .docx; return the document kind "doc"."""
    check_legacy(data, name, settings)
    soffice = shutil.which(settings.soffice)
    if soffice is None:
        raise IngestError(name, NOT_INSTALLED)
    with tempfile.TemporaryDirectory(prefix="jixiao-convert-") as tmp:
        tmp_path = Path(tmp)
        source = tmp_path / ("input" + _suffix(data, name))
        source.write_bytes(data)
        out_dir = tmp_path / "out"
        out_dir.mkdir()
        _convert(soffice, source, out_dir, tmp_path / "profile", name, settings.convert_timeout_s)
        result = out_dir / (source.stem + ".docx")
        if not result.exists() or result.stat().st_size == 0:
            raise IngestError(name, "LibreOffice 转换失败：没有生成 .docx 文件，文件可能已损坏或格式不受支持")
        read_docx(result.read_bytes(), name, builder, settings)
    return "doc"


def check_legacy(data: bytes, name: str, settings: Settings) -> None:
    """Refuse a password-protected Word file, or an OpenDocument zip that would unpack too large."""
    if _ENCRYPTED_PACKAGE in data[:1024 * 1024]:
        raise IngestError(name, ENCRYPTED)
    if data.startswith(b"PK"):
        check_zip(data, name, settings)


def _suffix(data: bytes, name: str) -> str:
    """A suffix LibreOffice can use as a hint: the upload's own, else one guessed from the bytes."""
    suffix = Path(name).suffix.lower()
    if suffix in KNOWN_SUFFIXES:
        return suffix
    if data.startswith(b"{\\rtf"):
        return ".rtf"
    if data.startswith(b"PK"):
        return ".odt"
    return ".doc"  # OLE2: Word 97-2003 and WPS look alike; LibreOffice tells them apart by content


def _convert(soffice: str, source: Path, out_dir: Path, profile: Path, name: str, timeout_s: int) -> None:
    cmd = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "docx",
        "--outdir",
        str(out_dir),
        str(source),
    ]
    log.info("converting %s with %s", name, soffice)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, cwd=out_dir
    )
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise IngestError(name, f"LibreOffice 转换超时（超过 {timeout_s} 秒），文件可能过大或已损坏") from None
    if proc.returncode != 0:
        tail = output.decode("utf-8", "replace").strip()[-300:]
        log.info("soffice exited %s for %s: %s", proc.returncode, name, tail)
        raise IngestError(name, f"LibreOffice 转换失败（退出码 {proc.returncode}）：{tail or '无输出'}")


def _kill_group(proc: subprocess.Popen) -> None:
    """soffice starts helper processes: end the whole session we started, then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
