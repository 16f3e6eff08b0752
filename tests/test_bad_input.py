"""Bad input, all of it, refused before anything is stored, with the reason in Chinese.

Each kind of file is refused by `check_upload` (what the upload page and
`jixiao submit` run before storing) and by `load_bytes` (what `jixiao
extract` and the worker run), from its headers where decoding it would be
the danger: pixel bombs, PDFs of too many pages or too large scans, zip
bombs, broken files, image formats we do not OCR, and text in an encoding
that does not read as Chinese.
"""

from __future__ import annotations

import io
import struct
import sys
import types
import zipfile
import zlib
from pathlib import Path

import docx
import pypdfium2 as pdfium
import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw

from service.errors import IngestError
from service.ingest import check_upload, load_bytes
from service.ingest.encoding import decode
from service.ingest.legacy import ENCRYPTED as WORD_ENCRYPTED
from service.ingest.pdf import CORRUPT, ENCRYPTED
from service.ingest.text import UNKNOWN_ENCODING
from service.settings import load_settings
from service.store import Store
from service.worker import REJECTED, submit
from tests.builders import make_image_pdf
from tests.conftest import SAMPLES

SIMPLIFIED = (
    "2023年度某某县某某局部门整体支出绩效自评报告\n"
    "一、部门收支情况\n"
    "2023年度部门收入合计1523.45万元，其中：一般公共预算财政拨款收入1420.30万元。\n"
    "2023年度部门支出合计1498.12万元，其中：基本支出856.34万元，项目支出641.78万元。\n"
    "二、绩效自评得分\n"
    "本部门自评得分为90分，评价等级为优。\n"
)
TRADITIONAL = (
    "2023年度某某縣某某局部門整體支出績效自評報告\n"
    "一、部門收支情況\n"
    "2023年度部門收入合計1523.45萬元，其中：一般公共預算財政撥款收入1420.30萬元。\n"
    "2023年度部門支出合計1498.12萬元，其中：基本支出856.34萬元，項目支出641.78萬元。\n"
    "二、績效自評得分\n"
    "本部門自評得分為90分，評價等級為優。\n"
)


def refused(data: bytes, name: str, settings) -> str:
    """The reason both `check_upload` and `load_bytes` give; they must agree."""
    with pytest.raises(IngestError) as at_upload:
        check_upload(data, name, settings)
    with pytest.raises(IngestError) as at_load:
        load_bytes(data, name, settings)
    assert at_upload.value.name == at_load.value.name == name
    assert at_upload.value.reason == at_load.value.reason
    return at_upload.value.reason


# Images ---------------------------------------------------------------------------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header declares `width`×`height` greyscale pixels (its data is only a few rows)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(bytes(width + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def image_bytes(image: Image.Image, fmt: str, **save) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **save)
    return buf.getvalue()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_png_declaring_20000_by_20000_pixels_is_refused_from_its_header(settings):
    data = png_declaring(20000, 20000)
    assert len(data) < 10_000

    reason = refused(data, "炸弹.png", settings)

    assert "20000×20000 像素，400.0 百万像素" in reason and "超过上限 60 百万像素" in reason


def test_image_past_even_pillows_own_limit_is_refused_as_too_large_not_as_broken(settings):
    reason = refused(png_declaring(30000, 30000), "huge.png", settings)

    assert "图片尺寸过大（超过 400 百万像素）" in reason and "超过上限 60 百万像素" in reason
    assert "损坏" not in reason


def test_photo_over_the_pixel_cap_is_refused_and_one_under_it_passes(settings):
    data = image_bytes(Image.new("RGB", (1200, 1000), "white"), "JPEG")

    reason = refused(data, "photo.jpg", settings.replace(max_image_mpx=1))

    assert reason.startswith("图片尺寸过大（1200×1000 像素，1.2 百万像素），超过上限 1 百万像素")
    assert check_upload(data, "photo.jpg", settings.replace(max_image_mpx=2)) == "image"


@pytest.mark.ocr  # load_bytes reads the first frame by OCR before it comes to the one refused
def test_tiff_with_more_frames_than_max_pages_is_refused(settings):
    frames = [Image.new("L", (200, 100), "white") for _ in range(3)]
    data = image_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])

    reason = refused(data, "scans.tif", settings.replace(max_pages=2))

    assert reason == "图片的页数（帧数）超过上限 2 页；请拆分后分别上传"


@pytest.mark.ocr  # load_bytes reads the first frame by OCR before it comes to the one refused
def test_tiff_frame_over_the_pixel_cap_is_refused_by_its_page_number(settings):
    small, big = Image.new("L", (200, 100), "white"), Image.new("L", (1200, 1000), "white")
    data = image_bytes(small, "TIFF", save_all=True, append_images=[big])

    reason = refused(data, "scans.tif", settings.replace(max_image_mpx=1))

    assert reason.startswith("第 2 页图片尺寸过大（1200×1000 像素")


def _heic_header(brand: bytes) -> bytes:
    return struct.pack(">I", 24) + b"ftyp" + brand + bytes(4) + b"mif1" + brand + bytes(64)


