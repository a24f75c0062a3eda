"""Follow-up questions -> standalone queries, without an LLM.

The standalone string is what retrieval embeds and matches with BM25 (and where it looks for a
report name to filter on), so the rewrite adds only what the follow-up leaves out:

* a question that stands alone (names its own subject, refers to nothing earlier) is kept as it
  is, even after a long conversation: a topic switch does not drag stale names along;
* an elliptical question ("What about Denmark?", "And for national governments?", "And the OSCE
  study?") takes the frame of the previous question with the new slot put in place of the old
  one of the same kind (report, country, name, actor, group of migrants, policy field);
* a question that points back ("they", "it", "there", "that front", "the same report", "the two
  countries", "any other country") keeps its own wording and gets the context of the previous
  turn appended, by weight: that turn's report name first (unless the question names its own
  report or asks about the other reports), then its names, years and acronyms (minus places of
  the kind the question brings itself), then topic words — the more so the less the question
  says itself, and only when it refers back with a bare pronoun ("they", "it", "this") rather
  than restating its noun ("such partnerships", "that same year").

Earlier turns are resolved the same way, oldest first, so a chain of follow-ups carries the
subject of the conversation forward while a standalone turn resets it. Pure Python, well under
1 ms a question.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .analysis import named_by_words
from .chunking import split_sentences
from .domain import get_domain
from .models import ReportMeta
from .text import QUESTION_NOISE, STOPWORDS, inner_capitalised, stem, words

# (source, its names normalised, longest first) per report: see _report_table
Table = tuple[tuple[str, tuple[str, ...], frozenset[str], str], ...]  # (source, names, name_words, title)

# --------------------------------------------------------------------------- vocabulary

# Words that never carry the subject of a question: question forms, pronouns, vague verbs.
_GENERIC = frozenset(
    """what which how why who whom whose where when did does do doing done is are was were be been being can
    could should would will shall may might must has have had having about and else more other others also too
    any there they them their theirs it its this that these those such same former latter either neither both
    another further again instead then really actually exactly just still already even only ever now anything
    something everything nothing thing things recommend recommended recommendation recommendations example
    examples say said mention mentioned mentions happen happens happened happening work works worked working get
    gets got getting go goes went going come comes came take takes took taken look looks looked mean means meant
    play plays played keep kept want wants wanted need needs needed see seen think find found show shows showed
    hold holds held called call role part kind sort type lot lots bit little first last next exist exists
    like likely available everywhere anywhere somewhere altogether whole overall generally usually often
    authors author yes okay thanks back apart besides except similar comparable likewise manage managed fit fitted try tried talk much""".split()
) | frozenset(
    f"{v}{suffix}"
    for v in "mention keep want need play look work happen exist hold mean call show seem manage fit try talk".split()
    for suffix in ("s", "ing", "ed")
)
_FORM_WORDS = frozenset(
    "what which how why who whom whose where when is are was were do does did can could should would will "
    "has have had tell give list name describe explain compare summarise summarize outline show according "
    "in on for and but so or also then please okay ok".split()
)
# vague nouns a demonstrative stands with when it points back to the whole earlier topic
# words that open a question with a capital only because they open it: "Many German cities ..."
_QUANTIFIERS = frozenset("many several various numerous each every most some all few other another both".split())
_SKIP = STOPWORDS | QUESTION_NOISE | _GENERIC | _QUANTIFIERS
_PLACEHOLDER = frozenset("front point matter issue issues topic subject area regard respect side one ones question thing things stuff".split())

_PRONOUN = re.compile(r"\b(it|its|they|them|their|theirs|he|him|his|she|her)\b", re.I)
_DUMMY_IT = re.compile(
    r"\b(?:is|was|isn't|wasn't)\s+it\s+(?:true|possible|the case|right|correct|fair|normal|common|usual|easy|hard|"
    r"difficult|necessary|allowed|legal|mandatory|compulsory)\b|\bit\s+(?:is|was)\s+(?:true|possible|the case|"
    r"necessary|important|easy|hard|difficult|said|argued|claimed)\b",
    re.I,
)
# ("this year", "these days": the present, not something said before)
_DEMONSTRATIVE = re.compile(
    r"\b(this|these|those)\b(?!\s+(?:who|which|that|whose|year|month|week|spring|summer|autumn|winter|days)\b)"
    r"(?:\s+([\w’'-]+))?",
    re.I,
)
_DEICTIC_NOUNS = (  # singular: "that cities should ..." is a complementiser, "that city" a demonstrative
    r"same|year|time|period|case|city|town|country|region|municipality|report|study|brief|chapter|paper|document|"
    r"programme|program|project|scheme|initiative|partnership|fund|funding|money|law|act|policy|approach|model|idea|"
    r"problem|body|office|agency|network|campaign|council|plan|strategy|agreement|contract|index|platform|principle|"
    r"field|kind|sort|type|level|group|organisation|organization|desk|course|service|figure|number|list|score|"
    r"example|practice|measure|process|system|role|reform|decision|cut"
)
_PLACEHOLDER_RE = "|".join(sorted(_PLACEHOLDER))
_THAT_BARE = re.compile(  # "Why is that?", "on that front", "Does that apply to refugees?"
    rf"\bthat\s*(?:[?!.,;:)]|$)|\bthat\s+(?:{_PLACEHOLDER_RE})\b|"
    r"\b(?:is|was|does|did|has|had|will|would|can|could|should|isn't|wasn't|doesn't|didn't)\s+that\b"
    rf"(?!\s+(?:{_DEICTIC_NOUNS})\b)",
    re.I,
)
_THAT_NP = re.compile(rf"\bthat\s+(?:{_DEICTIC_NOUNS})\b", re.I)
_THERE_BEFORE = re.compile(r"\b(?:is|are|was|were|be|been|being|has|have|had|isn't|aren't|wasn't|weren't)\s+(?:\w+\s+)?$", re.I)
_THERE_AFTER = re.compile(
    r"(?:'s|’s|\s+(?:is|are|was|were|be|been|seem|seems|exist|exists|has|have|had|will|would|should|could|might|may|"
    r"must|isn't|aren't|wasn't|weren't)\b)",
    re.I,
)
# pointing back with a restated noun: "such partnerships", "the same report", "any other country"
_REFERENCE_NP = re.compile(
    r"\b((?:the\s+)?same(?!(?:\s+[\w-]+){0,2}\s+as\b)|such(?!\s+as\b)|(?:the\s+two|both)\s+(?:countries|cities|sides|reports|partners|towns|"
    r"municipalities|governments|levels|programmes|projects|partnerships)|"
    r"the\s+former|the\s+latter|the\s+authors?|(?<!and\s)(?<!or\s)(?<!among\s)(?<!each\s)(?:other|others)|another|similar|"
    r"comparable|likewise)\b|"
    r"\b(?P<definite>(?i:the)\s+(?-i:city|country|town|region|municipality|programme|program|project|scheme|initiative|partnership|"
    r"report|study|brief|chapter|paper|document|fund|plan|network|office|agency|council|ministry|government|"
    r"organisation|organization|campaign|law|act|model|approach|agreement|contract|index|platform|desks?|"
    r"courses?|principle|mayor|authors?)\b(?!\s+(?:of|for|in|on|called|named|that|which|who|whose|where|when|to|"
    r"from|at|between|with|among|under|by|about|against|behind)\b)"
    r"(?![-’']|\s+(?-i:[A-Z])))",
    re.I,
)
# pointing back at the whole earlier topic
_REFERENCE_BARE = re.compile(
    r"\b(else|also|too|as\s+well|either|instead|tell\s+me\s+more|more\s+(?:about|on|detail|details|information)|anything\s+more|what\s+more|"
    r"any\s+further|further\s+(?:details|information)|go\s+on|how\s+so|why\s+(?:so|not))\b|"
    r"\b(?:have|has|had|get|got|run|runs|set\s+up|start|started|which|the\s+same)\s+one\s*(?:[?.!,]|$)|"
    # the predicate left out: "Do Swedish cities do the same?", "Why didn't other cities manage to do so?"
    r"\b(?:do|does|did|doing|done|follow|followed|copy|copied)\s+(?:the\s+same(?:\s+thing)?|likewise|so|suit|something\s+similar)\s*(?:[?.!,;]|$)",
    re.I,
)
# where a compound question starts its second clause ("What is X, and who launched it?")
_CLAUSE = re.compile(
    r",\s*(?:and|but|or)\s+|\s+[-–—]\s+|;\s*|"
    r"(?:,|\s+and)\s+(?=(?:what|which|how|why|who|whom|when|where|is|are|was|were|do|does|did|can|could)\b)",
    re.I,
)
_LEAD = re.compile(r"^\s*(and|but|so|or|also|then|ok|okay)\b", re.I)
_OTHER_REPORTS = re.compile(
    r"\b(other|another|any|all|different|both|several)\s+(reports?|stud(y|ies)|sources?|documents?)\b|"
    r"\bthe\s+(reports|studies|sources|documents)\b|"
    r"\b(elsewhere|across\s+(the\s+|all\s+)?(reports|studies|sources)|each\s+report|every\s+report)\b",
    re.I,
)
_ELLIPSIS = [
    re.compile(r"^\s*(?:(?:and|but|so|ok|okay)[,\s]+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*[?.!]*\s*$", re.I),
    re.compile(r"^\s*(?:and\s+)?what\s+of\s+(?P<x>.+?)\s*[?.!]*\s*$", re.I),
    re.compile(r"^\s*(?:and\s+)?(?:the\s+)?same\s+(?:question\s+|thing\s+)?(?:for|in|with|about)\s+(?P<x>.+?)\s*[?.!]*\s*$", re.I),
    re.compile(r"^\s*(?:and\s+)?(?:is|was)\s+(?:it|that)\s+the\s+same\s+(?:for|in|with)\s+(?P<x>.+?)\s*[?.!]*\s*$", re.I),
    re.compile(r"^\s*(?:and|but|or)[,\s]+(?P<x>.+?)\s*[?.!]*\s*$", re.I),
]
_NOT_SLOT = re.compile(
    r"^(what|which|how|why|who|whom|whose|where|when|is|are|was|were|do|does|did|can|could|should|would|will|has|"
    r"have|had|it|its|they|them|their|this|that|these|those|there|then|so|also|if|i|we|you|any|anything|else)\b",
    re.I,
)
_SLOT_PREP = re.compile(r"^(?:for|in|to|on|about|regarding|with|at|from|of|among|by)\s+", re.I)

# Countries and their adjectives ("What about Sweden?" after "Danish cities" -> "Swedish cities"): the
# gazetteer of knowledge_base/domain (assistant.domain), shared with the catalogue's extraction.
_DOMAIN = get_domain()
_COUNTRY_ADJ: dict[str, str] = {}  # a country's name -> its adjective ("Netherlands", "Holland" -> "Dutch")
_ADJ_COUNTRY: dict[str, str] = {}  # an adjective or demonym -> the country's short name
for _country in _DOMAIN.countries.values():
    _adjs = [n for n in _country.names if _DOMAIN.is_demonym(n)]
    if not _adjs:
        continue
    for _n in _country.names:
        if not _DOMAIN.is_demonym(_n) and " " not in _n and "," not in _n:
            _COUNTRY_ADJ.setdefault(_n, _adjs[0])
    for _a in _adjs:
        _ADJ_COUNTRY.setdefault(_a, _country.name)
for _a, _c in _DOMAIN.region_demonyms.items():
    _ADJ_COUNTRY.setdefault(_a, _c)
_PLACES = frozenset(w.lower() for w in list(_COUNTRY_ADJ) + list(_ADJ_COUNTRY) if " " not in w)
_MULTIWORD_PLACES = tuple(sorted({n for c in _DOMAIN.countries.values() for n in c.names if " " in n and "," not in n}, key=len, reverse=True))

# Lower-case slot kinds: "And for regions?" replaces the actor of the previous question.
# the words that name a level of government, shared by the actor's modifiers and the level slot
_LEVEL_CORE = r"local|regional|national|central|federal|municipal|state|city|town|provincial|european|eu"
_MOD = (
    rf"(?:(?:{_LEVEL_CORE}|origin|"
    r"sending|destination|receiving|host|small|rural|urban|big|large|smaller|larger|government)[\s-]+){0,2}"
)
_ACTOR = re.compile(
    rf"\b{_MOD}(?:governments?|authorit(?:y|ies)|administrations?|municipalit(?:y|ies)|cities|city|towns?|regions?|"
    r"provinces?|member states|states?|ministr(?:y|ies)|councils?|mayors?|officials?|civil servants|staff|"
    r"town halls?|ngos|civil society(?: organi[sz]ations)?|migrant organi[sz]ations|diaspora organi[sz]ations|"
    r"city networks|networks|eu institutions|the eu|european commission|commission|european union|employers|"
    r"businesses|private sector|companies|social partners|trade unions|police|schools|teachers|universities|"
    r"communes|cantons|l[aä]nder|donors|international organi[sz]ations)\b",
    re.I,
)
_GROUP = re.compile(
    r"\b(?:(?:newly arrived|new|recent|young|older|highly skilled|low-skilled|labou?r|undocumented|irregular|"
    r"unaccompanied|resettled|female|male)\s+)?(?:migrants|immigrants|emigrants|refugees|asylum seekers|newcomers|"
    r"diaspora|eu citizens|eu migrants|roma|women|men|youth|young people|children|pupils|students|families|"
    r"parents|elderly|workers|third-country nationals|minorities)\b",
    re.I,
)
_FIELD = re.compile(
    r"\b(?:education|schooling|health(?: care)?|healthcare|housing|employment|jobs?|labou?r market|"
    r"language(?: courses| training| learning)?|political participation|participation|voting|elections|"
    r"anti-discrimination|discrimination|culture|sport|religion|welfare|social assistance|reception|"
    r"integration courses|civic integration|orientation|funding|money|budget|monitoring|evaluation|indicators|"
    r"data|security|policing|mobility|return|remittances|investment|business|entrepreneurship|"
    r"skills? recognition|recognition of qualifications|training)\b",
    re.I,
)
# a level of government named as a level: "at city level", "the level of the cantons", "the federal layer"
_LEVEL_WORDS = rf"{_LEVEL_CORE}|cantonal|communal|county|district|l[aä]nder|origin|destination"
_LEVEL = re.compile(
    rf"\b(?:the\s+)?(?:(?:{_LEVEL_WORDS})[\s-]+(?:level|layer|tier)s?|(?:level|layer|tier)\s+of\s+(?:the\s+)?[\w’'-]+)\b",
    re.I,
)
_SLOT_CLASSES = (_LEVEL, _ACTOR, _GROUP, _FIELD)

_NAME = re.compile(r"[A-ZÀ-Ý][\w’'-]*(?:\s+(?:of|de|the|and|for|in|on)?\s*[A-ZÀ-Ý][\w’'-]*)*")
_YEAR = re.compile(r"\b(?:1[89]\d\d|20\d\d)s?\b")
_PAREN = re.compile(r"^(?P<main>.*?)(?:\s*\((?P<paren>[^()]*)\))?\s*$", re.S)

_TOPIC_BARE = 6  # topic words carried = this minus the question's own content words (bare reference)
_TOPIC_NP = 2  # the same when the question restates its noun ("such partnerships")
_TOPIC_MIN = 3  # ... but never fewer than this for a bare or elliptical reference: the earlier topic stays with its names
_MAX_CARRIED = 14


# --------------------------------------------------------------------------- analysis


def _content(text: str) -> list[str]:
    """The question's own subject words (no stop words, question forms, pronouns, vague verbs)."""
    out: list[str] = []
    for w in words(text):
        if len(w) > 2 and w not in _SKIP and not w.isdigit() and w not in out:
            out.append(w)
    return out


