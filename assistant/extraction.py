"""Sentence-level extraction of practices and recommendations (the rules behind the catalogue).

``classify_statement`` decides for one report sentence whether it states a *practice* (an
identifiable actor did or does something concrete, somewhere) or a *recommendation* (the report
says what someone should do), which level of government acts or is addressed, and which themes it
touches.  The rules are deliberately generic (no sentence of any report is named here):

- recommendations: modal and directive language (``should``, ``must``, ``need to``, ``would do well
  to``, ``it is essential to``, ``there is a need for``), imperative action points and softer
  ``could`` / ``would help`` proposals inside the recommendation and summary sections;
- practices: a named actor or place (gazetteer of cities, regions, countries and demonyms, named
  organisations, capitalised programme names) with an action verb, or an explicit example marker
  ("for example", "a case in point"), minus hedged, generic, negated or research-finding sentences;
- level: the grammatical subject's actor phrase (the first actor mention outside a leading
  adverbial), resolved to origin or destination side by the demonyms and places bound to it;
- themes: the sentence embedding against the theme descriptions of ``taxonomy.THEMES`` plus
  keywords.

Bump ``EXTRACTION_VERSION`` whenever a rule changes: the catalogue cache depends on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .domain import get_domain
from .taxonomy import THEMES

EXTRACTION_VERSION = "3"

# --------------------------------------------------------------------------- gazetteer and actors
# The knowledge of the field (places, demonyms, destination countries, actor phrases, side
# markers, theme keywords) is data: knowledge_base/domain/, loaded once by assistant.domain.

_DOMAIN = get_domain()
_SIDE = {name: c.side for name, c in _DOMAIN.countries.items()}
_ACTOR_RES = [(re.compile(r"(?<![\w-])(?:" + p + r")(?![\w-])", re.I), lvl) for p, lvl in _DOMAIN.actor_patterns]
_ORIGIN_INSTITUTION = re.compile(_DOMAIN.origin_institution) if _DOMAIN.origin_institution else None
_ORIGIN_MARK = re.compile(r"\b(" + _DOMAIN.side_markers.get("origin", "origin") + r")\b", re.I)
_DEST_MARK = re.compile(r"\b(" + _DOMAIN.side_markers.get("destination", "destination") + r")\b", re.I)

# --------------------------------------------------------------------------- statement rules

_CITATION = re.compile(
    r"\s*\((?:[^()]*?\b(?:1[89]|20)\d\d[a-z]?\b[^()]*?|ibid\.?[^()]*|see [^()]*)\)"  # (Smith 2013 ), (ibid.)
    r"|(?<=[A-Za-z])\s*\(\s*(?:1[89]|20)\d\d[a-z]?\s*(?:,\s*[\d–-]+\s*)?\)",  # Smith ( 2010a )
    re.I,
)
_CONNECTOR = re.compile(
    r"^(?:(?:for example|for instance|in addition|moreover|however|therefore|meanwhile|furthermore|finally|"
    r"additionally|nonetheless|nevertheless|by contrast|similarly|in sum|as such|besides|also|indeed|thus|hence|"
    r"in this regard|in this sense|in this context|in particular|in fact|likewise|still|yet|so far|first|second|"
    r"third|fourth|fifth|lastly|notably|to start with|in turn|accordingly|consequently)\s*,?\s+)+",
    re.I,
)
_LEADING_ADVERBIAL = re.compile(
    r"^(?:under|in|within|through|since|although|though|while|whilst|when|as|after|before|with|without|despite|"
    r"beyond|where|if|unless|once|in order to|to|based on|building on|working with|following|according to|"
    r"compared with|compared to|besides|on|at|during|from|via|by|given|against|across|throughout|among|"
    r"until|because|whereas|instead of|rather than|apart from|along with|together with|like|unlike|beside|every|each|"
    r"today|lately|recently|more recently|since then|later|meanwhile)\b",
    re.I,
)

_RECOMMEND_STRONG = re.compile(
    r"\b(should|ought to|would do well to|it is (?:\w+ly )?(?:important|essential|crucial|necessary|vital|advisable|key|critical) "
    r"(?:to|that|for)|it is of (?:great|particular|utmost|crucial|key|vital) importance (?:to|that)|"
    r"deserves? (?:greater|more|further|particular|closer) attention|(?:is|are|remains?) (?:essential|crucial|vital|indispensable) (?:to|for|that)|"
    r"there (?:is|remains)(?:,? (?:still|also|thus|therefore|however|clearly|now),?)* (?:an? )?(?:\w+ )?need (?:for|to)|"
    r"(?:we|the report|this report|the authors?|this (?:brief|chapter|study)) (?:recommends?|suggests?|proposes?|urges?|calls? (?:on|for))|"
    r"(?:is|are) recommended|recommend(?:ed|s)? that|must|needs? to be (?:\w+ly )?\w+(?:ed|en|lt|wn))\b",
    re.I,
)
_RECOMMEND_SOFT = re.compile(
    r"\b(could (?:act|be used|be achieved|serve|help|provide|encompass|play|become|consider|be established|"
    r"support|include|offer|strengthen|improve|contribute|also be|facilitate|promote|benefit|draw|be given|focus)|"
    r"would (?:help|enable|allow|make|improve|ensure|open|strengthen|increase|facilitate|be (?:useful|helpful|beneficial))|"
    r"(?:may|might) be (?:recommended|helpful|useful|advisable)|might be helpful|"
    r"is (?:critical|key|crucial|essential) to|are (?:critical|key|crucial|essential) to)\b",
    re.I,
)
# modal uses that are the author's own hedging, not advice to an actor
_NOT_ADVICE = re.compile(
    r"\b(should be (?:noted|seen|viewed|understood|borne in mind|stressed|emphasi[sz]ed|mentioned|remembered|read|interpreted|considered (?:as|in))|"
    r"should not be (?:overstated|underestimated|exaggerated|overestimated)|it should be|must be (?:noted|seen|viewed|understood)|"
    r"must now|who must|must have|needs? to be (?:noted|seen|viewed|understood|discussed within)|"
    r"needed to be|needed to|had to|was needed|were needed|should have|whose [^,;]{0,40}should|"
    r"it is (?:important|interesting|worth|crucial|essential|necessary|useful) (?:to note|noting|mentioning|to mention|to remember|"
    r"to stress|to discuss|to highlight|to examine|to look at|to recall|to point out|to distinguish|to understand|to emphasi[sz]e))\b",
    re.I,
)
_IMPERATIVE = re.compile(
    r"^(?:improve|forge|make|ensure|develop|support|create|establish|strengthen|promote|provide|encourage|invest|"
    r"involve|include|use|build|consider|foster|adopt|set up|introduce|engage|facilitate|increase|reform|recognise|"
    r"recognize|enable|allow|collect|monitor|evaluate|coordinate|co-ordinate|fund|expand|extend|empower|link|align|"
    r"simplify|streamline|clarify|define|design|pool|share|focus|prioriti[sz]e|reinforce|harmoni[sz]e|avoid|reduce|"
    r"remove|open|guarantee|enhance|institutionali[sz]e|mainstream|address|tackle|offer|give|grant|help|work|take|"
    r"learn|listen|consult|connect|combine|bring|put|keep|start|continue|review|assess|map|target|treat|view|see|"
    r"acknowledge|embed|raise|let|do|don't)\b(?!\s+(?:is|are|was|were|has|have|had|from|of|for|to|in|by|with|on|at|can|could|may|might|will|would|should|must|and|or)\b)(?!,)",
    re.I,
)
# 'Policies need to take into account ...', 'Cities need to rethink ...': what a kind of actor or policy must do
_POLICY_NEEDS_TO = re.compile(
    r"(?:^|[;:]\s+|,\s+(?:and|but|so)\s+)(?:[\w’'-]+\s+){0,5}?(?:policies|policy frameworks?|frameworks?|programmes?|programs?|"
    r"strategies|measures|approaches|arrangements|cities|municipalities|governments?|authorities|stakeholders|actors)"
    r"(?:\s+(?:for|of|on|in)\s+(?:[\w-]+\s+){1,3}?)?\s*(?:also\s+|therefore\s+|further\s+)?"
    r"need\s+to\s+(?!be\s+(?:noted|seen|viewed|understood)\b)\w+",
    re.I,
)
_GERUND_TITLE = re.compile(r"^[A-Z][a-z]+ing\b[^.;:]{0,70}\.?$")

_EXAMPLE_STRONG = re.compile(
    r"\b(for example|for instance|e\.g\.|a case in point|is one such|one such|an example|another example|"
    r"a typical example|examples? (?:include|are|is)|a good example|a dramatic example|positive example|"
    r"a notable example|is a case|one example|a further example|a successful example|successful examples)\b",
    re.I,
)
_EXAMPLE_WEAK = re.compile(r"\b(such as|as in|in the case of|including)\b", re.I)
_YEAR = re.compile(r"\b(?:19[5-9]\d|20[0-4]\d)\b")
_ACTION = re.compile(
    r"\b(set(?:s|ting)? up|established?|establishe?s|establishing|establishment|creat(?:ed|es|ing)|launch(?:ed|es|ing)?|"
    r"introduc(?:ed|es|ing)|develop(?:ed|s|ing)|organi[sz](?:ed|es|ing)|offer(?:ed|s|ing)?|provid(?:ed|es|ing)|"
    r"fund(?:ed|s)|financ(?:ed|es)|cofinanced|co-financed|implement(?:ed|s|ing)?|adopt(?:ed|s)|sign(?:ed|s)|"
    r"host(?:ed|s)|runs?|ran|running|us(?:ed|es)|conduct(?:ed|s)|adapt(?:ed|s)|grant(?:ed|s)|open(?:ed|s)|"
    r"initiat(?:ed|es)|support(?:ed|s)|sought|seeks?|start(?:ed|s)|t(?:ook|aken|akes?) the (?:lead|initiative)|"
    r"partner(?:ed|s)|cooperat(?:ed|es)|co-operat(?:ed|es)|collaborat(?:ed|es)|exchang(?:ed|es)|"
    r"visit(?:ed|s)|train(?:ed|s)|appoint(?:ed|s)|pass(?:ed|es)|enact(?:ed|s)|abolish(?:ed|es)|abolishment|"
    r"withdr(?:ew|awn|aw)|decision to|tackl(?:ed|es)|combin(?:ed|es)|remov(?:ed|es|ing)|pursu(?:ed|es)|"
    r"enlist(?:ed|s)|encourag(?:ed|es)|invit(?:ed|es)|connect(?:ed|s)|links? up|linked|dedicat(?:ed|es)|"
    r"engag(?:ed|es) (?:in|with)|(?:were|was|is|are) engaged|help(?:ed|s)|assist(?:ed|s)|deliver(?:ed|s)|sent|shipping|"
    r"construction of|buil[dt]s?|called attention|argued for|voted|respond(?:ed|s)|negotiat(?:ed|es)|"
    r"lobbying|mapp?(?:ed|s)|refer(?:red|s)|allocat(?:ed|es)|sets? out|operat(?:ed|es)|facilitat(?:ed|es)|"
    r"arrang(?:ed|es)|forged|integrated into|implements|has its own|have their own|"
    r"is a focus|are run|is run|was run|been running|been introduced|was first introduced|"
    r"is developing|are developing|is engaging|are formulating|are being pursued|"
    r"moved|enabled?|stimulat(?:ed|es|ing)|fulfilled|received|receive|welcom(?:ed|es)|recruit(?:ed|s)|"
    r"has managed|have managed|managed to|block(?:ed)?|made it|makes it|produced|publish(?:ed|es)|"
    r"promot(?:ed|es)|merg(?:ed|es)|consult(?:s|ed)|channel(?:l)?ed|devis(?:ed|es)|formed|"
    r"(?:has|have) made [^.;]{0,60}?priorit(?:y|ies)|"
    r"contacts with|worked together|work together|implement|played (?:a|an) \w+ role|involved in|"
    r"follows|lost|continue to|implement|link(?:s|ed)? up|sign up|became involved|mention(?:s|ed)? the)\b",
    re.I,
)
_ACTION_NOUN = re.compile(r"\b(campaigns?|exhibitions?|initiatives?|programmes?|programs?|projects?|partnerships?|agreements?|"
                          r"charters?|strateg(?:y|ies)|centers?|centres?|desks?|offices?|services?|network)\b", re.I)
_FOUNDED = re.compile(r"\b(?:was|were|has been|have been) (?:created|established|set up|launched|founded)\b", re.I)
_HEDGE = re.compile(r"\b(may|might|could|would)\b", re.I)
_NEGATION = re.compile(
    r"\b(?:(?:do|does|did|have|has|had|is|are|was|were|can|could|will|would)\s+(?:not|never)|\w+n't|no longer|"
    r"neither|nor|little to no|hardly|rarely|no \w+ (?:is|are|was|were|has|have)|there (?:are|is|were|was) (?:few|no|little))\b",
    re.I,
)
_FINDING = re.compile(
    r"(\b(?:research (?:has )?(?:indicated|indicates|shows|showed|suggests)|studies (?:show|indicate|suggest|point)|"
    r"survey showed|evaluations? (?:found|show)|it is estimated|are thought|is thought|is said|are said|"
    r"percent|per cent|figures|million|billion|scientific research|empirical evidence|few studies|"
    r"authors? (?:refer|argue|emphasi[sz]e)|participation rates|"
    r"it is (?:\w+ )?(?:recogni[sz]ed|acknowledged|argued|assumed|believed|known|estimated|expected|observed)|"
    r"^(?:researchers|scholars|studies|experts|interviewees|respondents|the literature|research|evaluations)\b|"
    r"^the (?:main |key |overarching |primary )?(?:motivation|reason|aim|objective|goal|purpose|challenge|problem|question|idea|point)s?\b|"
    # a study's result, not an actor's deed: 'an analysis of 22 cities shows', 'the findings reveal', 'it can be assumed'
    r"(?:analysis|analyses|review|study|report|survey|findings?|evaluation|research|index|data)\b[^.;]{0,90}?\b(?:shows?|showed|confirms?|"
    r"confirmed|reveals?|revealed|suggests?|suggested|indicates?|indicated|highlighted|finds|found)\b|"
    r"it can be (?:assumed|seen|observed|argued)|one can (?:observe|see)|can be observed)\b|%)",
    re.I,
)
_ATTITUDE = re.compile(
    r"^\W*(?:\w+\W+){0,2}?(?:fear|fears|feared|worry|worries|believe|believes|feel|feels|felt|think|thinks|hope|hopes|"
    r"expect|expects|claim|claims|declare|declares|consider|considers|see|sees|perceive|perceive[sd]|"
    r"are (?:highly )?valued|is (?:highly )?valued|remain|remains|tend to|struggl\w+|(?:have|has) (?:often )?prove[nd]|"
    r"proved to be|seems?|appears?|argue[sd]?|state[sd]?|said|says|noted|pointed out|indicated?|indicates|cited|"
    r"stressed|mentioned|emphasi[sz]ed|explained|admitted|acknowledged)\b",
    re.I,
)
_SELF_REFERENCE = re.compile(
    r"\b(?:this|the present|our) (?:policy brief|brief|report|chapter|policy study|study|paper|review|publication|section)\b|"
    r"^(?:in the following, )?we (?:will|shall|first|then|now)\b",
    re.I,
)
_GENERIC_SUBJECT = re.compile(
    r"^(?:the )?(?:many|most|some|several|numerous|a few|few|various|other|all|such|these|those|more and more|"
    r"an increasing number of|a growing number of|(?:the )?(?:great )?majority of|a large number of|a number of|"
    r"the bulk of|both)\b",
    re.I,
)
_PRONOUN_START = re.compile(r"^(?:it|they|the city|the municipality|the town|the region|the program(?:me)?|"
                            r"the project|the initiative|the platform|the partnership|the network|the office|"
                            r"this programme|this program|the campaign|the organi[sz]ation|the association|he|she|its|their|"
                            r"additional resources|the (?:service|centre|center|scheme|fund|strategy|charter))\b", re.I)
_PARTICIPLE = r"(?:\w+(?:ed|en|lt|wn)|run|set|led|held|made|paid|built|sent|done|put|brought|sought|taught|bought)"
_PASSIVE_BY = re.compile(r"\b(?:is|are|was|were|been|being) (?:\w+ly )?" + _PARTICIPLE + r" by\s+", re.I)
_PASSIVE = re.compile(r"\b(?:has|have|had) been " + _PARTICIPLE + r"\b|\b(?:is|are|was|were) (?:\w+ly )?" + _PARTICIPLE + r" by\b", re.I)
_PASSIVE_NO_AGENT = re.compile(r"^\W*(?:[\w-]+\s+){0,4}?(?:is|are|was|were|has been|have been)\s+(?:\w+ly\s+)?" + _PARTICIPLE + r"\b(?!\s+by\b)", re.I)
_GERUND_START = re.compile(r"^[A-Z][a-z]+ing\b(?! (?:is|are|was|were)\b)")
_ATTRIBUTION = re.compile(
    r"^(?:it is (?:important|interesting|worth|crucial) (?:to )?(?:note|noting|mention|mentioning|stress)(?: here)? that\s+|"
    r"(?:according to|as (?:stated|noted|explained|described|reported|argued) by) [^,]{2,90},\s*|"
    r"the (?:literature|research|study|studies) (?:describes?|mentions?|reports?|refers? to)\s+|(?:[A-Z][\w’'-]+(?:\s(?:and|&)\s[A-Z][\w’'-]+|\s[A-Z][\w’'-]+|\sand colleagues|\set al\.?)?)\s*"
    r"(?:\(\s*(?:ibid\.?|[^)]*\d{4}[a-z]?[^)]*)\s*\))?\s+"
    r"(?:reports?|observes?|notes?|argues?|describes?(?: how)?|recalls?|mentions?|points? out|shows?|finds?|found|"
    r"states?|indicates?|suggests?|discuss(?:es)?|refers? to)(?: that)?,?\s+(?:in this respect,?\s*|for instance,?\s*)?)",
)
_QUESTION = re.compile(r"\?\s*$")
# a proper name or acronym opening the clause: an acronym with its verb ('KWS links up ...'), or a name
# introduced as an instance of what the sentence before described ('Amani is one such organization')
_NAMED_SUBJECT = re.compile(
    r"\s*([A-Z]{2,6}(?=\s(?!(?:is|are|was|were)\b)[a-z]+(?:s|ed)\s)|[A-Z][\w-]+(?: [A-Z][\w-]+){0,2}"
    r"(?= (?:is|was) (?:one such|another such|an example|one example|a case in point)\b))"
)
_CAPNAME = re.compile(r"(?<!^)(?<![.!?:]\s)\b[A-Z][A-Za-zÀ-ÿğşıİ’'-]{1,}")
_STOP_CAPS = {
    "The", "This", "These", "Those", "In", "For", "It", "They", "But", "And", "However", "While", "Although",
    "Local", "National", "European", "Member", "States", "State", "City", "Cities", "Council", "Commission",
    "Box", "Note", "Sources", "Source", "See", "Table", "Figure", "Europe", "EU", "Union", "Western", "Eastern",
    "Northern", "Southern", "Nordic", "West", "East", "North", "South", "Integration", "Migration", "NGO", "NGOs",
    "CSO", "CSOs", "EU’s", "EU's", "MEPs", "Global", "South", "Latin", "America", "African", "Africa", "Asian",
    "Europe’s", "European Union", "Member States", "EU-level", "Ibid", "II", "III", "IV", "I",
}
_GENERIC_NAMED = {"member states", "states", "eu", "the eu", "ngos", "ngo", "csos", "cso", "meps", "eu level",
                  "european level", "eu funds", "eu funding", "eu institutions", "eu bodies", "european institutions",
                  "european actors"}
_PART_OF = re.compile(r"\b(?:section|sections|branch|branches|office|offices|chapter|arm)\s+of\s+(?:the\s+)?$", re.I)
_PREPOSITION_BEFORE = re.compile(
    r"(?:\b(?:with|between|to|from|for|by|of|in|into|among|towards|against|on|at|across|within|through|about|"
    r"and|or|than|like|via|throughout|inside|outside|around|beyond|under|over)|’s|'s)\s+(?:the\s+|a\s+|an\s+|its\s+|their\s+|other\s+|"
    r"several\s+|various\s+|many\s+|some\s+|(?-i:[a-z][\w-]*)\s+)?$",
    re.I,
)


# --------------------------------------------------------------------------- public API


@dataclass
class StatementLabel:
    """What ``classify_statement`` found in one sentence."""

    kind: str | None  # 'practice' | 'recommendation' | None
    level: str | None  # a taxonomy.LEVELS id, or None when no actor is named
    themes: list[str] = field(default_factory=list)
    actor: str = ""
    country: str = ""
    place: str = ""
    score: float = 0.0  # the practice score (debugging) or 1.0 for recommendations
    rule: str = ""  # which rule decided the kind
    context_level: str | None = None  # the last actor's level in the passage so far (for the next sentence)
    context_place: str = ""
    context_country: str = ""
    context_actor: str = ""
    context_practice: bool = False  # an earlier sentence of the passage is a practice


@dataclass
class _Mention:
    start: int
    end: int
    text: str
    level: str
    place: str = ""
    country: str = ""
    oblique: bool = False  # after a preposition: not a subject


@lru_cache(maxsize=8192)
def places(text: str) -> tuple[tuple[str, str, str], ...]:
    """(name, country, kind) of each city, region and country (name or demonym) named in ``text``;
    kind is 'city', 'region' or 'country'. Cached: the scorer, the gate and the composer read the
    same sentences for every name and country a question asks about."""
    return tuple((name, country, kind) for _, _, name, country, kind in _places(text))


def countries_named(text: str) -> frozenset[str]:
    """The countries ``text`` names: by name or adjective, or as the country of a place it names
    ("Zurich (CH)" → Switzerland, "Vienne (France)" → France)."""
    return frozenset(country for _, country, _ in places(text) if country)


def country_of_place(place: str) -> str:
    """The country of a city or region of the gazetteer ('' when unknown)."""
    return _DOMAIN.country_of_place(place)


def strip_citations(text: str) -> str:
    return re.sub(r"\s{2,}", " ", _CITATION.sub("", text)).strip()


def _strip_connectors(text: str) -> str:
    return _CONNECTOR.sub("", text).strip()


def _places(text: str) -> list[tuple[int, int, str, str, str]]:
    """(start, end, name, country, kind) for each named city/region and country in ``text``."""
    out = []
    for start, end, name, country, kind in _DOMAIN.find_places(text):
        if name in ("US",) and not re.search(r"\bUS\b", text):
            continue
        out.append((start, end, name, country, kind))
    return out


def _side_for(text: str, m_start: int, m_end: int, places) -> tuple[str | None, str, str]:
    """(side, place, country) bound to the actor mention text[m_start:m_end]: names in the noun
    phrase before it (up to 4 words, 'Senegalese municipalities', 'Lyon’s city administration') or
    in an 'of/in X' phrase right after it ('the municipality of Thiès', 'municipalities in Senegal')."""
    before = text[max(0, m_start - 45) : m_start]
    # cut the window at a clause boundary
    before = re.split(r"[;:,.()]|\b(?:and|or|with|between|to|from|by|than|that|which|who)\b", before)[-1]
    after_full = text[m_end : m_end + 60]
    after = ""
    am = re.match(r"\s*(?:of|in|from|at|across|throughout)\s+(?:the\s+)?(?:northern |southern |eastern |western |central |rural |small |large |big |partner )?([^;:,.()]{0,45})", after_full)
    if am:
        after = am.group(0)
    pb = len(text[: m_start]) - len(before)
    bound = []
    for s, e, name, country, kind in places:
        if pb <= s < m_start or (after and m_end <= s < m_end + len(after)) or (m_start <= s < m_end):
            bound.append((name, country, kind))
    side = None
    place = country_name = ""
    for name, country, kind in bound:
        if kind in ("city", "region") and not place:
            place = name
        if not country_name and country:
            country_name = country
    if country_name:
        side = _SIDE.get(country_name)
    window = before + text[m_start:m_end] + after
    if _ORIGIN_MARK.search(window) and not re.search(r"\borigins? of\b|\bmigrant origin\b", window, re.I):
        side = "origin" if side != "destination" or not bound else side
    elif side is None and _DEST_MARK.search(window):
        side = "destination"
    return side, place, country_name


_TIER = {
    "local": ("origin_municipality", "destination_city"),
    "regional": ("origin_region", "destination_region"),
    "national": ("origin_national", "destination_national"),
}


def _mentions(text: str, places, default_side: str | None = None) -> list[_Mention]:
    found: list[_Mention] = []
    taken: list[tuple[int, int]] = []
    for rx, lvl in _ACTOR_RES:
        for m in rx.finditer(text):
            s, e = m.start(), m.end()
            if any(a < e and s < b for a, b in taken):
                continue
            taken.append((s, e))
            found.append(_Mention(s, e, m.group(0), lvl))
    # a named city or region used as an actor ("Lyon tackles", "Tampere’s strategy"),
    # not as a location ("in Catalonia", "with Thiès")
    for s, e, name, country, kind in places:
        if kind == "country" or any(a <= s < b for a, b in taken):
            continue
        found.append(_Mention(s, e, name, "local" if kind == "city" else "regional", name, country))
    # a country's government acting ("Germany follows", "the Dutch government")
    for s, e, name, country, kind in places:
        if kind != "country" or any(a <= s < b for a, b in taken):
            continue
        tail = text[e : e + 60]
        if name == country and not _PREPOSITION_BEFORE.search(text[max(0, s - 30) : s]) and (
            _VERB_AFTER.match(tail) or re.match(r"\s+is among\b", tail)
        ):
            found.append(_Mention(s, e, name, "national", "", country))
    resolved = []
    parens = [(m.start(), m.end()) for m in re.finditer(r"\([^()]*\)|\[[^\[\]]*\]", text)]
    for mt in found:
        before = text[max(0, mt.start - 30) : mt.start]
        oblique = bool(_PREPOSITION_BEFORE.search(before)) or any(a < mt.start < b for a, b in parens)
        if oblique and _PART_OF.search(before):
            oblique = False  # 'the German section of the Council of ...': the organisation acts
        if mt.level in _TIER:
            side, place, country = _side_for(text, mt.start, mt.end, places)
            if mt.place:
                country = mt.country or country
                side = _SIDE.get(country, side)
                place = mt.place
            origin_lvl, dest_lvl = _TIER[mt.level]
            if mt.level == "national" and _ORIGIN_INSTITUTION is not None and _ORIGIN_INSTITUTION.search(mt.text):
                side = "origin"  # a state's own institution for its citizens abroad
            side = side or default_side
            level = origin_lvl if side == "origin" else dest_lvl
            resolved.append(_Mention(mt.start, mt.end, mt.text, level, place, country, oblique))
        else:
            _, place, country = _side_for(text, mt.start, mt.end, places)
            resolved.append(_Mention(mt.start, mt.end, mt.text, mt.level, place, country, oblique))
    resolved.sort(key=lambda m: m.start)
    # a place used as a location is no actor of its own
    return [m for m in resolved if not (m.oblique and m.text == m.place)]


_VERB_AFTER = re.compile(
    r"^(?:’s?|'s?)?(?:\s+(?:of|in|from)\s+(?:the\s+)?(?:\d+\s+)?(?:[a-z]+ern\s+)?[A-Z][\w-]*(?:\s(?:[a-z]+\s)?[A-Z][\w-]*)*(?:,\s[A-Z][\w-]+,)?)?(?:\s*\([^)]*\))?"
    r"(?:\s+(?:\w+ly|also|now|already|still|often|even|themselves|itself|too|in \w+))*\s+"
    r"(?:has|have|had|is|are|was|were|will|can|could|should|must|may|might|would|need|needs|do|does|did|shall|ought|"
    r"lost|set|put|led|held|made|paid|built|sent|ran|run|took|gave|began|became|brought|found|sought|won|kept|left|met|"
    r"spent|grew|chose|saw|knew|thought|told|said|got|went|came|continue|face|play|work|offer|receive|implement|use|"
    r"run|provide|organi[sz]e|support|seek|take|develop|help|fund|operate|apply|adapt|hold|pursue|combine|"
    r"[a-z]+ed|[a-z]+es|[a-z]+[^s\W]s)\b",
)


def _main_clause_start(text: str, mentions: list[_Mention] | None = None) -> int:
    """Offset where the main clause probably starts: after a leading adverbial phrase. With several
    commas, the first comma that is followed by a subject-like actor mention ('..., cities are')."""
    if not _LEADING_ADVERBIAL.match(text):
        return 0
    commas = [m.end() for m in re.finditer(r",", text)]
    commas = [c for c in commas if c < len(text) * 0.8]
    if not commas:
        return 0
    for c in commas:
        rest = text[c:]
        for mt in mentions or []:
            if c <= mt.start <= c + 25 and _VERB_AFTER.match(text[mt.end : mt.end + 45]) and not mt.oblique:
                if re.match(r"\s*(?:such as|including|e\.g\.|like)\b", rest, re.I):
                    break
                return c
    if re.match(r"(?:where|when|if|although|though|while|whilst|whereas|because|since|as|unless|once)\b", text, re.I):
        return commas[0]
    if _PRONOUN_START.match(text[commas[0] :].strip()):
        return commas[0]  # 'Before the 2019 elections, the platform organised ...'
    return 0


def _subject(text: str, mentions: list[_Mention], kind: str | None) -> _Mention | None:
    if not mentions:
        return None
    start = _main_clause_start(text, mentions)
    if kind == "recommendation":
        # the actor right before the modal ("member states should", "the Commission should")
        m = re.search(r"\b(should|must|ought to|would do well|needs? to|could|would|there is|there remains)\b", text)
        if m:
            before = [mt for mt in mentions if mt.end <= m.start() and mt.start >= start]
            if not before and re.search(r"\b(?:they|it)\s+(?:\w+\s+)?$", text[: m.start()], re.I):
                # 'If and when subnational authorities seek ..., they must ...'
                before = [mt for mt in mentions if mt.end <= m.start() and not mt.oblique]
            if before:
                clause_start = max([0] + [x.end() for x in re.finditer(r"[;:]|,\s(?!and\b)", text[: m.start()])])
                in_clause = [mt for mt in before if mt.start >= clause_start] or before
                direct = [mt for mt in in_clause if not mt.oblique]
                return (direct or in_clause)[0]
            after = [mt for mt in mentions if mt.start >= m.end()]
            for mt in after:
                # passive / receiver constructions: the agent ('by X', 'from X'), the partner ('between X')
                if re.search(r"\b(?:by|from|between)\s+(?:the\s+)?(?:\w+\s+){0,2}$", text[max(0, mt.start - 25) : mt.start]):
                    return mt
            direct_after = [mt for mt in after if not mt.oblique and _VERB_AFTER.match(text[mt.end : mt.end + 60])]
            return direct_after[0] if direct_after else None
    main = [mt for mt in mentions if mt.start >= start] or mentions
    # a passive with its agent: '... are run by the city administration'
    for m in _PASSIVE_BY.finditer(text):
        agent = next((mt for mt in main if m.end() <= mt.start <= m.end() + 12), None)
        if agent is not None:
            return agent
    direct = [mt for mt in main if not mt.oblique]
    for mt in direct[:4]:
        if _VERB_AFTER.match(text[mt.end : mt.end + 60]):
            return mt
    return (direct or main)[0]


# levels close enough that a question about one is served by records of the other: an official of
# an origin-country municipality is addressed by what the reports ask of 'subnational authorities'
RELATED_LEVELS: dict[str, tuple[str, ...]] = {
    "origin_municipality": ("origin_region",),
    "origin_region": ("origin_municipality",),
    "destination_city": ("destination_region",),
    "destination_region": ("destination_city",),
}


def levels_named(text: str) -> list[str]:
    """The levels of government a text (a question) names as actors, in order of mention:
    'How can an origin-country municipality support ...' -> ['origin_municipality']."""
    core = " ".join(text.split())
    places = _places(core)
    sides = {_SIDE.get(p[3]) for p in places if p[3]}
    mentions = _mentions(core, places, sides.pop() if len(sides) == 1 else None)
    out: list[str] = []
    for mt in mentions:
        if mt.level not in out:
            out.append(mt.level)
    return out


def _named_entity(text: str, places, mentions, scholars: set[str]) -> bool:
    if places:
        return True
    for mt in mentions:
        low = mt.text.lower()
        if mt.text[:1].isupper() and low not in _GENERIC_NAMED and not low.startswith(("the ", "national", "local", "municipal", "city", "cities")):
            return True
        if low.startswith("the ") and mt.text[4:5].isupper() and low not in _GENERIC_NAMED:
            return True
    for m in _CAPNAME.finditer(text):
        w = m.group(0)
        base = re.sub(r"(?:’s|'s|’)$", "", w)
        if base in _STOP_CAPS or base in scholars or m.start() == 0:
            continue
        if any(mt.start <= m.start() < mt.end for mt in mentions):
            continue  # already judged above
        return True
    return False


def _scholars(text: str) -> set[str]:
    """Names cited as literature: 'Smith ( 2013 )', 'Jones and Brown (2012)', 'Garcia and colleagues'."""
    out = set()
    for m in re.finditer(r"((?:[A-Z][\w’'-]+\s?){1,3})\s*(?:\(\s*(?:ibid|(?:1[89]|20)\d\d)|and colleagues|et al)", text):
        out.update(m.group(1).split())
    for m in re.finditer(r"\b([A-Z][\w’'-]+)\s+(?:and|&)\s+([A-Z][\w’'-]+)\s*\(", text):
        out.update(m.groups())
    return out


def _practice_score(core: str, text: str, places, mentions, subject, previous: StatementLabel | None,
                    scholars: set[str], main_start: int) -> tuple[float, str]:
    score, why = 0.0, []
    main = core[main_start:]
    if _named_entity(core, places, mentions, scholars):
        score += 1.5
        why.append("named")
    if _EXAMPLE_STRONG.search(text):
        score += 1.2
        why.append("example")
    elif _EXAMPLE_WEAK.search(text):
        score += 0.4
        why.append("example-weak")
    if _ACTION.search(core):
        score += 1.0
        why.append("action")
    elif _ACTION_NOUN.search(core):
        score += 0.5
        why.append("action-noun")
    if _YEAR.search(core):
        score += 0.4
        why.append("year")
    if _FOUNDED.search(core):
        score += 0.4  # 'A migration observatory was created in 2010': an institution set up
        why.append("founded")
    if subject is not None:
        score += 0.8
        why.append("actor")
    continues = previous is not None and (previous.kind == "practice" or previous.context_practice)
    anaphora = bool(_PRONOUN_START.match(main.strip()))
    if continues and (anaphora or (_PASSIVE.search(main) and (subject is None or subject.oblique))):
        score += 1.8
        why.append("continues-practice")
    elif anaphora and previous is not None and previous.context_level:
        score += 0.6
        why.append("anaphora")
    if subject is not None and re.match(r"\s+(?:\w+ly\s+)?can\b", core[subject.end : subject.end + 20]):
        score -= 1.0
        why.append("-can")
    # hedges and negations count in the main clause only, not in 'how ... might', 'which ... could'
    head = re.split(r"\b(?:how|which|that|whether|if|who|whom|where|when|so that|because|although|while)\b", main, maxsplit=1)[0]
    if _HEDGE.search(head):
        score -= 1.4
        why.append("-hedge")
    if _NEGATION.search(head):
        score -= 1.5
        why.append("-negation")
    if _FINDING.search(core):
        score -= 1.0
        why.append("-finding")
    if subject is not None and _ATTITUDE.match(core[subject.end :]):
        score -= 1.5
        why.append("-attitude")
    if _SELF_REFERENCE.search(core):
        score -= 2.0
        why.append("-self")
    if _GENERIC_SUBJECT.match(main.strip()) and not places:
        score -= 1.2
        why.append("-generic")
    if _GERUND_START.match(core) and subject is None:
        score -= 1.0
        why.append("-gerund")
    if len(core.split()) < 7:
        score -= 1.0
        why.append("-short")
    return score, ",".join(why)


PRACTICE_THRESHOLD = 3.2


def classify_statement(
    sentence: str,
    section_kind: str = "body",
    vector: np.ndarray | None = None,
    *,
    previous: StatementLabel | None = None,
) -> StatementLabel:
    """Label one report sentence: practice, recommendation or neither; level; themes.

    ``previous`` is the label of the sentence before it in the same passage: a sentence that goes on
    about the same actor ("It creatively adapted ...", "The city has also ...") inherits its actor
    and place.  ``vector``: the sentence's normalised embedding (for the themes); without it only
    keywords are used.
    """
    text = " ".join(sentence.split())
    themes = classify_themes(text, vector)
    ctx = previous
    if (not text or _QUESTION.search(text) or section_kind == "footnote" or len(text.split()) < 3
            or re.match(r"(?:\d+\s+)?(?:Sources?|Notes?|See|Figure|Table|Box \d+)\b\s*[:.]?", text)
            or re.search(r"https?://|www\.", text)):
        return _with_context(StatementLabel(None, None, themes), ctx)
    scholars = _scholars(text)
    core = _strip_connectors(strip_citations(text))
    core = _ATTRIBUTION.sub("", core, count=1)
    core = core[:1].upper() + core[1:] if core else core
    places = _places(core)
    sides = {_SIDE.get(p[3]) for p in places if p[3]}
    default_side = sides.pop() if len(sides) == 1 else None
    if default_side is None and not sides and previous is not None and previous.context_country:
        default_side = _SIDE.get(previous.context_country)
    mentions = _mentions(core, places, default_side)

    kind, rule = None, ""
    advice_text = _NOT_ADVICE.sub(" ", core)
    in_recs = section_kind in ("recommendations", "summary")
    if _RECOMMEND_STRONG.search(advice_text):
        kind, rule = "recommendation", "modal"
    elif any(re.match(r"\s+needs?\s+to\b", core[mt.end : mt.end + 12]) for mt in mentions if not mt.oblique):
        kind, rule = "recommendation", "actor-needs-to"
    elif _POLICY_NEEDS_TO.search(core) and not _NOT_ADVICE.search(core):
        kind, rule = "recommendation", "policy-needs-to"
    elif in_recs and _RECOMMEND_SOFT.search(advice_text):
        kind, rule = "recommendation", "soft-modal"
    elif in_recs and _IMPERATIVE.match(core) and not _GERUND_TITLE.match(core):
        kind, rule = "recommendation", "imperative"
    if kind and _SELF_REFERENCE.search(core) and re.match(r"(?:in the following, )?we\b", core, re.I):
        kind = None  # 'we will first highlight the principles ... must meet': the report's plan
    # reported demands of third parties are not the report's recommendations
    if kind and re.search(r"\b(they|cities|municipalities|networks) (?:urge|demand|call|argue|declare)\b", core, re.I):
        kind = None

    subject = _subject(core, mentions, kind)
    main_start = _main_clause_start(core, mentions)
    if kind is None and previous is not None and previous.context_level:
        # 'KWS links up regional networks ...', 'Amani is one such organization': a name the passage
        # introduced before, as the subject of its own clause, is the passage's actor going on
        starts = [main_start]
        if _LEADING_ADVERBIAL.match(core) and "," in core:
            starts.append(core.index(",") + 1)  # 'To that end, KWS forged ...'
        m = next((x for x in (_NAMED_SUBJECT.match(core, st) for st in starts) if x), None)
        if (m and m.group(1) not in _STOP_CAPS and not any(p[0] == m.start(1) for p in places)
                and (subject is None or subject.oblique or subject.start > m.start(1))):
            subject = _Mention(m.start(1), m.end(1), m.group(1), previous.context_level)
            mentions = sorted(mentions + [subject], key=lambda x: x.start)
    score = 1.0 if kind else 0.0
    if kind is None:
        score, rule = _practice_score(core, text, places, mentions, subject, previous, scholars, main_start)
        if score >= PRACTICE_THRESHOLD:
            kind = "practice"

    if kind == "recommendation" and rule == "imperative":
        subject = None  # 'Empower the local level': the level named is the object; the addressee is unsaid
    level = subject.level if subject else None
    actor = subject.text if subject else ""
    place = subject.place if subject else ""
    country = subject.country if subject else ""
    if kind == "practice":
        if not place:
            place = next((p[2] for p in places if p[4] in ("city", "region")), "")
        if not country:
            country = next((p[3] for p in places if p[3]), "")
        pron = _PRONOUN_START.match(core[main_start:].strip())
        if previous is not None and (subject is None or pron or subject.oblique):
            # 'It creatively adapted ...', 'The city has also ...', 'Additional resources were used by the
            # city ...': the actor of the sentences before
            own = subject is not None and pron is not None and subject.start <= main_start + 6  # 'The city has ...'
            if previous.context_level and not own and (
                subject is None or pron or subject.level == previous.context_level
                or (subject.oblique and _PASSIVE_NO_AGENT.search(core[main_start:]))  # 'Links were established with towns in ...'
            ):
                level = previous.context_level
                actor = previous.context_actor or actor
            if not place and previous.context_place:
                place, country = previous.context_place, previous.context_country or country
        if place and level in ("destination_city", "origin_municipality"):
            side = _SIDE.get(country or _DOMAIN.country_of_place(place))
            if side:
                level = "origin_municipality" if side == "origin" else "destination_city"
    elif kind == "recommendation":
        place = country = ""
    label = StatementLabel(kind, level, themes, actor, country, place, round(score, 3), rule)
    return _with_context(label, ctx, next((p[3] for p in places if p[3]), ""))


def _with_context(label: StatementLabel, previous: StatementLabel | None, sentence_country: str = "") -> StatementLabel:
    """Carry the passage's running context (last actor, place, country) to the next sentence."""
    prev = previous
    label.context_practice = label.kind == "practice" or bool(prev is not None and prev.context_practice)
    label.context_level = label.level or (prev.context_level if prev else None)
    label.context_actor = label.actor if label.level else (prev.context_actor if prev else "")
    same_actor = prev is not None and (not label.level or prev.context_level == label.level)
    label.context_place = label.place or (prev.context_place if same_actor else "")
    label.context_country = label.country or sentence_country or (prev.context_country if prev else "")
    return label


