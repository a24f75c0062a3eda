"""The analyse stage: what a (standalone) question asks for.

* which reports it names the way officials do ("the OSCE study", "the EPC brief"): retrieval is
  restricted to them and their names are not matched as words;
* whether it asks for recommendations ("what should …", "how can …") or practices ("what did …",
  "an example of …");
* which kind of fact it asks for: a number ("how many", "what share"), a year ("when"), a name
  ("which city", "who"), a reason ("why", "what stands in the way");
* whether it compares across reports ("do the reports agree …").

These are rules about the *form* of English questions; nothing here names a report's content.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from .domain import get_domain
from .guard import without_asker
from .models import QueryAnalysis, ReportMeta
from .text import STOPWORDS, author_names, name_key

_RECOMMEND_Q = re.compile(
    r"\b(recommend\w*|should|ought|advice|advise|propos\w*|suggest\w*|call(s|ed)? (on|for)|asked of|"
    r"what can .{0,40}\bdo\b|how can|how could|what could|what (are|is) .{0,30}(need|expected)|urge\w*|priorit\w*|lessons?)\b",
    re.I,
)
_PRACTICE_Q = re.compile(
    r"\b(done|did|example|examples|practice|practices|initiative|initiatives|project|projects|case|cases|"
    r"have .{0,30}(used|set up|created|introduced))\b",
    re.I,
)
_ASK_NUMBER = re.compile(
    r"\b(how (many|much|large|big|high|long|often)|what (number|share|proportion|percentage|amount|figure|sum|rate|"
    r"budget|cost|total)|(number|share|proportion|percentage|amount|rate|total) of|(annual|yearly|total) "
    r"(budget|cost|spending|funding)|unemployment rate|pass rate|per cent|percent)\b",
    re.I,
)
_ASK_YEAR = re.compile(r"\b(when (did|was|were|has|have|will)|what year|which year|since when|in what year)\b", re.I)
_ASK_NAME = re.compile(
    r"\b(which|who|whom|whose|what is the name|named|called|an example|any example|example of|examples of|"
    r"one (?:\w+ )?(?:city|town|country|municipality|region|organi[sz]ation)|any (?:\w+ )?(?:cit(?:y|ies)|towns?|"
    r"countr(?:y|ies)|municipalit(?:y|ies)|regions?|organi[sz]ations?)|(?:did|has|have|was|were) (?:a|an) (?:\w+ )?"
    r"(?:city|town|country|municipality|region|organi[sz]ation)|where)\b",
    re.I,
)
# a place asked for outright ("which town", "Has any city …?", "one German city"), a stronger sign than "where"
_ASK_PLACE = re.compile(
    r"\b(?:which|what|any|one|some|a|an)\s+(?:\w+\s+)?(?P<kind>cit(?:y|ies)|towns?|municipalit(?:y|ies)|regions?|"
    r"countr(?:y|ies))\b",
    re.I,
)
_PLACE_IN = re.compile(r"\s+(?:in|of|from)\s+(?:the\s+)?(?:[A-Z][\w’'-]*\s*){1,3}")
_PLACE_KIND = {"cit": "city", "tow": "city", "mun": "city", "reg": "region", "cou": "country"}
_ASK_REASON = re.compile(
    r"\b(why|reasons?|obstacles?|barriers?|hurdles?|challenges?|problems?|stands? in the way|difficult\w*|"
    r"struggle\w*|clash\w*|tensions?|conflicts?|complain\w*|critic\w*|go(?:ne|es)? wrong|went wrong|fail\w*|"
    r"drawbacks?|downsides?|shortcomings?|weakness\w*|pitfalls?|(?:held|holds?|holding) (?:\w+ ){0,3}back|"
    r"(?:made|makes?|making) it (?:hard|difficult)|hard for|what (?:stops?|stopped|prevents?|prevented|keeps?|kept)|"
    r"worked (?:well|out)|straightforward|smoothly)\b",
    re.I,
)
_COMPARATIVE = re.compile(
    r"\b(the reports|all (?:the |five )?reports|across (?:the )?reports|each report|both reports|do the reports|"
    r"compare|comparison|differ\w*|agree|in common|across all)\b",
    re.I,
)
_NORM = re.compile(r"[^a-z0-9à-ÿ]+")
# "How can an origin-country municipality ...", "What could we, as a national ministry, do ...": the
# actor a question asks *for* (a level merely mentioned as context does not count)
_ACTOR_QUESTION = re.compile(
    r"\b(?:how|what|which \w+) (?:can|could|should|might|may|must) ((?:\w[\w’'-]*,? ){1,6})", re.I
)


def report_names(question: str, reports: list[ReportMeta]) -> list[tuple[str, str]]:
    """(source, the name as matched) for each report the question names: by one of its aliases or
    its short citation, else loosely, by words that name it before a document noun
    (``named_by_words``: "the inclusive cities report", for a report added without aliases)."""
    q = " " + _NORM.sub(" ", question.lower()) + " "
    found = []
    for meta in reports:
        names = sorted(list(meta.aliases) + [meta.short_citation], key=len, reverse=True)
        for name in names:
            n = _NORM.sub(" ", name.lower()).strip()
            if len(n) >= 3 and f" {n} " in q:
                found.append((meta.source, n))
                break
    return found or named_by_words(question, [(meta.source, meta.name_words, meta.title) for meta in reports])


_WORD = re.compile(r"[^\W\d_][\w’'-]*")
_DETERMINERS = frozenset("the this that its their his her your our".split())
# a word of a report's text names it when that report uses it this often, and this many times as often
# as any other report does ("OSCE" in the OSCE study, "translocal" in the IMISCOE chapter)
NAME_MIN_COUNT = 3
NAME_DOMINANCE = 3


def name_words(reports: list[ReportMeta], passages: Iterable) -> dict[str, frozenset[str]]:
    """For each report (by source), the words that name it in a question: those of its title, and
    those its passages use at least NAME_MIN_COUNT times and NAME_DOMINANCE times as often as any
    other report's passages do."""
    counts: dict[str, Counter] = {meta.source: Counter() for meta in reports}
    for p in passages:
        if p.source in counts:
            counts[p.source].update(name_key(w) for w in _WORD.findall(p.text))
    # each word's two largest counts over the reports: the largest among the *other* reports is the
    # second when this report has the first
    top: dict[str, tuple[int, int]] = {}
    for c in counts.values():
        for w, n in c.items():
            first, second = top.get(w, (0, 0))
            top[w] = (n, first) if n >= first else (first, max(second, n))
    out = {}
    for meta in reports:
        own = counts[meta.source]
        distinct = set()
        for w, n in own.items():
            first, second = top[w]
            if n >= NAME_MIN_COUNT and n >= NAME_DOMINANCE * (second if n == first else first):
                distinct.add(w)
        title = {name_key(w) for w in _WORD.findall(meta.title)}
        out[meta.source] = frozenset(w for w in distinct | title | _maker_words(meta.authors)
                                     if len(w) > 2 and w not in STOPWORDS)
    return out


