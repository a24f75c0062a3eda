"""The analyse, score, gate and assemble stages on small synthetic inputs (no index)."""

from __future__ import annotations

import pytest

from assistant.analysis import (
    about_report,
    analyse,
    asked_place_kind,
    asked_place_span,
    asks_for,
    asks_in_order,
    items_noun,
    name_words,
    names_authors,
    person_asked,
    report_names,
    role_subject,
)
from assistant.assemble import FLAG, render
from assistant.gate import Gate, corpus_vocabulary, decline_message, nearest_topics
from assistant.models import (
    Draft,
    GateDecision,
    Heading,
    Hit,
    Passage,
    ReportMeta,
    Rewrite,
    ScoredSentence,
    Statement,
)
from assistant.pipeline import named_anew
from assistant.scoring import (
    CaseTable,
    IdfTable,
    SentenceScorer,
    fact_tokens,
    lists_items,
    quote_balance,
    sentence_flags,
    trim_link_tail,
)
from assistant.settings import GateSettings, ScoringSettings

REPORTS = [ReportMeta(source="r1.txt", title="Cities and states", short_citation="Doe 2020", aliases=["the cities study"])]


def passage(pid: str, text: str, section: str = "2. Funding", source: str = "r1.txt", kind: str = "body") -> Passage:
    return Passage(passage_id=pid, source=source, title="Cities and states", short_citation="Doe 2020", section=section,
                   section_kind=kind, start_line=3, end_line=9, text=text, sentences=[text])


# --------------------------------------------------------------------------- analyse


def test_the_kind_of_fact_asked_for():
    assert asks_for("How many cities signed the charter?") >= {"number"}
    assert "year" in asks_for("When was the fund set up?")
    assert "name" in asks_for("Has any city done that?")
    assert "reason" in asks_for("Why did the partnership stop?")
    for q in ("What held the city back from using the partnership?", "What do critics say about the programmes?",
              "What are the downsides of this approach?", "What made it hard for other towns to do the same?",
              "Has that worked well in practice?", "What stops European towns from cooperating with Moroccan towns?",
              "Was setting them up straightforward?", "Has decentralisation gone smoothly there?"):
        assert "reason" in asks_for(q), q
    assert "reason" not in asks_for("What did the city do to stop discrimination?")
    assert "recommendation" in asks_for("What should national governments do about funding?")
    assert not asks_for("Describe the welcome desk in the town hall.") & {"number", "year", "name"}
    # the role of a group, and which group
    q = "What role do migrant associations play in partnerships between a European city and a town?"
    assert "role" in asks_for(q) and role_subject(q) == "migrant associations"
    assert role_subject("What is the role of cities in EU policymaking?") == "cities"
    assert "role" not in asks_for("Which cities played the biggest part in the network?")
    # what something is for
    for q in ("What is the predeparture training supposed to achieve?", "What is the main aim of the partnership?",
              "What does Copenhagen want to achieve by topping up school funding?", "What are the schemes meant to do?"):
        assert "purpose" in asks_for(q), q
    assert "purpose" not in asks_for("Has any German city developed language courses aimed at particular jobs?")


def test_the_kind_of_item_a_question_asks_for():
    assert items_noun("What financial services does the NEXUS project in Moldova offer to migrants?") == "services"
    assert items_noun("Which kinds of exchange projects do the partnerships involve?") == "projects"
    assert items_noun("What are the main tasks of the European Integration Forum?") == "tasks"
    assert items_noun("Which rights of refugees does the convention cover?") == "rights"
    assert items_noun("Which groups and needs should the strategy not overlook?") == "groups"
    # a place or a role is answered by leads of their own; "what should X do" asks for no kind of item
    for q in ("Which cities have started lobbying on relocation?", "What role do migrant associations play?",
              "What should national governments do about funding?", "What is the role of cities?",
              "How do cities fund the courses?"):
        assert items_noun(q) is None, q


def test_a_sentence_listing_items_after_their_noun():
    assert lists_items("Through the project, private institutions offer services such as savings, insurance, and "
                       "transferable pension plans to current migrants.", "services")
    assert lists_items("The Forum's main tasks will be consultation, exchange of expertise and drawing up "
                       "recommendations.", "tasks")
    assert lists_items("Needed support includes help with the recognition of skills and the provision of courses.",
                       "support")
    # the noun without a list, or a list of something else
    assert not lists_items("The government pursued projects such as NEXUS to develop new strategies for offering "
                           "services to migrants at the local level.", "services")
    assert not lists_items("The services are offered in Chisinau and Balti.", "services")


