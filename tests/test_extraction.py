"""Extraction rules on made-up sentences of each kind (no report's sentence): the level from the
subject's actor phrase and the names bound to it, the generic actor kinds of actors.yaml."""

from __future__ import annotations

from assistant.extraction import classify_statement


def label(text, kind="body", previous=None):
    return classify_statement(text, kind, previous=previous)


def test_origin_town_practice():
    r = label("The municipality of Tiznit opened an office for its emigrants in 2012.")
    assert (r.kind, r.level, r.place, r.country) == ("practice", "origin_municipality", "Tiznit", "Morocco")


def test_destination_city_practice():
    r = label("The city of Tampere launched a mentoring programme for refugee women in 2017.")
    assert (r.kind, r.level, r.country) == ("practice", "destination_city", "Finland")


def test_state_institution_for_citizens_abroad_is_origin_national():
    r = label("The Office for Senegalese Abroad runs information sessions for returning workers.")
    assert r.level == "origin_national"


def test_demonym_migrant_associations():
    r = label("Ghanaian associations in Hamburg organised a fundraising campaign for a clinic in 2015.")
    assert (r.kind, r.level) == ("practice", "migrant_organisations")


def test_programme_named_with_a_demonym_is_national():
    r = label("Another example is the Danish Welcome Programme centres, which combine language classes with job advice.")
    assert r.level == "destination_national"


def test_recommendation_to_the_eu():
    r = label("The Commission should earmark funding for small towns.", "recommendations")
    assert (r.kind, r.level) == ("recommendation", "eu")


def test_acronym_subject_continues_the_passage_actor():
    first = label("The German KWS-Network, an initiative of the Federal Agency for Labour, supports advice centres.")
    r = label("KWS links up regional networks and local advice centers that develop new procedures.", previous=first)
    assert r.kind == "practice" and r.level == first.context_level == "destination_national"


def test_hedged_generic_sentence_is_no_practice():
    assert label("Many cities might consider new approaches to integration.").kind is None
