"""The compose stage on small synthetic passages: which sentences are quoted, how a quote is
trimmed or given its context, how the answer is framed. No index is needed: the passages, their
sentence vectors and scores are made up, so each rule is seen on its own."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from assistant.compose import GROUP_RECOMMEND, ExtractiveComposer
from assistant.models import (
    Draft,
    Evidence,
    Hit,
    Passage,
    QueryAnalysis,
    ScoredSentence,
    Statement,
)
from assistant.scoring import FEATURES, sentence_flags
from assistant.settings import ComposeSettings


def passage(pid: str, sentences: list[str], source: str = "r1.txt", titles: list[int] | None = None,
            note_starts: list[int] | None = None) -> Passage:
    return Passage(passage_id=pid, source=source, title="A report", short_citation="Author 2020", start_line=1,
                   end_line=5, text=" ".join(sentences), sentences=sentences, titles=titles or [],
                   note_starts=note_starts or [])


class World:
    """Passages with orthogonal sentence vectors (no two sentences are near-duplicates unless told)."""

    def __init__(self, passages: list[Passage], same: tuple[tuple[int, int], ...] = ()):
        self.passages = passages
        n = sum(len(p.sentences) for p in passages)
        self.sentence_vectors = np.eye(max(n, 1), dtype=np.float32)
        for a, b in same:  # make row b a copy of row a: a near-duplicate
            self.sentence_vectors[b] = self.sentence_vectors[a]
        self.by_id = {p.passage_id: i for i, p in enumerate(passages)}

    def scored(self, probs: dict[tuple[int, int], float], facts: dict[tuple[int, int], dict] | None = None):
        out, row = [], 0
        for rank, p in enumerate(self.passages):
            hit = Hit(rank, p, 1.0 / (1 + rank), 0.5, rank, rank)
            for pos, text in enumerate(p.sentences):
                prob = probs.get((rank, pos), 0.05)
                flags = sentence_flags(text) | ({"title"} if pos in p.titles else frozenset())
                x = np.zeros(len(FEATURES))
                out.append(ScoredSentence(rank, hit, pos, row, text, prob, 0.3, prob, prob, x, flags,
                                          (facts or {}).get((rank, pos), {})))
                row += 1
        return out


def compose(world: World, probs, question="What did the cities do?", facts=None, shown=frozenset(), named_anew=frozenset(),
            new_slot=None, **settings):
    analysis = QueryAnalysis(text=question, wants_recommendations=False, wants_practices=True, focus=question)
    for key, value in settings.items():
        setattr(analysis, key, value) if hasattr(analysis, key) else None
    compose_settings = ComposeSettings(**{k: v for k, v in settings.items() if k in ComposeSettings.model_fields})
    composer = ExtractiveComposer(world, compose_settings, catalogue=None)
    evidence = Evidence(question, question, analysis, [], world.scored(probs, facts), np.zeros(3), shown, named_anew,
                        new_slot=new_slot)
    return composer.compose(evidence)


def quotes(draft: Draft) -> list[str]:
    return [b.text for b in draft.blocks if isinstance(b, Statement)]


def test_the_most_probable_sentence_leads_and_quotes_are_verbatim():
    p = passage("p1", ["The city of Utopia opened a welcome desk in 2015.", "The desk serves 2,000 newcomers a year.",
                       "Many cities in Europe have desks of some kind."])
    draft = compose(World([p]), {(0, 0): 0.9, (0, 1): 0.8})
    assert quotes(draft)[0].startswith("The city of Utopia opened")
    for q in quotes(draft):
        assert q.lstrip("…") in p.text


def test_consecutive_sentences_become_one_quote_in_report_order():
    p = passage("p1", ["First the city mapped the needs of newcomers.", "Then it trained its front-desk staff in four languages.",
                       "An unrelated remark closes the paragraph here."])
    draft = compose(World([p]), {(0, 1): 0.9, (0, 0): 0.8})
    assert quotes(draft)[0] == "First the city mapped the needs of newcomers. Then it trained its front-desk staff in four languages."


def test_a_leading_connective_is_trimmed_and_marked():
    p = passage("p1", ["A chart precedes this text and is not a sentence", "Therefore, the ministry pays municipalities a lump sum per refugee."],
                titles=[0])
    draft = compose(World([p]), {(0, 1): 0.9})
    assert quotes(draft) == ["…the ministry pays municipalities a lump sum per refugee."]


def test_a_sentence_that_needs_its_antecedent_brings_it():
    p = passage("p1", ["The town of Kestrel set up a diaspora office in 2012.", "It advises emigrants on investing at home and on pensions.",
                       "Elsewhere, other towns did little of the kind for years."])
    draft = compose(World([p]), {(0, 1): 0.9})
    assert quotes(draft)[0] == "The town of Kestrel set up a diaspora office in 2012. It advises emigrants on investing at home and on pensions."


def test_a_demonstrative_before_a_noun_stands_without_its_antecedent():
    # "This opinion is the basis for …" opens its passage, the sentence before it is not there: it is
    # quoted all the same (its noun says what it points at); "This means that …" is not
    lead = passage("p1", ["Local authorities are where integration policy is carried out in practice."])
    opinion = passage("p2", ["This opinion is the basis for the Cities and Regions for Integration initiative."], source="r2.txt")
    means = passage("p3", ["This means that towns should share their integration practices more widely."], source="r3.txt")
    draft = compose(World([lead, opinion, means]), {(0, 0): 0.9, (1, 0): 0.85, (2, 0): 0.85},
                    free_passages=3, max_passages=3)
    assert [q.split()[:2] for q in quotes(draft)] == [["Local", "authorities"], ["This", "opinion"]]


def test_a_lead_in_comes_with_its_first_item_or_not_at_all():
    p = passage("p1", ["The strategy rests on three pillars:", "language courses offered in every district of the city.",
                       "A separate section covers funding for the courses in detail."])
    with_item = compose(World([p]), {(0, 0): 0.9})
    assert quotes(with_item)[0] == "The strategy rests on three pillars: language courses offered in every district of the city."
    q = passage("q1", ["The strategy rests on three pillars:", "(see the annex)"])
    r = passage("r1", ["The city pays for the courses from its own budget every year."], source="r2.txt")
    alone = compose(World([q, r]), {(0, 0): 0.9, (1, 0): 0.5})
    assert all(not x.endswith(":") for x in quotes(alone))


def test_unquotable_sentences_are_never_quoted():
    p = passage("p1", [
        "Chapter 4 summarises the paper and includes a set of recommendations.",
        "Political Geography 28 (2009): 496.",
        "See www.example.org/report for the data.",
        "Partners across borders: city twinning along the corridor",
        "Cities in the region now share one registration office for newcomers.",
    ], titles=[3])
    draft = compose(World([p]), {(0, 0): 0.99, (0, 1): 0.98, (0, 2): 0.97, (0, 3): 0.96, (0, 4): 0.5})
    assert quotes(draft) == ["Cities in the region now share one registration office for newcomers."]


def test_near_duplicates_and_sentences_already_shown_are_left_out():
    p = passage("p1", ["The city funds twelve language cafés across its districts.", "A pull quote repeats: the city funds twelve language cafés.",
                       "The cafés are run by volunteers from migrant associations."])
    world = World([p], same=((0, 1),))
    draft = compose(world, {(0, 0): 0.9, (0, 1): 0.85, (0, 2): 0.8})
    assert not any("pull quote" in q for q in quotes(draft))
    again = compose(world, {(0, 0): 0.9, (0, 1): 0.85, (0, 2): 0.85}, shown=frozenset({p.sentences[0]}))
    assert quotes(again) == ["The cafés are run by volunteers from migrant associations."]


def test_a_follow_up_may_quote_again_what_it_names_anew():
    # "And how is the formula different in the city of Bern itself?": the earlier answer showed the Bern
    # sentence; the follow-up asks about Bern, so it may quote it again, and still not the other one
    p = passage("p1", ["In the city of Bern, the formula includes the income of parents.",
                       "The canton allocates resources to schools by the share of foreign pupils."])
    world = World([p])
    probs = {(0, 0): 0.9, (0, 1): 0.8}
    shown = frozenset(p.sentences)
    assert quotes(compose(world, probs, shown=shown, named_anew=frozenset({"bern"}))) == [p.sentences[0]]
    assert quotes(compose(world, probs, shown=shown, named_anew=frozenset({"berne"}))) != [p.sentences[0]]
    # … and so may a sentence that goes on about it ("Since 1998 the city has had …")
    p = passage("p1", ["Barcelona tackles rumours through training and information campaigns.",
                       "Since 1998 the city has had its own office for nondiscrimination.",
                       "Cities have a long tradition of combating discrimination."])
    shown = frozenset(p.sentences)
    again = quotes(compose(World([p]), {(0, 0): 0.9, (0, 1): 0.8, (0, 2): 0.8}, shown=shown, named_anew=frozenset({"barcelona"})))
    assert again == [p.sentences[0] + " " + p.sentences[1]]
    # "Do Swedish cities do the same?": a sentence on Sweden (or a city of it) is about what it names anew
    p = passage("p1", ["In Sweden cities organise orientation courses on the state's behalf.",
                       "Cities have a long tradition of combating discrimination."])
    shown = frozenset(p.sentences)
    again = quotes(compose(World([p]), {(0, 0): 0.9, (0, 1): 0.8}, shown=shown, named_anew=frozenset({"swedish"})))
    assert again == [p.sentences[0]]


def test_a_note_is_no_context_for_the_next_note():
    # two notes in one passage: "The city defines …" opens note 23; note 22 before it is not its antecedent
    p = passage("n1", ["The network's guide lists the integration strategies of twenty member cities.",
                       "The city defines intercultural competences as knowledge, skills and attitudes."], note_starts=[0, 1])
    world = World([p])
    assert quotes(compose(world, {(0, 1): 0.9})) == [p.sentences[1]]
    same_note = passage("n2", p.sentences, note_starts=[0])
    assert quotes(compose(World([same_note]), {(0, 1): 0.9})) == [" ".join(p.sentences)]


def test_the_word_budget_bounds_the_answer():
    long = "The municipality worked with many partners on a long list of measures for newcomers in every district of the city."
    p = [passage(f"p{i}", [f"{long} Measure {i} followed."], source=f"r{i}.txt") for i in range(8)]
    draft = compose(World(p), {(i, 0): 0.9 - i * 0.01 for i in range(8)}, max_words=60)
    assert 0 < sum(len(q.split()) for q in quotes(draft)) <= 60 + ComposeSettings().context_words


def test_a_how_many_question_leads_with_a_figure():
    p = passage("p1", ["Cities value the programme highly and want it to continue.", "Local offices reached 4,300 families in the first year."])
    facts = {(0, 1): {"4,300": "number"}}
    draft = compose(World([p]), {(0, 0): 0.9, (0, 1): 0.6}, question="How many families did the programme reach?",
                    facts=facts, asks=frozenset({"number"}))
    assert quotes(draft)[0].startswith("Local offices reached 4,300 families")  # the figure first, even before its neighbour
    # a figure in a sentence that needs the one before it comes with it
    q = passage("q1", ["Cities value the programme highly and want it to continue.", "It reached 4,300 families in the first year."])
    draft = compose(World([q]), {(0, 0): 0.9, (0, 1): 0.6}, question="How many families did the programme reach?",
                    facts=facts, asks=frozenset({"number"}))
    assert "4,300" in quotes(draft)[0] and quotes(draft)[0].startswith("Cities value")


def test_a_second_report_joins_when_it_contributes():
    a = passage("a1", ["Report one says cities coordinate through a national platform.", "It meets twice a year."])
    b = passage("b1", ["Report two says cities coordinate through regional boards."], source="r2.txt")
    draft = compose(World([a, b]), {(0, 0): 0.9, (1, 0): 0.85})
    assert {st.passages[0].source for st in draft.statements} == {"r1.txt", "r2.txt"}
    # one at 0.8 of the best does not (second_report_ratio 0.9: a bullet pulled in by a shared word) …
    draft = compose(World([a, b]), {(0, 0): 0.9, (1, 0): 0.72})
    assert {st.passages[0].source for st in draft.statements} == {"r1.txt"}
    # … and a weaker one (0.6 of the best) joins only for a question about what a level of government can do
    draft = compose(World([a, b]), {(0, 0): 0.9, (1, 0): 0.55})
    assert {st.passages[0].source for st in draft.statements} == {"r1.txt"}
    draft = compose(World([a, b]), {(0, 0): 0.9, (1, 0): 0.55}, levels=("destination_municipality",))
    assert {st.passages[0].source for st in draft.statements} == {"r1.txt", "r2.txt"}


def test_recommendation_questions_are_grouped_under_fixed_headings():
    p = passage("p1", ["Member states should earmark funds for local integration work.",
                       "In 2019 the city of Nowhere created a fund for newcomers."])
    world = World([p])
    analysis = QueryAnalysis(text="What should member states do?", wants_recommendations=True, wants_practices=False,
                             focus="What should member states do?", asks=frozenset({"recommendation"}))
    evidence = Evidence(analysis.text, analysis.text, analysis, [], world.scored({(0, 0): 0.9, (0, 1): 0.8}), np.zeros(3))
    composer = ExtractiveComposer(world, ComposeSettings(), catalogue=SimpleNamespace(relabel=lambda src, s, label: label,
                                                                                          record_for=lambda *a: None))
    draft = composer.compose(evidence)
    texts = [b.text for b in draft.blocks if not isinstance(b, Statement)]
    assert draft.statements and (not texts or texts[0] == GROUP_RECOMMEND or GROUP_RECOMMEND in texts or len(draft.statements) == 1)


def test_nothing_quotable_gives_a_refused_draft():
    p = passage("p1", ["See Smith (2010): 45.", "Table 3"])
    draft = compose(World([p]), {(0, 0): 0.9, (0, 1): 0.9})
    assert draft.refused and not draft.statements


def test_each_part_of_a_compound_question_is_answered():
    a = passage("a1", ["The network gathers 134 municipalities from 22 states.", "Its members meet once a year in a member city."])
    b = passage("b1", ["UNESCO launched the coalition in 2004 with a ten-point plan of action."], source="r2.txt")
    world = World([a, b])
    # the second part's vector is the row of the launch sentence: no chosen sentence is close to it
    part_vectors = np.stack([world.sentence_vectors[0], world.sentence_vectors[2]])
    analysis = QueryAnalysis(text="How many members does it have, and who launched it?", wants_recommendations=False,
                             wants_practices=False, focus="x", named_sources=["r1.txt"])
    evidence = Evidence(analysis.text, analysis.text, analysis, [], world.scored({(0, 0): 0.9, (0, 1): 0.8, (1, 0): 0.1}),
                        np.zeros(3), part_vectors=part_vectors)
    draft = ExtractiveComposer(world, ComposeSettings(), catalogue=None).compose(evidence)
    assert any("launched the coalition in 2004" in q for q in quotes(draft))


def test_a_how_many_question_leads_with_the_count_of_what_it_asks_about():
    p = passage("p1", ["Many municipalities in the region have joined similar networks over the years.",
                       "The plan was adopted in 2004 with ten points of action.",
                       "As of 2017, 134 municipalities had joined the coalition."])
    facts = {(0, 1): {"2004": "year", "ten": "number"}, (0, 2): {"2017": "year", "134": "number"}}
    draft = compose(World([p]), {(0, 0): 0.9, (0, 1): 0.8, (0, 2): 0.5}, question="How many municipalities belong to the coalition?",
                    facts=facts, asks=frozenset({"number"}))
    assert quotes(draft)[0].startswith("As of 2017, 134 municipalities")


def test_a_sentence_with_a_connective_it_cannot_shed_needs_the_one_before():
    p = passage("p1", ["Cities merged their integration offices into general services.",
                       "There are risks, however, that such approaches mask continuing disadvantages."])
    q = passage("q1", ["The city of Utopia monitors access to services by origin every year."], source="r2.txt")
    # it comes with the sentence before (which takes the place of a loose quote) ...
    draft = compose(World([p, q]), {(0, 1): 0.9, (1, 0): 0.85}, max_words=25, context_words=0)
    assert quotes(draft) == [p.text]
    # ... or, when that cannot fit, it is not quoted at all
    draft = compose(World([p, q]), {(0, 1): 0.9, (1, 0): 0.85}, max_words=15, context_words=0)
    assert all("however" not in x for x in quotes(draft))


def test_a_sentence_cut_before_its_link_clause_is_marked():
    world = World([passage("p1", ["The network published case studies on six cities, project website", "Then it closed."])])
    scored = world.scored({(0, 0): 0.9})
    scored[0].flags = scored[0].flags - {"unterminated"} | {"tail_trimmed"}
    analysis = QueryAnalysis(text="Which cities?", wants_recommendations=False, wants_practices=False, focus="Which cities?")
    evidence = Evidence("Which cities?", "Which cities?", analysis, [], scored, np.zeros(3), frozenset())
    draft = ExtractiveComposer(world, ComposeSettings(), catalogue=None).compose(evidence)
    assert quotes(draft)[0] == "The network published case studies on six cities, project website…"
    statement = next(b for b in draft.blocks if isinstance(b, Statement))
    assert statement.quotes == ["The network published case studies on six cities, project website"]  # verbatim


def test_a_question_asking_for_a_place_outright_leads_with_the_place():
    p = passage("p1", ["Most cities welcomed the federal courses and kept their own classes as well.",
                       "Utrecht fused the federal courses with its own classes into one office for newcomers."])
    probs = {(0, 0): 0.9, (0, 1): 0.5}
    draft = compose(World([p]), probs, question="Has any city linked the federal courses with its own classes?",
                    asks=frozenset({"name"}))
    assert quotes(draft)[0].startswith("Utrecht fused")
    # "where …" is a weaker sign: the place sentence leads only when nearly as close as the best
    draft = compose(World([p]), probs, question="Where were the federal courses linked with local classes?",
                    asks=frozenset({"name"}))
    assert quotes(draft)[0].startswith("Most cities welcomed")


def test_the_passage_that_answers_first_is_quoted_more_fully_before_another_is_opened():
    lead = passage("p1", ["The city of Utopia opened a welcome desk for newcomers in 2015.",
                          "Its staff speak Berber and Arabic."])
    other = passage("p2", ["Many towns in the region have desks of some kind."])
    probs = {(0, 0): 0.9, (0, 1): 0.45, (1, 0): 0.56}
    draft = compose(World([lead, other]), probs, max_sentences=2, free_passages=2)
    assert quotes(draft) == ["The city of Utopia opened a welcome desk for newcomers in 2015. Its staff speak Berber and Arabic."]
    # without the lead passage's preference the weaker sentence of the lead's passage is not kept
    draft = compose(World([lead, other]), probs, max_sentences=2, lead_passage_keep_ratio=0.6, lead_passage_bonus=0.0,
                    free_passages=2)
    assert quotes(draft)[1] == "Many towns in the region have desks of some kind."


def test_another_passage_is_opened_only_by_a_sentence_nearly_as_good_as_the_best():
    world = World([passage("p1", ["The city of Utopia opened a welcome desk for newcomers in 2015."]),
                   passage("p2", ["The desk of Utopia serves two thousand newcomers every year."]),
                   passage("p3", ["Several towns in the region run smaller desks of their own."])])
    weak = quotes(compose(world, {(0, 0): 0.9, (1, 0): 0.85, (2, 0): 0.7}))  # 0.7 < 0.85 × 0.9
    assert len(weak) == 2 and not any("Several towns" in q for q in weak)
    strong = quotes(compose(world, {(0, 0): 0.9, (1, 0): 0.85, (2, 0): 0.8}))
    assert len(strong) == 3 and "Several towns" in strong[2]
    # the second passage too: the lead's passage answers alone unless another is nearly as good
    alone = quotes(compose(world, {(0, 0): 0.9, (1, 0): 0.7, (2, 0): 0.65}))
    assert alone == ["The city of Utopia opened a welcome desk for newcomers in 2015."]
    # … with two free passages, the second opens for any sentence kept by keep_ratio
    two = quotes(compose(world, {(0, 0): 0.9, (1, 0): 0.7, (2, 0): 0.65}, free_passages=2))
    assert len(two) == 2 and "two thousand" in two[1]


def test_a_quote_going_on_from_another_passage_comes_after_its_antecedent():
    # p2 goes on from p1 (the chunker cut the paragraph): "This provides …" points back at p1's last sentence
    first = passage("p1", ["The city of Utopia opened a welcome desk for newcomers in 2015.",
                           "Towns in the region may join partnerships with cities abroad."])
    then = passage("p2", ["This provides a channel for reaching emigrants abroad.",
                          "Utopia's desk serves two thousand newcomers every year in four languages."])
    world = World([first, then])
    question = "What did Utopia do?"
    analysis = QueryAnalysis(text=question, wants_recommendations=False, wants_practices=True, focus=question)
    scored = world.scored({(1, 1): 0.95, (1, 0): 0.7, (0, 1): 0.75, (0, 0): 0.2})
    for x in scored:
        if x.hit_rank == 1:
            x.hit.continues = 0
    evidence = Evidence(question, question, analysis, [], scored, np.zeros(3), frozenset())
    out = quotes(ExtractiveComposer(world, ComposeSettings(), catalogue=None).compose(evidence))
    at = {q: i for i, q in enumerate(out)}
    assert "Towns in the region may join partnerships with cities abroad." in at
    assert at["Towns in the region may join partnerships with cities abroad."] < at["This provides a channel for reaching emigrants abroad."]


def test_a_quote_going_on_from_another_stays_with_it_under_its_heading():
    # grouped under headings, "This model should be copied …" (a recommendation) goes on from a
    # practice in the passage before: it stays right after it, not under "What the reports recommend"
    lead = passage("p0", ["Member states should earmark funds for local integration work."], source="r2.txt")
    first = passage("p1", ["Several towns in the region are small.",
                           "In 2015 the city of Utopia set up a welcome desk with its partner town Nowhere."])
    then = passage("p2", ["This model should be copied by other towns in the region.",
                          "Funding came from the regional budget."])
    world = World([lead, first, then])
    question = "What should be done for newcomers?"
    analysis = QueryAnalysis(text=question, wants_recommendations=True, wants_practices=False, focus=question,
                             asks=frozenset({"recommendation"}))
    scored = world.scored({(0, 0): 0.95, (1, 1): 0.9, (2, 0): 0.88, (1, 0): 0.1, (2, 1): 0.1})
    for x in scored:
        if x.hit_rank == 2:
            x.hit.continues = 1
    evidence = Evidence(question, question, analysis, [], scored, np.zeros(3), frozenset())
    draft = ExtractiveComposer(world, ComposeSettings(), catalogue=None).compose(evidence)
    texts = [b.text for b in draft.blocks]
    desk = next(i for i, t in enumerate(texts) if "welcome desk" in t)
    copied = next(i for i, t in enumerate(texts) if t.startswith("This model should be copied"))
    assert copied == desk + 1


def test_a_quotation_that_does_not_close_takes_no_room_from_other_sentences():
    p1 = passage("p1", ["As the mayor of Utopia put it, ‘We opened the desk for everyone.",
                        "The city of Utopia opened a welcome desk for newcomers in 2015."])
    p2 = passage("p2", ["The desk of Utopia serves two thousand newcomers every year."])
    out = quotes(compose(World([p1, p2]), {(0, 0): 0.9, (0, 1): 0.85, (1, 0): 0.8}, max_sentences=2))
    assert not any("mayor" in q for q in out)
    assert any("two thousand" in q for q in out) and any("welcome desk" in q for q in out)


def test_a_lead_in_without_a_quotable_item_takes_no_room_from_other_sentences():
    p1 = passage("p1", ["The city of Utopia did three things for newcomers:", "Welcome desks", "A welcome desk for newcomers opened in the town hall in 2015."],
                 titles=[1])  # the item after the lead-in is a heading: it cannot be quoted
    p2 = passage("p2", ["The desk of Utopia serves two thousand newcomers every year."])
    out = quotes(compose(World([p1, p2]), {(0, 0): 0.9, (0, 2): 0.85, (1, 0): 0.8}, max_sentences=2))
    assert not any(q.endswith(":") for q in out)
    assert any("two thousand" in q for q in out) and any("town hall in 2015" in q for q in out)


def test_a_question_asking_for_advice_leads_with_a_recommendation():
    p = passage("p1", ["Many towns in the region have partners abroad and hold yearly visits.",
                       "Town halls should use migrant associations to reach their emigrants.",
                       "The mayor visited the partner town twice."])
    probs = {(0, 0): 0.9, (0, 1): 0.8, (0, 2): 0.5}
    question = "How should town halls reach their emigrants?"
    draft = compose(World([p]), probs, question=question, asks=frozenset({"recommendation"}))
    assert quotes(draft)[0].startswith("Town halls should")
    # not when the recommendation ranks far below the best sentence
    draft = compose(World([p]), {(0, 0): 0.9, (0, 1): 0.3}, question=question, asks=frozenset({"recommendation"}))
    assert quotes(draft)[0].startswith("Many towns")
    # nor for a question that asks for no advice
    draft = compose(World([p]), probs, question="What have town halls done?", asks=frozenset())
    assert quotes(draft)[0].startswith("Many towns")


def test_advice_phrased_without_should_leads_before_a_sentence_that_only_names_the_places_asked():
    # "it is extremely important that …", "it is best if …" are advice too; for an advice question
    # that names countries, the best advice leads even when a sentence naming both countries is there
    p = passage("p1", ["It is extremely important that the two sides be seen as equal partners.",
                       "Exchanges with Morocco and Turkey stimulated cooperation between many actors."])
    probs = {(0, 0): 0.9, (0, 1): 0.6}
    scored_names = {(0, 1): {"Morocco": "name", "Turkey": "name"}}
    question = "What kind of partner should a town in Morocco or Turkey choose?"
    draft = compose(World([p]), probs, question=question, facts=scored_names, asks=frozenset({"recommendation"}))
    assert quotes(draft)[0].startswith("It is extremely important")
    # without the advice ask, the sentence naming the asked countries leads
    draft = compose(World([p]), probs, question="What happened in Morocco and Turkey?", facts=scored_names, asks=frozenset())
    assert quotes(draft)[0].startswith("Exchanges with Morocco")


def _lead_when_the_first_names_the_question(world: World, question: str, common: frozenset[str] = frozenset()) -> str:
    """The answer's first quote when the first passage's sentence (probability 0.8) names a name of
    the question (its question_names feature) and the second's (0.9) does not."""
    analysis = QueryAnalysis(text=question, wants_recommendations=False, wants_practices=True, focus=question)
    scored = world.scored({(0, 0): 0.8, (1, 0): 0.9})
    scored[0].features[FEATURES.index("question_names")] = 1.0
    evidence = Evidence(question, question, analysis, [], scored, np.zeros(3), frozenset(), common_names=common)
    return quotes(ExtractiveComposer(world, ComposeSettings(), catalogue=None).compose(evidence))[0]


