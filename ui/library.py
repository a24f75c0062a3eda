"""The practice library's data: the catalogue of practices and recommendations, and the
retrieval filters the chat offers (by report, level and theme).

The catalogue is the service's (``Assistant.catalogue``); a service without one (a stand-in in
tests) shows "not available" instead of failing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from assistant.retrieval import RetrievalFilters


def get_catalogue(assistant) -> Any | None:
    """The service's catalogue of practices and recommendations."""
    return getattr(assistant, "catalogue", None)


def records(catalogue) -> list:
    return list(getattr(catalogue, "records", None) or []) if catalogue is not None else []


def _get(rec: Any, name: str) -> Any:
    return rec.get(name) if isinstance(rec, dict) else getattr(rec, name, None)


def filter_records(
    catalogue,
    kind: str | None = None,
    level: str | None = None,
    theme: str | None = None,
    country: str | None = None,
    source: str | None = None,
    text: str | None = None,
) -> list:
    """The catalogue's own ``filter`` when it has one, then a free-text match on top."""
    kind = kind if kind in ("practice", "recommendation") else None
    found = None
    if catalogue is not None and hasattr(catalogue, "filter"):
        try:
            found = list(catalogue.filter(kind=kind, level=level or None, theme=theme or None, country=country or None, source=source or None))
        except TypeError:
            found = None
    if found is None:
        found = [
            r
            for r in records(catalogue)
            if (not kind or _get(r, "kind") == kind)
            and (not level or _get(r, "level") == level)
            and (not theme or theme in (_get(r, "themes") or []))
            and (not country or (_get(r, "country") or "").casefold() == country.casefold())
            and (not source or _get(r, "source") == source)
        ]
    words = [w for w in (text or "").casefold().split() if w]
    if words:
        def hay(r: Any) -> str:
            return " ".join(str(_get(r, k) or "") for k in ("summary", "statement", "actor", "place", "country", "text")).casefold()

        found = [r for r in found if all(w in hay(r) for w in words)]
    return found


def find_record(catalogue, record_id: str) -> Any | None:
    if catalogue is not None and hasattr(catalogue, "get"):
        try:
            return catalogue.get(record_id)
        except Exception:
            pass
    return next((r for r in records(catalogue) if _get(r, "id") == record_id), None)


def countries(catalogue) -> list[str]:
    return sorted({c for c in (_get(r, "country") for r in records(catalogue)) if c})


def record_counts(catalogue) -> dict[str, int] | None:
    if catalogue is None:
        return None
    out: dict[str, int] = {}
    for r in records(catalogue):
        out[_get(r, "source")] = out.get(_get(r, "source"), 0) + 1
    return out


def supports_taxonomy_filters() -> bool:
    names = {f.name for f in dataclasses.fields(RetrievalFilters)}
    return {"levels", "themes"} <= names


def make_filters(sources: list[str] | None, levels: list[str] | None, themes: list[str] | None) -> tuple[RetrievalFilters | None, str | None]:
    """RetrievalFilters for the chat's filter controls, and a note for the user when a filter
    cannot be applied by this version of the service."""
    sources, levels, themes = list(sources or []), list(levels or []), list(themes or [])
    if not (sources or levels or themes):
        return None, None
    kwargs: dict[str, Any] = {"sources": sources or None}
    note = None
    if levels or themes:
        if supports_taxonomy_filters():
            kwargs.update(levels=levels or None, themes=themes or None)
        else:
            note = "Level and theme filters are not available in this version; only the report filter was applied."
    if not any(v for v in kwargs.values()):
        return None, note
    return RetrievalFilters(**kwargs), note
