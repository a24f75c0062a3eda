"""The one service the CLI, the web chat and the evaluation suite share: question in, Answer out."""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Iterator

from .answer import IdfTable, evidence_strength, refusal_text, score_sentences
from .backends import AnswerBackend, Draft, Evidence, make_backend
from .catalogue import Catalogue
from .errors import AssistantError
from .guard import classify, clean_question, unknown_terms
from .index import IndexManager, LoadedIndex
from .ingest import load_manifest, load_user_reports
from .models import Answer, ReportMeta, RetrievedPassage
from .retrieval import HybridSearch, RetrievalFilters, analyse
from .settings import Settings, get_settings


class Assistant:
    def __init__(self, settings: Settings | None = None, progress: bool = True, chat_model=None):
        """``chat_model``: a LangChain chat model to use instead of the configured one (tests)."""
        self.settings = settings or get_settings()
        self._chat_model = chat_model
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
        self.catalogue = Catalogue.for_index(index, self.reports, self.settings)
        self.search = HybridSearch(index, self.reports, tags=self.catalogue)
        self.idf = IdfTable(index.passages)
        self.vocabulary = _vocabulary(index, self.reports)
        self.backend: AnswerBackend = make_backend(self.settings, index, self._chat_model, self.catalogue)

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

    def with_backend(self, chat_model=None, **settings_overrides) -> Assistant:
        """This assistant (same index, catalogue and search) answering with another backend:
        ``chat_model`` (a LangChain chat model) and/or other settings, e.g. ``backend="llamacpp"``."""
        other = copy.copy(self)
        other.settings = self.settings.model_copy(update=settings_overrides)
        other._chat_model = chat_model
        other.backend = make_backend(other.settings, self.index, chat_model, self.catalogue)
        return other

    def report(self, source: str) -> ReportMeta | None:
        return next((r for r in self.reports if r.source == source), None)

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        filters: RetrievalFilters | None = None,
    ) -> Answer:
        """The whole answer at once (the last item of :meth:`stream`)."""
        final = None
        for item in self.stream(question, history, filters):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(
        self,
        question: str,
        history: list[str] | None = None,
        filters: RetrievalFilters | None = None,
    ) -> Iterator[str | Answer]:
        """Markdown text deltas as the answer is written, then the final ``Answer``, whose ``answer``
        replaces the streamed text (the citation check may have removed sentences). Bad input raises
        InputError before anything is yielded."""
        t0 = time.perf_counter()
        self._follow_rebuilds()
        s = self.settings
        q = clean_question(question, s.max_question_chars)
        history = [clean_question(h, s.max_question_chars) for h in (history or []) if h and h.strip()]
        timings: dict[str, float] = {}
        backend, index, search, idf = self.backend, self.index, self.search, self.idf

        kind = classify(q)
        standalone = q if kind else backend.condense(q, history, self.reports)
        timings["rewrite"] = _ms(t0)

        t1 = time.perf_counter()
        analysis = analyse(standalone, self.reports)
        qvec = index.embedder.embed_query(standalone)
        hits = search.search(standalone, filters=filters, analysis=analysis, query_vector=qvec)
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
        scored = score_sentences(index, hits, qvec, analysis, idf)
        evidence = evidence_strength(scored, hits)
        reason: str | None = kind
        # the user's own words (not what the follow-up rewrite carried over from earlier turns)
        focus = analysis.focus if standalone == q else analyse(q, self.reports).focus
        missing = [] if kind else unknown_terms(focus or q, self.vocabulary)
        if reason is None and (missing or evidence < s.refusal_threshold):
            reason = "weak_evidence"
        draft: Draft | None = None
        if reason is None:
            for item in backend.stream(Evidence(q, standalone, analysis, hits, scored, qvec)):
                if isinstance(item, Draft):
                    draft = item
                else:
                    yield item
            if draft is None or draft.refused:
                reason = "weak_evidence"
        if reason is not None:
            text = refusal_text(reason, hits)
            if missing and reason == "weak_evidence":
                names = " or ".join(f"“{m}”" for m in missing)
                text = f"The reports do not mention {names}. " + text
            yield text
            draft = Draft(text, [], draft.backend if draft else backend.name, refused=True,
                          removed=draft.removed if draft else [], notice=draft.notice if draft else None)
        timings["compose"] = _ms(t2)
        timings["total"] = _ms(t0)
        yield Answer(
            question=q,
            answer=draft.markdown,
            refused=draft.refused,
            citations=draft.citations,
            retrieved=retrieved,
            timings_ms=timings,
            standalone_question=standalone,
            refusal_reason=reason,
            evidence=round(evidence, 4),
            backend=draft.backend,
            groundedness=draft.groundedness,
            removed_sentences=draft.removed,
            notice=draft.notice,
        )


def _vocabulary(index: LoadedIndex, reports: list[ReportMeta]) -> set[str]:
    """Every word of the passages and of the reports' names, lower-cased (hyphenated words also in parts)."""
    vocabulary: set[str] = set()
    texts = [p.text for p in index.passages] + [f"{r.title} {r.short_citation} {r.publisher} {' '.join(r.aliases)}" for r in reports]
    for text in texts:
        for token in re.findall(r"[\w’'-]+", text.lower()):
            vocabulary.add(token.strip("’'-"))
            vocabulary.update(part for part in re.split(r"[-’']", token) if part)
    return vocabulary


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 2)