def test_a_country_named_by_its_adjective_is_named_too_by_a_city_of_it():
    # "Spanish cities": the sentence about Barcelona answers; the one that repeats "Spanish" does not
    # lead merely for sharing the adjective
    fund = passage("p1", ["The abolished Spanish national fund deprived many cities of a vital resource."])
    own = passage("p2", ["Barcelona runs its own introduction programme for families joining migrants."], source="r2.txt")
    question = "Have any Spanish cities run their own introduction programmes?"
    assert _lead_when_the_first_names_the_question(World([fund, own]), question).startswith("Barcelona runs")


def test_a_name_word_most_passages_contain_does_not_pull_the_lead():
    # "a European city": a sentence that only repeats "European" is not the one naming what was asked;
    # with the word not common, the sentence naming it leads as before
    generic = passage("p1", ["Numerous governments in European countries support migrant initiatives."])
    role = passage("p2", ["Hometown associations link a region of origin with the destination country."], source="r2.txt")
    world = World([generic, role])
    question = "What role do migrant associations play in partnerships between a European city and its partner town?"
    assert _lead_when_the_first_names_the_question(world, question, frozenset({"european"})).startswith("Hometown associations")
    assert _lead_when_the_first_names_the_question(world, question).startswith("Numerous governments")


def test_a_place_lead_is_a_city_of_the_country_asked_for():
    p = passage("p1", ["It is worth noting that Moroccans are underrepresented in the Dutch police force.",
                       "The police of Rotterdam and Casablanca exchange knowledge on transnational crime.",
                       "The police of Lyon and Oran have exchanged officers."])
    probs = {(0, 0): 0.9, (0, 2): 0.85, (0, 1): 0.8}
    draft = compose(World([p]), probs, question="Has any Dutch city worked with the police of a Moroccan city?",
                    asks=frozenset({"name"}))
    # "Moroccans" and "Dutch" are the question's own countries, Lyon is no Dutch city
    assert quotes(draft)[0].startswith("The police of Rotterdam")


