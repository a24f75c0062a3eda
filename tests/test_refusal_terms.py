"""Questions about names, acronyms or years that occur nowhere in the reports are declined, and the
answer says which word the reports do not mention; questions whose names the reports do use are
answered."""

from __future__ import annotations

from assistant.guard import unknown_terms


def test_unknown_terms_are_found_against_the_reports_vocabulary(assistant):
    vocab = assistant.gate.vocabulary
    assert unknown_terms("What integration programmes does Japan offer to foreign workers?", vocab) == ["Japan"]
    assert unknown_terms("What changed for cities under the 2023 EU Pact on Migration?", vocab) == ["2023", "Pact"]
    # names the reports use, plurals and demonyms of them, and the first word of a sentence pass
    assert unknown_terms("How do Moroccan municipalities work with Dutch cities and EUROCITIES?", vocab) == []
    assert unknown_terms("Which Syrian, Turkish or Brazilian towns are named?", vocab) == ["Brazilian"]
    assert unknown_terms("Tell me about the OSCE study and Nuremberg in 2014", vocab) == []


def test_a_question_about_something_the_reports_never_mention_is_declined_by_name(assistant):
    answer = assistant.ask("What integration measures has Marseille introduced for newcomers?")
    assert answer.refused and answer.refusal_reason == "unknown_terms" and not answer.citations
    assert answer.answer.startswith("The reports do not mention “Marseille”.")


def test_named_places_the_reports_cover_are_answered(assistant):
    answer = assistant.ask("What did Nuremberg do to combine the federal integration courses with local language offers?")
    assert not answer.refused and "Nuremberg" in answer.answer


def test_where_the_asker_works_is_not_asked_about():
    from assistant.guard import without_asker

    vocab = {"what", "did", "do", "the", "municipality", "of", "for", "its", "emigrants", "who", "usually", "got",
             "these", "twinnings", "going", "german", "turkish"}
    asked = "I'm a clerk at a town hall in Anatolia. Who usually got these German-Turkish twinnings going?"
    assert without_asker(asked) == "Who usually got these German-Turkish twinnings going?"
    assert unknown_terms(asked, vocab) == []
    assert without_asker("As a councillor in Kabylie, what do the reports say?") == "what do the reports say?"
    # the place asked about is still unknown, wherever the asker works
    assert unknown_terms("I work in Kabylie. What did the municipality of Tizi Ouzou do for its emigrants?", vocab) == [
        "Tizi", "Ouzou"]
    # a description of the situation is part of the question, not of the asker
    situation = "We are discussing at the ministry whether integration belongs with foreign affairs. Has anyone?"
    assert without_asker(situation) == situation
    assert without_asker("I am a mayor.") == "I am a mayor."  # nothing else would be left
