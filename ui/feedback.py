"""The web chat's SQLite store: 👍/👎 feedback with an optional comment, and (in workshop mode)
every participant's turns so that the facilitator page can show them live and export them.

One connection per call (``sqlite3`` connections are not shared between Gradio's worker
threads), WAL journal so that the facilitator's reads never block a participant's write, and a
busy timeout for the rare concurrent writers.  The file lives under ``settings.data_dir``
(``feedback.sqlite3`` unless ``POLICY_ASSISTANT_FEEDBACK_DB`` says otherwise).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

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


class FeedbackStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init_lock = threading.Lock()
        with self._init_lock, self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

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

    def feedback(self, workshop: str | None = None, limit: int | None = None) -> list[Feedback]:
        """Feedback rows, most recently updated first."""
        sql = "SELECT * FROM feedback" + (" WHERE workshop = ?" if workshop else "") + " ORDER BY updated DESC"
        args: tuple = (workshop,) if workshop else ()
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as con:
            rows = con.execute(sql, args).fetchall()
        return [Feedback(*r) for r in rows]

    def get_feedback(self, answer_id: str) -> Feedback | None:
        with self._connect() as con:
            row = con.execute("SELECT * FROM feedback WHERE answer_id = ?", (answer_id,)).fetchone()
        return Feedback(*row) if row else None

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
