"""The controlled vocabulary of the catalogue: levels of government (who acts, or who is
addressed) and policy themes.

The entries are data (``knowledge_base/domain/taxonomy.yaml``). Each has a stable id (used in JSON and filters), a readable name (shown to users), short
forms that the CLI and the web chat accept (``--level origin``, ``--theme jobs``) and a
description that the theme and level classifiers embed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .domain import get_domain


@dataclass(frozen=True)
class Term:
    id: str
    name: str
    aliases: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""
    short: str = ""  # the label an answer puts before a quote ("city", "national government")


def _terms(entries: list[dict]) -> tuple[Term, ...]:
    return tuple(
        Term(e["id"], e["name"], tuple(e.get("aliases") or ()), e.get("description", ""), e.get("short", ""))
        for e in entries
    )


# the levels and themes are data: knowledge_base/domain/taxonomy.yaml (assistant.domain)
LEVELS: tuple[Term, ...] = _terms(get_domain().levels)
THEMES: tuple[Term, ...] = _terms(get_domain().themes)

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
