"""Shared lexical helpers: tokenising for BM25 and overlap scores, stop words, stemming."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"[0-9a-zà-ÿ]+(?:[-'][0-9a-zà-ÿ]+)*")
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    may might must shall us via per upon within without among across whether yet still e.g i.e etc
    tell say says said give please want know like one two new use used using well way ways make made s
    """.split()
)
# question words that carry no content for retrieval
QUESTION_NOISE = frozenset(
    """report reports study brief chapter paper document say says said mention mentions mentioned
    according describe described explain discuss discussed example examples kind kinds
    recommend recommends recommended recommendation recommendations advise advice suggest suggests""".split()
)


@lru_cache(maxsize=1)
def _stemmer():
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    text = text.lower().replace("’", "'").replace("‘", "'")
    out: list[str] = []
    for w in _WORD.findall(text.replace("'s ", " ")):
        out.extend(part for part in w.replace("'", "").split("-") if part)
    return out


# bump when the tokens change: the BM25 index stores them (assistant/index.py puts it in the signature)
TEXT_VERSION = 2


@lru_cache(maxsize=1)
def _american() -> dict[str, str]:
    """British spellings and their American forms (1,730 pairs from breame): reports and askers mix
    "organisation" and "organization", "labour" and "labor", "programme" and "program"."""
    from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

    return BRITISH_ENGLISH_SPELLINGS


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The stem of a lower-case word, one for both spellings of a word with British and American forms."""
    return _stemmer().stemWord(_american().get(word, word))


_CAPITALISED = re.compile(r"\b[A-ZÀ-Ý][\w’'-]+")


_POSSESSIVE = re.compile(r"[’']s?$")


def name_key(word: str) -> str:
    """A word as a name is compared: lower case, without a possessive ("Ankara's" -> "ankara")."""
    return _POSSESSIVE.sub("", word).lower()


def inner_names(text: str) -> list[tuple[str, ...]]:
    """The names ``text`` carries, each run of capitalised words as one, its words lower case and
    without possessives (("intercultural", "cities"), ("germany", "national", "integration", "plan")).
    A lone capital that opens a sentence is no name, nor is an opening question word ("Which EU …");
    another that opens a run is ("Intercultural Cities have …")."""
    runs: list[tuple[int, list[str]]] = []
    last_end = -2
    for m in _CAPITALISED.finditer(text):
        if runs and text[last_end : m.start()] == " ":
            runs[-1][1].append(m.group(0))
        else:
            runs.append((m.start(), [m.group(0)]))
        last_end = m.end()
    out = []
    for start, run in runs:
        if _opens_sentence(text, start):  # "Which EU …", "Did Intercultural Cities …"
            run = run[1:] if len(run) == 1 or run[0].lower() in STOPWORDS else run
        if run:
            out.append(tuple(name_key(w) for w in run))
    return out


def inner_capitalised(text: str) -> list[str]:
    """The capitalised words of ``text`` inside its sentences, as written: the names a question
    carries ("Bern", "Ankara's"); the capital that opens it, or opens a later sentence of it
    ("… language classes. Has any city done that?"), is no sign of a name."""
    return [m.group(0) for m in _CAPITALISED.finditer(text) if not _opens_sentence(text, m.start())]


def _opens_sentence(text: str, start: int) -> bool:
    """Does the word at ``start`` open ``text`` or one of its sentences (quotes and brackets aside)?"""
    before = text[:start].rstrip(" \t“\"‘'(")
    return not before or before[-1] in ".?!\n"


def content_terms(text: str, extra_stop: frozenset[str] = frozenset()) -> list[str]:
    """Stemmed content words (stop words removed), in order, duplicates kept."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and w not in extra_stop and len(w) > 1]


def bm25_tokenize(texts: list[str]) -> list[list[str]]:
    return [content_terms(t) for t in texts]


# an institution as a report's author ("European Economic and Social Committee"), not a person
ORGANISATION = re.compile(
    r"\b(?:Committee|Commission|Agency|Office|Union|Ministry|Institute|Organi[sz]ation|Council|Centre|Center|"
    r"Foundation|Network|Department|Parliament|Government|University|Association|Programme|Bank|Forum)\b"
)


def author_names(authors: str) -> list[str]:
    """The names by which a report's authors are cited: the surnames of people ("Anne-Linde Joki and
    Alexander Wolffhardt" -> ["Joki", "Wolffhardt"]), an institution whole (up to a ";")."""
    if ORGANISATION.search(authors or ""):
        return [re.split(r";", authors)[0].strip()]
    people = [a.strip() for a in re.split(r",|;|\band\b|&", authors or "") if a.strip()]
    return [p.split()[-1] for p in people if p.split()]