def test_who_wrote_a_report_asks_for_the_authors_the_catalogue_knows():
    reports = [ReportMeta(source="r1.txt", title="Cities and states", short_citation="Example & Sample 2020",
                          aliases=["the cities study"], authors="Anne-Linde Example and Ben van Sample"),
               ReportMeta(source="r2.txt", title="Desks", short_citation="Committee 2011", aliases=["the desk opinion"],
                          authors="European Economic and Social Committee")]
    for q in ("Who are the authors of the cities study?", "Who wrote the cities study?",
              "Who has written the cities study?", "Which researchers wrote the cities study?"):
        assert analyse(q, reports).authors == ("Example", "Sample"), q
    assert analyse("Who drafted the desk opinion?", reports).authors == ("European Economic and Social Committee",)
    # naming a report by its authors asks what they say, not who they are
    what = analyse("What do the authors of the cities study recommend about funding?", reports)
    assert not what.about_report and what.authors == ()
    assert analyse("Who wrote the fourth report?", reports).authors == ()  # names no report
    # a name cited with a year is a reference to other work, not a byline
    assert names_authors("Anne-Linde Example and Ben van Sample", ("Example", "Sample")) == 2
    assert names_authors("Support programmes were phased out (Van Sample 2013).", ("Sample",)) == 0
    assert names_authors("Van Sample ( 2013 ) shows it.", ("Sample",)) == 0


def test_the_kinds_of_fact_in_the_order_asked():
    assert asks_in_order("Were any Turkish cities part of the network, and how many cities took part overall?") == (
        "name", "number")
    assert asks_in_order("When was the institute created, and how many counsellors does it have?") == ("year", "number")
    assert asks_in_order("How many municipalities belong to it, and who launched it?")[:2] == ("number", "name")


def test_the_place_a_question_asks_for():
    assert asked_place_kind("Did any city set something up on its own?") == "city"
    assert asked_place_kind("Which towns in Morocco are twinned?") == "city"
    assert asked_place_kind("Has any European country done that?") == "country"
    assert asked_place_kind("Where do states and cities clash?") is None
    # the countries that say where the asked place is, not those named elsewhere in the question
    assert asked_place_span("Has any German city done that?") == "any German city"
    assert asked_place_span("Which towns in Morocco are twinned?").startswith("Which towns in Morocco")
    assert asked_place_span("Our city has many Romanian workers. Did any city set up a service?") == "any city"
    assert asked_place_span("Where in Germany did cities do it?") is None


def test_a_question_about_who_made_a_report():
    assert about_report("Who drafted the OSCE study, and who commissioned it?", named=True)
    assert about_report("Who funded the research behind this brief?", named=False)
    assert about_report("Who pays for the INTERACT project?", named=True)
    assert not about_report("Who funded the Munich health care model?", named=False)
    assert not about_report("Who runs the welcome desk in Utopia?", named=False)
    # the sentence about the document is no anaphor: "This study" is the report, not a sentence before
    flags = sentence_flags("This study was commissioned by the Office from the Policy Group, whose researchers drafted it.")
    assert "meta" in flags and not flags & {"anaphor", "demonstrative"}


def test_named_reports_filter_and_are_not_matched_as_words():
    a = analyse("What does the cities study recommend about funding?", REPORTS)
    assert a.named_sources == ["r1.txt"] and "study" not in a.focus and "funding" in a.focus
    assert analyse("Do the reports agree on funding?", REPORTS).comparative


