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


GROUP_DONE = "**What has been done**"
GROUP_RECOMMEND = "**What the reports recommend**"
GROUP_OTHER = "**Also in the reports**"


def citation_for(p: Passage, numbers: dict[str, int], citations: list[Citation]) -> int:
    """The [n] of passage ``p`` in an answer: numbered in order of first use, its Citation
    appended to ``citations`` the first time."""
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
    return numbers[p.passage_id]


def statement_labels(chosen: list[ScoredSentence], catalogue=None):
    """The catalogue's label (kind, acting level) of each chosen sentence, read in its passage so
    that 'It ...' / 'The city ...' sentences get the actor of the sentences before them.
    ``catalogue``: the curator's overrides in it win."""
    from .catalogue import label_passage
    from .extraction import classify_statement

    cache: dict[str, list] = {}
    out = []
    for s in chosen:
        p = s.hit.passage
        if p.passage_id not in cache:
            cache[p.passage_id] = label_passage(p)
        labels = cache[p.passage_id]
        try:
            label = labels[p.sentences.index(s.text)]
        except ValueError:
            label = classify_statement(s.text, p.section_kind)
        if catalogue is not None:  # the curator's overrides win here too
            label = catalogue.relabel(p.source, s.text, label)
        out.append(label)
    return out


def _compose_grouped(chosen: list[ScoredSentence], catalogue=None) -> tuple[str, list[Citation]] | None:
    from .taxonomy import level_name

    labels = statement_labels(chosen, catalogue)
    if not any(label.kind for label in labels):
        return None
    groups: dict[str, list[tuple[ScoredSentence, object]]] = {GROUP_DONE: [], GROUP_RECOMMEND: [], GROUP_OTHER: []}
    for s, label in zip(chosen, labels):
        key = GROUP_DONE if label.kind == "practice" else GROUP_RECOMMEND if label.kind == "recommendation" else GROUP_OTHER
        groups[key].append((s, label))
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    blocks: list[str] = []
    for heading, items in groups.items():
        if not items:
            continue
        lines = [heading]
        for s, label in items:
            n = citation_for(s.hit.passage, numbers, citations)
            if heading != GROUP_OTHER and label.level:
                name = level_name(label.level)
                lines.append(f"- *{name[:1].upper() + name[1:]}:* {s.text} [{n}]")
            else:
                lines.append(f"- {s.text} [{n}]")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks), citations


_ACTOR_QUESTION = re.compile(
    r"\b(?:how|what|which \w+) (?:can|could|should|might|may|must) ((?:\w[\w’'-]*,? ){1,6})", re.I
)


def question_levels(question: str) -> set[str]:
    """The level of government a question asks *for* ("How can an origin-country municipality
    ...", "What could we, as a national ministry, do ..."): the actor after 'how/what can ...'.
    A level merely mentioned as context ("In German cities ... what do the reports suggest?")
    does not count."""
    from .extraction import levels_named

    m = _ACTOR_QUESTION.search(question)
    return set(levels_named(m.group(1))[:1]) if m else set()


def prefer_statements(
    scored: list[ScoredSentence], question: str = "", bonus: float = 0.0, level_bonus: float = 0.25,
    min_sim: float = 0.5, catalogue=None,
) -> list[ScoredSentence]:
    """For grouped answers to "how can <actor> ..." questions: raise the practices and
    recommendations of the level the question asks for (half as much for a related level, e.g. an
    origin region for an origin municipality; ``bonus`` for any labelled sentence) so that
    ``select`` picks them; returns a re-sorted copy. Only sentences at least ``min_sim`` similar to
    the question are raised. No effect when the question names no level.
    (On evals/dev_questions.jsonl, grouping with this preference leaves every metric unchanged.)"""
    from dataclasses import replace

    from .extraction import RELATED_LEVELS

    if not scored:
        return []
    labels = statement_labels(scored, catalogue)
    wanted = question_levels(question) if question else set()
    # a raised sentence may climb to the top but not above the best original score: ``select``
    # keeps sentences relative to the best one, and a higher ceiling would cut the others
    ceiling = max(s.score for s in scored)
    related = {r for w in wanted for r in RELATED_LEVELS.get(w, ())}
    out = []
    for s, label in zip(scored, labels):
        extra = 0.0
        if label.kind and label.level and s.sim >= min_sim:
            extra += bonus
            if label.level in wanted:
                extra += level_bonus
            elif label.level in related:
                extra += level_bonus / 2
        out.append(replace(s, score=min(ceiling, s.score + extra)) if extra else s)
    out.sort(key=lambda s: s.score, reverse=True)
    return out


def add_catalogue_recommendations(
    chosen: list[ScoredSentence], question: str, qvec: np.ndarray, index: LoadedIndex, catalogue,
    max_sentences: int, min_sim: float = 0.5, limit: int = 2,
) -> list[ScoredSentence]:
    """For a "how can / what should <level> ..." question whose chosen sentences hold no
    recommendation: bring in the catalogue's recommendations addressed to that level that are
    close to the question (cosine >= ``min_sim``), even from passages retrieval ranked lower.
    They replace the weakest sentences that are neither practice nor recommendation."""
    if catalogue is None or not chosen:
        return chosen
    wanted = question_levels(question)
    labels = statement_labels(chosen, catalogue)
    if not wanted or any(label.kind == "recommendation" for label in labels):
        return chosen
    from .retrieval import Hit

    position = {p.passage_id: i for i, p in enumerate(index.passages)}
    have = {c.text for c in chosen}
    extra: list[ScoredSentence] = []
    for level in wanted:
        for record in catalogue.filter(kind="recommendation", level=level):
            i = position.get(record.passage_id)
            if i is None or record.statement in have or record.statement not in index.passages[i].sentences:
                continue
            row = index.sentence_rows(i)[index.passages[i].sentences.index(record.statement)]
            sim = float(index.sentence_vectors[row] @ qvec)
            if sim >= min_sim:
                p = index.passages[i]
                hit = Hit(i, p, 0.0, float(index.passage_vectors[i] @ qvec), None, None)
                extra.append(ScoredSentence(len(chosen), hit, row, record.statement, sim, sim, 0.0))
    extra = sorted(extra, key=lambda x: x.score, reverse=True)[:limit]
    if not extra:
        return chosen
    out = list(chosen)
    weakest_other = sorted((k for k, label in enumerate(labels) if not label.kind), key=lambda k: out[k].score)
    for new in extra:
        if len(out) < max_sentences:
            out.append(new)
        elif weakest_other:
            out[weakest_other.pop(0)] = new
    return out


def compose(chosen: list[ScoredSentence], grouped: bool = False, catalogue=None) -> tuple[str, list[Citation]]:
    """Markdown bullets grouped by report (in order of relevance), each sentence cited.

    ``grouped`` (for "how can ..." / "what should ..." questions): the sentences go under
    "What has been done" (practices) and "What the reports recommend" (recommendations), each
    bullet naming the acting level ("- *Origin-country municipality:* <sentence> [2]"); sentences
    that are neither follow under "Also in the reports".  When no chosen sentence is a practice or
    a recommendation the plain layout is used."""
    if grouped and chosen:
        out = _compose_grouped(chosen, catalogue)
        if out is not None:
            return out
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
            n = citation_for(s.hit.passage, numbers, citations)
            lines.append(f"- {s.text} [{n}]")
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
