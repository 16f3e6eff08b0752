"""What a long job is doing now (「OCR 识别第 3/12 页」), for the operator watching it.

Reading a document knows where it is (the PDF reader its page, the OCR its
frame); the worker knows where to show it (the job's row). A context variable
joins the two without threading a callback through every reader: the worker
sets a reporter around one document's extraction, and readers call `report`,
which does nothing when nobody listens (the batch CLI, tests).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar

log = logging.getLogger(__name__)

_reporter: ContextVar[Callable[[str], None] | None] = ContextVar("jixiao_progress", default=None)


def report(text: str) -> None:
    """Tell whoever watches this job what it is doing now; a failure to tell never stops the job."""
    reporter = _reporter.get()
    if reporter is None:
        return
    try:
        reporter(text)
    except Exception as e:  # noqa: BLE001 - progress is a courtesy, never a reason to fail a document
        log.warning("progress not reported: %s", e)


@contextlib.contextmanager
def reporting(reporter: Callable[[str], None] | None) -> Iterator[None]:
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