def _maker_words(authors: str) -> set[str]:
    """The words of a report's authors, and the initials of an institution among them ("Smith",
    "European Economic and Social Committee" -> also "eesc"): "the Smith report", "the EESC opinion"."""
    out = {name_key(w) for w in _WORD.findall(authors)}
    for name in re.split(r"[;,]", authors):
        capitals = [w for w in _WORD.findall(name) if w[0].isupper()]
        if len(capitals) >= 3:
            out.add("".join(w[0] for w in capitals).lower())
    return out


def document_phrases(question: str) -> list[tuple[str, list[str]]]:
    """The phrases of a question that name a document, a singular document noun after a determiner
    and the words between ("the inclusion report", "the EPC brief"), each as (the phrase as written,
    lower case, and its naming words without modifiers: ["inclusion"], ["epc"]). "The reports", "a
    study" and "the latest study" give none."""
    domain = get_domain()
    if not domain.document_nouns:
        return []
    out = []
    nouns = "|".join(map(re.escape, domain.document_nouns))
    for m in re.finditer(rf"\b({nouns})\b(?![’'-]?\w)", question, re.I):
        words: list[str] = []
        for w in reversed(list(_WORD.finditer(question[: m.start()]))[-5:]):
            if w.group(0).lower() in _DETERMINERS:
                start = w.start()
                break
            words.insert(0, name_key(w.group(0)))
        else:
            continue  # no determiner before it: "… policy report cards", "Report 2020"
        words = [w for w in words if w not in STOPWORDS and w not in domain.document_modifiers]
        if words:
            out.append((_NORM.sub(" ", question[start : m.end()].lower()).strip(), words))
    return out


