"""The knowledge of the field is data (knowledge_base/domain), read once through settings; no
report's own towns, organisations or phrases remain in the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from assistant.domain import get_domain, load_domain

REPO = Path(__file__).resolve().parent.parent


def test_places_from_the_gazetteer_not_from_the_reports():
    d = get_domain()
    found = {name: (country, kind) for _, _, name, country, kind in d.find_places(
        "The mayor of Tampere met officials from Gaziantep, Lyon's council and the Flemish region near Frankfurt am Main.")}
    assert found["Tampere"] == ("Finland", "city")
    assert found["Gaziantep"] == ("Turkey", "city")
    assert found["Lyon"] == ("France", "city")
    assert found["Flemish"] == ("Belgium", "country")
    assert found["Frankfurt am Main"][0] == "Germany"


def test_names_that_are_not_places():
    d = get_domain()
    text = "Most NGOs, Van Ewijk (2013) and Schmidt di Friedberg argue, as Smith and Horst 2014 show."
    assert [p[2] for p in d.find_places(text)] == []


def test_a_name_with_its_country_in_brackets_is_a_city_of_that_country():
    # whether or not the gazetteer knows the name, or knows another place by it (Vienne is not Vienna)
    found = [(name, country, kind) for _, _, name, country, kind in get_domain().find_places(
        "A street in Vienne (France) is named after Emirdag (Turkey), as Haarlem (the Netherlands) did.")]
    assert ("Vienne", "France", "city") in found and ("Emirdag", "Turkey", "city") in found
    assert ("Haarlem", "Netherlands", "city") in found
    assert not any(name == "Vienne" and country != "France" for name, country, _ in found)
    # a country with its short name in brackets stays a country
    found = [(name, kind) for _, _, name, _, kind in get_domain().find_places("the United Kingdom (UK) and Bavaria (Germany)")]
    assert ("United Kingdom", "country") in found and ("Bavaria", "region") in found


def test_sides_and_demonyms():
    d = get_domain()
    assert d.side("Germany") == "destination" and d.side("Morocco") == "origin"
    assert d.is_demonym("Moroccan") and not d.is_demonym("Holland")


def test_one_shared_copy_and_another_fields_copy(tmp_path):
    assert get_domain() is get_domain()
    import shutil

    shutil.copytree(REPO / "knowledge_base" / "domain", tmp_path / "domain")
    places = tmp_path / "domain" / "places.yaml"
    places.write_text(places.read_text(encoding="utf-8").replace("destination_countries: [NL,", "destination_countries: [MA, NL,"), encoding="utf-8")
    assert load_domain(tmp_path / "domain").side("Morocco") == "destination"


def test_no_report_specific_names_in_code():
    out = subprocess.run(
        ["grep", "-rInE", "Meppel|Zeist|Gladbeck|Palayan|Dar El Kebdani|Italo.Senegalese|Vlaams Blok|Sure Start|OWWA|ventured|Moers",
         "assistant", "ui"], cwd=REPO, capture_output=True, text=True)
    assert out.stdout == "", out.stdout


def test_starters_and_taxonomy_come_from_the_domain_files():
    from assistant.taxonomy import LEVELS, THEMES

    d = get_domain()
    assert [t.id for t in LEVELS] == [e["id"] for e in d.levels]
    assert [t.id for t in THEMES] == [e["id"] for e in d.themes]
    assert d.starters and all(q.endswith("?") for q in d.starters)
    assert not re.search(r"Morocco|Turkey|Albania", " ".join(e["description"] for e in d.levels + d.themes))
