"""Legacy .doc/.wps/.rtf ingestion through LibreOffice.

LibreOffice is not a dependency of the test run, so the plumbing (arguments,
output folder, error and timeout handling) is checked with a stand-in
`soffice` script; the real conversion runs only where `soffice` is installed.
"""

from __future__ import annotations

import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from service.errors import IngestError
from service.ingest import load, load_bytes
from service.ingest.detect import OLE2
from tests.builders import make_docx

OLE2_BYTES = OLE2 + bytes(2048)  # looks like a Word 97-2003 / WPS file to the sniffer
RTF_BYTES = rb"{\rtf1\ansi 2946.602828}"


def _fake_soffice(tmp_path: Path, body: str) -> str:
    """An executable standing in for soffice: `$out` is the --outdir, `$src` the input file."""
    script = tmp_path / "fake-soffice"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {shlex.quote(str(tmp_path / "args.txt"))}\n'
        'out=""; prev=""; for a in "$@"; do [ "$prev" = "--outdir" ] && out="$a"; prev="$a"; src="$a"; done\n'
        'stem=$(basename "$src"); stem="${stem%.*}"\n' + body + "\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize("name,data", [("报告.doc", OLE2_BYTES), ("报告.wps", OLE2_BYTES), ("报告.rtf", RTF_BYTES)])
def test_legacy_file_without_libreoffice_is_rejected_with_install_hint(name, data, settings):
    with pytest.raises(IngestError) as err:
        load_bytes(data, name, settings.replace(soffice="jixiao-no-such-soffice"))

    assert err.value.name == name
    assert "LibreOffice" in err.value.reason
    assert "libreoffice-writer-nogui" in err.value.reason and "另存为 .docx" in err.value.reason


def test_password_protected_word_file_is_rejected_before_conversion(settings):
    data = OLE2 + bytes(512) + "EncryptedPackage".encode("utf-16-le") + bytes(512)

    with pytest.raises(IngestError) as err:
        load_bytes(data, "加密.docx", settings.replace(soffice="jixiao-no-such-soffice"))

    assert err.value.name == "加密.docx"
    assert err.value.reason == "Word 文档已加密（需要密码），请取消密码后重新上传"


def test_legacy_file_is_converted_to_docx_and_read(tmp_path, settings):
    converted = make_docx("部门整体支出绩效自评表\n\t年度资金总额\n\t2946.602828\n\n", tmp_path / "converted.docx")
    soffice = _fake_soffice(tmp_path, f'cp {shlex.quote(str(converted))} "$out/$stem.docx"')

    doc = load_bytes(OLE2_BYTES, "报告.wps", settings.replace(soffice=soffice))

    assert doc.kind == "doc"
    assert doc.name == "报告.wps"
    assert doc.tables[0].grid() == [["年度资金总额", "2946.602828"]]
    args = (tmp_path / "args.txt").read_text()
    assert "--headless" in args and "--convert-to docx" in args
    assert "-env:UserInstallation=file://" in args
    assert args.rstrip().endswith(".wps")  # the upload's suffix is kept as a hint for LibreOffice


def test_failed_conversion_is_rejected_with_libreoffice_output(tmp_path, settings):
    soffice = _fake_soffice(tmp_path, 'echo "Error: source file could not be loaded"; exit 1')

    with pytest.raises(IngestError) as err:
        load_bytes(OLE2_BYTES, "坏文件.doc", settings.replace(soffice=soffice))

    assert err.value.name == "坏文件.doc"
    assert "转换失败" in err.value.reason and "source file could not be loaded" in err.value.reason


def test_conversion_without_output_file_is_rejected(tmp_path, settings):
    soffice = _fake_soffice(tmp_path, "exit 0")

    with pytest.raises(IngestError) as err:
        load_bytes(OLE2_BYTES, "空.doc", settings.replace(soffice=soffice))

    assert "没有生成 .docx" in err.value.reason


def test_conversion_that_hangs_is_stopped_at_the_time_limit(tmp_path, settings):
    soffice = _fake_soffice(tmp_path, "sleep 30")

    with pytest.raises(IngestError) as err:
        load_bytes(OLE2_BYTES, "慢.doc", settings.replace(soffice=soffice, convert_timeout_s=1))

    assert "超时" in err.value.reason and "1 秒" in err.value.reason


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_real_doc_converted_by_libreoffice_keeps_text_and_tables(tmp_path, settings):
    source = make_docx("部门整体支出绩效自评表\n\t年度资金总额\n\t2946.602828\n\n正文\n", tmp_path / "src.docx")
    subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "doc", "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=180,
    )

    doc = load(tmp_path / "src.doc", settings)

    assert doc.kind == "doc"
    assert "2946.602828" in doc.text and "正文" in doc.text
    assert any(t.origin == "docx" for t in doc.tables)
