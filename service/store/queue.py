"""The review queue: pages, counts and the unit search, in reads that do not grow with the table (issue 16).

A mixin of `Store` (same connection, same lock), like `workflow.WorkflowMixin`.

- Order: most flagged items first, then the least confidence, then the oldest upload, then sha256 (so that no
  two jobs tie): the generated columns `(sort_flagged, sort_confidence, uploaded_at, sha256)` of migration
  m014, in ascending order, one index per state and one per state and year.
- Pages: keyset, never OFFSET. A page after a row (下一页) is the `per_page` rows whose key is greater than that
  row's key (`QueueKey`, carried in the link), one index seek; a page before a row (上一页) the `per_page` rows
  just below it. All states at once: each state's page merged (a handful of seeks). A job that moves while
  someone pages (confirmed, added, re-extracted) moves no other job to another page: every job present
  throughout is shown exactly once, in order.
- Counts: the `job_counts` table its triggers keep (m013), per state and year.
- Unit search: by any part of the name, through the trigram index `job_units` (m015), the LIKE it stands for
  checked on what the index finds. A part of one or two characters becomes the indexed trigrams that begin
  with it (listed in `job_unit_trigrams`). When the search matches more than `UNIT_COUNT_LIMIT` jobs in all (or,
  one or two characters long, begins more than `TERMS_LIMIT` trigrams), they are not counted (the total is
  None) and the page is read by walking the queue's index, which holds each job's unit name, testing the
  names: cheap where so many match. States where no job has a unit name are passed over (`job_counts.named`).
"""

from __future__ import annotations

import bisect
import json
import re
import string
from typing import Any, NamedTuple

from service.store.workflow import IN_REVIEW

ORDER = ("sort_flagged", "sort_confidence", "uploaded_at", "sha256")
COLUMNS = ("sha256, name, state, error, unit_name, fiscal_year, flagged, min_confidence, uploaded_by, uploaded_at, "
           "updated_at, confirmed_by, confirmed_at")
UNIT_COUNT_LIMIT = 2000  # a unit search matching more jobs than this is not counted, and pages by walking the order
TERMS_LIMIT = 64  # a one- or two-character search that begins more trigrams than this walks the order too
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class QueueKey(NamedTuple):
    """A job's place in the queue: what the queue sorts by. As text (`encode`), the cursor of 上一页 / 下一页."""

    flagged: int
    confidence: float  # coalesce(min_confidence, 1)
    uploaded_at: str
    sha256: str

    @classmethod
    def of(cls, job: dict[str, Any]) -> QueueKey:
        conf = job["min_confidence"]
        return cls(job["flagged"], 1.0 if conf is None else float(conf), job["uploaded_at"], job["sha256"])

    def sort_values(self) -> tuple[int, float, str, str]:
        """The values of `ORDER` (ascending)."""
        return -self.flagged, self.confidence, self.uploaded_at, self.sha256

    def encode(self) -> str:
        return f"{self.flagged}~{self.confidence!r}~{self.uploaded_at}~{self.sha256}"

    @classmethod
    def decode(cls, text: str) -> QueueKey:
        """The key `encode` wrote; ValueError for anything else."""
        parts = text.split("~")
        if len(parts) != 4:
            raise ValueError(text)
        flagged, confidence, uploaded_at, sha256 = parts
        if not (flagged.isascii() and flagged.isdigit() and len(flagged) <= 6):
            raise ValueError(text)
        conf = float(confidence)  # ValueError for what is not a number
        if not 0 <= conf <= 1 or not 0 < len(uploaded_at) <= 40 or _CONTROL.search(uploaded_at) \
                or not _SHA256.fullmatch(sha256):
            raise ValueError(text)
        return cls(int(flagged), conf, uploaded_at, sha256)