def test_a_report_added_without_aliases_is_named_by_its_own_words():
    # an added report has only its title as a name; "the translocal chapter" or "the OSCE study" name
    # it by words its title holds or its text uses far more than any other report's
    added = ReportMeta(source="a.txt", title="Translocal activities of local governments", short_citation="Added 2016")
    osce = ReportMeta(source="b.txt", title="Co-ordination on local migrant integration", short_citation="Other 2017")
    texts = {"a.txt": ["Hometown associations fund schools.", "Hometown associations build wells.",
                       "Hometown groups meet mayors."],
             "b.txt": ["OSCE participating States co-ordinate.", "The OSCE study compares OSCE States.",
                       "Hometown associations are rare."]}
    passages = [passage(f"{src}{i}", t, source=src) for src, ts in texts.items() for i, t in enumerate(ts)]
    words = name_words([added, osce], passages)
    assert {"translocal", "hometown"} <= words["a.txt"] and "osce" in words["b.txt"] and "osce" not in words["a.txt"]
    reports = [added.model_copy(update={"name_words": words["a.txt"]}), osce.model_copy(update={"name_words": words["b.txt"]})]
    assert report_names("What does the translocal chapter say about wells?", reports) == [("a.txt", "the translocal chapter")]
    assert [s for s, _ in report_names("According to the OSCE study, who co-ordinates?", reports)] == ["b.txt"]
    # a word both titles hold, modifiers, plurals and the bare collection name none
    for question in ("What does the local report say?", "What does the latest study say?",
                     "What do the translocal reports say?", "What does the report say about OSCE States?"):
        assert report_names(question, reports) == [], question
    a = analyse("What does the translocal chapter recommend about wells?", reports)
    assert a.named_sources == ["a.txt"] and "chapter" not in a.focus and "wells" in a.focus
    # an institution as author names it by its words and its initials
    eesc = ReportMeta(source="c.txt", title="Cooperation in integrating immigrants", short_citation="EESC 2011",
                      authors="European Economic and Social Committee")
    words = name_words([added, eesc], passages)
    assert {"eesc", "committee"} <= words["c.txt"]


# --------------------------------------------------------------------------- score


def test_a_word_never_written_in_lower_case_is_a_name_even_first_in_a_sentence():
    case = CaseTable([["Nuremberg set up a contact point.", "The city of Nuremberg helped.", "Many cities did too.", "many more"]])
    facts = fact_tokens("Nuremberg set up 12 desks in 2014 with the ZAM and the “Welcome” plan.", case)
    assert facts["nuremberg"] == "name" and facts["12"] == "number" and facts["2014"] == "year"
    assert facts["zam"] == "acronym" and "“welcome" in facts
    assert "many" not in fact_tokens("Many cities did too.", case)


def test_a_demonstrative_pronoun_closing_the_opening_phrase_points_back():
    assert "demonstrative" in sentence_flags("Reflecting this, there is little research on city partnerships.")
    assert "demonstrative" in sentence_flags("Despite this, most towns kept their own courses.")
    assert "demonstrative" not in sentence_flags("Towns that do this well share their staff with partner cities.")


def test_kinds_of_sentence_that_are_not_quoted():
    assert "meta" in sentence_flags("This chapter describes the policies of three cities.")
    assert "biblio" in sentence_flags("Political Geography 28 (2009): 496.")
    assert "biblio" in sentence_flags("Interview with a project coordinator, 7 October 2014.")
    assert "markup" in sentence_flags('The report <img src="//x.org/p.png"> says so.')
    assert "leadin" in sentence_flags("The plan has three parts:")
    assert "connective" in sentence_flags("Therefore, the city acted.")
    assert "connective" not in sentence_flags("So far, few cities have acted.")
    assert "anaphor" in sentence_flags("It then opened a second office in the north.")
    assert "anaphor" in sentence_flags("The city opened a second office in the north of the town.")  # which city?
    assert "anaphor" in sentence_flags("Since 1998 the city has had its own office for nondiscrimination.")
    # a reason for what the sentence before says
    assert "demonstrative" in sentence_flags("One reason may be that cities address their national governments directly.")
    assert not sentence_flags("One reason for the delay was the election in 2015.")
    assert not sentence_flags("Utrecht opened a second office in the north of the town.")
    # an expletive "it" points at the clause that follows, not at a sentence before
    assert "anaphor" not in sentence_flags("It is important to note that the government began reforms in 2012.")
    assert "anaphor" not in sentence_flags("It has become known that local authorities do not always spend the money.")
    assert "anaphor" not in sentence_flags("It should be noted here that the role of the regions differs.")
    assert "anaphor" not in sentence_flags("It is extremely important that the two sides be seen as equal partners.")
    assert "anaphor" not in sentence_flags("It is best if municipalities cooperate with others of similar size.")
    assert "anaphor" not in sentence_flags("It remains to be seen whether the new fund reaches the towns.")
    assert "anaphor" in sentence_flags("It is best known for its harbour festival.")
    assert "anaphor" in sentence_flags("It is expected to open a second office in 2020.")
    assert "anaphor" in sentence_flags("It is designed to help newcomers find work.")
    # reference entries: "Author (year), “Title”" and an inverted author name before "(year),"
    assert "biblio" in sentence_flags("Urban Partnership on Inclusion (2017), “Action Plan: Partnership on Inclusion”.")
    assert "biblio" in sentence_flags("Heimann, Christiane and Janina Doe (2020), Evaluation Report: Urban Partnership.")
    assert "biblio" not in sentence_flags("According to Van Ewijk (2013), Dutch municipalities took the lead in most cases.")
    assert "biblio" not in sentence_flags("Berlin, Hamburg and Munich opened welcome centres for newcomers in 2015.")
    assert "biblio" in sentence_flags("For an overview of city strategies see EUROCITIES, Integrating Cities: Cities and Migrants.")
    assert "biblio" not in sentence_flags("For example, the city saw its budget for language courses cut by half.")


