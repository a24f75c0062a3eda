"""Request and response types of the programmatic doors (REST, OpenAI-compatible, MCP).

The answer itself and everything it is made of are the classes of ``assistant.models`` —
``Answer``, ``Citation``, ``RetrievedPassage``, ``Passage``, ``ReportMeta``, ``CatalogueRecord`` —
the same ones ``policy-assistant ask --json`` and ``practices --json`` print, so the OpenAPI schema,
the MCP output schemas and the CLI's JSON have one definition of each type. What is defined here
wraps them: the filters a request may carry, a passage with the lines around it, search results,
feedback, and the OpenAI chat-completion shapes with their extra ``policy_assistant`` field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..models import CatalogueRecord, Citation, Passage, ReportMeta, RetrievedPassage

SectionKindName = Literal["body", "summary", "recommendations", "footnote"]


class Filters(BaseModel):
    """Restrictions on retrieval. Every value is checked: an unknown report, level or theme is an
    error that names the valid values (never a silently wider or empty search)."""

    reports: list[str] | None = Field(
        None,
        description="Only these reports: file names (001_45261df8c35e07ff.txt), short citations (OSCE/ODIHR 2017) or aliases (the OSCE study).",
        examples=[["001_45261df8c35e07ff.txt"]],
    )
    levels: list[str] | None = Field(
        None,
        description="Only passages holding a practice or recommendation of one of these levels of government: ids, readable names or short forms (origin, city, national, eu ...).",
        examples=[["origin"]],
    )
    themes: list[str] | None = Field(
        None,
        description="Only passages holding a practice or recommendation of one of these themes: ids, readable names or short forms (jobs, language, funding ...).",
        examples=[["funding"]],
    )
    section_kinds: list[SectionKindName] | None = Field(
        None, description="Only these kinds of section (the CLI's --section-kind)."
    )


class AskRequest(Filters):
    question: str = Field(description="The question (at most POLICY_ASSISTANT_MAX_QUESTION_CHARS characters).",
                          examples=["How can an origin-country municipality support the integration of its emigrants abroad?"])
    history: list[str] = Field(
        default_factory=list, description="Earlier questions of the conversation, oldest first (for follow-ups)."
    )


class SearchResult(BaseModel):
    """The ranked passages retrieval returns for a query (what ``ask`` quotes from)."""

    query: str
    passages: list[RetrievedPassage]
    filters: dict[str, list[str]] | None = Field(
        None, description="The filters that limited the search, by readable name (as in the Answer JSON)."
    )


class SourceLine(BaseModel):
    n: int = Field(description="1-based line number in the report's text file")
    text: str
    cited: bool = Field(description="True inside the passage's own span")


class PassageContext(BaseModel):
    """A passage with the lines of its report around it (the web chat's 'Show the surrounding text')."""

    passage: Passage
    report: ReportMeta | None = None
    start_line: int = Field(description="First line shown (the passage's start minus the context)")
    end_line: int = Field(description="Last line shown")
    lines: list[SourceLine] = Field(default_factory=list, description="Empty when the report's text file is not on this server")


class RecordList(BaseModel):
    """Practices or recommendations of the catalogue (MCP tools; the REST routes return the plain list)."""

    total: int = Field(description="How many records match (``records`` holds at most ``limit`` of them)")
    records: list[CatalogueRecord] = Field(default_factory=list)


class FeedbackIn(BaseModel):
    question: str = Field(max_length=20_000)
    answer: str = Field("", max_length=100_000, description="The answer text the feedback is about")
    vote: Literal["up", "down"] | None = None
    comment: str | None = Field(None, max_length=20_000, description="Stored trimmed, at most 2,000 characters")
    answer_id: str | None = Field(
        None, pattern=r"^[0-9a-f]{32}$", description="Give the id a previous call returned to change that feedback (vote, then comment)"
    )


class FeedbackOut(BaseModel):
    answer_id: str
    vote: Literal["up", "down"] | None
    comment: str | None


class ErrorBody(BaseModel):
    detail: str = Field(description="What is wrong and what to do")


# --------------------------------------------------------------------------- OpenAI-compatible


class ChatExtra(BaseModel):
    """The extra field ``policy_assistant`` of a chat completion's message (and of the final
    streamed chunk's delta): the structured citations and what a plain OpenAI client cannot say."""

    citations: list[Citation] = Field(default_factory=list, description="Exactly the Answer JSON's citations ([n] markers in content)")
    refused: bool
    refusal_reason: str | None = None
    notice: str | None = None
    filters: dict[str, list[str]] | None = None
    standalone_question: str = ""
    backend: str = "extractive"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completions request. The last message must be the user's question; the
    earlier user messages are the conversation's history; system and assistant messages are
    read but do not change what the assistant does (it answers only from its reports). Sampling
    parameters (temperature, max_tokens ...) are accepted and ignored. Filters are extra body
    fields (``reports``, ``levels``, ``themes``, ``section_kinds``: lists of strings)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(examples=["policy-assistant"])
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(1, ge=1, le=1, description="Only 1")
    reports: list[str] | str | None = None
    levels: list[str] | str | None = None
    themes: list[str] | str | None = None
    section_kinds: list[SectionKindName] | SectionKindName | None = None


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(description="Markdown: the answer with [n] markers, then a compact 'Sources' list")
    policy_assistant: ChatExtra


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    """Approximate: words, not tokens (there is no tokenizer on the extractive path)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    system_fingerprint: str | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "integration-policy-assistant"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail
