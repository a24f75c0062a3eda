"""Workshop mode: the shipped scenario files, passcodes and logins, who sees the facilitator
page, transcripts, and the serve command's refusals."""

from __future__ import annotations

import re
import types

import pytest
from conftest import REPO, run_cli
from test_web import handler, last, launch, stop

WORKSHOPS = REPO / "knowledge_base" / "workshops"


@pytest.fixture()
def store(tmp_path):
    from ui.feedback import FeedbackStore

    return FeedbackStore(tmp_path / "feedback.sqlite3")


def req(username: str | None, session: str = "s1"):
    """A stand-in for gr.Request with what the handlers read."""
    return types.SimpleNamespace(username=username, session_hash=session)


def test_shipped_workshops_are_valid():
    from ui.workshop import list_workshops, workshop_files

    files = workshop_files(WORKSHOPS)
    names = {p.stem for p in files}
    assert {"origin-country-municipalities", "funding-across-levels"} <= names
    for w, p in zip(list_workshops(WORKSHOPS), files):
        assert w.name == p.stem and w.title and w.description
        assert len(w.scenarios) >= 2 and all(s.context and len(s.questions) >= 2 for s in w.scenarios)
        assert "passcode" not in p.read_text(encoding="utf-8").split("#")[0].lower()


def test_every_workshop_question_gets_a_cited_answer(assistant):
    """The scenario questions are for the assistant: each one must be answered from the reports."""
    from ui.workshop import list_workshops

    failures = []
    for w in list_workshops(WORKSHOPS):
        for q in w.questions:
            a = assistant.ask(q)
            if a.refused or not a.citations:
                failures.append(f"{w.name}: {q} ({a.refusal_reason}, evidence {a.evidence})")
    assert not failures, "declined:\n" + "\n".join(failures)


def test_workshop_files_are_checked(tmp_path):
    from assistant.errors import InputError
    from ui.workshop import load_workshop

    (tmp_path / "a.yaml").write_text("name: a\ntitle: A\npasscode: secret\nscenarios: [{title: t, questions: [q]}]\n")
    (tmp_path / "b.yaml").write_text("name: Bad Name\ntitle: B\nscenarios: []\n")
    with pytest.raises(InputError, match="passcodes do not belong"):
        load_workshop("a", tmp_path)
    with pytest.raises(InputError, match="not a valid workshop"):
        load_workshop("b", tmp_path)
    with pytest.raises(InputError, match="unknown workshop 'c'; available: a, b"):
        load_workshop("c", tmp_path)


def test_logins():
    from ui.workshop import make_auth

    auth = make_auth("join-me", "fac-only")
    assert auth("Amina", "join-me") and auth("  Jan de Vries ", "join-me")
    assert not auth("Amina", "fac-only") and not auth("Amina", "") and not auth("", "join-me")
    assert not auth("x" * 41, "join-me")
    assert auth("facilitator", "fac-only") and auth(" Facilitator", "fac-only")
    assert not auth("facilitator", "join-me"), "nobody becomes the facilitator with the participants' passcode"
    assert make_auth("pass")("anyone", "pass") and not make_auth("pass")("anyone", "wrong")


def test_participants_have_their_own_conversations_and_the_facilitator_sees_all(assistant, store):
    import gradio as gr

    from ui.app import build_app, transcripts_markdown
    from ui.workshop import load_workshop

    ws = load_workshop("funding-across-levels", WORKSHOPS)
    app = build_app(assistant, workshop=ws, store=store)
    respond, facilitator_view, facilitator_export = (handler(app, n) for n in ("respond", "facilitator_view", "facilitator_export"))
    q1, q2 = ws.scenarios[0].questions[0], ws.scenarios[1].questions[0]
    chat_a, sess_a, *_ = last(respond(q1, [], None, request=req("Amina", "sa")))
    chat_b, sess_b, *_ = last(respond("<b>" + q2, [], None, request=req("Bram", "sb")))
    assert sess_a["history"] == [q1] and sess_b["history"] == ["<b>" + q2]
    turns = store.turns(ws.name)
    assert [(t.participant, t.session) for t in turns] == [("Amina", "sa"), ("Bram", "sb")]

    assert facilitator_view(request=req("Amina")) == (gr.skip(),) * 3, "participants get nothing from the facilitator view"
    summary, questions_html, feedback_html = facilitator_view(request=req("facilitator"))
    assert "**2** questions from **2** participant(s)" in summary
    assert "Amina" in questions_html and "&lt;b&gt;" in questions_html and "<b>" + q2 not in questions_html

    md = transcripts_markdown(store, assistant, ws)
    assert md.count("## Conversation") == 2 and "Amina" in md and "Bram" in md
    assert q1 in md and "`" in md and "lines" in md
    update = facilitator_export(request=req("facilitator"))
    assert update["visible"] is True and "download='workshop-funding-across-levels-transcripts-" in update["value"]
    token = re.search(r"href='export/([\w-]+)'", update["value"]).group(1)  # held in memory, for the facilitator only
    assert app.pa_web.exports.get(token, "facilitator").data.decode("utf-8").count("## Conversation") == 2
    assert app.pa_web.exports.get(token, "Amina") is None
    assert facilitator_export(request=req("Amina"))["visible"] is False


def test_facilitator_page_is_only_for_the_facilitator(assistant, store):
    from ui.app import build_app
    from ui.workshop import load_workshop

    app = build_app(assistant, workshop=load_workshop("origin-country-municipalities", WORKSHOPS), store=store)
    on_load = handler(app, "on_load")
    tab, timer, tabs, hello = on_load(request=req("Amina"))
    assert "Amina" in hello and "log out" in hello
    tab, timer, tabs, hello = on_load(request=req("facilitator"))
    assert tab["visible"] is True


def test_workshop_api_needs_a_login(assistant, store):
    from gradio_client import Client

    from ui.app import build_app
    from ui.workshop import load_workshop

    app = build_app(assistant, workshop=load_workshop("funding-across-levels", WORKSHOPS), store=store)
    url = launch(app, passcode="join-me", facilitator_passcode="fac-only")
    try:
        with pytest.raises(Exception):
            Client(url, verbose=False).predict("What is town twinning?", [], api_name="/ask")
        with pytest.raises(Exception):
            Client(url, auth=("Amina", "wrong"), verbose=False).predict("What is town twinning?", [], api_name="/ask")
        data = Client(url, auth=("Amina", "join-me"), verbose=False).predict("What is town twinning?", [], api_name="/ask")
        assert "answer" in data
        # mounted in the one app, the passcode also works as a Bearer token (as for the other doors)
        bearer = Client(url, headers={"Authorization": "Bearer join-me"}, verbose=False)
        assert bearer.predict("What is town twinning?", [], api_name="/ask")["citations"] == data["citations"]
    finally:
        stop(app)


def test_serve_refuses_unknown_workshops_and_public_hosts_without_passcode(settings, capsys):
    from ui.app import serve

    r = run_cli("serve", "--workshop", "no-such-workshop", "--port", "7998", timeout=120)
    assert r.returncode == 2 and "unknown workshop" in r.stderr and "funding-across-levels" in r.stderr
    # the other refusals happen before anything is loaded: checked in-process
    assert serve(settings, host="0.0.0.0", port=7998, workshop="funding-across-levels") == 2
    assert "without a passcode" in capsys.readouterr().err
    assert serve(settings, port=7998, passcode="same", workshop="funding-across-levels", facilitator_passcode="same") == 2
    assert "must differ" in capsys.readouterr().err