def test_a_plural_possessive_is_no_closing_quote():
    assert quote_balance("The platform encourages emigrants’ political participation.") == 0
    assert quote_balance("The so-called ‘new arrivals’ are housed first.") == 0
    assert quote_balance("As the mayor put it, ‘it was obvious.") == 1
    assert quote_balance("… and investors alike.”") == -1
    assert quote_balance("It works,’ said the mayor.") == -1


def test_a_reference_with_a_publishers_imprint_is_a_reference_line():
    assert "biblio" in sentence_flags(
        "Organization for Economic Cooperation and Development (OECD), Settling In (Paris: OECD Publishing, 2012), 127.")
    assert "biblio" not in sentence_flags("The plan (Germany: 2007, renewed 2012) was adopted by the cabinet.")


def test_a_link_in_the_closing_clause_is_cut_off_not_the_sentence():
    note = ("Research output of the project includes case studies on Amsterdam, Barcelona, Milan, Prague, Turku and "
            "Warsaw, project website, <http://example.org/outputs.html>.")
    head = trim_link_tail(note)
    assert head is not None and note.startswith(head) and head.endswith("project website")
    assert "markup" not in sentence_flags(head + "…")
    # the link is not in the closing clause, the rest is too short, or what stays is a reference entry
    assert trim_link_tail("See http://example.org/a.pdf for the whole list of the many cities that signed the charter in the end.") is None
    assert trim_link_tail("Project website, <http://example.org>.") is None
    assert trim_link_tail('A State-of-the-Art study for the Knowledge Project", ISMU Foundation, Milan, 2014, '
                          "<http://example.org/a.pdf>.") is None
    assert trim_link_tail("A sentence with no link in it at all, which is quoted whole.") is None


def test_idf_weights_rare_terms_higher():
    idf = IdfTable([passage("a", "city funding"), passage("b", "city desk"), passage("c", "city charter")])
    assert idf.idf("charter") > idf.idf("citi")
    # the share of passages with a word, stemmed as the table is: "Cities" is in all three, "desk" in one
    assert idf.share("Cities") == 1.0 and idf.share("desk") == pytest.approx(1 / 3) and idf.share("Bern") == 0.0


class _Index:
    """The little of an index the score stage reads: passages, their sentence rows and vectors."""

    def __init__(self, passages: list[Passage]):
        import numpy as np

        self.passages = passages
        self.sentence_vectors = np.zeros((sum(len(p.sentences) for p in passages), 3), dtype=np.float32)

    def sentence_rows(self, i: int) -> range:
        start = sum(len(p.sentences) for p in self.passages[:i])
        return range(start, start + len(self.passages[i].sentences))


def test_a_place_in_the_country_asked_covers_the_country_word():
    import numpy as np

    texts = ["The network counted Zurich (CH) and Basel among its members.", "The network counted Munich among its members."]
    passages = [passage(f"p{i}", t) for i, t in enumerate(texts)]
    index = _Index(passages)
    scorer = SentenceScorer(index, IdfTable(passages), ScoringSettings(weights={}))
    analysis = analyse("Was any Swiss city among the members of the network?", REPORTS)
    hits = [Hit(i, p, 0.03, 0.5, i, i) for i, p in enumerate(passages)]
    by_text = {x.text: x.coverage for x in scorer.score(analysis, hits, np.zeros(3, dtype=np.float32))}
    assert by_text[texts[0]] > by_text[texts[1]]


