"""The REST API under ``/api/v1/`` (its OpenAPI description is ``/openapi.json``, the docs ``/docs``).

    POST /api/v1/ask                      the Answer JSON, exactly as ``policy-assistant ask --json``
    GET  /api/v1/search?q=...             ranked passages only (SearchResult)
    GET  /api/v1/passages/{passage_id}    a passage with the lines around it (PassageContext)
    GET  /api/v1/reports                  the reports (ReportMeta)
    GET  /api/v1/practices                practices, with the CLI's filters (CatalogueRecord)
    GET  /api/v1/recommendations          recommendations, likewise
    POST /api/v1/feedback                 👍/👎 and a comment on an answer

Errors: ``{"detail": "..."}`` — 400 for a bad question (the CLI's messages), 422 for an unknown
filter value (the message lists the valid ones) or a malformed request, 404 for an unknown
passage, 401 without the passcode, 413 for an oversized body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from ..errors import AssistantError, InputError
from ..models import Answer, CatalogueRecord, ReportMeta
from .access import Limits
from .operations import MAX_CONTEXT_LINES, MAX_SEARCH_K, BadArgument, NotFound, Operations
from .schemas import AskRequest, ErrorBody, FeedbackIn, FeedbackOut, PassageContext, SearchResult, SectionKindName

_ERR = {
    400: {"model": ErrorBody, "description": "Bad input: an empty or oversized question (the CLI's messages)"},
    401: {"model": ErrorBody, "description": "The server has a passcode and the request did not give it"},
    422: {"model": ErrorBody, "description": "An unknown filter value (the message lists the valid ones) or a malformed request"},
}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def failure(exc: Exception) -> JSONResponse:
    if isinstance(exc, BadArgument):
        return error(422, str(exc))
    if isinstance(exc, InputError):
        return error(400, str(exc))
    if isinstance(exc, NotFound):
        return error(404, str(exc))
    return error(500, str(exc))


Reports = Annotated[list[str] | None, Query(description="Only this report (file name, short citation or alias); repeatable")]
Levels = Annotated[list[str] | None, Query(description="Level of government: id, name or short form (origin, city ...); repeatable")]
Themes = Annotated[list[str] | None, Query(description="Theme: id, name or short form (jobs, funding ...); repeatable")]
Kinds = Annotated[list[SectionKindName] | None, Query(description="Only this kind of section; repeatable")]


def _identity(request: Request) -> str | None:
    who = getattr(request.state, "identity", None)
    return who.user if who is not None and who.how != "open" else None


def make_router(ops: Operations, limits: Limits) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["REST"])

    @r.post("/ask", response_model=Answer, responses=_ERR, summary="Answer a question from the reports, with citations",
            description="Returns the Answer JSON of `policy-assistant ask --json` (README: 'The answer JSON').")
    async def ask(body: AskRequest):
        try:
            filters = ops.filters(body.reports, body.levels, body.themes, body.section_kinds)
            answer = await limits.run(ops.ask, body.question, body.history, filters)
        except AssistantError as exc:
            return failure(exc)
        return Response(answer.model_dump_json(), media_type="application/json")

    @r.get("/search", response_model=SearchResult, responses=_ERR, summary="Ranked passages for a query (no answer)")
    async def search(
        q: Annotated[str, Query(description="The query", examples=["town twinning"])],
        k: Annotated[int | None, Query(ge=1, le=MAX_SEARCH_K, description="How many passages (default POLICY_ASSISTANT_TOP_K)")] = None,
        report: Reports = None,
        level: Levels = None,
        theme: Themes = None,
        section_kind: Kinds = None,
    ):
        try:
            filters = ops.filters(report, level, theme, section_kind)
            return await limits.run(ops.search, q, k, filters)
        except AssistantError as exc:
            return failure(exc)

    @r.get("/passages/{passage_id}", response_model=PassageContext,
           responses={**_ERR, 404: {"model": ErrorBody, "description": "No such passage"}},
           summary="A passage with the lines of its report around it")
    def passage(
        passage_id: str,
        context_lines: Annotated[int | None, Query(ge=0, le=MAX_CONTEXT_LINES, description="Lines before and after (default 15)")] = None,
    ):
        try:
            return ops.passage(passage_id, context_lines)
        except AssistantError as exc:
            return failure(exc)

    @r.get("/reports", response_model=list[ReportMeta], responses={401: _ERR[401]}, summary="The reports in the knowledge base")
    def reports():
        return ops.reports()

    def catalogue_route(kind: str):
        def records(
            level: Annotated[str | None, Query(description="Acting / addressed level: id, name or short form (origin, city, national, eu ...)")] = None,
            theme: Annotated[str | None, Query(description="Theme: id, name or short form (jobs, language, housing ...)")] = None,
            country: Annotated[str | None, Query(description="Country or place, e.g. Morocco, Germany, Munich")] = None,
            report: Annotated[str | None, Query(description="Only this report (file name, short citation or alias)")] = None,
        ):
            try:
                return ops.records(kind, level, theme, country, report)
            except AssistantError as exc:
                return failure(exc)

        return records

    r.add_api_route("/practices", catalogue_route("practice"), methods=["GET"], response_model=list[CatalogueRecord],
                    responses=_ERR, summary="Practices: what actors did, where (as `policy-assistant practices --json`)")
    r.add_api_route("/recommendations", catalogue_route("recommendation"), methods=["GET"], response_model=list[CatalogueRecord],
                    responses=_ERR, summary="Recommendations: what the reports say someone should do (as `recommendations --json`)")

    @r.post("/feedback", response_model=FeedbackOut, responses=_ERR, summary="👍/👎 and/or a comment on an answer",
            description="Stored with the web chat's feedback (data/feedback.sqlite3). A vote without comment sets the vote; a "
                        "comment without vote keeps the vote; give the returned answer_id to change the same feedback.")
    def feedback(body: FeedbackIn, request: Request):
        return ops.feedback(body, participant=_identity(request))

    return r
