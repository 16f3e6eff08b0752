"""Which unit of the registry a report's unit name is: a pure function of the name, the registry and a person's
choice, never a guess.

Both names are first normalised (`normalise`): full-width as half-width (NFKC), no spaces, no quotes, and a
trailing 「（本级）」, 「（机关）」, 「本级」 and the like dropped. Then, best first:

1. 名称相同 — the normalised names (or an alias) are equal;
2. 去掉机构后缀后相同 — they are equal once 「人民政府」, 「政府」 or 「办事处」 is taken off the end of each
   (「岭坡乡人民政府」 = 「岭坡乡」, 「湘江街道办事处」 = 「湘江街道」);
3. 地名前缀不同 — one is the other with places in front (「衡山县岭坡乡」 = 「衡山县」 + 「岭坡乡」,
   「湖南省衡山县教育局」 = 「湖南省」 + 「衡山县教育局」): each place ends in 省, 市, 州, 县, 区, 旗 or 盟, and
   none is a 开发区, 园区, 社区 or the like (「经济开发区财政局」 is not the county's 财政局).

Among the units found at the best step, the one sharing the most characters with the report's name wins (the
fullest match: 「衡山县岭坡乡」 before 「岭坡乡」). When two or more units are equally good, the match is
ambiguous (待匹配) and a person chooses; a person's choice wins over all of this. Anything else — 「岭坡乡财政所」
for 「岭坡乡人民政府」, 「白果镇」 for 「白果乡」, 「财政局国库集中支付中心」 for 「财政局」 — is no match; units
whose names are near are offered to the person choosing (`Match.candidates`), never chosen.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from service.core.names import unit_key
from service.units.registry import Unit

MATCHED, CHOSEN, AMBIGUOUS, UNMATCHED = "matched", "chosen", "ambiguous", "unmatched"
STATUS_NAMES = {MATCHED: "自动匹配", CHOSEN: "人工指定", AMBIGUOUS: "待匹配", UNMATCHED: "未匹配"}
EXACT, SAME_CORE, PLACE = 3, 2, 1
HOW = {EXACT: "名称相同", SAME_CORE: "去掉机构后缀后名称相同", PLACE: "地名前缀不同，其余相同"}

_LEVELS = "本级|机关本级|部门本级|单位本级|机关|本部|汇总|本级汇总|合并|部门整体|整体|含下属单位"
_LEVEL_SUFFIX = re.compile(rf"(?:\((?:{_LEVELS})\)|机关本级|本级)$")
_BRACKETS = str.maketrans({"〔": "(", "〕": ")", "【": "(", "】": ")", "[": "(", "]": ")"})
_QUOTES = "\"'“”‘’「」『』《》"
FORM_SUFFIXES = ("人民政府", "政府", "办事处")  # longest first: the organisational form after a place's name
_PLACE = re.compile(r"(?:[\u4e00-\u9fff]{0,12}?(?:自治区|自治州|自治县|自治旗|地区|省|市|州|县|区|旗|盟))+")
_NOT_PLACE = re.compile("开发区|园区|新区|工业区|景区|社区|示范区|管理区|保护区|试验区|合作区|功能区|片区|林区|"
                        "矿区|库区|港区|保税区|自贸区")
MIN_NEAR = 2  # characters two names must share to be offered as near


@dataclass(frozen=True)
class Match:
    """How a report's unit name stands against the registry: matched (自动匹配) or chosen (人工指定) with its
    `unit`; ambiguous (待匹配) with the equally good `candidates`; unmatched (未匹配) with near `candidates`."""

    status: str
    unit: Unit | None = None
    candidates: tuple[Unit, ...] = ()
    how: str = ""  # why, in Chinese: 名称相同 / 由 王芳 指定 / 有 2 个单位同样符合 / 名单中没有该单位

    @property
    def settled(self) -> bool:
        return self.status in (MATCHED, CHOSEN)

    @property
    def status_name(self) -> str:
        return STATUS_NAMES[self.status]


def normalise(name: str | None) -> str:
    """A unit name as compared: NFKC, no spaces or quotes, without a trailing 「（本级）」-like part."""
    text = unicodedata.normalize("NFKC", name or "").translate(_BRACKETS)
    text = re.sub(r"\s+", "", text).strip(_QUOTES)
    while (shorter := _LEVEL_SUFFIX.sub("", text)) != text and shorter:
        text = shorter
    return text


def core(normalised: str) -> str:
    """A normalised name without its organisational form at the end (「岭坡乡人民政府」 → 「岭坡乡」)."""
    for suffix in FORM_SUFFIXES:
        if normalised.endswith(suffix) and len(normalised) > len(suffix):
            return normalised[:-len(suffix)]
    return normalised


def is_place(prefix: str) -> bool:
    """Whether `prefix` is only places (「衡山县」, 「湖南省衡阳市」), none of them a 开发区, 园区 or 社区."""
    return bool(prefix) and _PLACE.fullmatch(prefix) is not None and _NOT_PLACE.search(prefix) is None


class UnitIndex:
    """The registry's names looked up by each step's key, built once for many matches."""

    def __init__(self, units: Iterable[Unit]):
        self.units = list(units)
        self.exact: dict[str, set[int]] = {}
        self.cores: dict[str, set[int]] = {}
        self.placed: dict[str, set[int]] = {}  # the rest of a unit's core after places in front -> units
        self.parts: dict[str, set[int]] = {}  # every part of a unit's core, MIN_NEAR characters or more -> units
        self.matched: dict[str, Match] = {}  # normalised name -> its match (`match_unit`), the index being fixed
        for i, unit in enumerate(self.units):
            for name in dict.fromkeys(normalise(n) for n in (unit.name, *unit.aliases)):
                if not name:
                    continue
                c = core(name)
                self.exact.setdefault(name, set()).add(i)
                self.cores.setdefault(c, set()).add(i)
                for part in _parts(c):
                    self.parts.setdefault(part, set()).add(i)
                for cut in range(1, len(c)):
                    if is_place(c[:cut]):
                        self.placed.setdefault(c[cut:], set()).add(i)

    def __bool__(self) -> bool:
        return bool(self.units)

    def scores(self, name: str) -> dict[int, tuple[int, int]]:
        """Each unit found for the normalised `name`, with (step, characters shared); the best per unit."""
        found: dict[int, tuple[int, int]] = {}

        def add(units: Iterable[int], step: int, shared: int) -> None:
            for i in units:
                found[i] = max(found.get(i, (0, 0)), (step, shared))

        c = core(name)
        add(self.exact.get(name, ()), EXACT, len(name))
        add(self.cores.get(c, ()), SAME_CORE, len(c))
        for cut in range(1, len(c)):  # the report's name has places in front the unit's lacks
            if c[cut:] in self.cores and is_place(c[:cut]):
                add(self.cores[c[cut:]], PLACE, len(c) - cut)
        add(self.placed.get(c, ()), PLACE, len(c))  # the unit's name has places in front the report's lacks
        return found

    def near(self, name: str, limit: int = 5) -> tuple[Unit, ...]:
        """Units whose name is near (one holds the other, or 乡 and 镇 of one name), the nearest first: offered to
        the person choosing, never chosen. Dictionary look-ups only, so that many unmatched reports stay cheap."""
        c = core(name)
        shared: dict[int, int] = {}

        def add(units: Iterable[int], n: int) -> None:
            for i in units:
                shared[i] = max(shared.get(i, 0), n)

        add(self.parts.get(c, ()), len(c))  # a unit's name holds the report's
        for part in _parts(c):  # the report's name holds a unit's
            add(self.cores.get(part, ()), len(part))
        if len(c) > MIN_NEAR and c[-1] in "乡镇":
            add(self.cores.get(c[:-1] + ("镇" if c[-1] == "乡" else "乡"), ()), len(c) - 1)
        ranked = sorted(shared, key=lambda i: (-shared[i], self.units[i].name))
        return tuple(self.units[i] for i in ranked[:limit])


def _parts(text: str) -> set[str]:
    """Every part of `text` of MIN_NEAR characters or more (itself included)."""
    return {text[a:b] for a in range(len(text)) for b in range(a + MIN_NEAR, len(text) + 1)}


def match_unit(name: str | None, index: UnitIndex) -> Match:
    """The registry unit a report's unit name is, by the steps of this module; never a guess."""
    n = normalise(name)
    if not n:
        return Match(UNMATCHED, how="报告中没有识别出单位名称")
    if n not in index.matched:
        index.matched[n] = _match(n, index)
    return index.matched[n]


