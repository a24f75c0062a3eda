"""The gate stage: answer, or decline and say why.

A question is declined when

* it tries to make the assistant leave its sources (``injection``) or asks for its own opinion
  (``opinion``) — decided by ``guard.classify`` before retrieval;
* it names something the reports never mention (a place, an acronym, a year: ``unknown_terms``)
  and the rest of it is not strongly covered either;
* the evidence is weak (``weak_evidence``): the best quotable sentence is neither close to the
  question nor covers its terms, and the best passage is not close either;
* it asks for a figure or a year and no probable sentence gives one (``missing_fact``): the reply
  says so first and then quotes what the reports do say on the topic.

The thresholds are in ``Settings.gate`` and calibrated on the dev set (``python -m evals.calibrate``).
"""

from __future__ import annotations

import re

from .analysis import document_phrases, names_authors, role_pattern
from .counted import asks_total, counted_noun, gives_count, gives_figure_of, measured_subject
from .domain import get_domain
from .extraction import countries_named
from .guard import unknown_terms
from .models import (
    GateDecision,
    Hit,
    QueryAnalysis,
    ReportMeta,
    Rewrite,
    ScoredSentence,
)
from .prompts import load_prompt
from .scoring import MADE_BY, UNQUOTABLE, evidence_strength
from .settings import GateSettings
from .text import QUESTION_NOISE, content_terms, name_key

MISSING_FACT_TEXT = {
    "number": "The reports do not give this figure. What they say on the topic:",
    "year": "The reports do not give this date. What they say on the topic:",
    "place": "The reports do not name such a place. What they say on the topic:",
    "person": "The reports do not name this person. What they say on the topic:",
    "slot": "The reports do not say this about {slot}. What they say on the topic:",
}


def missing_fact_preface(missing: str | None, slot: str | None = None) -> str:
    """The fixed phrase a partial answer opens with; for a follow-up moved to a new slot
    (``Rewrite.slot``) it names the slot in the user's own words ("… about smaller towns and rural
    districts.")."""
    text = MISSING_FACT_TEXT[missing or "number"]
    return text.format(slot=slot or "this case") if missing == "slot" else text


# sections that describe the document rather than a topic are not offered as "nearest topics"
_DOCUMENT_PARTS = ("introduction", "summary", "conclusion", "contents", "references", "bibliography", "notes",
                   "foreword", "preface", "acknowledg", "about the author", "annex", "appendix", "abstract")


