"""The web chat without a browser: its API on a real Gradio server, the chat handler, the chips,
source panel, surrounding text, export, filters, the feedback store and the safety defaults."""

from __future__ import annotations

import socket
import sqlite3
import threading

import pytest
from conftest import run_cli

QUESTION = "How can an origin-country municipality support the integration of its emigrants abroad?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(app, passcode: str | None = None, facilitator_passcode: str | None = None, concurrency: int = 8) -> str:
    """Serve the web chat as `serve` does: mounted in the one ASGI application (FastAPI, the APIs,
    the Guard), by uvicorn in a thread on 127.0.0.1. ``stop(app)`` ends it."""
    from ui.server import BackgroundServer, create_app

    asgi = create_app(app.pa_web.assistant, web=app, passcode=passcode, facilitator_passcode=facilitator_passcode,
                      concurrency=concurrency)
    app.pa_server = BackgroundServer(asgi).start()
    return app.pa_server.url


def stop(app) -> None:
    server = getattr(app, "pa_server", None)
    if server is not None:
        server.stop()


def handler(app, name: str):
    for fn in app.fns.values():
        if getattr(fn, "name", "") == name:
            return fn.fn
    raise AssertionError(f"no event handler {name}")


def last(gen):
    out = None
    for out in gen:
        pass
    return out


@pytest.fixture()
def store(tmp_path):
    from ui.feedback import FeedbackStore

    return FeedbackStore(tmp_path / "feedback.sqlite3")


@pytest.fixture(scope="module")
def server(assistant, tmp_path_factory):
    from ui.app import build_app
    from ui.feedback import FeedbackStore

    app = build_app(assistant, store=FeedbackStore(tmp_path_factory.mktemp("web") / "feedback.sqlite3"))
    url = launch(app)
    yield app, url
    stop(app)


@pytest.fixture(scope="module")
def answered(assistant):
    return assistant.ask(QUESTION).model_dump(exclude={"retrieved"})


# --------------------------------------------------------------------------- API


def test_ask_endpoint_returns_the_answer_json(server):
    from gradio_client import Client

    _, url = server
    client = Client(url, verbose=False)
    data = client.predict(
        "What was it called?",
        ["What did the city of Nuremberg do to adapt the national integration courses?"],
        api_name="/ask",
    )
    assert {"question", "answer", "refused", "citations", "retrieved", "timings_ms", "notice", "backend"} <= set(data)
    assert "ZAM" in " ".join(p["text"] for p in data["retrieved"][:5])
    refused = client.predict("What is the capital of Australia?", [], api_name="/ask")
    assert refused["refused"] is True
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/ask"], "only /ask is public; the UI's events are private"


def test_ask_endpoint_reports_bad_input(server):
    from gradio_client import Client

    _, url = server
    with pytest.raises(Exception, match="too long"):
        Client(url, verbose=False).predict("y" * 50_000, [], api_name="/ask")


# --------------------------------------------------------------------------- the chat handler


def test_chat_escapes_html_and_refuses_oversized_input(assistant, store):
    from ui.app import build_app

    respond = handler(build_app(assistant, store=store), "respond")
    chat, session, box, panel, ctx, ctx_btn = last(respond("<script>alert(1)</script> What is town twinning?", [], None))
    assert "<script>" not in chat[0]["content"] and "&lt;script&gt;" in chat[0]["content"]
    assert session["history"] == ["<script>alert(1)</script> What is town twinning?"]
    chat, session, *_ = last(respond("y" * 50_000, [], None))
    assert "too long" in chat[-1]["content"] and session["history"] == []
    assert len(chat[-2]["content"]) < 1000, "an oversized question is not echoed in full"


