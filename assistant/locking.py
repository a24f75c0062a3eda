"""One writer at a time in a data folder: an advisory lock (``fcntl.flock``) on
``<data_dir>/index.lock``, held by `ingest`, `remove`, `index` and any index build.

The kernel releases the lock when its holder exits, however it exits (kill -9 included), so a
lock is never stale. The holder writes who it is (pid, command, since) into the file so that a
process that has to wait can say what it waits for. The lock is re-entrant within one thread
(an ingest holds it and its index build takes it again); another process, or another thread
of this one (the web chat), waits for it like any other writer.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import IngestError

LOCK_FILE = "index.lock"

_held: dict[tuple[str, int], tuple[int, int]] = {}  # (path, thread) -> (fd, depth)
_held_guard = threading.Lock()


class LockBusy(IngestError):
    """Another process holds the data folder's lock (exit 3)."""


def lock_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOCK_FILE


def holder(data_dir: Path) -> dict | None:
    """Who holds the lock now (pid, command, since), or None when nobody does."""
    path = lock_path(data_dir)
    if not path.exists():
        return None
    key = (str(path), threading.get_ident())
    if key in _held:
        return _read_info(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_info(path) or {"pid": None, "command": "unknown"}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_info(path: Path) -> dict | None:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "null")
        return info if isinstance(info, dict) else None
    except (OSError, ValueError):
        return None


def describe(info: dict | None) -> str:
    if not info:
        return "another process"
    return f"`{info.get('command') or 'policy-assistant'}` (pid {info.get('pid')}, since {info.get('since', '?')})"


@contextmanager
def writer_lock(
    data_dir: Path,
    command: str,
    timeout_s: float,
    on_wait: Callable[[dict | None], None] | None = None,
) -> Iterator[None]:
    """Hold the data folder's write lock for the block. When another process holds it, call
    ``on_wait`` once (to say so) and wait up to ``timeout_s`` seconds, then raise LockBusy."""
    path = lock_path(data_dir)
    key = (str(path), threading.get_ident())
    with _held_guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                fd, depth = _held[key]
                _held[key] = (fd, depth - 1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + max(0.0, timeout_s)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                info = _read_info(path)
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"another ingest is running: {describe(info)} is changing the index in {data_dir}. "
                        f"Try again when it has finished (waited {timeout_s:g} s; POLICY_ASSISTANT_INGEST__LOCK_TIMEOUT_S)"
                    ) from None
                if not told and on_wait is not None:
                    on_wait(info)
                    told = True
                time.sleep(0.2)
        info = {"pid": os.getpid(), "command": command, "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        with _held_guard:
            _held[key] = (fd, 1)
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def holds_lock(data_dir: Path) -> bool:
    """Does this thread hold the data folder's lock?"""
    return (str(lock_path(data_dir)), threading.get_ident()) in _held


def say_waiting(info: dict | None) -> None:
    print(f"waiting for {describe(info)} to finish changing the index ...", file=sys.stderr, flush=True)
