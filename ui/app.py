"""The web chat (Gradio): a thin layer over ``assistant.service.Assistant``.

Each answer's [n] markers point at the Sources panel beside the chat, which shows every cited
passage with its report, section and line span.  ``/ask`` is a documented API endpoint returning
the same Answer JSON as ``policy-assistant ask --json``.
"""

from __future__ import annotations

import html
import ipaddress
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from assistant.errors import AssistantError  # noqa: E402
from assistant.models import Answer  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402

STARTERS = [
    "How can an origin-country municipality support the integration of its emigrants abroad?",
    "What does the OSCE study recommend to national governments about funding?",
    "How do cities take part in EU migration policymaking, according to the EPC brief?",
    "What examples of city-to-city partnerships between Dutch and Moroccan municipalities are there?",
]


def sources_markdown(answer: Answer, assistant: Assistant) -> str:
    if answer.refused or not answer.citations:
        return "_No passages cited for this answer._"
    parts = []
    for c in answer.citations:
        meta = assistant.report(c.source)
        year = f", {meta.year}" if meta and meta.year else ""
        parts.append(
            f"<div class='pa-source' id='source-{c.n}'>\n\n"
            f"**[{c.n}] {html.escape(c.title)}**{year}  \n"
            f"_{html.escape(c.section or 'no section')}_ · `{c.source}` lines {c.start_line}–{c.end_line}\n\n"
            f"> {html.escape(c.text)}\n\n</div>"
        )
    return "\n\n".join(parts)


def build_app(assistant: Assistant) -> gr.Blocks:
    def respond(message: str, chat: list[dict], questions: list[str]):
        chat = list(chat or [])
        questions = list(questions or [])
        shown = html.escape(message or "")
        try:
            answer = assistant.ask(message, history=questions)
        except AssistantError as exc:
            chat += [{"role": "user", "content": shown}, {"role": "assistant", "content": f"⚠️ {html.escape(str(exc))}"}]
            return chat, questions, "", gr.update()
        questions.append(answer.question)
        chat += [{"role": "user", "content": shown}, {"role": "assistant", "content": answer.answer}]
        return chat, questions, "", sources_markdown(answer, assistant)

    def api_ask(question: str, history: list[str] | None = None) -> dict:
        """Answer a question from the reports. `history`: earlier questions, oldest first.
        Returns the Answer JSON of `policy-assistant ask --json`."""
        try:
            return assistant.ask(question, history=list(history or [])).model_dump()
        except AssistantError as exc:
            raise gr.Error(str(exc)) from exc

    with gr.Blocks(title="Integration Policy Assistant") as app:
        gr.Markdown(
            "## Integration Policy Assistant\n"
            "Answers come only from the reports in the knowledge base; every statement carries a [n] "
            "citation to the passage shown under **Sources**."
        )
        questions = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=520, sanitize_html=True)
                box = gr.Textbox(label="Your question", placeholder="Ask about integration policy…", max_lines=6)
                with gr.Row():
                    send = gr.Button("Ask", variant="primary")
                    new = gr.Button("New conversation")
                gr.Examples(STARTERS, inputs=box, label="Starter questions")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.Markdown("_Ask a question to see the cited passages._", elem_id="pa-sources")
        send.click(respond, [box, chat, questions], [chat, questions, box, sources], api_visibility="private")
        box.submit(respond, [box, chat, questions], [chat, questions, box, sources], api_visibility="private")
        new.click(lambda: ([], [], "", "_Ask a question to see the cited passages._"), None, [chat, questions, box, sources], api_visibility="private")
        gr.api(api_ask, api_name="ask")
    return app


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: Settings, host: str | None = None, port: int | None = None, passcode: str | None = None) -> int:
    host = host or settings.host
    port = port or settings.port
    if not _is_loopback(host) and not passcode:
        print(
            f"error: refusing to listen on {host} without a passcode; pass --passcode or set POLICY_ASSISTANT_PASSCODE",
            file=sys.stderr,
        )
        return 2
    assistant = Assistant(settings, progress=True)
    app = build_app(assistant)
    auth = (lambda _user, given: given == passcode) if passcode else None
    print(f"Integration Policy Assistant: http://{host}:{port}  (Ctrl+C to stop)")
    app.queue(default_concurrency_limit=4).launch(server_name=host, server_port=port, auth=auth, show_error=True, quiet=True)
    return 0