class Gate:
    def __init__(self, settings: GateSettings, vocabulary: set[str]):
        self.settings = settings
        self.vocabulary = vocabulary

    def decide(
        self,
        kind: str | None,
        rewrite: Rewrite,
        analysis: QueryAnalysis,
        own_focus: str,
        hits: list[Hit],
        scored: list[ScoredSentence],
    ) -> GateDecision:
        """``kind``: guard.classify of the question; ``own_focus``: the user's own words (not what a
        follow-up rewrite carried over from earlier turns)."""
        s = self.settings
        evidence = evidence_strength(scored, hits, s.evidence_sentence_share, s.evidence_sim_share)
        if kind is not None:
            return GateDecision(False, kind, evidence)
        # (a word that only names a document, "the EPC brief" when no report prints "EPC", is how the
        # asker calls a report, not a subject the reports never mention)
        naming = {w for _, words in document_phrases(rewrite.question) for w in words}
        unknown = [t for t in unknown_terms(own_focus or rewrite.question, self.vocabulary) if t.lower() not in naming]
        signals = {"evidence": round(evidence, 4)}
        if unknown and evidence < s.unknown_terms_evidence:
            return GateDecision(False, "unknown_terms", evidence, unknown=unknown, signals=signals)
        # (a question about the report itself is answered by its front matter, whatever the evidence
        # of its few words: "Who funded the OSCE study?")
        made_by = analysis.about_report and any(x.hit.front_matter and MADE_BY.search(x.text) for x in scored)
        if not scored or (evidence < self.threshold(own_focus or rewrite.question) and not made_by):
            return GateDecision(False, "weak_evidence", evidence, unknown=unknown, signals=signals)
        missing = self._missing_fact(analysis, scored) or self._uncovered_slot(rewrite, scored)
        if missing:
            return GateDecision(False, "missing_fact", evidence, missing=missing, signals=signals)
        return GateDecision(True, None, evidence, signals=signals)

    def threshold(self, question: str) -> float:
        """The evidence bar for ``question``: ``refusal_threshold``, lowered for a long question (one
        that describes the asker's situation first: "I'm an official in a town in Pakistan. Many of our
        people now live in Spain … What do the reports advise before we start?"), whose own words
        dilute the closeness and coverage of even the sentence that answers it."""
        s = self.settings
        extra = len(set(content_terms(question, QUESTION_NOISE))) - s.long_question_terms
        return s.refusal_threshold - min(s.long_question_relief, s.long_question_step * max(0, extra))

    def _missing_fact(self, analysis: QueryAnalysis, scored: list[ScoredSentence]) -> str | None:
        """'number' or 'year' when the question asks for one and none of the sentences closest to
        it gives one that the question does not already contain; with ``count_check``, a "how many
        X / how much X / what budget" question also needs a retrieved sentence whose figure counts X
        ("13 Greek municipalities", an amount of money), not just any number near the topic, and a
        "what is the budget / rate / share of X" question a sentence that gives that kind of figure
        and names X (in it or in the sentence before)."""
        quotable = [x for x in scored if not (x.flags & UNQUOTABLE)]
        if analysis.person_role and self.settings.person_check and quotable:
            # "What is the name of the Berlin mayor …?": some sentence must name a person in that role
            # ("Who are the authors of the OSCE study?": or name the authors the catalogue knows, in
            # "… whose researchers, Anne-Linde Joki and Alexander Wolffhardt, drafted the report")
            # (for a report whose authors the catalogue does not know, the front matter naming people
            # next to "drafted", "researchers", "written")
            role = role_pattern(analysis.person_role)
            if not any(_names_person(x, role) or names_authors(x.text, analysis.authors)
                       or (analysis.about_report and x.hit.front_matter and _names_person(x, _AUTHORING))
                       for x in scored):
                return "person"
        if "name" in analysis.asks and quotable and self.settings.place_pair_check:
            # "Which Philippine towns are twinned with an Italian city?": some sentence must tie places of
            # every country the question names, not just mention each on its own
            asked = countries_named(analysis.text)
            if len(asked) >= 2 and not any(asked <= countries_named(f"{_previous_sentence(x)} {x.text}") for x in quotable):
                return "place"
        wanted = [k for k in ("number", "year") if k in analysis.asks]
        if not wanted or not quotable:
            return None
        probable = sorted(quotable, key=lambda x: x.relevance, reverse=True)[: self.settings.missing_fact_sentences]
        question = analysis.text.lower()
        noun = counted_noun(analysis.text) if self.settings.count_check else None
        subject = measured_subject(analysis.text) if self.settings.count_check else None
        for kind in wanted:
            if kind == "number" and noun:  # "How many municipalities …": some sentence must count municipalities
                total = asks_total(analysis.text)  # "how much in total": not "up to 70,000 euros per project"
                if not any(gives_count(x.text, noun, total) for x in quotable):
                    return kind
            elif kind == "number" and subject:  # "What is the budget of X?": some sentence must give X's figure
                if not any(gives_figure_of(x.text, subject, _previous_sentence(x)) for x in quotable):
                    return kind
            elif not any(v == kind and k not in question for x in probable for k, v in x.facts.items()):
                return kind
        return None

    def _uncovered_slot(self, rewrite: Rewrite, scored: list[ScoredSentence]) -> str | None:
        """'slot' when an elliptical follow-up moves the earlier question to a new slot ("And what
        about smaller towns and rural districts?" after a question on Germany's integration courses)
        and none of the sentences closest to it names both the slot and what the earlier turns were
        about: the country they named (in the sentence or the one before it), or else a term carried
        from them. A sentence on small towns elsewhere in Europe does not answer it. A slot that
        names a country of its own ("What about Denmark?") replaces the earlier one."""
        slot = rewrite.slot if self.settings.slot_check else None
        if not slot or countries_named(slot):
            return None
        slot_terms = set(content_terms(slot, QUESTION_NOISE))
        own = set(content_terms(rewrite.question, QUESTION_NOISE))
        carried = set(content_terms(rewrite.standalone, QUESTION_NOISE)) - own
        carried_countries = countries_named(rewrite.standalone) - countries_named(rewrite.question)
        if not slot_terms or not (carried or carried_countries):
            return None
        quotable = [x for x in scored if not (x.flags & UNQUOTABLE)]
        closest = sorted(quotable, key=lambda x: x.relevance, reverse=True)[: self.settings.missing_fact_sentences]
        for x in closest:
            terms = set(content_terms(x.text))
            if not terms & slot_terms:
                continue
            if carried_countries:
                if carried_countries & countries_named(f"{_previous_sentence(x)} {x.text}"):
                    return None
            elif terms & carried:
                return None
        return "slot"