_NORM = re.compile(r"[^a-z0-9à-ÿ]+")


@lru_cache(maxsize=16)
def _table_for(key: tuple[tuple[str, tuple[str, ...], str, frozenset[str], str], ...]) -> Table:
    out = []
    for source, aliases, short, naming, title in key:
        names = sorted([*aliases, short], key=len, reverse=True)
        out.append((source, tuple(n for n in (_NORM.sub(" ", x.lower()).strip() for x in names) if len(n) >= 3), naming, title))
    return tuple(out)


def _report_table(reports: list[ReportMeta]) -> Table:
    return _table_for(tuple((m.source, tuple(m.aliases), m.short_citation, m.name_words, m.title) for m in reports))


@lru_cache(maxsize=4096)
def _report_names(text: str, table: Table) -> tuple[tuple[str, str], ...]:
    """(source, the name as matched) for each report ``text`` names. The same matching as
    ``retrieval.detect_reports`` (which decides the report filter), precomputed for speed."""
    q = " " + _NORM.sub(" ", text.lower()) + " "
    found = []
    for source, names, _, _ in table:
        for n in names:
            if f" {n} " in q:
                found.append((source, n))
                break
    return tuple(found or named_by_words(text, [(source, naming, title) for source, _, naming, title in table]))


@lru_cache(maxsize=4096)
def _names(text: str, table: Table, sentence: bool = True) -> tuple[str, ...]:
    """Proper names (places, programmes, organisations), acronyms and years, in order, without the
    report names and question-form words. A nationality keeps the actor or group it qualifies
    ("Turkish municipalities", "Philippine local government units"). In a ``sentence`` a lone
    capitalised first word counts only if it is a known country or an acronym."""
    report_words = {w for _, n in _report_names(text, table) for w in n.split()}
    out: list[str] = []
    for m in _NAME.finditer(text):
        toks = m.group(0).split()
        lead = m.start()
        while toks and (toks[0].lower().strip("’'") in _FORM_WORDS | STOPWORDS
                        or (lead == m.start() == 0 and toks[0].lower() in _QUANTIFIERS)):
            lead = -1
            toks = toks[1:]
        while toks and toks[-1].lower() in ("of", "de", "the", "and", "for", "in", "on"):
            toks = toks[:-1]
        if not toks:
            continue
        if sentence and lead == 0 and not text[: m.start()].strip() and len(toks) == 1:
            if toks[0].lower() not in _PLACES and not toks[0].isupper():
                continue  # "Apart from ...": capitalised only because it opens the question
        name = " ".join(toks)
        parts = words(name)
        if not parts or all(w in report_words or w in _SKIP for w in parts):
            continue
        if len(toks) == 1 and toks[0] in _ADJ_COUNTRY:
            rest = text[m.end() :]
            np = _ACTOR.match(rest[1:]) or _GROUP.match(rest[1:]) if rest[:1] == " " else None
            if np:
                name = f"{name} {np.group(0)}"
        if name not in out:
            out.append(name)
    for m in _YEAR.finditer(text):
        if m.group(0) not in out:
            out.append(m.group(0))
    return tuple(out)


