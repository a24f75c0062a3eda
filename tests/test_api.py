"""The programmatic doors of `serve` with the clients people use: the openai SDK (streamed and
whole) and LangChain's ChatOpenAI on /v1, the mcp SDK's client over stdio (`policy-assistant mcp`)
and over streamable HTTP (/mcp), httpx on the REST API checked against its own OpenAPI schema,
gradio_client on the mounted web chat. Every door must hand back the citations of `ask --json`
for the same question, each quote standing in its cited span; and with a passcode every route of
the application refuses a request without it (the test walks the route table)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from functools import lru_cache

import httpx
import pytest
from conftest import REPO, run_cli, source_lines

from assistant.cleaning import text_in_span

QUESTION = "How can an origin-country municipality support the integration of its emigrants abroad?"
FOLLOW_UP = ("What was it called?", ["What did the city of Nuremberg do to adapt the national integration courses?"])
FILTERED = ("What should be done about funding?", "004_e378ebee438f39d1.txt")
PASSCODE, FACILITATOR = "s3cret-join", "s3cret-trainer"
ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


@lru_cache(maxsize=None)
def cli_answer(question: str, history: tuple[str, ...] = (), report: str | None = None) -> dict:
    """The reference: `policy-assistant ask --json` in its own process."""
    args = ["ask", "--json"] + [a for h in history for a in ("--history", h)] + (["--report", report] if report else []) + [question]
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def assert_quotes_in_spans(citations: list[dict]) -> None:
    assert citations
    for c in citations:
        span = "\n".join(source_lines(c["source"])[c["start_line"] - 1 : c["end_line"]])
        assert text_in_span(c["text"], span), c["passage_id"]
        assert c["quotes"], f"citation [{c['n']}] quotes nothing"
        for q in c["quotes"]:
            assert q in c["text"] and text_in_span(q, span), (c["passage_id"], q)


SOURCES_LINE = re.compile(r"^- \[(\d+)\] (.+?) — .* — `([^`]+)`, lines (\d+)–(\d+)$", re.M)


def sources_of(content: str) -> list[tuple]:
    """(n, short citation, file, start, end) of each line of the content's Sources list."""
    assert "**Sources**" in content
    tail = content.split("**Sources**", 1)[1]
    return [(int(n), cite, src, int(a), int(b)) for n, cite, src, a, b in SOURCES_LINE.findall(tail)]


def cited(citations: list[dict]) -> list[tuple]:
    return [(c["n"], c["short_citation"], c["source"], c["start_line"], c["end_line"]) for c in citations]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from ui.feedback import FeedbackStore

    return FeedbackStore(tmp_path_factory.mktemp("api") / "feedback.sqlite3")


@pytest.fixture(scope="module")
def served(assistant, store):
    """`serve` without a passcode (loopback)."""
    from ui.server import BackgroundServer, create_app

    with BackgroundServer(create_app(assistant, store=store)) as srv:
        yield srv.url


@pytest.fixture(scope="module")
def locked(assistant, tmp_path_factory):
    """`serve --workshop ... --passcode ... --facilitator-passcode ...`: every door needs the passcode."""
    from ui.feedback import FeedbackStore
    from ui.server import BackgroundServer, create_app
    from ui.workshop import load_workshop

    ws = load_workshop("funding-across-levels", REPO / "knowledge_base" / "workshops")
    app = create_app(assistant, workshop=ws, store=FeedbackStore(tmp_path_factory.mktemp("locked") / "f.sqlite3"),
                     passcode=PASSCODE, facilitator_passcode=FACILITATOR)
    with BackgroundServer(app) as srv:
        yield srv.url, app


# --------------------------------------------------------------------------- OpenAI-compatible


