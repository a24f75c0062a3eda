"""The practice library's data: the catalogue of practices and recommendations, and the
retrieval filters the chat offers (by report, level and theme).

The catalogue is the service's (``Assistant.catalogue``); a service without one (a stand-in in
tests) shows "not available" instead of failing.
"""

from __future__ import annotations

from collections import Counter

from assistant.catalogue import Catalogue
from assistant.models import CatalogueRecord
from assistant.retrieval import RetrievalFilters


def get_catalogue(assistant) -> Catalogue | None:
    """The service's catalogue of practices and recommendations."""
    return getattr(assistant, "catalogue", None)


def records(catalogue) -> list[CatalogueRecord]:
    return list(catalogue.records) if catalogue is not None else []


def filter_records(
    catalogue,
    kind: str | None = None,
    level: str | None = None,
    theme: str | None = None,
    country: str | None = None,
    source: str | None = None,
    text: str | None = None,
) -> list[CatalogueRecord]:
    """``Catalogue.filter``, then a free-text match on top (every word, in any field)."""
    if catalogue is None:
        return []
    kind = kind if kind in ("practice", "recommendation") else None
    found = catalogue.filter(kind=kind, level=level or None, theme=theme or None, country=country or None, source=source or None)
    words = [w for w in (text or "").casefold().split() if w]
    if words:
        def hay(r: CatalogueRecord) -> str:
            return " ".join((r.summary, r.statement, r.actor, r.place, r.country, r.text)).casefold()

        found = [r for r in found if all(w in hay(r) for w in words)]
    return found


def find_record(catalogue, record_id: str) -> CatalogueRecord | None:
    return catalogue.get(record_id) if catalogue is not None else None


def countries(catalogue) -> list[str]:
    return sorted({r.country for r in records(catalogue) if r.country})


def record_counts(catalogue) -> dict[str, int] | None:
    if catalogue is None:
        return None
    return dict(Counter(r.source for r in records(catalogue)))


def make_filters(sources: list[str] | None, levels: list[str] | None, themes: list[str] | None) -> RetrievalFilters | None:
    """RetrievalFilters for the chat's filter controls; None when nothing is chosen."""
    sources, levels, themes = list(sources or []), list(levels or []), list(themes or [])
    if not (sources or levels or themes):
        return None
    return RetrievalFilters(sources=sources or None, levels=levels or None, themes=themes or None)
