"""The controlled vocabulary of the catalogue: levels of government (who acts, or who is
addressed) and policy themes.

Each entry has a stable id (used in JSON and filters), a readable name (shown to users), short
forms that the CLI and the web chat accept (``--level origin``, ``--theme jobs``) and a
description that the theme and level classifiers embed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Term:
    id: str
    name: str
    aliases: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""
    short: str = ""  # the label an answer puts before a quote ("city", "national government")


LEVELS: tuple[Term, ...] = (
    Term(
        "origin_municipality",
        "origin-country municipality",
        ("origin", "origin municipality", "origin city", "origin local", "sending municipality", "home town"),
        "a municipality, town or local authority in the country of origin of migrants (Morocco, Turkey, Albania, "
        "Mali, Senegal ...) working with its emigrants or diaspora abroad",
        short='origin-country municipality',
    ),
    Term(
        "origin_region",
        "origin-country region or state",
        ("origin region", "origin state", "sending region"),
        "a region, province or state government in the country of origin of migrants",
        short='origin-country region',
    ),
    Term(
        "origin_national",
        "origin-country national government",
        ("origin national", "origin government", "sending state", "origin country", "diaspora ministry"),
        "the national government, ministries, consulates or diaspora institutions of a country of origin",
        short='origin-country government',
    ),
    Term(
        "destination_city",
        "destination municipality or city",
        ("city", "cities", "destination", "destination city", "municipality", "local", "local authority"),
        "a city, municipality or local authority in the country where migrants live, delivering integration "
        "services locally",
        short='city',
    ),
    Term(
        "destination_region",
        "destination region",
        ("region", "regional", "destination region", "province", "land"),
        "a region, province or federal state in the country of destination",
        short='region',
    ),
    Term(
        "destination_national",
        "destination national government",
        ("national", "national government", "state", "government", "ministry", "destination national"),
        "the national government, ministries or national agencies of the country of destination, setting "
        "integration policy, laws and funding",
        short='national government',
    ),
    Term(
        "eu",
        "EU institutions",
        ("eu", "european union", "european commission", "commission", "eu institutions"),
        "the European Union: the European Commission, Parliament, Council, EU funds such as AMIF and ESF",
        short='EU',
    ),
    Term(
        "city_networks",
        "city networks",
        ("networks", "city network", "eurocities", "network"),
        "networks of cities and municipalities such as EUROCITIES, Cities of Migration or Intercultural Cities",
        short='city network',
    ),
    Term(
        "migrant_organisations",
        "migrant organisations",
        ("migrant", "migrants", "diaspora", "diaspora organisations", "migrant associations", "hometown associations"),
        "migrant and diaspora associations, hometown associations and migrant-led organisations",
        short='migrant organisations',
    ),
    Term(
        "international_organisations",
        "international organisations",
        ("international", "io", "un", "osce", "oecd", "iom", "international organisations"),
        "international organisations such as the OSCE, OECD, IOM, UNHCR, the Council of Europe or the UN",
        short='international organisation',
    ),
    Term(
        "civil_society_private",
        "civil society and private sector",
        ("civil society", "ngo", "ngos", "private", "private sector", "business", "employers", "social partners"),
        "NGOs, civil society organisations, foundations, employers, businesses, trade unions and social partners",
        short='civil society',
    ),
)

THEMES: tuple[Term, ...] = (
    Term("employment", "employment", ("jobs", "work", "labour market", "labor"), "jobs, the labour market, skills recognition, entrepreneurship and employers"),
    Term("education", "education", ("schools", "school", "training"), "schools, education, vocational training and qualifications of migrants and their children"),
    Term("health", "health", ("healthcare", "health care"), "health care, health services and well-being of migrants"),
    Term("language", "language", ("languages", "language courses", "language learning"), "language courses, language learning and translation"),
    Term("housing_segregation", "housing and segregation", ("housing", "segregation", "neighbourhoods"), "housing, neighbourhoods, spatial segregation and urban regeneration"),
    Term("political_participation", "political participation", ("participation", "voting", "politics", "consultation"), "voting rights, consultative councils, political participation and representation of migrants"),
    Term("anti_discrimination", "anti-discrimination", ("discrimination", "racism", "equality"), "anti-discrimination, racism, equal treatment and diversity policies"),
    Term("reception_refugees", "reception and refugees", ("refugees", "reception", "asylum", "newcomers"), "reception of refugees, asylum seekers and newly arrived migrants"),
    Term("funding", "funding", ("money", "budget", "budgets", "finance", "financing", "funds"), "funding, budgets, financial resources and EU funds for integration"),
    Term("diaspora_development", "diaspora and development", ("diaspora", "development", "remittances"), "diaspora engagement, remittances, co-development and links between origin and destination"),
    Term("culture_exchange", "culture and exchange", ("culture", "exchange", "twinning", "intercultural"), "culture, intercultural dialogue, twinning and exchanges between communities and cities"),
    Term("coordination_governance", "coordination and governance", ("coordination", "governance", "multi-level governance", "cooperation"), "coordination, cooperation and multi-level governance between actors and levels of government"),
    Term("monitoring_evaluation", "monitoring and evaluation", ("monitoring", "evaluation", "indicators", "data"), "monitoring, evaluation, indicators, data collection and evidence on integration outcomes"),
)

_LEVEL_BY_ID = {t.id: t for t in LEVELS}
_THEME_BY_ID = {t.id: t for t in THEMES}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _resolve(value: str, terms: tuple[Term, ...], kind: str) -> str:
    key = _norm(value)
    for t in terms:
        if key in {_norm(t.id), _norm(t.name), *(_norm(a) for a in t.aliases)}:
            return t.id
    # a unique prefix of an id or name ("dest", "anti")
    matches = {t.id for t in terms if _norm(t.id).startswith(key) or _norm(t.name).startswith(key)}
    if key and len(matches) == 1:
        return matches.pop()
    choices = ", ".join(t.id for t in terms)
    raise ValueError(f"unknown {kind} {value!r}; choose one of: {choices}")


def resolve_level(value: str) -> str:
    """The level id for a readable name, id or short form; ValueError names the choices."""
    return _resolve(value, LEVELS, "level")


def resolve_theme(value: str) -> str:
    """The theme id for a readable name, id or short form; ValueError names the choices."""
    return _resolve(value, THEMES, "theme")


def level_name(level_id: str) -> str:
    return _LEVEL_BY_ID[level_id].name if level_id in _LEVEL_BY_ID else level_id


def level_label(level_id: str) -> str:
    """The short label of a level for answers ("city", "national government")."""
    term = _LEVEL_BY_ID.get(level_id)
    return (term.short or term.name) if term else level_id


def theme_name(theme_id: str) -> str:
    return _THEME_BY_ID[theme_id].name if theme_id in _THEME_BY_ID else theme_id
