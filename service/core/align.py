"""Find a quoted span in the document text, on characters, ignoring whitespace.

A model quotes what it read; the quote may drop or add spaces, line breaks
and tabs (a table cell quoted across its flattened lines), or use half-width
punctuation for full-width. Alignment compares the two strings character by
character after removing whitespace and folding width (NFKC), and maps the
match back to offsets in the original text, so `text[start:end]` is the
exact source of the quote. No tokenizer is involved: Chinese has no spaces.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

EXACT, FOLDED = "exact", "folded"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    match: str  # EXACT: the quote occurs verbatim; FOLDED: after whitespace/width folding


def _fold(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch)


def folded_index(text: str) -> tuple[str, list[int]]:
    """`text` without whitespace and width-folded, and for each kept character its offset in `text`."""
    chars, where = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        for f in _fold(ch):
            if not f.isspace():
                chars.append(f)
                where.append(i)
    return "".join(chars), where


def locate(quote: str, text: str, start: int = 0, end: int | None = None) -> Span | None:
    """Where `quote` occurs in text[start:end]; the first occurrence, or None."""
    end = len(text) if end is None else end
    if not quote or not quote.strip():
        return None
    i = text.find(quote, start, end)
    if i >= 0:
        return Span(i, i + len(quote), EXACT)
    hay, where = folded_index(text[start:end])
    needle, _ = folded_index(quote)
    if not needle:
        return None
    j = hay.find(needle)
    if j < 0:
        return None
    s = start + where[j]
    e = start + where[j + len(needle) - 1] + 1
    return Span(s, e, FOLDED)


def occurs(quote: str, text: str) -> bool:
    return locate(quote, text) is not None
