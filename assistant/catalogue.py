"""The catalogue of practices and recommendations, extracted from every report in the index
(shipped and user-added) and corrected by the curator's overrides file.

    cat = Catalogue.for_index(index, reports, settings)
    cat.filter(kind="practice", level="origin", theme="jobs")
    cat.tags_for(passage_id)            # (levels, themes) of the records in that passage

Extraction (``assistant.extraction``) works sentence by sentence over the passages; a record cites
the whole passage (``text``, ``start_line``, ``end_line``) exactly as answer citations do, and keeps
the report's sentence in ``statement``.  The extraction result is cached in the index generation
folder (``catalogue.json``), keyed by ``EXTRACTION_VERSION``; the overrides are applied on every
load, so editing the overrides file never needs a rebuild.

Record ids are ``P-<report>-<hash>`` / ``R-<report>-<hash>``: the hash is taken from the
normalised sentence, so an id stays the same when the report is re-ingested and its passages
are cut differently.  ``<report>`` is the three-digit prefix of shipped report files, or a short
hash of the file name for user-added reports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .cleaning import match_tokens
from .extraction import (
    EXTRACTION_VERSION,
    StatementLabel,
    classify_statement,
    set_embedder,
    summarise,
)
from .models import CatalogueRecord, Passage, ReportMeta
from .taxonomy import LEVELS, THEMES, resolve_level, resolve_theme

__all__ = ["Catalogue", "StatementLabel", "classify_statement", "label_passage", "record_id", "OVERRIDES_FILE"]

log = logging.getLogger(__name__)
OVERRIDES_FILE = "catalogue_overrides.yaml"
CACHE_FILE = "catalogue.json"
_EDITABLE = {"kind", "level", "actor", "country", "place", "themes", "summary"}


def report_key(source: str) -> str:
    m = re.match(r"^(\d{3})_", source)
    return m.group(1) if m else hashlib.sha1(source.encode("utf-8")).hexdigest()[:4]


def _norm_sentence(text: str) -> str:
    return " ".join(match_tokens(text))


def record_id(kind: str, source: str, statement: str) -> str:
    digest = hashlib.sha1(_norm_sentence(statement).encode("utf-8")).hexdigest()[:6]
    return f"{'P' if kind == 'practice' else 'R'}-{report_key(source)}-{digest}"


def label_passage(passage: Passage, vectors=None) -> list[StatementLabel]:
    """Labels of every sentence of a passage, in order (each sees its predecessor's label)."""
    labels: list[StatementLabel] = []
    previous = None
    for i, sentence in enumerate(passage.sentences):
        vec = vectors[i] if vectors is not None and i < len(vectors) else None
        label = classify_statement(sentence, passage.section_kind, vec, previous=previous)
        labels.append(label)
        previous = label
    return labels


def _record(p: Passage, statement: str, label: StatementLabel, kind: str, origin: str = "extracted") -> CatalogueRecord:
    return CatalogueRecord(
        id=record_id(kind, p.source, statement),
        kind=kind,
        level=label.level,
        actor=label.actor if kind == "practice" else "",
        country=label.country,
        place=label.place,
        themes=list(label.themes),
        summary=summarise(statement),
        statement=statement,
        source=p.source,
        title=p.title,
        short_citation=p.short_citation,
        year=p.year,
        passage_id=p.passage_id,
        section=p.section,
        start_line=p.start_line,
        end_line=p.end_line,
        text=p.text,
        origin=origin,
    )


def extract(index) -> list[CatalogueRecord]:
    """Run the extraction rules over every passage of a LoadedIndex."""
    set_embedder(index.embedder, index.sentence_vectors)
    records: list[CatalogueRecord] = []
    seen: set[str] = set()
    for i, p in enumerate(index.passages):
        if p.section_kind == "footnote":
            continue
        rows = index.sentence_rows(i)
        vectors = index.sentence_vectors[rows.start : rows.stop] if len(rows) == len(p.sentences) else None
        for sentence, label in zip(p.sentences, label_passage(p, vectors)):
            if label.kind is None:
                continue
            rec = _record(p, sentence, label, label.kind)
            if rec.id in seen:  # a pull quote printed twice
                continue
            seen.add(rec.id)
            records.append(rec)
    return records


# --------------------------------------------------------------------------- overrides


class OverridesError(ValueError):
    pass


def load_overrides(path: Path | None) -> dict[str, Any]:
    if path is None or not Path(path).exists():
        return {"corrections": {}, "add": []}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise OverridesError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise OverridesError(f"{path}: expected a mapping with 'corrections' and/or 'add'")
    corrections = data.get("corrections") or {}
    adds = data.get("add") or []
    if not isinstance(corrections, dict) or not isinstance(adds, list):
        raise OverridesError(f"{path}: 'corrections' must be a mapping (record id -> fields), 'add' a list")
    return {"corrections": corrections, "add": adds}


def _clean_fields(fields: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in ("drop", "note", "source", "statement", "quote"):
            continue
        if key not in _EDITABLE:
            raise OverridesError(f"{where}: unknown field {key!r} (editable: {', '.join(sorted(_EDITABLE))}, drop, note)")
        if key == "kind":
            if value not in ("practice", "recommendation"):
                raise OverridesError(f"{where}: kind must be practice or recommendation (got {value!r})")
            out[key] = value
        elif key == "level":
            out[key] = None if value in (None, "", "none") else resolve_level(str(value))
        elif key == "themes":
            values = [value] if isinstance(value, str) else list(value or [])
            out[key] = [resolve_theme(str(v)) for v in values]
        else:
            out[key] = "" if value is None else str(value)
    return out


def _find_sentence(passages: list[Passage], source: str, quote: str) -> tuple[Passage, str] | None:
    needle = " " + _norm_sentence(quote) + " "
    if not needle.strip():
        return None
    for p in passages:
        if p.source != source:
            continue
        for s in p.sentences:
            if needle in " " + _norm_sentence(s) + " ":
                return p, s
    # the quote may straddle two sentences of a passage (different sentence splitting)
    for p in passages:
        if p.source == source and needle in " " + _norm_sentence(p.text) + " ":
            return p, quote.strip()
    return None


def apply_overrides(
    records: list[CatalogueRecord], overrides: dict[str, Any], passages: list[Passage]
) -> tuple[list[CatalogueRecord], list[str]]:
    """Corrections and drops by record id, then additions anchored by source + quoted sentence.
    Returns (records, problems): problems are entries that no longer match anything."""
    problems: list[str] = []
    by_id = {r.id: r for r in records}
    corrections = overrides.get("corrections", {})
    # a correction may also be anchored by source + quote instead of the id
    for key, fields in list(corrections.items()):
        fields = fields or {}
        target = by_id.get(str(key))
        if target is None and isinstance(fields, dict) and fields.get("source") and (fields.get("quote") or fields.get("statement")):
            quote = _norm_sentence(fields.get("quote") or fields.get("statement"))
            target = next((r for r in records if r.source == fields["source"] and quote in _norm_sentence(r.statement)), None)
        if target is None:
            problems.append(f"correction {key}: no such record (the sentence changed or was not extracted); use 'add' instead")
            continue
        if not isinstance(fields, dict):
            problems.append(f"correction {key}: expected a mapping of fields")
            continue
        if fields.get("drop"):
            by_id.pop(target.id, None)
            continue
        try:
            clean = _clean_fields(fields, f"correction {key}")
        except (OverridesError, ValueError) as exc:
            problems.append(str(exc))
            continue
        updated = target.model_copy(update={**clean, "origin": "override"})
        if "kind" in clean and clean["kind"] != target.kind:
            updated = updated.model_copy(update={"id": record_id(clean["kind"], target.source, target.statement)})
        by_id.pop(target.id, None)
        by_id[updated.id] = updated
    out = list(by_id.values())
    for n, entry in enumerate(overrides.get("add", [])):
        where = f"add[{n}]"
        if not isinstance(entry, dict) or not entry.get("source") or not (entry.get("quote") or entry.get("statement")):
            problems.append(f"{where}: needs source and quote (a phrase of the report's sentence)")
            continue
        quote = entry.get("quote") or entry.get("statement")
        found = _find_sentence(passages, entry["source"], quote)
        if found is None:
            problems.append(f"{where}: {quote!r} not found in {entry['source']}")
            continue
        p, sentence = found
        try:
            clean = _clean_fields(entry, where)
        except (OverridesError, ValueError) as exc:
            problems.append(str(exc))
            continue
        kind = clean.get("kind")
        if kind is None:
            problems.append(f"{where}: needs kind (practice or recommendation)")
            continue
        label = classify_statement(sentence, p.section_kind)
        rec = _record(p, sentence, label, kind, origin="override")
        rec = rec.model_copy(update={k: v for k, v in clean.items() if k != "kind"})
        out = [r for r in out if r.id != rec.id]
        out.append(rec)
    return out, problems


# --------------------------------------------------------------------------- the catalogue


class Catalogue:
    def __init__(self, records: Iterable[CatalogueRecord], problems: list[str] | None = None, reports: list[ReportMeta] | None = None,
                 dropped: set[tuple[str, str]] | None = None):
        order = {r.source: i for i, r in enumerate(reports or [])}
        self.records: list[CatalogueRecord] = sorted(
            records,
            key=lambda r: (order.get(r.source, len(order)), r.source, r.start_line, r.end_line,
                           max(-1, r.text.find(r.statement[:40])), r.id),
        )
        self.problems = problems or []
        self.dropped = dropped or set()  # (source, normalised sentence) of records the overrides removed
        self._by_sentence = {(r.source, _norm_sentence(r.statement)): r for r in self.records}
        self._by_passage: dict[str, tuple[set[str], set[str]]] = {}
        for r in self.records:
            levels, themes = self._by_passage.setdefault(r.passage_id, (set(), set()))
            if r.level:
                levels.add(r.level)
            themes.update(r.themes)

    # ---------------------------------------------------------------- building
    @classmethod
    def for_index(
        cls,
        index,
        reports: list[ReportMeta],
        settings,
        *,
        overrides_path: Path | str | None = None,
        use_overrides: bool = True,
        use_cache: bool = True,
    ) -> Catalogue:
        """The catalogue of a loaded index: cached extraction + the overrides file
        (``knowledge_base/catalogue_overrides.yaml`` unless ``overrides_path`` is given)."""
        records = _cached_extraction(index, settings) if use_cache else extract(index)
        extracted_keys = {(r.source, _norm_sentence(r.statement)) for r in records}
        problems: list[str] = []
        if use_overrides:
            path = Path(overrides_path) if overrides_path else Path(settings.knowledge_base_dir) / OVERRIDES_FILE
            try:
                overrides = load_overrides(path)
            except OverridesError as exc:
                log.warning("%s", exc)
                problems.append(str(exc))
                overrides = {"corrections": {}, "add": []}
            records, more = apply_overrides(records, overrides, index.passages)
            problems.extend(more)
            for p in more:
                log.warning("catalogue overrides: %s", p)
        known = {r.source for r in reports}
        dropped = extracted_keys - {(r.source, _norm_sentence(r.statement)) for r in records}
        return cls([r for r in records if not known or r.source in known], problems, reports, dropped)

    # ---------------------------------------------------------------- queries
    def filter(
        self,
        kind: str | None = None,
        level: str | None = None,
        theme: str | None = None,
        country: str | None = None,
        source: str | None = None,
    ) -> list[CatalogueRecord]:
        """Records matching every given criterion. ``level`` / ``theme`` accept ids, readable names
        and short forms ('origin', 'jobs'); ``country`` matches the record's country or place,
        case-insensitively; ``source`` a report file name."""
        lvl = resolve_level(level) if level else None
        thm = resolve_theme(theme) if theme else None
        ctry = country.strip().lower() if country else None
        out = []
        for r in self.records:
            if kind and r.kind != kind:
                continue
            if lvl and r.level != lvl:
                continue
            if thm and thm not in r.themes:
                continue
            if ctry and ctry not in (r.country.lower(), r.place.lower()):
                continue
            if source and r.source != source:
                continue
            out.append(r)
        return out

    def relabel(self, source: str, sentence: str, label: StatementLabel) -> StatementLabel:
        """``label`` (from ``classify_statement``) corrected by this catalogue: the kind and level of
        the record drawn from that sentence, or no kind when the overrides dropped it."""
        key = (source, _norm_sentence(sentence))
        rec = self._by_sentence.get(key)
        if rec is not None:
            if (rec.kind, rec.level) != (label.kind, label.level):
                label = dataclasses.replace(label, kind=rec.kind, level=rec.level)
        elif key in self.dropped and label.kind is not None:
            label = dataclasses.replace(label, kind=None)
        return label

    def record_for(self, source: str, sentence: str) -> CatalogueRecord | None:
        """The record drawn from this sentence of this report, if any."""
        return self._by_sentence.get((source, _norm_sentence(sentence)))

    def tags_for(self, passage_id: str) -> tuple[set[str], set[str]]:
        levels, themes = self._by_passage.get(passage_id, (set(), set()))
        return set(levels), set(themes)

    def get(self, record_id_: str) -> CatalogueRecord | None:
        return next((r for r in self.records if r.id == record_id_), None)

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """{'by_report': {source: {kind: n}}, 'by_level': {level: {kind: n}}, 'by_theme': {theme: {kind: n}}}"""
        out: dict[str, dict[str, Counter]] = {"by_report": {}, "by_level": {}, "by_theme": {}}
        for r in self.records:
            out["by_report"].setdefault(r.source, Counter())[r.kind] += 1
            out["by_level"].setdefault(r.level or "unspecified", Counter())[r.kind] += 1
            for t in r.themes or ["unclassified"]:
                out["by_theme"].setdefault(t, Counter())[r.kind] += 1
        order = {"by_level": [t.id for t in LEVELS] + ["unspecified"], "by_theme": [t.id for t in THEMES] + ["unclassified"]}
        result: dict[str, dict[str, dict[str, int]]] = {}
        for key, groups in out.items():
            keys = order.get(key) or list(groups)
            result[key] = {k: dict(groups[k]) for k in keys if k in groups}
        return result

    def __len__(self) -> int:
        return len(self.records)


def _code_digest() -> str:
    """Hash of the extraction code, so that any rule change invalidates the cache even when
    EXTRACTION_VERSION was not bumped."""
    h = hashlib.sha1()
    for name in ("extraction.py", "catalogue.py", "taxonomy.py", "domain.py"):
        try:
            h.update((Path(__file__).parent / name).read_bytes())
        except OSError:
            pass
    from .domain import digest

    h.update(digest().encode())  # the domain data files: gazetteer, actors, themes
    return h.hexdigest()[:12]


def _cache_path(index, settings) -> Path:
    return Path(settings.data_dir) / "index" / index.generation / CACHE_FILE


def _cached_extraction(index, settings) -> list[CatalogueRecord]:
    path = _cache_path(index, settings)
    key = {"extraction_version": EXTRACTION_VERSION, "code": _code_digest(), "passages": len(index.passages),
           "sources": sorted({p.source for p in index.passages})}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") == key:
            set_embedder(index.embedder, index.sentence_vectors)
            return [CatalogueRecord.model_validate(r) for r in data["records"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    records = extract(index)
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "records": [r.model_dump(mode="json") for r in records]}, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a read-only data folder: work without the cache
        log.info("could not write the catalogue cache %s: %s", path, exc)
    return records