class Catalogue:
    """The catalogue's records of some sentences: (level, kind) by sentence text."""

    def __init__(self, records: dict[str, tuple[str, str]]):
        self.records = records

    def record_for(self, source: str, text: str):
        level, kind = self.records.get(text, (None, None))
        return SimpleNamespace(level=level, kind=kind) if kind else None

    def filter(self, **criteria):
        return []

    def relabel(self, source: str, text: str, label):
        return label


def test_advice_to_the_eu_is_no_answer_to_what_an_origin_town_hall_can_do():
    own = "Municipalities of origin should reach out to emigrants through hometown associations."
    eu = "The Commission should include small and rural municipalities in its activities."
    world = World([passage("p1", [own]), passage("p2", [eu], source="r2.txt")])
    catalogue = Catalogue({own: ("origin_municipality", "recommendation"), eu: ("eu", "recommendation")})

    def answer(levels):
        question = "We are a small municipality in Morocco. What could our town hall do for our emigrants?"
        analysis = QueryAnalysis(text=question, wants_recommendations=True, wants_practices=False, focus=question,
                                 levels=levels)
        evidence = Evidence(question, question, analysis, [], world.scored({(0, 0): 0.7, (1, 0): 0.9}), np.zeros(3),
                            frozenset())
        return " ".join(quotes(ExtractiveComposer(world, ComposeSettings(), catalogue=catalogue).compose(evidence)))

    assert "Municipalities of origin" in answer(("origin_municipality",)) and "Commission" not in answer(("origin_municipality",))
    # a destination city's question may well be answered by what the EU should do for it
    assert "Commission" in answer(("destination_city",))


