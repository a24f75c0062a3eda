"""Conversations exported from the web chat, held in memory until they are downloaded.

An export is never written to disk (Gradio's file component would leave a copy in its temporary
folder for good): ``ExportStore.put`` keeps the Markdown under a random token for the user who
asked for it, the page shows a link to ``/export/<token>`` (a route of ``ui/server.py``), and
``get`` hands it only to that user. An export is gone ``ttl`` seconds after it was made, when the
store needs the room (``max_bytes``: the oldest go first), or when the server stops.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

ROUTE = "export"  # the page links to export/<token>, relative to the chat's root
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Export:
    owner: str
    filename: str
    data: bytes
    created: float


class ExportStore:
    def __init__(self, ttl: float = 600.0, max_bytes: int = 32 * 1024 * 1024, clock: Callable[[], float] = time.monotonic):
        self.ttl = float(ttl)
        self.max_bytes = int(max_bytes)
        self.clock = clock
        self._items: OrderedDict[str, Export] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, owner: str | None, filename: str, text: str) -> str:
        """Keep ``text`` for ``owner`` (None: the anonymous user of a server without a passcode);
        returns the token of its download link."""
        data = text.encode("utf-8")
        name = _UNSAFE_NAME.sub("-", filename).strip("-.") or "export.md"
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            self._items[token] = Export(owner or "anonymous", name, data, self.clock())
            self._bytes += len(data)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                self._drop(next(iter(self._items)))
        return token

    def get(self, token: str, user: str | None) -> Export | None:
        """The export behind ``token`` if ``user`` made it and it has not expired."""
        if not _TOKEN.fullmatch(token or ""):
            return None
        with self._lock:
            self._expire()
            item = self._items.get(token)
        if item is None or item.owner != (user or "anonymous"):
            return None
        return item

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes

    def _drop(self, token: str) -> None:
        item = self._items.pop(token, None)
        if item is not None:
            self._bytes -= len(item.data)

    def _expire(self) -> None:
        now = self.clock()
        while self._items:
            token, item = next(iter(self._items.items()))
            if now - item.created <= self.ttl:
                break
            self._drop(token)