def test_openai_sdk_whole_answers_carry_the_cli_citations(served):
    import openai

    client = openai.OpenAI(base_url=served + "v1", api_key="not-needed-on-loopback")
    ref = cli_answer(QUESTION)
    resp = client.chat.completions.create(model="policy-assistant", messages=[{"role": "user", "content": QUESTION}])
    msg = resp.choices[0].message
    extra = msg.policy_assistant
    assert extra["citations"] == ref["citations"] and extra["refused"] is False and extra["notice"] is None
    assert msg.content.startswith(ref["answer"]) and sources_of(msg.content) == cited(ref["citations"])
    assert resp.choices[0].finish_reason == "stop" and resp.usage.completion_tokens > 0
    assert_quotes_in_spans(extra["citations"])

    # a conversation: the earlier user turns are the history (the assistant's turn is read, not used)
    q, history = FOLLOW_UP
    ref = cli_answer(q, tuple(history))
    resp = client.chat.completions.create(model="policy-assistant", messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": history[0]},
        {"role": "assistant", "content": "Nuremberg adapted the courses ..."},
        {"role": "user", "content": [{"type": "text", "text": q}]},
    ])
    extra = resp.choices[0].message.policy_assistant
    assert extra["citations"] == ref["citations"] and extra["standalone_question"] == ref["standalone_question"]

    # filters as extra body fields
    q, report = FILTERED
    ref = cli_answer(q, (), report)
    resp = client.chat.completions.create(model="policy-assistant", messages=[{"role": "user", "content": q}],
                                          extra_body={"reports": [report]})
    extra = resp.choices[0].message.policy_assistant
    assert extra["citations"] == ref["citations"] and {c["source"] for c in extra["citations"]} == {report}
    assert extra["filters"] == ref["filters"] == {"reports": ["EPC 2020"]}

    # a question the reports do not answer: refused, in the field and in plain words
    resp = client.chat.completions.create(model="policy-assistant", messages=[{"role": "user", "content": "What is the capital of Australia?"}])
    extra = resp.choices[0].message.policy_assistant
    assert extra["refused"] is True and extra["citations"] == [] and "**Sources**" not in resp.choices[0].message.content


def test_openai_sdk_streams_the_answer_and_ends_with_the_citations(served):
    import openai

    client = openai.OpenAI(base_url=served + "v1", api_key="x")
    ref = cli_answer(QUESTION)
    whole = client.chat.completions.create(model="policy-assistant", messages=[{"role": "user", "content": QUESTION}])
    parts, final, usage = [], None, None
    with client.chat.completions.create(model="policy-assistant", messages=[{"role": "user", "content": QUESTION}],
                                        stream=True, stream_options={"include_usage": True}) as stream:
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            if choice.delta.content:
                parts.append(choice.delta.content)
            if choice.finish_reason == "stop":
                final = choice.delta.policy_assistant
    assert len(parts) >= 3, "the answer streams in as it is written, then the Sources"
    assert "".join(parts) == whole.choices[0].message.content
    assert final["citations"] == ref["citations"] == whole.choices[0].message.policy_assistant["citations"]
    assert usage is not None and usage.completion_tokens > 0