def named_by_words(question: str, table: Iterable[tuple[str, frozenset[str], str]]) -> list[tuple[str, str]]:
    """(source, the name as matched) for each report a question names by a document phrase
    (``document_phrases``) whose words only that report's ``name_words`` hold, or only its title
    (``table``: source, name words, title): "the inclusion report", "the OSCE study", "the mayors
    brief" (words several reports share name none). The name keeps its determiner: a follow-up that
    carries "the translocal chapter" names the report again."""
    table = [(source, words, {name_key(w) for w in _WORD.findall(title)}) for source, words, title in table if words]
    found: list[tuple[str, str]] = []
    for phrase, words in document_phrases(question) if table else []:
        sources = [source for source, names, _ in table if all(w in names for w in words)]
        if len(sources) > 1:  # "the mayors brief": another report says "mayors" too, this one's title does
            sources = [source for source, _, title in table if source in sources and all(w in title for w in words)]
        if len(sources) == 1 and sources[0] not in {f[0] for f in found}:
            found.append((sources[0], phrase))
    return found


def detect_reports(question: str, reports: list[ReportMeta]) -> list[str]:
    """Reports the question names the way officials do: 'the OSCE study', 'the EPC brief'."""
    return [source for source, _ in report_names(question, reports)]


def strip_report_names(question: str, names: list[str]) -> str:
    """The question without the report names found in it (as matched by report_names)."""
    text = " " + re.sub(r"[^A-Za-z0-9À-ÿ’'-]+", " ", question) + " "
    for name in names:
        name = re.sub(rf"^(?:{'|'.join(_DETERMINERS)})\s+", "", name)  # named_by_words keeps the determiner
        text = re.sub(r"(?i)\b(the |in the |according to the )?" + r"\W+".join(map(re.escape, name.split())) + r"\b", " ", text)
    return " ".join(text.split()) or question


def asks_for_place(question: str) -> bool:
    """Does the question ask for a place outright ("Has any city …?"), not merely "where …"?"""
    return bool(_ASK_PLACE.search(question))


def asked_place_kind(question: str) -> str | None:
    """The kind of place a question asks for outright: 'city' for "Did any city …?" or "which
    towns …", 'region', 'country'; None when it asks none or several kinds."""
    kinds = {_PLACE_KIND[m.group("kind")[:3].lower()] for m in _ASK_PLACE.finditer(question)}
    return kinds.pop() if len(kinds) == 1 else None


def asked_place_span(question: str) -> str | None:
    """The words that ask for a place outright, with what qualifies it ("any German city", "which
    towns in Morocco"); None when the question asks for none. A country named elsewhere in the
    question ("Our city has many Romanian workers … Did any city …?") does not say where the place is."""
    spans = []
    for m in _ASK_PLACE.finditer(question):
        where = _PLACE_IN.match(question, m.end())  # "… towns in Morocco"
        spans.append(question[m.start(): where.end() if where else m.end()])
    return " ".join(spans) or None


# "What role do migrant associations play in …?", "What is the role of cities in …?": the role of a group
_ASK_ROLE = re.compile(
    r"\bwhat (?:roles?|parts?) (?:do|does|did|can|could|should|might|will|would) (?P<x>.+?) play\b|"
    r"\bwhat (?:is|are|was|were) the (?:roles?|part) (?:of|played by) (?P<y>.+?)(?=\s+in\b|[?,;]|$)",
    re.I,
)


def role_subject(question: str) -> str | None:
    """The group whose role a question asks about ("migrant associations" in "What role do migrant
    associations play in partnerships …?"), or None."""
    m = _ASK_ROLE.search(question)
    return (m.group("x") or m.group("y")) if m else None


# "What financial services does the project offer …?", "Which target groups do they focus on?", "What
# are the main tasks of the Forum?": the question asks for the items of a kind, which a sentence
# gives by listing them after the noun ("services such as savings, insurance and pensions")
_AUXILIARY = (r"(?:do|does|did|are|were|is|was|have|has|had|can|could|should|would|will|might|may|must|"
              r"need|needs)")
