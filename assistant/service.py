"""The one service the CLI, the web chat and the evaluation suite share: question in, Answer out.

``Assistant`` loads (or builds) the index, the catalogue and the stages of the answer path and
wires them into an ``AnswerPipeline`` (see assistant/pipeline.py for the stages).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator

from .analysis import name_words
from .backends import AnswerBackend, ExtractiveBackend, make_backend
from .catalogue import Catalogue
from .errors import AssistantError
from .gate import Gate, corpus_vocabulary
from .index import IndexManager, LoadedIndex
from .ingest import load_manifest, load_user_reports
from .models import Answer, ReportMeta, RetrievalFilters
from .pipeline import AnswerPipeline
from .retrieval import HybridSearch
from .scoring import IdfTable, SentenceScorer
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
        # an interrupted ingest pending, another process updating the index: said once, at start
        self.notice: str | None = self.manager.notice
        if self.notice and progress:
            import sys

            print(f"note: {self.notice}", file=sys.stderr, flush=True)
        self._install(index)

    def _install(self, index: LoadedIndex) -> None:
        self._state_mtime = self.manager.state_mtime()
        self.index = index
        # the generation's own list (it matches its passages even while an ingest is being committed)
        reports: list[ReportMeta] = index.reports or (
            load_manifest(self.settings.knowledge_base_dir) + load_user_reports(self.settings))
        # the words that name each report loosely ("the inclusive cities report"), from what it says
        words = name_words(reports, index.passages)
        self.reports = [r.model_copy(update={"name_words": words[r.source]}) for r in reports]
        self.catalogue = Catalogue.for_index(index, self.reports, self.settings)
        self.search = HybridSearch(index, self.reports, tags=self.catalogue)
        self.idf = IdfTable(index.passages)
        self.scorer = SentenceScorer(index, self.idf, self.settings.scoring)
        self.gate = Gate(self.settings.gate, corpus_vocabulary(index.passages, self.reports))
        self.backend: AnswerBackend = make_backend(self.settings, index, self._chat_model, self.catalogue)
        self.pipeline = self._pipeline()

    def _pipeline(self) -> AnswerPipeline:
        extractive = self.backend if isinstance(self.backend, ExtractiveBackend) else ExtractiveBackend(
            self.index, self.settings, self.catalogue
        )
        return AnswerPipeline(
            self.settings, self.index, self.reports, self.search, self.scorer, self.gate, self.backend, extractive
        )

    def reload(self, progress: bool = False) -> None:
        """Pick up a rebuilt index (after `ingest`); the old one serves until the new one loads."""
        index = self.manager.ensure(progress=progress)
        with self._lock:
            self.notice = self.manager.notice
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
        other.pipeline = other._pipeline()
        return other

    def report(self, source: str) -> ReportMeta | None:
        return next((r for r in self.reports if r.source == source), None)

    def ask(self, question: str, history: list[str] | None = None, filters: RetrievalFilters | None = None) -> Answer:
        """The whole answer at once (the last item of :meth:`stream`)."""
        final = None
        for item in self.stream(question, history, filters):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(
        self, question: str, history: list[str] | None = None, filters: RetrievalFilters | None = None
    ) -> Iterator[str | Answer]:
        """Markdown text deltas as the answer is written, then the final ``Answer``, whose ``answer``
        replaces the streamed text (the citation check may have removed sentences). Bad input raises
        InputError before anything is yielded."""
        self._follow_rebuilds()
        yield from self.pipeline.stream(question, history, filters)
