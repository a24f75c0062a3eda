"""Hardening (issue 12): no report can attack a reader, no door is left ajar.

Every attack found when the served application was probed (on loopback) is replayed here against a
running server (``ui.server.BackgroundServer``, as `serve` runs it) and, where a reader is attacked,
in a real browser (Debian's Chromium through Playwright):

- a report planted with tracking pixels, entity-encoded and bare URLs, Markdown images, links and
  autolinks, iframes, SVG, video and style sheets is ingested into a copy of the data folder; its
  passages are asked about, cited, opened, exported and read by the facilitator, and the browser
  makes no request to any host but the server (every request is intercepted), hits no
  Content-Security-Policy violation and shows the markup as text;
- Gradio's routes the app does not use (its file route, which fetches URLs; uploads; its proxy …)
  answer 404; request bodies are capped on every route (413); failed logins back off (429 with
  Retry-After); a web-chat session belongs to its user (403), so its conversation cannot be read
  or exported with its session id; exports never touch the disk; the logged-out page holds
  nothing but the login form.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import socketserver
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from conftest import REPO, run_cli

TRACKER = "tracker.invalid"
PASSCODE, FACILITATOR = "join-the-room", "run-the-room"
REPORT = f"""# Zephyrville welcome desks <img src="//{TRACKER}/title.png">

## How the Zephyrville desks work <img src="https://{TRACKER}/section.png">

The municipality of Zephyrville opened three welcome desks for newcomers in 2019, staffed by trained volunteers. The Zephyrville desks answered questions on housing, language courses and jobs for about 4,000 newcomers a year. Each Zephyrville desk keeps a register of local employers who offer internships to newcomers.

## Tracking pixels in the Zephyrville report

The Zephyrville desk coordinators published their monthly statistics <img src="//{TRACKER}/pixel.png" width="1" height="1"> on the council website. The Zephyrville council also described its outreach in an entity-encoded link &#104;ttp://{TRACKER}/entity and &#x68;ttps://{TRACKER}/hex for the volunteers. Zephyrville volunteers were trained with material at http://{TRACKER}/plain and www.{TRACKER}/www for every desk.

## Markdown tricks in the Zephyrville report

