""".docx ingestion: document order, merged cells read once, sample reports round-trip, bad zips refused."""

from __future__ import annotations

import io
import re
import zipfile

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from service.document import DocumentBuilder
from service.errors import IngestError
from service.ingest import load, load_bytes
from service.ingest.docx import read_docx
from tests.builders import make_docx, split_blocks, table_cells
from tests.conftest import SAMPLES


def _bytes(document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_docx_paragraphs_and_tables_keep_document_order(settings):
    d = docx.Document()
    d.add_paragraph("第一段")
    t = d.add_table(rows=2, cols=2)
    for (i, j), text in {(0, 0): "甲", (0, 1): "乙", (1, 0): "丙", (1, 1): "丁"}.items():
        t.cell(i, j).text = text
    d.add_paragraph("第二段")
    d.add_paragraph("")
    d.add_paragraph("第三段")

    doc = load_bytes(_bytes(d), "order.docx", settings)

    assert doc.kind == "docx"
    assert doc.text == "第一段\n\t甲\n\t乙\n\n\t丙\n\t丁\n\n第二段\n\n第三段\n"
    assert len(doc.tables) == 1
    table = doc.tables[0]
    assert table.origin == "docx"
    assert table.grid() == [["甲", "乙"], ["丙", "丁"]]
    assert doc.text.index("第一段") < table.start < table.end <= doc.text.index("第二段")
    assert doc.text[table.rows[1][1].start:table.rows[1][1].end] == "丁"
    assert [(p.number, p.ocr) for p in doc.pages] == [(1, False)]


def test_docx_vertically_merged_cell_appears_once(settings):
    d = docx.Document()
    t = d.add_table(rows=3, cols=3)
    for i in range(3):
        for j in range(1, 3):
            t.cell(i, j).text = f"r{i}c{j}"
    t.cell(0, 0).merge(t.cell(2, 0)).text = "绩效指标"

    doc = load_bytes(_bytes(d), "vmerge.docx", settings)

    assert doc.tables[0].grid() == [
        ["绩效指标", "r0c1", "r0c2"],
        ["", "r1c1", "r1c2"],
        ["", "r2c1", "r2c2"],
    ]
    assert doc.text.count("绩效指标") == 1


def test_docx_horizontally_merged_cell_appears_once_and_grid_kept(settings):
    d = docx.Document()
    t = d.add_table(rows=3, cols=3)
    t.cell(0, 0).merge(t.cell(0, 2)).text = "部门整体支出绩效自评表"
    t.cell(1, 0).text, t.cell(1, 1).text, t.cell(1, 2).text = "年初预算数", "全年预算数", "全年执行数"
    t.cell(2, 0).text = "1045.9"
    t.cell(2, 1).merge(t.cell(2, 2)).text = "2946.602828"

    doc = load_bytes(_bytes(d), "hmerge.docx", settings)

    assert doc.tables[0].grid() == [
        ["部门整体支出绩效自评表"],
        ["年初预算数", "全年预算数", "全年执行数"],
        ["1045.9", "2946.602828"],
    ]
    assert doc.text.count("2946.602828") == 1


def test_docx_block_merge_appears_once_then_as_empty_cells_below(settings):
    d = docx.Document()
    t = d.add_table(rows=2, cols=3)
    t.cell(0, 0).merge(t.cell(1, 1)).text = "产出指标"
    t.cell(0, 2).text, t.cell(1, 2).text = "数量指标", "质量指标"

    doc = load_bytes(_bytes(d), "block.docx", settings)

    assert doc.tables[0].grid() == [["产出指标", "数量指标"], ["", "质量指标"]]


def test_docx_nested_table_text_goes_into_its_cell_row_by_row(settings):
    d = docx.Document()
    outer = d.add_table(rows=1, cols=2)
    outer.cell(0, 0).text = "外层"
    cell = outer.cell(0, 1)
    cell.paragraphs[0].text = "说明"
    inner = cell.add_table(rows=2, cols=2)
    inner.cell(0, 0).text, inner.cell(0, 1).text = "指标", "分值"
    inner.cell(1, 0).text, inner.cell(1, 1).text = "满意度", "10"

    doc = load_bytes(_bytes(d), "nested.docx", settings)

    assert len(doc.tables) == 1
    assert doc.tables[0].grid() == [["外层", "说明\n指标  分值\n满意度  10"]]


def test_docx_multi_paragraph_cell_keeps_its_lines_in_one_cell(settings):
    d = docx.Document()
    t = d.add_table(rows=1, cols=2)
    t.cell(0, 0).text = "年度预算申请"
    t.cell(0, 0).add_paragraph("（万元）")
    t.cell(0, 1).text = "972.54"

    doc = load_bytes(_bytes(d), "cell-lines.docx", settings)

    assert doc.tables[0].grid() == [["年度预算申请\n（万元）", "972.54"]]
    assert "\t年度预算申请\n（万元）\n\t972.54\n\n" in doc.text


def test_docx_tracked_insertions_kept_and_deletions_dropped(settings):
    d = docx.Document()
    p = d.add_paragraph()
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:t>执行率</w:t></w:r>'))
    p._p.append(parse_xml(f'<w:ins {nsdecls("w")} w:id="1" w:author="a"><w:r><w:t>100%</w:t></w:r></w:ins>'))
    p._p.append(parse_xml(f'<w:del {nsdecls("w")} w:id="2" w:author="a"><w:r><w:delText>95%</w:delText></w:r></w:del>'))

    doc = load_bytes(_bytes(d), "tracked.docx", settings)

    assert doc.text == "执行率100%\n"


def test_docx_text_inside_content_controls_is_kept(settings):
    d = docx.Document()
    d.add_paragraph("前")
    d.element.body.insert(
        1,
        parse_xml(
            f'<w:sdt {nsdecls("w")}><w:sdtContent><w:p><w:r><w:t>控件中的文字</w:t></w:r></w:p>'
            "</w:sdtContent></w:sdt>"
        ),
    )
    d.add_paragraph("后")

    doc = load_bytes(_bytes(d), "sdt.docx", settings)

    assert doc.text == "前\n控件中的文字\n后\n"


def test_docx_paragraph_starting_with_tab_does_not_open_a_table_cell(settings):
    d = docx.Document()
    d.add_paragraph("\t一、部门基本情况")

    doc = load_bytes(_bytes(d), "indent.docx", settings)

    assert doc.text == "一、部门基本情况\n"
    assert doc.tables == []


def test_docx_headers_and_footers_are_left_out(settings):
    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = "页眉文字"
    d.sections[0].footer.paragraphs[0].text = "第 1 页"
    d.add_paragraph("正文")

    doc = load_bytes(_bytes(d), "header.docx", settings)

    assert doc.text == "正文\n"


@pytest.mark.parametrize("sample", ["000_8d720d4fc0889d24", "002_6ebd5ff7b055c059"])
def test_docx_of_sample_report_has_same_cell_texts_as_text_version(sample, tmp_path, settings):
    text = (SAMPLES / f"{sample}.txt").read_text(encoding="utf-8")
    path = make_docx(text, tmp_path / f"{sample}.docx")

    doc = load(path, settings)

    expected_rows = [[_squash(c) for c in row] for kind, rows in split_blocks(text) if kind == "table" for row in rows]
    got_rows = [[_squash(c.text) for c in row] for t in doc.tables if t.origin == "docx" for row in t.rows]
    assert got_rows == expected_rows
    expected_cells = [c for c in map(_squash, table_cells(split_blocks(text))) if c]
    assert [c for row in got_rows for c in row if c] == expected_cells
    assert _squash(doc.text) == _squash(text)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_docx_zip_bomb_is_rejected_with_reason(settings):
    data = _zip({"word/document.xml": b"<w:document/>", "word/media/padding.bin": bytes(5 * 1024 * 1024)})
    assert len(data) < 100_000

    with pytest.raises(IngestError) as err:
        load_bytes(data, "bomb.docx", settings.replace(max_unpacked_mb=1))

    assert err.value.name == "bomb.docx"
    assert "解压后过大" in err.value.reason and "压缩炸弹" in err.value.reason


def test_docx_member_with_extreme_compression_ratio_is_rejected(settings):
    data = _zip({"word/document.xml": b"<w:document/>", "word/media/zeros.bin": bytes(11 * 1024 * 1024)})

    with pytest.raises(IngestError) as err:
        load_bytes(data, "ratio.docx", settings)

    assert "压缩比异常" in err.value.reason and "word/media/zeros.bin" in err.value.reason


def test_corrupt_docx_is_rejected(settings):
    good = _bytes(docx.Document())
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["word/document.xml"] = b"<w:document><w:body><w:p>not closed"

    with pytest.raises(IngestError) as err:
        load_bytes(_zip(members), "broken.docx", settings)

    assert err.value.name == "broken.docx"
    assert "损坏" in err.value.reason


def test_docx_with_broken_zip_structure_is_rejected(settings):
    good = _bytes(docx.Document())

    with pytest.raises(IngestError) as err:
        read_docx(good[: len(good) // 2], "half.docx", DocumentBuilder(), settings)

    assert err.value.name == "half.docx"
    assert "损坏" in err.value.reason
