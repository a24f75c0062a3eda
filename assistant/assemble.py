"""The assemble stage: a backend's Draft becomes the public ``Answer``.

This is the one place where citations are numbered: passages get ``[1]``, ``[2]`` … in the order
in which the answer first cites them, for the extractive and the LLM answers alike.
"""

from __future__ import annotations

from .models import (
    Answer,
    Citation,
    Draft,
    GateDecision,
    Heading,
    Hit,
    Passage,
    RetrievedPassage,
    Rewrite,
)

FLAG = " ⚠️ _(not supported by the cited passages)_"


class CitationNumbers:
    """Numbers passages in order of first use and collects their Citations."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.citations: list[Citation] = []

    def number(self, passage: Passage, quotes: list[str] | None = None) -> int:
        if passage.passage_id not in self.numbers:
            self.numbers[passage.passage_id] = len(self.numbers) + 1
            self.citations.append(
                Citation(
                    n=self.numbers[passage.passage_id],
                    passage_id=passage.passage_id,
                    source=passage.source,
                    title=passage.title,
                    section=passage.section_path,
                    start_line=passage.start_line,
                    end_line=passage.end_line,
                    text=passage.text,
                    short_citation=passage.short_citation,
                    page=passage.page,
                )
            )
        citation = self.citations[self.numbers[passage.passage_id] - 1]
        for quote in quotes or []:
            if quote in passage.text and quote not in citation.quotes:
                citation.quotes.append(quote)
        return self.numbers[passage.passage_id]


def render(draft: Draft) -> tuple[str, list[Citation]]:
    """Markdown with [n] markers, and the citations they point to."""
    numbering = CitationNumbers()
    lines: list[str] = []
    first_statement = True
    after_heading = False
    for block in draft.blocks:
        if isinstance(block, Heading):
            lines += ["", f"**{block.text}**"]
            after_heading = True
            continue
        if isinstance(block, str):
            lines += ["", block.strip(), ""] if lines else [block.strip(), ""]
            continue
        marks = "".join(f"[{numbering.number(p, block.quotes)}]" for p in block.passages)
        label = block.label[:1].upper() + block.label[1:] if block.label else ""
        text = f"*{label}:* {block.text}" if label else block.text
        sentence = f"{text} {marks}".rstrip() + (FLAG if block.flagged else "")
        if block.continues and lines:
            lines[-1] = lines[-1] + " " + sentence
        else:
            bullet = block.bullet if block.bullet is not None else (not first_statement or after_heading)
            if not bullet and lines and lines[-1]:
                lines.append("")
            if bullet and lines and lines[-1] and not lines[-1].startswith("- ") and not lines[-1].startswith("**"):
                lines.append("")
            lines.append(("- " if bullet else "") + sentence)
        first_statement = False
    text = "\n".join(lines).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text, numbering.citations


def retrieved(hits: list[Hit]) -> list[RetrievedPassage]:
    return [
        RetrievedPassage(
            passage_id=h.passage.passage_id,
            source=h.passage.source,
            title=h.passage.title,
            section=h.passage.section_path,
            start_line=h.passage.start_line,
            end_line=h.passage.end_line,
            text=h.passage.text,
            score=round(h.score, 6),
        )
        for h in hits
    ]


def assemble(
    draft: Draft, rewrite: Rewrite, decision: GateDecision, hits: list[Hit], timings: dict[str, float]
) -> Answer:
    markdown, citations = render(draft)
    return Answer(
        question=rewrite.question,
        answer=markdown,
        refused=draft.refused,
        citations=citations,
        retrieved=retrieved(hits),
        timings_ms=timings,
        standalone_question=rewrite.standalone,
        refusal_reason=decision.reason,
        evidence=round(decision.evidence, 4),
        backend=draft.backend,
        groundedness=draft.groundedness,
        removed_sentences=draft.removed,
        notice=draft.notice,
    )
