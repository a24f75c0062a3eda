"""The web chat's SQLite store: 👍/👎 feedback with an optional comment, and (in workshop mode)
every participant's turns so that the facilitator page can show them live and export them.

One connection per call (``sqlite3`` connections are not shared between Gradio's worker
threads), WAL journal so that the facilitator's reads never block a participant's write, and a
busy timeout for the rare concurrent writers.  The file lives under ``settings.data_dir``
(``feedback.sqlite3`` unless ``POLICY_ASSISTANT_FEEDBACK_DB`` says otherwise).
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    answer_id   TEXT PRIMARY KEY,
    created     REAL NOT NULL,
    workshop    TEXT,
    participant TEXT,
    session     TEXT,
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    refused     INTEGER NOT NULL DEFAULT 0,
    answer_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_workshop ON turns (workshop, created);
CREATE INDEX IF NOT EXISTS turns_session ON turns (session, created);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id   TEXT PRIMARY KEY,
    created     REAL NOT NULL,
    updated     REAL NOT NULL,
    workshop    TEXT,
    participant TEXT,
    session     TEXT,
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    vote        TEXT CHECK (vote IN ('up', 'down')),
    comment     TEXT
);
CREATE INDEX IF NOT EXISTS feedback_workshop ON feedback (workshop, updated);
"""


@dataclass(frozen=True)
class Turn:
    answer_id: str
    created: float
    workshop: str | None
    participant: str | None
    session: str | None
    question: str
    answer: str
    refused: bool
    answer_json: dict


@dataclass(frozen=True)
class Feedback:
    answer_id: str
    created: float
    updated: float
    workshop: str | None
    participant: str | None
    session: str | None
    question: str
    answer: str
    vote: str | None
    comment: str | None


def feedback_path(settings) -> Path:
    """The SQLite file of a data folder's feedback (``settings.feedback_db`` or data_dir/feedback.sqlite3)."""
    return Path(settings.feedback_db) if settings.feedback_db else Path(settings.data_dir) / "feedback.sqlite3"


# --- a damaged file: the web chat runs without feedback storage instead of failing -------------


