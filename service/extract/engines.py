"""The extraction engines behind one protocol, and the one place an engine is built from settings.

An engine reads a document's sections and returns its extraction and the run's figures. The offline rules
extractor, the LLM engine and the LLM engine answered from recordings all fit `Engine`; what tells them
apart for the rest of the product is what they declare (`rechecked`: its values get the second look of
`check.second_look`; `concurrent`: documents may run at once), never their names. The CLI, the worker's child process, `jixiao eval` and the
demo all get theirs from `build_engine`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from service.document import Document
from service.extract.llm.config import resolve_engine
from service.extract.rules import engine as rules
from service.models import Extraction, Section
from service.settings import Settings


@runtime_checkable
class Engine(Protocol):
    name: str  # recorded with each run: "rules" or "llm"
    version: str  # with `name`, what `--resume` and the answer cache compare
    rechecked: bool  # its values are re-checked by value and against the rules extractor's reading
    concurrent: bool  # several documents may run at once (the model's waits overlap)

    def __call__(self, doc: Document, sections: list[Section]) -> tuple[Extraction, dict]: ...

    def close(self) -> None: ...


class RulesEngine:
    """The offline rules extractor: no model, no network, no key."""

    name, version, rechecked, concurrent = "rules", rules.ENGINE_VERSION, False, False  # CPU-bound: no gain

    def __init__(self, settings: Settings):
        self.settings = settings

    def __call__(self, doc: Document, sections: list[Section]) -> tuple[Extraction, dict]:
        return rules.extract(doc, sections, ocr_review_below=self.settings.ocr_review_below), {}

    def close(self) -> None:
        pass


def build_engine(settings: Settings, *, replay: Path | None = None, cache=None) -> Engine:
    """The engine the settings ask for: answers recorded in `replay` (a folder of cassettes) when given, else
    the LLM when `engine` resolves to it (answers cached in `cache`, the store, when given), else the rules.
    Raises JixiaoError when the LLM is asked for but not configured."""
    if replay is not None:
        from service.extract.llm.runner import ReplayEngine

        return ReplayEngine(settings, replay)
    if resolve_engine(settings) == "llm":
        from service.extract.llm.runner import LLMEngine

        return LLMEngine(settings, cache=cache)
    return RulesEngine(settings)
