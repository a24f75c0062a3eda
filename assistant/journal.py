"""The record of a change to the added reports that has not reached the index yet:
``<data_dir>/pending/``.

An ingest or a removal first writes everything it needs there — the converted texts
(``pending/sources/``), the list of added reports as it will be (``journal.json``) — then builds
the new index generation (checkpointing the vectors it embeds in ``pending/vectors/``), switches
``index/state.json`` to it (the commit point) and only then moves the texts into
``data/sources/``, writes ``user_reports.json`` and deletes ``pending/``. So:

- a change killed before the commit point leaves the previous index, the previous list of reports
  and their texts exactly as they were, plus ``pending/``: `index --status`, `ask` and `serve` say
  that an interrupted ingest is pending; `index --resume` finishes it (reusing the vectors it had
  embedded), `index --discard` drops it;
- a change killed after the commit point is rolled forward by the next process that finds it (the
  moves and the list are idempotent).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

PENDING_DIR = "pending"
JOURNAL_FILE = "journal.json"


def write_json_atomic(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


class Journal:
    """``<data_dir>/pending/journal.json`` and the files beside it."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.dir = self.data_dir / PENDING_DIR
        self.path = self.dir / JOURNAL_FILE
        self.sources_dir = self.dir / "sources"
        self.vectors_dir = self.dir / "vectors"
        self._last_progress = 0.0

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> dict | None:
        """The journal, None without one; an unreadable one reads as ``{"unreadable": reason}``."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("registry"), list):
                raise ValueError("not a journal")
            return data
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            return {"unreadable": f"{type(exc).__name__}: {exc}"}

    def write(self, data: dict) -> None:
        write_json_atomic(self.path, data)

    def update(self, **fields) -> None:
        data = self.read()
        if data is None or "unreadable" in data:
            return
        data.update(fields)
        self.write(data)

    # ------------------------------------------------------------------ during a build
    def progress(self, phase: str, done: int = 0, total: int = 0, force: bool = False) -> None:
        """Record how far the build is (at most a few times a second)."""
        now = time.monotonic()
        if not force and now - self._last_progress < 0.25 and done < total:
            return
        self._last_progress = now
        self.update(phase=phase, progress={"done": done, "total": total, "at": time.strftime("%Y-%m-%dT%H:%M:%S")})

    def save_vectors(self, ids: list[str], passage_vectors: np.ndarray, sentence_vectors: list[np.ndarray]) -> None:
        """Checkpoint one group of embedded passages (their vectors and their sentences')."""
        self.vectors_dir.mkdir(parents=True, exist_ok=True)
        n = len(list(self.vectors_dir.glob("*.npz")))
        counts = np.array([len(s) for s in sentence_vectors], dtype=np.int64)
        dim = passage_vectors.shape[1]
        stacked = np.concatenate([np.asarray(s, dtype=np.float32).reshape(-1, dim) for s in sentence_vectors]) if len(ids) else np.zeros((0, dim), np.float32)
        tmp = self.vectors_dir / f".{n:05d}.tmp.npz"
        np.savez(tmp, ids=np.array(ids), p=passage_vectors.astype(np.float32), s=stacked, counts=counts)
        tmp.replace(self.vectors_dir / f"{n:05d}.npz")

    def saved_vectors(self) -> dict[str, dict]:
        """passage_id -> {'p': vector, 's': sentence vectors} from the checkpoints (damaged ones skipped)."""
        out: dict[str, dict] = {}
        if not self.vectors_dir.is_dir():
            return out
        for f in sorted(self.vectors_dir.glob("[0-9]*.npz")):
            try:
                with np.load(f) as z:
                    ids, p, s, counts = list(z["ids"]), z["p"], z["s"], z["counts"]
                starts = np.concatenate([[0], np.cumsum(counts)])
                if len(ids) != len(p) or len(counts) != len(ids) or starts[-1] != len(s):
                    continue
                for i, pid in enumerate(ids):
                    out[str(pid)] = {"p": p[i], "s": s[starts[i] : starts[i + 1]]}
            except Exception:  # noqa: BLE001 - a checkpoint cut by a kill is simply not reused
                continue
        return out

    def remove(self) -> None:
        """Delete the journal first (the change is then no longer pending), then the folder."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