_MULTIWORD_PLACE = re.compile(r"\b(?:" + "|".join(map(re.escape, _MULTIWORD_PLACES)) + r")\b")
_CAPITALISED = re.compile(r"\b[A-Z][a-zà-ÿ]+\b")


@lru_cache(maxsize=4096)
def _places(text: str) -> tuple[tuple[int, int, str], ...]:
    """Countries and nationality adjectives in ``text``: (start, end, word)."""
    spans = [(m.start(), m.end(), m.group(0)) for m in _MULTIWORD_PLACE.finditer(text)]
    for m in _CAPITALISED.finditer(text):
        if m.group(0).lower() in _PLACES and not any(s <= m.start() < e for s, e, _ in spans):
            spans.append((m.start(), m.end(), m.group(0)))
    return tuple(sorted(spans))


def _report_aliases(text: str, table: Table) -> list[str]:
    """The report names as written in ``text`` ("OSCE study"), in the manifest's order."""
    out = []
    for _, name in _report_names(text, table):
        m = re.search(r"\W+".join(map(re.escape, name.split())), text, re.I)
        out.append(m.group(0) if m else name)
    return out


def _report_alias(text: str, table: Table) -> str:
    """The first report name in ``text``, or ''."""
    found = _report_aliases(text, table)
    return found[0] if found else ""