def test_a_sentence_for_the_level_asked_leads_only_when_nearly_as_close_as_the_best():
    # the level bonus orders the answer, but advice to all levels at once, far below the paragraph that
    # answers, does not open it; nearly as close, the sentence for the level asked leads
    answer = "Standing frameworks should preclude any stop-and-go involvement of cities in national decisions."
    level = "Local authorities, member states and EU institutions should focus on three priorities."
    world = World([passage("p1", [answer]), passage("p2", [level], source="r2.txt")])
    catalogue = Catalogue({level: ("destination_national", "recommendation")})
    question = "How can national governments avoid consulting cities only now and then?"
    analysis = QueryAnalysis(text=question, wants_recommendations=True, wants_practices=False, focus=question,
                             levels=("destination_national",), asks=frozenset({"recommendation"}))

    def lead(level_prob: float) -> str:
        evidence = Evidence(question, question, analysis, [], world.scored({(0, 0): 0.9, (1, 0): level_prob}),
                            np.zeros(3), frozenset())
        return quotes(ExtractiveComposer(world, ComposeSettings(), catalogue=catalogue).compose(evidence))[0]

    assert lead(0.5).startswith("Standing frameworks")
    assert lead(0.8).startswith("Local authorities")


@pytest.mark.parametrize("question, asks, background, answer, other", [
    # "What role do X play …?": the sentence saying what role X plays, not one saying another group's role
    ("What role do hometown associations play in town partnerships?", "role",
     "Numerous governments support migrant initiatives in their partner towns.",
     "Hometown associations act as a link between a region of origin and the destination.",
     "National agencies serve as funders of the town partnerships."),
    # "What is X supposed to achieve?": the sentence saying what it is for; a plan "intended to be
    # developed" says no purpose
    ("What is the predeparture training supposed to achieve?", "purpose",
     "The department was established in 1996 and runs the predeparture training.",
     "The objective of predeparture training is to provide information about jobs.",
     "The predeparture training is intended to be developed across the country."),
])
def test_a_question_of_a_kind_leads_with_the_sentence_of_that_kind(question, asks, background, answer, other):
    # … when it is nearly as close to the question as the best sentence (role / purpose_lead_ratio)
    world = World([passage("p1", [background]), passage("p2", [answer], source="r2.txt"),
                   passage("p3", [other], source="r3.txt")])
    draft = compose(world, {(0, 0): 0.9, (1, 0): 0.8, (2, 0): 0.85}, question=question, asks=frozenset({asks}))
    assert quotes(draft)[0] == answer
    draft = compose(world, {(0, 0): 0.9, (1, 0): 0.5, (2, 0): 0.85}, question=question, asks=frozenset({asks}))
    assert quotes(draft)[0] == background