def _unless_damaged(default):
    """Run the store method, unless the file is (or turns out to be) damaged: then say so once, with
    the steps that repair it, and return ``default`` (a write is not stored, a read finds nothing)."""

    def wrap(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            if self.problem is not None:
                return default(*args, **kwargs) if callable(default) else default
            try:
                return method(self, *args, **kwargs)
            except sqlite3.OperationalError:
                raise  # busy, locked, disk full: not damage
            except sqlite3.DatabaseError as exc:
                self._disable(exc)
                return default(*args, **kwargs) if callable(default) else default

        return guarded

    return wrap


class FeedbackStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.problem: str | None = None  # what is wrong with a damaged file; feedback is then not stored
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_lock = threading.Lock()
        try:
            with self._init_lock, self._connect() as con:
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(_SCHEMA)
                check = con.execute("PRAGMA quick_check").fetchone()
                if check and check[0] != "ok":
                    raise sqlite3.DatabaseError(f"quick_check: {check[0]}")
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            self._disable(exc)

    def _disable(self, exc: Exception) -> None:
        if self.problem is not None:
            return
        p = self.path
        self.problem = (
            f"the feedback file {p} is damaged ({exc}); the web chat runs without storing feedback or workshop "
            f"transcripts. To repair it: stop the server, move the file aside (`mv {p} {p}.damaged`; also move any "
            f"`{p.name}-wal` and `{p.name}-shm` beside it), and start the server again: a new, empty file is created. "
            f"To keep what can still be read from the old one: `sqlite3 {p}.damaged .recover | sqlite3 {p}` "
            "before starting the server."
        )
        log.error("%s", self.problem)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=15)
        try:
            con.execute("PRAGMA busy_timeout=15000")
            with con:  # one transaction: commit on success, roll back on error
                yield con
        finally:
            con.close()

    # ------------------------------------------------------------------ writes
    @_unless_damaged(None)
    def record_turn(
        self,
        answer_id: str,
        question: str,
        answer: dict,
        workshop: str | None = None,
        participant: str | None = None,
        session: str | None = None,
    ) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO turns VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    answer_id,
                    time.time(),
                    workshop,
                    participant,
                    session,
                    question,
                    answer.get("answer", ""),
                    int(bool(answer.get("refused"))),
                    json.dumps(answer, ensure_ascii=False),
                ),
            )

    @_unless_damaged(None)
    def record_vote(
        self,
        answer_id: str,
        vote: str | None,
        question: str,
        answer: str,
        workshop: str | None = None,
        participant: str | None = None,
        session: str | None = None,
    ) -> None:
        """Set (or, with vote=None, withdraw) the vote on one answer; a comment already given stays."""
        if vote not in ("up", "down", None):
            raise ValueError(f"vote must be 'up', 'down' or None, not {vote!r}")
        now = time.time()
        with self._connect() as con:
            con.execute(
                """INSERT INTO feedback (answer_id, created, updated, workshop, participant, session, question, answer, vote, comment)
                   VALUES (?,?,?,?,?,?,?,?,?,NULL)
                   ON CONFLICT(answer_id) DO UPDATE SET vote=excluded.vote, updated=excluded.updated""",
                (answer_id, now, now, workshop, participant, session, question, answer, vote),
            )

    @_unless_damaged(lambda answer_id, comment, *a, **k: " ".join((comment or "").split())[:MAX_COMMENT_CHARS])
    def add_comment(
        self,
        answer_id: str,
        comment: str,
        question: str = "",
        answer: str = "",
        workshop: str | None = None,
        participant: str | None = None,
        session: str | None = None,
    ) -> str:
        """Attach a comment to an answer's feedback (created without a vote if there is none).
        Returns the comment as stored (trimmed, at most MAX_COMMENT_CHARS)."""
        comment = " ".join((comment or "").split())[:MAX_COMMENT_CHARS]
        now = time.time()
        with self._connect() as con:
            con.execute(
                """INSERT INTO feedback (answer_id, created, updated, workshop, participant, session, question, answer, vote, comment)
                   VALUES (?,?,?,?,?,?,?,?,NULL,?)
                   ON CONFLICT(answer_id) DO UPDATE SET comment=excluded.comment, updated=excluded.updated""",
                (answer_id, now, now, workshop, participant, session, question, answer, comment),
            )
        return comment

    # ------------------------------------------------------------------ reads
    @_unless_damaged(lambda *a, **k: [])
    def turns(self, workshop: str | None = None, limit: int | None = None) -> list[Turn]:
        """Turns, oldest first (the newest `limit` when given); one workshop's, or all without it."""
        sql = "SELECT * FROM turns" + (" WHERE workshop = ?" if workshop else "") + " ORDER BY created DESC"
        args: tuple = (workshop,) if workshop else ()
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as con:
            rows = con.execute(sql, args).fetchall()
        return [
            Turn(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), json.loads(r[8])) for r in reversed(rows)
        ]

    @_unless_damaged(lambda *a, **k: [])
    def feedback(self, workshop: str | None = None, limit: int | None = None) -> list[Feedback]:
        """Feedback rows, most recently updated first."""
        sql = "SELECT * FROM feedback" + (" WHERE workshop = ?" if workshop else "") + " ORDER BY updated DESC"
        args: tuple = (workshop,) if workshop else ()
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as con:
            rows = con.execute(sql, args).fetchall()
        return [Feedback(*r) for r in rows]

    @_unless_damaged(None)
    def get_feedback(self, answer_id: str) -> Feedback | None:
        with self._connect() as con:
            row = con.execute("SELECT * FROM feedback WHERE answer_id = ?", (answer_id,)).fetchone()
        return Feedback(*row) if row else None

    @_unless_damaged(lambda *a, **k: [])
    def conversation(self, workshop: str | None, participant: str | None, session: str) -> list[Turn]:
        """One conversation's turns, oldest first: those of this session *and* this participant
        (the logged-in user), so that knowing another browser's session id shows nothing."""
        if not session:
            return []
        sql = "SELECT * FROM turns WHERE session = ? AND " + ("workshop = ?" if workshop else "workshop IS NULL")
        args: list = [session] + ([workshop] if workshop else [])
        sql += " AND participant = ?" if participant else " AND participant IS NULL"
        args += [participant] if participant else []
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY created", args).fetchall()
        return [Turn(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), json.loads(r[8])) for r in rows]

    def transcripts(self, workshop: str | None = None) -> dict[tuple[str, str], list[Turn]]:
        """Every conversation: (participant, session) -> its turns, oldest first, conversations in
        the order they started."""
        out: dict[tuple[str, str], list[Turn]] = {}
        for t in self.turns(workshop):
            out.setdefault((t.participant or "anonymous", t.session or ""), []).append(t)
        return out
