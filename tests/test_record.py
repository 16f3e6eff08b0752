"""The typed record: what the engines make, the checks annotate, reviewers see and the export writes."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from service.cli import cli
from service.extract.rules.engine import extract
from service.ingest import load
from service.record import Record, to_record
from service.sections import split_sections
from tests.conftest import SAMPLES, SHARED


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.txt"))[:2], ids=lambda p: p.stem)
def test_a_record_read_back_from_its_json_writes_the_same_json(path):
    doc = load(path)
    record = to_record(doc, extract(doc, split_sections(doc)))
    written = json.loads(json.dumps(record.json(), ensure_ascii=False))
    again = Record.model_validate(written)
    assert again.json() == written
    assert again == record  # evidence comes back as the engines' own Evidence, cells and context included


def test_a_gold_file_reads_as_a_record_with_its_values():
    gold = json.loads((SHARED / "gold" / "000_8d720d4fc0889d24.json").read_text(encoding="utf-8"))
    record = Record.model_validate(gold)
    assert record.field_value("unit_name") == "衡山县岭坡乡人民政府" and record.field_value("fiscal_year") == 2023
    assert record.source.name == "000_8d720d4fc0889d24.txt"
    assert record.problems.value == gold["problems"] and len(record.indicators) == len(gold["indicators"])


def test_a_quote_without_offsets_is_kept_for_the_checks_at_no_place():
    record = Record.model_validate({"fields": {"assets_total": {"value": 1, "evidence": {"quote": "资产1万元"}}}})
    ev = record.fields["assets_total"].evidence
    assert (ev.quote, ev.start, ev.end) == ("资产1万元", 0, 0)


def test_a_value_of_the_wrong_type_is_refused():
    with pytest.raises(ValidationError):
        Record.model_validate({"fields": {"self_score": {"value": 95, "confidence": "很高"}}})
    with pytest.raises(ValidationError):
        Record.model_validate({"indicators": [{"name": "x", "weight": "五分"}]})


def test_check_names_what_is_wrong_in_a_record_that_is_not_one_and_checks_the_rest(runner, tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"indicators": [{"name": "x", "weight": "五分"}]}), encoding="utf-8")
    (tmp_path / "good.json").write_text(json.dumps({"fields": {"fiscal_year": 2023}}), encoding="utf-8")
    result = runner.invoke(cli, ["check", str(SAMPLES / "000_8d720d4fc0889d24.txt"), "bad.json", "good.json",
                                 "--out", "checked"])
    assert result.exit_code == 1
    assert "bad.json：不是记录 JSON（indicators.0.weight" in result.output
    assert not (tmp_path / "checked" / "bad.json").exists() and (tmp_path / "checked" / "good.json").exists()
