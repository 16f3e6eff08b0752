"""Prompt templates (prompts/*.md, Chinese) rendered with Jinja2; each carries a version hash.

The version is the SHA-256 of the template file's bytes, stored with every
extraction and part of the response-cache key, so editing a prompt makes
old cached answers and recorded cassettes stale. Every facts-bearing prompt
lists every field of `service.fields` (one schema for every call); the
planner's hints only say which fields the text seems to hold.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2

from service.extract.llm.planner import FURNITURE_TITLE
from service.fields import BY_KEY, FIELDS

PROMPTS_DIR = Path(__file__).resolve().parents[3] / "prompts"

# How a score table's text is laid out, said in the table prompt (see `table_form`).
FORMS = {
    "pipe": "表格已被转成文字：单元格之间用“|”分隔，一行表格占一行；合并单元格可能是空的或被省略，各行单元格不一定对齐。",
    "tab": "表格已被转成文字：每个单元格以制表符开头，一行表格结束于一个空行；合并单元格在后续行中是空的。",
    "cells": "表格已被转成文字：每个单元格占一行（中间可能有空行），按行从左到右排列；一个单元格内的换行也会断成几行，合并单元格只出现一次。",
    "spaces": "表格已被转成文字：单元格之间用空格分隔，一行表格占一行；合并单元格被省略。",
    "run": "表格已被转成文字，单元格之间没有分隔符、连成了一长串（数字可能首尾相连），请按表头的列顺序仔细断开。",
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


def table_form(text: str) -> str:
    """pipe, tab, cells (one cell per line), spaces or run (no separators): how a table's text is laid out."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return "run"
    n = len(lines)
    if sum("|" in ln for ln in lines) >= 0.3 * n:
        return "pipe"
    if sum("\t" in ln for ln in lines) >= 0.3 * n:
        return "tab"
    if sum(len(ln.strip()) <= 20 for ln in lines) >= 0.5 * n:
        return "cells"
    if sum(len(ln) for ln in lines) / n > 150:
        return "run"
    return "spaces"


def render(name: str, *, document_name: str, section_title: str, section_text: str,
           fields: list[str] | None = None) -> Prompt:
    template, ver = _template(name)
    hinted = "、".join(f"{k}（{BY_KEY[k].zh}）" for k in (fields or []))
    all_fields = [{"key": f.key, "zh": f.zh, "note": f.note} for f in FIELDS]
    text = template.render(document_name=document_name, section_title=section_title, section_text=section_text,
                           all_fields=all_fields, hinted=hinted, furniture_title=FURNITURE_TITLE,
                           form=FORMS[table_form(section_text)])
    return Prompt(name=name, text=text, version=ver)