def _match(n: str, index: UnitIndex) -> Match:
    found = index.scores(n)
    if not found:
        return Match(UNMATCHED, candidates=index.near(n), how="名单中没有与之相符的单位")
    best = max(found.values())
    top = sorted((index.units[i] for i, s in found.items() if s == best), key=lambda u: u.name)
    if len(top) > 1:
        return Match(AMBIGUOUS, candidates=tuple(top), how=f"名单中有 {len(top)} 个单位同样符合，需人工选择")
    return Match(MATCHED, unit=top[0], how=HOW[best[0]])


def resolve(name: str | None, index: UnitIndex, chosen: Unit | None = None, chosen_by: str | None = None) -> Match:
    """A person's choice when there is one (it wins over matching), else `match_unit`."""
    if chosen is not None:
        return Match(CHOSEN, unit=chosen, how=f"由 {chosen_by} 指定" if chosen_by else "人工指定")
    return match_unit(name, index)


@functools.lru_cache(maxsize=4)
def _index_of(units: tuple[Unit, ...]) -> UnitIndex:
    """The index of a registry, built once while the registry stays the same (units are frozen): the 总览 of
    a county's 2,000 units matches every report on each visit, and the index is most of that work."""
    return UnitIndex(units)


def match_documents(names: dict[str, str | None], units: Iterable[Unit],
                    choices: dict[str, dict]) -> dict[str, Match]:
    """Each document's match (document -> its unit name as read), a person's choice (document -> {unit_id,
    chosen_by}) winning over matching."""
    index = _index_of(tuple(units))
    by_id = {u.id: u for u in index.units}
    out = {}
    for sha256, name in names.items():
        choice = choices.get(sha256)
        chosen = by_id.get(choice["unit_id"]) if choice else None
        out[sha256] = resolve(name, index, chosen, choice["chosen_by"] if chosen else None)
    return out


