"""Login back-off: each failed login makes the next attempt from the same client address, and for
the same user name, wait longer.

A key (``ip:<address>`` or ``user:<name>``) has a number of free failures (``free``); after those,
the next attempt must wait ``base * 2**(failures - free)`` seconds (at most ``cap``) after the last
failure. While a key waits, attempts are refused (429 with ``Retry-After``) *without checking the
credentials*, so guessing faster learns nothing. Failures are forgotten ``forget`` seconds after
the last one; a successful login forgets its user name's (not its address's: a participant who
knows the participants' passcode cannot wipe the record of their guesses at the facilitator's).

Nothing here knows about HTTP: ``assistant.api.access.Guard`` calls ``wait`` and ``failed`` around
a check it makes at once (a Bearer token, basic auth), and ``attempt`` before a check that takes a
while (the login form): ``attempt`` counts the attempt as failed before it is checked, in the same
step as the wait is looked up, so that many guesses sent at once cannot all pass before the first
failure is counted; ``succeeded`` (or ``release``, for an attempt that was not a check) takes it back. At most ``max_keys`` keys are kept (the oldest go first), so a flood of addresses
or names cannot grow it without bound.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int
    last: float


class LoginThrottle:
    def __init__(self, free: int = 5, ip_free: int = 20, base: float = 1.0, cap: float = 300.0, forget: float = 900.0,
                 max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic):
        self.free, self.ip_free = max(0, int(free)), max(0, int(ip_free))
        self.base, self.cap, self.forget = max(0.0, float(base)), max(0.0, float(cap)), max(0.0, float(forget))
        self.max_keys = max(1, int(max_keys))
        self.clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, web) -> LoginThrottle:
        return cls(free=web.login_free_attempts, ip_free=web.login_ip_free_attempts, base=web.login_backoff_s,
                   cap=web.login_backoff_max_s, forget=web.login_forget_s)

    @staticmethod
    def _user_key(user: str | None) -> str | None:
        """``user:<name>`` with the name's spaces collapsed and its case folded; None without a name."""
        name = " ".join((user or "").split()).casefold()
        return f"user:{name}" if name else None

    @classmethod
    def keys(cls, ip: str | None, user: str | None) -> list[str]:
        user_key = cls._user_key(user)
        return [f"ip:{ip or '?'}"] + ([user_key] if user_key else [])

    def _allowance(self, key: str) -> int:
        return self.ip_free if key.startswith("ip:") else self.free

    def _live(self, key: str, now: float) -> _Record | None:
        rec = self._records.get(key)
        if rec is not None and now - rec.last > self.forget:
            del self._records[key]
            return None
        return rec

    def _delay(self, key: str, rec: _Record) -> float:
        over = rec.failures - self._allowance(key)
        if over < 0:
            return 0.0
        return min(self.cap, self.base * (2.0 ** min(over, 60)))

    def _remaining(self, ip: str | None, user: str | None, now: float) -> float:
        longest = 0.0
        for key in self.keys(ip, user):
            rec = self._live(key, now)
            if rec is not None:
                longest = max(longest, rec.last + self._delay(key, rec) - now)
        return longest

    def wait(self, ip: str | None, user: str | None = None) -> float:
        """Seconds before an attempt from ``ip`` (for ``user``) may be checked; 0: now."""
        now = self.clock()
        with self._lock:
            return self._remaining(ip, user, now)

    def failed(self, ip: str | None, user: str | None = None) -> float:
        """Record a failed attempt; returns the wait it imposes on the next one."""
        now = self.clock()
        with self._lock:
            self._count(ip, user, now)
        return self.wait(ip, user)

    def _count(self, ip: str | None, user: str | None, now: float) -> None:
        for key in self.keys(ip, user):
            rec = self._live(key, now)
            if rec is None:
                rec = self._records[key] = _Record(0, now)
            rec.failures += 1
            rec.last = now
            self._records.move_to_end(key)
        while len(self._records) > self.max_keys:
            self._records.popitem(last=False)

    def attempt(self, ip: str | None, user: str | None = None) -> float:
        """Before a slow check: the wait (nothing counted) if the address or the name must wait,
        else 0, and the attempt is counted as a failure until ``succeeded`` or ``release``."""
        now = self.clock()
        with self._lock:
            wait = self._remaining(ip, user, now)
            if wait <= 0:
                self._count(ip, user, now)
        return max(0.0, wait)

    def release(self, ip: str | None, user: str | None = None) -> None:
        """Take back an attempt counted by ``attempt`` that turned out not to be a check."""
        with self._lock:
            for key in self.keys(ip, user):
                rec = self._records.get(key)
                if rec is not None:
                    rec.failures -= 1
                    if rec.failures <= 0:
                        del self._records[key]

    def succeeded(self, user: str | None, ip: str | None = None) -> None:
        """A successful login: its user name's failures are forgotten; with ``ip``, the attempt
        ``attempt`` counted for the address is taken back (its earlier failures stay)."""
        if ip is not None:
            self.release(ip, None)
        user_key = self._user_key(user)
        if user_key:
            with self._lock:
                self._records.pop(user_key, None)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


def retry_after(seconds: float) -> str:
    """The Retry-After header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