The Zephyrville volunteers received a badge ![badge](//{TRACKER}/badge.png) after their first month of service at the desks. Zephyrville newcomers could [register online](javascript:alert(document.cookie)) for a first appointment at a welcome desk. The Zephyrville desks sent reminders through <http://{TRACKER}/autolink> and <mailto:desk@{TRACKER}> to every newcomer. Zephyrville staff listed further desk resources as [the guide][zg] and ![the map][zm] for newcomers.

[zg]: //{TRACKER}/guide
[zm]: //{TRACKER}/map.png

## Embedded content in the Zephyrville report

Zephyrville desk leaflets <iframe src="//{TRACKER}/frame"></iframe> were printed in twelve languages for the newcomers. The Zephyrville desk posters <svg><image href="//{TRACKER}/svg.png"/></svg> hung in every council building. A Zephyrville desk video <video src="//{TRACKER}/v.mp4" poster="//{TRACKER}/poster.png"></video> explained the registration of newcomers. The Zephyrville desk style sheet <link rel="stylesheet" href="//{TRACKER}/x.css"> and <style>@import url(//{TRACKER}/i.css);</style> and <object data="//{TRACKER}/o"></object> were never used for newcomers.
"""
QUESTIONS = [
    "What did the Zephyrville welcome desks do for newcomers?",
    "How did the Zephyrville volunteers get a badge and how could newcomers register?",
]
# every trick, as an answer could carry it (an LLM backend quoting the report, an older version of the answer
# stage): the web chat, the exports and the API's content must show all of it as text
TRICKS = [
    f'<img src="//{TRACKER}/a.png">', f"&#104;ttp://{TRACKER}/b", f"&#x68;ttps://{TRACKER}/c", f"![x](//{TRACKER}/d.png)",
    "[click](javascript:alert(1))", f"<http://{TRACKER}/e>", f"https://{TRACKER}/f", f"www.{TRACKER}/g",
    f"mail desk@{TRACKER}", f"[r][zz]\n\n[zz]: //{TRACKER}/h", f"![m][zy]\n\n[zy]: //{TRACKER}/i.png", f"<iframe src=//{TRACKER}/j></iframe>",
    f'<svg><image href="//{TRACKER}/k.png"/></svg>', f"<video src=//{TRACKER}/l.mp4 poster=//{TRACKER}/m.png></video>",
    f"<link rel=stylesheet href=//{TRACKER}/n.css>", f"<style>@import url(//{TRACKER}/o.css);</style>",
    f"<script>fetch('//{TRACKER}/p')</script>", f'<a href="//{TRACKER}/q">q</a>', f"\\![y](//{TRACKER}/r.png)",
    f"[a [b](//{TRACKER}/s)](//{TRACKER}/t)", f"`<img src=//{TRACKER}/u.png>`", f"$$\\href{{//{TRACKER}/v}}{{x}}$$",
]
TRICK_ANSWER = "Zephyrville quotes: " + " ".join(t.replace("\n\n", " ") for t in TRICKS[:9]) + " [1]\n\n" + "\n\n".join(
    f"- {t} [1]" for t in TRICKS[9:])
ACTIVE = re.compile(r"<(?:a|img|iframe|svg|image|video|audio|source|link|style|script|object|embed)\b", re.I)

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- the planted report and servers


@pytest.fixture(scope="module")
def planted(assistant, tmp_path_factory):
    """The Assistant over a copy of the data folder with the planted report ingested."""
    from assistant.service import Assistant

    root = tmp_path_factory.mktemp("planted")
    data = root / "data"
    shutil.copytree(assistant.settings.data_dir, data, ignore=shutil.ignore_patterns("baseline_chroma"))
    report = root / "zephyrville-welcome-desks.md"
    report.write_text(REPORT, encoding="utf-8")
    r = run_cli("ingest", str(report), data_dir=data)
    assert r.returncode == 0, r.stderr
    return Assistant(assistant.settings.model_copy(update={"data_dir": data, "feedback_db": None}), progress=False)


def _serve(assistant, tmp_path_factory, **kw):
    from ui.app import build_app
    from ui.feedback import FeedbackStore
    from ui.server import BackgroundServer, create_app
    from ui.workshop import load_workshop

    workshop = load_workshop("funding-across-levels", REPO / "knowledge_base" / "workshops") if kw.get("passcode") else None
    store = FeedbackStore(tmp_path_factory.mktemp("security") / "feedback.sqlite3")
    web = build_app(assistant, workshop=workshop, store=store)
    app = create_app(assistant, web=web, concurrency=8, **kw)
    return BackgroundServer(app).start(), app, store


@pytest.fixture(scope="module")
def open_server(planted, tmp_path_factory):
    """`serve` on loopback without a passcode."""
    server, app, store = _serve(planted, tmp_path_factory)
    yield server.url, app, store
    server.stop()


@pytest.fixture(scope="module")
def locked_server(planted, tmp_path_factory):
    """`serve --workshop funding-across-levels --passcode ... --facilitator-passcode ...`."""
    server, app, store = _serve(planted, tmp_path_factory, passcode=PASSCODE, facilitator_passcode=FACILITATOR)
    yield server.url, app, store
    server.stop()


@pytest.fixture()
def fresh_backoff(locked_server):
    """The login back-off starts empty (all tests come from 127.0.0.1) and is left empty."""
    throttle = locked_server[1].state.pa_access.throttle
    throttle.clear()
    yield throttle
    throttle.clear()


def logged_in(url: str, name: str, passcode: str = PASSCODE) -> httpx.Client:
    """An httpx client logged in through the web chat's login form (its cookie)."""
    client = httpx.Client(base_url=url, timeout=60)
    assert client.post("/login", data={"username": name, "password": passcode}).status_code == 200
    return client


def inactive(markdown: str) -> list[str]:
    """The active elements a CommonMark renderer makes of ``markdown`` (none is the goal)."""
    from markdown_it import MarkdownIt

    return ACTIVE.findall(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown))


def fn_index(app, name: str) -> int:
    web = app.state.pa_web
    return next(fn._id for fn in web.fns.values() if getattr(fn, "name", "") == name)


# --------------------------------------------------------------------------- report text stays text


def test_inert_markdown_shows_every_trick_as_text_and_leaves_answers_alone(planted):
    from assistant.inert import inert_markdown

    for trick in TRICKS:
        assert inactive(inert_markdown(trick)) == [], trick
        shown = re.sub(r"\\(.)", r"\1", inert_markdown(trick), flags=re.S).replace("&lt;", "<").replace("&amp;", "&")
        assert shown == trick, "shown as typed, nothing dropped"
    assert inactive(inert_markdown(TRICK_ANSWER)) == []
    for question in ("What is town twinning?", "How can origin-country municipalities support emigrants?",
                     "What should national governments do about funding?"):
        answer = planted.ask(question).answer
        assert inert_markdown(answer) == answer, "a normal answer is unchanged"
    quoted = planted.ask(QUESTIONS[0]).answer
    assert "Zephyrville" in quoted and not re.search(r"!?\[[^\]]*\]\s*[\[(]|//" + re.escape(TRACKER), quoted), (
        "the answer stage quotes no sentence carrying a link or an image (scoring's 'markup' kind)")
    streamed = "".join(inert_markdown(line) for line in TRICK_ANSWER.splitlines(keepends=True))
    assert streamed == inert_markdown(TRICK_ANSWER), "line by line (streamed) as whole"


def test_chat_message_export_and_api_content_carry_no_active_markup(planted):
    from assistant.api.operations import chat_content
    from assistant.models import Answer
    from ui.render import answer_message, export_markdown

    from markdown_it import MarkdownIt

    data = planted.ask(QUESTIONS[0]).model_dump()
    cited = next(c for c in data["citations"] if TRACKER in c["title"])
    data["answer"] = TRICK_ANSWER.replace("[1]", f"[{cited['n']}]")
    html = MarkdownIt("commonmark").render(answer_message(data, 0, {cited["n"]: "Source"}))
    hrefs = re.findall(r"<a href=\"([^\"]*)\"", html)
    assert hrefs and all(h.startswith("#pa-c-0-") for h in hrefs), f"only chips link: {hrefs}"
    assert not re.search(r"<(?!/?(?:p|ul|li|a|em|strong)\b)[a-z]", html), "no other element: " + html[:400]
    md = export_markdown([{"question": f"<img src=//{TRACKER}/q.png> {QUESTIONS[0]}", "answer": data}], planted,
                         meta={"Participant": f"![me](//{TRACKER}/me.png)"})
    assert inactive(md) == [], "the exported file is safe in any Markdown viewer"
    content = chat_content(Answer(**data))
    assert inactive(content) == [] and "&lt;img src=" in content.split("**Sources**", 1)[1], "the Sources list shows the title's markup as text"


def _no_remote(page, server_url: str, outside: list[str]) -> None:
    """Route every request of the page's context: anything not for the server is recorded in
    ``outside`` and aborted. Content-Security-Policy violations are recorded in the page."""
    server = urlparse(server_url).netloc

    def route(r):
        if urlparse(r.request.url).netloc != server:
            outside.append(r.request.url)
            r.abort()
        else:
            r.continue_()

    page.context.route("**/*", route)
    page.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.blockedURI + ' ' + e.violatedDirective));")


