"""The 校准 page (admins): per field, what reviewers did with the values its threshold routed, the proposed
threshold, applying and taking it back (audited, stored, in force for the next job and in `jixiao settings`),
and who may see it. The database is seeded through the store's own methods (tests/calibration_data.py); the
expected figures are worked out by hand from what the seed does."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import service.worker
from service.cli import cli
from service.errors import JixiaoError
from service.export import local_time, zone_of
from service.store import Store
from service.thresholds import for_jobs
from service.worker import process_next, store_upload
from tests.calibration_data import ADMIN, SHA, seeded_copy
from tests.webapp import as_user, csrf_token, make_app, store_of

PAGE = "/admin/calibration"


@pytest.fixture
def seeded(app):
    seeded_copy(app.config["DATABASE"])
    return app


def cells(page: str, key: str) -> list[str]:
    """The text of each cell of a field's row on the page."""
    row = re.search(rf'<tr data-key="{key}">(.*?)</tr>', page, re.S).group(1)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def figures_of(page: str, key: str) -> dict[str, str]:
    names = ("field", "threshold", "source", "auto_looked", "auto_corrected", "escape", "sent", "sent_unchanged",
             "wasted", "bulk", "proposal")
    return dict(zip(names, cells(page, key), strict=False))


def post(client, url: str, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, PAGE), **data})


def settings_output(db: str, **env: str) -> str:
    result = CliRunner().invoke(cli, ["settings"], env={"JIXIAO_DB": db, "JIXIAO_CONFIG": None, **env})
    assert result.exit_code == 0, result.output
    return result.output


def applied_day(app) -> str:
    store = store_of(app)
    try:
        return local_time(store.threshold_history()[0]["at"], zone_of("Asia/Shanghai"), "%Y-%m-%d")
    finally:
        store.close()


def test_the_page_shows_the_figures_worked_out_by_hand(seeded):
    page = as_user(seeded, "boss").get(PAGE).get_data(as_text=True)
    rows = figures_of(page, "indicators")
    # score rows: auto-accepted and opened: 2 at 0.82 (1 corrected) + 60 at 0.85 (none) = 62, 1 corrected;
    # sent to review: 10 at 0.60 (5 corrected) + 20 at 0.70 (none) = 30, 25 accepted as read; 20 only bulk-accepted
    assert (rows["auto_looked"], rows["auto_corrected"], rows["escape"]) == ("62", "1", "1.61%")  # 1/62
    assert (rows["sent"], rows["sent_unchanged"], rows["wasted"], rows["bulk"]) == ("30", "25", "83.33%", "20")
    assert (rows["threshold"], rows["source"]) == ("0.8", "默认（accept_at）")
    # 92 looked at; at the default target of 0.3 % not even 998 clean ones would do
    assert rows["proposal"] == "数据太少，无法判断 （至少需要 998 个人工看过的值，现有 92 个）"
    # fields: unit_name sent and corrected; fiscal_year corrected, undone, accepted as read; self_score
    # auto-accepted, corrected after the report was reopened; budget_initial's only action undone; rating empty
    assert [figures_of(page, "unit_name")[k] for k in ("sent", "sent_unchanged", "wasted")] == ["1", "0", "0%"]
    assert [figures_of(page, "fiscal_year")[k] for k in ("sent", "sent_unchanged", "wasted")] == ["1", "1", "100%"]
    assert [figures_of(page, "self_score")[k] for k in ("auto_looked", "auto_corrected", "escape")] == \
        ["1", "1", "100%"]
    for key in ("budget_initial", "rating"):
        assert [figures_of(page, key)[k] for k in ("auto_looked", "sent", "bulk")] == ["0", "0", "0"]
    assert cells(page, "projects")[1:3] == ["—", "由规则决定"]


def test_a_target_set_gives_a_proposal_that_meets_it_on_the_seeded_data(seeded):
    client = as_user(seeded, "boss")
    assert post(client, f"{PAGE}/target", target="5%").status_code == 303
    page = client.get(PAGE).get_data(as_text=True)
    assert "目标漏检率已设为 5%" in page
    proposal = figures_of(page, "indicators")["proposal"]
    # the lowest threshold: at 0.85, 60 looked at and none corrected: the bound 1 - 0.05^(1/60) = 4.87 % <= 5 %;
    # at 0.82, 62 with 1 corrected: P(X <= 1 | 62, 5 %) = 0.95^62 + 62 * 0.05 * 0.95^61 > 0.05, not met
    assert 1 - 0.05 ** (1 / 60) <= 0.05 and 0.95 ** 62 + 62 * 0.05 * 0.95 ** 61 > 0.05
    assert proposal == "0.85 （置信度 ≥ 0.85 的 60 个值中更正 0 个，漏检率上限 4.87%）"
    assert "应用全部建议阈值（1 个字段）" in page
    assert figures_of(page, "self_score")["proposal"].startswith("数据太少，无法判断 （至少需要 59 个")


