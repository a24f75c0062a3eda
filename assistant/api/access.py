"""Auth and limits for every door of ``serve``, in one place.

``Access`` is the policy (the passcodes and who may log in with them) and ``Limits`` the limits
(questions answered at once, request sizes, history turns); ``Guard`` is the ASGI middleware that
wraps the whole application — the OpenAI-compatible API (/v1), the REST API (/api/v1, /docs,
/openapi.json), MCP (/mcp) and the Gradio web chat with all of Gradio's own routes — and applies
them before any route runs:

- **No passcode** (the default, only allowed on a loopback address): every request passes.
- **With a passcode** every request needs one of
    * ``Authorization: Bearer <passcode>`` (API clients: the openai SDK's ``api_key``, MCP clients,
      curl), or ``Bearer <facilitator passcode>`` (the facilitator);
    * ``Authorization: Basic`` with a user name and the passcode (a workshop participant's name, or
      ``facilitator`` and the facilitator passcode: the same check as the web chat's login form);
    * the web chat's login cookie (set by Gradio's login form, ``POST /login``).
  Anything else gets 401 — except what a browser needs to *show* the login form
  (``LOGIN_PAGE``: the page shell at ``/`` (which, logged out, holds only the login form), its
  static files, and ``POST /login`` itself); the route-walking test checks that list. A request
  authenticated by a header that goes to Gradio's routes is handed to Gradio as that user (the
  Guard mints one Gradio session token per user name), so ``gradio_client`` with a Bearer header
  works like one that logged in.
- **Request bodies** of the API doors are capped (``Limits.max_body_bytes``: 413 beyond it);
  questions are checked by the service (``POLICY_ASSISTANT_MAX_QUESTION_CHARS``, the CLI's messages).
- **CORS** is off unless origins are configured (``cors_origins``; ``ui/server.py`` installs
  Starlette's CORSMiddleware with exactly those, which also turns off Gradio's own CORS headers).

Hardening hooks: ``Access.authenticate`` (one function decides who a request is), ``Guard.refuse``
(one response for refusals) and ``Limits`` are where login throttling, per-route size limits and
session binding extend this.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# paths (prefix match) of the programmatic doors; everything else belongs to the Gradio web chat
API_PREFIXES = ("/v1/", "/api/", "/mcp", "/docs", "/redoc", "/openapi.json")
API_EXACT = ("/v1",)

# What a browser must reach without credentials to show the login form (only with a passcode):
# the page shell (logged out, Gradio serves the login form and no app config), its static files,
# the theme, the icon and the form's POST. Exact paths, or prefixes ending in "/".
LOGIN_PAGE: dict[str, tuple[str, ...]] = {
    "/": ("GET", "HEAD"),
    "/login": ("POST",),
    "/login/": ("POST",),
    "/assets/": ("GET", "HEAD"),
    "/static/": ("GET", "HEAD"),
    "/theme.css": ("GET", "HEAD"),
    "/favicon.ico": ("GET", "HEAD"),
}

REALM = "Integration Policy Assistant"


class BodyTooLarge(Exception):
    pass


@dataclass
class Limits:
    """The limits every API door shares. The web chat's own queue (Gradio) allows the same number
    of answers at once (``web_concurrency``)."""

    max_question_chars: int = 2000
    answer_slots: int = 32  # questions computed at the same time across /v1, /api/v1 and /mcp
    max_body_bytes: int = 1_048_576  # a request body of the API doors
    max_history_turns: int = 20  # earlier user turns of an OpenAI conversation taken as history
    _limiter: Any = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(max_question_chars=settings.max_question_chars, answer_slots=max(1, min(40, settings.web_concurrency)))

    def limiter(self):
        if self._limiter is None:  # created in the serving event loop, on first use
            import anyio

            self._limiter = anyio.CapacityLimiter(self.answer_slots)
        return self._limiter

    async def run(self, fn: Callable, *args, **kwargs):
        """Run blocking service work (an answer, a search) in a worker thread, at most
        ``answer_slots`` at once; further calls wait their turn."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=self.limiter())


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass
class Identity:
    user: str  # the login name: a participant's name, 'facilitator', or 'api' for a Bearer passcode
    how: str  # 'bearer', 'basic', 'cookie' or 'open' (no passcode configured)


