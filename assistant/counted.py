"""Does a sentence give the count that a "how many X / how much X" question asks for?

A figure answers "How many refugees were housed ...?" only when it counts refugees ("13 Greek
municipalities", "72 cities": the number stands a few words before the counted noun), and "How
much money ...?" only with an amount of money. Without this check any number near the topic (a
date, a vote count) passes for the figure asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .domain import get_domain
from .text import name_key

_HOW = re.compile(r"\bhow\s+(many|much)\s+(.+)", re.I)
_STOP = re.compile(
    r"\b(?:did|do|does|were|was|are|is|has|have|had|will|would|can|could|should|in|for|from|to|with|by|on|at|"
    r"under|after|before|since|between|per|each|every|that|which|who|belong|exist|live|took|take)\b|[,?.;:]",
    re.I,
)
_WHAT_AMOUNT = re.compile(r"\b(?:what|which)\s+(?:\w+\s+)?(?:budget|amount of (?:money|funding)|sum)\b", re.I)
_YEAR = re.compile(r"(?:19|20)\d\d")
# where the noun phrase a number opens ends: "ten elements | of the …"
_NOUN_PHRASE_END = frozenset({"of", "in", "from", "to", "with", "by", "at", "for", "on", "between", "among", "across",
                              "into", "within", "over", "under", "per", "than", "the", "a", "an", "that", "which",
                              "who", "whose", ",", ";", ":", ".", "(", ")"})
_PARTITIVE = frozenset({"of", "the", "its", "their", "these", "those"})
_MONEY_HEAD = {"money", "funding", "funds", "fund", "budget", "financing", "euros", "dollars", "spending"}
_MONEY_VERB = re.compile(
    r"\b(?:spen[dt]|spending|costs?|pa(?:y|ys|id)|receiv\w*|gets?|got|gave|giv(?:e|es|en)|grant\w*|invest\w*|"
    r"allocat\w*|fund(?:s|ed)?|budget\w*|earn\w*)\b",
    re.I,
)
_TOTAL = re.compile(r"\b(?:in total|total|altogether|all together|overall|combined|in all|all in all)\b", re.I)
# an amount that is a most, or a rate per unit: "up to 70,000 euros", "… euros per partnership"
_CAP = re.compile(r"\b(?:up to|maximum of|max\.|at most|no more than|as much as|not exceeding)\s*\S*$", re.I)
_PER_UNIT = re.compile(
    r"^[^.;]{0,60}?\b(?:per|each|apiece|a head|for every|for each)\b(?!\s+(?:year|annum|month|week|day)\b)", re.I)
_MONEY = re.compile(r"€|\$|£|\b(?:EUR|USD|euros?|dollars?|million|billion)\b", re.I)
_NUMBER = re.compile(
    r"(?:\d[\d,.]*(?:-\w+)?|(?:one|two|three)-(?:third|quarter|half)s?|half|one|two|three|four|five|six|seven|eight|nine|"
    r"ten|eleven|twelve|dozens?|hundreds?|thousands?|several|many)",
    re.I,
)


def counted_noun(question: str) -> str | None:
    """'refugees' for 'How many refugees were housed ...', 'money' for 'How much AMIF money ...',
    'How much did the ministry spend ...' or 'What budget did ...'."""
    if _WHAT_AMOUNT.search(question):
        return "budget"
    m = _HOW.search(question)
    if not m:
        return None
    rest = re.sub(r"^(?:of\s+the\s+|of\s+)", "", m.group(2), flags=re.I)
    stop = _STOP.search(rest)
    phrase = rest[: stop.start()] if stop else rest
    words = [w.lower() for w in re.findall(r"[A-Za-z][\w'-]*", phrase)]
    if not words and m.group(1).lower() == "much" and _MONEY_VERB.search(rest):
        return "money"  # "How much did the ministry spend …?", "How much does the state pay …?"
    plural = [w for w in words if w.endswith("s") and not w.endswith(("'s", "ss")) and len(w) > 3]
    return plural[0] if plural else (words[-1] if words else None)


def asks_total(question: str) -> bool:
    """Does the question ask for a total ("In total, how much …", "… altogether?")?"""
    return bool(_TOTAL.search(question))


def _whole_amount(sentence: str) -> bool:
    """Does the sentence give an amount of money that is not a most ("up to 70,000 euros") nor a rate
    per unit ("… per project period", "each")? Either can answer "how much", never "how much in total"."""
    for m in _MONEY.finditer(sentence):
        before = sentence[max(0, m.start() - 30): m.start()]
        after = sentence[m.end(): m.end() + 80]
        if not _CAP.search(before) and not _PER_UNIT.search(after):
            return True
    return False


def gives_count(sentence: str, noun: str, total: bool = False) -> bool:
    """A figure of ``noun``: a number within five words before a word of the same stem or a noun of
    the same kind (``Domain.same_kind``: "134 municipalities" counts towns), in its own noun phrase
    ("ten elements of the Intercultural Cities …" counts elements, not cities), or, for money, an
    amount (with ``total``, one that is neither a most nor a rate per unit)."""
    if noun in _MONEY_HEAD:
        return _whole_amount(sentence) if total else bool(_MONEY.search(sentence))
    stem = noun[:5]
    kin = [tuple(n.split()) for n in get_domain().same_kind(noun)[1:]]
    toks = re.findall(r"[\w'-]+|[^\w\s]", sentence.lower())
    for i, t in enumerate(toks):
        if not _NUMBER.fullmatch(t) or _YEAR.fullmatch(t):
            continue
        begin = i + 1
        while begin < len(toks) and toks[begin] in _PARTITIVE:  # "one-third of the members", "dozens of towns"
            begin += 1
        end = next((j for j in range(begin, min(i + 6, len(toks))) if toks[j] in _NOUN_PHRASE_END), i + 6)
        if any(w.startswith(stem) for w in toks[begin:end]):
            return True
        if any(tuple(toks[j : j + len(k)]) == k for k in kin for j in range(begin, end)):
            return True
    return False


# "What is the [annual] budget of the Urban Partnership on Inclusion?", "What is the unemployment rate among
# Moroccan migrants in the Netherlands?", "What share of Munich's population …?": a measure asked *of* something
_MEASURE = re.compile(
    r"\b(?:what|which)\s+(?:(?:is|was|are|were|has been)\s+)?(?:the\s+)?((?:[\w'-]+\s+){0,3}?)"
    r"(budget|rate|share|proportion|percentage|number|amount|cost|costs|total|figure|sum|funding|spending|size)"
    r"\s+(?:of|among|for|in|on)\s+(.+)",
    re.I,
)
_MONEY_MEASURE = {"budget", "amount", "cost", "costs", "sum", "funding", "spending"}
_SHARE_MEASURE = {"rate", "share", "proportion", "percentage"}
_GENERIC_MODIFIERS = {"annual", "yearly", "monthly", "total", "overall", "average", "current", "exact", "estimated",
                      "approximate", "same", "actual", "real", "official", "typical", "the", "a", "an"}
_SUBJECT_END = re.compile(
    r"[,?.;:!]|\b(?:did|do|does|were|was|are|is|has|have|had|will|would|can|could|should|in|at|during|after|before|"
    r"since|between|per|each|that|which|who|when|where|according|compared|from|to|with|by|under|over)\b",
    re.I,
)
_SHARE = re.compile(r"%|\bper\s?cent\b|\bpercent\b|\b(?:half|third|quarter|fifth|tenth)s?\b", re.I)
_FIGURE = re.compile(r"\b\d[\d,.]*\b")
_FILLER = {"the", "a", "an", "of", "on", "for", "and", "its", "their", "his", "her", "all", "any", "this", "that"}


@dataclass(frozen=True)
class MeasuredSubject:
    """What a "what is the <measure> of <subject>" question measures: the kind of measure and the
    words that name what it is measured of (its modifier and its subject)."""

    measure: str
    terms: tuple[str, ...]
    modifiers: tuple[str, ...] = ()  # "unemployment" in "the unemployment rate of …": must be named

    @property
    def needed(self) -> int:
        """How many of ``terms`` a sentence giving the figure must name: half of them, at most two."""
        return min(2, (len(self.terms) + 1) // 2)


def measured_subject(question: str) -> MeasuredSubject | None:
    """``MeasuredSubject('budget', ('urban', 'partnership', 'inclusion'))`` for "What is the annual budget of
    the Urban Partnership on Inclusion?"; None when the question asks no measure *of* something."""
    m = _MEASURE.search(question)
    if not m:
        return None
    modifier = [w for w in re.findall(r"[A-Za-z][\w'-]*", m.group(1)) if w.lower() not in _GENERIC_MODIFIERS]
    rest = m.group(3)
    stop = _SUBJECT_END.search(rest)
    end = stop.start() if stop else len(rest)
    words = modifier + re.findall(r"[A-Za-z][\w'-]*", rest[:end])
    terms = []
    for w in words:
        w = name_key(w)
        if w not in _FILLER and len(w) > 2 and w not in terms:
            terms.append(w)
    if not terms:
        return None
    mods = tuple(t for t in terms if t in {name_key(w) for w in modifier})
    return MeasuredSubject(m.group(2).lower(), tuple(terms), mods)


def gives_figure_of(sentence: str, subject: MeasuredSubject, context: str = "") -> bool:
    """Does ``sentence`` give the figure ``subject`` asks for: an amount of money for a budget, a share
    for a rate, a number (not a year) otherwise — and does it (or ``context``, the sentence before it)
    name what the figure is of?"""
    if subject.measure in _MONEY_MEASURE:
        figure = bool(_MONEY.search(sentence))
    elif subject.measure in _SHARE_MEASURE:
        figure = bool(_SHARE.search(sentence)) and bool(_FIGURE.search(sentence) or _NUMBER.search(sentence))
    else:
        figure = any(not _YEAR.fullmatch(n.rstrip(",.")) for n in _FIGURE.findall(sentence))
    if not figure:
        return False
    text = f"{context} {sentence}".lower()
    named = {t for t in subject.terms if re.search(rf"\b{re.escape(t[:5])}", text)}
    if subject.modifiers and not named & set(subject.modifiers):
        return False
    return len(named) >= subject.needed
