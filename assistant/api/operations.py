"""What every programmatic door can do, over the one ``Assistant`` service.

The REST API, the OpenAI-compatible API and the MCP server all call these methods, so they answer
the same question with the same ``Answer`` (the one ``ask --json`` prints) and check their
arguments the same way: an unknown report, level, theme or section kind raises ``BadArgument``,
whose message lists the valid values — a filter is never dropped or widened silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

from ..assemble import retrieved
from ..errors import AssistantError, InputError
from ..guard import clean_question
from ..inert import code_name, inert_line, inert_markdown
from ..models import Answer, CatalogueRecord, ReportMeta, RetrievalFilters
from ..taxonomy import resolve_level, resolve_theme
from .schemas import FeedbackIn, FeedbackOut, PassageContext, SearchResult, SourceLine

SECTION_KINDS = ("body", "summary", "recommendations", "footnote")
MAX_SEARCH_K = 50
MAX_CONTEXT_LINES = 200


class BadArgument(InputError):
    """An argument names something that does not exist; the message lists the valid values."""


class NotFound(AssistantError):
    """No such passage or report."""

    exit_code = 2


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class Operations:
    def __init__(self, assistant, store=None):
        self.assistant = assistant
        self.settings = assistant.settings
        self._store = store

    @property
    def store(self):
        if self._store is None:
            from ui.feedback import FeedbackStore, feedback_path

            self._store = FeedbackStore(feedback_path(self.settings))
        return self._store

    # ------------------------------------------------------------------ arguments
    def reports(self) -> list[ReportMeta]:
        return list(self.assistant.reports)

    def report_choices(self) -> str:
        return "; ".join(f"{r.source} ({r.short_citation})" for r in self.assistant.reports)

    def resolve_report(self, value: str) -> str:
        """A report's file name from its file name, short citation, title or an alias ('the OSCE study')."""
        key = " ".join(str(value).split()).casefold()
        bare = key[4:] if key.startswith("the ") else key
        for r in self.assistant.reports:
            names = {r.source.casefold(), r.short_citation.casefold(), r.title.casefold(), *(a.casefold() for a in r.aliases)}
            if key in names or bare in names:
                return r.source
        raise BadArgument(f"unknown report {value!r}; choose one of: {self.report_choices()}")

    @staticmethod
    def resolve_level(value: str) -> str:
        try:
            return resolve_level(value)
        except ValueError as exc:
            raise BadArgument(str(exc)) from None

    @staticmethod
    def resolve_theme(value: str) -> str:
        try:
            return resolve_theme(value)
        except ValueError as exc:
            raise BadArgument(str(exc)) from None

    def filters(
        self,
        reports: str | Sequence[str] | None = None,
        levels: str | Sequence[str] | None = None,
        themes: str | Sequence[str] | None = None,
        section_kinds: str | Sequence[str] | None = None,
    ) -> RetrievalFilters | None:
        """RetrievalFilters for the given names (None when nothing is given); BadArgument for any
        unknown value."""
        sources = list(dict.fromkeys(self.resolve_report(v) for v in _as_list(reports)))
        lv = list(dict.fromkeys(self.resolve_level(v) for v in _as_list(levels)))
        th = list(dict.fromkeys(self.resolve_theme(v) for v in _as_list(themes)))
        kinds = list(dict.fromkeys(_as_list(section_kinds)))
        for k in kinds:
            if k not in SECTION_KINDS:
                raise BadArgument(f"unknown section kind {k!r}; choose one of: {', '.join(SECTION_KINDS)}")
        if not (sources or lv or th or kinds):
            return None
        return RetrievalFilters(sources=sources or None, section_kinds=kinds or None, levels=lv or None, themes=th or None)

    # ------------------------------------------------------------------ answers
    def ask(self, question: str, history: Sequence[str] | None = None, filters: RetrievalFilters | None = None) -> Answer:
        return self.assistant.ask(question, history=list(history or []), filters=filters)

    def stream(
        self, question: str, history: Sequence[str] | None = None, filters: RetrievalFilters | None = None
    ) -> Iterator[str | Answer]:
        return self.assistant.stream(question, history=list(history or []), filters=filters)

    def search(self, query: str, k: int | None = None, filters: RetrievalFilters | None = None) -> SearchResult:
        """The ranked passages for a query: the retrieval ``ask`` does (analysis of report names,
        dense + lexical, fusion, diversity, filters), without composing an answer."""
        a = self.assistant
        q = clean_question(query, self.settings.max_question_chars, what="the query")
        k = k or self.settings.top_k
        if not 1 <= k <= MAX_SEARCH_K:
            raise BadArgument(f"k must be between 1 and {MAX_SEARCH_K}, not {k}")
        follow = getattr(a, "_follow_rebuilds", None)
        if follow is not None:
            follow()
        from ..analysis import analyse

        analysis = analyse(q, a.reports)
        qvec = a.index.embedder.embed_query(q)
        hits = a.search.search(q, k=k, filters=filters, analysis=analysis, query_vector=qvec)
        described = filters.describe(a.reports) if filters is not None and filters.active() else None
        return SearchResult(query=q, passages=retrieved(hits), filters=described)

    def passage(self, passage_id: str, context_lines: int | None = None) -> PassageContext:
        """A passage and the lines of its report around it (±``context_lines``, default
        POLICY_ASSISTANT_SOURCE_CONTEXT_LINES)."""
        from ui.render import source_lines

        index = self.assistant.index
        i = index.by_id.get(str(passage_id))
        if i is None:
            raise NotFound(
                f"no passage {passage_id!r} in the index; passage ids come with search results and citations "
                "(e.g. 001_45261df8c35e07ff:558-558:4d7f7082d5), and change when a report is re-ingested"
            )
        radius = self.settings.source_context_lines if context_lines is None else int(context_lines)
        if not 0 <= radius <= MAX_CONTEXT_LINES:
            raise BadArgument(f"context_lines must be between 0 and {MAX_CONTEXT_LINES}, not {radius}")
        p = index.passages[i]
        lines = source_lines(self.settings, p.source)
        if lines is None:
            return PassageContext(passage=p, report=self.assistant.report(p.source), start_line=p.start_line, end_line=p.end_line)
        lo, hi = max(1, p.start_line - radius), min(len(lines), p.end_line + radius)
        rows = [SourceLine(n=n, text=lines[n - 1], cited=p.start_line <= n <= p.end_line) for n in range(lo, hi + 1)]
        return PassageContext(passage=p, report=self.assistant.report(p.source), start_line=lo, end_line=hi, lines=rows)

    def report_text(self, source: str) -> str:
        """The text file of a report (what citations' line spans point into)."""
        from ui.render import source_lines

        src = self.resolve_report(source)
        lines = source_lines(self.settings, src)
        if lines is None:
            raise NotFound(f"the text of {src} is not on this server")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ catalogue
    def records(
        self,
        kind: str | None = None,
        level: str | None = None,
        theme: str | None = None,
        country: str | None = None,
        report: str | None = None,
    ) -> list[CatalogueRecord]:
        """Practices and/or recommendations, with the CLI's filters (checked: unknown values are errors)."""
        if kind not in (None, "practice", "recommendation"):
            raise BadArgument(f"unknown kind {kind!r}; choose one of: practice, recommendation")
        lvl = self.resolve_level(level) if level else None
        thm = self.resolve_theme(theme) if theme else None
        src = self.resolve_report(report) if report else None
        return self.assistant.catalogue.filter(kind=kind, level=lvl, theme=thm, country=country or None, source=src)

    # ------------------------------------------------------------------ feedback
    def feedback(self, item: FeedbackIn, participant: str | None = None) -> FeedbackOut:
        """Store 👍/👎 and/or a comment on an answer (the web chat's feedback store)."""
        answer_id = item.answer_id or uuid.uuid4().hex
        store = self.store
        if item.vote is not None or item.comment is None:
            store.record_vote(answer_id, item.vote, item.question, item.answer, None, participant, "api")
        comment = None
        if item.comment is not None and item.comment.strip():
            comment = store.add_comment(answer_id, item.comment, item.question, item.answer, None, participant, "api")
        stored = store.get_feedback(answer_id)
        return FeedbackOut(answer_id=answer_id, vote=stored.vote if stored else item.vote, comment=stored.comment if stored else comment)