UNSUPPORTED_IMAGES = {
    "GIF": lambda: image_bytes(Image.new("RGB", (40, 30), "white"), "GIF"),
    "WEBP": lambda: image_bytes(Image.new("RGB", (40, 30), "white"), "WEBP"),
    "HEIC": lambda: _heic_header(b"heic"),
    "AVIF": lambda: _heic_header(b"avif"),
}


@pytest.mark.parametrize("fmt", sorted(UNSUPPORTED_IMAGES))
def test_image_formats_we_do_not_ocr_are_refused_by_name(fmt, settings):
    reason = refused(UNSUPPORTED_IMAGES[fmt](), f"photo.{fmt.lower()}", settings)

    assert reason == f"不支持 {fmt} 格式的图片，请转换为 PNG 或 JPEG 后重新上传（支持 PNG、JPEG、TIFF 或 BMP）"


# PDFs -----------------------------------------------------------------------------------------------


def latin_pdf(pages: int = 1, size_pt: tuple[float, float] | None = None, user_password: str | None = None) -> bytes:
    """A text-layer PDF in a core font (no CJK font needed): the checks here do not read its words."""
    pdf = FPDF(unit="pt", format=size_pt or "A4")
    if user_password:
        pdf.set_encryption(owner_password="owner", user_password=user_password)
    pdf.set_font("helvetica", size=12)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(text=f"Page {number}: budget 1523.45")
    return bytes(pdf.output())


@pytest.fixture
def no_rendering(monkeypatch):
    """OCR and page rendering replaced by stand-ins that record each call."""
    calls = []

    def render(page, **kwargs):
        calls.append("render")
        raise AssertionError("a page was rendered")

    def ocr_image(image, number, builder, settings):
        calls.append("ocr")

    monkeypatch.setattr(pdfium.PdfPage, "render", render)
    monkeypatch.setitem(sys.modules, "service.ingest.ocr", types.SimpleNamespace(ocr_image=ocr_image))
    return calls


def test_pdf_with_more_pages_than_max_pages_is_refused_before_reading(settings, no_rendering):
    reason = refused(latin_pdf(pages=4), "long.pdf", settings.replace(max_pages=3))

    assert reason == "PDF 共 4 页，超过上限 3 页；请拆分后分别上传"


def test_scanned_pdf_page_too_large_at_ocr_dpi_is_refused_before_rendering(tmp_path, settings, no_rendering):
    scan = Image.new("RGB", (1000, 1000), "white")  # at 100 dpi: a 720 pt square page
    ImageDraw.Draw(scan).rectangle((100, 100, 600, 160), fill="black")
    data = make_image_pdf([scan], tmp_path / "scan.pdf").read_bytes()

    reason = refused(data, "scan.pdf", settings.replace(ocr_dpi=200, max_image_mpx=3))

    assert reason.startswith("PDF 第 1 页是扫描图像，按 200 dpi 渲染后图片尺寸过大（2000×2000 像素，4.0 百万像素），"
                             "超过上限 3 百万像素")
    assert no_rendering == []


def test_text_pdf_page_of_the_same_size_is_not_refused_it_is_never_rendered(settings):
    data = latin_pdf(size_pt=(720, 720))

    assert check_upload(data, "big-page.pdf", settings.replace(ocr_dpi=200, max_image_mpx=3)) == "pdf"


