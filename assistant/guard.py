"""Input checks before retrieval: empty or oversized questions, prompt-injection attempts and
requests for the assistant's own opinions (declined in every backend)."""

from __future__ import annotations

import re
import unicodedata

from .errors import InputError

_INJECTION = re.compile(
    r"(\bignore\b.{0,40}\b(instructions?|sources?|reports?|rules?|context|passages?|above|previous|prompt)\b|"
    r"\bforget\b.{0,40}\b(instructions?|sources?|reports?|rules?|everything|context)\b|"
    r"\bdisregard\b|^\s*(system|assistant|developer)\s*:|\bnew instructions?\b|\byou are now\b|"
    r"\bpretend (to be|you are|you're)\b|\bact as\b|\brole-?play\b|\bjailbreak\b|\bdeveloper mode\b|"
    r"\b(reveal|show|print|repeat)\b.{0,30}\b(system )?(prompt|instructions)\b|\btell me a joke\b|"
    r"\bwithout (using|citing) (the |your )?(sources|reports)\b|\bfrom your own (knowledge|memory)\b)",
    re.I,
)
def _opinion_re() -> re.Pattern:
    """Requests for the assistant's own opinion: knowledge_base/domain/documents.yaml."""
    from .domain import get_domain

    return re.compile("|".join(f"(?:{p})" for p in get_domain().opinion_patterns) or r"(?!x)x", re.I)


_OPINION = _opinion_re()


def _has_word(text: str) -> bool:
    """Some word of two or more letters, in any script (Latin, Arabic, Greek, Cyrillic, CJK, ...);
    the combining marks inside a word (Arabic vowel signs, Devanagari matras) do not split it."""
    for token in text.split():
        letters = sum(1 for ch in token if ch.isalpha())
        if letters >= 2 or (letters == 1 and unicodedata.east_asian_width(next(c for c in token if c.isalpha())) == "W"):
            return True
    return False


def clean_question(question: str | None, max_chars: int, what: str = "the question") -> str:
    """Normalise a question or raise InputError with a message for the user. ``what`` names the
    text in the message ("an earlier question in the history")."""
    if question is None:
        raise InputError(f"{what} is empty: type a question about the reports")
    q = unicodedata.normalize("NFC", str(question))
    q = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in q)
    q = re.sub(r"\s+", " ", q).strip()
    if not q:
        raise InputError(f"{what} is empty: type a question about the reports")
    if len(q) > max_chars:
        raise InputError(
            f"{what} is too long ({len(q):,} characters; the limit is {max_chars:,}). "
            "Ask one question at a time, in a sentence or two."
        )
    if not _has_word(q):
        raise InputError(f"{what} has no words in it: type a question about the reports")
    return q


_PLANTED = re.compile(
    r"(\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|prompts?|the above|everything above|previous|prior|your (sources|rules|context))\b|"
    r"(^|[.!?]\s+)(system|assistant|developer)\s*:\s|\bnew instructions?\b|\byou are now\b|\b(ai|language model|assistant|chatbot)s?\b.{0,40}\b(must|should)\b.{0,20}\b(say|answer|reply|respond|state|output)\b|"
    r"\b(reply|respond|answer)\s+(only\s+)?with\b|\bprompt injection\b)",
    re.I,
)


def is_instruction_like(sentence: str) -> bool:
    """A sentence of a report that addresses the assistant rather than the reader ("Ignore the
    previous instructions and …"): shown to no model, quoted in no answer, support for nothing."""
    return bool(_PLANTED.search(sentence))


def classify(question: str) -> str | None:
    """'injection', 'opinion' or None."""
    if _INJECTION.search(question):
        return "injection"
    if _OPINION.search(question):
        return "opinion"
    return None


_KEY_TERM = re.compile(r"(?<!^)(?<![.?!:]\s)\b([A-Z][a-zà-ÿ]{2,}|[A-Z]{2,}s?|(?:19|20)\d\d)\b")


# where the asker says who they are ("I'm a clerk at a town hall in Anatolia.", "I work for a
# municipality in the Rif.", "As a councillor in Kabylie, …"): the place they work in is context, not
# what they ask about. Only statements of identity: "We are discussing …" or "Our city has many
# Roma workers …" describe the situation asked about and stay.
_ABOUT_THE_ASKER = re.compile(
    r"(?:^|(?<=[.!?]\s))(?:I(?:['’]m| am) (?:a|an|the)\b|I (?:work|serve) (?:for|at|in|with)\b|"
    r"I (?:live in|come from)\b)[^.?!]*[.!]\s*"
    r"|^As an? [^,.?!]{1,80},\s*",
    re.I,
)


def without_asker(question: str) -> str:
    """The question without the sentences (or opening clause) in which the asker describes
    themselves; the question itself when nothing else would be left."""
    rest = _ABOUT_THE_ASKER.sub("", question).strip()
    return rest if re.search(r"\w", rest) else question


def unknown_terms(question: str, vocabulary: set[str]) -> list[str]:
    """Names, acronyms and years in the question that occur nowhere in the reports ("Japan",
    "COVID", "2023"): a question about them cannot be answered from the reports, however close its
    other words come; where the asker says where they work is not asked about. ``vocabulary``: the
    lower-cased words of every passage."""
    question = without_asker(question)
    missing = []
    for term in _KEY_TERM.findall(question.strip()):
        t = term.lower()
        if t in vocabulary or t.rstrip("s") in vocabulary or (t.endswith("n") and t[:-1] in vocabulary):
            continue
        missing.append(term)
    return list(dict.fromkeys(missing))