def test_openai_models_and_errors(served):
    import openai

    client = openai.OpenAI(base_url=served + "v1", api_key="x", max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "policy-assistant" and "extractive" in ids
    assert client.models.retrieve("extractive").id == "extractive"
    ask = dict(model="policy-assistant", messages=[{"role": "user", "content": "What is town twinning?"}])
    # the backend's own name answers too
    assert client.chat.completions.create(**{**ask, "model": "extractive"}).choices[0].message.policy_assistant["citations"]
    with pytest.raises(openai.NotFoundError, match="policy-assistant"):
        client.chat.completions.create(**{**ask, "model": "gpt-4o"})
    r = run_cli("ask", "x" * 5000)
    cli_message = r.stderr.strip().removeprefix("error: ")
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(**{**ask, "messages": [{"role": "user", "content": "x" * 5000}]})
    assert cli_message in str(bad.value), "the CLI's message"
    with pytest.raises(openai.BadRequestError, match="too long"):  # streamed requests fail before the stream starts
        client.chat.completions.create(**{**ask, "messages": [{"role": "user", "content": "x" * 5000}]}, stream=True)
    with pytest.raises(openai.BadRequestError, match="choose one of: origin_municipality"):
        client.chat.completions.create(**ask, extra_body={"levels": ["mars"]})
    with pytest.raises(openai.BadRequestError, match="unknown report 'no-such.txt'; choose one of: 000_a5ab5183360c038e.txt"):
        client.chat.completions.create(**ask, extra_body={"reports": "no-such.txt"})
    with pytest.raises(openai.BadRequestError, match="last message must be the user's"):
        client.chat.completions.create(**{**ask, "messages": [{"role": "assistant", "content": "hello"}]})


def test_openai_door_with_an_llm_backend_that_is_down(assistant, store):
    """A deployment with an LLM backend: its names are models too, `extractive` still quotes, and
    when the LLM server is down the extractive answer comes with its notice — in the field and in
    plain words; a streamed answer (not sent live: the citation check may cut an LLM's draft) is
    the whole one."""
    import openai

    from ui.server import BackgroundServer, create_app
    from ui.server import free_port as closed_port

    llm = assistant.with_backend(None, backend="openai", llm_base_url=f"http://127.0.0.1:{closed_port()}/v1",
                                 llm_model="some-model", llm_timeout_s=5)
    with BackgroundServer(create_app(llm, store=store)) as srv:
        client = openai.OpenAI(base_url=srv.url + "v1", api_key="x", max_retries=0)
        assert [m.id for m in client.models.list()] == ["policy-assistant", "openai", "some-model", "extractive"]
        ask = dict(messages=[{"role": "user", "content": "What is town twinning?"}])
        whole = client.chat.completions.create(model="policy-assistant", **ask).choices[0].message
        extra = whole.policy_assistant
        assert extra["notice"] and "did not answer" in extra["notice"] and extra["backend"] == "extractive"
        assert f"> Note: {extra['notice']}" in whole.content and extra["citations"]
        streamed = "".join(c.choices[0].delta.content or "" for c in
                           client.chat.completions.create(model="some-model", stream=True, **ask) if c.choices)
        assert streamed == whole.content
        quoted = client.chat.completions.create(model="extractive", **ask).choices[0].message
        assert quoted.policy_assistant["notice"] is None and quoted.policy_assistant["citations"] == cli_answer("What is town twinning?")["citations"]


def test_langchain_chat_openai_shows_usable_citations(served):
    from langchain_openai import ChatOpenAI

    ref = cli_answer(QUESTION)
    llm = ChatOpenAI(model="policy-assistant", base_url=served + "v1", api_key="x", max_retries=0)
    msg = llm.invoke(QUESTION)
    assert msg.content.startswith(ref["answer"]), "[n] markers as in ask --json"
    assert sources_of(msg.content) == cited(ref["citations"]), "the Sources list names every citation"
    streamed = "".join(chunk.content for chunk in llm.stream(QUESTION))
    assert streamed == msg.content
    q, history = FOLLOW_UP
    follow = llm.invoke([("human", history[0]), ("ai", "..."), ("human", q)])
    assert sources_of(follow.content) == cited(cli_answer(q, tuple(history))["citations"])


# --------------------------------------------------------------------------- MCP


TOOLS = {"ask", "search_passages", "get_passage", "list_reports", "list_practices", "list_recommendations"}


async def _exercise_mcp(client, assistant) -> None:
    """List and call every tool, list and read the resources, and check the bad arguments."""
    from assistant.api.operations import chat_content
    from assistant.models import Answer

    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    assert all(t.input_schema and t.description for t in tools.values())
    assert tools["ask"].output_schema["title"] == "Answer"

    ref = cli_answer(QUESTION)
    r = await client.call_tool("ask", {"question": QUESTION})
    assert not r.is_error
    assert r.structured_content["citations"] == ref["citations"] and r.structured_content["answer"] == ref["answer"]
    assert r.content[0].text == chat_content(Answer(**r.structured_content))
    assert_quotes_in_spans(r.structured_content["citations"])
    q, history = FOLLOW_UP
    r = await client.call_tool("ask", {"question": q, "history": history})
    assert r.structured_content["citations"] == cli_answer(q, tuple(history))["citations"]
    q, report = FILTERED
    r = await client.call_tool("ask", {"question": q, "reports": [report]})
    assert r.structured_content["citations"] == cli_answer(q, (), report)["citations"]

    r = await client.call_tool("search_passages", {"query": "town twinning", "k": 3, "reports": ["Bilgili & Agimi 2015"]})
    passages = r.structured_content["passages"]
    assert not r.is_error and len(passages) == 3 and {p["source"] for p in passages} == {"000_a5ab5183360c038e.txt"}
    assert r.structured_content["filters"] == {"reports": ["Bilgili & Agimi 2015"]}

    cite = ref["citations"][0]
    r = await client.call_tool("get_passage", {"passage_id": cite["passage_id"], "context_lines": 3})
    got = r.structured_content
    assert got["passage"]["text"] == cite["text"] and got["start_line"] == max(1, cite["start_line"] - 3)
    inside = "\n".join(line["text"] for line in got["lines"] if line["cited"])
    assert text_in_span(cite["text"], inside)

    r = await client.call_tool("list_reports", {})
    assert [x["source"] for x in r.structured_content["result"]] == [m.source for m in assistant.reports]

    for tool, kind in (("list_practices", "practice"), ("list_recommendations", "recommendation")):
        r = await client.call_tool(tool, {"level": "origin", "limit": 3})
        expected = assistant.catalogue.filter(kind=kind, level="origin_municipality")
        assert r.structured_content["total"] == len(expected) > 0
        assert [x["id"] for x in r.structured_content["records"]] == [x.id for x in expected[:3]]

    # bad arguments fail loudly, naming the valid values — never a wider search
    r = await client.call_tool("search_passages", {"query": "town twinning", "levels": ["mars"]})
    assert r.is_error and "unknown level 'mars'; choose one of: origin_municipality" in r.content[0].text
    r = await client.call_tool("ask", {"question": QUESTION, "reports": ["the Atlantis report"]})
    assert r.is_error and "001_45261df8c35e07ff.txt (OSCE/ODIHR 2017)" in r.content[0].text
    r = await client.call_tool("list_practices", {"theme": "astrology"})
    assert r.is_error and "choose one of: employment" in r.content[0].text
    r = await client.call_tool("get_passage", {"passage_id": "nope"})
    assert r.is_error and "no passage 'nope'" in r.content[0].text
    r = await client.call_tool("ask", {"question": "y" * 5000})
    assert r.is_error and "too long" in r.content[0].text

    resources = {str(x.uri): x for x in (await client.list_resources()).resources}
    assert set(resources) == {"policy-assistant://reports"} | {f"policy-assistant://reports/{m.source}" for m in assistant.reports}
    listing = json.loads((await client.read_resource("policy-assistant://reports")).contents[0].text)
    assert [x["short_citation"] for x in listing] == [m.short_citation for m in assistant.reports]
    text = (await client.read_resource(f"policy-assistant://reports/{cite['source']}")).contents[0].text
    span = "\n".join(text.splitlines()[cite["start_line"] - 1 : cite["end_line"]])
    assert text_in_span(cite["text"], span), "citations' line spans point into the resource's text"


def test_mcp_over_stdio(assistant):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "assistant.cli", "mcp"], cwd=str(REPO),
                                   env={**ENV, "PYTHONPATH": str(REPO), "POLICY_ASSISTANT_DATA_DIR": str(assistant.settings.data_dir)})

    async def main():
        async with Client(params) as client:
            await _exercise_mcp(client, assistant)

    asyncio.run(main())