_ASK_ITEMS = re.compile(
    rf"\b(?:what|which)\s+(?:(?:kinds?|types?|sorts?|forms?)\s+of\s+)?"
    rf"(?P<x>(?!{_AUXILIARY}\b)(?:[a-z-]+\s+){{0,2}}?[a-z-]+)\s+{_AUXILIARY}\b|"
    rf"\bwhat\s+(?:are|were)\s+the\s+(?P<y>(?:[a-z-]+\s+){{0,2}}?[a-z-]+s)\s+(?:of|that|for|in|which)\b",
    re.I,
)
# nouns the other leads answer (a place, a role) or that ask for nothing listed
_NOT_ITEMS = re.compile(r"^(?:cit(?:y|ies)|towns?|countr(?:y|ies)|regions?|municipalit(?:y|ies)|places?|roles?|"
                        r"parts?|years?|people|person|way|ways|extent|difference|kind|sort|type|degree|"
                        r"percentage|share|number|amount|proportion|rate)$", re.I)


def items_noun(question: str) -> str | None:
    """The noun whose items a "what / which <noun> …" question asks for ("services" in "What
    financial services does the NEXUS project offer?"), or None (also for a place or a role, which
    other leads answer)."""
    m = _ASK_ITEMS.search(question)
    if not m:
        return None
    # "rights of refugees" asks for rights, "groups and needs" for groups
    noun = re.split(r"\s+(?:of|and|or)(?:\s+|$)", m.group("x") or m.group("y"))[0].split()[-1]
    return None if _NOT_ITEMS.match(noun) else noun


# "What is the predeparture training supposed to achieve?", "What is the main aim of the partnership?",
# "What does Copenhagen want to achieve by …?": what something is for
_ASK_PURPOSE = re.compile(
    r"\b(?:meant|supposed|intended|designed) (?:to|for)\b|\bwhat (?:is|was|are|were) (?:the )?(?:main |chief |key )?"
    r"(?:aims?|goals?|purposes?|objectives?|point) of\b|\b(?:want|wants|hope|hopes|seek|seeks|try|tries) to achieve\b|"
    r"\bwhat (?:does|do|did) (?:\w+ ){1,6}?aim (?:to|at)\b|\bwhat for\b",
    re.I,
)

_ASKS = (("number", _ASK_NUMBER), ("year", _ASK_YEAR), ("name", _ASK_NAME), ("reason", _ASK_REASON),
         ("recommendation", _RECOMMEND_Q), ("role", _ASK_ROLE), ("purpose", _ASK_PURPOSE))


def asks_for(question: str) -> frozenset[str]:
    """The kinds of fact a question asks for: number, year, name, reason, recommendation, role, purpose."""
    return frozenset(kind for kind, pattern in _ASKS if pattern.search(question))


def asks_in_order(question: str) -> tuple[str, ...]:
    """The kinds of fact asked for, in the order the question asks them: ('name', 'number') for
    "Were any Turkish cities part of it, and how many cities took part overall?"."""
    found = [(m.start(), kind) for kind, pattern in _ASKS if (m := pattern.search(question))]
    return tuple(kind for _, kind in sorted(found))


# where a compound question starts another question: "How many ..., and who launched it?",
# "Where do they clash, and how have countries dealt with it?", "What is X? When was it set up?"
_PART = re.compile(
    r"(?:,\s*|\s+)(?:and|but)\s+(?=(?:what|which|how|why|who|whom|when|where|is|are|was|were|do|does|did|can|could|"
    r"should|has|have)\b)|(?<=\?)\s+(?=[A-Z])|;\s+",
    re.I,
)


def question_parts(question: str) -> tuple[str, ...]:
    """The questions a compound question asks, each at least three words (one part when it is simple)."""
    parts = [p.strip(" ,;") for p in _PART.split(question) if p and p.strip(" ,;")]
    parts = [p for p in parts if len(p.split()) >= 3]
    return tuple(parts) if len(parts) > 1 else (question,)


_SELF = re.compile(r"\b(?:we|i)\s+(?:are|am|work (?:for|in|at))\s+((?:a|an|the)\s+)?([^.?!;]{3,120})", re.I)
_FIRST_PERSON = re.compile(r"\b(?:we|our|us|i|my)\b", re.I)


def levels_asked(question: str) -> tuple[str, ...]:
    """The level of government a question asks for: "How can an origin-country municipality …";
    "We are a small municipality in northern Morocco … What could our town hall do …" (the asker's
    own description says which side "our town hall" is on)."""
    from .extraction import levels_named

    m = _ACTOR_QUESTION.search(question)
    if not m:
        return ()
    actor = m.group(1)
    own = _SELF.search(question)
    if own and _FIRST_PERSON.search(actor):
        described = levels_named(own.group(2))
        if described:
            return tuple(described[:1])
    return tuple(levels_named(actor)[:1])