def test_chat_answers_with_chips_and_a_source_panel(assistant, store):
    from ui.app import build_app

    app = build_app(assistant, store=store)
    respond = handler(app, "respond")
    outputs = list(respond(QUESTION, [], None))
    assert "Searching" in outputs[0][0][-1]["content"], "the user sees progress at once"
    if callable(getattr(assistant, "stream", None)):
        assert any("▌" in o[0][-1]["content"] for o in outputs[1:-1]), "the answer streams in"
    chat, session, box, panel, ctx, ctx_btn = outputs[-1]
    turn = session["turns"][0]
    assert turn["answer"]["citations"] and '](#pa-c-0-1 "Source 1: ' in chat[-1]["content"], "chips carry their label"
    assert "<mark>" in panel and "pa-selected" in panel
    assert session["open"] == [0, turn["answer"]["citations"][0]["n"]]
    # a follow-up carries the history
    chat, session, *_ = last(respond("What constraints do they face?", chat, session))
    assert session["history"][0] == turn["question"] and len(session["turns"]) == 2
    assert "#pa-c-1-" in chat[-1]["content"]


def test_chat_filters_restrict_the_sources(assistant, store):
    from ui.app import build_app

    respond = handler(build_app(assistant, store=store), "respond")
    chat, session, *_ = last(respond("What should be done about funding?", [], None, ["004_e378ebee438f39d1.txt"], [], []))
    cits = session["turns"][0]["answer"]["citations"]
    assert cits and {c["source"] for c in cits} == {"004_e378ebee438f39d1.txt"}
    chat, session, *_ = last(respond("What should be done about funding?", [], None, [], ["eu"], ["funding"]))
    assert "not available" not in chat[-1]["content"]
    assert session["turns"][0]["answer"]["citations"]


def test_chip_click_and_surrounding_text(assistant, store):
    import gradio as gr

    from ui.app import build_app

    app = build_app(assistant, store=store)
    respond, open_citation, show_context = (handler(app, n) for n in ("respond", "open_citation", "show_context"))
    chat, session, *_ = last(respond(QUESTION, [], None))
    c2 = session["turns"][0]["answer"]["citations"][1]
    panel, session, ctx, _ = open_citation(session, gr.EventData(None, {"key": f"c-0-{c2['n']}"}))
    assert f"[{c2['n']}]" in panel and "<mark>" in panel and c2["source"] in panel
    assert session["open"] == [0, c2["n"]]
    context = show_context(session)
    assert f"lines {max(1, c2['start_line'] - 15)}–" in context and "pa-in" in context
    # bad keys change nothing
    assert open_citation(session, gr.EventData(None, {"key": "c-0-<img>"}))[0] is not None


def test_feedback_vote_and_comment_are_stored(assistant, store):
    import gradio as gr

    from ui.app import build_app

    app = build_app(assistant, store=store)
    respond, on_like, send_comment = (handler(app, n) for n in ("respond", "on_like", "send_comment"))
    chat, session, *_ = last(respond(QUESTION, [], None))
    like = gr.LikeData(None, {"index": len(chat) - 1, "value": chat[-1]["content"], "liked": False})
    row, comment, status, session = on_like(session, like)
    answer_id = session["turns"][0]["id"]
    assert store.get_feedback(answer_id).vote == "down"
    row, comment, status, session = send_comment("Misses <b>Nador</b>", session)
    fb = store.get_feedback(answer_id)
    assert fb.vote == "down" and fb.comment == "Misses <b>Nador</b>" and fb.question == QUESTION
    assert "saved" in status


def test_export_markdown_has_full_citations(assistant, answered):
    from ui.render import export_markdown

    md = export_markdown([{"question": QUESTION, "answer": answered}], assistant)
    assert md.startswith("# Conversation") and f"## 1. {QUESTION}" in md
    c = answered["citations"][0]
    assert f"`{c['source']}` lines {c['start_line']}–{c['end_line']}" in md
    assert "Bilgili & Agimi 2015" in md and "(2015)" in md
    assert "> " + c["text"][:60] in md


# --------------------------------------------------------------------------- rendering


def test_chips_only_for_cited_numbers():
    from ui.render import chipify, cited_segments

    md = "- First point. [1]\n- Second point, twice cited. [2][3]\n- A year [2015] is not a chip."
    out = chipify(md, 4, [1, 2, 3])
    assert "[\\[1\\]](#pa-c-4-1)" in out and "(#pa-c-4-3)" in out and "[2015]" in out and "#pa-c-4-2015" not in out
    segs = cited_segments(md)
    assert segs[1] == ["First point"] and segs[3] == ["Second point, twice cited"]


