"""Tables that arrive flattened in text, rebuilt as rows of cells (implementation in progress)."""

from __future__ import annotations

from .document import Table


def find_tables(text: str) -> list[Table]:
    return []