class QueuePage(NamedTuple):
    """One page of the queue: its jobs, how many match in all (None: a unit search matching too many to count),
    and the cursors of the pages after and before it (None: no such page)."""

    docs: list[dict[str, Any]]
    total: int | None
    next: QueueKey | None
    prev: QueueKey | None


class _Unit(NamedTuple):
    like: str  # the LIKE pattern the search stands for, checked on every job shown
    hits: list[int] | None  # the rowids of the jobs the index finds, when few enough (UNIT_COUNT_LIMIT) to count
    empty: bool = False  # nothing can match


_NOTHING = _Unit("", None, True)


class QueueMixin:
    db: Any
    lock: Any

    def queue(self, state: str | None = IN_REVIEW, year: int | None = None, unit: str | None = None,
              per_page: int = 50, after: QueueKey | None = None, before: QueueKey | None = None) -> QueuePage:
        """The page of the queue after the job `after` (下一页), before the job `before` (上一页), or its first
        page; filtered by state (None: all), fiscal year and part of the unit's name."""
        per_page = max(per_page, 1)
        with self.lock:
            search = self._unit_search(unit) if unit and _CONTROL.sub("", unit) else None
            if search is not None and search.empty:
                return QueuePage([], 0, None, None)
            cursor = before if before is not None else after
            found, matched = self._page(state, year, search, cursor, backwards=before is not None, n=per_page + 1)
            if before is not None:
                if len(found) <= per_page:  # the start of the queue: the first page, full
                    return self.queue(state, year, unit, per_page)
                rows, more_before, more_after = found[:per_page][::-1], True, True
            elif after is not None and not found:  # nothing after it any more: the queue's last page
                found, matched = self._page(state, year, search, None, backwards=True, n=per_page + 1)
                rows, more_before, more_after = found[:per_page][::-1], len(found) > per_page, False
            else:
                rows, more_before, more_after = found[:per_page], after is not None, len(found) > per_page
            total = self._count(state, year) if search is None else None  # a unit search: counted by its page
            if search is not None and search.hits is not None:
                total = matched or 0
        keys = [QueueKey.of(r) for r in rows]
        return QueuePage(rows, total, keys[-1] if rows and more_after else None,
                         keys[0] if rows and more_before else None)

    def queue_years(self) -> list[int]:
        with self.lock:
            return [r[0] for r in self.db.execute(
                "SELECT DISTINCT fiscal_year FROM job_counts WHERE n > 0 AND fiscal_year != 0 ORDER BY 1 DESC")]

    def state_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.db.execute("SELECT state, sum(n) FROM job_counts GROUP BY state HAVING sum(n) > 0"))

    # -- how ---------------------------------------------------------------------------------------------------

    def _page(self, state: str | None, year: int | None, search: _Unit | None, cursor: QueueKey | None,
              backwards: bool, n: int) -> tuple[list[dict[str, Any]], int | None]:
        """Up to `n` jobs past `cursor` in the queue's order (before it, nearest first, when `backwards`); and,
        for a unit search few enough to count, how many jobs it matches in all (None otherwise)."""
        where, args = [], []
        if year:
            where.append("jobs.fiscal_year = ?")
            args.append(year)
        if search is not None:
            where.append("jobs.unit_name LIKE ? ESCAPE '\\'")
            args.append(search.like)
        if search is not None and search.hits is not None:  # few hits: each read once, sorted, counted
            return self._hits_page(state, search.hits, where, args, cursor, backwards, n)
        # else walk the queue's index of each state (and year), in the queue's order; the index holds the
        # unit's name, so a name that does not match costs no read of its job
        if cursor is not None:
            where.append(f"({', '.join(ORDER)}) {'<' if backwards else '>'} (?, ?, ?, ?)")
            args.extend(cursor.sort_values())
        order = ", ".join(f"{c}{' DESC' if backwards else ''}" for c in ORDER)
        sql = (f"SELECT {_columns()} FROM jobs WHERE state = ? {''.join(' AND ' + w for w in where)} "
               f"ORDER BY {order} LIMIT ?")
        states = self._states(year, named=search is not None)  # those holding a job that might match
        found = [r for s in states if not state or s == state for r in self.db.query(sql, [s, *args, n])]
        if not state:  # each state's page, merged
            found.sort(key=lambda r: QueueKey.of(r).sort_values(), reverse=backwards)
        return found[:n], None

    def _hits_page(self, state: str | None, hits: list[int], where: list[str], args: list[Any],
                   cursor: QueueKey | None, backwards: bool, n: int) -> tuple[list[dict[str, Any]], int]:
        """`_page` for a unit search with few hits: every hit's key read once from its job (which counts them
        too), the page's place found among them, then the page's jobs read by key."""
        if state:
            where, args = [*where, "jobs.state = ?"], [*args, state]
        keys = self.db.execute(
            f"SELECT {', '.join(ORDER)} FROM jobs WHERE rowid IN (SELECT value FROM json_each(?)) "
            f"AND {' AND '.join(where)} ORDER BY {', '.join(ORDER)}", [json.dumps(hits), *args]).fetchall()
        if backwards:
            end = len(keys) if cursor is None else bisect.bisect_left(keys, cursor.sort_values())
            chosen = keys[max(0, end - n):end][::-1]
        else:
            start = 0 if cursor is None else bisect.bisect_right(keys, cursor.sort_values())
            chosen = keys[start:start + n]
        shas = [k[-1] for k in chosen]
        found = {r["sha256"]: r for r in self.db.query(
            f"SELECT {_columns()} FROM jobs WHERE sha256 IN ({', '.join('?' * len(shas))})", shas)}
        return [found[sha] for sha in shas], len(keys)

    def _states(self, year: int | None, named: bool) -> list[str]:
        """The states holding a job (of `year`; with a unit name when `named`), from the kept counts."""
        where, args = ("fiscal_year = ?", [year]) if year else ("1", [])
        return [r[0] for r in self.db.execute(
            f"SELECT state FROM job_counts WHERE {where} GROUP BY state HAVING sum({'named' if named else 'n'}) > 0",
            args)]

    def _count(self, state: str | None, year: int | None) -> int:
        where = " AND ".join(w for w, v in (("state = ?", state), ("fiscal_year = ?", year)) if v) or "1"
        args = [v for v in (state, year) if v]
        return self.db.execute(f"SELECT coalesce(sum(n), 0) FROM job_counts WHERE {where}", args).fetchone()[0]

    def _unit_search(self, unit: str) -> _Unit:
        """The unit search for `unit` (any part of a name): its LIKE pattern, and the jobs the index finds for it
        when they are few enough to count."""
        text = _CONTROL.sub("", unit)
        like = "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"
        folded = text.translate(_ASCII_LOWER)  # as the index holds the names (m015) and LIKE compares them
        if len(text) >= 3:  # a phrase of trigrams: the names holding the text
            match = _phrase(folded)
        else:  # the trigrams that begin with it (each name's last characters begin a trigram too: see m015)
            terms = [r[0] for r in self.db.execute(
                "SELECT term FROM job_unit_trigrams WHERE term >= ? AND term <= ? AND n > 0 LIMIT ?",
                [folded, folded + "\U0010ffff", TERMS_LIMIT + 1])]
            if not terms:
                return _NOTHING
            if len(terms) > TERMS_LIMIT:
                return _Unit(like, None)
            match = " OR ".join(_phrase(t) for t in terms)
        hits = [r[0] for r in self.db.execute("SELECT rowid FROM job_units WHERE job_units MATCH ? LIMIT ?",
                                              [match, UNIT_COUNT_LIMIT + 1])]
        if not hits:
            return _NOTHING
        return _Unit(like, hits if len(hits) <= UNIT_COUNT_LIMIT else None)


def _columns(prefix: str = "") -> str:
    return ", ".join(prefix + c.strip() for c in COLUMNS.split(","))


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
