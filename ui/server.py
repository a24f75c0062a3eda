"""One ASGI application for ``policy-assistant serve``: every door on one port, over one ``Assistant``.

    /                      the Gradio web chat (its login form, its /gradio_api/... routes, /ask)
    /v1/...                OpenAI-compatible chat completions and models   (assistant/api/openai_routes.py)
    /api/v1/...            the REST API                                    (assistant/api/rest.py)
    /openapi.json, /docs   its OpenAPI description and docs (FastAPI, from the pydantic models)
    /mcp                   the MCP server over streamable HTTP             (assistant/api/mcp_server.py)
    /export/<token>        a conversation the web chat exported, for the user who exported it (ui/exports.py)

Every request passes ``assistant.api.access.Guard`` first (the passcode, the login back-off, only
the web chat's own routes, session owners, body limits); CORS is off unless ``cors_origins`` are
given. ``create_app`` builds it, ``run`` serves it with uvicorn, ``BackgroundServer`` runs it in a
thread (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

from fastapi import FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBearer
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount

from assistant.api.access import Access, Guard, Limits, is_login_page
from assistant.api.mcp_server import build_mcp
from assistant.api.openai_routes import OpenAIDoor
from assistant.api.operations import Operations
from assistant.api.rest import make_router
from assistant.service import Assistant

DESCRIPTION = """Cited answers from reports on migrant integration and multi-level governance.

* **REST** (`/api/v1/...`): the Answer JSON of `policy-assistant ask --json`, ranked passages, a passage with its
  surrounding lines, the reports, the practices and recommendations catalogue, feedback.