def _truncated_pdf() -> bytes:
    data = latin_pdf(pages=3)
    return data[: len(data) // 2]


def _pdf_without_pages() -> bytes:
    """A well-formed PDF whose page tree is empty."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


BROKEN_PDFS = {
    "truncated": (_truncated_pdf, CORRUPT),
    "garbage-after-header": (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 40, CORRUPT),
    "encrypted": (lambda: latin_pdf(user_password="secret"), ENCRYPTED),
    "no-pages": (_pdf_without_pages, CORRUPT),  # pdfium does not open a document without pages
}


@pytest.mark.parametrize("case", sorted(BROKEN_PDFS))
def test_pdf_that_pdfium_cannot_open_is_refused_before_it_is_stored(case, settings):
    build, reason = BROKEN_PDFS[case]

    assert refused(build(), "report.pdf", settings) == reason


# Word files -----------------------------------------------------------------------------------------


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
    return buf.getvalue()


def test_docx_zip_bomb_is_refused_before_it_is_stored(settings):
    data = zip_of({"word/document.xml": b"<w:document/>", "word/media/padding.bin": bytes(5 * 1024 * 1024)})

    reason = refused(data, "bomb.docx", settings.replace(max_unpacked_mb=1))

    assert reason.startswith("Word 文档解压后过大（5 MB），超过上限 1 MB") and "压缩炸弹" in reason


def test_opendocument_zip_bomb_is_refused_before_it_is_stored(settings):
    data = zip_of({"content.xml": b"<office:document-content/>", "Pictures/padding.bin": bytes(5 * 1024 * 1024)})

    with pytest.raises(IngestError) as err:
        check_upload(data, "bomb.odt", settings.replace(max_unpacked_mb=1))

    assert "解压后过大" in err.value.reason and "压缩炸弹" in err.value.reason


def test_docx_that_cannot_be_opened_is_refused_before_it_is_stored(settings):
    buf = io.BytesIO()
    docx.Document().save(buf)
    with zipfile.ZipFile(buf) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["word/document.xml"] = b"<w:document><w:body><w:p>not closed"

    reason = refused(zip_of(members), "broken.docx", settings)

    assert reason.startswith("Word 文档（.docx）已损坏或格式不正确，无法打开")


def test_password_protected_word_file_is_refused_before_it_is_stored(settings):
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512) + "EncryptedPackage".encode("utf-16-le") + bytes(512)

    with pytest.raises(IngestError) as err:
        check_upload(data, "加密.docx", settings)

    assert err.value.reason == WORD_ENCRYPTED


# Text encodings -------------------------------------------------------------------------------------


ENCODED = {
    "utf-8": SIMPLIFIED,
    "utf-8-sig": SIMPLIFIED,
    "utf-16": SIMPLIFIED,  # with a byte-order mark
    "utf-16-le": SIMPLIFIED,  # without one
    "utf-16-be": SIMPLIFIED,
    "gb18030": SIMPLIFIED,
    "gbk": SIMPLIFIED,
    "gb18030-traditional": TRADITIONAL,
    "big5": TRADITIONAL,
    "cp950": TRADITIONAL,
    "big5hkscs": TRADITIONAL,
}


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_text_in_each_chinese_encoding_is_decoded_exactly(encoding, settings):
    text = ENCODED[encoding]
    data = text.encode(encoding.removesuffix("-traditional"))

    assert check_upload(data, f"{encoding}.txt", settings) == "txt"
    assert load_bytes(data, f"{encoding}.txt", settings).text == text


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16-le", "utf-16-be"])
def test_every_sample_report_decodes_exactly_without_a_byte_order_mark(encoding):
    for path in sorted(SAMPLES.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        assert decode(text.encode(encoding)) == text, path.name


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "big5"])
def test_a_report_cut_mid_character_or_with_a_stray_byte_is_read_with_the_loss_marked(encoding):
    path = SAMPLES / "000_8d720d4fc0889d24.txt"
    text = path.read_text(encoding="utf-8") if encoding != "big5" else TRADITIONAL * 20
    data = text.encode(encoding, errors="ignore")
    cut = data[:len(data) // 2]
    while True:  # cut inside a character
        try:
            cut.decode(encoding)
        except UnicodeDecodeError:
            break
        cut = cut[:-1]
    for damaged in (cut, data[:4000] + b"\xff" + data[4000:]):
        read = decode(damaged)
        assert 1 <= read.count("\ufffd") <= 2
        assert read.replace("\ufffd", "")[:300] == text[:300]


def test_big5_report_is_not_read_as_gb18030_gibberish(settings):
    doc = load_bytes(TRADITIONAL.encode("big5"), "台灣.txt", settings)

    assert "部門整體支出績效自評報告" in doc.text and "1498.12萬元" in doc.text


NOT_CHINESE = {
    "shift_jis": "令和五年度の予算執行状況について報告します。部門の収入合計は千五百万円であり、支出合計は千四百万円でした。",
    "euc_jp": "令和五年度の予算執行状況について報告します。評価の結果、当部門の業績は優秀と判断されました。",
    "euc_kr": "2023년도 부문 수입 합계는 1523만 원입니다. 예산 집행 상황을 설명합니다. 성과 평가 결과 우수 등급을 받았습니다.",
    "cp1252": "Rapport budgétaire de l'année: dépenses totales 1498,12 €, résultat évalué « très bien ».",
}


@pytest.mark.parametrize("encoding", sorted(NOT_CHINESE))
def test_text_that_no_encoding_reads_as_chinese_is_refused_not_decoded_into_gibberish(encoding, settings):
    data = NOT_CHINESE[encoding].encode(encoding)

    assert refused(data, "report.txt", settings) == UNKNOWN_ENCODING


# Nothing stored -------------------------------------------------------------------------------------


def test_refused_uploads_leave_no_file_and_no_job(tmp_path):
    settings = load_settings(env={}, db=str(tmp_path / "jixiao.db")).replace(max_pages=3, max_unpacked_mb=1)
    uploads = tmp_path / "uploads"
    bad = {
        "炸弹.png": png_declaring(20000, 20000),
        "动图.gif": UNSUPPORTED_IMAGES["GIF"](),
        "long.pdf": latin_pdf(pages=4),
        "cut.pdf": _truncated_pdf(),
        "bomb.docx": zip_of({"word/document.xml": b"<w:document/>", "word/media/pad.bin": bytes(5 * 1024 * 1024)}),
        "日文.txt": NOT_CHINESE["shift_jis"].encode("shift_jis"),
    }
    store = Store(settings.db)
    try:
        results = [submit(store, uploads, name, data, "oper", settings) for name, data in bad.items()]
        jobs = store.jobs()
    finally:
        store.close()

    assert [r["outcome"] for r in results] == [REJECTED] * len(bad)
    assert all(r["message"] and r["job"] is None for r in results)
    assert jobs == []
    assert not uploads.exists() or not any(Path(uploads).rglob("*"))