def unit_keys(names: dict[str, str | None], units: Iterable[Unit], choices: dict[str, dict]) -> dict[str, str]:
    """Per document (document -> its unit name as read), the key two documents share when they are of one
    unit, in the checks across years: the unit of the list it is matched or chosen to, once a list is
    imported; else (no list, or 待匹配 / 未匹配) its name as compared across reports (`unit_key`). "" for a
    document with neither, which pairs with nothing."""
    units = tuple(units)
    matches = match_documents(names, units, choices) if units else {}
    out = {}
    for sha256, name in names.items():
        m = matches.get(sha256)
        out[sha256] = f"#{m.unit.id}" if m is not None and m.settled else unit_key(name)
    return out


def name_clash(unit: Unit, others: Iterable[Unit]) -> str | None:
    """Why `unit` cannot stand in the list beside `others` (the rest of it), in Chinese: one of its aliases is,
    as matching compares names (`normalise`, then `core`), another unit's name or alias, or its name is another
    unit's alias; the reports of that name would then silently count for the other unit, or for neither (待匹配).
    None when it can. Two units' names themselves are kept apart by the store (`registry_key`)."""
    mine = {core(normalise(a)): a for a in unit.aliases if normalise(a)}
    own = core(normalise(unit.name))
    for other in others:
        theirs = {core(normalise(n)): n for n in (other.name, *other.aliases) if normalise(n)}
        for key, alias in mine.items():
            if key in theirs:
                what = "名称" if theirs[key] == other.name else f"别名「{theirs[key]}」"
                return f"别名「{alias}」与单位「{other.name}」的{what}相同（按匹配规则比较），该名称的报告将无法区分"
        if own in theirs and theirs[own] != other.name:
            return f"名称「{unit.name}」与单位「{other.name}」的别名「{theirs[own]}」相同（按匹配规则比较）"
    return None
