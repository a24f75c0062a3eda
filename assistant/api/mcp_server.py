"""The MCP server (official ``mcp`` Python SDK, ``MCPServer``): for desktop AI clients and agents.

    policy-assistant mcp              stdio (a desktop client starts it as a command)
    policy-assistant serve            the same server over streamable HTTP at /mcp (stateless, JSON)

Tools (each with an input schema; results as text for the model plus structured content whose
output schema is the ``assistant.models`` type):

    ask(question, history, reports, levels, themes)        Answer — text: the answer + Sources list
    search_passages(query, k, reports, levels, themes)      SearchResult
    get_passage(passage_id, context_lines)                  PassageContext
    list_reports()                                          list of ReportMeta
    list_practices(level, theme, country, report, limit)    RecordList (practices)
    list_recommendations(level, theme, country, report, limit)  RecordList (recommendations)

Resources: ``policy-assistant://reports`` (the reports' metadata, JSON) and one
``policy-assistant://reports/{file}`` per report (its text file: the lines citations point into).

An unknown report, level or theme is a tool error naming the valid values (never a wider search).
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from ..errors import AssistantError
from ..models import Answer, ReportMeta
from .access import Limits
from .operations import MAX_CONTEXT_LINES, MAX_SEARCH_K, Operations, chat_content
from .schemas import PassageContext, RecordList, SearchResult

INSTRUCTIONS = (
    "Answers and passages from reports on migrant integration and multi-level governance (cities, regions, "
    "origin-country municipalities, national governments, the EU). Use `ask` for a cited answer: its text has [n] "
    "markers and a Sources list — keep both when you quote it. Use `search_passages` to read the ranked passages "
    "yourself, `get_passage` for the text around a cited passage, `list_practices` / `list_recommendations` for the "
    "catalogue. Questions the reports cannot answer are declined (refused: true); do not answer them from elsewhere "
    "in the reports' name."
)
URI_PREFIX = "policy-assistant://reports"

Strs = list[str] | None


def build_mcp(ops: Operations, limits: Limits | None = None):
    limits = limits or Limits.from_settings(ops.settings)
    server = MCPServer("policy-assistant", title="Integration Policy Assistant", instructions=INSTRUCTIONS, version="0.1.0",
                       log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    async def call(fn, *args):
        try:
            return await limits.run(fn, *args)
        except AssistantError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(annotations=read_only)
    async def ask(
        question: Annotated[str, Field(description="The question, in English")],
        history: Annotated[Strs, Field(description="Earlier questions of the conversation, oldest first (for follow-ups)")] = None,
        reports: Annotated[Strs, Field(description="Only these reports: file names, short citations or aliases (list_reports)")] = None,
        levels: Annotated[Strs, Field(description="Only passages about these levels of government: ids or short forms (origin, city, national, eu ...)")] = None,
        themes: Annotated[Strs, Field(description="Only passages about these themes: ids or short forms (jobs, language, funding ...)")] = None,
    ) -> Annotated[CallToolResult, Answer]:
        """Answer a question from the reports: every statement carries [n] markers into the citations
        (report, section, file, line span, the quoted sentences). Declines (refused: true) what the
        reports do not answer. The structured result is the Answer JSON of `policy-assistant ask --json`."""
        filters = await call(ops.filters, reports, levels, themes)
        answer: Answer = await call(ops.ask, question, history or [], filters)
        return CallToolResult(content=[TextContent(type="text", text=chat_content(answer))],
                              structured_content=answer.model_dump(mode="json"))

    @server.tool(annotations=read_only)
    async def search_passages(
        query: Annotated[str, Field(description="What to look for")],
        k: Annotated[int | None, Field(ge=1, le=MAX_SEARCH_K, description="How many passages (default 8)")] = None,
        reports: Annotated[Strs, Field(description="Only these reports: file names, short citations or aliases")] = None,
        levels: Annotated[Strs, Field(description="Only passages about these levels of government")] = None,
        themes: Annotated[Strs, Field(description="Only passages about these themes")] = None,
    ) -> SearchResult:
        """The passages of the reports that best match a query, ranked (the retrieval `ask` uses), each
        with its report, section, file and line span. No answer is composed."""
        filters = await call(ops.filters, reports, levels, themes)
        return await call(ops.search, query, k, filters)

    @server.tool(annotations=read_only)
    async def get_passage(
        passage_id: Annotated[str, Field(description="A passage id from a citation or a search result")],
        context_lines: Annotated[int | None, Field(ge=0, le=MAX_CONTEXT_LINES, description="Lines of the report before and after (default 15)")] = None,
    ) -> PassageContext:
        """One passage with the lines of its report around it (the cited span marked `cited`)."""
        return await call(ops.passage, passage_id, context_lines)

    @server.tool(annotations=read_only)
    async def list_reports() -> list[ReportMeta]:
        """The reports in the knowledge base: file, title, short citation, authors, publisher, year,
        and the names people use for them."""
        return ops.reports()

    def records_tool(kind: str):
        async def records(
            level: Annotated[str | None, Field(description="Acting / addressed level: id, name or short form (origin, city, national, eu ...)")] = None,
            theme: Annotated[str | None, Field(description="Theme: id, name or short form (jobs, language, housing ...)")] = None,
            country: Annotated[str | None, Field(description="Country or place, e.g. Morocco, Germany, Munich")] = None,
            report: Annotated[str | None, Field(description="Only this report: file name, short citation or alias")] = None,
            limit: Annotated[int, Field(ge=1, le=500, description="At most this many records (total says how many match)")] = 50,
        ) -> RecordList:
            found = await call(ops.records, kind, level, theme, country, report)
            return RecordList(total=len(found), records=found[:limit])

        return records

    server.add_tool(
        records_tool("practice"), name="list_practices", annotations=read_only,
        description="Practices from the reports' catalogue — what an actor did, where (actor, level, country, themes, a "
                    "summary) — each with its source span and passage, as `policy-assistant practices --json`.",
    )
    server.add_tool(
        records_tool("recommendation"), name="list_recommendations", annotations=read_only,
        description="Recommendations from the reports' catalogue — what a report says someone should do (addressee "
                    "level, themes, the gist) — with their source spans, as `policy-assistant recommendations --json`.",
    )

    # ------------------------------------------------------------------ resources
    def reports_json() -> str:
        return json.dumps([r.model_dump(mode="json") for r in ops.reports()], ensure_ascii=False, indent=1)

    server.add_resource(FunctionResource.from_function(
        reports_json, uri=URI_PREFIX, name="reports", title="The reports (metadata)", mime_type="application/json",
        description="File, title, short citation, authors, publisher, year and aliases of every report.",
    ))
    for meta in ops.reports():
        def text(source=meta.source) -> str:
            return ops.report_text(source)

        server.add_resource(FunctionResource.from_function(
            text, uri=f"{URI_PREFIX}/{meta.source}", name=meta.source, title=f"{meta.short_citation}: {meta.title}",
            mime_type="text/plain",
            description=f"The text of {meta.short_citation} ({meta.year or 'n.d.'}); citations' line spans are 1-based lines of this text.",
        ))
    return server


def run_stdio(settings) -> int:
    """`policy-assistant mcp`: the MCP server on standard input/output. Nothing but the protocol
    goes to standard output: loading messages and logs go to standard error."""
    import anyio

    from ..service import Assistant

    if settings.embedding_threads is None:
        settings = settings.model_copy(update={"embedding_threads": 1})
    with contextlib.redirect_stdout(sys.stderr):
        assistant = Assistant(settings, progress=True)
        server = build_mcp(Operations(assistant))
    anyio.run(server.run_stdio_async)
    return 0
