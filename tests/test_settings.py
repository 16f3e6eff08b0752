import re

import pytest

from service.errors import JixiaoError
from service.settings import SETTINGS, load_settings
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
    with pytest.raises(JixiaoError, match="未知的配置项：databse"):
        load_settings(env={})
