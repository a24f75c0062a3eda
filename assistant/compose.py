"""The compose stage of the extractive answer: choose the report sentences that carry the facts
and frame them. Nothing is written that the reports do not say: every statement is a verbatim
quote of one passage (contiguous sentences, possibly trimmed at its start with "…"), and the only
other words are labels built from the catalogue's fields (place, country, level) and fixed
phrases ("What the reports recommend").

Selection, in order:

1. quotable sentences only: no bibliography lines, markup, fragments, questions, meta sentences
   about the report itself, or instruction-like text planted in a report;
2. greedy by rank — the score stage's closeness to the question blended with its fact
   probability, raised for the level of government the question asks for — within a word budget
   and a number of statements, at most a few sentences per passage, no near-duplicates (nor
   repeats of what the conversation already quoted), and a second report where it contributes;
   the sentence that gives the kind of fact asked for (a figure, a year, a place, the named
   body, a recommendation) leads, and its passage is quoted more fully before others are opened;
3. coherence: a sentence that opens with "It …", "The city …" brings the sentence before it;
   one that opens with a connective ("Therefore, …") brings it too or is trimmed ("…the city
   …"); a lead-in that ends with ":" brings its first item or is dropped;
4. contiguous sentences of one passage become one quote; the strongest quote comes first, as
   the direct answer, and the rest support it, grouped into what was done and what is
   recommended when the question asks "how can / what should …".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .analysis import (
    asked_place_kind,
    asked_place_span,
    asks_for_place,
    asks_in_order,
    items_noun,
    names_authors,
    role_subject,
)
from .catalogue import label_passage
from .counted import asks_total, counted_noun, gives_count
from .extraction import RELATED_LEVELS, countries_named, country_of_place, places
from .guard import is_instruction_like
from .models import Draft, Evidence, Heading, Hit, QueryAnalysis, ScoredSentence, Statement
from .scoring import (
    CAUSE,
    CONNECTIVE,
    DIRECTIVE,
    FEATURES,
    INNER_CONNECTIVE,
    MADE_BY,
    POINTS_BACK,
    PURPOSE,
    ROLE,
    UNQUOTABLE,
    lists_items,
    sentence_flags,
)
from .settings import ComposeSettings
from .taxonomy import level_label
from .text import QUESTION_NOISE, content_terms, inner_names, name_key

_PLACE_WORD = re.compile(r"\b(cit(?:y|ies)|towns?|countr(?:y|ies)|regions?|municipalit(?:y|ies)|where)\b", re.I)
_MODAL = re.compile(r"\b(should|must|ought to|need(?:s)? to|would do well|could|is (?:key|essential|crucial|important))\b", re.I)
_QUESTION_NAMES = FEATURES.index("question_names")


def _gives_asked(x: ScoredSentence, kind: str, analysis: QueryAnalysis) -> bool:
    """Does the sentence give the kind of fact ("number", "year", "reason") the question asks for, one
    the question does not already contain? "How many municipalities …" needs a count of them ("134
    municipalities"; ``counted.gives_count``), not just any number; "Was setting them up
    straightforward?" a cause or a problem (``scoring.CAUSE``)."""
    if kind == "reason":
        return bool(CAUSE.search(x.text))
    question = analysis.text.lower()
    if not any(v == kind and k not in question for k, v in x.facts.items()):
        return False
    counted = counted_noun(analysis.text) if kind == "number" else None
    return counted is None or gives_count(x.text, counted, asks_total(analysis.text))


def _names_asked(x: ScoredSentence) -> bool:
    """The sentence names a place, programme or body that the question names."""
    return x.features is not None and x.features[_QUESTION_NAMES] > 0


GROUP_DONE = "What has been done"
GROUP_RECOMMEND = "What the reports recommend"
GROUP_OTHER = "Also in the reports"
# what cannot serve as the sentence before ("It …") or the item after a lead-in (":")
_CONTEXT_BLOCKERS = frozenset({"biblio", "markup", "question", "meta", "title", "unterminated"})
# sentences about the report itself count as evidence that a topic is covered, but are not quoted
_NOT_QUOTED = UNQUOTABLE | {"meta"}


@dataclass
class Quote:
    """Contiguous chosen sentences of one passage."""

    sentences: list[ScoredSentence]

    @property
    def first(self) -> ScoredSentence:
        return self.sentences[0]

    def text(self) -> str:
        # a sentence quoted without its closing link clause is marked "…" where the clause was
        text = " ".join(s.text + ("…" if "tail_trimmed" in s.flags else "") for s in self.sentences)
        m = CONNECTIVE.match(text)
        if m and "connective" in self.first.flags:
            rest = text[m.end():]
            return "…" + rest if rest else text
        return text


class ExtractiveComposer:
    def __init__(self, index, settings: ComposeSettings, catalogue=None):
        self.index = index
        self.settings = settings
        self.catalogue = catalogue

    # ----------------------------------------------------------------- selection
    def select(self, evidence: Evidence) -> list[Quote]:
        s = self.settings
        scored, analysis, shown = evidence.scored, evidence.analysis, evidence.shown
        # (a question about the report itself is answered by the sentences about the document)
        not_quoted = UNQUOTABLE if analysis.about_report else _NOT_QUOTED
        # ("Who wrote the brief?": its author block or byline names them without making a sentence)
        quotable = [x for x in scored if (not (x.flags & not_quoted) or _byline(x, analysis.authors))
                    and not is_instruction_like(x.text)]
        # a follow-up does not repeat what the conversation already quoted (nor a near-duplicate of
        # it), unless nothing else is left
        quoted_before = [x for x in scored if x.text in shown]
        # … except a sentence about what the follow-up itself names anew ("And how is the formula
        # different in the city of Bern?" may quote the Bern sentence an earlier answer showed)
        # (or a sentence that goes on about it: "Barcelona tackles … Since 1998 the city has had …")
        # (a country it names anew by name or adjective is named too by a sentence on a place in it:
        # "Do Swedish cities do the same?" may quote "In Sweden cities lost their role …" again)
        anew = [re.compile(rf"\b{re.escape(n)}\b", re.I) for n in evidence.named_anew]
        anew_countries = {country for n in evidence.named_anew for _, country, kind in places(n.title())
                          if kind == "country" and country}
        by_key = {x.key: x for x in scored}

        def names_anew_in(text: str) -> bool:
            return any(n.search(text) for n in anew) or bool(anew_countries & countries_named(text))

        def names_anew(x: ScoredSentence) -> bool:
            if names_anew_in(x.text):
                return True
            before = by_key.get((x.hit_rank, x.pos - 1))
            return "anaphor" in x.flags and before is not None and names_anew_in(before.text)

        fresh = [x for x in quotable
                 if (x.text not in shown and not self._redundant(x, quoted_before)) or names_anew(x)]
        # … and the sentence an earlier answer showed comes back when it answers the follow-up better
        # than anything new ("Who helped organise it?" after a sentence naming who did; "Were there
        # problems?" after a sentence on them), but not for a follow-up that moves to a new slot ("And
        # at city level?": what was shown answered the earlier one); it does not set the bar the new
        # sentences are kept by
        again = None if evidence.new_slot else max((x for x in quotable if x.text in shown), key=self._worth, default=None)
        if fresh and again is not None:
            if max(map(self._worth, fresh)) < s.repeat_ratio * self._worth(again):
                fresh.append(again)
            else:
                again = None
        # … as does the shown sentence that gives the figure, year or problem a follow-up asks for ("And how
        # many towns have signed up to it?", "Was setting them up straightforward?" after an answer that
        # gave it), when no new one gives it as well
        for kind in ("number", "year", "reason"):
            if kind not in analysis.asks or not fresh:
                continue
            shown_fact = max((x for x in quotable if x.text in shown and _gives_asked(x, kind, analysis)),
                             key=self._worth, default=None)
            new_fact = max((x for x in fresh if _gives_asked(x, kind, analysis)), key=self._worth, default=None)
            if shown_fact is not None and shown_fact not in fresh and (
                    new_fact is None or self._worth(new_fact) < self._worth(shown_fact)):
                fresh.append(shown_fact)
        quotable = fresh or quotable
        if not quotable:
            return []
        context: list[ScoredSentence] = []
        if analysis.levels and self.catalogue is not None:
            extra, context = self._catalogue_statements(analysis, scored, evidence.query_vector)
            quotable = quotable + extra
        value = {x.key: self._worth(x) for x in quotable}
        for_level: set = set()
        if analysis.levels and self.catalogue is not None:
            for_level = self._prefer_level(quotable, analysis, value)
            quotable = [x for x in quotable if x.key in value] or quotable
            for x in quotable:
                value.setdefault(x.key, self._worth(x))
        ranked = sorted(quotable, key=lambda x: value[x.key], reverse=True)
        top = value[ranked[0].key]
        # the keep ratio is measured against the best sentence's own value: the level bonus orders the
        # answer, it does not starve it of the sentences that follow the lead
        plain_top = max(self._worth(x) for x in quotable if x is not again or len(quotable) == 1)
        # "how many / when / which city": the sentence that gives that kind of fact comes first
        lead = self._fact_lead(ranked, analysis, value, top, for_level, evidence.common_names)
        # after "And what about the regions?" a sentence on the slot leads, before one that only names
        # what the earlier turns named
        lead = self._slot_lead(lead or ranked[0], ranked, evidence, value, top) or lead
        if lead is not None:
            ranked.remove(lead)
            ranked.insert(0, lead)
        # the passage that gives the lead is quoted more fully before other passages are opened: its
        # sentences are kept down to lead_passage_keep_ratio of the best one's value (others: keep_ratio),
        # rank lead_passage_bonus higher and are not held to max_per_passage
        lead_rank = ranked[0].hit_rank

        def kept(x: ScoredSentence) -> bool:
            ratio = s.lead_passage_keep_ratio if x.hit_rank == lead_rank else s.keep_ratio
            return value[x.key] >= ratio * plain_top

        candidates = [ranked[0]] + sorted(
            filter(kept, ranked[1:]),
            key=lambda x: value[x.key] + (s.lead_passage_bonus if x.hit_rank == lead_rank else 0.0),
            reverse=True,
        )
        chosen: list[ScoredSentence] = []
        per_passage: dict[int, int] = {}
        words = 0
        for x in candidates:
            if len(chosen) >= s.max_sentences:
                break
            if "open_quote" in x.flags and not self._quotation_rest(x, by_key, set()):
                continue  # a quotation that does not close within the next sentences is never quoted: no room for it
            if "close_quote" in x.flags and x.pos == 0:
                continue  # nor the end of a quotation whose opening is in the passage before ("… alike.”")
            if "leadin" in x.flags and not _quotable_item(x, by_key):
                continue  # nor is a lead-in whose first item cannot be quoted
            if x.hit_rank != lead_rank and per_passage.get(x.hit_rank, 0) >= s.max_per_passage:
                continue
            if self._redundant(x, chosen):
                continue
            if x.hit_rank not in per_passage and len(per_passage) >= s.max_passages:
                continue  # the answer stays with the passages it has: more of the best ones, fewer tangents
            if (x.hit_rank not in per_passage and len(per_passage) >= s.free_passages
                    and value[x.key] < s.extra_passage_ratio * plain_top):
                continue  # another passage is opened only by a sentence nearly as good as the best
            if chosen and words + x.words > s.max_words:
                continue
            chosen.append(x)
            per_passage[x.hit_rank] = per_passage.get(x.hit_rank, 0) + 1
            words += x.words
        # a second report where it contributes: always for a comparative question, and when it has a
        # sentence nearly as good for any question that does not name its report (more readily for a
        # question about what a level of government can do)
        if len({c.hit.passage.source for c in chosen}) < 2 and (analysis.comparative or not analysis.named_sources):
            ratio = (s.comparative_report_ratio if analysis.comparative
                     else s.level_report_ratio if analysis.levels else s.second_report_ratio)
            other = next((x for x in ranked if x.hit.passage.source not in {c.hit.passage.source for c in chosen}
                          and value[x.key] >= ratio * top and not self._redundant(x, chosen)), None)
            if other is not None:
                if len(chosen) >= s.max_sentences or words + other.words > s.max_words:
                    words -= chosen.pop().words
                chosen.append(other)
        chosen = self._cover_parts(chosen, ranked, evidence.part_vectors)
        chosen = self._with_context(chosen, scored + context)
        chosen = _who_wrote(chosen, scored, analysis.authors)
        return _after_antecedents(self._quotes(chosen, self._opening(chosen)), _last_positions(scored))

    def _opening(self, chosen: list[ScoredSentence]) -> set:
        """Where the answer's first quote opens: at the lead, or, when the lead needs the sentences
        before it, at the first of them; a sentence chosen for itself stays in front of them only if
        it is nearly as close to the question (``lead_opening_ratio``): an author's remark on another
        country does not open "In 2011, a party launched a campaign … The campaign provoked …", but
        the paragraph's own opening advice stays before "When exchange is mutual … This is …"."""
        if not chosen:
            return set()
        lead = chosen[0]
        if not (POINTS_BACK & lead.flags):
            return {lead.key}
        have = {x.key: x for x in chosen}
        first = lead
        while POINTS_BACK & first.flags and (first.hit_rank, first.pos - 1) in have:
            first = have[(first.hit_rank, first.pos - 1)]
        before = have.get((first.hit_rank, first.pos - 1))
        if before is not None and before.relevance < self.settings.lead_opening_ratio * lead.relevance:
            return {first.key}
        return set()

    def _worth(self, x: ScoredSentence) -> float:
        """A sentence's own rank: ``relevance_weight`` of its closeness to the question plus the rest
        of its fact probability (before any level bonus or lead)."""
        w = self.settings.relevance_weight
        return w * x.relevance + (1 - w) * x.prob

    def _cover_parts(self, chosen: list[ScoredSentence], ranked: list[ScoredSentence], part_vectors) -> list[ScoredSentence]:
        """A compound question ("How many …, and who launched it?") gets each part answered: a part
        that no chosen sentence answers about as well as the best candidate does brings that
        candidate, in place of the lowest-ranked chosen one when the answer is full."""
        if part_vectors is None or not chosen:
            return chosen
        s = self.settings
        vectors = self.index.sentence_vectors
        out = list(chosen)
        for pv in part_vectors:
            best = max(ranked, key=lambda x: float(vectors[x.row] @ pv))
            best_sim = float(vectors[best.row] @ pv)
            if best in out or any(float(vectors[x.row] @ pv) >= s.part_cover_ratio * best_sim for x in out):
                continue
            if len(out) >= s.max_sentences or sum(x.words for x in out) + best.words > s.max_words:
                if len(out) == 1:
                    continue
                out.pop()
            out.append(best)
        return out

    def _prefer_level(self, quotable: list[ScoredSentence], analysis: QueryAnalysis, value: dict) -> set:
        """Raise the practices and recommendations of the level the question asks for (half as much
        for a related level: an origin region for an origin municipality); the keys of those of
        the level itself."""
        wanted = set(analysis.levels)
        related = {r for level in wanted for r in RELATED_LEVELS.get(level, ())}
        exact = set()
        for x in quotable:
            record = self.catalogue.record_for(x.hit.passage.source, x.text)
            if record is None or x.key not in value:
                continue
            if record.level in wanted:
                value[x.key] += self.settings.level_bonus
                exact.add(x.key)
            elif record.level in related:
                value[x.key] += self.settings.level_bonus / 2
            elif (record.kind == "recommendation" and wanted and all(w.startswith("origin_") for w in wanted)
                  and (record.level or "").startswith(("eu", "destination_"))):
                # what an origin-country authority can do is not answered by advice to the EU or to a
                # destination government ("The Commission should include small and rural municipalities")
                del value[x.key]
        return exact

    def _catalogue_statements(
        self, analysis: QueryAnalysis, scored: list[ScoredSentence], qvec
    ) -> tuple[list[ScoredSentence], list[ScoredSentence]]:
        """The catalogue's recommendations for the level asked for that retrieval did not bring,
        when they are close to the question (cosine >= catalogue_min_sim): the reports' advice to
        an origin-country municipality may sit in a passage ranked below the top ones. Returns
        (the recommendations, the other sentences of their passages, for context)."""
        if not scored:
            return [], []
        have = {(x.hit.passage.source, x.text) for x in scored}
        index = self.index
        found: list[tuple[float, int, int]] = []  # (similarity, passage index, sentence position)
        for level in analysis.levels:
            for record in self.catalogue.filter(kind="recommendation", level=level):
                i = index.by_id.get(record.passage_id)
                if i is None or (record.source, record.statement) in have:
                    continue
                passage = index.passages[i]
                if record.statement not in passage.sentences:
                    continue
                pos = passage.sentences.index(record.statement)
                sim = float(index.sentence_vectors[index.sentence_rows(i)[pos]] @ qvec)
                if sim >= self.settings.catalogue_min_sim:
                    found.append((sim, i, pos))
        found = sorted(set(found), reverse=True)[: self.settings.catalogue_extra]
        template = max(scored, key=lambda x: x.prob)
        sims: dict[int, dict[int, float]] = {}  # passage index -> {sentence position: similarity}
        for sim, i, pos in found:
            sims.setdefault(i, {})[pos] = sim
        statements, context = [], []
        for rank, (i, chosen) in enumerate(sims.items(), start=max(x.hit_rank for x in scored) + 1):
            passage = index.passages[i]
            hit = Hit(i, passage, 0.0, float(index.passage_vectors[i] @ qvec), None, None)
            for k, (row, text) in enumerate(zip(index.sentence_rows(i), passage.sentences)):
                sim = chosen.get(k, 0.0)
                flags = sentence_flags(text) | ({"title"} if k in passage.titles else frozenset())
                x = replace(template, hit_rank=rank, hit=hit, pos=k, row=row, text=text, sim=sim, coverage=0.0,
                            prob=sim * template.prob, relevance=sim, flags=flags, facts={})
                (statements if k in chosen else context).append(x)
        return statements, context

    def _fact_lead(
        self, ranked: list[ScoredSentence], analysis: QueryAnalysis, value: dict, top: float, for_level: set,
        common: frozenset[str] = frozenset(),
    ) -> ScoredSentence | None:
        """The sentence that answers first: for "how can <a level> …" questions the best practice or
        recommendation of that level; for "how many / when / which city" questions the best one that
        gives that kind of fact (a number, a year, a name the question does not contain); for a
        question about a named place, programme or body, the best one that names it."""
        floor = self.settings.fact_lead_ratio * top
        # "How should …", "What do they advise …": a recommendation (a sentence with "should", "must",
        # "needs to" …) leads when one is nearly as close to the question as the best sentence
        advice_floor = self.settings.recommendation_lead_ratio * top

        def advises(x: ScoredSentence) -> bool:
            return bool(DIRECTIVE.search(x.text)) and value[x.key] >= advice_floor

        def first_at(ratio: float, test) -> ScoredSentence | None:
            """The best-ranked sentence that passes ``test`` and reaches ``ratio`` of the best rank."""
            return next((x for x in ranked if value[x.key] >= ratio * top and test(x)), None)

        if analysis.about_report:
            # "Who wrote the brief?": the sentence of its front matter naming most of the authors the
            # catalogue knows (an author block, a byline, "… whose researchers, … and …, drafted it")
            named = {x.key: names_authors(x.text, analysis.authors) for x in ranked if x.hit.front_matter}
            authors = [x for x in ranked if named.get(x.key)]
            if authors:
                return max(authors, key=lambda x: named[x.key])
            # "Who drafted the study, and who commissioned it?": the sentence of its front matter saying
            # who made it (not "… projects, often funded by foundations" elsewhere)
            makers = [x for x in ranked if MADE_BY.search(x.text)]
            maker = next((x for x in makers if x.hit.front_matter), None) or next(
                (x for x in makers if value[x.key] >= floor), None)
            if maker is not None:
                return maker
        advice = next(filter(advises, ranked), None) if "recommendation" in analysis.asks else None
        if advice is None and "reason" in analysis.asks:
            # "Why …", "What held … back?", "Were there problems …?": a sentence that gives a cause or
            # an obstacle leads when nearly as close to the question as the best one
            cause = first_at(self.settings.reason_lead_ratio, lambda x: CAUSE.search(x.text))
            if cause is not None and not for_level:
                return cause
        if advice is None and "role" in analysis.asks and not for_level:
            # "What role do migrant associations play …?": a sentence saying what role the group asked
            # about plays, when nearly as close to the question as the best one
            subject = set(content_terms(role_subject(analysis.text) or "", QUESTION_NOISE))
            role = first_at(self.settings.role_lead_ratio,
                            lambda x: ROLE.search(x.text) and subject & set(content_terms(x.text)))
            if role is not None:
                return role
        if advice is None and "purpose" in analysis.asks and "reason" not in analysis.asks and not for_level:
            # "What is the predeparture training supposed to achieve?": a sentence saying what it is for
            # ("The objective of predeparture training is to provide …") leads when nearly as close to the
            # question as the best one
            asked = set(content_terms(analysis.focus or analysis.text, QUESTION_NOISE))
            purpose = first_at(self.settings.purpose_lead_ratio,
                               lambda x: PURPOSE.search(x.text) and asked & set(content_terms(x.text)))
            if purpose is not None:
                return purpose
        noun = items_noun(analysis.text) if not for_level else None
        if noun:
            # "What financial services does the project offer?": a sentence listing them leads when
            # nearly as close to the question as the best one
            listing = first_at(self.settings.items_lead_ratio, lambda x: lists_items(x.text, noun))
            if listing is not None:
                return listing
        if for_level:
            best = next(x for x in ranked if x.key in for_level)
            if advice is not None and not DIRECTIVE.search(best.text):
                best = next((x for x in ranked if x.key in for_level and advises(x)), best)
            # (the level bonus orders the answer; on its own rank the sentence must be nearly as close to
            # the question as the best one: not "… member states and EU institutions should focus on (i)
            # …" before "This should preclude any ad hoc and stop-and-go involvement …")
            if (value[best.key] >= floor
                    and self._worth(best) >= self.settings.level_lead_ratio * max(map(self._worth, ranked))):
                return best
        if advice is not None:
            return advice  # before a sentence that only names the question's places
        # the sentence naming most of the places, programmes and bodies the question names; a country
        # the question names ("German cities", "a Dutch town") is named as well by a sentence that
        # names a city or region of it ("The Munich model …") as by the word itself; a word most
        # passages contain ("European cities") names nothing in particular
        countries = {name_key(name): country for name, country, kind in places(analysis.text)
                     if kind == "country" and country and name_key(name) not in common}
        runs = [run for run in (tuple(w for w in r if w not in common) for r in inner_names(analysis.text)) if run]
        asked = {w for run in runs for w in run}

        def names(x: ScoredSentence, n: str) -> bool:
            return n in x.text.lower() or (n in countries and countries[n] in countries_named(x.text))

        def names_count(x: ScoredSentence) -> int:
            """How many words of the question's names the sentence names; a name of several words
            counts only when two of them are named ("Integrating Cities" does not name "Intercultural
            Cities")."""
            total = 0
            for run in runs:
                hit = sum(names(x, n) for n in run)
                total += hit if hit >= min(2, len(run)) else 0
            return total

        named = [x for x in ranked if value[x.key] >= floor
                 and ((_names_asked(x) and (not common or names_count(x) > 0))
                      or any(names(x, n) for n in asked & countries.keys()))]
        if named:
            best_named = max(named, key=lambda x: (names_count(x), value[x.key]))
            if best_named is not ranked[0]:
                ranked = [best_named] + [x for x in ranked if x is not best_named]
        question = analysis.text.lower()
        # the countries the asked place is in: those qualifying "any German city", "towns in Morocco"
        # (all the question names when it asks for no place outright: "Where in Germany …")
        span = asked_place_span(analysis.focus or analysis.text)
        asked_countries = (set(countries.values()) if span is None else
                           {c for _, c, k in places(span) if k == "country" and c})
        wants_place = bool(_PLACE_WORD.search(question))
        place_kind = asked_place_kind(analysis.focus or analysis.text)
        # (the kind asked first leads: "Were any Turkish cities part of it, and how many took part?")
        for kind in asks_in_order(analysis.text):
            if kind not in ("number", "year", "name") or kind not in analysis.asks:
                continue
            for x in ranked:
                if value[x.key] < floor:
                    break
                if kind in ("number", "year"):
                    if _gives_asked(x, kind, analysis):
                        return x
                elif wants_place:
                    # a place is a weaker sign than a figure ("Where do states and cities clash?" asks
                    # no place): it leads only when nearly as close to the question as the best;
                    # "Has any city …?", "which town …", "one German city" ask for one outright
                    ratio = (self.settings.asked_place_lead_ratio if asks_for_place(question)
                             else self.settings.place_lead_ratio)
                    # a new place: not one the question names and, when it names countries ("one German
                    # city", "any Dutch town"), a city or region of one of them ("Moroccans … the Dutch
                    # police force" names none, nor does "the French state")
                    # (and of the kind asked for: "Did any city …?" is not answered by "Bulgaria, Romania")
                    if value[x.key] >= ratio * top and any(
                        name.lower() not in question
                        and (not asked_countries or (kind != "country" and country in asked_countries))
                        and (place_kind is None or kind == place_kind)
                        for name, country, kind in places(x.text)
                    ):
                        return x
                elif any(v == kind and k not in question for k, v in x.facts.items()):
                    return x
        return ranked[0] if named else None

    def _slot_lead(
        self, first: ScoredSentence, ranked: list[ScoredSentence], evidence: Evidence, value: dict, top: float
    ) -> ScoredSentence | None:
        """After an elliptical follow-up that moves to a new slot ("And what about the regions?"), the
        best sentence naming the slot leads, when ``first`` (the lead so far) does not name it and that
        sentence reaches ``slot_lead_ratio`` of the best rank."""
        terms = set(content_terms(evidence.new_slot or "", QUESTION_NOISE))
        if not terms or terms & set(content_terms(first.text)):
            return None
        floor = self.settings.slot_lead_ratio * top
        return next((x for x in ranked if value[x.key] >= floor and terms & set(content_terms(x.text))), None)

    def _redundant(self, x: ScoredSentence, chosen: list[ScoredSentence]) -> bool:
        vectors = self.index.sentence_vectors
        return any(float(vectors[x.row] @ vectors[c.row]) > self.settings.redundancy for c in chosen)

    def _with_context(self, chosen: list[ScoredSentence], scored: list[ScoredSentence]) -> list[ScoredSentence]:
        """Each chosen sentence (in rank order) with what it needs: a lead-in its first item; a
        sentence that points back ("It …", "this role", "Therefore, …") the one or two before it.
        Context comes before the lowest-ranked chosen sentences: they make room for it."""
        s = self.settings
        by_key = {x.key: x for x in scored}
        last_pos = _last_positions(scored)
        out = list(chosen)
        have = {x.key for x in out}
        budget = s.max_words + s.context_words

        def words() -> int:
            return sum(x.words for x in out)

        order = {y.key: i for i, y in enumerate(chosen)}
        for i, x in enumerate(list(chosen)):
            if x not in out:
                continue  # made room for an earlier sentence's context
            needed: list[ScoredSentence] = []
            if "leadin" in x.flags and _quotable_item(x, by_key):
                item = by_key[(x.hit_rank, x.pos + 1)]
                if item.key not in have:
                    needed.append(item)
            if "open_quote" in x.flags:
                needed.extend(self._quotation_rest(x, by_key, have))
            current = x
            for _ in range(2):  # "In order to fulfil this role, ZAM …" after "It set up a … (ZAM)": two back at most
                if not (POINTS_BACK & current.flags):
                    break
                prev = by_key.get(_before(current, last_pos))
                if (prev is None or prev.key in have or prev.flags & _CONTEXT_BLOCKERS or "leadin" in prev.flags
                        or current.pos in current.hit.passage.note_starts):  # another note is no context
                    break
                needed.append(prev)
                current = prev
            extra = sum(n.words for n in needed)
            # room is made by the lowest-ranked chosen sentences after x, never by the context that a
            # sentence ranked higher brought (it would leave that sentence without its antecedent)
            while needed and words() + extra > budget:
                after = [y for y in out if order.get(y.key, -1) > i]
                if not after:
                    break
                victim = max(after, key=lambda y: order[y.key])
                out.remove(victim)
                have.discard(victim.key)
            if words() + extra <= budget:
                out.extend(needed)
                have.update(n.key for n in needed)
        # a lead-in without its items, a quotation cut before it closes, or an "It …" sentence whose
        # antecedent could not come, is not quoted alone
        out = [x for x in out if "leadin" not in x.flags or (x.hit_rank, x.pos + 1) in have]
        out = [x for x in out if "open_quote" not in x.flags or self._closed_by(x, have, by_key)]
        out = [x for x in out if not (_needs_antecedent(x) and _before(x, last_pos) not in have) or len(out) == 1]
        return out


    @staticmethod
    def _quotation_rest(x: ScoredSentence, by_key: dict, have: set, limit: int = 2) -> list[ScoredSentence]:
        """The sentences after ``x`` up to the one that closes the quotation ``x`` opens (at most
        ``limit``); none when it does not close by then."""
        rest: list[ScoredSentence] = []
        for k in range(1, limit + 1):
            nxt = by_key.get((x.hit_rank, x.pos + k))
            if nxt is None or nxt.flags & _CONTEXT_BLOCKERS:
                return []
            if nxt.key not in have:
                rest.append(nxt)
            if "close_quote" in nxt.flags:
                return rest
        return []

    @staticmethod
    def _closed_by(x: ScoredSentence, have: set, by_key: dict, limit: int = 2) -> bool:
        """Is the quotation ``x`` opens closed by a sentence that is quoted too?"""
        for k in range(1, limit + 1):
            key = (x.hit_rank, x.pos + k)
            if key not in have:
                return False
            if "close_quote" in by_key[key].flags:
                return True
        return False

    @staticmethod
    def _quotes(chosen: list[ScoredSentence], starts: set = frozenset()) -> list[Quote]:
        """Contiguous chosen sentences of a passage become one quote (a sentence in ``starts``
        always opens one); quotes keep the order in which their sentences were chosen (the lead first)."""
        order = {x.key: i for i, x in enumerate(chosen)}
        by_passage: dict[int, list[ScoredSentence]] = {}
        for x in chosen:
            by_passage.setdefault(x.hit_rank, []).append(x)
        quotes: list[Quote] = []
        for items in by_passage.values():
            items.sort(key=lambda x: x.pos)
            run = [items[0]]
            for x in items[1:]:
                if x.pos == run[-1].pos + 1 and x.key not in starts:
                    run.append(x)
                else:
                    quotes.append(Quote(run))
                    run = [x]
            quotes.append(Quote(run))
        quotes.sort(key=lambda q: min(order[x.key] for x in q.sentences))
        return quotes

    # ----------------------------------------------------------------- framing
    def labels(self, quotes: list[Quote]) -> list[tuple[str | None, str]]:
        """(kind, label) of each quote from the catalogue's reading of its first sentence that
        names an actor: kind 'practice' / 'recommendation' / None, label "Nuremberg (Germany), city"."""
        cache: dict[str, list] = {}
        out: list[tuple[str | None, str]] = []
        for q in quotes:
            p = q.first.hit.passage
            if p.passage_id not in cache:
                cache[p.passage_id] = label_passage(p)
            kind, label_text = None, ""
            for x in q.sentences:
                label = cache[p.passage_id][x.pos] if x.pos < len(cache[p.passage_id]) else None
                if label is None:
                    continue
                if self.catalogue is not None:
                    label = self.catalogue.relabel(p.source, x.text, label)
                if label.kind:
                    kind = label.kind
                    # a place label introduces the quote: it is shown only for its first sentence ("*Amsterdam
                    # (Netherlands), city:* Cities have a long tradition …" labelled a later one); an addressee
                    # label stands for the advice the quote holds
                    first = x is q.sentences[0] or label.kind == "recommendation"
                    if label.level and first and _label_is_safe(label, x.text):
                        label_text = _label_text(label.kind, label.level, label.place, label.country)
                    break
            out.append((kind, label_text))
        return out

    def compose(self, evidence: Evidence, preface: str | None = None) -> Draft:
        analysis = evidence.analysis
        quotes = self.select(evidence)
        if not quotes:
            return Draft([], "extractive", refused=True)
        labels = self.labels(quotes)
        statements = [
            Statement(q.text(), [q.first.hit.passage], label=(label if kind else ""), quotes=[x.text for x in q.sentences])
            for q, (kind, label) in zip(quotes, labels)
        ]
        # a quote that goes on from the one before it (select put it there) stays with it: under the
        # same heading, or right after the lead
        last_pos = _last_positions(evidence.scored)
        units: list[tuple[list[Statement], str | None]] = []
        for i, (st, (kind, _)) in enumerate(zip(statements, labels)):
            if i and _antecedent_key(quotes[i], last_pos) == quotes[i - 1].sentences[-1].key:
                units[-1][0].append(st)
            else:
                units.append(([st], kind))
        blocks: list = [preface] if preface else []
        (lead, _), rest = units[0], units[1:]
        blocks.extend(lead)
        grouped = analysis.wants_recommendations and any(k for _, k in rest)
        if not grouped:
            blocks.extend(st for unit, _ in rest for st in unit)
            return Draft(blocks, "extractive")
        order = ((GROUP_RECOMMEND, "recommendation"), (GROUP_DONE, "practice"), (GROUP_OTHER, None))
        if analysis.wants_practices and not analysis.asks & {"recommendation"}:
            order = ((GROUP_DONE, "practice"), (GROUP_RECOMMEND, "recommendation"), (GROUP_OTHER, None))
        for heading, kind in order:
            items = [st for unit, k in rest if k == kind for st in unit]
            if items:
                blocks.append(Heading(heading))
                blocks.extend(items)
        return Draft(blocks, "extractive")


def _byline(x: ScoredSentence, authors: tuple[str, ...]) -> bool:
    """A line of a report's front matter that names its authors (``QueryAnalysis.authors``), a
    sentence or not: "Edith van Ewijk and Gery Nijenhuis", an author block's "Janina Stürner"."""
    return (x.hit.front_matter and not (x.flags & _CONTEXT_BLOCKERS - {"unterminated", "title"})
            and names_authors(x.text, authors) > 0)


def _who_wrote(chosen: list[ScoredSentence], scored: list[ScoredSentence], authors: tuple[str, ...]) -> list[ScoredSentence]:
    """The sentences of an answer to "Who wrote …?" that the front matter naming the authors leads:
    an author block (one author a line, each with their affiliation) whole, from its first author to
    the last one's affiliation; and besides it only what the front matter says of who made the report
    ("funded by …"), as the body's sentences that share the question's words add no fact. Other
    answers are returned as they are."""
    if not chosen or not chosen[0].hit.front_matter or not names_authors(chosen[0].text, authors):
        return chosen
    span = [chosen[0]]
    if _byline(chosen[0], authors) and chosen[0].flags & {"unterminated", "title"}:
        block = [x for x in scored if x.hit_rank == chosen[0].hit_rank]
        named = [x.pos for x in block if _byline(x, authors)]
        last = max(named)
        if len(named) > 1 and all(p + 1 not in named for p in named[:-1]) and any(x.pos == last + 1 for x in block):
            last += 1
        span = sorted((x for x in block if min(named) <= x.pos <= last), key=lambda x: x.pos)
    return span + [x for x in chosen if x not in span and x.hit.front_matter and MADE_BY.search(x.text)]


def _label_text(kind: str, level: str, place: str, country: str) -> str:
    """"Nuremberg (Germany), city" for a practice of a named place, the addressee level for a
    recommendation; nothing when the catalogue knows only a level or a country for a practice (a
    bare "city" tells the reader nothing)."""
    name = level_label(level)
    if kind == "recommendation":
        return name
    if place:
        where = f"{place} ({country})" if country and country != place else place
        return f"{where}, {name}"
    return ""


def _label_is_safe(label, sentence: str) -> bool:
    """A label is shown only when the sentence itself bears it out: a recommendation's addressee
    is named before its modal verb ("The Commission should ..."); a practice's place is part of
    its actor and lies in the country the gazetteer gives for it."""
    if label.kind == "recommendation":
        m = _MODAL.search(sentence)
        if not (m and label.actor):
            return False
        before = sentence[: m.start()].lower()
        at = before.rfind(label.actor.lower())
        if at < 0 or len(before[at + len(label.actor):].split()) > 4:
            return False
        # "local authorities, member states and EU institutions should ...": several addressees, no one label
        return not re.search(r",| and | or ", before[max(0, at - 40):at])
    if label.place:
        known = country_of_place(label.place)
        return bool(label.actor and label.place in label.actor) and (not known or not label.country or known == label.country)
    return False  # a country alone says too little about who acted ("Netherlands, national government")


_LEADING_ADVERBS = frozenset({"then", "now", "later", "today", "here", "also"})


def _before(x: ScoredSentence, last_pos: dict[int, int]) -> tuple[int, int]:
    """The key of the sentence before ``x``: in its passage, or for the first sentence of a passage
    that goes on from another (``Hit.continues``), the last sentence of that one (``last_pos``: the
    position of each passage's last sentence, by hit rank)."""
    if x.pos == 0 and x.hit.continues is not None and x.hit.continues in last_pos:
        return (x.hit.continues, last_pos[x.hit.continues])
    return (x.hit_rank, x.pos - 1)


def _last_positions(scored: list[ScoredSentence]) -> dict[int, int]:
    """The position of each passage's last sentence, by hit rank."""
    last: dict[int, int] = {}
    for x in scored:
        last[x.hit_rank] = max(last.get(x.hit_rank, -1), x.pos)
    return last


def _antecedent_key(q: Quote, last_pos: dict[int, int]) -> tuple[int, int] | None:
    """For a quote that opens a passage going on from another and points back ("This provides an
    important channel …"), the key of its antecedent: the other passage's last sentence."""
    x = q.first
    if x.pos != 0 or x.hit.continues is None or not (POINTS_BACK & x.flags):
        return None
    return _before(x, last_pos)


def _after_antecedents(quotes: list[Quote], last_pos: dict[int, int]) -> list[Quote]:
    """A quote that opens a passage going on from another comes right after the quote that ends
    with its antecedent, not before it: they are two citations, read in the reports' order. The
    lead stays first."""
    out = list(quotes)
    for q in quotes[1:]:
        key = _antecedent_key(q, last_pos)
        if key is None:
            continue
        host = next((p for p in out if p.sentences[-1].key == key), None)
        if host is None or out.index(host) < out.index(q):
            continue
        out.remove(q)
        out.insert(out.index(host) + 1, q)
    return out


def _quotable_item(x: ScoredSentence, by_key: dict) -> bool:
    """Does the sentence after the lead-in ``x`` exist and stand as its first item?"""
    item = by_key.get((x.hit_rank, x.pos + 1))
    return item is not None and not (item.flags & _CONTEXT_BLOCKERS)


def _needs_antecedent(x: ScoredSentence) -> bool:
    """A sentence that opens with a bare pronoun ("It", "They", "This is …") or carries a connective
    in its first words ("There are risks, however, …": it cannot be trimmed) cannot stand alone. A
    demonstrative before a noun says what it points at ("This opinion is the basis for …"): with
    its citation the sentence is understood without the one before."""
    if INNER_CONNECTIVE.match(x.text) and not CONNECTIVE.match(x.text):
        return True
    words = [w.lower().strip(",") for w in x.text.split()[:3]]
    if words and words[0] in _LEADING_ADVERBS:
        words = words[1:]
    if (len(words) > 1 and words[0] in {"this", "these", "those"} and words[1].isalpha()
            and words[1] not in _VERB_AFTER_DEMONSTRATIVE):
        return False
    return "anaphor" in x.flags and bool(words) and words[0] in {"it", "they", "this", "these", "those", "he", "she", "its", "their", "such"}


# what follows a demonstrative used as a bare pronoun ("This is …", "These include …", "This led to …")
_VERB_AFTER_DEMONSTRATIVE = frozenset(
    "is are was were be been has have had can could will would may might must should shall does did do also "
    "means meant mean shows showed show led leads lead makes made make gives gave give helps helped help "
    "includes included include allows allowed allow requires required require suggests suggested suggest "
    "seems seemed seem appears appeared appear applies applied apply became becomes become remains remained "
    "remain creates created create reflects reflected reflect indicates indicated indicate implies implied "
    "imply explains explained explain underlines underlined highlights highlighted raises raised raise "
    "took takes take brings brought bring enables enabled enable ensures ensured ensure resulted results result "
    "not only".split()
)
