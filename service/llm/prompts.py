"""Prompt templates (prompts/*.md, Chinese) rendered with Jinja2; each carries a version hash.

The version is the SHA-256 of the template file's bytes, stored with every
extraction and part of the response-cache key, so editing a prompt makes
old cached answers and recorded cassettes stale.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from ..fields import BY_KEY

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"

# Only where the Chinese name is not enough; units and numbers are covered by the prompt's rules.
HINTS = {
    "fiscal_year": "被评价的年度，如 2023，不是报告写作年份",
    "report_date": "报告落款日期，写成 YYYY-MM-DD",
    "unit_name": "报告给出的最完整名称",
    "staff_actual": "年末在职人数，不含离退休",
}


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str
    version: str


@cache
def _template(name: str) -> tuple[jinja2.Template, str]:
    path = PROMPTS_DIR / f"{name}.md"
    raw = path.read_bytes()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(raw.decode("utf-8")), hashlib.sha256(raw).hexdigest()[:12]


def version(name: str) -> str:
    return _template(name)[1]


def render(name: str, *, document_name: str, section_title: str, section_text: str,
           fields: list[str] | None = None) -> Prompt:
    template, ver = _template(name)
    field_rows = [{"key": k, "zh": BY_KEY[k].zh, "hint": HINTS.get(k)} for k in (fields or [])]
    text = template.render(document_name=document_name, section_title=section_title,
                           section_text=section_text, fields=field_rows)
    return Prompt(name=name, text=text, version=ver)
