"""The answer path, one stage after another:

    rewrite   conversation.condense      follow-up -> standalone question          (Rewrite)
    analyse   analysis.analyse           named reports, kind of fact asked for     (QueryAnalysis)
    retrieve  retrieval.HybridSearch     dense + lexical candidates
    fuse                                 reciprocal-rank fusion, boosts, diversity (list[Hit])
    score     scoring.SentenceScorer     fact probability of every sentence        (list[ScoredSentence])
    gate      gate.Gate                  answer, or decline and why                (GateDecision)
    compose   backends (extractive or LLM) quotes / a written answer               (Draft)
    verify    verify.CitationVerifier    LLM sentences checked against passages    (Draft)
    assemble  assemble.assemble          citations numbered, Markdown, JSON        (Answer)

Every stage takes and returns the types of ``assistant.models``; the service builds one pipeline
per loaded index, and a stage can be swapped by passing another object with the same method.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace

from .analysis import analyse, authors_asked
from .assemble import assemble
from .backends import AnswerBackend, ExtractiveBackend
from .conversation import ellipsis_slot
from .gate import Gate, decline_message, missing_fact_preface
from .guard import classify, clean_question
from .language import declined_answer, recognise
from .models import (
    Answer,
    Draft,
    Evidence,
    GateDecision,
    ReportMeta,
    RetrievalFilters,
    Rewrite,
)
from .retrieval import HybridSearch
from .scoring import SentenceScorer
from .settings import Settings
from .text import inner_capitalised, inner_names, name_key


class AnswerPipeline:
    def __init__(
        self,
        settings: Settings,
        index,
        reports: list[ReportMeta],
        search: HybridSearch,
        scorer: SentenceScorer,
        gate: Gate,
        backend: AnswerBackend,
        extractive: ExtractiveBackend,
    ):
        self.settings = settings
        self.index = index
        self.reports = reports
        self.search = search
        self.scorer = scorer
        self.gate = gate
        self.backend = backend
        self.extractive = extractive  # partial answers ("the reports do not give this figure") are quoted

    def stream(
        self, question: str, history: list[str] | None = None, filters: RetrievalFilters | None = None,
        avoid_repeats: bool = True,
    ) -> Iterator[str | Answer]:
        """Markdown text deltas as the answer is written, then the final ``Answer``, whose
        ``answer`` replaces the streamed text. Bad input raises InputError before anything is yielded."""
        t0 = time.perf_counter()
        q = clean_question(question, self.settings.max_question_chars)
        if classify(q) is None:
            check = recognise(q)
            if not check.english:  # the reports are in English: say so, in the question's language where we can
                yield check.message or ""
                yield declined_answer(q, check, timings={"total": _ms(t0)})
                return
        kind, rewrite, evidence, timings = self.evidence(question, history, filters)
        analysis, hits, scored = evidence.analysis, evidence.hits, evidence.scored

        # 6 gate
        t2 = time.perf_counter()
        own_focus = analysis.focus if not rewrite.rewritten else analyse(rewrite.question, self.reports).focus
        decision = self.gate.decide(kind, rewrite, analysis, own_focus, hits, scored)
        timings["gate"] = _ms(t2)

        # 7 compose (8 verify, inside an LLM backend)
        t3 = time.perf_counter()
        draft: Draft | None = None
        if decision.answer:
            if avoid_repeats and isinstance(self.backend, ExtractiveBackend) and rewrite.history:
                evidence.shown = self.shown(rewrite.history, filters)
                evidence.named_anew = named_anew(q, rewrite.history)
                evidence.new_slot = rewrite.slot
            for item in self.backend.stream(evidence):
                if isinstance(item, Draft):
                    draft = item
                else:
                    yield item
            if draft is None or draft.refused or not draft.statements:
                decision = GateDecision(False, "weak_evidence", decision.evidence, signals=decision.signals)
                draft = None
        if draft is None and decision.reason == "missing_fact":
            partial = self.extractive.draft(evidence, preface=missing_fact_preface(decision.missing, rewrite.slot))
            if partial.statements:
                draft = partial
                draft.refused = True
        if draft is None:
            draft = Draft([decline_message(decision, hits, self.reports)], self.backend.name, refused=True)
        timings["compose"] = _ms(t3)
        timings["total"] = _ms(t0)

        # 9 assemble
        answer = assemble(draft, rewrite, decision, hits, timings)
        if filters is not None and filters.active():
            answer.filters = filters.describe(self.reports)
        yield answer

    def evidence(
        self, question: str, history: list[str] | None = None, filters: RetrievalFilters | None = None
    ) -> tuple[str | None, Rewrite, Evidence, dict[str, float]]:
        """Stages 1-5 (rewrite, analyse, retrieve, fuse, score): (guard.classify of the question,
        the rewrite, the scored evidence, timings)."""
        s = self.settings
        t0 = time.perf_counter()
        q = clean_question(question, s.max_question_chars)
        history = [clean_question(h, s.max_question_chars, what="an earlier question in the history")
                   for h in (history or []) if h and h.strip()]
        timings: dict[str, float] = {}

        # 1 rewrite
        kind = classify(q)
        rewrite = Rewrite(q, q if kind else self.backend.condense(q, history, self.reports), history,
                          slot=ellipsis_slot(q) if history else None)
        timings["rewrite"] = _ms(t0)

        # 2 analyse, 3 retrieve, 4 fuse
        t1 = time.perf_counter()
        analysis = analyse(rewrite.standalone, self.reports)
        qvec = self.index.embedder.embed_query(rewrite.standalone)
        hits = self.search.search(rewrite.standalone, filters=filters, analysis=analysis, query_vector=qvec)
        hits = self.search.with_notes(hits, filters)
        hits = self.search.with_continuations(hits, filters)
        if analysis.about_report and not analysis.named_sources and hits and inner_names(analysis.text):
            # "Who wrote the EPC brief on cities in EU policymaking?" names no report the catalogue knows
            # by that name: the authors asked for are those of the best passage's report
            analysis = replace(analysis, authors=authors_asked(analysis.text, [hits[0].passage.source], self.reports))
        hits = self.search.with_front_matter(hits, analysis)
        timings["retrieve"] = _ms(t1)

        # 5 score
        t2 = time.perf_counter()
        # each later part is read with the first, which names the subject ("who launched it?")
        parts = (self.index.embedder.embed([analysis.parts[0]] + [f"{p} ({analysis.parts[0]})" for p in analysis.parts[1:]])
                 if len(analysis.parts) > 1 else None)
        scored = self.scorer.score(analysis, hits, qvec, parts)
        share = self.settings.compose.common_name_share
        common = frozenset(w for run in inner_names(analysis.text) for w in run if self.scorer.idf.share(w) >= share)
        timings["score"] = _ms(t2)
        return kind, rewrite, Evidence(q, rewrite.standalone, analysis, hits, scored, qvec, part_vectors=parts,
                                       common_names=common), timings

    def ask(
        self, question: str, history: list[str] | None = None, filters: RetrievalFilters | None = None,
        avoid_repeats: bool = True,
    ) -> Answer:
        final = None
        for item in self.stream(question, history, filters, avoid_repeats):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def shown(self, history: list[str], filters: RetrievalFilters | None = None, turns: int = 2) -> frozenset[str]:
        """The sentences the last ``turns`` answers of the conversation quoted (recomputed: the
        extractive answer is deterministic), so that a follow-up does not repeat them."""
        quoted: set[str] = set()
        start = max(0, len(history) - turns)
        for i in range(start, len(history)):
            answer = self.ask(history[i], history[:i], filters, avoid_repeats=False)
            if not answer.refused:
                for c in answer.citations:
                    quoted.update(c.quotes)
        return frozenset(quoted)


def named_anew(question: str, history: list[str]) -> frozenset[str]:
    """The names (capitalised words inside the question) that a follow-up brings and no earlier
    question of the conversation named: {"bern"} for "And how is the formula different in the city
    of Bern itself?" after "How does Switzerland fund schools …?"."""
    earlier = " ".join(history).lower()
    names = {name_key(w) for w in inner_capitalised(question)}
    return frozenset(n for n in names if not re.search(rf"\b{re.escape(n)}\b", earlier))


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 2)
