"""Does a sentence give the count that a "how many X / how much X" question asks for?

A figure answers "How many refugees were housed ...?" only when it counts refugees ("13 Greek
municipalities", "72 cities": the number stands a few words before the counted noun), and "How
much money ...?" only with an amount of money. Without this check any number near the topic (a
date, a vote count) passes for the figure asked for.
"""

from __future__ import annotations

import re

_HOW = re.compile(r"\bhow\s+(many|much)\s+(.+)", re.I)
_STOP = re.compile(
    r"\b(?:did|do|does|were|was|are|is|has|have|had|will|would|can|could|should|in|for|from|to|with|by|on|at|"
    r"under|after|before|since|between|per|each|every|that|which|who|belong|exist|live|took|take)\b|[,?.;:]",
    re.I,
)
_WHAT_AMOUNT = re.compile(r"\b(?:what|which)\s+(?:\w+\s+)?(?:budget|amount of (?:money|funding)|sum)\b", re.I)
_YEAR = re.compile(r"(?:19|20)\d\d")
_MONEY_HEAD = {"money", "funding", "funds", "fund", "budget", "financing", "euros", "dollars", "spending"}
_MONEY = re.compile(r"€|\$|£|\b(?:EUR|USD|euros?|dollars?|million|billion)\b", re.I)
_NUMBER = re.compile(
    r"(?:\d[\d,.]*(?:-\w+)?|(?:one|two|three)-(?:third|quarter|half)s?|half|one|two|three|four|five|six|seven|eight|nine|"
    r"ten|eleven|twelve|dozens?|hundreds?|thousands?|several|many)",
    re.I,
)


def counted_noun(question: str) -> str | None:
    """'refugees' for 'How many refugees were housed ...', 'money' for 'How much AMIF money ...' or
    'What budget did ...'."""
    if _WHAT_AMOUNT.search(question):
        return "budget"
    m = _HOW.search(question)
    if not m:
        return None
    rest = re.sub(r"^(?:of\s+the\s+|of\s+)", "", m.group(2), flags=re.I)
    stop = _STOP.search(rest)
    phrase = rest[: stop.start()] if stop else rest
    words = [w.lower() for w in re.findall(r"[A-Za-z][\w'-]*", phrase)]
    plural = [w for w in words if w.endswith("s") and not w.endswith(("'s", "ss")) and len(w) > 3]
    return plural[0] if plural else (words[-1] if words else None)


def gives_count(sentence: str, noun: str) -> bool:
    """A figure of ``noun``: a number within five words before a word of the same stem, or, for
    money, an amount."""
    if noun in _MONEY_HEAD:
        return bool(_MONEY.search(sentence))
    stem = noun[:5]
    toks = re.findall(r"[\w'-]+|[^\w\s]", sentence.lower())
    for i, t in enumerate(toks):
        if _NUMBER.fullmatch(t) and not _YEAR.fullmatch(t) and any(w.startswith(stem) for w in toks[i + 1 : i + 6]):
            return True
    return False