def test_mcp_over_streamable_http(served, assistant):
    from mcp import Client

    async def main():
        async with Client(served + "mcp") as client:
            await _exercise_mcp(client, assistant)

    asyncio.run(main())


# --------------------------------------------------------------------------- REST and its OpenAPI schema


def _example_calls(ref: dict) -> dict[tuple[str, str], list[dict]]:
    """Requests that exercise every operation of the schema (method, path template) -> requests."""
    pid = ref["citations"][0]["passage_id"]
    return {
        ("get", "/v1/models"): [{}],
        ("get", "/v1/models/{model}"): [{"path": "/v1/models/policy-assistant"}, {"path": "/v1/models/gpt-4o", "status": 404}],
        ("post", "/v1/chat/completions"): [
            {"json": {"model": "policy-assistant", "messages": [{"role": "user", "content": QUESTION}]}},
            {"json": {"model": "policy-assistant", "messages": [{"role": "user", "content": ""}]}, "status": 400},
        ],
        ("post", "/api/v1/ask"): [
            {"json": {"question": QUESTION}},
            {"json": {"question": "z" * 3000}, "status": 400},
            {"json": {"question": QUESTION, "levels": ["mars"]}, "status": 422},
        ],
        ("get", "/api/v1/search"): [{"params": {"q": "town twinning", "k": 3, "level": ["origin"]}},
                                    {"params": {"q": "town twinning", "report": "nope.txt"}, "status": 422}],
        ("get", "/api/v1/passages/{passage_id}"): [{"path": f"/api/v1/passages/{pid}"},
                                                   {"path": "/api/v1/passages/nope", "status": 404}],
        ("get", "/api/v1/reports"): [{}],
        ("get", "/api/v1/practices"): [{"params": {"level": "origin", "theme": "jobs"}}, {"params": {"level": "mars"}, "status": 422}],
        ("get", "/api/v1/recommendations"): [{"params": {"level": "national government"}}],
        ("post", "/api/v1/feedback"): [{"json": {"question": QUESTION, "answer": ref["answer"], "vote": "down", "comment": "misses Nador"}},
                                       {"json": {"question": QUESTION, "vote": "sideways"}, "status": 422}],
    }


