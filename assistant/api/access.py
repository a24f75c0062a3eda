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
- **Request bodies** are capped on every route: the API doors at ``Limits.max_body_bytes``, the web
  chat's at ``Limits.max_web_body_bytes`` (413 beyond it, whether the length is declared or not);
  questions are checked by the service (``POLICY_ASSISTANT_MAX_QUESTION_CHARS``, the CLI's messages).
- **Only the routes the web chat uses** (``WEB_ROUTES``: the page, its files, Gradio's queue, the
  login form, /ask for gradio_client, the chat's exports) are served; Gradio's other routes — its
  file route (which would fetch any public URL), uploads, its proxy, monitoring, run history … —
  answer 404 (after the passcode check, so a request without it still gets 401).
- **Login back-off** (``assistant.api.throttle.LoginThrottle``): every failed login — the form, a
  wrong Bearer token, wrong basic auth — counts against the client's address and the user name; past
  the free attempts, the next one must wait, doubling each time: 429 with ``Retry-After``, without
  checking the credentials.
- **A web-chat session belongs to its user** (``SessionOwners``): the first user who uses a Gradio
  session id owns it; another user presenting it (to join the queue, read its results, keep it
  alive or cancel its events) gets 403, so knowing someone's session id does not reach their
  conversation or its export.
- **The logged-out page** is the login form and nothing else: Gradio's description of the API
  (``window.gradio_api_info``) is taken out of it, and its query string is dropped; a small script
  makes the form say how long to wait when the back-off answers 429 (Gradio's form says nothing).
- **The web chat's pages** carry a Content-Security-Policy (``Limits.content_security_policy``:
  images, fonts, media and frames from this server only), ``Referrer-Policy: same-origin`` and
  ``X-Content-Type-Options: nosniff``.
- **CORS** is off unless origins are configured (``cors_origins``; ``ui/server.py`` installs
  Starlette's CORSMiddleware with exactly those, which also turns off Gradio's own CORS headers).

``Access.authenticate`` decides who a request is, ``Guard.refuse`` answers refusals; the limits are
settings (``Settings.web``, ``POLICY_ASSISTANT_WEB__*``).
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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .throttle import LoginThrottle, retry_after

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

# The web chat's routes (method, path): what its page, its script, gradio_client and the chat's
# exports use. Every other path outside the API doors answers 404 — Gradio's file route (which
# fetches any public URL it is given), uploads, its proxy, run history, monitoring, custom
# components, vibe editing ... — including routes a later Gradio adds. tests/test_security.py
# walks the route table against this list.
_GET = frozenset({"GET", "HEAD"})
WEB_ROUTES: tuple[tuple[frozenset[str], re.Pattern], ...] = tuple(
    (methods, re.compile(pattern))
    for methods, pattern in (
        (_GET, r"/"),
        (_GET, r"/assets/[^?#]+"),
        (_GET, r"/static/[^?#]+"),
        (_GET, r"/theme\.css"),
        (_GET, r"/favicon\.ico"),
        (_GET, r"/config/?"),
        (_GET, r"/gradio_api/info/?"),  # gradio_client
        (frozenset({"POST"}), r"/gradio_api/queue/join/?"),
        (_GET, r"/gradio_api/queue/data/?"),
        (_GET, r"/gradio_api/heartbeat/[^/]+"),
        (frozenset({"POST"}), r"/gradio_api/cancel/?"),
        (frozenset({"POST"}), r"/gradio_api/run/predict/?"),  # the chat's events that skip the queue (queue=False)
        (frozenset({"POST"}), r"/gradio_api/call/ask/?"),  # /ask over plain HTTP (Gradio's API page)
        (_GET, r"/gradio_api/call/ask/[^/]+"),
        (frozenset({"POST"}), r"/login/?"),
        (_GET, r"/logout/?"),
        (_GET, r"/export/[^/]+"),  # a conversation exported from the chat (ui/server.py)
    )
)
LOGIN_PATHS = ("/login", "/login/")
LOGIN_BODY_BYTES = 65_536  # the login form: a name and a passcode
# the Gradio routes that name a session: in the path, the query or the JSON body
_SESSION_IN_PATH = re.compile(r"^/gradio_api/heartbeat/([^/]+)$")
_SESSION_IN_QUERY = ("/gradio_api/queue/data", "/gradio_api/queue/data/")
_SESSION_IN_BODY = re.compile(r"^/gradio_api/(?:queue/join|cancel|run/predict|call/ask)/?$")
_API_INFO = re.compile(rb"window\.gradio_api_info = .*?;</script>", re.S)
# Gradio's login form says nothing when the login answers 429: this says how long to wait (the
# logged-out page only; a live region, so a screen reader announces it)
_LOGIN_WAIT_JS = b"""<script>(() => {
  const fetch0 = window.fetch;
  window.fetch = async (...args) => {
    const resp = await fetch0(...args);
    try {
      const target = new URL(String((args[0] && args[0].url) || args[0]), location.href);
      if (resp.status === 429 && /\/login\/?$/.test(target.pathname)) {
        let note = document.getElementById('pa-login-wait');
        if (!note) {
          note = document.createElement('p');
          note.id = 'pa-login-wait';
          note.setAttribute('role', 'alert');
          note.style.cssText = 'color:#b91c1c;font-weight:600;margin:.5em 0;';
          const form = document.querySelector('h2');
          (form && form.parentElement ? form.parentElement : document.body).appendChild(note);
        }
        note.textContent = 'Too many failed logins: try again in ' + (resp.headers.get('Retry-After') || 'a few') + ' s.';
      }
    } catch (e) { /* the form works as before */ }
    return resp;
  };
})();</script>"""

REALM = "Integration Policy Assistant"


class BodyTooLarge(Exception):
    pass


@dataclass
class Limits:
    """The limits every API door shares. The web chat's own queue (Gradio) allows the same number
    of answers at once (``web_concurrency``)."""

    max_question_chars: int = 2000
    answer_slots: int = 32  # questions computed at the same time across /v1, /api/v1 and /mcp
    max_body_bytes: int = 1_048_576  # a request body of the API doors (settings.web.max_api_body_bytes)
    max_web_body_bytes: int = 2_097_152  # a request body of the web chat's routes (settings.web.max_web_body_bytes)
    max_history_turns: int = 20  # earlier user turns of an OpenAI conversation taken as history
    content_security_policy: str = ""  # the CSP header of the web chat's pages (settings.web.content_security_policy)
    _limiter: Any = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings) -> Limits:
        web = settings.web
        return cls(max_question_chars=settings.max_question_chars, answer_slots=max(1, min(40, settings.web_concurrency)),
                   max_body_bytes=web.max_api_body_bytes, max_web_body_bytes=web.max_web_body_bytes,
                   content_security_policy=web.content_security_policy)

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


class SessionOwners:
    """Which user each web-chat session id belongs to: the first user who uses it. At most
    ``capacity`` sessions are remembered (the least recently used are forgotten first)."""

    def __init__(self, capacity: int = 20_000):
        self.capacity = max(1, int(capacity))
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, session: str, user: str) -> bool:
        """True when ``session`` is ``user``'s (now or from before); False when it is someone else's."""
        with self._lock:
            owner = self._owners.get(session)
            if owner is None:
                self._owners[session] = user
                while len(self._owners) > self.capacity:
                    self._owners.popitem(last=False)
                return True
            self._owners.move_to_end(session)
            return owner == user

    def owner(self, session: str) -> str | None:
        with self._lock:
            return self._owners.get(session)

    def __len__(self) -> int:
        return len(self._owners)


