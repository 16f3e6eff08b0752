"""What a unit of the registry is, and how one typed by a person or read from a file is checked before the store
keeps it: a name, a category (乡镇 / 街道 / 部门), an optional code and optional aliases. Pure: no SQL, no Flask.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from service.errors import JixiaoError

CATEGORIES = ("乡镇", "街道", "部门")
# what people write in a 类别 cell for each category (compared after NFKC and without spaces)
CATEGORY_WORDS = {
    "乡镇": ("乡镇", "乡", "镇", "乡镇人民政府", "乡镇政府"),
    "街道": ("街道", "街道办", "街道办事处"),
    "部门": ("部门", "县直部门", "市直部门", "区直部门", "部门单位", "单位", "县直单位", "预算单位", "行政事业单位"),
}
MAX_NAME, MAX_CODE, MAX_ALIASES = 100, 50, 20
ALIAS_SEPARATORS = re.compile(r"[、,，;；|/]+")


class InvalidUnit(JixiaoError):
    """A unit that cannot be kept as given; the message says why, in Chinese."""


@dataclass(frozen=True)
class Unit:
    """One unit of the registry (`id` None before the store kept it)."""

    id: int | None
    name: str
    category: str
    code: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """岭坡乡（乡镇，代码 101）: how a person tells one unit from another."""
        return f"{self.name}（{self.category}" + (f"，代码 {self.code}" if self.code else "") + "）"


def registry_key(name: str | None) -> str:
    """The key two registry names are the same by: full-width as half-width (NFKC), without any space."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))


def category_of(text: str | None) -> str | None:
    """The category a 类别 cell names (乡 → 乡镇, 街道办事处 → 街道, 县直单位 → 部门), or None."""
    word = registry_key(text)
    return next((cat for cat, words in CATEGORY_WORDS.items() if word in words), None)


def split_aliases(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Aliases from a cell (「岭坡、岭坡乡政府」) or a list, trimmed, without empties and repeats."""
    parts = ALIAS_SEPARATORS.split(text) if isinstance(text, str) else list(text or [])
    return tuple(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def unit_problems(name: str | None, category: str | None, code: str | None = None,
                  aliases: Iterable[str] = ()) -> list[str]:
    """What is wrong with a unit as given (Chinese, one phrase each); empty when it can be kept."""
    problems = []
    name = (name or "").strip()
    if not name:
        problems.append("名称为空")
    elif len(name) > MAX_NAME:
        problems.append(f"名称超过 {MAX_NAME} 个字")
    if not (category or "").strip():
        problems.append(f"类别为空（应为 {'、'.join(CATEGORIES)} 之一）")
    elif category_of(category) is None:
        problems.append(f"类别「{category.strip()}」不是 {'、'.join(CATEGORIES)} 之一")
    if code and len(code.strip()) > MAX_CODE:
        problems.append(f"代码超过 {MAX_CODE} 个字符")
    aliases = list(aliases)
    if len(aliases) > MAX_ALIASES:
        problems.append(f"别名超过 {MAX_ALIASES} 个")
    if any(len(a) > MAX_NAME for a in aliases):
        problems.append(f"别名超过 {MAX_NAME} 个字")
    return problems


def clean_unit(name: str | None, category: str | None, code: str | None = None,
               aliases: str | Iterable[str] | None = None) -> dict:
    """A unit as the store keeps it ({name, category, code, aliases}); InvalidUnit naming every problem."""
    alias_list = split_aliases(aliases)
    problems = unit_problems(name, category, code, alias_list)
    if problems:
        raise InvalidUnit("；".join(problems))
    name = name.strip()
    return {"name": name, "category": category_of(category), "code": (code or "").strip() or None,
            "aliases": [a for a in alias_list if registry_key(a) != registry_key(name)]}


def unit_from_row(row: dict) -> Unit:
    """A store row (aliases decoded) as a `Unit`."""
    return Unit(row["id"], row["name"], row["category"], row.get("code"), tuple(row.get("aliases") or ()))