def test_applying_puts_the_threshold_in_force_audits_it_and_shows_in_jixiao_settings(seeded):
    client = as_user(seeded, "boss")
    post(client, f"{PAGE}/target", target="0.05")
    assert "已应用" not in settings_output(seeded.config["DATABASE"])
    done = post(client, f"{PAGE}/apply", proposals="indicators=0.85")
    assert done.status_code == 303
    page = client.get(PAGE).get_data(as_text=True)
    day = applied_day(seeded)
    assert "已应用校准阈值：评分表行 0.8 → 0.85" in page
    assert figures_of(page, "indicators")["threshold"] == "0.85"
    assert figures_of(page, "indicators")["source"] == f"校准（boss {day} 应用）"
    store = store_of(seeded)
    try:
        [entry] = store.threshold_history()
        assert (entry["key"], entry["action"], entry["old_threshold"], entry["new_threshold"], entry["user_name"],
                entry["old_source"], entry["target_escape"]) == \
            ("indicators", "apply", 0.8, 0.85, ADMIN, "默认（accept_at）", 0.05)
        assert (entry["basis"]["looked"], entry["basis"]["corrected"]) == (60, 0)
        in_force = for_jobs(seeded.config["SETTINGS"], store)
        assert in_force.threshold("indicators") == 0.85 and in_force.threshold("self_score") == 0.8
    finally:
        store.close()
    out = settings_output(seeded.config["DATABASE"])
    assert re.search(rf"^indicators\s+0\.85\s+校准（boss {day} 应用）$", out, re.M), out
    assert "校准记录" in page and re.search(r"默认（accept_at）", cells_of_history(page)[0])


def cells_of_history(page: str) -> list[str]:
    table = re.search(r'<table class="data-table" id="calibration-history">(.*?)</table>', page, re.S).group(1)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", r)).split()) for r in re.findall(r"<tr>(.*?)</tr>",
                                                                                             table, re.S)[1:]]


def test_reverting_goes_back_to_the_default_and_is_audited(seeded):
    client = as_user(seeded, "boss")
    post(client, f"{PAGE}/target", target="0.05")
    post(client, f"{PAGE}/apply", proposals="indicators=0.85")
    assert post(client, f"{PAGE}/revert", keys="indicators").status_code == 303
    page = client.get(PAGE).get_data(as_text=True)
    assert "已撤销校准阈值：评分表行 0.85 → 0.8" in page
    assert figures_of(page, "indicators")["threshold"] == "0.8"
    store = store_of(seeded)
    try:
        latest = store.threshold_history()[0]
        assert (latest["action"], latest["old_threshold"], latest["new_threshold"]) == ("revert", 0.85, 0.8)
        assert store.applied_thresholds() == {}
        assert for_jobs(seeded.config["SETTINGS"], store).threshold("indicators") == 0.8
    finally:
        store.close()
    assert "已应用的校准阈值" not in settings_output(seeded.config["DATABASE"])
    revert_row, apply_row = cells_of_history(page)  # newest first
    assert "boss 评分表行 撤销 0.85 → 0.8" in revert_row and "boss 评分表行 应用 0.8 → 0.85" in apply_row


def test_apply_all_applies_every_proposal_the_page_listed(seeded):
    client = as_user(seeded, "boss")
    post(client, f"{PAGE}/target", target="0.05")
    page = client.get(PAGE).get_data(as_text=True)
    listed = re.search(r'<button class="primary" name="proposals" value="([^"]*)">应用全部建议阈值', page).group(1)
    assert listed == "indicators=0.85"
    post(client, f"{PAGE}/apply", proposals=listed)
    store = store_of(seeded)
    try:
        assert {k: a["threshold"] for k, a in store.applied_thresholds().items()} == {"indicators": 0.85}
    finally:
        store.close()


def test_a_proposal_that_changed_since_the_page_was_drawn_is_not_applied(seeded):
    client = as_user(seeded, "boss")
    post(client, f"{PAGE}/target", target="0.05")
    post(client, f"{PAGE}/apply", proposals="indicators=0.7")
    page = client.get(PAGE).get_data(as_text=True)
    assert "评分表行 的建议阈值在打开页面后已有变化，未应用" in page
    store = store_of(seeded)
    try:
        assert store.applied_thresholds() == {} and store.threshold_history() == []
    finally:
        store.close()


@pytest.mark.parametrize("raw", ["abc", "-0.1", "1.5", "0", "150%", "", "0.5", "20%"])
def test_a_bad_target_is_refused_in_chinese_and_changes_nothing(seeded, raw):
    client = as_user(seeded, "boss")
    post(client, f"{PAGE}/target", target="0.01")
    refused = post(client, f"{PAGE}/target", target=raw)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "未修改目标漏检率：" in text
    assert re.search(r"目标漏检率应为数字|目标漏检率应大于 0 且小于 1|请输入目标漏检率|过高，最多 10%", text)
    store = store_of(seeded)
    try:
        assert store.calibration_target()["target_escape"] == 0.01
    finally:
        store.close()