def _split(turn: str) -> tuple[str, str]:
    """(the question, the context a previous rewrite appended in brackets)."""
    m = _PAREN.match(turn)
    return (m.group("main") or "").strip(), (m.group("paren") or "").strip()


def _pronoun_refers_back(question: str) -> bool:
    """A personal pronoun with no antecedent in the question itself."""
    for m in _PRONOUN.finditer(question):
        word, before = m.group(1).lower(), question[: m.start()]
        if word in ("it", "its"):
            if _DUMMY_IT.search(question):
                continue
            # "a city that dropped ... its policies", "Did Lyon adapt its courses?"
            if re.search(r"\b(a|an|any|each|every|one|some)\s+[\w’'-]+", before, re.I):
                continue
            if word == "its" and _names(before, ()):
                continue
            return True
        if word in ("they", "them", "their", "theirs"):
            plural = [  # "Do the reports agree ..., and what do they propose?"
                w for w in words(before)
                if len(w) > 3 and w not in STOPWORDS and w not in _GENERIC
                and (w.endswith("s") or w in ("people", "police", "staff", "youth"))
            ]
            if plural or re.search(r"[A-ZÀ-Ý][\w’'-]+\s+and\s+[A-ZÀ-Ý]", before):  # "Lyon and Tangier ... their"
                continue
            return True
        return True  # he / she / his / her
    return False


