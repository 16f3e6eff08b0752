"""Which encoding is a text file in? UTF-8/16/32, GB18030/GBK or Big5; refused when none reads as Chinese.

A legacy Chinese encoding carries no marker, and GB18030 decodes almost any
byte string without error: Big5 bytes come out as a stream of rare
characters, kana and private-use code points, and Korean EUC-KR as common
hanzi in a meaningless order. So every encoding that decodes the bytes
strictly is judged on two counts:

- familiarity: the share of non-ASCII characters that GB2312 or Big5 encode
  as punctuation or hanzi (a right reading of a report scores 0.999 and
  more, a wrong reading of Big5, Shift_JIS or EUC-JP 0.8 at most);
- commonness: the share of hanzi among the ~500 most frequent characters,
  simplified or traditional (0.7–0.85 on reports, under 0.2 on Korean or
  Japanese read as GB18030).

The most familiar reading wins; when it is not familiar or common enough,
the file is refused rather than decoded into gibberish.
"""

from __future__ import annotations

import functools

BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),  # before UTF-16: the UTF-32 LE mark starts with UTF-16's
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
LEGACY = ("gb18030", "cp950", "big5hkscs")  # tried in this order: of equal readings the first wins
WIDE = ("utf-16-le", "utf-16-be")  # text with NUL bytes and no byte-order mark
MIN_FAMILIAR = 0.9
MIN_COMMON = 0.3
SAMPLE_CHARS = 200_000

FAMILIAR_CODES = (  # (encoding, first, last double-byte code)
    ("gb2312", 0xA1A1, 0xA3FE),  # punctuation, numerals, full-width ASCII (not kana, Greek, Cyrillic)
    ("gb2312", 0xB0A1, 0xF7FE),  # hanzi, levels 1 and 2
    ("big5", 0xA140, 0xA343),  # punctuation and symbols (not Greek, not bopomofo)
    ("big5", 0xA440, 0xC67E),  # common hanzi
    ("big5", 0xC940, 0xF9D5),  # less common hanzi
)
# GB18030's own forms of two GB2312 marks, marks outside both, and box drawing (text-drawn tables)
FAMILIAR_EXTRA = "·—〇•\u00a0\u200b\ufeff" + "".join(map(chr, range(0x2500, 0x2580)))
FREQUENT_SIMPLIFIED = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后"
    "多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合"
    "还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只"
    "没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边"
    "流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造"
    "百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例"
    "真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且"
    "究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何"
    "除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满"
    "县局照参红细引听该铁价严财预绩评项费审执"
)
FREQUENT_TRADITIONAL = (  # the traditional forms of the simplified ones that differ
    "這為個國時來們發動對會產種過說後學經進著電裡現實兩體製機當點業應開還關間樣與條沒結問題無係軍員總設長頭資邊"
    "級圖統較將組見計別論運農幾區強決戰則處隊給門熱領東導壓爭濟階極聯認權證轉單風帶場車務萬達積議聲報鬥類離華確張"
    "馬節話況傳許廣記須際驗連斷難礦備辦習響約歷勞團構稱準號維劃選寫親養層專狀廠識適屬圓調滿縣參紅細聽該鐵價嚴書眾"
    "觀織裝復兒質氣變線數麼義於從幹標規財預績評項費審執"
)


def decode(data: bytes) -> str:
    """Decode report bytes; raise UnicodeDecodeError when no encoding reads them as Chinese text."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    readings = []
    for encoding in WIDE if b"\x00" in data else LEGACY:
        try:
            readings.append(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    best = max(readings, key=familiarity, default=None)  # max keeps the first of equals
    if best is not None and familiarity(best) >= MIN_FAMILIAR and commonness(best) >= MIN_COMMON:
        return best
    damaged = _damaged_reading(data)
    if damaged is not None:
        return damaged
    raise UnicodeDecodeError("legacy", data[:1], 0, 1, "no encoding reads this as Chinese text")


MAX_DAMAGE = 0.001  # share of characters a file cut mid-character or with a stray byte may lose


def _damaged_reading(data: bytes) -> str | None:
    """A file with a few broken bytes (cut in the middle of a character, one stray byte): the reading that
    loses fewest characters, when it loses almost none and the rest reads as Chinese; the lost ones are
    U+FFFD, which the review shows as they are."""
    best = None
    for encoding in ("utf-8", *(WIDE if b"\x00" in data else LEGACY)):
        text = data.decode(encoding, errors="replace")
        lost = text.count("\ufffd")
        if lost > max(1, len(text) * MAX_DAMAGE):
            continue
        clean = text.replace("\ufffd", "")
        if familiarity(clean) >= MIN_FAMILIAR and commonness(clean) >= MIN_COMMON and \
                (best is None or lost < best[0]):
            best = (lost, text)
    return best[1] if best else None


def familiarity(text: str) -> float:
    """Share of the non-ASCII characters (of the first `SAMPLE_CHARS`) that Chinese text is written in."""
    wide = [ch for ch in text[:SAMPLE_CHARS] if ord(ch) >= 0x80]
    if not wide:
        return 1.0
    known = familiar_chars()
    return sum(ch in known for ch in wide) / len(wide)


def commonness(text: str) -> float:
    """Share of the hanzi (of the first `SAMPLE_CHARS` characters) among the most frequent ones."""
    hanzi = [ch for ch in text[:SAMPLE_CHARS] if "\u4e00" <= ch <= "\u9fff"]
    if not hanzi:
        return 1.0
    frequent = frequent_chars()
    return sum(ch in frequent for ch in hanzi) / len(hanzi)


@functools.cache
def frequent_chars() -> frozenset[str]:
    return frozenset(FREQUENT_SIMPLIFIED + FREQUENT_TRADITIONAL)


@functools.cache
def familiar_chars() -> frozenset[str]:
    """The characters of `FAMILIAR_CODES`, as decoded by their encoding."""
    chars = set(FAMILIAR_EXTRA)
    for encoding, first, last in FAMILIAR_CODES:
        for code in range(first, last + 1):
            try:
                chars.add(code.to_bytes(2, "big").decode(encoding))
            except UnicodeDecodeError:
                continue
    return frozenset(chars)
