"""The data types, all in one place.

``Answer`` is the public JSON contract of ``policy-assistant ask --json`` (documented in
README.md): add fields if you must, never rename or remove one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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


class Citation(BaseModel):
    n: int = Field(description="The number used by the [n] markers in the answer")
    passage_id: str
    source: str
    title: str
    section: str
    start_line: int
    end_line: int
    text: str


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


class CatalogueRecord(BaseModel):
    """A practice (what some actor did, where) or a recommendation (what a report says someone
    should do), with the span of the report it comes from."""

    id: str = Field(description="Stable id, e.g. P-001-0007 or R-003-0002")
    kind: Literal["practice", "recommendation"]
    level: str | None = Field(None, description="Acting level (practice) or addressee level (recommendation): an id of assistant.taxonomy.LEVELS")
    actor: str = Field("", description="Who did it (practice), e.g. 'the municipality of Nador'")
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