def test_reviewers_and_operators_get_403(seeded):
    for name in ("rev", "oper"):
        client = as_user(seeded, name)
        assert client.get(PAGE).status_code == 403
        token = csrf_token(client, "/auth/login")
        for url, data in ((f"{PAGE}/target", {"target": "0.05"}), (f"{PAGE}/apply", {"proposals": "indicators=0.85"}),
                          (f"{PAGE}/revert", {"keys": "indicators"})):
            assert client.post(url, data={"csrf_token": token, **data}).status_code == 403
    store = store_of(seeded)
    try:
        assert store.calibration_target() is None and store.threshold_history() == []
    finally:
        store.close()
    assert ">校准</a>" not in as_user(seeded, "rev").get("/").get_data(as_text=True)


def test_logged_out_users_are_sent_to_log_in(seeded):
    client = seeded.test_client()
    page = client.get(PAGE)
    assert page.status_code == 302 and page.headers["Location"].startswith("/auth/login")
    token = csrf_token(client)
    applied = client.post(f"{PAGE}/apply", data={"csrf_token": token, "proposals": "indicators=0.85"})
    assert applied.status_code == 302 and applied.headers["Location"].startswith("/auth/login")


def test_the_admin_has_the_page_in_the_menu(seeded):
    assert ">校准</a>" in as_user(seeded, "boss").get(PAGE).get_data(as_text=True)


def test_a_written_per_field_setting_wins_over_an_applied_calibration(tmp_path):
    app = make_app(tmp_path, accept_at_fields="indicators=0.9")
    seeded_copy(app.config["DATABASE"])
    client = as_user(app, "boss")
    post(client, f"{PAGE}/target", target="0.05")
    post(client, f"{PAGE}/apply", proposals="indicators=0.85")
    page = client.get(PAGE).get_data(as_text=True)
    rows = figures_of(page, "indicators")
    assert rows["threshold"] == "0.9"
    assert rows["source"] == "配置项 accept_at_fields 已应用的校准 0.85 被配置覆盖，未生效"
    store = store_of(app)
    try:
        assert for_jobs(app.config["SETTINGS"], store).threshold("indicators") == 0.9
    finally:
        store.close()
    out = settings_output(app.config["DATABASE"], JIXIAO_ACCEPT_AT_FIELDS="indicators=0.9")
    assert re.search(r"^indicators\s+0\.9\s+配置项 accept_at_fields（校准（boss [\d-]+ 应用） 的 0\.85 未生效）$",
                     out, re.M), out


def test_the_next_job_is_extracted_with_the_applied_threshold(seeded, monkeypatch):
    client = as_user(seeded, "boss")
    post(client, f"{PAGE}/target", target="0.05")
    post(client, f"{PAGE}/apply", proposals="indicators=0.85")
    seen = []

    def extract(sha256, path, settings, *args, **kwargs):
        seen.append((settings.threshold("indicators"), settings.threshold("self_score")))
        raise JixiaoError("stop here")

    monkeypatch.setattr(service.worker, "extract", extract)
    store = Store(seeded.config["DATABASE"])
    try:
        store_upload(store, Path(seeded.config["UPLOADS"]), "next.txt", "某某县2023年度自评报告".encode(), "oper")
        process_next(store, seeded.config["SETTINGS"])
    finally:
        store.close()
    assert seen == [(0.85, 0.8)]


def test_an_action_on_an_item_records_its_status_and_confidence(seeded):
    store = store_of(seeded)
    try:
        late = [e for e in store.audit_entries(SHA) if e["item"] == "field:self_score"]
    finally:
        store.close()
    assert [(e["action"], e["old_status"], e["confidence"]) for e in late] == [("correct", "accepted", 0.92)]


def test_the_calibration_logs_are_append_only(seeded):
    store = store_of(seeded)
    try:
        store.set_calibration_target(0.01, ADMIN)
        store.apply_thresholds([{"key": "indicators", "new_threshold": 0.85, "old_threshold": 0.8}], ADMIN)
        for sql in ("UPDATE threshold_changes SET new_threshold = 0.1", "DELETE FROM threshold_changes",
                    "UPDATE calibration_targets SET target_escape = 0.5", "DELETE FROM calibration_targets",
                    "INSERT OR REPLACE INTO calibration_targets (id, target_escape, user_name, at) "
                    "VALUES (1, 0.5, 'x', 'y')"):
            with pytest.raises(Exception, match="append-only"):
                store.db.execute(sql)
    finally:
        store.close()


def test_a_target_typed_as_a_fraction_of_a_percent_says_how_to_write_it(seeded):
    refused = post(as_user(seeded, "boss"), f"{PAGE}/target", target="0.5")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "目标漏检率 0.5（即 50%）过高，最多 10%；若指 0.5%，请输入 0.5% 或 0.005" in text


def test_keys_no_threshold_governs_show_their_figures_and_no_proposal(seeded):
    page = as_user(seeded, "boss").get(PAGE).get_data(as_text=True)
    assert figures_of(page, "projects")["proposal"] == "—（不由阈值决定）"
