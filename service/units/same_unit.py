"""Which documents are of one unit, for the checks across years (上年数核对, 三公 against last year, spending
against earlier years): once a list of units is imported, the unit each is matched or chosen to, so that a
report written 「衡阳市常宁市荫田镇人民政府」 one year and 「常宁市荫田镇人民政府」 the next is one unit, and a report
a reviewer chose for another unit is compared with that unit's; without a list, the names as compared across
reports (`service.core.names.unit_key`). The store gives the list and the choices; matching is pure
(`service.units.matching.unit_keys`)."""

from __future__ import annotations

from typing import Any

from service.units.matching import unit_keys


def keys_of(store, rows: list[dict[str, Any]]) -> dict[str, str] | None:
    """sha256 -> the key of its unit, for rows with `document_sha256` and `unit_name` (confirmed reports, or a
    document being reviewed); None when no list is imported (callers then compare names)."""
    units = store.registry()
    if not units:
        return None
    return unit_keys({r["document_sha256"]: r.get("unit_name") for r in rows}, units, store.unit_choices())
