"""The units expected to report in the web app: the admin's 单位名单 page (import, add, edit, delete, all audited),
未报送单位 and 待匹配 on the 总览, and a person's choice of a report's unit, which sticks and is audited."""

from __future__ import annotations

import html
import io
import re

import openpyxl
import pytest

from tests.units_data import app_over, seed_units
from tests.webapp import as_user, csrf_token, store_of

GBK_LIST = "单位名称,类别,代码\r\n岭坡乡,乡镇,101\r\n衡山县教育局,部门,301\r\n".encode("gbk")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed_units(tmp_path_factory.mktemp("units"))


@pytest.fixture
def seeded_app(seeded, tmp_path):
    db, shas = seeded
    return app_over(db, tmp_path), shas


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def words(resp) -> str:
    """The page's text as a person reads it: no tags, runs of spaces as one."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text(resp)))


def section(page: str, id_: str) -> str:
    found = re.search(rf'id="{id_}"(.*?)</(?:table|ul|p)>', page, re.S)
    assert found, f"no #{id_} on the page"
    return found.group(1)


def post_unit_form(client, url: str, **fields):
    token = csrf_token(client, "/admin/units")
    return client.post(url, data={"csrf_token": token, **fields})


def choose(client, sha: str, unit_id, next_url: str | None = None):
    token = csrf_token(client, f"/documents/{sha}")
    data = {"csrf_token": token, "unit": "" if unit_id is None else str(unit_id)}
    if next_url:
        data["next"] = next_url
    return client.post(f"/documents/{sha}/unit", data=data)


def unit_id(app, name: str) -> int:
    store = store_of(app)
    try:
        return next(u["id"] for u in store.list_units() if u["name"] == name)
    finally:
        store.close()


# -- who may -----------------------------------------------------------------------------------------------------

def test_the_units_pages_are_for_admins_and_ask_for_log_in_first(app):
    for url in ("/admin/units", "/admin/units/1/edit"):
        resp = app.test_client().get(url)
        assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"], url
        assert as_user(app, "rev").get(url).status_code == 403, url
        assert as_user(app, "oper").get(url).status_code == 403, url
    reviewer = as_user(app, "rev")
    token = csrf_token(reviewer, "/queue")
    for url in ("/admin/units", "/admin/units/import", "/admin/units/1/delete", "/admin/units/1/edit"):
        assert reviewer.post(url, data={"csrf_token": token}).status_code == 403, url
    anonymous = app.test_client()
    resp = anonymous.post("/admin/units/import", data={"csrf_token": csrf_token(anonymous)})
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
    assert as_user(app, "boss").get("/admin/units").status_code == 200


def test_choosing_a_reports_unit_is_for_reviewers_and_admins(seeded_app):
    app, shas = seeded_app
    sha = shas[("林业局", 2023)]
    operator = as_user(app, "oper")
    token = csrf_token(operator, "/upload")
    assert operator.post(f"/documents/{sha}/unit", data={"csrf_token": token, "unit": "3"}).status_code == 403
    anonymous = app.test_client()
    resp = anonymous.post(f"/documents/{sha}/unit", data={"csrf_token": csrf_token(anonymous), "unit": "3"})
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
    admin = as_user(app, "boss")
    assert admin.post(f"/documents/{sha}/unit", data={"unit": "3"}).status_code == 400  # no CSRF token
    assert choose(admin, "0" * 64, 3).status_code == 404
    assert choose(admin, sha, "abc").status_code == 400


# -- the list in the browser ---------------------------------------------------------------------------------------

def test_an_admin_adds_changes_and_deletes_a_unit_each_audited(app):
    admin = as_user(app, "boss")
    resp = post_unit_form(admin, "/admin/units", name="岭坡乡", category="乡镇", code="101", aliases="岭坡、岭坡乡政府")
    assert resp.status_code == 303
    page = text(admin.get("/admin/units"))
    assert "已添加单位 岭坡乡（乡镇）" in page and "岭坡、岭坡乡政府" in page and "名单共 1 个单位" in page
    uid = unit_id(app, "岭坡乡")
    assert "岭坡乡" in text(admin.get(f"/admin/units/{uid}/edit"))
    resp = post_unit_form(admin, f"/admin/units/{uid}/edit", name="岭坡镇", category="乡镇", code="101", aliases="")
    assert resp.status_code == 303
    assert "已保存 岭坡镇" in text(admin.get("/admin/units"))
    token = csrf_token(admin, "/admin/units")
    assert admin.post(f"/admin/units/{uid}/delete", data={"csrf_token": token}).status_code == 303
    assert "已从名单中删除 岭坡镇" in text(admin.get("/admin/units"))
    store = store_of(app)
    try:
        audit = store.unit_audit_entries()
    finally:
        store.close()
    assert [(a["action"], a["user_name"]) for a in audit] == [("delete", "boss"), ("update", "boss"), ("add", "boss")]
    assert audit[1]["old_value"]["name"] == "岭坡乡" and audit[1]["new_value"]["name"] == "岭坡镇"
    assert admin.post(f"/admin/units/{uid}/delete", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize("fields, said", [
    ({"name": "", "category": "乡镇"}, "请输入单位名称"),
    ({"name": "白果村", "category": "村"}, "类别「村」不是 乡镇、街道、部门 之一"),
])
def test_a_unit_that_cannot_be_kept_is_refused_in_chinese(app, fields, said):
    admin = as_user(app, "boss")
    resp = post_unit_form(admin, "/admin/units", **fields)
    assert resp.status_code == 400 and said in text(resp)
    assert "名单共 0 个单位" in text(admin.get("/admin/units"))


def test_a_second_unit_of_the_same_name_or_code_is_refused(app):
    admin = as_user(app, "boss")
    post_unit_form(admin, "/admin/units", name="岭坡乡", category="乡镇", code="101")
    resp = post_unit_form(admin, "/admin/units", name="岭坡乡 ", category="乡镇")
    assert resp.status_code == 400 and "名单中已有单位「岭坡乡」" in text(resp)
    resp = post_unit_form(admin, "/admin/units", name="白果镇", category="乡镇", code="101")
    assert resp.status_code == 400 and "代码 101 已是单位「岭坡乡」的代码" in text(resp)


def test_an_alias_that_is_another_units_name_or_alias_is_refused_and_moves_no_report(app):
    admin = as_user(app, "boss")
    post_unit_form(admin, "/admin/units", name="平等乡", category="乡镇", aliases="平等")
    resp = post_unit_form(admin, "/admin/units", name="测试部门", category="部门", aliases="平等乡人民政府")
    assert resp.status_code == 400 and "别名「平等乡人民政府」与单位「平等乡」的名称相同" in text(resp)
    resp = post_unit_form(admin, "/admin/units", name="平等", category="乡镇")
    assert resp.status_code == 400 and "名称「平等」与单位「平等乡」的别名「平等」相同" in text(resp)
    assert "名单共 1 个单位" in text(admin.get("/admin/units"))


def upload_list(client, name: str, data: bytes):
    token = csrf_token(client, "/admin/units")
    return client.post("/admin/units/import", data={"csrf_token": token, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_gbk_csv_uploaded_on_the_units_page_is_imported_and_again_changes_nothing(app):
    admin = as_user(app, "boss")
    assert upload_list(admin, "名单.csv", GBK_LIST).status_code == 303
    page = text(admin.get("/admin/units"))
    assert "已导入 名单.csv：新增 2 个，更新 0 个" in page and "名单共 2 个单位：乡镇 1 个，街道 0 个，部门 1 个" in page
    upload_list(admin, "名单.csv", GBK_LIST)
    assert "新增 0 个，更新 0 个，2 个与名单一致未改动" in text(admin.get("/admin/units"))


def test_an_xlsx_uploaded_on_the_units_page_is_imported(app):
    book = openpyxl.Workbook()
    for row in (["名称", "类别", "代码"], ["湘江街道", "街道", 201], ["白果镇", "乡镇", 102]):
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    admin = as_user(app, "boss")
    assert upload_list(admin, "名单.xlsx", out.getvalue()).status_code == 303
    page = text(admin.get("/admin/units"))
    assert "新增 2 个" in page and "湘江街道" in page and "201" in page


@pytest.mark.parametrize("name, data, said", [
    ("名单.csv", "代码,类别\n101,乡镇\n".encode(), "找不到「名称」列"),
    ("名单.csv", "名称,类别\n岭坡乡,乡镇\n白果村,村\n".encode(), "第 3 行：类别「村」不是 乡镇、街道、部门 之一"),
    ("名单.csv", b"", "文件是空的"),
    ("名单.pdf", b"%PDF-1.7\n", "不是 CSV 或 XLSX 表格"),
])
def test_a_bad_list_uploaded_is_refused_in_chinese_and_nothing_is_written(app, name, data, said):
    admin = as_user(app, "boss")
    resp = upload_list(admin, name, data)
    assert resp.status_code == 400 and said in text(resp)
    assert "名单共 0 个单位" in text(resp)
    store = store_of(app)
    try:
        assert store.list_units() == [] and store.unit_audit_entries() == []
    finally:
        store.close()


def test_an_upload_with_no_file_says_so(app):
    admin = as_user(app, "boss")
    token = csrf_token(admin, "/admin/units")
    resp = admin.post("/admin/units/import", data={"csrf_token": token}, content_type="multipart/form-data")
    assert resp.status_code == 400 and "请选择要导入的 CSV 或 XLSX 文件" in text(resp)


# -- the 总览 ------------------------------------------------------------------------------------------------------

def test_the_overview_lists_the_units_that_have_not_reported_with_their_category(seeded_app):
    app, shas = seeded_app
    resp = as_user(app, "rev").get("/overview?year=2023")
    assert "应报送单位 8 个：已报送（确认入库）3 个，未报送 5 个（其中未上传任何报告 4 个）；待匹配的报告 2 份" in words(resp)
    page = text(resp)
    missing = section(page, "not-confirmed")
    for unit, category in (("白果乡", "乡镇"), ("湘江街道", "街道"), ("某某县水利局", "部门"), ("某某县林业局", "部门"),
                           ("某某市林业局", "部门")):
        assert f"<td>{unit}</td><td>{category}</td>" in missing, unit
    for reported in ("岭坡乡", "白果镇<", "某某县教育局"):
        assert reported not in missing
    assert "湘江街道办事处2023.txt</a>（待审核）" in missing  # uploaded, not confirmed
    not_uploaded = section(page, "not-uploaded")
    assert "白果乡" in not_uploaded and "某某县水利局" in not_uploaded and "湘江街道" not in not_uploaded


def test_the_year_before_has_its_own_units_not_reported(seeded_app):
    app, _ = seeded_app
    resp = as_user(app, "rev").get("/overview?year=2022")
    assert "应报送单位 8 个：已报送（确认入库）2 个，未报送 6 个（其中未上传任何报告 6 个）" in words(resp)
    page = text(resp)
    assert "某某县水利局" not in section(page, "not-confirmed") and 'id="unsettled"' not in page


def test_an_ambiguous_report_is_asked_for_and_not_guessed(seeded_app):
    app, shas = seeded_app
    page = text(as_user(app, "rev").get("/overview?year=2023"))
    unsettled = section(page, "unsettled")
    assert "林业局</a>" in unsettled and "待匹配" in unsettled and "名单中有 2 个单位同样符合，需人工选择" in unsettled
    assert "某某县林业局（部门，代码 003）" in unsettled and "某某市林业局（部门，代码 004）" in unsettled
    assert "某某县气象局</a>" in unsettled and "未匹配" in unsettled
    review = text(as_user(app, "rev").get(f"/documents/{shas[('林业局', 2023)]}"))
    assert 'id="unit-match"' in review and "待匹配" in review and "选择所属单位" in review
    assert "所属单位：" not in review  # no unit is shown as its unit
    matched = words(as_user(app, "rev").get(f"/documents/{shas[('某某县岭坡乡人民政府', 2023)]}"))
    assert "自动匹配" in matched and "所属单位：岭坡乡（乡镇，代码 101）" in matched


def test_a_persons_choice_sticks_wins_and_is_audited(seeded_app):
    app, shas = seeded_app
    sha = shas[("林业局", 2023)]
    county = unit_id(app, "某某县林业局")
    reviewer = as_user(app, "rev")
    resp = choose(reviewer, sha, county)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/documents/{sha}")
    review = text(reviewer.get(f"/documents/{sha}"))
    assert "已指定所属单位：某某县林业局（部门）" in review
    assert "所属单位：某某县林业局（部门，代码 003）（由 rev 指定）" in words(reviewer.get(f"/documents/{sha}"))
    assert "人工指定" in review
    history = review[review.index("修改记录"):]
    assert re.search(r"<td class=\"who\">rev</td><td class=\"what\">指定所属单位</td>.*?某某县林业局（部门，代码 003）",
                     history, re.S)
    page = text(reviewer.get("/overview?year=2023"))
    assert "已报送（确认入库）4 个，未报送 4 个" in words(reviewer.get("/overview?year=2023")) and "某某县林业局" not in section(page, "not-confirmed")
    assert "林业局</a>" not in section(page, "unsettled")
    # a choice wins over the automatic match, and a new import of the list keeps it
    township = shas[("某某县岭坡乡人民政府", 2023)]
    choose(reviewer, township, unit_id(app, "白果乡"))
    admin = as_user(app, "boss")
    upload_list(admin, "名单.csv", GBK_LIST)
    assert "所属单位：白果乡（乡镇，代码 103）（由 rev 指定）" in words(reviewer.get(f"/documents/{township}"))
    # and taken back, the report is matched automatically again (audited too)
    assert choose(admin, township, None).status_code == 303
    back = words(admin.get(f"/documents/{township}"))
    assert "已改回自动匹配" in back and "所属单位：岭坡乡" in back and "取消指定的单位" in back


def test_an_admin_chooses_on_the_units_page_and_comes_back_to_it(seeded_app):
    app, shas = seeded_app
    admin = as_user(app, "boss")
    page = text(admin.get("/admin/units"))
    unsettled = page[page.index('id="unsettled"'):page.index('id="units"')]
    assert "林业局" in unsettled and "某某县气象局" in unsettled and "待匹配的报告 2 份" in page
    resp = choose(admin, shas[("某某县气象局", 2023)], unit_id(app, "某某县水利局"), next_url="/admin/units")
    assert resp.status_code == 303 and resp.headers["Location"] == "/admin/units"
    page = text(admin.get("/admin/units"))
    assert "待匹配的报告 1 份" in page and "某某县气象局" not in page[page.index('id="unsettled"'):]
    off_site = choose(admin, shas[("林业局", 2023)], unit_id(app, "某某县林业局"), next_url="https://evil.example/")
    assert off_site.headers["Location"].endswith(f"/documents/{shas[('林业局', 2023)]}")


def test_deleting_a_unit_takes_back_the_choices_of_it_in_the_reports_log(seeded_app):
    app, shas = seeded_app
    sha = shas[("林业局", 2023)]
    uid = unit_id(app, "某某市林业局")
    admin = as_user(app, "boss")
    choose(admin, sha, uid)
    token = csrf_token(admin, "/admin/units")
    assert admin.post(f"/admin/units/{uid}/delete", data={"csrf_token": token}).status_code == 303
    store = store_of(app)
    try:
        assert store.unit_choice(sha) is None
        last = store.audit_entries(sha)[-1]
    finally:
        store.close()
    assert last["action"] == "unit_choice_cleared" and last["reason"] == "单位「某某市林业局」已从名单中删除"
    # with one 林业局 left in the list, the report now matches it
    assert "所属单位：某某县林业局" in words(admin.get(f"/documents/{sha}"))


def test_a_unit_chosen_meanwhile_does_not_make_a_reviewers_confirm_stale(seeded_app):
    from service.review import apply_action, record_from_items

    app, shas = seeded_app
    sha = shas[("湘江街道办事处", 2023)]
    store = store_of(app)
    try:
        for item in store.review_items(sha):
            if item["status"] == "review":
                value, status = apply_action(item, "accept")
                store.save_item(sha, item["item"], item["version"], value, status, "rev", "accept")
        seen = store.last_change(sha)
        store.choose_unit(sha, unit_id(app, "湘江街道"), "boss")  # another person, after the page was drawn
        job = store.job(sha)
        store.confirm(sha, "rev", record_from_items({"name": job["name"], "sha256": sha}, store.review_items(sha)),
                      seen=seen)
        assert store.job(sha)["state"] == "confirmed"
    finally:
        store.close()
    page = text(as_user(app, "rev").get("/overview?year=2023"))
    assert "湘江街道" not in section(page, "not-confirmed")


def test_without_a_list_the_overview_tells_an_admin_where_to_import_it(app):
    page = text(as_user(app, "boss").get("/overview"))
    assert "尚未导入应报送单位名单" in page and 'id="card-units"' not in page
    assert "尚未导入应报送单位名单" not in text(as_user(app, "rev").get("/overview"))


def test_choosing_a_unit_no_longer_in_the_list_says_so(seeded_app):
    app, shas = seeded_app
    reviewer = as_user(app, "rev")
    resp = choose(reviewer, shas[("林业局", 2023)], 9999)
    assert resp.status_code == 303
    page = text(reviewer.get(resp.headers["Location"]))
    assert "名单中已没有该单位" in page and "待匹配" in page