_ASK_PERSON = re.compile(r"\b(?:what (?:is|was|are|were) the names? of|who (?:is|was|are|were)|name the|names? of)\b", re.I)


def role_pattern(role: str) -> re.Pattern:
    """A role as a whole word, singular or plural, any case: "mayor" matches "Mayor" and "mayors"."""
    return re.compile(rf"\b{re.escape(role)}s?\b", re.I)


def person_asked(question: str) -> str | None:
    """The role whose holder's name the question asks for: "mayor" in "What is the name of the Berlin
    mayor who …?" or "Who is the mayor of Saint-Josse-ten-Noode?" (roles: actors.yaml)."""
    from .domain import get_domain

    if not _ASK_PERSON.search(question):
        return None
    for role in sorted(get_domain().person_roles, key=len, reverse=True):
        if role_pattern(role).search(question):
            return role
    return None


# "Who wrote the EPC brief?", "Who are the authors of the OSCE study?", "written by whom"
# (not "What do the authors of the OSCE study recommend?": that asks what they say)
_ASK_AUTHORS = re.compile(
    r"\bwho (?:wrote|writes|has written|have written|authored|drafted|edited)\b|"
    r"\b(?:written|authored|drafted|edited) by whom\b|\bwho (?:is|are|was|were) (?:the )?(?:authors?|writers?)\b|"
    r"\bnames? of (?:the |its |their )?authors?\b|\bwhich (?:people|researchers|authors|experts) wrote\b",
    re.I,
)
# a question about a report itself: who wrote it (``_ASK_AUTHORS``), commissioned, funded or carries it
# out (answered by its front matter, the sentences about the document that are otherwise never quoted)
_ABOUT_REPORT = re.compile(
    r"\bwho (?:commissioned|funded|funds|financed|finances|sponsored|paid for|pays for|published|publishes|"
    r"carried out|carries out|runs|ran|implemented|implements|was behind|is behind)\b|"
    r"\b(?:written|authored|drafted|edited|commissioned|funded|financed|sponsored|published) by\b",
    re.I,
)
_DOCUMENT = re.compile(r"\b(?:report|study|brief|paper|chapter|publication|project|book|research)\b", re.I)


def about_report(question: str, named: bool) -> bool:
    """Does the question ask who made a report (or the project behind it): "Who drafted the OSCE
    study, and who commissioned it?", "Who pays for the INTERACT project?", "Which researchers wrote
    the EPC brief?"."""
    asks = _ABOUT_REPORT.search(question) or _ASK_AUTHORS.search(question)
    return bool(asks) and (named or bool(_DOCUMENT.search(question)))


def authors_asked(question: str, named_sources: list[str], reports: list[ReportMeta]) -> tuple[str, ...]:
    """For a question asking who wrote the reports it names, the names their authors go by in the
    catalogue (``text.author_names``); () otherwise or when the catalogue does not know them."""
    if not named_sources or not _ASK_AUTHORS.search(question):
        return ()
    by_source = {r.source: r for r in reports}
    return tuple(n for s in named_sources if s in by_source for n in author_names(by_source[s].authors))


def names_authors(text: str, authors: tuple[str, ...]) -> int:
    """How many of ``authors`` (``QueryAnalysis.authors``) the text names, as whole words; a name
    cited with a year ("(Van Ewijk 2013)", "Van Ewijk ( 2013 )") is a reference to other work."""
    return sum(bool(re.search(rf"(?<!\w){re.escape(a)}(?!\w)(?!\s*\(?\s*(?:19|20)\d\d)", text)) for a in authors)


def analyse(question: str, reports: list[ReportMeta]) -> QueryAnalysis:
    named = report_names(question, reports)
    sources = [source for source, _ in named]
    about = about_report(question, bool(named))
    return QueryAnalysis(
        text=question,
        wants_recommendations=bool(_RECOMMEND_Q.search(question)),
        wants_practices=bool(_PRACTICE_Q.search(question)),
        named_sources=sources,
        # what the question is about: without the reports it names and what the asker says of themselves
        focus=without_asker(strip_report_names(question, [n for _, n in named]) if named else question),
        asks=asks_for(question),
        comparative=bool(_COMPARATIVE.search(question)),
        levels=levels_asked(question),
        parts=question_parts(question),
        person_role=person_asked(question),
        about_report=about,
        authors=authors_asked(question, sources, reports) if about else (),
    )