def test_each_part_of_a_compound_question_scores_each_sentence():
    import numpy as np

    texts = ["The CLIP network drew on practitioners from 35 cities.", "Zurich joined the network in its second year."]
    passages = [passage(f"p{i}", t) for i, t in enumerate(texts)]
    scorer = SentenceScorer(_Index(passages), IdfTable(passages), ScoringSettings(weights={}))
    analysis = analyse("How many cities took part in the CLIP network, and was Zurich among them?", REPORTS)
    assert len(analysis.parts) == 2
    hits = [Hit(i, p, 0.03, 0.5, i, i) for i, p in enumerate(passages)]
    out = {x.text: x for x in scorer.score(analysis, hits, np.zeros(3, dtype=np.float32), np.zeros((2, 3), dtype=np.float32))}
    # (sim, coverage) against each part: the first sentence covers the first part, the second the second
    assert len(out[texts[0]].parts) == 2 and out[texts[0]].parts[0][1] > out[texts[0]].parts[1][1]
    assert out[texts[1]].parts[1][1] > out[texts[1]].parts[0][1]
    # without part vectors (a simple question) there are none
    assert all(x.parts == () for x in scorer.score(analysis, hits, np.zeros(3, dtype=np.float32)))


def test_an_acronym_covers_the_words_of_the_name_it_stands_for():
    import numpy as np

    texts = ["The Canada Ontario Immigration Agreement (COIA) was signed by three governments.",
             "COIA was unique because it included a memorandum between the three levels.",
             "ABC was unique because it was the first network."]
    passages = [passage(f"p{i}", t) for i, t in enumerate(texts)]
    scorer = SentenceScorer(_Index(passages), IdfTable(passages), ScoringSettings(weights={}))
    analysis = analyse("Why was the Canada-Ontario immigration agreement unique?", REPORTS)
    hits = [Hit(i, p, 0.03, 0.5, i, i) for i, p in enumerate(passages)]
    by_text = {x.text: x.coverage for x in scorer.score(analysis, hits, np.zeros(3, dtype=np.float32))}
    assert by_text[texts[1]] > by_text[texts[2]]


def test_a_passage_heading_counts_as_said_by_its_sentences():
    import numpy as np

    # "Use non-hierarchical steering instruments" heads a bullet whose sentences never say "steering"
    listing = "Successful examples usually entail a mix of instruments such as action plans and scoreboards."
    headed = passage("p0", listing, section="4 Recommendations > Use non-hierarchical steering instruments")
    other = passage("p1", "Cities are indispensable partners for successful integration policies.", section="4 Recommendations")
    # … and a title inside a passage ("Changing narratives.") heads the sentences after it, not those before
    titled = Passage(**{**passage("p2", "x").model_dump(), "sentences": [
        "Cities asked for more money.", "Changing narratives.", "Municipalities could benefit from communication training."],
        "titles": [1]})
    passages = [headed, other, titled]
    analysis = analyse("Which steering tools should cities use to change narratives?", REPORTS)
    hits = [Hit(i, p, 0.03, 0.5, i, i) for i, p in enumerate(passages)]

    def coverage(settings):
        scorer = SentenceScorer(_Index(passages), IdfTable(passages), settings)
        return {x.text: x.coverage for x in scorer.score(analysis, hits, np.zeros(3, dtype=np.float32))}

    on, off = coverage(ScoringSettings(weights={})), coverage(ScoringSettings(weights={}, heading_coverage=False))
    assert on[listing] > off[listing] and on[listing] > on[other.text]
    training = titled.sentences[2]
    assert on[training] > off[training] and on[titled.sentences[0]] == off[titled.sentences[0]]


def test_defined_acronyms_need_the_letters_of_the_name():
    from assistant.scoring import defined_acronyms

    found = defined_acronyms(["the Dutch National Committee for International Cooperation and Sustainable Development (NCDO)",
                              "the Federal Office for Migration and Refugees (BAMF)", "in the City (2013)"])
    assert set(found) == {"NCDO"} and {"committe", "sustain"} <= found["NCDO"]