# --------------------------------------------------------------------------- themes

_THEME_KEYWORDS: dict[str, str] = {t["id"]: t["keywords"] for t in _DOMAIN.themes if t.get("keywords")}
_THEME_KW_RES = {k: re.compile(v, re.I) for k, v in _THEME_KEYWORDS.items()}

_theme_matrix: np.ndarray | None = None
_theme_mean: np.ndarray | None = None
_theme_std: np.ndarray | None = None
_theme_ids: list[str] = [t.id for t in THEMES]
THEME_MIN_SCORE = 1.3


def set_embedder(embedder, reference_vectors: np.ndarray | None = None) -> None:
    """Embed the theme descriptions once (called by the catalogue with the index's embedder).
    ``reference_vectors`` (the corpus's sentence vectors) calibrate each theme's similarity: this
    model finds every sentence of these reports fairly close to 'diaspora and development', so a
    theme counts by how much more similar a sentence is than the corpus usually is (z-score)."""
    global _theme_matrix, _theme_mean, _theme_std
    if _theme_matrix is None and embedder is not None:
        texts = [f"{t.name}: {t.description}" for t in THEMES]
        _theme_matrix = np.asarray(embedder.embed(texts), dtype=np.float32)
    if _theme_matrix is not None and reference_vectors is not None and len(reference_vectors) > 20:
        sims = np.asarray(reference_vectors, dtype=np.float32) @ _theme_matrix.T
        _theme_mean, _theme_std = sims.mean(axis=0), sims.std(axis=0) + 1e-6