* **OpenAI-compatible** (`/v1/chat/completions`, `/v1/models`): point any OpenAI client at `http://HOST:PORT/v1`;
  the structured citations are in the extra field `policy_assistant` of the message (or of the final chunk's delta).
* **MCP** (`/mcp`, streamable HTTP; not described here): tools `ask`, `search_passages`, `get_passage`,
  `list_reports`, `list_practices`, `list_recommendations`.

With a passcode every route needs `Authorization: Bearer <passcode>` (or basic auth with any user name and the
passcode). Errors: `{"detail": "..."}` (REST), `{"error": {...}}` (OpenAI).
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loopback(host: str) -> bool:
    from ui.app import _is_loopback

    return _is_loopback(host)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "invalid request — " + "; ".join(parts)


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI with its script and style served from ``/docs/static/`` (the files the
    fastapi-offline package ships), so the docs work on a machine without internet access."""
    from pathlib import Path

    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    static = Path(fastapi_offline.__file__).resolve().parent / "static"
    app.mount("/docs/static", StaticFiles(directory=str(static)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=app.title + " — API docs",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon.png",
        )


def auth_message(workshop) -> str:
    if workshop is not None:
        return (
            f"Workshop: {workshop.title}. Participants: type your name as the user name and the workshop passcode as the "
            "password. Facilitator: user name 'facilitator' and the facilitator passcode."
        )
    return "Type any user name and the passcode."


def create_app(
    assistant: Assistant,
    *,
    web=None,
    workshop=None,
    store=None,
    passcode: str | None = None,
    facilitator_passcode: str | None = None,
    cors_origins: list[str] | tuple[str, ...] = (),
    host: str = "127.0.0.1",
    port: int = 7860,
    limits: Limits | None = None,
    concurrency: int | None = None,
) -> FastAPI:
    """The whole application. ``web``: a web chat already built with ``ui.app.build_app`` (else one
    is built with ``workshop`` and ``store``); it is queued here with ``concurrency`` answers at once
    (default: ``web_concurrency``)."""
    from gradio import mount_gradio_app

    from ui.app import build_app, mount_kwargs
    from ui.feedback import FeedbackStore, feedback_path

    settings = assistant.settings
    if web is None:
        store = store if store is not None else FeedbackStore(feedback_path(settings))
        web = build_app(assistant, workshop=workshop, store=store)
    chat = web.pa_web
    store = chat.store
    workshop = chat.workshop
    access = Access.from_settings(settings, passcode, facilitator_passcode)
    limits = limits or Limits.from_settings(settings)
    ops = Operations(assistant, store)
    mcp = build_mcp(ops, limits)
    from mcp.server.transport_security import TransportSecuritySettings

    security = None if _loopback(host) else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    mcp_app = mcp.streamable_http_app(streamable_http_path="/mcp", stateless_http=True, json_response=True,
                                      transport_security=security, host=host)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async with mcp.session_manager.run():
            yield

    docs_security = [Security(HTTPBearer(auto_error=False, description="The passcode (only when the server has one)")),
                     Security(HTTPBasic(auto_error=False, description="Any user name and the passcode"))]
    app = FastAPI(
        title="Integration Policy Assistant",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs below: Swagger UI from files on this server (fastapi-offline's), no CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    _offline_docs(app)
    door = OpenAIDoor(ops, limits)
    app.include_router(door.router(), dependencies=docs_security)
    app.include_router(make_router(ops, limits), dependencies=docs_security)
    for route in mcp_app.routes:  # POST/GET/DELETE /mcp (stateless: every request stands alone)
        app.router.routes.append(route)

    exports = chat.exports

    @app.get("/export/{token}", include_in_schema=False)
    def download_export(token: str, request: Request):
        """A conversation exported from the web chat: only for the user who exported it, from memory."""
        who = getattr(request.state, "identity", None)
        item = exports.get(token, who.user if who is not None else None)
        if item is None:
            return JSONResponse({"detail": "no such export (exports are kept for a while, for the user who made them)"},
                                status_code=404)
        return Response(item.data, media_type="text/markdown; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{item.filename}"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        message = _validation_message(exc)
        if request.url.path.startswith("/v1"):
            return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                           "code": "invalid_request"}}, status_code=400)
        return JSONResponse({"detail": message}, status_code=422)

    app.add_middleware(Guard, access=access, limits=limits)  # inside CORS: a preflight never needs the passcode
    app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                       allow_headers=["authorization", "content-type", "mcp-session-id", "mcp-protocol-version"],
                       expose_headers=["mcp-session-id"])

    # api_open=False: a queued event (an answer) cannot be run through Gradio's direct route, around the queue's limit
    web.queue(default_concurrency_limit=max(1, concurrency or settings.web_concurrency), status_update_rate=1.0, api_open=False)
    mount_gradio_app(app, web, path="/", **mount_kwargs(host, port, access.check if passcode else None,
                                                         auth_message(workshop) if passcode else None))
    gradio_app = next(r.app for r in reversed(app.router.routes) if isinstance(r, Mount) and r.path == "")
    access.attach_gradio(gradio_app)
    app.state.pa_access, app.state.pa_limits, app.state.pa_ops, app.state.pa_web = access, limits, ops, web
    app.state.pa_gradio = gradio_app
    app.state.pa_web_settings = settings.web
    return app


def _server(app: FastAPI, host: str, port: int, grace: float):
    """A uvicorn server that, when it stops, first ends the web chat's long-lived streams (Gradio's
    heartbeats and queue streams would otherwise hold the graceful shutdown until its timeout)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None):
            gradio_app = getattr(app.state, "pa_gradio", None)
            web = getattr(app.state, "pa_web", None)
            if gradio_app is not None:
                gradio_app.stop_event.set()
            if web is not None and getattr(web, "_queue", None) is not None:
                web._queue.close()
            if web is not None and getattr(web, "pa_web", None) is not None:
                web.pa_web.exports.clear()  # exports waiting for their download go with the server
            await super().shutdown(sockets)

    # X-Forwarded-For names the client only when it comes from a configured proxy (the login back-off
    # counts per client address); uvicorn would otherwise trust it from 127.0.0.1
    web = getattr(getattr(app, "state", None), "pa_web_settings", None)
    proxies = list(getattr(web, "trusted_proxies", None) or [])
    return Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                 timeout_graceful_shutdown=grace, lifespan="on", proxy_headers=bool(proxies),
                                 forwarded_allow_ips=",".join(proxies) or None))


def run(app: FastAPI, host: str, port: int) -> None:
    """Serve until Ctrl+C."""
    _server(app, host, port, grace=3).run()


class BackgroundServer:
    """The application served by uvicorn in a thread on 127.0.0.1 (tests, benchmarks)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int | None = None):
        self.host, self.port = host, port or free_port()
        self.app = app
        self.server = _server(app, self.host, self.port, grace=2)
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"uvicorn-{self.port}")

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout: float = 60) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {self.port} did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["BackgroundServer", "create_app", "run", "free_port", "is_login_page"]