def test_a_question_for_items_of_a_kind_leads_with_the_sentence_listing_them():
    # "What financial services does the project offer?": the sentence listing the services leads when
    # nearly as close to the question as the best one (by items_lead_ratio)
    background = passage("p1", ["The national government pursued the project to offer new services to migrants."])
    listing = passage("p2", ["Private institutions offer services such as savings, insurance, and pension plans."],
                      source="r2.txt")
    question = "What financial services does the project offer to migrants?"
    world = World([background, listing])
    assert quotes(compose(world, {(0, 0): 0.9, (1, 0): 0.7}, question=question))[0].startswith("Private institutions")
    assert quotes(compose(world, {(0, 0): 0.9, (1, 0): 0.5}, question=question))[0].startswith("The national")
    assert quotes(compose(world, {(0, 0): 0.9, (1, 0): 0.7}, question=question,
                          items_lead_ratio=0.9))[0].startswith("The national")


def test_who_wrote_a_report_is_answered_by_its_whole_author_block():
    # the author block of the front matter names one author a line, each followed by the affiliation:
    # it leads, quoted from the first author to the last, though no line is a sentence
    from dataclasses import replace

    note = passage("p1", ["This brief was developed in a research project funded by a foundation."])
    block = passage("p2", ["Jane Doe", "Research Fellow, University of Somewhere", "Karl Roe", "Professor, Other University"],
                    titles=[0, 1, 2, 3])
    world = World([note, block])
    scored = [replace(x, hit=replace(x.hit, front_matter=True)) for x in world.scored({(0, 0): 0.9, (1, 0): 0.3, (1, 2): 0.3})]
    question = "Who wrote the brief?"
    analysis = QueryAnalysis(text=question, wants_recommendations=False, wants_practices=False, focus=question,
                             about_report=True, authors=("Doe", "Roe"))
    evidence = Evidence(question, question, analysis, [], scored, np.zeros(3), frozenset(), frozenset())
    draft = ExtractiveComposer(world, ComposeSettings(), catalogue=None).compose(evidence)
    assert quotes(draft)[0] == "Jane Doe Research Fellow, University of Somewhere Karl Roe Professor, Other University"
    # without the authors known, the lines are no quotes: the note answers
    analysis.authors = ()
    draft = ExtractiveComposer(world, ComposeSettings(), catalogue=None).compose(evidence)
    assert quotes(draft) == [note.sentences[0]]


