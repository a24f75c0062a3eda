"""The extractive answer composer (the default backend, no LLM).

It ranks the sentences of the retrieved passages against the question (embedding similarity
plus idf-weighted term coverage, with a bonus for directive language when the question asks for
recommendations), picks a short, non-redundant set drawn from several reports where they
contribute, and writes them as Markdown bullets, each ending in its [n] citation marker.  When
the best evidence is weak it declines and names the nearest topics the reports do cover.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .index import LoadedIndex
from .models import Citation, Passage
from .prompts import load_prompt
from .retrieval import DIRECTIVE, Hit, QueryAnalysis
from .text import QUESTION_NOISE, content_terms

_JUNK = re.compile(r"(https?://|www\.|\bIbid\b|^\W*$)")


@dataclass
class ScoredSentence:
    hit_rank: int
    hit: Hit
    row: int  # row in LoadedIndex.sentence_vectors
    text: str
    score: float
    sim: float
    coverage: float


@dataclass
class Composition:
    markdown: str
    citations: list[Citation]
    evidence: float
    refused: bool
    reason: str | None


class IdfTable:
    def __init__(self, passages: list[Passage]):
        df: Counter[str] = Counter()
        for p in passages:
            df.update(set(content_terms(p.text)))
        self.n = max(1, len(passages))
        self.df = df

    def idf(self, term: str) -> float:
        return math.log(1 + self.n / (1 + self.df.get(term, 0)))


def _coverage(query_terms: list[str], sentence: str, idf: IdfTable) -> float:
    if not query_terms:
        return 0.0
    sent = set(content_terms(sentence))
    uniq = set(query_terms)
    total = sum(idf.idf(t) for t in uniq)
    hit = sum(idf.idf(t) for t in uniq if t in sent)
    return hit / total if total else 0.0


def score_sentences(
    index: LoadedIndex, hits: list[Hit], qvec: np.ndarray, analysis: QueryAnalysis, idf: IdfTable
) -> list[ScoredSentence]:
    query_terms = content_terms(analysis.focus or analysis.text, QUESTION_NOISE)
    out: list[ScoredSentence] = []
    for rank, h in enumerate(hits):
        rows = index.sentence_rows(h.index)
        for row, text in zip(rows, h.passage.sentences):
            n_words = len(text.split())
            if n_words < 6 or _JUNK.search(text):
                continue
            sim = float(index.sentence_vectors[row] @ qvec)
            cov = _coverage(query_terms, text, idf)
            score = 0.55 * sim + 0.35 * cov + 0.10 * (1 - rank / max(1, len(hits)))
            if analysis.wants_recommendations and DIRECTIVE.search(text):
                score += 0.06
            if h.passage.section_kind == "footnote":
                score -= 0.05
            if n_words > 70:
                score -= 0.05
            out.append(ScoredSentence(rank, h, row, text, score, sim, cov))
    out.sort(key=lambda s: s.score, reverse=True)
    return out


def evidence_strength(scored: list[ScoredSentence], hits: list[Hit]) -> float:
    """One number in 0..1 for 'do the reports answer this?': the best sentence's similarity and
    term coverage, and the best passage's similarity."""
    if not scored or not hits:
        return 0.0
    best = max(0.6 * s.sim + 0.4 * s.coverage for s in scored[:20])
    top_passage = max(h.dense for h in hits)
    return 0.7 * best + 0.3 * top_passage


def select(
    scored: list[ScoredSentence], index: LoadedIndex, max_sentences: int, single_report: bool, keep_ratio: float = 0.65
) -> list[ScoredSentence]:
    """Greedy, non-redundant selection; at most two sentences from one passage; a second report
    is brought in when it has a sentence nearly as good as the ones already chosen."""
    if not scored:
        return []
    best = scored[0].score
    chosen: list[ScoredSentence] = []
    per_passage: Counter[str] = Counter()
    for s in scored:
        if len(chosen) >= max_sentences:
            break
        if s.score < keep_ratio * best:
            break
        if per_passage[s.hit.passage.passage_id] >= 2:
            continue
        if any(float(index.sentence_vectors[s.row] @ index.sentence_vectors[c.row]) > 0.88 for c in chosen):
            continue
        chosen.append(s)
        per_passage[s.hit.passage.passage_id] += 1
    reports = {c.hit.passage.source for c in chosen}
    if not single_report and len(reports) < 2:
        for s in scored:
            if s.hit.passage.source not in reports and s.score >= 0.55 * best:
                if len(chosen) >= max_sentences:
                    chosen.pop()
                chosen.append(s)
                break
    return chosen


def compose(chosen: list[ScoredSentence]) -> tuple[str, list[Citation]]:
    """Markdown bullets grouped by report (in order of relevance), each sentence cited."""
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    groups: dict[str, list[ScoredSentence]] = {}
    for s in chosen:
        groups.setdefault(s.hit.passage.source, []).append(s)
    lines: list[str] = []
    for source, items in groups.items():
        # keep the report's own order inside a group so that the sentences read naturally
        items.sort(key=lambda s: (s.hit.passage.start_line, s.row))
        for s in items:
            p = s.hit.passage
            if p.passage_id not in numbers:
                numbers[p.passage_id] = len(numbers) + 1
                citations.append(
                    Citation(
                        n=numbers[p.passage_id],
                        passage_id=p.passage_id,
                        source=p.source,
                        title=p.title,
                        section=p.section,
                        start_line=p.start_line,
                        end_line=p.end_line,
                        text=p.text,
                    )
                )
            lines.append(f"- {s.text} [{numbers[p.passage_id]}]")
    return "\n".join(lines), citations


def refusal_text(kind: str, hits: list[Hit]) -> str:
    topics = []
    seen = set()
    for h in hits:
        label = h.passage.section.split(" > ")[-1] if h.passage.section else ""
        if h.passage.section_kind == "footnote" or not label:
            continue
        key = (label.lower(), h.passage.short_citation)
        if key in seen:
            continue
        seen.add(key)
        topics.append(f"- {label} ({h.passage.short_citation})")
        if len(topics) == 4:
            break
    template = load_prompt("refusal" if kind == "weak_evidence" else "decline_instruction")
    return template.render(topics="\n".join(topics) or "- the governance of migrant integration across levels of government")