def test_in_a_note_a_sentence_ending_with_its_publication_details_is_a_reference():
    import numpy as np

    texts = ["Risks and bottlenecks from the perspective of the four cities (Association of Municipalities [VNG], 2012).",
             "Cities matter more than ever for the reception of newcomers (Penninx and Martiniello, 2004)."]
    note = passage("n", texts[0], kind="footnote")
    running = passage("b", texts[1])
    index = _Index([note, running])
    scorer = SentenceScorer(index, IdfTable([note, running]), ScoringSettings(weights={}))
    hits = [Hit(0, note, 0.03, 0.5, 0, 0), Hit(1, running, 0.03, 0.5, 1, 1)]
    flags = {x.text: x.flags for x in scorer.score(analyse("What do cities do?", REPORTS), hits, np.zeros(3, dtype=np.float32))}
    assert "biblio" in flags[texts[0]] and "biblio" not in flags[texts[1]]


def test_a_follow_up_names_anew_only_what_earlier_questions_did_not():
    history = ["How does Switzerland fund schools with many migrant pupils, according to the OSCE study?"]
    assert named_anew("And how is the formula different in the city of Bern itself?", history) == {"bern"}
    assert named_anew("And what does the OSCE study say about Switzerland's cantons?", history) == frozenset()


# --------------------------------------------------------------------------- gate


def scored(text: str, sim: float, coverage: float, facts: dict | None = None) -> tuple[list[Hit], list[ScoredSentence]]:
    p = passage("p1", text)
    hit = Hit(0, p, 0.03, sim, 0, 0)
    return [hit], [ScoredSentence(0, hit, 0, 0, text, sim, coverage, 0.8, 0.6, None, sentence_flags(text), facts or {})]


def decide(question: str, text: str, sim: float, coverage: float, facts=None, vocabulary=None) -> GateDecision:
    hits, sents = scored(text, sim, coverage, facts)
    gate = Gate(GateSettings(), vocabulary or corpus_vocabulary([hits[0].passage], REPORTS))
    analysis = analyse(question, REPORTS)
    return gate.decide(None, Rewrite(question, question), analysis, analysis.focus, hits, sents)


def test_weak_evidence_is_declined_and_strong_evidence_answered():
    text = "The city funds language courses for newcomers from its own budget every year."
    assert decide("How do cities fund language courses?", text, 0.7, 0.8).answer
    weak = decide("How do cities fund language courses?", text, 0.2, 0.1)
    assert not weak.answer and weak.reason == "weak_evidence"


def test_a_compound_question_is_covered_as_far_as_its_best_covered_part():
    # "How many cities took part in the CLIP network, and was any Swiss city among them?": the sentence
    # giving the count is far from the whole question but close to its first part
    from dataclasses import replace

    from assistant.scoring import evidence_strength

    text = "The CLIP network drew on practitioners from 35 cities across Europe."
    hits, sents = scored(text, 0.3, 0.2)
    whole = evidence_strength(sents, hits)
    with_parts = evidence_strength([replace(sents[0], parts=((0.7, 0.8), (0.2, 0.1)))], hits)
    assert whole < GateSettings().refusal_threshold < with_parts
    assert with_parts == pytest.approx(0.7 * (0.6 * 0.7 + 0.4 * 0.8) + 0.3 * 0.3)


def test_a_question_that_describes_the_situation_first_is_held_to_a_lower_bar():
    gate = Gate(GateSettings(), set())
    short = "How do cities fund language courses?"
    long = ("I run the newcomer office of a mid-sized town where many refugees arrived last year and the waiting lists "
            "for classes keep growing. How do other cities fund language courses?")
    assert gate.threshold(short) == GateSettings().refusal_threshold
    assert gate.threshold(long) == GateSettings().refusal_threshold - GateSettings().long_question_relief
    # the same sentence, as close to each: the long question is answered, the short one declined
    text = "The city funds language courses for newcomers from its own budget every year."
    assert not decide(short, text, 0.45, 0.25).answer  # evidence 0.394
    assert decide(long, text, 0.45, 0.25).answer


def test_a_name_the_reports_never_use_is_declined_by_name():
    text = "The city funds language courses for newcomers from its own budget every year."
    d = decide("What courses does Ruritania fund?", text, 0.45, 0.4)
    assert not d.answer and d.reason == "unknown_terms" and d.unknown == ["Ruritania"]