def test_openapi_schema_is_valid_and_every_route_answers_as_it_says(served):
    from openapi_schema_validator import OAS31Validator
    from openapi_spec_validator import validate

    http = httpx.Client(base_url=served, timeout=60)
    spec = http.get("/openapi.json").json()
    validate(spec)  # a valid OpenAPI 3.1 document
    assert {"Answer", "Citation", "RetrievedPassage", "CatalogueRecord", "ReportMeta", "ChatExtra"} <= set(spec["components"]["schemas"])
    docs = http.get("/docs")
    assert docs.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text, "docs work offline"
    assert http.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    ref = cli_answer(QUESTION)
    calls = _example_calls(ref)
    operations = {(m, p) for p, item in spec["paths"].items() for m in item if m in ("get", "post", "put", "delete", "patch")}
    assert operations == set(calls), "every route of the schema is exercised here (and nothing else is in it)"
    for (method, template), requests in calls.items():
        for req in requests:
            resp = http.request(method.upper(), req.get("path", template), json=req.get("json"), params=req.get("params"))
            status = req.get("status", 200)
            assert resp.status_code == status, (method, template, resp.text[:300])
            documented = spec["paths"][template][method]["responses"]
            assert str(status) in documented, f"{method} {template}: {status} is not documented"
            schema = documented[str(status)].get("content", {}).get("application/json", {}).get("schema")
            if schema:
                OAS31Validator({**schema, "components": spec["components"]}).validate(resp.json())


def test_rest_answers_are_the_cli_answers(served, store, assistant):
    http = httpx.Client(base_url=served, timeout=60)
    ref = cli_answer(QUESTION)
    data = http.post("/api/v1/ask", json={"question": QUESTION}).json()
    assert set(data) == set(ref), "the Answer JSON, field for field"
    assert data["citations"] == ref["citations"] and data["answer"] == ref["answer"] and data["retrieved"] == ref["retrieved"]
    assert_quotes_in_spans(data["citations"])
    q, history = FOLLOW_UP
    assert http.post("/api/v1/ask", json={"question": q, "history": history}).json()["citations"] == cli_answer(q, tuple(history))["citations"]
    q, report = FILTERED
    assert http.post("/api/v1/ask", json={"question": q, "reports": [report]}).json()["citations"] == cli_answer(q, (), report)["citations"]
    # search is the retrieval ask does (ask then adds the notes its top passages cite and the passage
    # that goes on from the top one, after them)
    found = http.get("/api/v1/search", params={"q": ref["standalone_question"]}).json()
    searched = [p["passage_id"] for p in found["passages"]]
    assert searched and searched == [p["passage_id"] for p in ref["retrieved"]][: len(searched)]
    # the catalogue with the CLI's filters
    r = run_cli("practices", "--level", "origin", "--theme", "jobs", "--json")
    assert http.get("/api/v1/practices", params={"level": "origin", "theme": "jobs"}).json() == json.loads(r.stdout)
    # the CLI's messages
    r = run_cli("ask", "x" * 5000)
    assert http.post("/api/v1/ask", json={"question": "x" * 5000}).json()["detail"] == r.stderr.strip().removeprefix("error: ")
    # feedback lands in the feedback store
    fb = http.post("/api/v1/feedback", json={"question": QUESTION, "answer": ref["answer"], "vote": "up"}).json()
    fb = http.post("/api/v1/feedback", json={"question": QUESTION, "comment": "useful", "answer_id": fb["answer_id"]}).json()
    stored = store.get_feedback(fb["answer_id"])
    assert stored.vote == "up" and stored.comment == "useful" and fb == {"answer_id": fb["answer_id"], "vote": "up", "comment": "useful"}