def test_answer_message_shows_the_notice_and_the_verifier_note():
    from ui.render import answer_message

    msg = answer_message(
        {
            "answer": "- Cities matter. [1]",
            "citations": [{"n": 1}],
            "notice": "The LLM server did not answer; <b>extractive</b> answer shown.",
            "removed_sentences": ["Unsupported claim."],
        },
        0,
    )
    assert msg.startswith("> ℹ️ The LLM server did not answer") and "&lt;b&gt;" in msg
    assert "(#pa-c-0-1)" in msg and "1 sentence(s) without support" in msg


def test_highlight_marks_the_cited_sentences_and_escapes():
    from ui.render import highlight

    text = "Alpha <b>one</b> is here. Beta two follows the first one. Gamma three closes it all."
    html_ = highlight(text, [], ["Beta two follows the first one"])
    assert "<mark>Beta two follows the first one.</mark>" in html_
    assert "&lt;b&gt;one&lt;/b&gt;" in html_ and "<b>" not in html_


def test_user_message_is_inert_text():
    from ui.render import user_message

    out = user_message('<img src=x onerror="alert(1)"> [x](javascript:alert(1)) **b**')
    assert "<img" not in out and "&lt;img" in out
    assert "](javascript" not in out and "\\*\\*b\\*\\*" in out


def test_surrounding_text_of_a_report(settings):
    from ui.render import context_html, source_path

    assert source_path(settings, "../settings.py") is None
    html_ = context_html(settings, "001_45261df8c35e07ff.txt", 505, 505, radius=3)
    assert "lines 502–508" in html_ and html_.count("pa-line pa-in") == 1
    assert "not available" in context_html(settings, "missing.txt", 1, 2)


def test_about_lists_every_report(assistant):
    from ui.render import reports_html

    html_ = reports_html(assistant, {"001_45261df8c35e07ff.txt": 7})
    for r in assistant.reports:
        assert r.short_citation.replace("&", "&amp;") in html_ and r.source in html_
    assert "7 practices/recommendations" in html_


def test_practice_library_lists_and_opens_records(assistant):
    from ui import library
    from ui.render import record_card, record_list

    cat = library.get_catalogue(assistant)
    if cat is None:
        pytest.skip("no catalogue in this version of the service")
    records = library.records(cat)
    assert records
    practices = library.filter_records(cat, kind="practice", source="002_5f0ffbab9fdb2741.txt")
    assert practices and all(r.kind == "practice" and r.source == "002_5f0ffbab9fdb2741.txt" for r in practices)
    listing = record_list(practices)
    assert f"#pa-r-{practices[0].id}" in listing
    card = record_card(assistant, library.find_record(cat, practices[0].id))
    assert "<mark>" in card and practices[0].source in card
    assert library.filter_records(cat, text="zzzz-no-such-word") == []


def test_filters_for_the_service():
    from ui.library import make_filters

    assert make_filters([], [], []) is None
    f = make_filters(["004_e378ebee438f39d1.txt"], ["eu"], ["funding"])
    assert f.sources == ["004_e378ebee438f39d1.txt"]
    assert f.levels == ["eu"] and f.themes == ["funding"]


# --------------------------------------------------------------------------- storage


def test_feedback_store_is_safe_under_concurrency(store):
    errors = []

    def worker(k: int) -> None:
        try:
            for i in range(20):
                aid = f"a{k}-{i}"
                store.record_turn(aid, f"q{k}-{i}", {"answer": "x", "refused": False, "citations": []}, "w", f"p{k}", f"s{k}")
                store.record_vote(aid, "up" if i % 2 else "down", f"q{k}-{i}", "x", "w", f"p{k}", f"s{k}")
                store.add_comment(aid, f"c{i}")
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.turns("w")) == 160 and len(store.feedback("w")) == 160
    assert all(f.comment for f in store.feedback("w"))
    assert len(store.transcripts("w")) == 8
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_feedback_vote_can_be_withdrawn(store):
    store.record_vote("x1", "up", "q", "a")
    store.add_comment("x1", "  too   short  ")
    store.record_vote("x1", None, "q", "a")
    fb = store.get_feedback("x1")
    assert fb.vote is None and fb.comment == "too short"
    with pytest.raises(ValueError):
        store.record_vote("x1", "maybe", "q", "a")