def theme_matrix() -> np.ndarray | None:
    return _theme_matrix


def theme_scores(text: str, vector: np.ndarray | None = None) -> dict[str, float]:
    """Per theme: keyword evidence (1 for one keyword, up to 1.5) plus, with a vector, the
    calibrated embedding similarity (z-score against the corpus, 0 when below average)."""
    scores: dict[str, float] = {}
    for tid, rx in _THEME_KW_RES.items():
        n = len(rx.findall(text))
        if n:
            scores[tid] = 1.0 + 0.25 * min(n - 1, 2)
    if vector is not None and _theme_matrix is not None:
        sims = _theme_matrix @ np.asarray(vector, dtype=np.float32)
        if _theme_mean is not None:
            z = (sims - _theme_mean) / _theme_std
        else:
            z = (sims - sims.mean()) / (sims.std() + 1e-6)
        for tid, zi in zip(_theme_ids, z):
            if zi > 0:
                scores[tid] = scores.get(tid, 0.0) + float(zi)
    return scores


def classify_themes(text: str, vector: np.ndarray | None = None, max_themes: int = 3) -> list[str]:
    """Themes by keywords and, with a sentence vector, by calibrated similarity to the theme
    descriptions of ``taxonomy.THEMES``."""
    ranked = sorted(theme_scores(text, vector).items(), key=lambda kv: kv[1], reverse=True)
    chosen = [tid for tid, sc in ranked[:max_themes] if sc >= THEME_MIN_SCORE]
    if not chosen and ranked and ranked[0][1] >= 1.0:
        chosen = [ranked[0][0]]
    return chosen


# --------------------------------------------------------------------------- summaries

def summarise(statement: str, max_words: int = 40) -> str:
    """A short, cleaned version of the report's sentence (nothing added): connectors and
    literature references removed, cut at a clause boundary when long."""
    text = strip_citations(" ".join(statement.split()))
    text = _CONNECTOR.sub("", text).strip()
    text = re.sub(r"^(?:Examples include|An example is|Another example is|A case in point is|"
                  r"It is (?:important|interesting|worth) (?:to )?(?:note|noting|mention|mentioning)(?: here)? that)\s+", "", text)
    if text:
        text = text[0].upper() + text[1:]
    words = text.split()
    if len(words) > max_words:
        head = " ".join(words[:max_words])
        cut = max(head.rfind("; "), head.rfind(" — "), head.rfind("—"), head.rfind(", which"), head.rfind(", while"))
        if cut > len(head) * 0.45:
            head = head[:cut]
        text = head.rstrip(" ,;:—-") + " …"
    elif text and text[-1] not in ".!?…”\"’":
        text += "."
    return text

