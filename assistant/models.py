"""The data types, all in one place.

``Answer`` is the public JSON contract of ``policy-assistant ask --json`` (documented in
README.md): add fields if you must, never rename or remove one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

SectionKind = Literal["body", "summary", "recommendations", "footnote"]


class ReportMeta(BaseModel):
    """Bibliographic metadata of one report (an entry of knowledge_base/manifest.json)."""

    source: str = Field(description="File name under the sources folder, e.g. 001_45261df8c35e07ff.txt")
    title: str
    short_citation: str = Field(description="How the report is cited in answers, e.g. 'Bilgili & Agimi 2015'")
    publisher: str = ""
    authors: str = ""
    year: int | None = None
    kind: str = ""
    aliases: list[str] = Field(default_factory=list, description="Names officials use for it: 'the OSCE study'")
    name_words: SkipJsonSchema[frozenset[str]] = Field(
        default_factory=frozenset,
        exclude=True,
        description=(
            "Words that name it before a document noun ('the inclusive cities report'): its title's, its authors' (an "
            "institution's initials too), and those its text uses far more than any other report's. Computed from the "
            "index when it is served, never stored."
        ),
    )


class Passage(BaseModel):
    """A citable piece of a report: cleaned text plus where it stands in the source file."""

    passage_id: str
    source: str
    title: str
    short_citation: str
    year: int | None = None
    section: str = Field("", description="Section path, ' > ' between levels")
    section_kind: SectionKind = "body"
    start_line: int = Field(description="1-based, inclusive, in the source file")
    end_line: int = Field(description="1-based, inclusive, in the source file")
    text: str
    sentences: list[str] = Field(default_factory=list, description="The passage text split into sentences")
    titles: list[int] = Field(
        default_factory=list, description="Positions in sentences of titles (of a box, a list item): searched, never quoted"
    )
    page: str | None = Field(None, description="The page of a PDF report where the passage starts (its printed number), else null")
    heading: str = Field(
        "", description="The title of the list item this passage continues, when the title stands in an earlier passage: searched with it"
    )
    cites: list[int] = Field(default_factory=list, description="The numbers of the notes its sentences cite")
    notes: list[int] = Field(default_factory=list, description="The numbers of the notes it holds (a footnote passage)")
    note_starts: list[int] = Field(
        default_factory=list, description="Positions in sentences that open a note: the sentence before is another note's"
    )

    @property
    def section_heading(self) -> str:
        """The last level of its section path ("Use non-hierarchical steering instruments"), "" without one."""
        return self.section.split(" > ")[-1].strip()

    @property
    def own_heading(self) -> str:
        """The heading nearest above it: the title of the list item it continues, else ``section_heading``."""
        return self.heading or self.section_heading

    @property
    def section_path(self) -> str:
        """Where a reader finds it: the section path, then the title of the list item it continues."""
        return f"{self.section} > {self.heading}" if self.heading and self.section else self.heading or self.section


class Citation(BaseModel):
    n: int = Field(description="The number used by the [n] markers in the answer")
    passage_id: str
    source: str
    title: str
    section: str
    start_line: int
    end_line: int
    text: str
    short_citation: str = Field("", description="How the report is cited, e.g. 'OSCE/ODIHR 2017'")
    quotes: list[str] = Field(
        default_factory=list, description="The sentences of the passage that the answer quotes (or that support an LLM statement)"
    )
    page: str | None = Field(None, description="The page of a PDF report where the cited passage starts, else null")


class RetrievedPassage(BaseModel):
    passage_id: str
    source: str
    title: str
    section: str
    start_line: int
    end_line: int
    text: str
    score: float


class Answer(BaseModel):
    question: str
    answer: str = Field(description="Markdown; every statement carries [n] markers into citations")
    refused: bool
    citations: list[Citation] = Field(default_factory=list)
    retrieved: list[RetrievedPassage] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    standalone_question: str = Field("", description="The question as retrieval saw it (follow-ups rewritten)")
    refusal_reason: str | None = Field(None, description="Why the question was declined: weak_evidence, injection, opinion")
    evidence: float = Field(0.0, description="Evidence strength 0..1 that the refusal threshold is compared with")
    backend: str = Field("extractive", description="The backend that wrote the answer (after any fallback)")
    groundedness: float = Field(
        1.0, description="Share of the answer's sentences that the citation verifier found supported by their passages"
    )
    removed_sentences: list[str] = Field(
        default_factory=list, description="Sentences of an LLM answer that the verifier removed (or flagged) as unsupported"
    )
    notice: str | None = Field(None, description="A message for the user, e.g. that the LLM server was down and the extractive answer is shown")
    filters: dict[str, list[str]] | None = Field(
        None,
        description=(
            "The filters that limited retrieval, by readable name: {'reports': [short citations], 'sections': [...], "
            "'levels': [...], 'themes': [...]}; keys without a filter are left out; null when nothing was filtered"
        ),
    )


class CatalogueRecord(BaseModel):
    """A practice (what some actor did, where) or a recommendation (what a report says someone
    should do), with the span of the report it comes from."""

    id: str = Field(description="Stable id, e.g. P-001-0007 or R-003-0002")
    kind: Literal["practice", "recommendation"]
    level: str | None = Field(None, description="Acting level (practice) or addressee level (recommendation): an id of assistant.taxonomy.LEVELS")
    actor: str = Field("", description="Who did it (practice), e.g. 'the municipality of Thiès'")
    country: str = ""
    place: str = ""
    themes: list[str] = Field(default_factory=list, description="Ids of assistant.taxonomy.THEMES")
    summary: str = Field(description="One sentence: the practice's summary or the recommendation's gist")
    statement: str = Field("", description="The report's own sentence the record is drawn from")
    source: str
    title: str = ""
    short_citation: str = ""
    year: int | None = None
    passage_id: str
    section: str = ""
    start_line: int = Field(description="1-based, inclusive: the cited passage's span in the source file")
    end_line: int
    text: str = Field(description="The cited passage text, as in Answer citations")
    origin: Literal["extracted", "override"] = "extracted"


# --------------------------------------------------------------------------- the answer path
# The intermediate types of the stages (rewrite -> analyse -> retrieve -> fuse -> score -> gate ->
# compose -> verify -> assemble); see assistant/pipeline.py. Plain dataclasses: they live for one
# question and never leave the process.


@dataclass
class RetrievalFilters:
    """Restrictions a user put on retrieval (the CLI's --report, the web chat's filters)."""

    sources: list[str] | None = None  # report file names
    section_kinds: list[str] | None = None  # body, summary, recommendations, footnote
    # catalogue tags: passages holding a practice/recommendation of one of these levels / themes
    # (ids, readable names or short forms: 'origin', 'jobs'; see assistant/taxonomy.py)
    levels: list[str] | None = None
    themes: list[str] | None = None

    def active(self) -> bool:
        return bool(self.sources or self.section_kinds or self.levels or self.themes)

    def describe(self, reports: list[ReportMeta]) -> dict[str, list[str]]:
        """The filters by their readable names, for the answer and its export:
        {'reports': [short citations], 'sections': [...], 'levels': [...], 'themes': [...]}; empty keys left out."""
        from .taxonomy import level_name, resolve_level, resolve_theme, theme_name

        cited = {r.source: r.short_citation for r in reports}
        out = {
            "reports": [cited.get(s, s) for s in self.sources or []],
            "sections": list(self.section_kinds or []),
            "levels": [level_name(resolve_level(x)) for x in self.levels or []],
            "themes": [theme_name(resolve_theme(x)) for x in self.themes or []],
        }
        return {k: v for k, v in out.items() if v}


@dataclass
class Rewrite:
    """Stage 1: the question as asked, and the standalone form retrieval works on."""

    question: str
    standalone: str
    history: list[str] = field(default_factory=list)
    # the slot an elliptical follow-up moves to ("smaller towns and rural districts" in "And what about
    # smaller towns and rural districts?"), found once here for the gate and the composer; None without history
    slot: str | None = None

    @property
    def rewritten(self) -> bool:
        return self.standalone != self.question


@dataclass
class QueryAnalysis:
    """Stage 2: what the question asks for."""

    text: str
    wants_recommendations: bool
    wants_practices: bool
    named_sources: list[str] = field(default_factory=list)
    focus: str = ""  # the question without the report names ("the OSCE study"): what to match passages on
    asks: frozenset[str] = frozenset()  # kinds of fact asked for: number, year, name, reason, recommendation
    comparative: bool = False  # asks across reports ("do the reports agree ...")
    levels: tuple[str, ...] = ()  # the level of government it asks for ("how can an origin-country municipality")
    parts: tuple[str, ...] = ()  # the questions a compound question asks ("How many …", "who launched it?")
    person_role: str | None = None  # the role whose holder's name it asks for ("mayor" in "Who is the mayor of …?")
    about_report: bool = False  # asks who wrote, commissioned or funds a report: its front matter answers
    # asks who wrote a report it names: the names its authors go by (catalogue: surnames, an institution whole)
    authors: tuple[str, ...] = ()


@dataclass
class Hit:
    """Stages 3-4: a retrieved passage with its fused score and its ranks in each retriever."""

    index: int  # position in LoadedIndex.passages
    passage: Passage
    score: float
    dense: float  # cosine similarity to the query
    rank_dense: int | None
    rank_bm25: int | None
    cited_by: int | None = None  # a note: the position among the hits of the passage that cites it
    continues: int | None = None  # a passage that goes on from another ("The project began …"): that one's position among the hits
    front_matter: bool = False  # for a question about the report itself: a first or last passage saying who made it


@dataclass
class ScoredSentence:
    """Stage 5: one sentence of a retrieved passage, scored against the question."""

    hit_rank: int  # the rank of its passage among the hits
    hit: Hit
    pos: int  # its position among the passage's sentences
    row: int  # its row in LoadedIndex.sentence_vectors
    text: str
    sim: float  # cosine similarity to the question
    coverage: float  # idf-weighted share of the question's terms it contains
    prob: float  # probability that it carries a fact the question asks for
    relevance: float = 0.0  # closeness to the question: cosine, term coverage and passage rank
    features: Any = None  # the feature vector (numpy), for calibration and debugging
    flags: frozenset[str] = frozenset()  # kinds: meta, biblio, leadin, anaphor, connective ...
    facts: dict[str, str] = field(default_factory=dict)  # fact token -> kind (name, number, year ...)
    # for a compound question ("How many …, and was any Swiss city among them?"): (sim, coverage) against
    # each of its parts, in order
    parts: tuple[tuple[float, float], ...] = ()

    @property
    def key(self) -> tuple[int, int]:
        return (self.hit_rank, self.pos)

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class GateDecision:
    """Stage 6: answer, or decline and why."""

    answer: bool
    reason: str | None = None  # weak_evidence, unknown_terms, missing_fact, injection, opinion, not_english
    evidence: float = 0.0
    unknown: list[str] = field(default_factory=list)  # names the reports never mention
    missing: str | None = None  # the kind of fact asked for that the passages do not give ("figure", "year")
    signals: dict[str, float] = field(default_factory=dict)


@dataclass
class Statement:
    """Stage 7: one quoted (extractive) or written (LLM) statement, and the passages it cites."""

    text: str
    passages: list[Passage]
    label: str = ""  # framing from the catalogue: "Lyon (France), city"
    quotes: list[str] = field(default_factory=list)  # the report's own sentences it quotes or rests on
    flagged: bool = False  # an LLM sentence the verifier could not support, kept with a flag
    bullet: bool | None = None  # None: the first statement is the lead paragraph, the others bullets
    continues: bool = False  # written on the same line as the statement before (LLM prose)


@dataclass
class Heading:
    text: str


@dataclass
class Evidence:
    """What a backend composes from (stage 7): the question, its analysis and the scored passages."""

    question: str
    standalone: str
    analysis: QueryAnalysis
    hits: list[Hit]
    scored: list[ScoredSentence]
    query_vector: Any
    shown: frozenset[str] = frozenset()  # sentences already quoted earlier in the conversation
    named_anew: frozenset[str] = frozenset()  # names a follow-up brings that earlier questions did not ("bern")
    new_slot: str | None = None  # the slot an elliptical follow-up moves to ("city level" in "And at city level?")
    part_vectors: Any = None  # embeddings of the parts of a compound question (rows), or None
    # words of the question's names that so many passages contain that they name nothing in particular
    # ("European", "EU" in these reports): a sentence is not the one that names what was asked for them
    common_names: frozenset[str] = frozenset()


@dataclass
class Draft:
    """Stage 7-8: a backend's answer before numbering: text blocks and cited statements."""

    blocks: list[Heading | Statement | str]
    backend: str
    refused: bool = False
    groundedness: float = 1.0
    removed: list[str] = field(default_factory=list)
    notice: str | None = None

    @property
    def statements(self) -> list[Statement]:
        return [b for b in self.blocks if isinstance(b, Statement)]
