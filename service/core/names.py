"""When two reports are of the same unit: the key its name is compared under, in every check across reports."""

from __future__ import annotations

import re
import unicodedata


def unit_key(name: str | None) -> str:
    """A unit's name as compared across reports: width folded (NFKC), no whitespace (「某某县 教育局」 is
    「某某县教育局」); "" for none, which matches no unit."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))