def _inert_dom(page) -> list[str]:
    """Elements that would fetch or link outside, anywhere in the page (none is the goal)."""
    return page.evaluate(
        """(tracker) => {
            const bad = [];
            for (const e of document.querySelectorAll('img, iframe, video, audio, source, object, embed, image, link, style, script')) {
                const src = e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('data') || e.getAttribute('poster') || '';
                if (src.includes(tracker) || (e.textContent || '').includes(tracker) && e.tagName !== 'SCRIPT') bad.push(e.outerHTML.slice(0, 120));
            }
            for (const a of document.querySelectorAll('a[href]')) {
                const h = a.getAttribute('href');
                if (h.includes(tracker) || /^\\s*javascript:/i.test(h) || /^(https?:)?\\/\\//.test(h)) bad.push(a.outerHTML.slice(0, 120));
            }
            return bad;
        }""",
        TRACKER,
    )


def test_a_planted_report_makes_no_browser_fetch_anything_outside_the_server(browser, locked_server, planted):
    from test_browser import CHIP, ask, download, login, new_page

    url, app, store = locked_server
    app.state.pa_access.throttle.clear()
    # a stored answer holding every trick (as an LLM backend quoting the report could have written it)
    data = planted.ask(QUESTIONS[0]).model_dump(exclude={"retrieved"})
    data["answer"] = TRICK_ANSWER.replace("[1]", f"[{data['citations'][0]['n']}]")
    data["question"] = f"<img src=//{TRACKER}/question.png> What did the Zephyrville desks do?"
    store.record_turn("mallory-1", data["question"], data, "funding-across-levels", "Mallory", "m" * 32)

    outside: list[str] = []
    amina = new_page(browser)
    _no_remote(amina, url, outside)
    login(amina, url, "Amina", PASSCODE)
    amina.wait_for_selector("#pa-question textarea")
    for q in QUESTIONS:
        ask(amina, q)
    assert amina.locator(CHIP).count() >= 2
    chat_text = amina.locator("#pa-chat").inner_text()
    assert "Zephyrville" in chat_text, "the planted report is quoted"
    assert "[the guide][zg]" not in chat_text, "a sentence with a link is not quoted (scoring's 'markup' kind)"
    # every chip of the last answer opens its passage; the surrounding text holds every trick of the report, as text
    chips = amina.locator(CHIP)
    order = sorted(range(chips.count()), key=lambda k: "Zephyrville" in (chips.nth(k).get_attribute("title") or ""))
    assert "Zephyrville" in (chips.nth(order[-1]).get_attribute("title") or ""), "a chip cites the planted report"
    for k in order:  # the planted report's last
        turn, n = chips.nth(k).get_attribute("href").split("-")[-2:]
        chips.nth(k).click()
        amina.wait_for_selector(f"#pa-sources >> text=Answer {int(turn) + 1}, citation [{n}]")
    amina.click("#pa-context-btn")
    amina.wait_for_selector("#pa-context .pa-context")
    context = amina.locator("#pa-context").inner_text()
    for shown in (f'<img src="//{TRACKER}/pixel.png"', f"&#104;ttp://{TRACKER}/entity", f"<iframe src=\"//{TRACKER}/frame\">",
                  f"[zm]: //{TRACKER}/map.png", f'<svg><image href="//{TRACKER}/svg.png"/></svg>'):
        assert shown in context, shown
    assert f'<img src="//{TRACKER}/title.png">' in amina.locator("#pa-sources").inner_text(), "the title, as text"
    # the practice library and the list of reports
    amina.get_by_role("tab", name="Practice library").click()
    amina.wait_for_selector('#pa-library-list a[href^="#pa-r-"]')
    amina.get_by_label("Words").fill("Zephyrville")
    amina.get_by_label("Words").press("Enter")
    amina.wait_for_function("() => document.querySelector('#pa-library-list').innerText.includes('Zephyrville')")
    amina.locator('#pa-library-list a[href^="#pa-r-"]').first.click()
    amina.wait_for_selector("#pa-library-panel .pa-card")
    amina.get_by_role("tab", name="About the sources").click()
    amina.wait_for_selector("#pa-about >> text=Zephyrville welcome desks <img")
    # the export: a Markdown file in which nothing is active
    amina.get_by_role("tab", name="Chat").click()
    md = download(amina, "#pa-export", "#pa-export-file").read_text(encoding="utf-8")
    assert "Zephyrville" in md and TRACKER in md and inactive(md) == []

    # the facilitator reads the conversations, the one with every trick too, and exports them all
    fac = new_page(browser)
    _no_remote(fac, url, outside)
    login(fac, url, "facilitator", FACILITATOR)
    fac.wait_for_selector("#pa-fac-q table")
    fac.get_by_label("Open a participant's conversation").click()
    fac.get_by_role("option", name=re.compile(r"^Mallory — ")).click()
    fac.wait_for_selector("#pa-fac-chat >> text=Zephyrville quotes")
    fac_chat = fac.locator("#pa-fac-chat").inner_text()
    for shown in (f'<img src="//{TRACKER}/a.png">', f"&#104;ttp://{TRACKER}/b", f"![x](//{TRACKER}/d.png)", "[click](javascript:alert(1))",
                  f"<http://{TRACKER}/e>", f"<iframe src=//{TRACKER}/j></iframe>", f"<img src=//{TRACKER}/question.png>"):
        assert shown in fac_chat, shown
    hrefs = fac.eval_on_selector_all("#pa-fac-chat a[href]", "as => as.map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith("#pa-f-") for h in hrefs), hrefs
    assert inactive(download(fac, "#pa-fac-export", "#pa-fac-file").read_text(encoding="utf-8")) == []
    fac.wait_for_timeout(500)  # anything the last render would fetch has been asked for

    for page in (amina, fac):
        assert _inert_dom(page) == []
        assert page.evaluate("window.__csp") == [], "nothing even tried to load from elsewhere"
    assert outside == [], f"the browser fetched outside the server: {outside}"
    for page in (amina, fac):
        page.context.close()


def test_the_api_content_shows_the_report_markup_as_text(open_server, planted):
    url, _, _ = open_server
    http = httpx.Client(base_url=url, timeout=60)
    resp = http.post("/v1/chat/completions", json={"model": "policy-assistant", "messages": [{"role": "user", "content": QUESTIONS[0]}]})
    content = resp.json()["choices"][0]["message"]["content"]
    assert "Zephyrville" in content and inactive(content) == [] and "&lt;img src=" in content
    ref = planted.ask(QUESTIONS[0]).model_dump()
    rest = http.post("/api/v1/ask", json={"question": QUESTIONS[0]}).json()
    assert rest["answer"] == ref["answer"] and rest["citations"] == ref["citations"], "the Answer JSON is the CLI's"
    streamed = ""
    with http.stream("POST", "/v1/chat/completions", json={"model": "policy-assistant", "stream": True,
                                                             "messages": [{"role": "user", "content": QUESTIONS[0]}]}) as events:
        for line in events.iter_lines():
            if line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"]
                streamed += delta.get("content") or ""
    assert streamed == content, "streamed as whole"


# --------------------------------------------------------------------------- the server's surface


class _Listener(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Listener.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"fetched")

    def log_message(self, *args):
        pass


def test_only_the_routes_the_web_chat_uses_are_served(open_server, locked_server):
    from test_api import _concrete, _routes

    from assistant.api.access import is_api_path, is_web_route

    # a "remote" host the server would fetch through Gradio's file route
    with socketserver.TCPServer(("127.0.0.1", 0), _Listener) as remote:
        threading.Thread(target=remote.serve_forever, daemon=True).start()
        there = f"http://127.0.0.1:{remote.server_address[1]}/pixel.png"
        url, app, _ = open_server
        http = httpx.Client(base_url=url, timeout=30)
        for path in (f"/gradio_api/file={there}", "/gradio_api/file=https://example.com/x.png", "/gradio_api/file=/etc/passwd",
                     f"/gradio_api/file={tempfile.gettempdir()}/gradio/x.md", f"/gradio_api/proxy={there}", "/gradio_api/upload_progress",
                     "/gradio_api/run-history/buckets", "/monitoring", "/robots.txt", "/gradio_api/startup-events"):
            assert http.get(path).status_code == 404, path
        up = http.post("/gradio_api/upload", files={"files": ("x.html", b"<script>1</script>" * 1000, "text/html")})
        assert up.status_code == 404, "no upload route"
        remote.shutdown()
    assert _Listener.hits == [], "the server fetched nothing"
    assert http.get("/config").status_code == 200 and http.get("/gradio_api/info").status_code == 200

    # with a passcode: no credentials 401 (tests/test_api.py walks every route), with them every route outside
    # the web chat's list is 404, and the list is what the page and gradio_client need
    url, app, _ = locked_server
    app.state.pa_access.throttle.clear()
    http = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {PASSCODE}"})
    assert http.post("/gradio_api/upload", files={"files": ("x.txt", b"x")}).status_code == 404
    assert httpx.post(url + "gradio_api/upload", files={"files": ("x.txt", b"x")}).status_code == 401
    blocked = 0
    for path, methods in _routes(app):
        for method in sorted(methods - {"OPTIONS", "WEBSOCKET"}):
            concrete = _concrete(path)
            if is_api_path(concrete) or is_web_route(method, concrete):
                continue
            resp = http.request(method, concrete, json={} if method == "POST" else None)
            assert resp.status_code == 404, f"{method} {concrete}: {resp.status_code}"
            blocked += 1
    assert blocked > 40


def test_request_bodies_are_limited_on_every_route(open_server):
    url, app, _ = open_server
    limits = app.state.pa_limits
    http = httpx.Client(base_url=url, timeout=60)
    big = b"x" * (38 * 1024 * 1024)
    for path in ("/gradio_api/queue/join", "/gradio_api/run/predict", "/login", "/config"):
        method = "GET" if path == "/config" else "POST"
        resp = http.request(method, path, content=big, headers={"content-type": "application/json"})
        assert resp.status_code == 413, (path, resp.status_code)
    # undeclared length (chunked): counted as it arrives
    def chunks():
        for _ in range(40):
            yield b"y" * 65536

    resp = http.post("/gradio_api/queue/join", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 413 and f"{limits.max_web_body_bytes:,}" in resp.json()["detail"]
    resp = http.post("/login", content=b"username=a&password=" + b"p" * 100_000, headers={"content-type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 413
    assert http.post("/api/v1/ask", content=b"z" * (limits.max_body_bytes + 1)).status_code == 413


def test_failed_logins_back_off(locked_server, fresh_backoff):
    url, _, _ = locked_server
    http = httpx.Client(base_url=url, timeout=30)
    t0 = time.monotonic()
    codes = [http.post("/login", data={"username": "facilitator", "password": f"guess-{i}"}) for i in range(50)]
    elapsed = time.monotonic() - t0
    assert [r.status_code for r in codes[:5]] == [400] * 5 and {r.status_code for r in codes[5:]} == {429}, "5 free guesses per name"
    assert codes[5].headers["retry-after"] == "1" and "try again in" in codes[5].json()["detail"]
    # while it waits, even the right passcode is not checked
    assert http.post("/login", data={"username": "facilitator", "password": FACILITATOR}).status_code == 429
    time.sleep(1.1)
    assert http.post("/login", data={"username": "facilitator", "password": "guess-again"}).status_code == 400
    again = http.post("/login", data={"username": "facilitator", "password": "and-again"})
    assert again.status_code == 429 and again.headers["retry-after"] == "2", "the wait doubles"
    print(f"\n50 guesses in {elapsed:.2f} s: 5 checked, 45 refused with 429")

    # guesses sent all at once: no more are checked than one by one
    fresh_backoff.clear()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        burst = list(pool.map(lambda i: httpx.post(url + "login", data={"username": "facilitator", "password": f"p{i}"}).status_code,
                              range(40)))
    assert burst.count(400) == 5 and burst.count(429) == 35, burst

    # another name from the same address: per address, 20 free failures across names
    fresh_backoff.clear()
    names = [http.post("/login", data={"username": f"guest{i}", "password": "wrong"}).status_code for i in range(25)]
    assert names[:20] == [400] * 20 and set(names[20:]) == {429}
    # wrong Bearer tokens and basic auth count too (the API doors' error shape)
    fresh_backoff.clear()
    bearer = [http.get("/v1/models", headers={"Authorization": f"Bearer guess-{i}"}) for i in range(22)]
    assert [r.status_code for r in bearer[:20]] == [401] * 20 and bearer[20].status_code == 429
    assert bearer[20].json()["error"]["code"] == "rate_limit_exceeded" and int(bearer[20].headers["retry-after"]) >= 1
    assert http.get("/api/v1/reports", auth=("Amina", PASSCODE)).status_code == 429, "the address waits: nothing is checked"
    assert http.get("/api/v1/reports").status_code == 401, "without credentials: the usual 401"
    fresh_backoff.clear()
    assert http.post("/login", data={"username": "facilitator", "password": FACILITATOR}).status_code == 200


def test_login_throttle_counts_per_address_and_per_name():
    from assistant.api.throttle import LoginThrottle

    now = [0.0]
    t = LoginThrottle(free=3, ip_free=5, base=2.0, cap=10.0, forget=60.0, clock=lambda: now[0])
    for i in range(3):
        assert t.wait(f"10.0.0.{i}", "Facilitator") == 0
        t.failed(f"10.0.0.{i}", "facilitator")
    assert t.wait("10.0.0.9", "FACILITATOR ") == 2.0, "per name, whatever the address"
    assert t.wait("10.0.0.9", "Amina") == 0
    for name in ("a", "b"):
        t.failed("10.0.0.9", name)
    assert t.wait("10.0.0.9", "c") == 0
    for name in ("c", "d", "e"):
        t.failed("10.0.0.9", name)
    assert t.wait("10.0.0.9", "z") == 2.0, "per address, whatever the name"
    for _ in range(5):
        t.failed("10.0.0.9", None)
    assert t.wait("10.0.0.9") == 10.0, "capped"
    t.succeeded("facilitator")
    assert t.wait("10.0.0.1", "facilitator") == 0 and t.wait("10.0.0.9", "facilitator") == 10.0, "a success forgets the name, not the address"
    now[0] += 61
    assert t.wait("10.0.0.9") == 0, "forgotten after a quiet while"
    # a slow check (the login form): counted before it is made, taken back when it succeeds
    t.clear()
    assert [t.attempt("10.0.0.5", "amina") for _ in range(4)] == [0.0, 0.0, 0.0, 2.0]
    t.succeeded("amina", "10.0.0.5")
    assert t.attempt("10.0.0.5", "amina") == 0.0 and t.attempt("10.0.0.5", "bram") == 0.0, "the name forgotten, the address's count down by one"
    assert t.attempt("10.0.0.5", "carl") == 0.0, "the address's 5th: 3 - 1 (taken back) + 3"
    assert t.attempt("10.0.0.5", "dora") == 2.0, "past the address's 5 free ones"
    t.release("10.0.0.5", "carl")
    assert t.wait("10.0.0.5", "erin") == 0.0


def _queue_join(client: httpx.Client, session: str, fn: int, trigger: int | None, data: list) -> httpx.Response:
    return client.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn, "trigger_id": trigger, "session_hash": session,
                                                      "event_data": None})


def _queue_result(client: httpx.Client, session: str) -> dict:
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as events:
        for line in events.iter_lines():
            if line.startswith("data: "):
                msg = json.loads(line[6:])
                if msg.get("msg") == "process_completed":
                    return msg
    raise AssertionError("no result")


def test_a_session_belongs_to_its_user_and_exports_stay_in_memory(browser, locked_server):
    from test_browser import ask, login, new_page

    url, app, _ = locked_server
    app.state.pa_access.throttle.clear()
    web = app.state.pa_web
    amina = new_page(browser)
    sessions: list[str] = []
    amina.on("request", lambda r: sessions.append(json.loads(r.post_data)["session_hash"]) if "/gradio_api/queue/join" in r.url else None)
    login(amina, url, "Amina", PASSCODE)
    amina.wait_for_selector("#pa-question textarea")
    ask(amina, QUESTIONS[0])
    amina.click("#pa-export")
    link = amina.locator("#pa-export-file a").first
    link.wait_for()
    href = link.get_attribute("href")
    assert re.fullmatch(r"export/[\w-]{20,}", href)
    assert amina.request.get(url + href).status == 200 and "Zephyrville" in amina.request.get(url + href).text()
    session = sessions[-1]

    bram = logged_in(url, "Bram")
    export_fn, export_btn = fn_index(app, "export_chat"), web.pa_web.export._id
    # Bram holds Amina's session id: he can neither run her events, nor read her results, nor keep or end her session
    assert _queue_join(bram, session, export_fn, export_btn, [None]).status_code == 403
    assert bram.get("/gradio_api/queue/data", params={"session_hash": session}).status_code == 403
    assert bram.get(f"/gradio_api/heartbeat/{session}").status_code == 403
    assert bram.post("/gradio_api/cancel", json={"session_hash": session, "fn_index": export_fn, "event_id": "x"}).status_code == 403
    assert bram.get("/" + href).status_code == 404, "nor download her export"
    api = httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {PASSCODE}"})
    assert _queue_join(api, session, export_fn, export_btn, [None]).status_code == 403, "nor can the API user"
    # the same request on his own session works: what stops him is the owner check
    own = "b" * 11
    # ... which a second session id (a repeated query parameter, a repeated JSON key) does not get round
    assert bram.get("/gradio_api/queue/data", params=[("session_hash", own), ("session_hash", session)]).status_code == 403
    twice = ('{"data": [null], "fn_index": %d, "trigger_id": %d, "session_hash": "%s", "session_hash": "%s"}'
             % (export_fn, export_btn, own, session))
    assert bram.post("/gradio_api/queue/join", content=twice, headers={"content-type": "application/json"}).status_code == 403
    assert _queue_join(bram, own, export_fn, export_btn, [None]).status_code == 200
    result = _queue_result(bram, own)
    html = result["output"]["data"][0]["value"]
    mine = re.search(r"href='(export/[\w-]+)'", html).group(1)
    assert "No questions were asked" in bram.get("/" + mine).text, "his own (empty) conversation"
    assert amina.request.get(url + mine).status == 404

    # nothing was written to disk: no export of Amina's (the only one about Zephyrville) in a temporary
    # folder or in Gradio's cache; an export expires
    tmp = Path(tempfile.gettempdir())
    written = [p for p in [*tmp.glob("pa-*/*.md"), *tmp.glob("gradio/**/*.md")] if "Zephyrville" in p.read_text(errors="replace")]
    assert written == []
    exports = web.pa_web.exports
    token = exports.put("Amina", "x.md", "text")
    exports.clock = lambda: time.monotonic() + exports.ttl + 1
    try:
        assert exports.get(token, "Amina") is None and exports.get(href.split("/")[1], "Amina") is None
    finally:
        exports.clock = time.monotonic
    amina.context.close()


def test_the_logged_out_page_is_the_login_form_only(locked_server, browser, fresh_backoff):
    from test_browser import new_page

    url, _, _ = locked_server
    for path in ("/", "/?all_endpoints=true", "/?deep_link=x"):
        resp = httpx.get(url.rstrip("/") + path, headers={"Accept-Encoding": "br, gzip"})
        assert resp.status_code == 200 and '"auth_required":true' in resp.text.replace(" ", "")
        assert "/ask" not in resp.text and 'window.gradio_api_info = {"named_endpoints": {}' in resp.text, path
        csp = resp.headers["content-security-policy"]
        assert "img-src 'self' data: blob:" in csp and "default-src 'self'" in csp
        assert resp.headers["referrer-policy"] == "same-origin"
    # the login form says how long to wait once the back-off holds it
    page = new_page(browser)
    page.goto(url)
    page.wait_for_selector("input[type=password]")
    for i in range(6):
        page.locator("input:not([type=password])").first.fill("facilitator")
        page.fill("input[type=password]", f"guess-{i}")
        with page.expect_response(lambda r: r.url.endswith("/login")) as answer:
            page.get_by_role("button", name="Login").click()
        assert answer.value.status == (400 if i < 5 else 429)
    page.wait_for_selector("#pa-login-wait[role=alert] >> text=Too many failed logins: try again in 1 s.")
    page.context.close()


def test_exports_are_kept_for_their_owner_within_their_budget():
    from ui.exports import ExportStore

    now = [0.0]
    store = ExportStore(ttl=60, max_bytes=10, clock=lambda: now[0])
    a = store.put("Amina", "../../etc/passwd", "12345")
    assert store.get(a, "Amina").filename == "etc-passwd" and store.get(a, "Bram") is None and store.get(a, None) is None
    b = store.put(None, "b.md", "123456")
    assert store.get(a, "Amina") is None, "the oldest go first beyond the budget"
    assert store.get(b, None).data == b"123456" and store.get(b, "anonymous") is not None
    now[0] = 61
    assert store.get(b, None) is None and len(store) == 0 and store.bytes == 0


@pytest.fixture(scope="module")
def browser():
    from test_browser import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()

