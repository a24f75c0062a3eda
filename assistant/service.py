"""The one service the CLI, the web chat and the evaluation suite share: question in, Answer out."""

from __future__ import annotations

import threading
import time

from .answer import IdfTable, compose, evidence_strength, refusal_text, score_sentences, select
from .conversation import condense
from .errors import AssistantError
from .guard import classify, clean_question
from .index import IndexManager, LoadedIndex
from .ingest import load_manifest, load_user_reports
from .models import Answer, ReportMeta, RetrievedPassage
from .retrieval import HybridSearch, RetrievalFilters, analyse
from .settings import Settings, get_settings


class Assistant:
    def __init__(self, settings: Settings | None = None, progress: bool = True):
        self.settings = settings or get_settings()
        self.manager = IndexManager(self.settings)
        self._lock = threading.Lock()
        self._load(progress)

    def _load(self, progress: bool) -> None:
        index = self.manager.ensure(progress=progress)
        self._install(index)

    def _install(self, index: LoadedIndex) -> None:
        self._state_mtime = self.manager.state_mtime()
        self.index = index
        self.reports: list[ReportMeta] = load_manifest(self.settings.knowledge_base_dir) + load_user_reports(self.settings)
        self.search = HybridSearch(index, self.reports)
        self.idf = IdfTable(index.passages)

    def reload(self, progress: bool = False) -> None:
        """Pick up a rebuilt index (after `ingest`); the old one serves until the new one loads."""
        index = self.manager.ensure(progress=progress)
        with self._lock:
            self._install(index)

    def _follow_rebuilds(self) -> None:
        """Another process (``policy-assistant ingest``) switched the index: load the new one. If
        it cannot be loaded, keep serving the one in memory."""
        if self.manager.state_mtime() == self._state_mtime:
            return
        try:
            index = self.manager.load()
        except AssistantError:
            self._state_mtime = self.manager.state_mtime()
            return
        with self._lock:
            self._install(index)

    def report(self, source: str) -> ReportMeta | None:
        return next((r for r in self.reports if r.source == source), None)

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        filters: RetrievalFilters | None = None,
    ) -> Answer:
        t0 = time.perf_counter()
        self._follow_rebuilds()
        s = self.settings
        q = clean_question(question, s.max_question_chars)
        history = [clean_question(h, s.max_question_chars) for h in (history or []) if h and h.strip()]
        timings: dict[str, float] = {}

        kind = classify(q)
        standalone = condense(q, history, self.reports, s.max_history_turns)
        timings["rewrite"] = _ms(t0)

        t1 = time.perf_counter()
        analysis = analyse(standalone, self.reports)
        qvec = self.index.embedder.embed_query(standalone)
        hits = self.search.search(standalone, filters=filters, analysis=analysis, query_vector=qvec)
        timings["retrieve"] = _ms(t1)
        retrieved = [
            RetrievedPassage(
                passage_id=h.passage.passage_id,
                source=h.passage.source,
                title=h.passage.title,
                section=h.passage.section,
                start_line=h.passage.start_line,
                end_line=h.passage.end_line,
                text=h.passage.text,
                score=round(h.score, 6),
            )
            for h in hits
        ]

        t2 = time.perf_counter()
        scored = score_sentences(self.index, hits, qvec, analysis, self.idf)
        evidence = evidence_strength(scored, hits)
        if kind is not None:
            answer, refused, reason, citations = refusal_text(kind, hits), True, kind, []
        elif evidence < s.refusal_threshold:
            answer, refused, reason, citations = refusal_text("weak_evidence", hits), True, "weak_evidence", []
        else:
            single = len({h.passage.source for h in hits}) == 1
            chosen = select(scored, self.index, s.max_answer_sentences, single_report=single, keep_ratio=s.sentence_keep_ratio)
            answer, citations = compose(chosen)
            refused, reason = (False, None) if citations else (True, "weak_evidence")
            if refused:
                answer = refusal_text("weak_evidence", hits)
        timings["compose"] = _ms(t2)
        timings["total"] = _ms(t0)
        return Answer(
            question=q,
            answer=answer,
            refused=refused,
            citations=citations,
            retrieved=retrieved,
            timings_ms=timings,
            standalone_question=standalone,
            refusal_reason=reason,
            evidence=round(evidence, 4),
        )


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 2)