def _there_refers_back(question: str) -> bool:
    """A locative "there" ("What happened there?"), not an existential one ("Is there ...")."""
    for m in re.finditer(r"\bthere\b", question, re.I):
        if _THERE_BEFORE.search(question[: m.start()]) or _THERE_AFTER.match(question[m.end() :]):
            continue
        return True
    return False


def _reference(question: str, table: Table) -> str | None:
    """How ``question`` points back: 'bare' (a pronoun, "there", "this", "that front", "what
    else": the whole earlier topic), 'np' (a restated noun: "such partnerships", "the same
    report", "any other country"), or None. A leading "And" / "But" alone counts as bare. In a
    compound question whose first clause names its subject ("What is the MATRA programme, and
    when was it started?") the second clause refers to the first, not to earlier turns; so does
    the last sentence of a question whose earlier sentences set the scene."""
    # … and in a question of several sentences whose earlier ones set the scene ("I'm an official in a
    # town in Pakistan. Many of our people now live in Spain … What do the reports advise before we
    # start?") the last refers to them
    sentences = _sentences(question)
    if len(sentences) > 1 and _has_subject(" ".join(sentences[:-1]), table):
        return _reference(" ".join(sentences[:-1]), table)
    m = _CLAUSE.search(question)
    if m and m.start() > 0 and _has_subject(question[: m.start()], table):
        return _reference_in(question[: m.start()])
    return _reference_in(question)


