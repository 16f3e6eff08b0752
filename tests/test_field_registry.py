"""A field is declared once (service/fields.py) and every part of the product finds it there: the model's
field list and hints, the rules extractor, the check messages, the review page's sections, the export
headers and the confirmed table's columns. Adding one is a registry entry plus its migration."""

from __future__ import annotations

import re

import pytest

from service.fields import (
    BY_KEY,
    FIELDS,
    GROUPS,
    FieldSpec,
    field_keys,
    grouped,
    hinted_fields,
    register,
    unregister,
)
from service.store import Store, migrations
from tests.conftest import ROOT, SHARED
from tests.webapp import api_save, as_user, confirm_form, make_app, store_of, upload_and_extract

SPEC = SHARED / "spec" / "fields.md"


def spec_keys() -> list[str]:
    """The keys of the spec's scalar-field table, in its order."""
    table = SPEC.read_text(encoding="utf-8").split("## Scalar fields", 1)[1].split("\n## ", 1)[0]
    return [k for k in re.findall(r"^\| ([a-z_]+) \|", table, re.M) if k != "key"]


def test_the_registry_holds_exactly_the_fields_of_the_spec_in_its_order():
    assert list(field_keys()) == spec_keys()


def test_every_field_has_one_review_section_and_is_hinted_or_names_the_report():
    sections = [key for _name, keys in grouped() for key in keys]
    assert sorted(sections) == sorted(field_keys())  # each shown once on the review page
    assert all(f.group in GROUPS for f in FIELDS)
    assert all(f.hints or f.identity for f in FIELDS), [f.key for f in FIELDS if not (f.hints or f.identity)]


def test_every_field_is_a_column_of_the_confirmed_table_and_documented(tmp_path):
    store = Store(str(tmp_path / "j.db"))
    columns = set(store.db["confirmed_reports"].columns_dict)
    store.close()
    assert set(field_keys()) <= columns
    documented = (ROOT / "docs" / "confirmed-db.md").read_text(encoding="utf-8")
    assert [k for k in field_keys() if f"`{k}`" not in documented] == []


def test_every_field_is_in_the_models_field_list_and_has_a_chinese_export_header():
    from service.export import header_zh, report_columns
    from service.extract.llm import prompts

    text = prompts.render("facts", document_name="x.txt", section_title="一、基本情况", section_text="正文").text
    for f in FIELDS:
        assert f"- {f.key}：{f.zh}" in text, f.key
        assert f.key in report_columns() and header_zh("报告", f.key).startswith(f.zh)


# -- a field added in this test only ------------------------------------------------------------------------

NEW = FieldSpec("debt_new", "新增政府债务", "money", "采购与资产", ("assets",), "actual")
REPORT = """桐溪县档案馆2023年度部门整体支出绩效自评报告

一、部门基本情况
桐溪县档案馆为县政府直属公益一类事业单位。

二、预算执行情况
2023年年初预算数为320.50万元，全年预算数为356.20万元，全年执行数为351.84万元。
本年新增政府债务资产12.5万元。

三、存在的问题
无。

四、改进措施
无。
"""


def m900_add_debt_new(db):
    db["confirmed_reports"].add_column("debt_new", float)


@pytest.fixture
def registered():
    register(NEW)
    try:
        with migrations.registered(m900_add_debt_new):
            yield NEW
    finally:
        unregister(NEW.key)
    assert "debt_new" not in BY_KEY


def test_a_registered_field_is_hinted_to_the_model_and_listed_in_its_prompt(registered):
    from service.extract.llm import prompts

    hinted = hinted_fields("本年新增政府债务资产12.5万元。")
    assert "debt_new" in hinted
    text = prompts.render("facts", document_name="x.txt", section_title="二、预算执行情况",
                          section_text="本年新增政府债务资产12.5万元。", fields=hinted).text
    assert "- debt_new：新增政府债务" in text and "debt_new（新增政府债务）" in text


def test_a_registered_field_is_shown_exported_and_confirmed_into_its_column(registered, tmp_path):
    from service.export import header_zh, report_columns, reports_csv

    app = make_app(tmp_path)
    path = tmp_path / "桐溪县档案馆.txt"
    path.write_text(REPORT, encoding="utf-8")
    sha = upload_and_extract(app, path)
    client = as_user(app, "rev")
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    section = page[page.index("采购与资产"):]
    assert 'id="item-field-debt_new"' in section and "新增政府债务" in section  # in its own section

    store = store_of(app)
    item = store.review_item(sha, "field:debt_new")
    assert api_save(client, sha, item, "correct", "12.5").status_code == 200
    for flagged in [i for i in store.review_items(sha) if i["status"] == "review"]:
        assert api_save(client, sha, flagged, "accept").status_code == 200
    assert client.post(f"/documents/{sha}/confirm", data=confirm_form(client, sha)).status_code == 303
    (report,) = store.confirmed_documents()
    assert report["debt_new"] == 12.5

    assert "debt_new" in report_columns() and header_zh("报告", "debt_new") == "新增政府债务（万元）"
    assert "新增政府债务（万元）" in reports_csv(store).splitlines()[0]
    store.close()


def test_a_field_cannot_be_registered_twice_or_into_a_section_that_does_not_exist():
    with pytest.raises(ValueError):
        register(FieldSpec("unit_name", "单位", "text", "基本信息"))
    with pytest.raises(ValueError):
        register(FieldSpec("new_key", "新字段", "text", "不存在的分组"))
    assert field_keys() == tuple(spec_keys())  # nothing half-registered
