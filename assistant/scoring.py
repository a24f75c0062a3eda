"""The score stage: every sentence of the retrieved passages gets features and a probability of
carrying a fact the question asks for.

The probability is a logistic model over features that describe *kinds* of sentences, never a
sentence of a report: how close the sentence is to the question (embedding cosine, idf-weighted
coverage of the question's terms), where it stands (the rank of its passage, its place next to
the passage's best sentence), what facts it carries that the question does not already name
(names, acronyms, numbers, years, quoted titles) and whether they are the kind of fact asked for
(a number for "how many", a name for "which city"), and what makes a sentence a poor quote
(a meta sentence about the report itself, a bibliography line, a heading fragment). The weights
live in ``Settings.scoring.weights``; ``python -m evals.fit_answer_model`` fits them on the tuning
half of the dev set and reports the held-out half.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from .domain import get_domain
from .extraction import countries_named
from .models import Hit, QueryAnalysis, ScoredSentence
from .settings import ScoringSettings
from .text import QUESTION_NOISE, content_terms, stem, words

_NUMBER = re.compile(
    r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.,/-])\d+(?:\.\d+)?(?:\s?(?:%|per ?cent))?(?![\w])"
)
_YEAR = re.compile(r"^(?:1[89]|20)\d\d$")
_AMOUNT_WORD = re.compile(  # "four different municipalities", not the "Ten" of "Ten-Point-Plan"
    r"(?<![\w-])(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"hundreds?|thousands?|millions?|billions?|dozens?)(?![\w-])",
    re.I,
)
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]{1,9}s?\b")
_TOKEN = re.compile(r"[A-Za-zÀ-ÿ][\w’'-]*")
_QUOTED = re.compile(r"[“\"‘]([^”\"’]{3,80})[”\"’]")

META = re.compile(
    r"\b(?:this|the present|our|the following) (?:policy brief|brief|report|chapter|paper|study|section|publication|"
    r"review|analysis|volume|book)\b|^(?:chapter|section|part) \d|\b(?:chapter|section|part) \d+ "
    r"(?:summari[sz]es|describes|discusses|presents|looks|examines|concludes|sets out|introduces)\b|"
    r"^(?:in the following|we (?:will|shall|first|then|now|turn|begin|conclude))\b",
    re.I,
)
# who made a report or project: "was commissioned by ODIHR", "is cofinanced by the European Union"
MADE_BY = re.compile(
    r"\b(?:co-?financed|co-?funded|commissioned|funded|financed|drafted|written|authored|edited|published|"
    r"implemented|sponsored)\s+(?:\w+\s+){0,3}?by\b",
    re.I,
)
BIBLIO = re.compile(
    r"\(\d{4}[a-z]?\)\s*:\s*\d|\((?:19|20)\d\d[a-z]?\),\s*[“\"‘]|^[A-Z][\w’'-]+,\s[A-Z][^.;:]{0,80}\((?:19|20)\d\d[a-z]?\)[,.]|\b\d{4}\)?\s*:\s*\d+(?:[–-]\d+)?\s*\.?$|\bpp?\.\s*\d|\bvol\.\s*\d|\bno\.\s*\d|"
    r"\bet al\.|\b(?:PhD thesis|working paper|retrieved from|accessed on|last accessed|ISBN|doi:|eds?\.\s*[,(]|op\.\s*cit\b)|\(eds?\.\)|"
    # a publisher's imprint: "(Paris: OECD Publishing, 2012)", "(Toronto: Knopf Canada, 2010)"
    r"\([A-Z][\w .’'-]{1,40}:\s[^():]{2,80},\s*(?:19|20)\d\d[a-z]?\)|"
    r"^\W*sources?\s*:|^\W*for (?:an overview|more|further|details|a discussion|a review|an analysis)\b[^.]{0,100}\bsee\s+[A-Z]|\bIbid\b|^\W*(?:see|cf\.)\s+[A-Z]|^\W*(?:interview|personal communication|email|e-mail)s? (?:with|by|from)\b",
    re.I,
)
# in a note, a sentence that ends with its publication details is a reference: "… perspectief van de G4
# (Association of Dutch Municipalities [VNG], 2012)." (in running text "(Smith et al., 2012)." is a citation)
_NOTE_REFERENCE_END = re.compile(r"\([^()]{3,160},\s*(?:19|20)\d\d[a-z]?\)\.?$")
# A sentence that opens with a connective needs the one before it. Words that are connectives only
# when a comma follows them ("So, ..." but "So far, ...", "Still, ..." but "Still today ...") need it.
CONNECTIVE = re.compile(
    r"^(?:(?:(?:thus|hence|therefore|however|moreover|furthermore|meanwhile|nevertheless|nonetheless|"
    r"consequently|accordingly|additionally|in addition|as a result|in turn|in this (?:way|regard|sense|context|"
    r"respect|case)|to this end|for this reason|in other words|on the other hand|by contrast|in contrast|"
    r"likewise|similarly|at the same time|in fact|above all|in sum|in short|after all|of course)\b,?|"
    r"(?:and|but|so|yet|also|instead|still|besides|first(?:ly)?|second(?:ly)?|third(?:ly)?|finally|lastly|"
    r"then|indeed|overall)\b,)\s+)+",
    re.I,
)
INNER_CONNECTIVE = re.compile(
    r"^[\w’'-]+(?: [\w’'-]+){0,2},\s+(?:however|therefore|thus|moreover|furthermore|in turn|nevertheless|though|"
    r"consequently|in addition|as a result|instead|in fact|too)\b,?",
    re.I,
)
ANAPHOR = re.compile(
    r"^(?:(?:then|now|later|today|since then|here|also|(?:in|since|by|until|from) (?:2\d{3}|1\d{3}))\b,?\s+)?"
    r"(?:it|its|they|their|them|this|these|those|such|he|she|his|her|the latter|the former|both|"
    r"the (?:city|town|municipality|region|country|state|programme|program|project|initiative|scheme|strategy|"
    r"partnership|network|office|centre|center|organi[sz]ation|fund|law|act|plan|platform|campaign|committee|"
    r"commission|body|council|charter|model|approach|study|report|agency|ministry|government|service|desk|"
    r"course|courses|policy|policies|framework|mechanism|tool|measure|agreement|contract|conference|group)\b"
    r"(?!\s+(?:of|in|for|that|which|who)\b))\b",
    re.I,
)
# "It is important to note that …", "It has become known that …", "It should be noted that …": an
# expletive "it" stands for the clause that follows, not for anything before
EXPLETIVE_IT = re.compile(
    r"^it\s+(?:(?:is|was|has\s+been|had\s+been|has\s+become|had\s+become|becomes|became|remains|would\s+be|will\s+be|"
    r"should\s+be|could\s+be|can\s+be|may\s+be|might\s+be|must\s+be)\s+"
    r"(?:(?:also|therefore|thus|often|now|not|very|more|most|\w+ly)\s+)*"
    r"(?:(?:important|essential|crucial|necessary|difficult|easy|hard|possible|impossible|worth|useful|helpful|"
    r"interesting|vital|advisable|common|rare|unusual|likely|unlikely|clear|striking|fair|reasonable|noteworthy|notable|"
    r"remarkable|surprising|evident|obvious|true)(?:\s+here)?\s+(?:that|to|whether|for|how|why)\b|"
    r"best\s+(?:if|to|that|when)\b|(?:yet\s+)?to\s+be\s+seen\b|"
    # a passive verb of saying or knowing takes "that" ("It is expected to open" is about something)
    r"(?:known|noted|argued|said|believed|expected|estimated|reported|assumed|recogni[sz]ed|agreed|decided|added|"
    r"mentioned|stressed|emphasi[sz]ed|to\s+be\s+\w+ed)(?:\s+here)?\s+that\b)|"
    r"(?:seems|seemed|appears|appeared)\s+(?:that|as\s+if)\b)",
    re.I,
)
# "In order to fulfil this role, ZAM ...", "Local authorities must utilise such links ...": a
# demonstrative noun phrase early in the sentence points back to the sentence before
# … or a demonstrative pronoun closes the opening phrase: "Reflecting this, …", "Despite this, …"
_EARLY_DEMONSTRATIVE = re.compile(
    r"^(?:[\w’'-]+,?\s+){0,7}(?:this|these|those|such)\s+(?!as\b|a\b|an\b|is\b|was\b|has\b|well\b|way\b)[a-z][\w-]+|"
    r"^(?:[\w’'-]+\s+){1,3}(?:this|these|those),|"
    # … or the sentence gives a reason for what the one before says: "One reason may be that …"
    r"^(?:one|another|a further|a second|a third|the main|the other)\s+(?:possible\s+)?(?:reason|explanation|cause)s?\s+"
    r"(?:may|might|could|is|are|was|lies)\b", re.I
)
# the flags of a sentence that needs the one before it (in its passage, or the passage it goes on from)
POINTS_BACK = frozenset({"anaphor", "connective", "demonstrative"})
DIRECTIVE = re.compile(
    r"\b(should|must|need(s|ed)? to|would do well|it is (\w+ly )?(important|essential|crucial|necessary|vital|advisable)|it is best (if|to|that)|ought to|"
    r"recommend\w*|is key|are key|requires?|call(s)? for|could be used|can help)\b",
    re.I,
)
_PAST_ACTION = re.compile(r"\b\w{3,}ed\b|\b(?:set up|ran|began|built|made|led|held|sent|paid|brought|won|gave|took)\b", re.I)
_EXAMPLE = re.compile(r"\b(for example|for instance|e\.g\.|such as|one such|an example|a case in point|including)\b", re.I)
CAUSE = re.compile(
    r"\b(because|due to|as a result|since|lack(?:s|ed|ing)? of|barriers?|obstacles?|hurdles?|challeng\w*|"
    r"problems?|difficult\w*|constrain\w*|limit\w*|reluctan\w*|shortage|insufficient|unable|tensions?|conflicts?|"
    r"critic\w*|bureaucra\w*|inflexib\w*|drawbacks?|downsides?|shortcomings?|weakness\w*|fail\w*|hamper\w*|"
    r"hinder\w*|imped\w*|complain\w*|unwilling\w*|unreliable|cuts?|risks?)\b",
    re.I,
)

# a sentence saying what role someone plays: "Another role played by many migrant organizations … is to
# link …", "organizations can play the role of broker", "… act as initiators, translators and facilitators"
ROLE = re.compile(
    r"\b(?:roles?|parts?)\b[^.]{0,60}\bplay(?:s|ed|ing)?\b|\bplay(?:s|ed|ing)? (?:a|an|the)\b[^.]{0,40}\b(?:roles?|parts?)\b|"
    r"\b(?:act|acts|acted|acting|serve|serves|served|serving|function|functions|functioned) as\b|"
    r"\bas (?:initiators?|brokers?|mediators?|facilitators?|intermediar\w+|links?|bridges?)\b",
    re.I,
)

# a sentence saying what something is for: "The objective of predeparture training is to provide …",
# "… which aim to encourage young diaspora members to visit India", "the city aims to turn schools …"
PURPOSE = re.compile(
    r"\b(?:aims?|aimed|aiming) (?:to|at)\b|\b(?:aim|goal|purpose|objective)s? (?:of|is|was|are|were)\b|"
    r"\b(?:intended|designed|meant) to\b(?! be\b)|\b(?:seeks?|sought|strives?|strived) to\b|\bin order to\b|"
    r"\bwith (?:the|a) (?:view|aim|goal|objective|purpose) (?:of|to)\b|\bso as to\b",
    re.I,
)

FEATURES: tuple[str, ...] = (
    "bias", "sim", "cov", "passage_dense", "rank_first", "rank_second", "rank_inverse", "passage_best_sim",
    "is_passage_best", "after_best_1", "after_best_2", "after_best_3", "before_best_1",
    "new_names", "new_acronym", "new_number", "new_year", "quoted_title",
    "asked_number", "asked_name", "asked_year", "asked_recommendation", "asked_reason",
    "anaphoric_start", "connective_start", "meta", "long", "footnote", "length", "past_action", "example_marker",
    "sim_rank_in_passage", "best_sim_before", "question_names", "rank_bm25_first", "rank_dense_first",
)


class IdfTable:
    """Inverse document frequency of stemmed content terms over the passages."""

    def __init__(self, passages):
        df: Counter[str] = Counter()
        for p in passages:
            df.update(set(content_terms(p.text)))
        self.n = max(1, len(passages))
        self.df = df

    def idf(self, term: str) -> float:
        return math.log(1 + self.n / (1 + self.df.get(term, 0)))

    def share(self, word: str) -> float:
        """The share of the passages that contain ``word`` (stemmed as content terms are)."""
        terms = content_terms(word)
        return max((self.df.get(t, 0) for t in terms), default=0) / self.n


class CaseTable:
    """Which words are names in this corpus: written with a capital inside sentences and (almost)
    never in lower case. A sentence-initial 'Nuremberg' is a name, a sentence-initial 'Many' is not."""

    def __init__(self, sentences_of_passages):
        lower: Counter[str] = Counter()
        upper: Counter[str] = Counter()
        for sentences in sentences_of_passages:
            for s in sentences:
                for i, m in enumerate(_TOKEN.finditer(s)):
                    w = _base(m.group(0))
                    if w[:1].islower():
                        lower[w.lower()] += 1
                    elif i > 0:
                        upper[w.lower()] += 1
        self.lower, self.upper = lower, upper

    def is_name(self, word: str) -> bool:
        word = _base(word)
        if not word[:1].isupper() or word.isupper():
            return False
        key = word.lower()
        lo, up = self.lower.get(key, 0), self.upper.get(key, 0)
        if lo + up == 0:
            return True
        return lo <= 0.1 * (lo + up) and up > 0


def _base(word: str) -> str:
    return word[:-2] if word.endswith(("’s", "'s")) else word.rstrip("’'")


def fact_tokens(text: str, case: CaseTable) -> dict[str, str]:
    """The facts a sentence carries: token -> 'number' | 'year' | 'acronym' | 'name' | 'quote'."""
    out: dict[str, str] = {}
    for m in _NUMBER.finditer(text):
        tok = m.group(0)
        out[tok.lower()] = "year" if _YEAR.match(tok) else "number"
    for m in _AMOUNT_WORD.finditer(text):
        out.setdefault(m.group(0).lower(), "number")
    for m in _ACRONYM.finditer(text):
        tok = m.group(0)
        out.setdefault((tok[:-1] if tok.endswith("s") and len(tok) > 3 else tok).lower(), "acronym")
    for m in _TOKEN.finditer(text):
        if case.is_name(m.group(0)):
            out.setdefault(_base(m.group(0)).lower(), "name")
    for m in _QUOTED.finditer(text):
        out.setdefault("“" + m.group(1).lower(), "quote")
    return out


# quotation marks: curly double, single opening a quote (after a space or bracket) and closing one
# (before a space, punctuation or the end: "migrants’ links" is an apostrophe that also reads so)
_SINGLE_OPEN = re.compile(r"(?:^|(?<=[\s(\[—–-]))‘")
_SINGLE_CLOSE = re.compile(r"’(?=[\s.,;:!?)\]…—–-]|$)")
_POSSESSIVE_S = re.compile(r"s’ [a-z]")


def quote_balance(text: str) -> int:
    """Quotations a sentence opens minus those it closes: > 0 when it opens one that goes on into
    the next sentence ("As the mayor put it, ‘It was obvious …."), < 0 when it closes one opened
    before."""
    balance = text.count("“") - text.count("”")
    # single quotes in order: a plural possessive ("emigrants’ political …") is no closing quote
    # unless a quotation is open ("the ‘new arrivals’ are …")
    marks = sorted([(m.start(), 1) for m in _SINGLE_OPEN.finditer(text)]
                   + [(m.start(), -1) for m in _SINGLE_CLOSE.finditer(text)])
    pending = 0
    for i, mark in marks:
        if mark > 0:
            pending += 1
        elif pending:
            pending -= 1
        elif not _POSSESSIVE_S.match(text, max(0, i - 1)):
            balance -= 1
    balance += pending
    if text.count('"') % 2:  # an odd straight quote: opening when it stands before a word
        i = text.rindex('"')
        opening = (i == 0 or text[i - 1] in " \t([") and text[i + 1 : i + 2].isalnum()
        balance += 1 if opening else -1
    return balance


def sentence_flags(text: str) -> frozenset[str]:
    """Kinds of sentence that matter for quoting (see ``compose``)."""
    t = text.strip()
    f: set[str] = set()
    if META.search(t):
        f.add("meta")
    if BIBLIO.search(t):
        f.add("biblio")
    if _MARKUP.search(t):
        f.add("markup")
    if len(t.split()) < 6:
        f.add("short")
    if t.endswith(":"):
        f.add("leadin")
    if not re.search(r"[.!?:;…”\"’)]\s*$", t):
        f.add("unterminated")
    if t.endswith("?"):
        f.add("question")
    if CONNECTIVE.match(t) or INNER_CONNECTIVE.match(t):
        f.add("connective")
    # ("This study was commissioned by …" speaks of the document, not of a sentence before it)
    document = bool(META.match(t))
    if ANAPHOR.match(t) and not EXPLETIVE_IT.match(t) and not document:
        f.add("anaphor")
    elif _EARLY_DEMONSTRATIVE.match(t) and not document:
        f.add("demonstrative")
    if len(t.split()) > 70:
        f.add("long")
    balance = quote_balance(t)
    if balance > 0:
        f.add("open_quote")
    elif balance < 0:
        f.add("close_quote")
    return frozenset(f)


# links, images, HTML and entities a report may carry (a quote is shown as Markdown): never quoted
_MARKUP = re.compile(
    r"https?://|www\.|(?<![\w:])//[\w-]+\.[\w.-]+|javascript:|data:\w+/|<\s*/?\s*[a-z][\w-]*[^>]*>|&#?\w+;|"
    r"!?\[[^\]]*\]\s*[\[(]|^\s*\[[^\]]+\]:",
    re.I,
)
UNQUOTABLE = frozenset({"biblio", "markup", "short", "unterminated", "question", "title"})
# where a sentence's closing reference clause starts: "…, KING project website, <http://…>."
_CLAUSE_BREAK = re.compile(r",\s+|;\s+|\s+\(|\s+<|\s+\[|:\s+")
# what is left of a reference-list entry once its link is cut: a cited title ('…Project", ISMU
# Foundation') or a closing year ('Milan, 2014')
_REFERENCE_HEAD = re.compile(r"[”\"]\s*,|\b(?:19|20)\d\d[a-z]?\)?\s*$|\bp{1,2}\.\s*\d+\s*$")


def trim_link_tail(text: str, min_words: int = 8, max_tail_words: int = 12) -> str | None:
    """The sentence without its closing reference clause when a link (or other markup) sits only
    there: "… case studies on Amsterdam, …, Turku and Warsaw, KING project website, <http://…>." gives
    "… case studies on Amsterdam, …, Turku and Warsaw, KING project website" (quoted with a trailing
    "…"). None when the sentence has no markup, when the markup is not in its last clause, or when
    what stays is too short to stand as a quote. The result is a prefix of ``text``, so it stands in
    the passage verbatim."""
    m = _MARKUP.search(text)
    if not m or len(text[m.end():].split()) > max_tail_words:
        return None
    cuts = [b.start() for b in _CLAUSE_BREAK.finditer(text, 0, m.start() + 1) if b.start() <= m.start()]
    if not cuts:
        return None
    head = text[: cuts[-1]].rstrip(" ,;:([<")
    if len(head.split()) < min_words or _MARKUP.search(head) or BIBLIO.search(head) or _REFERENCE_HEAD.search(head):
        return None
    return head


# "the Canada Ontario Immigration Agreement (COIA)", "the Dutch National Committee for International
# Cooperation and Sustainable Development (NCDO)": a name and the acronym a report then uses for it
_DEFINED_ACRONYM = re.compile(
    r"((?:[A-Z][\w’'-]*(?:\s+(?:of|for|and|on|in|the|to|de|du|des|la|le|van|voor|und|für))*\s+){1,8})\(([A-Z][A-Za-z&]{1,9})\)"
)


def defined_acronyms(texts) -> dict[str, frozenset[str]]:
    """Acronym -> the content terms of the name it stands for, from the texts where a report
    defines it ("… Immigration Agreement (COIA)"); the first definition wins. The name starts at
    the word whose initial is the acronym's first letter, and at least half the acronym's letters
    must be initials of its words, in order ("the city (2013)" or "Office (BAMF)" define nothing)."""
    out: dict[str, frozenset[str]] = {}
    for text in texts:
        for m in _DEFINED_ACRONYM.finditer(text):
            acronym = m.group(2)
            letters = [c for c in acronym.upper() if c.isalpha()]
            words_ = [w for w in m.group(1).split() if w[:1].isupper()]
            start = next((i for i, w in enumerate(words_) if w[0].upper() == letters[0]), None)
            if acronym in out or len(letters) < 2 or start is None:
                continue
            name = words_[start:]
            initials, found, k = [w[0].upper() for w in name], 0, 0
            for c in letters:  # the acronym's letters found, in order, among the initials
                if c in initials[k:]:
                    k, found = initials.index(c, k) + 1, found + 1
            if found * 2 < len(letters):
                continue
            out[acronym] = frozenset(content_terms(" ".join(name)))
    return out


class SentenceScorer:
    """Features and fact probability of every sentence of the retrieved passages."""

    def __init__(self, index, idf, settings: ScoringSettings | None = None):
        self.index = index
        self.idf = idf
        self.settings = settings or ScoringSettings()
        weights = self.settings.weights
        self.case = CaseTable(p.sentences for p in index.passages)
        self.weights = np.array([float(weights.get(name, 0.0)) for name in FEATURES], dtype=np.float64)
        self._facts: dict[int, dict[str, str]] = {}
        self._flags: dict[int, frozenset[str]] = {}
        self._named: dict[int, frozenset[str]] = {}
        # each report's acronyms and the names they stand for: "COIA was unique because …" covers a
        # question about "the Canada-Ontario immigration agreement"
        texts: dict[str, list[str]] = {}
        for p in index.passages:
            texts.setdefault(p.source, []).append(p.text)
        self.acronyms = {source: defined_acronyms(t) for source, t in texts.items()}
        self._acronym_pattern = {
            source: re.compile(r"\b(" + "|".join(map(re.escape, sorted(a, key=len, reverse=True))) + r")s?\b")
            for source, a in self.acronyms.items() if a
        }

    def named_terms(self, row: int, source: str, text: str) -> frozenset[str]:
        """The content terms of the names behind the acronyms a sentence uses (see ``defined_acronyms``)."""
        if row not in self._named:
            pattern = self._acronym_pattern.get(source)
            found = pattern.finditer(text) if pattern is not None else ()
            self._named[row] = frozenset().union(*(self.acronyms[source][m.group(1)] for m in found))
        return self._named[row]

    def facts(self, row: int, text: str) -> dict[str, str]:
        if row not in self._facts:
            self._facts[row] = fact_tokens(text, self.case)
        return self._facts[row]

    def flags(self, row: int, text: str) -> frozenset[str]:
        if row not in self._flags:
            self._flags[row] = sentence_flags(text)
        return self._flags[row]

    def score(self, analysis: QueryAnalysis, hits: list[Hit], qvec: np.ndarray,
              part_vectors: np.ndarray | None = None) -> list[ScoredSentence]:
        """Every sentence of the hits, scored against the question (and against each part of a
        compound question, whose ``part_vectors`` are given: ``ScoredSentence.parts``)."""
        focus = analysis.focus or analysis.text
        qterms = set(content_terms(focus, QUESTION_NOISE))
        qstems = {stem(w) for w in words(focus)}
        qlow = focus.lower()
        asks = analysis.asks
        idf = self.idf
        total = sum(idf.idf(t) for t in qterms)
        # a country the question names ("Swiss", "Italian cities") is covered by a sentence that names
        # a place in it ("Zurich (CH)", "Bologna (IT)") as well as by the word itself
        asked_countries = {
            t: country for _, _, name, country, kind in get_domain().find_places(focus)
            if kind == "country" and country for t in content_terms(name) if t in qterms
        }
        col = {name: i for i, name in enumerate(FEATURES)}
        st = self.settings
        parts = analysis.parts if part_vectors is not None and len(analysis.parts) > 1 else ()
        part_terms = [set(content_terms(part, QUESTION_NOISE)) for part in parts]
        part_totals = [sum(idf.idf(t) for t in terms) for terms in part_terms]
        out: list[ScoredSentence] = []
        for position, hit in enumerate(hits):
            # a note brought by the passage that cites it, or a passage brought by the one it goes on
            # from, is ranked as that passage
            rank = next((r for r in (hit.cited_by, hit.continues) if r is not None), position)
            rows = list(self.index.sentence_rows(hit.index))
            if not rows:
                continue
            sims = self.index.sentence_vectors[rows] @ qvec
            part_sims = self.index.sentence_vectors[rows] @ np.asarray(part_vectors).T if parts else None
            best = int(np.argmax(sims))
            sim_order = {int(p): k for k, p in enumerate(np.argsort(-sims))}
            # a passage's heading says what its sentences are about ("Use non-hierarchical steering
            # instruments" over "… a mix of instruments including … scoreboards …"): its words count as
            # said by each of them, and so do an in-passage title's ("Changing narratives.") by the
            # sentences after it
            heading = set(content_terms(hit.passage.own_heading)) if st.heading_coverage else set()
            titled: set[str] = set()
            for pos, (row, text) in enumerate(zip(rows, hit.passage.sentences)):
                terms = set(content_terms(text)) | self.named_terms(row, hit.passage.source, text) | heading | titled
                if st.heading_coverage and pos in hit.passage.titles:
                    titled = set(content_terms(text))
                covered = sum(idf.idf(t) for t in qterms if t in terms)
                if asked_countries:
                    named = countries_named(text)
                    covered += sum(idf.idf(t) for t, c in asked_countries.items() if t not in terms and c in named)
                cov = covered / total if total else 0.0
                flags = self.flags(row, text)
                if "markup" in flags and (head := trim_link_tail(text)):  # quoted without its link clause
                    text, flags = head, sentence_flags(head + "…") | {"tail_trimmed"}
                facts = self.facts(row, text)
                flags = flags | ({"title"} if pos in hit.passage.titles else frozenset())
                if hit.passage.section_kind == "footnote" and _NOTE_REFERENCE_END.search(text):
                    flags = flags | {"biblio"}  # "… (Association of Dutch Municipalities [VNG], 2012)." in a note
                names = sum(idf.idf(stem(k)) for k, v in facts.items() if v == "name" and stem(k) not in qstems)
                acronym = any(v == "acronym" and k not in qlow for k, v in facts.items())
                number = any(v == "number" and k not in qlow for k, v in facts.items())
                year = any(v == "year" and k not in qlow for k, v in facts.items())
                d = pos - best
                x = np.zeros(len(FEATURES), dtype=np.float64)
                values = {
                    "bias": 1.0, "sim": float(sims[pos]), "cov": cov, "passage_dense": hit.dense,
                    "rank_first": float(rank == 0), "rank_second": float(rank == 1), "rank_inverse": 1.0 / (1 + rank),
                    "passage_best_sim": float(sims[best]), "is_passage_best": float(d == 0),
                    "after_best_1": float(d == 1), "after_best_2": float(d == 2), "after_best_3": float(d == 3),
                    "before_best_1": float(d == -1), "new_names": math.log1p(names), "new_acronym": float(acronym),
                    "new_number": float(number), "new_year": float(year),
                    "quoted_title": float(any(v == "quote" for v in facts.values())),
                    "asked_number": float("number" in asks and number),
                    "asked_name": float("name" in asks and names > 0),
                    "asked_year": float("year" in asks and year),
                    "asked_recommendation": float("recommendation" in asks and bool(DIRECTIVE.search(text))),
                    "asked_reason": float("reason" in asks and bool(CAUSE.search(text))),
                    "anaphoric_start": float("anaphor" in flags), "connective_start": float("connective" in flags),
                    "meta": float("meta" in flags), "long": float("long" in flags),
                    "footnote": float(hit.passage.section_kind == "footnote"),
                    "length": min(len(text.split()), 80) / 30.0, "past_action": float(bool(_PAST_ACTION.search(text))),
                    "example_marker": float(bool(_EXAMPLE.search(text))),
                    "sim_rank_in_passage": 1.0 / (1 + sim_order[pos]),
                    "best_sim_before": float(max(sims[:pos])) if pos > 0 else 0.0,
                    "question_names": float(any(v in ("name", "acronym") and stem(k) in qstems for k, v in facts.items())),
                    "rank_bm25_first": float(hit.rank_bm25 == 0), "rank_dense_first": float(hit.rank_dense == 0),
                }
                for key, value in values.items():
                    x[col[key]] = value
                z = float(x @ self.weights)
                prob = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
                relevance = (st.relevance_sim * float(sims[pos]) + st.relevance_coverage * cov
                             + st.relevance_rank * (1 - rank / len(hits)))
                if "recommendation" in asks and DIRECTIVE.search(text):
                    relevance += st.relevance_advice_bonus
                closeness = tuple(
                    (float(part_sims[pos, i]), sum(idf.idf(t) for t in part_terms[i] if t in terms) / part_totals[i]
                     if part_totals[i] else 0.0)
                    for i in range(len(parts))
                )
                out.append(ScoredSentence(position, hit, pos, row, text, float(sims[pos]), cov, prob, relevance, x, flags, facts,
                                          parts=closeness))
        return out


def evidence_strength(scored: list[ScoredSentence], hits: list[Hit], sentence_share: float = 0.7,
                      sim_share: float = 0.6) -> float:
    """One number in 0..1 for 'do the reports answer this?': the best quotable sentence's similarity
    and term coverage (``sim_share`` of the first) to the question or to one part of a compound
    question, and the best passage's similarity (the rest of ``sentence_share``); the shares are
    GateSettings.evidence_*."""
    quotable = [s for s in scored if not (s.flags & UNQUOTABLE)]
    if not quotable or not hits:
        return 0.0
    # (a compound question is covered as far as its best-covered part is: "How many cities took part
    # in the CLIP network, and was any Swiss city among them?" is answered when its count is there)
    best = max(sim_share * sim + (1 - sim_share) * coverage
               for s in quotable for sim, coverage in ((s.sim, s.coverage), *s.parts))
    return sentence_share * best + (1 - sentence_share) * max(h.dense for h in hits)


# a list of items after the noun that names their kind: "services such as savings, insurance, and
# transferable pension plans", "The Forum's main tasks will be consultation, exchange of expertise and
# drawing up recommendations", "needed support includes help in … and the provision of language courses"
_LIST_AFTER = re.compile(
    r"[^.;]{0,80}?\b(?:(?P<open>such as|including|includes?|included|like|comprises?|comprising|consists? of|"
    r"namely|e\.g\.,?|:)|(?:are|were|will be|is|was))\s+(?P<items>[^.;]{2,200})",
    re.I,
)


def lists_items(text: str, noun: str) -> bool:
    """Does the sentence list items of the kind ``noun`` names, after naming it? Two items after "such
    as" / "including" / ":", three after "are" / "will be"."""
    key = stem(noun.lower())
    for m in _TOKEN.finditer(text):
        if stem(m.group(0).lower()) != key:
            continue
        after = _LIST_AFTER.match(text, m.end())
        if not after:
            continue
        items = after.group("items")
        commas = len(re.findall(r",\s", items))
        joined = re.search(r"\b(?:and|or)\b", items)
        if joined and (commas >= 1 or after.group("open")):
            return True
    return False