def _has_subject(clause: str, table: Table) -> bool:
    if _report_names(clause, table) or any(not _YEAR.fullmatch(n) for n in _names(clause, table)):
        return True
    if get_domain().find_places(clause):  # "Barcelona comes up in several of the reports."
        return True
    return len(_content(clause)) >= 2


_ASKER = re.compile(r"\b(?:we|i|our|my)\b", re.I)


def _anchored(before: str) -> bool:
    """Does the text before a definite noun phrase ("the city", "the ministry") say whose it is: a
    name ("In Germany the city …") or the asker ("We at the ministry …", "I work for the city …")?"""
    return bool(inner_capitalised(before)) or bool(_ASKER.search(before))


def _reference_in(question: str) -> str | None:
    if _pronoun_refers_back(question) or _there_refers_back(question) or _REFERENCE_BARE.search(question):
        return "bare"
    if _THAT_BARE.search(question):
        return "bare"
    for m in _DEMONSTRATIVE.finditer(question):
        nxt = (m.group(2) or "").lower()
        if not nxt or nxt in STOPWORDS or nxt in _PLACEHOLDER:
            return "bare"
    if _DEMONSTRATIVE.search(question) or _THAT_NP.search(question) or any(
        not (m.group("definite") and _anchored(question[: m.start()])) for m in _REFERENCE_NP.finditer(question)
    ):
        # … but a name before "the city" / "the office" anchors it: "In Germany the city partnership office …",
        # and so does the asker: "We at the ministry are drafting …"
        return "np"
    if _LEAD.search(question):  # "And what happens once ...?": the earlier topic goes on
        return "bare"
    return None


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text.strip())]


def without_courtesy(question: str) -> str:
    """``question`` without the short remarks that open it and ask nothing ("Thanks.", "Very
    helpful, thank you."): sentences of at most six words, no question, no name and no actor,
    group or policy field."""
    sentences = _sentences(question)
    while len(sentences) > 1 and _courtesy(sentences[0]):
        sentences = sentences[1:]
    return " ".join(sentences)


def _courtesy(sentence: str) -> bool:
    return (len(sentence.split()) <= 6 and not sentence.rstrip().endswith("?") and not inner_capitalised(sentence)
            and not any(pat.search(sentence) for pat in _SLOT_CLASSES))


def ellipsis_slot(question: str) -> str | None:
    """The new slot of an elliptical question ("What about Denmark?" -> "Denmark", "Thanks. And for
    the regions?" -> "for the regions"), or None."""
    question = without_courtesy(question)
    for i, pat in enumerate(_ELLIPSIS):
        m = pat.match(question)
        if not m:
            continue
        x = m.group("x").strip(" ,-–—:;")
        if not x or _NOT_SLOT.match(x):
            return None
        if i == len(_ELLIPSIS) - 1 and (len(x.split()) > 6 or re.search(r"\s[-–—]\s|,|\?", x)):
            return None  # "And Barcelona - what does it do?" is a question of its own
        return x
    return None


