"""Answer backends behind one interface, chosen by ``Settings.backend``.

Every backend receives the same :class:`Evidence` (the question, its standalone form, the
retrieved passages and their scored sentences) and streams Markdown text deltas followed by
one final :class:`Draft` (statements citing passages; ``assemble`` numbers the citations). The
gate has already declined injection, opinion and weak-evidence questions before a backend is
asked, so every backend declines them alike.

* :class:`ExtractiveBackend` — no LLM: the reports' own sentences, each cited (the default).
* :class:`LLMBackend` — a LangChain chat model (``openai``, ``ollama``, ``llamacpp``; see
  ``llm.py``). The model sees the passages under opaque ids; its answer is citation-checked by
  ``verify.CitationVerifier``. A model that fails, times out or says nothing verifiable yields
  the extractive answer with a notice.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from .catalogue import Catalogue
from .compose import ExtractiveComposer
from .conversation import condense, needs_context
from .errors import AssistantError
from .guard import is_instruction_like
from .index import LoadedIndex
from .models import Draft, Evidence, Hit, ReportMeta
from .prompts import load_prompt
from .settings import Settings
from .text import QUESTION_NOISE, content_terms, words
from .verify import CitationVerifier, names_in, opaque_ids

if TYPE_CHECKING:  # LangChain is imported only by the LLM backends, when they talk to a model
    from langchain_core.language_models.chat_models import BaseChatModel

log = logging.getLogger(__name__)

OMITTED = "[instruction-like text omitted]"
_DECLINE = re.compile(r"^\W*(the )?reports? (do|does) not (answer|cover|address)", re.I)


class AnswerBackend(Protocol):
    name: str

    def condense(self, question: str, history: list[str], reports: list[ReportMeta]) -> str:
        """The standalone form of a follow-up question."""

    def stream(self, evidence: Evidence) -> Iterator[str | Draft]:
        """Markdown deltas, then exactly one Draft."""


class ExtractiveBackend:
    name = "extractive"

    def __init__(self, index: LoadedIndex, settings: Settings, catalogue: Catalogue | None = None):
        self.index = index
        self.settings = settings
        self.catalogue = catalogue

    def condense(self, question: str, history: list[str], reports: list[ReportMeta]) -> str:
        return condense(question, history, reports, self.settings.max_history_turns)

    def draft(self, evidence: Evidence, preface: str | None = None) -> Draft:
        composer = ExtractiveComposer(self.index, self.settings.compose, self.catalogue)
        return composer.compose(evidence, preface=preface)

    def stream(self, evidence: Evidence) -> Iterator[str | Draft]:
        from .assemble import render

        draft = self.draft(evidence)
        markdown, _ = render(draft)  # the same numbering the final answer gets
        for line in markdown.splitlines(keepends=True):
            yield line
        yield draft


class _MarkerDisplay:
    """Turns opaque ids into provisional [n] numbers while tokens stream in (the verified answer
    replaces the streamed text at the end)."""

    def __init__(self, ids: list[str]):
        self.ids = {i.upper() for i in ids}
        self.numbers: dict[str, int] = {}
        self.buffer = ""

    def _number(self, match: re.Match) -> str:
        oid = match.group(0).upper()
        if oid not in self.ids:
            return match.group(0)
        if oid not in self.numbers:
            self.numbers[oid] = len(self.numbers) + 1
        return str(self.numbers[oid])

    def _render(self, text: str) -> str:
        return re.sub(r"\b[A-Z]\d[A-Z]\d\b", self._number, text)

    def feed(self, delta: str) -> str:
        self.buffer += delta
        # hold back a possibly unfinished id at the end
        tail = re.search(r"[A-Za-z0-9]{1,3}$", self.buffer)
        cut = tail.start() if tail else len(self.buffer)
        out, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return self._render(out)

    def flush(self) -> str:
        out, self.buffer = self.buffer, ""
        return self._render(out)


class LLMBackend:
    def __init__(
        self, name: str, chat_model: BaseChatModel, index: LoadedIndex, settings: Settings, catalogue: Catalogue | None = None
    ):
        self.name = name
        self.chat = chat_model
        self.index = index
        self.settings = settings
        self.extractive = ExtractiveBackend(index, settings, catalogue)
        self.verifier = CitationVerifier(
            index, settings.verify_min_similarity, settings.verify_min_overlap, settings.unsupported_action
        )

    # --- follow-ups --------------------------------------------------------------------------
    def condense(self, question: str, history: list[str], reports: list[ReportMeta]) -> str:
        history = [h for h in history if h.strip()][-self.settings.max_history_turns :]
        if not history or not self.settings.llm_condense or not needs_context(question, reports):
            return self.extractive.condense(question, history, reports)
        prompt = load_prompt("condense").render(
            history="\n".join(f"- {h}" for h in history), question=question
        )
        from langchain_core.messages import HumanMessage

        try:
            reply = self.chat.invoke([HumanMessage(content=prompt)], config={"timeout": self.settings.llm_timeout_s})
            text = str(reply.content).strip().splitlines()[0] if str(reply.content).strip() else ""
        except Exception as exc:  # the server is down or slow: the extractive rewrite still works
            log.warning("condense-question call failed (%s); using the extractive rewrite", exc)
            return self.extractive.condense(question, history, reports)
        text = re.sub(r"^(standalone question|question|rewritten question)\s*:\s*", "", text, flags=re.I).strip(" \"'“”")
        if not _faithful_rewrite(text, question, history):
            log.info("condense-question rewrite rejected: %r", text)
            return self.extractive.condense(question, history, reports)
        return text

    # --- answers -----------------------------------------------------------------------------
    def messages(self, evidence: Evidence) -> tuple[list, dict[str, Hit]]:
        from langchain_core.messages import HumanMessage, SystemMessage

        hits = evidence.hits[: self.settings.llm_context_passages]
        ids = opaque_ids([h.passage.passage_id for h in hits], salt=evidence.standalone)
        blocks = []
        for oid, h in zip(ids, hits):
            text = " ".join(OMITTED if is_instruction_like(s) else s for s in h.passage.sentences) or h.passage.text
            blocks.append(f"[{oid}] ({h.passage.short_citation}; {h.passage.section_path or 'no section'})\n{text}")
        example = ids[0] if ids else "K7Q2"
        system = load_prompt("system").render(example_id=example, max_sentences=str(self.settings.max_answer_sentences))
        user = load_prompt("answer_with_citations").render(
            passages="\n\n".join(blocks), question=evidence.question if evidence.question == evidence.standalone
            else f"{evidence.question}\n(In context: {evidence.standalone})",
            example_id=example,
        )
        return [SystemMessage(content=system), HumanMessage(content=user)], dict(zip(ids, hits))

    def stream(self, evidence: Evidence) -> Iterator[str | Draft]:
        messages, sources = self.messages(evidence)
        display = _MarkerDisplay(list(sources))
        deadline = time.monotonic() + self.settings.llm_timeout_s
        parts: list[str] = []
        try:
            for chunk in self.chat.stream(messages):
                delta = str(chunk.content)
                parts.append(delta)
                shown = display.feed(delta)
                if shown:
                    yield shown
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no complete answer within {self.settings.llm_timeout_s:.0f} s")
            tail = display.flush()
            if tail:
                yield tail
        except AssistantError:
            raise
        except Exception as exc:
            log.warning("%s backend failed: %s", self.name, exc)
            draft = self.extractive.draft(evidence)
            draft.notice = (
                f"The language model ({self.name}) did not answer ({_short(exc)}); "
                "this is the extractive answer, quoted from the reports."
            )
            yield draft
            return
        raw = "".join(parts).strip()
        if _DECLINE.match(raw) and not any(oid in raw.upper() for oid in sources):
            yield Draft([], self.name, refused=True, groundedness=1.0)
            return
        checked = self.verifier.verify(raw, sources)
        if checked.kept == 0:
            draft = self.extractive.draft(evidence)
            draft.removed = checked.removed
            draft.notice = (
                f"The language model's answer could not be verified against the cited passages "
                f"({len(checked.checks)} sentence(s) removed); this is the extractive answer, quoted from the reports."
            )
            yield draft
            return
        yield Draft(checked.blocks, self.name, groundedness=checked.groundedness, removed=checked.removed)


def _faithful_rewrite(rewrite: str, question: str, history: list[str]) -> bool:
    """A rewrite is used only if it is a question of sensible length, keeps most of the follow-up's
    own content words and names nothing that the conversation did not name (small models invent)."""
    if not rewrite.endswith("?") or len(rewrite.split()) < 3 or len(rewrite) > 3 * len(question) + 200:
        return False
    if is_instruction_like(rewrite):
        return False
    own = set(content_terms(question, QUESTION_NOISE))
    if own and len(own & set(content_terms(rewrite))) / len(own) < 0.6:
        return False
    said = set(words(" ".join([*history, question])))
    return all(set(words(name)) <= said for name in names_in(rewrite))


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def make_backend(
    settings: Settings, index: LoadedIndex, chat_model: BaseChatModel | None = None, catalogue: Catalogue | None = None
) -> AnswerBackend:
    """The backend for ``settings.backend``; ``chat_model`` overrides the configured model (tests)."""
    if settings.backend == "extractive" and chat_model is None:
        return ExtractiveBackend(index, settings, catalogue)
    if chat_model is None:
        from .llm import make_chat_model

        chat_model = make_chat_model(settings)
    name = settings.backend if settings.backend != "extractive" else "llm"
    return LLMBackend(name, chat_model, index, settings, catalogue)