def test_gradio_ask_on_the_mounted_chat_has_the_cli_citations(served):
    from gradio_client import Client

    data = Client(served, verbose=False, ssl_verify=False).predict(QUESTION, [], api_name="/ask")
    assert data["citations"] == cli_answer(QUESTION)["citations"]


# --------------------------------------------------------------------------- auth, limits, CORS


def _routes(app) -> list[tuple[str, set[str]]]:
    """Every (path, methods) of the application, Gradio's mounted routes and the routers FastAPI
    includes lazily among them; an ASGI route without declared methods (MCP) is tried with GET, POST
    and DELETE."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Mount, WebSocketRoute

    out = []

    def walk(routes, prefix: str) -> None:
        for r in routes:
            if isinstance(r, Mount):
                if r.routes:
                    walk(r.routes, prefix + r.path)
                else:  # an ASGI app of its own (static files): everything under it
                    out.append((prefix + r.path + "/{path:path}", {"GET"}))
                continue
            for ctx in iter_route_contexts([r]):
                if isinstance(ctx.original_route, WebSocketRoute):
                    out.append((prefix + ctx.path, {"WEBSOCKET"}))
                elif ctx.path is not None:
                    out.append((prefix + ctx.path, set(ctx.methods or {"GET", "POST", "DELETE"})))

    walk(app.router.routes, "")
    assert out, "no routes found"
    return out


def _concrete(path: str) -> str:
    path = re.sub(r"\{api_name[^}]*\}", "ask", path)
    return re.sub(r"\{[^}]+\}", "x", path) or "/"


def test_every_route_refuses_a_request_without_the_passcode(locked):
    from assistant.api.access import LOGIN_PAGE, is_login_page

    url, app = locked
    assert set(LOGIN_PAGE) == {"/", "/login", "/login/", "/assets/", "/static/", "/theme.css", "/favicon.ico"}, (
        "only what shows the login form is reachable without the passcode: change this list deliberately"
    )
    routes = _routes(app)
    paths = {p for p, _ in routes}
    assert {"/v1/chat/completions", "/api/v1/ask", "/mcp", "/docs", "/docs/static/{path:path}", "/openapi.json", "/gradio_api/queue/join", "/config",
            "/gradio_api/upload", "/gradio_api/file={path_or_url:path}", "/export/{token}"} <= paths, "the walk sees every door"
    http = httpx.Client(base_url=url, timeout=30)
    throttle = app.state.pa_access.throttle
    checked, open_ = 0, []
    for path, methods in routes:
        for method in sorted(methods - {"OPTIONS"}):
            concrete = _concrete(path)
            if method == "WEBSOCKET":
                continue
            if is_login_page(method, concrete):
                open_.append((method, concrete))
                continue
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic QW1pbmE6d3Jvbmc="}):
                # each wrong credential as if from a fresh address: this walk checks the refusal, not the login
                # back-off (which answers 429 after a few wrong ones: tests/test_security.py)
                throttle.clear()
                resp = http.request(method, concrete, headers=headers, json={} if method in ("POST", "PUT") else None)
                assert resp.status_code == 401, f"{method} {concrete} without the passcode: {resp.status_code} {resp.text[:200]}"
                checked += 1
    assert checked > 150
    # what a browser may load logged out: the login form, its files — no app data
    page = http.get("/").text
    assert '"auth_required":true' in page.replace(" ", "") and "Practice library" not in page and "pa-question" not in page
    assert http.post("/login", data={"username": "Amina", "password": "wrong"}).status_code == 400
    assert {m for m, _ in open_} <= {"GET", "HEAD", "POST"}


def test_every_door_takes_the_passcode(locked, assistant):
    import openai
    from gradio_client import Client as GradioClient
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    url, _ = locked
    ref = cli_answer(QUESTION)
    # OpenAI SDK: the passcode is the API key
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "v1", api_key="wrong", max_retries=0).models.list()
    ok = openai.OpenAI(base_url=url + "v1", api_key=PASSCODE, max_retries=0)
    resp = ok.chat.completions.create(model="policy-assistant", messages=[{"role": "user", "content": QUESTION}])
    assert resp.choices[0].message.policy_assistant["citations"] == ref["citations"]
    assert openai.OpenAI(base_url=url + "v1", api_key=FACILITATOR, max_retries=0).models.list().data
    # REST: Bearer, or basic auth with a participant's name (the web chat's login check)
    http = httpx.Client(base_url=url, timeout=60)
    assert http.get("/api/v1/reports").status_code == 401
    assert http.get("/api/v1/reports", headers={"Authorization": f"Bearer {PASSCODE}"}).status_code == 200
    assert http.get("/api/v1/reports", auth=("Amina", PASSCODE)).status_code == 200
    assert http.get("/api/v1/reports", auth=("facilitator", PASSCODE)).status_code == 401, "the facilitator has their own passcode"
    assert http.get("/openapi.json", auth=("facilitator", FACILITATOR)).status_code == 200
    assert 'Basic realm' in http.get("/docs").headers["www-authenticate"], "a browser asks for the passcode on /docs"
    # the web chat's API (gradio_client), through its login and with the Bearer header
    assert GradioClient(url, auth=("Amina", PASSCODE), verbose=False).predict(QUESTION, [], api_name="/ask")["citations"] == ref["citations"]

    # MCP over HTTP
    async def mcp_call(headers):
        async with create_mcp_http_client(headers=headers) as http_client:
            async with Client(streamable_http_client(url + "mcp", http_client=http_client)) as client:
                return await client.call_tool("ask", {"question": QUESTION})

    with pytest.raises(BaseException):
        asyncio.run(mcp_call({}))
    result = asyncio.run(mcp_call({"Authorization": f"Bearer {PASSCODE}"}))
    assert result.structured_content["citations"] == ref["citations"]


def test_request_bodies_are_limited(served):
    http = httpx.Client(base_url=served, timeout=60)
    resp = http.post("/api/v1/ask", content=b'{"question": "' + b"a" * 2_000_000 + b'"}', headers={"content-type": "application/json"})
    assert resp.status_code == 413 and "larger than 1,048,576 bytes" in resp.json()["detail"]
    resp = http.post("/v1/chat/completions", json={"model": "policy-assistant", "messages": [{"role": "user", "content": "b" * 1_100_000}]})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "request_too_large"


def test_cors_is_off_by_default_and_opens_only_to_named_origins(assistant, store):
    from fastapi.testclient import TestClient

    from ui.server import create_app

    origin = {"Origin": "https://evil.example"}
    with TestClient(create_app(assistant, store=store)) as client:
        for path in ("/api/v1/reports", "/v1/models", "/config"):
            assert "access-control-allow-origin" not in client.get(path, headers=origin).headers
        pre = client.options("/api/v1/ask", headers={**origin, "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in pre.headers
    with TestClient(create_app(assistant, store=store, cors_origins=["https://portal.example"])) as client:
        good = client.get("/api/v1/reports", headers={"Origin": "https://portal.example"})
        assert good.headers["access-control-allow-origin"] == "https://portal.example"
        assert "access-control-allow-origin" not in client.get("/api/v1/reports", headers=origin).headers


def test_serve_prints_every_door_and_keeps_its_safety_defaults():
    r = run_cli("serve", "--host", "0.0.0.0", "--port", "7997", timeout=120)
    assert r.returncode == 2 and "without a passcode" in r.stderr
    assert "mcp" in run_cli("--help").stdout


@pytest.mark.skipif(os.name != "posix", reason="POSIX only")
def test_mcp_command_writes_only_the_protocol_to_stdout(assistant):
    """A desktop client reads stdout as JSON-RPC: nothing else may appear there."""
    import subprocess

    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "mcp"], input=json.dumps(init) + "\n", capture_output=True,
                          text=True, timeout=120, cwd=REPO, env={**os.environ, **ENV})
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["jsonrpc"] == "2.0" for line in lines)
    assert json.loads(lines[0])["result"]["serverInfo"]["name"] == "policy-assistant"


def test_the_mcp_server_loads_no_web_stack():
    """`policy-assistant mcp` starts as a desktop client waits: without Gradio, FastAPI or torch."""
    import subprocess

    probe = ("import sys, assistant.api.mcp_server; "
             "print([m for m in ('gradio', 'fastapi', 'torch', 'chromadb') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