def needs_context(question: str, reports: list[ReportMeta]) -> bool:
    """Whether ``question`` depends on the earlier turns (so a rewrite should look at them)."""
    return _needs_context(question, _report_table(reports))


def _needs_context(question: str, table: Table) -> bool:
    question = without_courtesy(question)
    sentences = _sentences(question)
    if len(sentences) > 1 and not _has_subject(" ".join(sentences[:-1]), table):
        return _needs_context(sentences[-1], table)  # "Thanks. And what about Denmark?"
    if ellipsis_slot(question) is not None or _reference(question, table):
        return True
    report_words = {w for _, n in _report_names(question, table) for w in n.split()}
    own = [w for w in _content(question) if w not in report_words]
    if any(not _YEAR.fullmatch(n) for n in _names(question, table)):
        return False  # "Tell me about Lyon's language courses": its own subject
    if _report_names(question, table):
        return not own  # "What does the OSCE study recommend?" - on what?
    # without a name: long enough, or about actors / migrant groups / policy fields by name
    # ("How do cities fund language courses?"), not just "Which area scored worst?"
    domain = sum(len(pat.findall(question)) for pat in _SLOT_CLASSES)
    return not (len(own) >= 5 or (len(own) >= 3 and domain >= 2))


# --------------------------------------------------------------------------- rewriting


def _as_place(x: str, replaced: str) -> str:
    """``x`` in the form of the place word it replaces (an adjective for an adjective)."""
    core = re.sub(r"^the\s+", "", x, flags=re.I)
    if replaced in _ADJ_COUNTRY and core in _COUNTRY_ADJ:
        return _COUNTRY_ADJ[core]
    if replaced in _COUNTRY_ADJ and core in _ADJ_COUNTRY:
        return _ADJ_COUNTRY[core]
    return x


def _outside_report_name(text: str, start: int, table: Table) -> bool:
    alias = _report_alias(text, table)
    i = text.find(alias) if alias else -1
    return not (i >= 0 and i <= start < i + len(alias))


def _substitute(x: str, frame: str, table: Table) -> str | None:
    """The previous question ``frame`` with its slot of the same kind as ``x`` replaced by ``x``
    (None when it has no such slot)."""
    main, paren = _split(frame)
    core = _SLOT_PREP.sub("", x).strip()
    out = None
    new_report = _report_alias(core, table)
    if new_report:
        old = _report_alias(main, table)
        if old:
            out = main.replace(old, new_report, 1)
        else:
            out = re.sub(r"\s*[?.!]*\s*$", "", main) + f", according to the {new_report}?"
        if _report_alias(paren, table):  # the old report, carried from further back
            paren = ""
    elif _places(core) and len(core.split()) <= 4:
        places = [p for p in _places(main) if _outside_report_name(main, p[0], table)]
        if places:
            s, e, old = places[0]
            out = main[:s] + _as_place(core, old) + main[e:]
    elif re.match(r"^(?:the\s+)?[A-ZÀ-Ý0-9]", core) and len(core.split()) <= 5:
        core = re.sub(r"^the\s+", "", core)
        acronym = core.isupper()
        names = [
            n for n in _names(main, table)
            if n.lower() not in _PLACES and not _YEAR.fullmatch(n) and (acronym or not n.isupper())
        ]
        if names:
            out = main.replace(names[-1], core, 1)
    if out is None:
        for pat in _SLOT_CLASSES:
            if pat.fullmatch(core):
                m = _slot_in(pat, main, table)
                if m:
                    out = main[: m.start()] + core + main[m.end() :]
                elif pat is _LEVEL:
                    out = _level_for_actor(core, main, table)
                break
    if out is None:
        return None
    return f"{out} ({paren})" if paren else out


_LEVEL_WORD = re.compile(rf"\b(?:{_LEVEL_WORDS})\b", re.I)


def _slot_in(pat: re.Pattern, main: str, table: Table) -> re.Match | None:
    """The first match of a slot class in ``main`` that is not part of a report's name ("the MPI
    cities report")."""
    return next((m for m in pat.finditer(main) if _outside_report_name(main, m.start(), table)), None)


