"""Hybrid retrieval: dense (cosine over the passage vectors; a Chroma server when one is set) +
BM25 (bm25s), fused by reciprocal rank, with report-name detection, recommendation-aware boosts,
metadata filters and per-report diversity. ``PolicyRetriever`` (in :mod:`assistant.retriever`,
importable from here) exposes it as a LangChain ``BaseRetriever``; LangChain is loaded only then."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .analysis import analyse, detect_reports, names_authors, strip_report_names  # noqa: F401 - re-exported
from .index import LoadedIndex
from .models import Hit, QueryAnalysis, ReportMeta, RetrievalFilters  # noqa: F401 - re-exported
from .scoring import DIRECTIVE, MADE_BY, POINTS_BACK, sentence_flags  # noqa: F401 - DIRECTIVE re-exported
from .text import content_terms, inner_names



class HybridSearch:
    def __init__(self, index: LoadedIndex, reports: list[ReportMeta], *, tags: Any = None):
        self.index = index
        self.settings = index.settings
        self.reports = reports
        # anything with .tags_for(passage_id) -> (levels, themes): the catalogue. Built on first
        # use of a level/theme filter when not given.
        self.tags = tags
        self._notes: dict[tuple[str, int], int] | None = None  # (source, note number) -> passage index

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: RetrievalFilters | None = None,
        analysis: QueryAnalysis | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        s = self.settings
        k = k or s.top_k
        analysis = analysis or analyse(query, self.reports)
        filters = filters or RetrievalFilters()
        sources = filters.sources
        if not sources and analysis.named_sources:
            sources = analysis.named_sources
        allowed = self._allowed(sources, filters.section_kinds)
        tagged = bool(filters.levels or filters.themes)
        if tagged:
            allowed &= self._tag_mask(filters.levels, filters.themes)
        if not allowed.any():
            return []
        qvec = query_vector if query_vector is not None else self.index.embedder.embed_query(query)

        # dense: the allowed passages nearest by cosine (for a Chroma server, filtered in its query:
        # by metadata, and by passage id when the catalogue tags filter)
        n_dense = min(s.dense_candidates, int(allowed.sum()))
        where = ids = None
        if self.settings.chroma_host:
            where = self._where(sources, filters.section_kinds)
            ids = [self.index.passages[i].passage_id for i in np.flatnonzero(allowed)] if tagged else None
        dense = self.index.dense_search(qvec, n_dense, allowed, where=where, ids=ids)
        dense_rank = {i: r for r, i in enumerate(dense)}

        # lexical: BM25 over all passages, filtered afterwards
        terms = content_terms(analysis.focus or query)
        bm25_rank: dict[int, int] = {}
        if terms:
            n = len(self.index.passages)
            docs, scores = self.index.bm25.retrieve([terms], k=n, show_progress=False, weight_mask=allowed.astype(float))
            r = 0
            for d, sc in zip(docs[0], scores[0]):
                if sc <= 0 or not allowed[int(d)]:
                    continue
                bm25_rank[int(d)] = r
                r += 1
                if r >= s.bm25_candidates:
                    break

        cos = self.index.passage_vectors @ qvec
        fused: dict[int, float] = {}
        for i, r in dense_rank.items():
            fused[i] = fused.get(i, 0.0) + 1.0 / (s.rrf_k + r + 1)
        for i, r in bm25_rank.items():
            fused[i] = fused.get(i, 0.0) + 1.0 / (s.rrf_k + r + 1)
        hits = []
        for i, score in fused.items():
            p = self.index.passages[i]
            if p.section_kind == "footnote":
                score *= s.footnote_weight
            if analysis.wants_recommendations and not analysis.wants_practices:
                if p.section_kind in ("recommendations", "summary"):
                    score *= s.advice_section_weight
                if DIRECTIVE.search(p.text):
                    score *= s.advice_passage_weight
            hits.append(Hit(i, p, score, float(cos[i]), dense_rank.get(i), bm25_rank.get(i)))
        hits.sort(key=lambda h: h.score, reverse=True)
        return self._diversify(hits, k, single_report=len(sources or []) == 1)

    def with_notes(self, hits: list[Hit], filters: RetrievalFilters | None = None) -> list[Hit]:
        """``hits`` and, after them, the notes the top ``note_hits_from`` passages cite that are not
        among them (at most ``note_hits``): "… from 35 cities¹⁵ …" brings note 15, the list of the cities.
        A note keeps the rank of the passage citing it (``Hit.cited_by``) for the score stage."""
        s = self.settings
        if s.note_hits <= 0 or (filters is not None and filters.section_kinds and "footnote" not in filters.section_kinds):
            return hits
        if self._notes is None:
            self._notes = {(p.source, n): i for i, p in enumerate(self.index.passages) for n in p.notes}
        have = {h.index for h in hits}
        extra: list[Hit] = []
        for pos, h in enumerate(hits[: s.note_hits_from]):
            for n in h.passage.cites:
                i = self._notes.get((h.passage.source, n))
                if i is None or i in have or len(extra) >= s.note_hits:
                    continue
                extra.append(Hit(i, self.index.passages[i], h.score, h.dense, h.rank_dense, h.rank_bm25, cited_by=pos))
                have.add(i)
        return hits + extra

    def with_continuations(self, hits: list[Hit], filters: RetrievalFilters | None = None) -> list[Hit]:
        """``hits`` and, after them, the passages that go on from the top ``continuation_hits_from``
        where the chunker cut them (at most ``continuation_hits``): the next passage of the same
        report and section (notes printed between them skipped) whose first sentence points back
        ("The project began in December 2012 …", "This form of co-operation aims …"). A
        continuation keeps the rank of the passage it continues (``Hit.continues``)."""
        s = self.settings
        if s.continuation_hits <= 0:
            return hits
        passages = self.index.passages
        have = {h.index for h in hits}
        extra: list[Hit] = []
        for pos, h in enumerate(hits[: s.continuation_hits_from]):
            if h.passage.section_kind == "footnote" or h.cited_by is not None or len(extra) >= s.continuation_hits:
                continue
            nxt = self._next_in_section(h.index)
            if nxt is None or nxt in have:
                continue
            p = passages[nxt]
            if filters is not None and filters.section_kinds and p.section_kind not in filters.section_kinds:
                continue
            if p.sentences and 0 not in p.titles and sentence_flags(p.sentences[0]) & POINTS_BACK:
                extra.append(Hit(nxt, p, h.score, h.dense, h.rank_dense, h.rank_bm25, continues=pos))
                have.add(nxt)
        return hits + extra

    def with_front_matter(self, hits: list[Hit], analysis: QueryAnalysis) -> list[Hit]:
        """``hits`` and, after them, for a question about a report or project it names ("Who drafted the
        OSCE study?", ``QueryAnalysis.about_report``), the passages among its first and last
        ``front_matter_passages`` that say who made it ("… was commissioned by ODIHR from …", "… is
        cofinanced by the European Union", a brief's closing "developed in … funded by …") or, when it
        asks who wrote it, that name its authors (a byline, an author block): front and back matter
        answer it, and a question's few words rarely bring them. Such hits are marked ``front_matter``."""
        n = self.settings.front_matter_passages
        if not analysis.about_report or n <= 0 or not hits:
            return hits
        # the report it names, or, for a project it names ("the INTERACT project"), the top hit's report;
        # "Who wrote the report?" names none
        sources = analysis.named_sources or ([hits[0].passage.source] if inner_names(analysis.text) else [])
        front = set()
        for source in sources:
            own = [i for i, p in enumerate(self.index.passages) if p.source == source]
            front |= {i for i in own[:n] + own[-n:] if any(MADE_BY.search(t) for t in self.index.passages[i].sentences)
                      or names_authors(self.index.passages[i].text, analysis.authors)}
        out = [replace(h, front_matter=True) if h.index in front else h for h in hits]
        have = {h.index for h in hits}
        out += [Hit(i, self.index.passages[i], hits[-1].score, hits[-1].dense, None, None, front_matter=True)
                for i in sorted(front - have)]
        return out

    def _next_in_section(self, i: int, look: int = 4) -> int | None:
        """The passage after ``i`` in its report and section, skipping notes printed between them."""
        passages = self.index.passages
        here = passages[i]
        for j in range(i + 1, min(len(passages), i + 1 + look)):
            p = passages[j]
            if p.source != here.source:
                return None
            if p.section_kind == "footnote":
                continue
            return j if p.section == here.section and p.start_line >= here.end_line - 1 else None
        return None

    def _diversify(self, hits: list[Hit], k: int, single_report: bool) -> list[Hit]:
        cap = k if single_report else self.settings.max_per_report
        out, per = [], {}
        for h in hits:
            if per.get(h.passage.source, 0) >= cap:
                continue
            out.append(h)
            per[h.passage.source] = per.get(h.passage.source, 0) + 1
            if len(out) == k:
                break
        return out

    def _tag_mask(self, levels: list[str] | None, themes: list[str] | None) -> np.ndarray:
        """Passages that hold a catalogue record of one of ``levels`` and one of ``themes``."""
        from .taxonomy import resolve_level, resolve_theme

        want_levels = {resolve_level(v) for v in levels or []}
        want_themes = {resolve_theme(v) for v in themes or []}
        if self.tags is None:
            from .catalogue import Catalogue

            self.tags = Catalogue.for_index(self.index, self.reports, self.settings)
        mask = np.zeros(len(self.index.passages), dtype=bool)
        for i, p in enumerate(self.index.passages):
            lv, th = self.tags.tags_for(p.passage_id)
            mask[i] = (not want_levels or bool(lv & want_levels)) and (not want_themes or bool(th & want_themes))
        return mask

    def _allowed(self, sources: list[str] | None, kinds: list[str] | None) -> np.ndarray:
        mask = np.ones(len(self.index.passages), dtype=bool)
        for i, p in enumerate(self.index.passages):
            if sources and p.source not in sources:
                mask[i] = False
            elif kinds and p.section_kind not in kinds:
                mask[i] = False
        return mask

    @staticmethod
    def _where(sources: list[str] | None, kinds: list[str] | None) -> dict | None:
        clauses: list[dict[str, Any]] = []
        if sources:
            clauses.append({"source": {"$in": list(sources)}})
        if kinds:
            clauses.append({"section_kind": {"$in": list(kinds)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def __getattr__(name: str):
    # PolicyRetriever subclasses LangChain's BaseRetriever: import LangChain only when it is asked for
    if name == "PolicyRetriever":
        from .retriever import PolicyRetriever

        return PolicyRetriever
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