def test_a_name_that_only_calls_a_report_is_no_unknown_subject():
    # "the Ruritania brief": the asker's name for a report (a publisher the text never prints) is not
    # a subject the reports never mention; Ruritania as the subject still is
    text = "The city funds language courses for newcomers from its own budget every year."
    d = decide("What does the Ruritania brief say about how cities fund language courses?", text, 0.5, 0.5)
    assert d.answer and not d.unknown
    assert decide("What courses does Ruritania fund, according to the brief?", text, 0.45, 0.4).reason == "unknown_terms"


def test_a_figure_the_passages_do_not_give_is_a_missing_fact():
    text = "The city funds language courses for newcomers from its own budget every year."
    d = decide("How much does the city spend on language courses?", text, 0.7, 0.8)
    assert not d.answer and d.reason == "missing_fact" and d.missing == "number"
    given = decide("How much does the city spend on language courses?", text + " It spends 2 million.", 0.7, 0.8,
                   facts={"2": "number", "million": "number"})
    assert given.answer


def test_a_budget_of_something_else_is_a_missing_fact():
    text = "Up to 70,000 euros were granted to a municipal partnership by the national programme."
    q = "What is the annual budget of the Urban Partnership on Inclusion?"
    d = decide(q, text, 0.7, 0.8, facts={"70,000": "number"})
    assert not d.answer and d.reason == "missing_fact" and d.missing == "number"
    given = "The Urban Partnership on Inclusion received 2 million euros for its annual budget."
    assert decide(q, given, 0.7, 0.8, facts={"2": "number"}).answer


def test_a_pair_of_places_no_sentence_ties_is_a_missing_place():
    q = "Which Moroccan towns are twinned with a Belgian city?"
    apart = "Moroccan towns have many twinnings with Dutch cities, and Belgian cities host many Moroccans."
    # the sentence names Morocco and Belgium, so it passes; one naming only Morocco and the Netherlands does not
    assert decide(q, apart, 0.7, 0.8).answer
    dutch = "Nador, a town in Morocco, is twinned with the Dutch city of Utrecht."
    d = decide(q, dutch, 0.7, 0.8)
    assert not d.answer and d.reason == "missing_fact" and d.missing == "place"
    # a question opening with "Can" names no French town
    assert decide("Can you name a Moroccan town twinned with a Dutch city?", dutch, 0.7, 0.8).answer


def test_the_name_of_someone_no_sentence_names_is_a_missing_person():
    assert person_asked("What is the name of the Berlin mayor who kept his distance?") == "mayor"
    assert person_asked("Who is the mayor of Saint-Josse-ten-Noode?") == "mayor"
    assert person_asked("Who runs the welcome desk in Barcelona?") is None  # no role: an actor, not a person
    assert person_asked("Which mayors signed the charter?") is None  # asks which, not for a name
    q = "What is the name of the Berlin mayor who kept his distance from Istanbul?"
    unnamed = "The Berlin mayor has distanced himself from an existing link with Istanbul."
    d = decide(q, unnamed, 0.7, 0.8, facts={"berlin": "name", "istanbul": "name"})
    assert not d.answer and d.reason == "missing_fact" and d.missing == "person"
    named = "The Berlin mayor, Klaus Beispiel, has not visited Istanbul since the elections."
    assert decide(q, named, 0.7, 0.8, facts={"berlin": "name", "istanbul": "name", "klaus": "name", "beispiel": "name"}).answer