class Access:
    """Who may come in. ``passcode`` None: everyone (loopback only; ``serve`` refuses a public
    host without one). ``check(user, password)`` is the web chat's login check (``ui.workshop.make_auth``);
    ``throttle`` the login back-off, ``sessions`` the owners of web-chat sessions."""

    def __init__(self, passcode: str | None = None, facilitator_passcode: str | None = None,
                 check: Callable[[str, str], bool] | None = None, throttle: LoginThrottle | None = None,
                 sessions: SessionOwners | None = None):
        self.passcode = passcode or None
        self.facilitator_passcode = facilitator_passcode or None
        if self.passcode and check is None:
            from ui.workshop import make_auth

            check = make_auth(self.passcode, self.facilitator_passcode)
        self.check = check
        self.throttle = throttle or LoginThrottle()
        self.sessions = sessions or SessionOwners()
        self._gradio = None  # the mounted Gradio app: its login tokens
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, passcode: str | None = None, facilitator_passcode: str | None = None) -> Access:
        web = settings.web
        return cls(passcode, facilitator_passcode, throttle=LoginThrottle.from_settings(web),
                   sessions=SessionOwners(web.max_sessions))

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

    @staticmethod
    def claimed_user(headers: dict[bytes, bytes]) -> str | None:
        """The user name a basic-auth header claims (for the login back-off), checked or not."""
        auth = headers.get(b"authorization", b"").decode("latin-1").strip()
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0] or None
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None

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


def is_web_route(method: str, path: str) -> bool:
    """A route of the web chat that the app uses (``WEB_ROUTES``)."""
    return any(method in methods and pattern.fullmatch(path) for methods, pattern in WEB_ROUTES)