def test_a_quotation_comes_whole_or_not_at_all():
    p = passage("p1", ["As the mayor put it, ‘It was obvious that these people were torn between two countries.",
                       "We had to do something.’",
                       "The town then opened an office for its emigrants abroad."])
    world = World([p])
    # the sentence that opens the quotation brings the one that closes it
    draft = compose(world, {(0, 0): 0.9})
    assert quotes(draft) == [p.sentences[0] + " " + p.sentences[1]]
    # and is left out when the quotation does not close within two sentences
    q = passage("q1", ["As the mayor put it, ‘It was obvious that these people were torn between two countries.",
                       "We had to do something.", "We did.", "The town then opened an office for its emigrants abroad."])
    draft = compose(World([q]), {(0, 0): 0.9, (0, 3): 0.8})
    assert all("mayor" not in x for x in quotes(draft)) and any("office" in x for x in quotes(draft))


def test_a_follow_up_gets_a_shown_sentence_again_when_it_answers_it_far_better():
    # "Who helped organise it?" after an answer whose sentence named who did: that sentence leads again,
    # and the new sentences that follow are kept by their own bar, not by the repeated one's
    named = passage("p1", ["The platform was implemented with the Dutch Embassy in Rabat and a national committee."])
    other = passage("p2", ["The Netherlands set up support programmes for municipal cooperation.",
                           "The budget for these programmes was relatively large."], source="r2.txt")
    world = World([named, other])
    shown = frozenset(named.sentences)
    probs = {(0, 0): 0.95, (1, 0): 0.5, (1, 1): 0.45}
    again = quotes(compose(world, probs, shown=shown))
    assert again[0] == named.sentences[0] and any("support programmes" in q for q in again)
    # nothing repeats when a new sentence answers nearly as well, nor with repeat_ratio 0
    assert named.sentences[0] not in quotes(compose(world, {(0, 0): 0.6, (1, 0): 0.55}, shown=shown))
    assert named.sentences[0] not in quotes(compose(world, probs, shown=shown, repeat_ratio=0.0))
    # nor after a follow-up that moves to a new slot ("And at city level?"): what was shown answered the earlier one
    assert named.sentences[0] not in quotes(compose(world, probs, shown=shown, new_slot="city level"))


