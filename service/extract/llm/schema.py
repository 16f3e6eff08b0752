"""What the model must return, as pydantic models with Chinese descriptions.

Every value comes with the verbatim quote it was read from. The validators
get the section text through `ValidationInfo.context["section"]` and check
that the quote occurs in it (ignoring whitespace) and that the value can be
read from the quote; a failed check makes instructor re-ask with the error.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from service.core.align import occurs
from service.fields import BY_KEY

Unit = Literal["万元", "元", "亿元", "人", "辆", "%", "分"]
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
# Most items one answer may hold (the spec has some 30 fields; a real score table some tens of rows):
# an answer past them is of the wrong shape, its call failed, its fields for review.
MAX_FACTS, MAX_TABLES, MAX_ROWS, MAX_ITEMS = 300, 50, 300, 100
# 无公务用车 / 公务用车：无 / 未配备: a zero stated in words
_STATED_NONE = re.compile(r"(?:^|[:：\s|，,])(?:无|没有|未配备|未发生|不存在)|^无")


class Answer(BaseModel):
    """A response model whose JSON schema is sent compact: no titles, no null defaults, `[type, "null"]`.

    The schema goes with every request and the prompt already explains every field, so what pydantic
    adds for humans (a title per property, `anyOf` for optionals) is left out. The top-level title stays:
    instructor names the tool after it.
    """

    @classmethod
    def model_json_schema(cls, *args, **kwargs) -> dict:
        schema = _compact(super().model_json_schema(*args, **kwargs))
        schema["title"] = cls.__name__
        return schema


def _compact(node):
    if isinstance(node, list):
        return [_compact(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _compact(v) for k, v in node.items() if k != "title" and not (k == "default" and v is None)}
    options = out.get("anyOf")
    if options and {"type": "null"} in options and all(set(o) == {"type"} for o in options):
        out.pop("anyOf")
        out["type"] = [o["type"] for o in options]
    return out


def at_most(limit: int) -> BeforeValidator:
    """A list of at most `limit` items, checked before any item is validated; the JSON schema is unchanged
    (no maxItems: the schema sent with every request stays as recorded)."""

    def check(items):
        if isinstance(items, list) and len(items) > limit:
            raise PydanticCustomError("too_many_items", "有 {count} 条，超过上限 {limit} 条",
                                      {"count": len(items), "limit": limit})
        return items

    return BeforeValidator(check)


def _section(info: ValidationInfo) -> str | None:
    return (info.context or {}).get("section")


def _numbers_in(text: str) -> set[Decimal]:
    out = set()
    for m in NUMBER.finditer(unicodedata.normalize("NFKC", text)):
        with contextlib.suppress(InvalidOperation):
            out.add(Decimal(m.group().replace(",", "")))
    return out


def number_in_quote(value: float | int, quote: str) -> bool:
    try:
        v = Decimal(str(value))
    except InvalidOperation:
        return False
    return any(v == n for n in _numbers_in(quote))


def number_in_run(value: float | int, quote: str) -> bool:
    """The value's digits inside a longer run of digits (877383.91% holds 87 and 73): a split to review.

    Never a rounding or a truncation: not the integer part of a decimal (856 of 856.34), not a part of
    its fraction (34, or 856.3 of 856.34).
    """
    try:
        text = format(Decimal(str(value)).normalize(), "f")
    except InvalidOperation:
        return False
    for run in re.findall(r"[\d.]+", unicodedata.normalize("NFKC", quote).replace(",", "")):
        if len(run) <= len(text):
            continue
        for m in re.finditer(re.escape(text), run):
            before, after = run[m.start() - 1:m.start()], run[m.end():m.end() + 1]
            if before == "." or after == "." or ("." in text and after.isdigit()):
                continue
            return True
    return False


def number_read(value: float | int, quote: str) -> bool:
    return number_in_quote(value, quote) or number_in_run(value, quote)


def check_quote(quote: str | None, info: ValidationInfo) -> str | None:
    section = _section(info)
    if quote is not None and section is not None and not occurs(quote, section):
        raise ValueError(f"引文“{quote[:60]}”在给定章节中找不到：请逐字摘抄原文（可省略空格和换行）")
    return quote


class Fact(Answer):
    """A fact the text states, with the words it was read from. Any field of the spec may be returned."""

    key: str = Field(description="字段键名（提示中列出的键）")
    value: float | int | str = Field(description="数字不带单位和千分位；文字照原文；日期 YYYY-MM-DD")
    unit: Unit | None = Field(default=None, description="数字在原文中的单位，不换算")
    quote: str = Field(description="逐字摘抄的原文，含值及其标签")

    _check_quote = field_validator("quote")(check_quote)

    @field_validator("key")
    @classmethod
    def key_is_a_field(cls, key: str) -> str:
        if key not in BY_KEY:
            raise ValueError(f"字段键名“{key}”不在提示列出的键中：只能用列出的键")
        return key

    @model_validator(mode="after")
    def value_is_in_quote(self, info: ValidationInfo) -> Fact:
        kind = BY_KEY[self.key].kind
        if isinstance(self.value, int | float) and not isinstance(self.value, bool):
            if number_read(self.value, self.quote):
                return self
            if self.value == 0 and kind in ("int", "money") and _STATED_NONE.search(self.quote):
                return self
            if kind == "int":
                raise ValueError(f"{self.key} 的值 {self.value} 没有出现在引文“{self.quote[:60]}”中："
                                 "人数、车辆数照原文填整数，原文写“无”的填 0 并摘抄写“无”的那句话")
            if kind == "money":
                raise ValueError(f"{self.key} 的值 {self.value} 没有出现在引文“{self.quote[:60]}”中："
                                 "数字必须与原文一致，金额不要换算单位（unit 照原文填写）")
            raise ValueError(f"{self.key} 的值 {self.value} 没有出现在引文“{self.quote[:60]}”中：数字必须与原文一致")
        if (isinstance(self.value, str) and self.key not in ("report_date", "fiscal_year")
                and not occurs(self.value, self.quote)):
            raise ValueError(f"{self.key} 的值“{self.value}”没有出现在引文中")
        return self


class SectionFacts(Answer):
    """The facts a text states. A fact the text does not state is simply left out."""

    facts: Annotated[list[Fact], at_most(MAX_FACTS)] = Field(default_factory=list, description="明确写出的事实")


class IndicatorRowModel(Answer):
    level1: str | None = Field(default=None, description="一级指标")
    level2: str | None = Field(default=None, description="二级指标")
    name: str = Field(description="三级指标")
    target: str | None = Field(default=None, description="年度指标值")
    actual: str | None = Field(default=None, description="实际完成值")
    weight: float | None = Field(default=None, description="分值")
    score: float | None = Field(default=None, description="得分")
    remark: str | None = Field(default=None, description="偏差原因分析及改进措施")
    quote: str = Field(description="这一行的原文")

    _check_quote = field_validator("quote")(check_quote)

    @model_validator(mode="after")
    def numbers_are_in_quote(self) -> IndicatorRowModel:
        for label, v in (("分值", self.weight), ("得分", self.score)):
            if v is not None and not number_read(v, self.quote):
                raise ValueError(f"“{self.name}”的{label} {v} 没有出现在该行引文中")
        return self


class ScoreTableModel(Answer):
    """One score table (绩效自评表 / 打分表): every 三级指标 row and the stated total."""

    table: str = Field(description="“整体”或项目名称")
    money_unit: Literal["万元", "元", "亿元"] | None = Field(default=None, description="资金数的单位，照原文")
    budget_initial: float | None = Field(default=None, description="年初预算数")
    budget_full_year: float | None = Field(default=None, description="全年预算数")
    spending_actual: float | None = Field(default=None, description="全年执行数")
    execution_rate: float | None = Field(default=None, description="执行率（100% 填 100）")
    execution_weight: float | None = Field(default=None, description="预算执行率的分值")
    execution_score: float | None = Field(default=None, description="预算执行率的得分")
    rows: Annotated[list[IndicatorRowModel], at_most(MAX_ROWS)] = Field(default_factory=list,
                                                                         description="三级指标行，按原表顺序")
    total: float | None = Field(default=None, description="表中写明的总分")
    total_quote: str | None = Field(default=None, description="总分所在的原文")

    _check_quote = field_validator("total_quote")(check_quote)


class ScoreTablesModel(Answer):
    """Every score table given, in order, and the other facts the text states."""

    tables: Annotated[list[ScoreTableModel], at_most(MAX_TABLES)] = Field(default_factory=list,
                                                                           description="每一张评分表，按顺序")
    facts: Annotated[list[Fact], at_most(MAX_FACTS)] = Field(default_factory=list, description="明确写出的其他事实")


class ListsModel(Answer):
    """存在的问题 and 改进措施, one item each, as written."""

    problems: Annotated[list[str], at_most(MAX_ITEMS)] = Field(default_factory=list, description="存在的问题，每条逐字摘抄")
    measures: Annotated[list[str], at_most(MAX_ITEMS)] = Field(default_factory=list,
                                                               description="改进措施/建议，每条逐字摘抄")

    @field_validator("problems", "measures")
    @classmethod
    def items_occur(cls, items: list[str], info: ValidationInfo) -> list[str]:
        for item in items:
            check_quote(item, info)
        return items