def sources_markdown(answer: Answer) -> str:
    """The compact 'Sources' list a plain chat client shows under the answer: one line per
    citation, ``[n] short citation — title — section — file, lines a–b``. Titles and sections come
    from the reports, so they are made inert (``assistant.inert``): no link, image or HTML."""
    if not answer.citations:
        return ""
    rows = []
    for c in answer.citations:
        title = inert_line(c.title)
        parts = [inert_line(c.short_citation) or title, f"*{title}*" if c.short_citation and title else "",
                 inert_line(c.section) or "no section", f"`{code_name(c.source)}`, lines {c.start_line}–{c.end_line}"]
        rows.append(f"- [{c.n}] " + " — ".join(p for p in parts if p))
    return "**Sources**\n\n" + "\n".join(rows)


def chat_content(answer: Answer) -> str:
    """What a plain client shows: the Markdown answer with its [n] markers, the notice if any, then
    the Sources list — the report text in it inert (``chat_answer``)."""
    return chat_answer(answer.answer) + chat_tail(answer)


def chat_answer(markdown: str) -> str:
    """The answer's Markdown as a chat client is given it: a report's words made inert
    (``assistant.inert.inert_markdown``; a normal answer is unchanged). Line by line, so streamed
    lines come out as the whole text does."""
    return inert_markdown(markdown)


def chat_tail(answer: Answer) -> str:
    """Everything ``chat_content`` adds after the answer's own text."""
    tail = ""
    if answer.notice:
        tail += f"\n\n> Note: {inert_line(answer.notice)}"
    sources = sources_markdown(answer)
    if sources:
        tail += "\n\n" + sources
    return tail
