import pickle
import re
from typing import get_args

import pytest

from service.errors import JixiaoError
from service.extract.llm.client import MODES
from service.settings import SETTINGS, Settings, load_settings
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented(setting):
    row = re.search(rf"^\| `{setting.name}` \| `{setting.env}` \| `([^`]*)` \|", DOC, re.M)
    assert row, f"{setting.name} is missing from docs/settings.md"
    assert row.group(1).lower() == str(setting.default).lower()


def test_documented_settings_all_exist():
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", DOC, re.M))
    assert documented == {s.name for s in SETTINGS}


def test_defaults_apply_without_environment_or_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    assert s.db == "./jixiao.db" and s.max_upload_mb == 50 and s.ocr is True


def test_config_file_then_environment_override(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jixiao.toml").write_text('[jixiao]\ndb = "from-file.db"\nmax_upload_mb = 7\n', encoding="utf-8")
    s = load_settings(env={"JIXIAO_MAX_UPLOAD_MB": "9"})
    assert s.db == "from-file.db"
    assert s.max_upload_mb == 9


def test_boolean_from_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={"JIXIAO_OCR": "0"}).ocr is False


def test_invalid_value_is_a_clear_chinese_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JixiaoError, match="JIXIAO_MAX_UPLOAD_MB.*无效"):
        load_settings(env={"JIXIAO_MAX_UPLOAD_MB": "lots"})


def test_unknown_key_in_config_file_is_rejected(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jixiao.toml").write_text("databse = 'x.db'\n", encoding="utf-8")
    with pytest.raises(JixiaoError, match="配置文件 jixiao.toml 中有未知的配置项：databse"):
        load_settings(env={})


def test_keyword_overrides_win_over_the_environment_and_none_is_no_override(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={"JIXIAO_DB": "env.db"}, db="kw.db").db == "kw.db"
    assert load_settings(env={"JIXIAO_DB": "env.db"}, db=None).db == "env.db"


def test_an_environment_given_replaces_the_real_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JIXIAO_MAX_PAGES", "7")
    assert load_settings().max_pages == 7
    assert load_settings(env={}).max_pages == 300


def test_top_level_keys_in_the_file_named_by_jixiao_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other.toml").write_text('engine = "rules"\nocr = false\n', encoding="utf-8")
    s = load_settings(env={"JIXIAO_CONFIG": str(tmp_path / "other.toml")})
    assert s.engine == "rules" and s.ocr is False


def test_missing_config_file_named_by_jixiao_config_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JixiaoError, match="找不到配置文件"):
        load_settings(env={"JIXIAO_CONFIG": str(tmp_path / "nope.toml")})


def test_config_file_that_is_not_toml_is_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jixiao.toml").write_text("db = \n", encoding="utf-8")
    with pytest.raises(JixiaoError, match="配置文件 jixiao.toml 无法解析"):
        load_settings(env={})


def test_a_fraction_is_fine_for_an_amount_but_not_for_a_count(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={"JIXIAO_MAX_UPLOAD_MB": "0.01"}).max_upload_bytes == 10485
    with pytest.raises(JixiaoError, match="JIXIAO_JOB_MAX_ATTEMPTS.*无效：'2.5'，应为整数"):
        load_settings(env={"JIXIAO_JOB_MAX_ATTEMPTS": "2.5"})


def test_unknown_engine_is_refused_with_the_choices(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JixiaoError, match="JIXIAO_ENGINE.*'gpt'，可选：auto、rules、llm"):
        load_settings(env={"JIXIAO_ENGINE": "gpt"})


def test_llm_modes_are_the_ones_the_client_knows():
    assert set(get_args(Settings.model_fields["llm_mode"].annotation)) == set(MODES)


def test_per_field_thresholds_are_parsed_once_at_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={"JIXIAO_ACCEPT_AT_FIELDS": "self_score=0.9, indicators=0.95"})
    assert s.accept_at_fields == {"self_score": 0.9, "indicators": 0.95}
    assert s.threshold("self_score") == 0.9 and s.threshold("unit_name") == s.accept_at == 0.8
    assert str(s.accept_at_fields) == "self_score=0.9,indicators=0.95"  # as `jixiao settings` shows it


def test_per_field_thresholds_from_a_toml_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jixiao.toml").write_text("[jixiao]\naccept_at_fields = {unit_name = 0.7}\n", encoding="utf-8")
    assert load_settings(env={}).threshold("unit_name") == 0.7


@pytest.mark.parametrize("raw, named", [("self_score=high", "“self_score=high”不是有效的阈值"),
                                        ("self_score", "“self_score”不是有效的阈值"),
                                        ("self_scroe=0.9", "不是已知的字段：self_scroe")])
def test_bad_per_field_threshold_is_a_clear_chinese_message(raw, named, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JixiaoError, match=f"JIXIAO_ACCEPT_AT_FIELDS.*{named}"):
        load_settings(env={"JIXIAO_ACCEPT_AT_FIELDS": raw})


def test_replace_checks_the_value_and_reads_neither_environment_nor_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    (tmp_path / "jixiao.toml").write_text("not toml at all", encoding="utf-8")
    monkeypatch.setenv("JIXIAO_OCR_DPI", "lots")
    assert s.replace(max_pages=3).max_pages == 3 and s.replace(max_pages=3).ocr_dpi == 200
    with pytest.raises(JixiaoError, match="JIXIAO_MAX_PAGES.*无效"):
        s.replace(max_pages="many")


def test_settings_cross_to_the_extraction_child_intact(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={"JIXIAO_ACCEPT_AT_FIELDS": "self_score=0.9"})
    assert pickle.loads(pickle.dumps(s)) == s
