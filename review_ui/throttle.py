"""Log-in throttling: after `login_max_failures` wrong passwords in a row for one user name, or from one
client address, log-in there is refused for `login_lockout_s` seconds.

A small counter rather than Flask-Limiter. Flask-Limiter counts *requests* in time windows per route; what
log-in needs is a count of *failures in a row* that a success wipes out, and a fixed wait after the last
failure. With Flask-Limiter that takes a `deduct_when` hook to count only failures, two stacked limits with
key functions reading the form, and reaching into its storage to reset one key on success (its public
`reset()` clears every key) — more code around it than this module, plus two packages (flask-limiter,
limits) and, for several processes, a Redis. The streaks live in the database (`login_failures`, written by
the store in one transaction per try), so the web processes behind gunicorn count one streak together and a
restart does not forget it; this module holds the policy, as a pure function.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

Streaks = dict[str, tuple[int, float]]  # key -> (failures in a row, time of the last)


def decide(streaks: Streaks, keys: Sequence[str], now: float, max_failures: int,
           lockout_s: float) -> tuple[float, Streaks]:
    """Seconds log-in must still wait for the most locked of `keys` (0: it may go ahead) and the streaks to
    write. A try that may go ahead already counts as a failure (a success wipes it out), so tries sent in
    parallel cannot all slip in before the first wrong password is counted. A streak is forgotten
    `lockout_s` after its last failure, so a key that reached `max_failures` waits exactly that long."""
    current = {}
    for key in keys:
        count, last = streaks.get(key, (0, now))
        current[key] = (0, now) if now - last >= lockout_s else (count, last)
    waits = [last + lockout_s - now for count, last in current.values() if count >= max_failures]
    if waits:
        return max(waits), {}
    return 0.0, {key: (count + 1, now) for key, (count, _) in current.items()}


class LoginThrottle:
    """The policy's settings and clock (Unix time: several processes compare it); the streaks are the store's."""

    def __init__(self, max_failures: int, lockout_s: float, clock: Callable[[], float] = time.time):
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.clock = clock

    def attempt(self, store, *keys: str) -> float:
        now = self.clock()
        return store.login_attempt(keys, lambda streaks: decide(streaks, keys, now, self.max_failures,
                                                                self.lockout_s), forget_before=now - self.lockout_s)

    def succeeded(self, store, *keys: str) -> None:
        store.login_succeeded(keys)