def test_a_follow_up_asking_about_problems_gets_the_shown_problem_again():
    # "Was setting them up straightforward?" after an answer that already said the set-up was
    # complex: no new sentence names a problem, so the shown one comes back (and leads)
    p = passage("p1", ["In 2010 a law mandated local government units to establish migrant desks.",
                       "The establishment of the desks has been a challenging and highly complex process.",
                       "The desks operate within the public employment offices."])
    shown = frozenset(p.sentences[:2])
    probs = {(0, 0): 0.95, (0, 1): 0.85, (0, 2): 0.8}
    again = quotes(compose(World([p]), probs, question="Was setting them up straightforward?", shown=shown,
                           asks=frozenset({"reason"})))
    assert again[0].startswith(p.sentences[1])
    # … not when the follow-up asks for something else
    other = quotes(compose(World([p]), probs, question="Where do the desks operate?", shown=shown))
    assert all(p.sentences[1] not in q for q in other)


def test_a_lower_ranked_sentence_never_takes_the_context_of_a_higher_ranked_one():
    # "In order to fulfill this role, ZAM …" brought "The city of Nuremberg is one such case. It set up
    # … (ZAM) …"; a lower-ranked "It has created …" that needs room must not push that context out
    a = passage("p1", ["The city of Nuremberg is one such case.",
                       "It set up a central contact point for migration (ZAM) for newcomers.",
                       "In order to fulfill this role, ZAM forged a partnership with course providers."])
    b = passage("p2", ["But the takeover came at a price for all the cities.",
                       "It has created a heavy bureaucracy around the courses."], source="r2.txt")
    world = World([a, b])
    probs = {(0, 2): 0.9, (1, 1): 0.6}
    words = sum(len(t.split()) for t in a.sentences) + len(b.sentences[1].split())
    draft = compose(world, probs, max_words=30, context_words=words - 30 + 2)
    text = " ".join(quotes(draft))
    assert "one such case" in text and "(ZAM)" in text and "forged a partnership" in text