_DOCS = re.compile(r"^/(docs|redoc|openapi\.json)")


class Guard:
    """ASGI middleware around the whole application: authentication (``Access``), the login back-off,
    the web chat's routes and session owners, and the body limits (``Limits``). Pure ASGI, so
    streamed responses pass through untouched."""

    def __init__(self, app, access: Access, limits: Limits):
        self.app = app
        self.access = access
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        api = is_api_path(path)
        headers = dict(scope.get("headers") or [])
        if scope["type"] == "websocket":  # no door uses one: refused unless authenticated for an API path
            who = self.access.authenticate(headers)
            if not who or not api:
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        if not api:
            send = self._page_headers(send)
        ip = (scope.get("client") or ("?", 0))[0]
        throttle = self.access.throttle
        claimed = Access.claimed_user(headers)
        if headers.get(b"authorization") and not self.access.open:
            wait = throttle.wait(ip, claimed)
            if wait > 0:  # credentials are not even checked while the address or the name waits
                await self.too_many(send, path, wait)
                return
        who = self.access.authenticate(headers)
        if who is False:
            throttle.failed(ip, claimed)
            await self.refuse(scope, receive, send, path, wrong=True)
            return
        if who is None:
            if not is_login_page(method, path):
                await self.refuse(scope, receive, send, path, wrong=False)
                return
            if path in LOGIN_PATHS:
                await self._login(scope, receive, send, ip)
            elif path == "/":
                await self._login_shell(scope, receive, send)
            else:
                await self._limited(scope, receive, send, headers, self.limits.max_web_body_bytes)
            return
        if who.how == "basic":
            throttle.succeeded(who.user)
        scope = dict(scope)
        scope.setdefault("state", {})
        scope["state"] = {**scope["state"], "identity": who}
        if api:
            await self._limited(scope, receive, send, headers, self.limits.max_body_bytes)
            return
        if not is_web_route(method, path):
            await _json(send, 404, {"detail": "Not Found"})
            return
        if who.how in ("bearer", "basic"):  # Gradio sees the same user as a login would give
            cookie = self.access.gradio_cookie(who.user, headers.get(b"cookie", b"").decode("latin-1"))
            if cookie is not None:
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"cookie"] + [(b"cookie", cookie.encode("latin-1"))]
        if path in LOGIN_PATHS and method == "POST":  # logging in again (as someone else): the same back-off
            await self._login(scope, receive, send, ip)
            return
        sessions = _sessions_in_path_or_query(scope)
        if not all(self.access.sessions.claim(s, who.user) for s in sessions):
            await self.forbidden(send)
            return
        if _SESSION_IN_BODY.match(path):
            await self._session_body(scope, receive, send, headers, who.user)
            return
        await self._limited(scope, receive, send, headers, self.limits.max_web_body_bytes)

    def _page_headers(self, send):
        """A web chat's HTML page goes out with the Content-Security-Policy (images, fonts, media,
        frames from this server only), no Referer to other sites, and no type sniffing."""
        extra = [(b"referrer-policy", b"same-origin"), (b"x-content-type-options", b"nosniff")]
        if self.limits.content_security_policy:
            extra.append((b"content-security-policy", self.limits.content_security_policy.encode("latin-1")))

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if kind.startswith(b"text/html"):
                    names = {k for k, _ in extra}
                    message = {**message, "headers": [(k, v) for k, v in headers if k.lower() not in names] + extra}
            await send(message)

        return with_headers

    # ------------------------------------------------------------------ bodies
    async def _limited(self, scope, receive, send, headers, limit: int) -> None:
        """The request with its body counted as it arrives: 413 beyond ``limit``."""
        if _declared_length(headers) > limit:
            await self._too_large(scope, send, limit)
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
                await self._too_large(scope, send, limit)

    async def _body(self, receive, headers, limit: int) -> bytes:
        """The whole request body (at most ``limit`` bytes, else BodyTooLarge)."""
        if _declared_length(headers) > limit:
            raise BodyTooLarge()
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _session_body(self, scope, receive, send, headers, user: str) -> None:
        """A Gradio request whose JSON body names a session: only that session's owner gets through."""
        limit = self.limits.max_web_body_bytes
        try:
            body = await self._body(receive, headers, limit)
        except BodyTooLarge:
            await self._too_large(scope, send, limit)
            return
        objects: list[list] = []  # every object's key-value pairs, the outermost last

        def pairs(items):
            objects.append(items)
            return dict(items)

        try:
            json.loads(body or b"{}", object_pairs_hook=pairs)
        except ValueError:
            objects = []
        # every "session_hash" of the outer object: a second one (whichever the parser keeps) is checked too
        named = [v for k, v in (objects[-1] if objects else []) if k == "session_hash"]
        if not all(self.access.sessions.claim(v, user) for v in named if isinstance(v, str) and v):
            await self.forbidden(send)
            return
        await self.app(scope, _replay(body, receive), send)

    # ------------------------------------------------------------------ the login form and page
    async def _login(self, scope, receive, send, ip: str) -> None:
        """Gradio's login form (POST /login) behind the back-off: refused while the address or the
        name waits; its answer (200 logged in, 400 wrong) counts as a success or a failure."""
        if self.access.open:
            await self._limited(scope, receive, send, dict(scope.get("headers") or []), LOGIN_BODY_BYTES)
            return
        headers = dict(scope.get("headers") or [])
        try:
            body = await self._body(receive, headers, LOGIN_BODY_BYTES)
        except BodyTooLarge:
            await self._too_large(scope, send, LOGIN_BODY_BYTES)
            return
        user = await _form_user(scope, body)
        throttle = self.access.throttle
        wait = throttle.attempt(ip, user)  # counted as failed until Gradio says otherwise
        if wait > 0:
            await self.too_many(send, scope.get("path", ""), wait)
            return

        async def watching_send(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 200:
                    throttle.succeeded(user, ip)
                elif status not in (400, 401):  # not a check of the credentials (a malformed form)
                    throttle.release(ip, user)
            await send(message)

        await self.app(scope, _replay(body, receive), watching_send)

    async def _login_shell(self, scope, receive, send) -> None:
        """The page a logged-out browser gets (the login form): without its query string, and without
        Gradio's description of the API (``window.gradio_api_info``)."""
        # uncompressed (Gradio compresses for browsers that accept brotli), so that the page can be edited
        scope = {**scope, "query_string": b"", "headers": [(k, v) for k, v in scope.get("headers", []) if k != b"accept-encoding"]}
        limit = self.limits.max_web_body_bytes
        if scope.get("method") != "GET":  # HEAD: no body to change
            await self._limited(scope, receive, send, dict(scope.get("headers") or []), limit)
            return
        start: dict | None = None
        parts: list[bytes] = []

        async def holding_send(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(parts)
            hdrs = list(start.get("headers", []))
            if not any(k.lower() == b"content-encoding" for k, _ in hdrs):
                body = _API_INFO.sub(b'window.gradio_api_info = {"named_endpoints": {}, "unnamed_endpoints": {}};</script>', body)
                body = body.replace(b"</head>", _LOGIN_WAIT_JS + b"</head>", 1)
                hdrs = [(k, v) for k, v in hdrs if k.lower() != b"content-length"] + [(b"content-length", str(len(body)).encode())]
            await send({**start, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})

        await self._limited(scope, receive, holding_send, dict(scope.get("headers") or []), limit)

    # ------------------------------------------------------------------ refusals
    async def _too_large(self, scope, send, limit: int) -> None:
        message = f"the request body is larger than {limit:,} bytes"
        await _json(send, 413, _error_body(scope.get("path", ""), message, "request_too_large"))

    async def too_many(self, send, path: str, wait: float) -> None:
        """429 while the login back-off makes the client (or the user name) wait."""
        after = retry_after(wait)
        message = f"too many failed logins: try again in {after} s"
        await _json(send, 429, _error_body(path, message, "rate_limit_exceeded"), [(b"retry-after", after.encode())])

    async def forbidden(self, send) -> None:
        await _json(send, 403, {"detail": "this session belongs to another user"})

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


def _declared_length(headers: dict[bytes, bytes]) -> int:
    try:
        return int(headers.get(b"content-length", b"0") or 0)
    except ValueError:
        return 0


def _replay(body: bytes, receive):
    """A receive callable that hands the app ``body`` (already read), then whatever comes next."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _sessions_in_path_or_query(scope) -> list[str]:
    """The session ids a Gradio request names in its path or query (every value of a repeated one)."""
    path = scope.get("path", "")
    m = _SESSION_IN_PATH.match(path)
    if m:
        return [m.group(1)]
    if path in _SESSION_IN_QUERY:
        return [v for v in parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", []) if v]
    return []


async def _form_user(scope, body: bytes) -> str | None:
    """The user name in a login form's body (urlencoded or multipart), or None."""
    from starlette.requests import Request

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request({**scope, "type": "http"}, receive).form()
        user = form.get("username")
        await form.close()
    except Exception:  # noqa: BLE001 - a malformed form is Gradio's to refuse
        return None
    return user if isinstance(user, str) else None


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
