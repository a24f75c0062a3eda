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