def test_a_sentence_naming_the_authors_answers_who_wrote_a_report():
    # "Who are the authors of the cities study?" asks for a person ("author"); the sentence naming the
    # authors the catalogue knows answers it without the word "author" next to them
    reports = [ReportMeta(source="r1.txt", title="Cities and states", short_citation="Doe 2020",
                          aliases=["the cities study"], authors="Jane Doe and Karl Roe")]
    q = "Who are the authors of the cities study?"
    text = "The study was commissioned by the Office, whose researchers, Jane Doe and Karl Roe, drafted it."
    hits, sents = scored(text, 0.7, 0.8, {"jane": "name", "doe": "name", "karl": "name", "roe": "name"})
    analysis = analyse(q, reports)
    gate = Gate(GateSettings(), corpus_vocabulary([hits[0].passage], reports))
    assert gate.decide(None, Rewrite(q, q), analysis, analysis.focus, hits, sents).answer
    other = "The study was commissioned by the Office and drafted by its researchers."
    hits, sents = scored(other, 0.7, 0.8)
    d = gate.decide(None, Rewrite(q, q), analysis, analysis.focus, hits, sents)
    assert not d.answer and d.missing == "person"
    # a report the catalogue knows no authors of (a .txt a user added): its front matter naming people
    # next to "researchers" / "drafted" answers it too, but not a sentence elsewhere
    from dataclasses import replace

    unknown = analyse(q, [ReportMeta(source="r1.txt", title="Cities and states", short_citation="Doe 2020",
                                     aliases=["the cities study"])])
    assert unknown.about_report and unknown.authors == ()
    hits, sents = scored(text, 0.7, 0.8, {"jane": "name", "doe": "name", "karl": "name", "roe": "name"})
    assert not gate.decide(None, Rewrite(q, q), unknown, unknown.focus, hits, sents).answer
    front = [replace(x, hit=replace(x.hit, front_matter=True)) for x in sents]
    assert gate.decide(None, Rewrite(q, q), unknown, unknown.focus, [x.hit for x in front], front).answer


def test_a_decline_names_topics_but_not_document_parts():
    hits = [Hit(0, passage("a", "x", section="Introduction"), 1, 0.5, 0, 0),
            Hit(1, passage("b", "y", section="3. Funding of local desks"), 1, 0.5, 1, 1),
            Hit(2, passage("c", "z", section="Notes", kind="footnote"), 1, 0.5, 2, 2)]
    assert nearest_topics(hits) == ["- 3. Funding of local desks (Doe 2020)"]
    text = decline_message(GateDecision(False, "unknown_terms", 0.3, unknown=["Ruritania"]), hits, REPORTS)
    assert text.startswith("The reports do not mention “Ruritania”.") and "“the cities study”" in text


# --------------------------------------------------------------------------- assemble


def test_citations_are_numbered_in_order_of_first_use_with_their_quotes():
    a, b = passage("a", "Alpha did one thing. Alpha did another."), passage("b", "Beta acted.")
    draft = Draft([Statement("Alpha did one thing.", [a], quotes=["Alpha did one thing."]), Heading("What has been done"),
                   Statement("Beta acted.", [b], label="Beta (Nowhere), city", quotes=["Beta acted."]),
                   Statement("Alpha did another.", [a], quotes=["Alpha did another."])], "extractive")
    markdown, citations = render(draft)
    assert markdown.splitlines()[0] == "Alpha did one thing. [1]"
    assert "**What has been done**" in markdown and "- *Beta (Nowhere), city:* Beta acted. [2]" in markdown
    assert "- Alpha did another. [1]" in markdown
    assert [c.n for c in citations] == [1, 2] and citations[0].quotes == ["Alpha did one thing.", "Alpha did another."]


def test_llm_statements_keep_their_lines_and_flags():
    a = passage("a", "Alpha did one thing.")
    draft = Draft([Statement("Alpha acted.", [a], bullet=True), Statement("It helped.", [a], bullet=True, continues=True, flagged=True)], "openai")
    markdown, _ = render(draft)
    assert markdown == "- Alpha acted. [1] It helped. [1]" + FLAG
    assert len(markdown.splitlines()) == 1


def test_a_compound_question_falls_into_its_parts():
    from assistant.analysis import question_parts

    assert question_parts("How many cities signed the charter, and who launched it?") == (
        "How many cities signed the charter", "who launched it?")
    assert question_parts("What is the fund? When was it set up?") == ("What is the fund?", "When was it set up?")
    assert question_parts("How do cities and states coordinate integration?") == ("How do cities and states coordinate integration?",)


def test_the_level_asked_for_follows_the_askers_own_description():
    from assistant.analysis import levels_asked

    assert levels_asked("How can an origin-country municipality support integration abroad?") == ("origin_municipality",)
    assert levels_asked("We are a small municipality in northern Morocco with emigrants abroad. What could our town hall do?") == (
        "origin_municipality",)
    assert levels_asked("What should national governments do about funding?") == ("destination_national",)