class Access:
    """Who may come in. ``passcode`` None: everyone (loopback only; ``serve`` refuses a public
    host without one). ``check(user, password)`` is the web chat's login check (``ui.workshop.make_auth``)."""

    def __init__(self, passcode: str | None = None, facilitator_passcode: str | None = None,
                 check: Callable[[str, str], bool] | None = None):
        self.passcode = passcode or None
        self.facilitator_passcode = facilitator_passcode or None
        if self.passcode and check is None:
            from ui.workshop import make_auth

            check = make_auth(self.passcode, self.facilitator_passcode)
        self.check = check
        self._gradio = None  # the mounted Gradio app: its login tokens
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self.passcode is None

    def attach_gradio(self, gradio_app) -> None:
        self._gradio = gradio_app

    # ------------------------------------------------------------------ who is it
    def authenticate(self, headers: dict[bytes, bytes]) -> Identity | None | bool:
        """The identity a request proves; None when it proves none; False when it presents
        credentials that are wrong (refused even if a cookie would have let it in)."""
        if self.open:
            return Identity("anonymous", "open")
        auth = headers.get(b"authorization", b"").decode("latin-1").strip()
        if auth:
            scheme, _, value = auth.partition(" ")
            value = value.strip()
            if scheme.lower() == "bearer" and value:
                if self.facilitator_passcode and _same(value, self.facilitator_passcode):
                    return Identity("facilitator", "bearer")
                if _same(value, self.passcode):
                    return Identity("api", "bearer")
                return False
            if scheme.lower() == "basic" and value:
                try:
                    user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    return False
                if self.check is not None and self.check(user, password):
                    return Identity(" ".join(user.split()), "basic")
                return False
            return False
        user = self._cookie_user(headers.get(b"cookie", b"").decode("latin-1"))
        return Identity(user, "cookie") if user else None

    def _cookie_user(self, cookie_header: str) -> str | None:
        app = self._gradio
        if app is None or not cookie_header:
            return None
        names = (f"access-token-{app.cookie_id}", f"access-token-unsecure-{app.cookie_id}")
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name in names and value:
                user = app.tokens.get(value)
                if user:
                    return user
        return None

    def gradio_cookie(self, user: str, cookie_header: str) -> str | None:
        """The Cookie header that makes Gradio see ``user`` logged in (one token per user name,
        minted on first use, renewed if Gradio's logout dropped it)."""
        app = self._gradio
        if app is None:
            return None
        with self._lock:
            token = self._tokens.get(user)
            if token is None or app.tokens.get(token) != user:
                token = secrets.token_urlsafe(24)
                self._tokens[user] = token
                app.tokens[token] = user
        names = (f"access-token-{app.cookie_id}", f"access-token-unsecure-{app.cookie_id}")
        kept = [p.strip() for p in cookie_header.split(";") if p.strip() and p.strip().partition("=")[0] not in names]
        return "; ".join(kept + [f"{n}={token}" for n in names])


def is_api_path(path: str) -> bool:
    return path in API_EXACT or any(path == p.rstrip("/") or path.startswith(p) for p in API_PREFIXES)


def is_login_page(method: str, path: str) -> bool:
    for key, methods in LOGIN_PAGE.items():
        if method not in methods:
            continue
        if key.endswith("/") and key != "/" and path.startswith(key):
            return True
        if path == key:
            return True
    return False


_DOCS = re.compile(r"^/(docs|redoc|openapi\.json)")


class Guard:
    """ASGI middleware around the whole application: authentication (``Access``) and the body
    limit of the API doors (``Limits``). Pure ASGI, so streamed responses pass through untouched."""

    def __init__(self, app, access: Access, limits: Limits):
        self.app = app
        self.access = access
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        headers = dict(scope.get("headers") or [])
        who = self.access.authenticate(headers)
        if not who:
            if who is None and is_login_page(method, path):
                await self.app(scope, receive, send)
                return
            await self.refuse(scope, receive, send, path, wrong=who is False)
            return
        scope = dict(scope)
        scope.setdefault("state", {})
        scope["state"] = {**scope["state"], "identity": who}
        api = is_api_path(path)
        if who.how in ("bearer", "basic") and not api:  # Gradio sees the same user as a login would give
            cookie = self.access.gradio_cookie(who.user, headers.get(b"cookie", b"").decode("latin-1"))
            if cookie is not None:
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"cookie"] + [(b"cookie", cookie.encode("latin-1"))]
        if api and scope["type"] == "http":
            await self._limited(scope, receive, send, headers)
            return
        await self.app(scope, receive, send)

    async def _limited(self, scope, receive, send, headers) -> None:
        limit = self.limits.max_body_bytes
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            await self._too_large(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message

        async def watching_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope, receive, send) -> None:
        message = f"the request body is larger than {self.limits.max_body_bytes:,} bytes"
        await _json(send, 413, _error_body(scope.get("path", ""), message, "request_too_large"))

    async def refuse(self, scope, receive, send, path: str, wrong: bool) -> None:
        """401 for a request without (or with wrong) credentials; a websocket is closed."""
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = (
            "wrong credentials: use the passcode as a Bearer token (Authorization: Bearer <passcode>) "
            "or basic auth with a user name and the passcode"
            if wrong
            else "this server needs the passcode: send Authorization: Bearer <passcode> "
            "(or basic auth with a user name and the passcode; the web chat has a login form)"
        )
        challenge = f'Basic realm="{REALM}", charset="UTF-8"' if _DOCS.match(path) else f'Bearer realm="{REALM}"'
        await _json(send, 401, _error_body(path, message, "invalid_api_key"), [(b"www-authenticate", challenge.encode())])


def _error_body(path: str, message: str, code: str) -> dict:
    if path == "/v1" or path.startswith("/v1/"):  # the OpenAI SDK's error shape
        kind = "authentication_error" if code == "invalid_api_key" else "invalid_request_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return {"detail": message}


async def _json(send, status: int, body: dict, extra_headers: list | None = None) -> None:
    data = json.dumps(body).encode("utf-8")
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())] + (extra_headers or []),
    })
    await send({"type": "http.response.body", "body": data})