def test_a_place_label_introduces_the_sentence_it_belongs_to():
    # "*Munich (Germany), city:* Cities have a long tradition …" would label a sentence about no city
    general = "Cities have a long tradition of combating discrimination and racism."
    munich = "Munich set up a health service for unauthorized immigrants."
    labelled = [b.label for b in compose(World([passage("p1", [munich, general])]), {(0, 0): 0.9, (0, 1): 0.85}).statements]
    assert labelled[0].startswith("Munich (Germany)")
    unlabelled = [b.label for b in compose(World([passage("p1", [general, munich])]), {(0, 0): 0.9, (0, 1): 0.85}).statements]
    assert unlabelled == [""]


def test_a_sentence_far_from_the_question_does_not_open_the_answer_before_the_lead():
    # the lead ("The campaign provoked …") needs the sentence before it; the one before that, chosen
    # for itself but about something else, is quoted after them, not in front
    p = passage("p1", ["Smith observes that an unrelated project in Senegal was linked to return migration.",
                       "In 2011 a party launched a campaign called Come Home in the city of Gent.",
                       "The campaign provoked strong reactions in Gent."])
    world = World([p])
    scored = world.scored({(0, 0): 0.7, (0, 1): 0.9, (0, 2): 0.95})
    scored[0].relevance, scored[1].relevance, scored[2].relevance = 0.2, 0.5, 0.6
    question = "Which party ran the Come Home campaign in Gent?"
    analysis = QueryAnalysis(text=question, wants_recommendations=False, wants_practices=True, focus=question)
    out = quotes(ExtractiveComposer(world, ComposeSettings(), catalogue=None).compose(
        Evidence(question, question, analysis, [], scored, np.zeros(3), frozenset())))
    assert out[0] == p.sentences[1] + " " + p.sentences[2] and out[1] == p.sentences[0]
    # one nearly as close to the question keeps its place at the opening: the paragraph reads on
    scored[0].relevance = 0.5
    out = quotes(ExtractiveComposer(world, ComposeSettings(), catalogue=None).compose(
        Evidence(question, question, analysis, [], scored, np.zeros(3), frozenset())))
    assert out[0] == " ".join(p.sentences)


def test_after_a_followup_moved_to_a_new_slot_a_sentence_on_the_slot_leads():
    # "And what about the regions?" after a question on Utopia's towns: the sentence on the regions
    # leads when nearly as good as the best, which only names Utopia
    world = World([passage("p1", ["Utopia's towns share the work of settling newcomers with the state.",
                                  "The provincial boards represent the state in the regions and run health care."])])
    probs = {(0, 0): 0.9, (0, 1): 0.8}
    assert quotes(compose(world, probs))[0].startswith("Utopia's towns")
    led = quotes(compose(world, probs, question="And what about the regions?", new_slot="the regions"))
    assert led[0].startswith("The provincial boards")
    # … not when it falls below slot_lead_ratio of the best
    kept = quotes(compose(world, {(0, 0): 0.9, (0, 1): 0.5}, question="And what about the regions?",
                          new_slot="the regions", keep_ratio=0.5, lead_passage_keep_ratio=0.5))
    assert kept[0].startswith("Utopia's towns")


def test_the_end_of_a_quotation_opened_in_the_passage_before_is_not_quoted():
    # the chunker cut the quotation: its speaker and opening are in the passage before
    world = World([passage("p1", ["The city is open to people and investors alike.”",
                                  "A third network is the coalition of cities against racism.",
                                  "As of 2017, 134 municipalities have joined it."])])
    out = quotes(compose(world, {(0, 0): 0.9, (0, 1): 0.85, (0, 2): 0.8}, max_sentences=3))
    assert not any("alike" in q for q in out) and any("134 municipalities" in q for q in out)


def test_a_why_question_is_led_by_a_sentence_that_gives_a_cause():
    world = World([passage("p1", ["Utopia set up a partnership with a town abroad in 2010."]),
                   passage("p2", ["The partnership stalled because the town abroad lacked staff."])])
    probs = {(0, 0): 0.9, (1, 0): 0.8}
    assert quotes(compose(world, probs, question="What did Utopia do?"))[0].startswith("Utopia set up")
    why = quotes(compose(world, probs, question="What held the partnership back?", asks=frozenset({"reason"})))
    assert why[0].startswith("The partnership stalled")
    # … only when nearly as close to the question as the best (reason_lead_ratio)
    far = quotes(compose(world, {(0, 0): 0.9, (1, 0): 0.5}, question="What held the partnership back?",
                         asks=frozenset({"reason"}), keep_ratio=0.5, lead_passage_keep_ratio=0.5))
    assert far[0].startswith("Utopia set up")


def test_a_question_asking_for_a_city_is_led_by_a_sentence_naming_one():
    # "Did any city …?" is not answered by a sentence naming countries only, nor by "Roma" (people)
    world = World([passage("p1", ["Migrants from Bulgaria and Romania, including Roma, moved west.",
                                  "Some cities opened a contact point in Berlin for them."])])
    probs = {(0, 0): 0.9, (0, 1): 0.8}
    out = quotes(compose(world, probs, question="Our city has many Romanian workers. Did any city set up a service?",
                         asks=frozenset({"name"})))
    assert out[0].startswith("Some cities opened")