def _level_for_actor(level: str, main: str, table: Table) -> str | None:
    """A level slot put in place of the actor of a question that names no level as such: "And at the
    local level?" after "... financed by the national government?" -> "... by the local government?";
    "And at the level of the cantons?" -> "... by the cantons?"."""
    m = _slot_in(_ACTOR, main, table)
    if not m:
        return None
    new_word = _LEVEL_WORD.search(level)
    old_word = _LEVEL_WORD.search(m.group(0))
    if new_word and old_word:
        actor = m.group(0)[: old_word.start()] + new_word.group(0) + m.group(0)[old_word.end() :]
    else:
        actor = re.sub(r"^(?:the\s+)?(?:level|layer|tier)\s+of\s+", "", level, flags=re.I)
    return main[: m.start()] + actor + main[m.end() :]


def _carry(question: str, previous: str, table: Table, how: str | None) -> str:
    """``question`` with the context of the previous (resolved) turn appended, by weight."""
    seen = set(words(question))
    own = _content(question)
    carried: list[str] = []

    def add(item: str) -> None:
        parts = set(words(item))
        if item and parts and not parts <= seen:
            carried.append(item)
            seen.update(parts)

    if not _report_names(question, table) and not _OTHER_REPORTS.search(question):
        for alias in _report_aliases(previous, table):
            add(alias)
    main, paren = _split(previous)
    own_names = _names(question, table)
    own_place = bool(_places(question))
    for name in _names(main, table) + _names(paren, table, False):
        if (own_place and _places(name)) or (how == "slot" and own_names):
            continue  # the question brings its own country / its own subject: the old one is stale
        add(name)
    budget = max(0 if how == "np" else _TOPIC_MIN, (_TOPIC_NP if how == "np" else _TOPIC_BARE) - len(own))
    # names and report names were weighed above: topic words are the rest
    named = {w for n in _names(main, table) + _names(paren, table, False) for w in words(n)}
    named |= {w for _, n in _report_names(previous, table) for w in n.split()}
    for w in _content(main) + _content(paren):
        if budget <= 0:
            break
        if w not in seen and w not in named:
            carried.append(w)
            seen.add(w)
            budget -= 1
    if not carried:
        return question
    return f"{question} ({' '.join(carried[:_MAX_CARRIED])})"


def _rewrite(question: str, previous: str | None, table: Table) -> str:
    if not previous:
        return question
    question = without_courtesy(question)
    slot = ellipsis_slot(question)
    if slot is not None:
        return _substitute(slot, previous, table) or _carry(question, previous, table, "slot")
    how = _reference(question, table)
    if how is None and not _needs_context(question, table):
        return question
    if how == "np" and _rewords(question, previous):
        how = "bare"  # "that money" after "… resettlement funding …": it points back at the whole topic
    return _carry(question, previous, table, how or "bare")


def _rewords(question: str, previous: str) -> bool:
    """Does the question point back with a demonstrative and a noun the previous turn does not use
    ("Is there a problem with how that money is used?" after "… EU resettlement funding …")? The
    noun restates nothing of it: "that money" is the earlier topic as a whole, so its topic words
    come along as for a bare "it". ("these partnerships" after "… town partnerships …" restates
    its noun and needs only the names; "such partnerships" names a kind, not the earlier topic.)"""
    nouns = [m.group(2) for m in _DEMONSTRATIVE.finditer(question) if m.group(2)]
    nouns += [m.group(0).split()[-1] for m in _THAT_NP.finditer(question)]
    nouns = [n.lower() for n in nouns if n.lower() not in STOPWORDS and n.lower() not in _PLACEHOLDER]
    if not nouns:
        return False
    before = {stem(w) for w in words(previous)}
    return not any(stem(n) in before for n in nouns)


def condense(question: str, history: list[str], reports: list[ReportMeta], max_turns: int = 6) -> str:
    """The standalone form of ``question`` given the earlier questions (oldest first)."""
    history = [h.strip() for h in history if h and h.strip()][-max_turns:]
    if not history:
        return question
    table = _report_table(reports)
    previous: str | None = None
    for turn in history:  # resolve the conversation oldest first, each turn in the light of the last
        previous = _rewrite(turn, previous, table)
    return _rewrite(question, previous, table)