_CAPITALISED_RUN = re.compile(r"[A-ZÀ-Ý][a-zà-ÿ’'-]+(?:\s+[A-ZÀ-Ý][a-zà-ÿ’'-]+)+")


# how front matter says who wrote a report without the word "author": "… whose researchers, Anne-Linde
# Joki and Alexander Wolffhardt, drafted the report", "written by …"
_AUTHORING = re.compile(r"\b(?:wrote|written|drafted|authored|edited|researchers?|authors?)\b", re.I)


def _names_person(x: ScoredSentence, role: re.Pattern, window: int = 40) -> bool:
    """Does the sentence name a person next to a word of ``role`` (``analysis.role_pattern`` of
    "mayor": "the current mayor, Emir Kir, is …"; or ``_AUTHORING``): two or more capitalised words
    within ``window`` characters of it, each a name of this corpus (never written in lower case:
    ``ScoredSentence.facts``), that the gazetteer does not take for a place?"""
    names = {k for k, v in x.facts.items() if v == "name"}
    domain = get_domain()
    for m in role.finditer(x.text):
        near = x.text[max(0, m.start() - window): m.end() + window]
        for run in _CAPITALISED_RUN.finditer(near):
            words = run.group(0).split()
            if all(name_key(w) in names for w in words) and not domain.find_places(run.group(0)):
                return True
    return False


def _previous_sentence(x: ScoredSentence) -> str:
    sentences = x.hit.passage.sentences
    return sentences[x.pos - 1] if 0 < x.pos <= len(sentences) else ""


def decline_message(decision: GateDecision, hits: list[Hit], reports: list[ReportMeta]) -> str:
    """The text of a declined answer: why, the nearest topics the reports do cover, and how to ask."""
    topics = "\n".join(nearest_topics(hits)) or "- the governance of migrant integration across levels of government"
    if decision.reason in ("injection", "opinion"):
        return load_prompt("decline_instruction").render(topics=topics)
    text = load_prompt("refusal").render(topics=topics, examples=_report_examples(reports))
    if decision.unknown:
        names = " or ".join(f"“{m}”" for m in decision.unknown)
        text = f"The reports do not mention {names}. " + text
    return text


def nearest_topics(hits: list[Hit], limit: int = 4) -> list[str]:
    topics: list[str] = []
    seen: set[tuple[str, str]] = set()
    for h in hits:
        label = h.passage.section_heading
        if h.passage.section_kind == "footnote" or not label or len(label.split()) > 12:
            continue
        if any(part in label.lower() for part in _DOCUMENT_PARTS):
            continue
        key = (label.lower(), h.passage.short_citation)
        if key in seen:
            continue
        seen.add(key)
        topics.append(f"- {label} ({h.passage.short_citation})")
        if len(topics) == limit:
            break
    return topics


def _report_examples(reports: list[ReportMeta]) -> str:
    """Two names officials use for the loaded reports, as examples of naming a report."""
    names = [f"“{r.aliases[0]}”" for r in reports if r.aliases][:2]
    return " or ".join(names) if names else "the report's title"


def corpus_vocabulary(passages, reports: list[ReportMeta]) -> set[str]:
    """Every word of the passages and of the reports' names, lower-cased (hyphenated words also in
    parts): what ``unknown_terms`` checks a question's names against."""
    vocabulary: set[str] = set()
    texts = [p.text for p in passages] + [f"{r.title} {r.short_citation} {r.publisher} {' '.join(r.aliases)}" for r in reports]
    for text in texts:
        for token in re.findall(r"[\w’'-]+", text.lower()):
            vocabulary.add(token.strip("’'-"))
            vocabulary.update(part for part in re.split(r"[-’']", token) if part)
    return vocabulary
