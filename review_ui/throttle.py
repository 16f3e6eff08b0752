"""Log-in throttling: after `login_max_failures` wrong passwords in a row for one user name, or from one
client address, log-in there is refused for `login_lockout_s` seconds.

A small in-memory counter rather than Flask-Limiter. Flask-Limiter counts *requests* in time windows per
route; what log-in needs is a count of *failures in a row* that a success wipes out, and a fixed wait after
the last failure. With Flask-Limiter that takes a `deduct_when` hook to count only failures, two stacked
limits with key functions reading the form, and reaching into its storage to reset one key on success
(its public `reset()` clears every key) — more code around it than this module, plus two packages
(flask-limiter, limits). The counts live in the process: `jixiao serve` is one process; behind several
worker processes each counts on its own (an attacker gets that many times the tries), and a restart
forgets them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_ENTRIES = 50_000  # names and addresses remembered at most; the stale ones go first


class LoginThrottle:
    """Failures in a row per key ("name:王芳", "addr:10.0.0.7"). A streak is forgotten `lockout_s` after its
    last failure, so a key that reached `max_failures` waits exactly that long and then starts again."""

    def __init__(self, max_failures: int, lockout_s: float, clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.clock = clock
        self._streaks: dict[str, tuple[int, float]] = {}  # key -> (failures in a row, time of the last)
        self._lock = threading.Lock()

    def attempt(self, *keys: str) -> float:
        """Seconds log-in must still wait for the most locked of `keys`; 0 when it may go ahead, and then the
        attempt already counts as a failure (a success wipes it out), so tries sent in parallel cannot all
        slip in before the first wrong password is counted."""
        now = self.clock()
        with self._lock:
            streaks = {key: self._streak(key, now) for key in keys}
            waits = [last + self.lockout_s - now for count, last in streaks.values() if count >= self.max_failures]
            if waits:
                return max(waits)
            for key, (count, _) in streaks.items():
                self._streaks[key] = (count + 1, now)
            if len(self._streaks) > MAX_ENTRIES:
                self._forget_oldest(now)
        return 0.0

    def _streak(self, key: str, now: float) -> tuple[int, float]:
        count, last = self._streaks.get(key, (0, now))
        return (0, now) if now - last >= self.lockout_s else (count, last)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._streaks.pop(key, None)

    def _forget_oldest(self, now: float) -> None:
        """Drop stale streaks; if still too many (a spray from many addresses), the oldest half."""
        self._streaks = {k: v for k, v in self._streaks.items() if now - v[1] < self.lockout_s}
        if len(self._streaks) > MAX_ENTRIES:
            newest = sorted(self._streaks.items(), key=lambda kv: kv[1][1])[len(self._streaks) // 2:]
            self._streaks = dict(newest)
