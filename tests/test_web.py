"""The web chat's API and safety defaults (a real Gradio server on 127.0.0.1)."""

from __future__ import annotations

import socket

import pytest
from conftest import run_cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(assistant):
    from ui.app import build_app

    app = build_app(assistant)
    port = _free_port()
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield app, f"http://127.0.0.1:{port}/"
    app.close()


def test_ask_endpoint_returns_the_answer_json(server):
    from gradio_client import Client

    _, url = server
    client = Client(url, verbose=False)
    data = client.predict(
        "What was it called?",
        ["What did the city of Nuremberg do to adapt the national integration courses?"],
        api_name="/ask",
    )
    assert {"question", "answer", "refused", "citations", "retrieved", "timings_ms"} <= set(data)
    assert "ZAM" in " ".join(p["text"] for p in data["retrieved"][:5])
    refused = client.predict("What is the capital of Australia?", [], api_name="/ask")
    assert refused["refused"] is True


def test_chat_escapes_html_and_refuses_oversized_input(assistant):
    from ui.app import build_app

    respond = None
    for fn in build_app(assistant).fns.values():
        if getattr(fn, "name", "") == "respond":
            respond = fn.fn
            break
    assert respond is not None
    chat, questions, box, sources = respond("<script>alert(1)</script> What is town twinning?", [], [])
    assert "<script>" not in chat[0]["content"] and "&lt;script&gt;" in chat[0]["content"]
    chat, questions, box, sources = respond("y" * 50_000, [], [])
    assert "too long" in chat[-1]["content"] and questions == []


def test_public_host_needs_a_passcode():
    r = run_cli("serve", "--host", "0.0.0.0", "--port", "7999", timeout=120)
    assert r.returncode == 2 and "passcode" in r.stderr