# --------------------------------------------------------------------------- safety defaults


def test_public_host_needs_a_passcode():
    r = run_cli("serve", "--host", "0.0.0.0", "--port", "7999", timeout=120)
    assert r.returncode == 2 and "passcode" in r.stderr


def test_loopback_is_the_default(settings):
    from ui.app import _is_loopback

    assert settings.host == "127.0.0.1" and _is_loopback(settings.host)
    assert not _is_loopback("0.0.0.0") and _is_loopback("localhost") and _is_loopback("::1")


def test_filters_are_shown_above_the_answer_and_in_the_export(assistant, store):
    from ui.app import build_app
    from ui.render import export_markdown

    app = build_app(assistant, store=store)
    respond = handler(app, "respond")
    chat, session, *_ = last(respond("What should be done about funding?", [], None, ["004_e378ebee438f39d1.txt"], ["eu"], ["funding"]))
    msg = chat[-1]["content"]
    assert msg.startswith("> 🔎 Filters limited the search — reports: EPC 2020; levels: ") and "themes: " in msg
    md = export_markdown(session["turns"], assistant)
    assert "_Filters limited the search — reports: EPC 2020; levels: " in md
    chat, session, *_ = last(respond("What should be done about funding?", [], None, [], [], []))
    assert "Filters limited" not in chat[-1]["content"], "no note without filters"
    label = handler(app, "filters_label")(["004_e378ebee438f39d1.txt"], [], [])
    assert "1 active" in label.label and "EPC 2020" in label.label


def test_a_question_not_in_english_is_answered_in_its_language_and_stays_in_the_box(assistant, store, server):
    import gradio as gr
    from gradio_client import Client

    from ui.app import build_app

    respond = handler(build_app(assistant, store=store), "respond")
    q = "Qu'est-ce que le jumelage de villes ?"
    chat, session, box, panel, ctx, ctx_btn = last(respond(q, [], None))
    assert "Les rapports de cette base sont rédigés en anglais" in chat[-1]["content"] and "town twinning" in chat[-1]["content"]
    assert box == gr.skip(), "the question stays in the box, to be asked again in English"
    assert session["history"] == [] and session["turns"][0]["answer"]["refusal_reason"] == "language"
    chat, session, box, *_ = last(respond("كيف يمكن للبلديات دعم اندماج المهاجرين؟", chat, session))
    assert "باللغة الإنجليزية" in chat[-1]["content"] and "no words" not in chat[-1]["content"]
    # the /ask API says the same
    data = Client(server[1], verbose=False).predict(q, [], api_name="/ask")
    assert data["refused"] is True and data["refusal_reason"] == "language" and "anglais" in data["answer"]


def test_a_conversation_is_restored_only_for_its_participant(assistant, store):
    from conftest import REPO
    from test_workshop import req

    from ui.app import build_app
    from ui.workshop import load_workshop

    ws = load_workshop("funding-across-levels", REPO / "knowledge_base" / "workshops")
    app = build_app(assistant, workshop=ws, store=store)
    respond, restore = handler(app, "respond"), handler(app, "restore")
    chat0, session0, panel0, sid = restore(None, None, request=req("Amina", "tab1"))
    assert len(sid) == 32 and chat0 is not None
    q = ws.scenarios[0].questions[0]
    chat, session, *_ = last(respond(q, [], session0, [], [], [], sid, request=req("Amina", "tab1")))
    # a reload: a new Gradio session, the same browser (sid): the conversation comes back with chips and sources
    chat2, session2, panel2, sid2 = restore(sid, None, request=req("Amina", "tab2"))
    assert sid2 == sid and chat2 == chat and session2["history"] == [q] and "pa-card" in panel2
    # another participant who got hold of the id sees nothing of it
    chat3, session3, panel3, sid3 = restore(sid, None, request=req("Bram", "tab3"))
    assert session3["turns"] == [] and not isinstance(chat3, list)
    assert store.conversation(ws.name, "Bram", sid) == [] and len(store.conversation(ws.name, "Amina", sid)) == 1
