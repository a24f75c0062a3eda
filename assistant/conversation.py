"""Follow-up questions -> standalone queries, without an LLM.

An elliptical or pronoun-laden question ("And what did they recommend for funding?", "What
about the Netherlands?") inherits the named entities and topic words of the earlier turns; a
question that already stands alone is kept as it is."""

from __future__ import annotations

import re

from .models import ReportMeta
from .retrieval import detect_reports
from .text import STOPWORDS, QUESTION_NOISE, words

_ANAPHORA = re.compile(
    r"\b(they|them|their|theirs|it|its|this|that|these|those|there|he|she|his|her|same|also|too|such|"
    r"former|latter|above|mentioned|aforementioned|else|other|others|another|more|further)\b|"
    r"^\s*(and|but|so|or|what about|how about|and what|what else|any other|why|how so)\b",
    re.I,
)
_GENERIC = frozenset(
    """what which how why who where when did does do is are was were can could should would about and
    else more other others also too any there they them their it its this that these those recommend
    recommended recommendation recommendations example examples say said mention happen happened""".split()
)


def _entities(text: str) -> list[str]:
    """Capitalised names and acronyms (not the first word of the question)."""
    tokens = re.findall(r"[A-ZÀ-Ý][\w’'-]*(?:\s+(?:of|de|the|and|for)?\s*[A-ZÀ-Ý][\w’'-]*)*", text)
    first = re.match(r"\s*([A-Za-zÀ-ÿ’'-]+)", text)
    out = []
    for t in tokens:
        t = t.strip()
        if first and t == first.group(1):
            continue
        if t.lower() in STOPWORDS or t.lower() in _GENERIC:
            continue
        out.append(t)
    return out


def _topic_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and w not in QUESTION_NOISE and w not in _GENERIC and len(w) > 2]


def needs_context(question: str, reports: list[ReportMeta]) -> bool:
    content = _topic_words(question)
    if detect_reports(question, reports) and len(content) >= 3:
        return False
    if _ANAPHORA.search(question):
        return True
    return len(content) <= 4


def condense(question: str, history: list[str], reports: list[ReportMeta], max_turns: int = 6) -> str:
    """The standalone form of ``question`` given the earlier questions (oldest first)."""
    history = [h for h in history if h and h.strip()][-max_turns:]
    if not history or not needs_context(question, reports):
        return question
    carried: list[str] = []
    seen = {w.lower() for w in words(question)}
    # the most recent turn first: its entities and topic words matter most
    for turn in reversed(history):
        names = ([_report_phrase(turn, reports)] if detect_reports(turn, reports) else []) + _entities(turn)
        for name in names:
            parts = set(words(name))
            if name and parts and not parts <= seen:
                carried.append(name)
                seen |= parts
        for w in _topic_words(turn):
            if w not in seen:
                carried.append(w)
                seen.add(w)
        if len(carried) >= 12:
            break
    if not carried:
        return question
    return f"{question} ({' '.join(carried[:14])})"


def _report_phrase(turn: str, reports: list[ReportMeta]) -> str:
    sources = detect_reports(turn, reports)
    for meta in reports:
        if meta.source in sources:
            for alias in meta.aliases:
                if alias.lower() in turn.lower():
                    return alias
    return ""

