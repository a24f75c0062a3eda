"""The web chat (Gradio): a thin class over ``assistant.service.Assistant``.

``WebChat`` builds one tab per method (``_chat_tab``, ``_library_tab``, ``_about_tab``,
``_facilitator_tab``), wires each tab's events in one place next to it, and handles them with
methods that only call the service, the catalogue and the feedback store; every piece of HTML
comes from ``ui/render.py`` and the page's CSS and script from ``ui/assets/``.

Tabs: **Chat** (streaming answers whose [n] markers are chips that open the cited passage in the
Sources panel — a drawer on narrow screens —, filters, starter questions that ask on click,
👍/👎 with a comment, Markdown export; in a workshop a participant's conversation comes back
after a reload), **Practice library**, **About the sources** and, in workshop mode,
**Facilitator** (live questions and feedback, any participant's conversation with its answers
and citations, export of every transcript; only for the facilitator login).

``/ask`` is a documented API endpoint returning the same Answer JSON as
``policy-assistant ask --json``. ``serve`` mounts the chat at ``/`` of one ASGI application
(``ui/server.py``) that also serves the OpenAI-compatible, REST and MCP doors behind the same
passcode (``assistant/api/access.py``).

Safe by default: 127.0.0.1 unless ``--host`` and a passcode; the user's words are escaped before
they reach the chat, and a report's words (quotes, titles, sections) are made inert
(``assistant/inert.py``: no link, image, HTML or entity of a report becomes active; Gradio then
sanitises the chat's Markdown, with LaTeX off); everything in the HTML panels is escaped in
``ui/render.py``; oversized questions are refused with a message by the service. Exports are held
in memory for the user who made them (``ui/exports.py``), never written to disk.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import sys
import threading
import time
import uuid

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from assistant import language  # noqa: E402
from assistant.errors import AssistantError, InputError  # noqa: E402
from assistant.guard import clean_question  # noqa: E402
from assistant.inert import inert_markdown  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.domain import get_domain  # noqa: E402
from assistant.taxonomy import LEVELS, THEMES  # noqa: E402
from ui import library, render  # noqa: E402
from ui.exports import ROUTE as EXPORT_ROUTE, ExportStore  # noqa: E402
from ui.feedback import MAX_COMMENT_CHARS, FeedbackStore, feedback_path  # noqa: E402, F401 - feedback_path re-exported
from ui.workshop import (  # noqa: E402
    Workshop,
    clean_participant_name,
    is_facilitator_name,
    load_workshop,
    new_passcode,
)

log = logging.getLogger(__name__)

STARTERS = list(get_domain().starters)  # knowledge_base/domain/documents.yaml

STREAM_MIN_INTERVAL_S = 0.05  # at most ~20 chat updates a second while an answer streams
THINKING = "_Searching the reports…_"
_SID = re.compile(r"[0-9a-f]{32}")


def page_js(prefix: str, label: str) -> str:
    """The page's script for one source panel (key prefix, accessible name of the panel)."""
    return (
        render.PAGE_JS.replace("__PREFIX__", json.dumps(prefix))
        .replace("__LABEL__", json.dumps(label))
        .replace("__CSS__", json.dumps(render.CSS))
    )


def _new_session(session: dict | None = None) -> dict:
    if session and "turns" in session:
        return session
    return {"turns": [], "history": [], "msg_turn": {}, "open": None, "pending": None, "sid": None}


def _who(request: gr.Request | None) -> tuple[str | None, str | None]:
    if request is None:
        return None, None
    user = getattr(request, "username", None)
    return (clean_participant_name(user) or None) if user else None, getattr(request, "session_hash", None)


def _event_key(evt: gr.EventData | None) -> str:
    data = getattr(evt, "_data", None) or {}
    return str(data.get("key", "")) if isinstance(data, dict) else ""


def _owner(request: gr.Request | None) -> str | None:
    """Who an export belongs to: the login name as Gradio has it (None on a server without a passcode)."""
    if request is None:
        return None
    return getattr(request, "username", None) or None


class WebChat:
    """The web chat over one Assistant. ``build()`` returns the Gradio app."""

    def __init__(self, assistant: Assistant, workshop: Workshop | None = None, store: FeedbackStore | None = None):
        self.assistant = assistant
        self.settings = assistant.settings
        self.workshop = workshop
        self.ws_name = workshop.name if workshop else None
        self.store = store if store is not None else FeedbackStore(feedback_path(self.settings))
        self.exports = ExportStore(self.settings.web.export_ttl_s, self.settings.web.export_max_bytes)
        self.concurrency = max(1, min(40, self.settings.web_concurrency))
        self.radius = self.settings.source_context_lines
        self.report_choices = [(f"{r.short_citation} — {r.title[:70]}", r.source) for r in assistant.reports]
        self.level_choices = [(t.name, t.id) for t in LEVELS]
        self.theme_choices = [(t.name, t.id) for t in THEMES]
        self.title = "Integration Policy Assistant" + (f" — workshop: {workshop.title}" if workshop else "")

    # ================================================================== layout
    def build(self) -> gr.Blocks:
        threading.Thread(target=language.warm_up, daemon=True).start()  # the language model, before the first question
        with gr.Blocks(title=self.title) as app:
            gr.HTML(
                f"<div class='pa-title'><h1>{render.esc(self.title)}</h1><p>Answers come only from the reports in the "
                "knowledge base; every statement carries a [n] marker — click it to see the passage it comes from.</p></div>",
                apply_default_css=False,
                js_on_load=None,
                elem_id="pa-header",
            )
            self.hello = gr.Markdown("", elem_id="pa-hello")
            self.session = gr.State(None)
            # this browser's conversation id (localStorage): a workshop participant's conversation comes back after a reload
            self.sid = gr.BrowserState(None, storage_key=f"pa-conversation-{self.ws_name or 'chat'}")
            with gr.Tabs(selected="chat") as self.tabs:
                self._chat_tab()
                self._library_tab()
                self._about_tab()
                self._facilitator_tab()
            self._chat_events(app)
            self._library_events()
            self._facilitator_events(app)
            gr.api(self.api_ask, api_name="ask", concurrency_limit=self.concurrency, concurrency_id="answer")
        app.pa_store = self.store  # for tests and the facilitator export
        app.pa_web = self
        return app

    @staticmethod
    def _chatbot(label: str, elem_id: str, placeholder: str) -> gr.Chatbot:
        """A conversation view: answers are rendered inert (no HTML tags, no LaTeX) and grow with the
        page up to most of the screen."""
        return gr.Chatbot(
            label=label,
            height=None,
            min_height=140,
            max_height="72vh",
            sanitize_html=True,
            allow_tags=False,
            latex_delimiters=[],
            elem_id=elem_id,
            buttons=["copy"],
            placeholder=placeholder,
        )

    @staticmethod
    def _close_button(label: str) -> gr.Button:
        """The drawer's close button (shown on narrow screens only): client-side, no server call."""
        btn = gr.Button(label, size="sm", elem_classes=["pa-drawer-close"])
        btn.click(None, None, None, js="() => { if (window.__pa && window.__pa.close) window.__pa.close(); }")
        return btn

    def _question_buttons(self, questions: list[str], title: str) -> None:
        """Starter or scenario questions: each a button showing the whole question; a click asks it."""
        gr.Markdown(f"### {render.user_message(title)}", elem_classes=["pa-starters-title"])
        for q in questions:
            self.question_buttons.append((gr.Button(q, size="sm", elem_classes=["pa-starter"]), q))

    def _chat_tab(self) -> None:
        ws = self.workshop
        self.question_buttons: list[tuple[gr.Button, str]] = []
        with gr.Tab("Chat", id="chat"):
            with gr.Row(elem_id="pa-chat-row", equal_height=False):
                with gr.Column(scale=3, min_width=280):
                    if ws is not None:
                        with gr.Accordion(f"Workshop scenarios — {ws.title}", open=True, elem_id="pa-scenarios"):
                            if ws.description:
                                gr.Markdown(ws.description)
                    self.chat = self._chatbot(
                        "Conversation",
                        "pa-chat",
                        "Ask a question about integration policy, or pick "
                        + ("a scenario question below." if ws else "a starter question below."),
                    )
                    self.box = gr.Textbox(
                        label="Your question",
                        placeholder="Ask about integration policy…",
                        max_lines=6,
                        elem_id="pa-question",
                        submit_btn=False,
                    )
                    with gr.Row():
                        self.send = gr.Button("Ask", variant="primary", elem_id="pa-ask", min_width=120)
                        self.new = gr.Button("New conversation", elem_id="pa-new", min_width=120)
                        self.export = gr.Button("Export as Markdown", elem_id="pa-export", min_width=120)
                    self.export_file = gr.HTML("", visible=False, elem_id="pa-export-file", apply_default_css=False, js_on_load=None)
                    with gr.Row(visible=False, elem_id="pa-feedback-row") as self.fb_row:
                        self.fb_comment = gr.Textbox(label="Add a comment (optional)", max_lines=3, max_length=MAX_COMMENT_CHARS, scale=4, elem_id="pa-comment")
                        self.fb_send = gr.Button("Send feedback", scale=1, elem_id="pa-comment-send")
                    self.fb_status = gr.Markdown("", elem_id="pa-feedback-status")
                    with gr.Accordion("Filters (none: all reports, levels and themes)", open=False, elem_id="pa-filters") as self.filters_box:
                        self.f_reports = gr.Dropdown(self.report_choices, multiselect=True, label="Only these reports", value=[], elem_id="pa-f-reports")
                        self.f_levels = gr.Dropdown(self.level_choices, multiselect=True, label="Level of government (who acts or is addressed)", value=[], elem_id="pa-f-levels")
                        self.f_themes = gr.Dropdown(self.theme_choices, multiselect=True, label="Theme", value=[], elem_id="pa-f-themes")
                    if ws is not None:
                        for i, sc in enumerate(ws.scenarios, 1):
                            with gr.Accordion(f"Scenario {i}: {sc.title}", open=i == 1):
                                gr.Markdown(sc.context)
                                self._question_buttons(sc.questions, "Questions for the assistant")
                                if sc.discussion:
                                    gr.Markdown("**For the group:**\n" + "\n".join(f"- {d}" for d in sc.discussion))
                    else:
                        self._question_buttons(STARTERS, "Starter questions")
                with gr.Column(scale=2, min_width=280, elem_id="pa-sources-col", elem_classes=["pa-drawer"]):
                    self._close_button("Close the sources")
                    gr.Markdown("## Sources", elem_classes=["pa-sources-title"])
                    self.panel = gr.HTML(render.EMPTY_PANEL, elem_id="pa-sources", js_on_load=page_js("c", "Sources"), apply_default_css=False)
                    self.ctx_btn = gr.Button("Show the surrounding text", visible=False, size="sm", elem_id="pa-context-btn")
                    self.ctx = gr.HTML("", elem_id="pa-context", apply_default_css=False, js_on_load=None)

    def _library_tab(self) -> None:
        with gr.Tab("Practice library", id="library") as self.lib_tab:
            gr.Markdown("Practices (what an actor did, where) and recommendations (what a report says someone should do), each with the passage it comes from. Click the citation to open it.")
            with gr.Row():
                self.lib_kind = gr.Radio([("all", ""), ("practices", "practice"), ("recommendations", "recommendation")], value="", label="Kind")
                self.lib_level = gr.Dropdown([("any", "")] + self.level_choices, value="", label="Level")
                self.lib_theme = gr.Dropdown([("any", "")] + self.theme_choices, value="", label="Theme")
            with gr.Row():
                self.lib_report = gr.Dropdown([("any", "")] + [(r.short_citation, r.source) for r in self.assistant.reports], value="", label="Report")
                self.lib_country = gr.Dropdown([("any", "")], value="", label="Country")
                self.lib_text = gr.Textbox(label="Words", placeholder=get_domain().library_placeholder)
            with gr.Row(elem_id="pa-library-row", equal_height=False):
                with gr.Column(scale=3, min_width=280):
                    self.lib_list = gr.HTML("<p class='pa-empty'>Loading the library…</p>", elem_id="pa-library-list", apply_default_css=False, js_on_load=None)
                with gr.Column(scale=2, min_width=280, elem_id="pa-library-col", elem_classes=["pa-drawer"]):
                    self._close_button("Close the passage")
                    self.lib_panel = gr.HTML(
                        "<p class='pa-empty'>Click a citation to see its passage.</p>",
                        elem_id="pa-library-panel",
                        js_on_load=page_js("r", "Passage of the practice or recommendation"),
                        apply_default_css=False,
                    )
                    self.lib_open = gr.State(None)
                    self.lib_ctx_btn = gr.Button("Show the surrounding text", visible=False, size="sm", elem_id="pa-library-context-btn")
                    self.lib_ctx = gr.HTML("", elem_id="pa-library-context", apply_default_css=False, js_on_load=None)

    def _about_tab(self) -> None:
        with gr.Tab("About the sources", id="about") as self.about_tab:
            gr.Markdown(
                "The assistant answers only from these reports, which are in English (ask in English). Citations "
                "name the report, its section and the line span of the report's text file."
            )
            self.about = gr.HTML(render.reports_html(self.assistant), elem_id="pa-about", apply_default_css=False, js_on_load=None)

    def _facilitator_tab(self) -> None:
        self.fac_tab = None
        if self.workshop is None:
            return
        with gr.Tab("Facilitator", id="facilitator", visible=False) as self.fac_tab:
            gr.Markdown(
                f"## {render.user_message(self.workshop.title)} — live\n"
                "Questions and feedback of every participant, and any participant's conversation, refreshed every few seconds."
            )
            self.fac_summary = gr.Markdown("", elem_id="pa-fac-summary")
            self.fac_export = gr.Button("Export every transcript (Markdown)", elem_id="pa-fac-export")
            self.fac_file = gr.HTML("", visible=False, elem_id="pa-fac-file", apply_default_css=False, js_on_load=None)
            with gr.Row(elem_id="pa-fac-row", equal_height=False):
                with gr.Column(scale=3, min_width=280):
                    self.fac_pick = gr.Dropdown([], value=None, label="Open a participant's conversation", elem_id="pa-fac-pick", interactive=True)
                    self.fac_chat = self._chatbot(
                        "The participant's conversation",
                        "pa-fac-chat",
                        "Choose a conversation above: its questions, answers and citations appear here.",
                    )
                with gr.Column(scale=2, min_width=280, elem_id="pa-fac-col", elem_classes=["pa-drawer"]):
                    self._close_button("Close the sources")
                    gr.Markdown("### Sources of the conversation")
                    self.fac_panel = gr.HTML(
                        "<p class='pa-empty'>Click a [n] marker of an answer to see its passage.</p>",
                        elem_id="pa-fac-sources",
                        js_on_load=page_js("f", "Sources of the participant's conversation"),
                        apply_default_css=False,
                    )
            self.fac_opened = gr.State(None)
            gr.Markdown("### Questions (newest first)")
            self.fac_questions = gr.HTML("", elem_id="pa-fac-q", apply_default_css=False, js_on_load=None)
            gr.Markdown("### Feedback (newest first)")
            self.fac_feedback = gr.HTML("", elem_id="pa-fac-fb", apply_default_css=False, js_on_load=None)
            self.timer = gr.Timer(3.0, active=False)

    # ================================================================== events
    def _chat_events(self, app: gr.Blocks) -> None:
        private = dict(api_visibility="private")
        ask_inputs = [self.box, self.chat, self.session, self.f_reports, self.f_levels, self.f_themes, self.sid]
        ask_outputs = [self.chat, self.session, self.box, self.panel, self.ctx, self.ctx_btn]
        answer = dict(concurrency_limit=self.concurrency, concurrency_id="answer", **private)
        for trigger in (self.send.click, self.box.submit):
            trigger(self.respond, ask_inputs, ask_outputs, **answer)
        for btn, q in self.question_buttons:
            btn.click(self._fill(q), None, [self.box], queue=False, **private).then(self.respond, ask_inputs, ask_outputs, **answer)
        reset_outputs = [self.chat, self.session, self.box, self.panel, self.ctx, self.ctx_btn, self.fb_row, self.fb_status, self.export_file, self.sid]
        self.new.click(self.new_conversation, None, reset_outputs, **private)
        self.chat.clear(self.new_conversation, None, reset_outputs, **private)
        self.panel.click(self.open_citation, [self.session], [self.panel, self.session, self.ctx, self.ctx_btn], **private)
        self.ctx_btn.click(self.show_context, [self.session], [self.ctx], **private)
        fb_outputs = [self.fb_row, self.fb_comment, self.fb_status, self.session]
        self.chat.like(self.on_like, [self.session], fb_outputs, **private)
        self.fb_send.click(self.send_comment, [self.fb_comment, self.session], fb_outputs, **private)
        self.fb_comment.submit(self.send_comment, [self.fb_comment, self.session], fb_outputs, **private)
        self.export.click(self.export_chat, [self.session], [self.export_file], **private)
        for comp in (self.f_reports, self.f_levels, self.f_themes):
            comp.change(self.filters_label, [self.f_reports, self.f_levels, self.f_themes], [self.filters_box], queue=False, **private)
        app.load(self.restore, [self.sid, self.session], [self.chat, self.session, self.panel, self.sid], **private)

    def _library_events(self) -> None:
        private = dict(api_visibility="private")
        lib_inputs = [self.lib_kind, self.lib_level, self.lib_theme, self.lib_report, self.lib_country, self.lib_text]
        lib_outputs = [self.lib_list, self.lib_country]
        self.lib_tab.select(self.library_view, lib_inputs, lib_outputs, **private)
        for comp in (self.lib_kind, self.lib_level, self.lib_theme, self.lib_report, self.lib_country):
            comp.change(self.library_view, lib_inputs, lib_outputs, **private)
        self.lib_text.submit(self.library_view, lib_inputs, lib_outputs, **private)
        self.lib_panel.click(self.open_record, None, [self.lib_panel, self.lib_open, self.lib_ctx, self.lib_ctx_btn], **private)
        self.lib_ctx_btn.click(self.record_context, [self.lib_open], [self.lib_ctx], **private)
        self.about_tab.select(self.about_view, None, [self.about], **private)

    def _facilitator_events(self, app: gr.Blocks) -> None:
        if self.workshop is None:
            return
        private = dict(api_visibility="private")
        app.load(self.on_load, None, [self.fac_tab, self.timer, self.tabs, self.hello], **private)
        live = [self.fac_summary, self.fac_questions, self.fac_feedback]
        conv = [self.fac_pick, self.fac_chat, self.fac_panel, self.fac_opened]
        self.timer.tick(self.facilitator_view, None, live, **private)
        self.timer.tick(self.facilitator_refresh, [self.fac_pick, self.fac_opened], conv, **private)
        self.fac_tab.select(self.facilitator_view, None, live, **private)
        self.fac_tab.select(self.facilitator_refresh, [self.fac_pick, self.fac_opened], conv, **private)
        self.fac_pick.input(self.facilitator_open, [self.fac_pick], [self.fac_chat, self.fac_panel, self.fac_opened], **private)
        self.fac_panel.click(self.facilitator_citation, [self.fac_opened], [self.fac_panel], **private)
        self.fac_export.click(self.facilitator_export, None, [self.fac_file], **private)
    # (handlers below, grouped by tab)

    # ================================================================== chat
    @staticmethod
    def _fill(question: str):
        def fill_question():
            return question

        return fill_question

    def _filter_labels(self, f_reports, f_levels, f_themes) -> dict[str, list[str]]:
        """The chosen filters by their readable names ({} when none is chosen)."""
        filters = library.make_filters(f_reports, f_levels, f_themes)
        return filters.describe(self.assistant.reports) if filters is not None else {}

    def filters_label(self, f_reports, f_levels, f_themes):
        chosen = self._filter_labels(f_reports, f_levels, f_themes)
        n = sum(len(v) for v in chosen.values())
        return gr.Accordion(label=f"Filters ({n} active: {render.filters_note(chosen).split('— ', 1)[-1].rstrip('.')})" if n else "Filters (none: all reports, levels and themes)")

    def _conversation_id(self, sid, session: dict, request) -> str | None:
        if isinstance(sid, str) and _SID.fullmatch(sid):
            return sid
        return session.get("sid") or _who(request)[1]

    def _add_turn(self, session: dict, chat: list, data: dict, participant, conv_id) -> int:
        turn = len(session["turns"])
        answer_id = uuid.uuid4().hex
        session["turns"].append({"id": answer_id, "question": data["question"], "answer": data})
        if data.get("refusal_reason") != "language":
            session["history"].append(data["question"])
        session["msg_turn"][str(len(chat) - 1)] = turn
        if self.workshop is not None:
            try:
                self.store.record_turn(answer_id, data["question"], data, self.ws_name, participant, conv_id)
            except Exception:
                log.exception("could not store the workshop turn")
        return turn

    def respond(self, message, chat, session, f_reports=None, f_levels=None, f_themes=None, sid=None, request: gr.Request = None):
        """Ask the service; outputs: chat, session, question box, source panel, surrounding text, its button."""
        settings = self.settings
        chat = list(chat or [])
        session = _new_session(session)
        keep = (gr.skip(),) * 3
        if not (message or "").strip():
            gr.Warning("Type a question first (or pick one of the questions below).")
            yield list(chat), session, gr.skip(), *keep
            return
        participant, _ = _who(request)
        conv_id = self._conversation_id(sid, session, request)
        shown = message if len(message) <= settings.max_question_chars else message[:600] + " …"
        try:  # refuse empty / oversized questions at once, without echoing 50,000 characters; the box keeps the text
            question = clean_question(message, settings.max_question_chars)
        except InputError as exc:
            chat += [{"role": "user", "content": render.user_message(shown)}, {"role": "assistant", "content": f"⚠️ {render.user_message(str(exc))}"}]
            yield list(chat), session, gr.skip(), *keep
            return
        check = language.recognise(question)
        if not check.english:  # the reports are in English: say so in the question's language; the box keeps the question
            data = language.declined_answer(question, check).model_dump(exclude={"retrieved"})
            chat += [{"role": "user", "content": render.user_message(question)}, {"role": "assistant", "content": check.message}]
            self._add_turn(session, chat, data, participant, conv_id)
            yield list(chat), session, gr.skip(), "<p class='pa-empty'>No passages: the question was not searched.</p>", "", gr.update(visible=False)
            return
        filters = library.make_filters(f_reports, f_levels, f_themes)
        chat = chat + [{"role": "user", "content": render.user_message(shown)}, {"role": "assistant", "content": THINKING}]
        yield list(chat), session, "", *keep
        answer, text, last = None, "", 0.0
        try:
            for item in self.assistant.stream(message, history=list(session["history"]), filters=filters):
                if isinstance(item, str):
                    text += item
                    if time.monotonic() - last >= STREAM_MIN_INTERVAL_S:
                        last = time.monotonic()
                        chat[-1] = {"role": "assistant", "content": inert_markdown(text) + " ▌"}
                        yield list(chat), session, gr.skip(), *keep
                else:
                    answer = item
        except AssistantError as exc:
            chat[-1] = {"role": "assistant", "content": f"⚠️ {render.user_message(str(exc))}"}
            yield list(chat), session, message, *keep
            return
        except Exception:  # never leave the user with a spinner
            log.exception("answering failed")
            chat[-1] = {"role": "assistant", "content": "⚠️ Something went wrong while answering; please try again."}
            yield list(chat), session, message, *keep
            return
        if answer is None:
            chat[-1] = {"role": "assistant", "content": "⚠️ No answer came back; please try again."}
            yield list(chat), session, message, *keep
            return
        data = answer.model_dump(exclude={"retrieved"})  # its "filters" are shown above it and kept in the export
        turn = len(session["turns"])
        chat[-1] = {"role": "assistant", "content": render.answer_message(data, turn, render.chip_labels(self.assistant, data))}
        self._add_turn(session, chat, data, participant, conv_id)
        first = data["citations"][0]["n"] if data.get("citations") else None
        session["open"] = [turn, first] if first is not None else None
        panel = render.sources_panel(self.assistant, data, turn, selected=first)
        ctx_btn = gr.update(visible=first is not None, value=f"Show the surrounding text of [{first}]" if first else "")
        yield list(chat), session, "", panel, "", ctx_btn

    def open_citation(self, session, evt: gr.EventData):
        """A chip was clicked: show that passage (key 'c-<turn>-<n>')."""
        session = _new_session(session)
        m = re.fullmatch(r"c-(\d{1,4})-(\d{1,3})", _event_key(evt))
        if not m:
            return gr.skip(), session, gr.skip(), gr.skip()
        t, n = int(m.group(1)), int(m.group(2))
        if t >= len(session["turns"]):
            return render.single_source(self.assistant, {}, n, t), session, "", gr.update(visible=False)
        session["open"] = [t, n]
        html_ = render.single_source(self.assistant, session["turns"][t]["answer"], n, t)
        return html_, session, "", gr.update(visible=True, value=f"Show the surrounding text of [{n}]")

    def show_context(self, session):
        session = _new_session(session)
        if not session.get("open"):
            return "<p class='pa-empty'>Open a citation first.</p>"
        t, n = session["open"]
        if t >= len(session["turns"]):
            return ""
        for c in session["turns"][t]["answer"].get("citations", []):
            if c["n"] == n:
                return render.context_html(self.settings, c["source"], c["start_line"], c["end_line"], self.radius, title=c.get("title", ""))
        return ""

    def new_conversation(self):
        session = _new_session()
        session["sid"] = uuid.uuid4().hex
        return [], session, "", render.EMPTY_PANEL, "", gr.update(visible=False), gr.update(visible=False), "", gr.update(visible=False, value=""), session["sid"]

    def restore(self, sid, session, request: gr.Request = None):
        """On page load: this browser's conversation id (kept in its localStorage), and in a
        workshop the participant's conversation back from the server — only the turns of this
        conversation id *and* this login. Outputs: chat, session, source panel, conversation id."""
        session = _new_session(session)
        if not (isinstance(sid, str) and _SID.fullmatch(sid)):
            sid = uuid.uuid4().hex
        session["sid"] = sid
        participant, _ = _who(request)
        if self.workshop is None or not participant or is_facilitator_name(participant) or session["turns"]:
            return gr.skip(), session, gr.skip(), sid
        stored = self.store.conversation(self.ws_name, participant, sid)
        if not stored:
            return gr.skip(), session, gr.skip(), sid
        chat: list[dict] = []
        for t in stored:
            data = t.answer_json
            chat.append({"role": "user", "content": render.user_message(t.question)})
            chat.append({"role": "assistant", "content": render.answer_message(data, len(session["turns"]), render.chip_labels(self.assistant, data))})
            turn = len(session["turns"])
            session["turns"].append({"id": t.answer_id, "question": t.question, "answer": data})
            if data.get("refusal_reason") != "language":
                session["history"].append(t.question)
            session["msg_turn"][str(len(chat) - 1)] = turn
        last = session["turns"][-1]["answer"]
        first = last["citations"][0]["n"] if last.get("citations") else None
        session["open"] = [len(session["turns"]) - 1, first] if first is not None else None
        return chat, session, render.sources_panel(self.assistant, last, len(session["turns"]) - 1, selected=first), sid

    # ================================================================== feedback and export
    def on_like(self, session, data: gr.LikeData, request: gr.Request = None):
        session = _new_session(session)
        idx = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        turn = session["msg_turn"].get(str(idx))
        if turn is None:
            return gr.skip(), gr.skip(), "", session
        t = session["turns"][turn]
        liked = data.liked
        vote = "up" if liked in (True, "Like") else "down" if liked in (False, "Dislike") else None
        participant, sess = _who(request)
        self.store.record_vote(t["id"], vote, t["question"], t["answer"].get("answer", ""), self.ws_name, participant, session.get("sid") or sess)
        t["vote"] = vote
        session["pending"] = turn
        if vote is None:
            return gr.update(visible=False), "", "Vote withdrawn.", session
        label = "👍" if vote == "up" else "👎"
        return gr.update(visible=True), gr.update(value="", label=f"{label} Thanks! Add a comment on answer {turn + 1} (optional)"), "", session

    def send_comment(self, comment, session, request: gr.Request = None):
        session = _new_session(session)
        turn = session.get("pending")
        if turn is None or turn >= len(session["turns"]):
            return gr.update(visible=False), gr.skip(), "Vote on an answer first.", session
        t = session["turns"][turn]
        participant, sess = _who(request)
        if (comment or "").strip():
            t["comment"] = self.store.add_comment(t["id"], comment, t["question"], t["answer"].get("answer", ""), self.ws_name, participant, session.get("sid") or sess)
        return gr.update(visible=False), "", "Thank you — your feedback was saved.", session

    def export_chat(self, session, request: gr.Request = None):
        session = _new_session(session)
        participant, _ = _who(request)
        meta = {}
        if self.workshop is not None:
            meta["Workshop"] = self.workshop.title
            if participant:
                meta["Participant"] = participant
        md = render.export_markdown(session["turns"], self.assistant, meta=meta)
        return self._export(request, f"conversation-{time.strftime('%Y%m%d-%H%M%S')}.md", md, "Download the conversation")

    def _export(self, request, filename: str, md: str, label: str):
        """A download link to ``md``, held in memory for this user only (``ui/exports.py``)."""
        token = self.exports.put(_owner(request), filename, md)
        return gr.update(value=render.download_link(f"{EXPORT_ROUTE}/{token}", filename, label), visible=True)

    # ================================================================== practice library, about
    def library_view(self, kind, level, theme, source, country, text):
        cat = library.get_catalogue(self.assistant)
        found = library.filter_records(cat, kind, level or None, theme or None, country or None, source or None, text)
        choices = [("any", "")] + [(c, c) for c in library.countries(cat)]
        return render.record_list(found, total=len(found)), gr.update(choices=choices)

    def open_record(self, evt: gr.EventData):
        key = _event_key(evt)
        if not key.startswith("r-"):
            return gr.skip(), None, gr.skip(), gr.skip()
        rec = library.find_record(library.get_catalogue(self.assistant), key[2:])
        if rec is None:
            return "<p class='pa-empty'>That record is not in the catalogue any more.</p>", None, "", gr.update(visible=False)
        return render.record_card(self.assistant, rec), rec.id, "", gr.update(visible=True)

    def record_context(self, rid):
        rec = library.find_record(library.get_catalogue(self.assistant), rid) if rid else None
        if rec is None:
            return "<p class='pa-empty'>Open a practice or recommendation first.</p>"
        return render.context_html(self.settings, rec.source, rec.start_line, rec.end_line, self.radius, title=rec.title)

    def about_view(self):
        return render.reports_html(self.assistant, library.record_counts(library.get_catalogue(self.assistant)))

    # ================================================================== facilitator
    def _facilitator(self, request: gr.Request | None) -> bool:
        return self.workshop is not None and request is not None and is_facilitator_name(getattr(request, "username", None))

    def facilitator_view(self, request: gr.Request = None):
        if not self._facilitator(request):
            return gr.skip(), gr.skip(), gr.skip()
        turns = self.store.turns(self.ws_name)
        fb = self.store.feedback(self.ws_name)
        return render.facilitator_summary(turns, fb), render.facilitator_questions(turns), render.facilitator_feedback(fb)

    def _conversations(self) -> dict[str, tuple[str, list]]:
        """key -> (participant, turns) of every conversation of the workshop, in the order they started."""
        return {json.dumps([p, s]): (p, turns) for (p, s), turns in self.store.transcripts(self.ws_name).items()}

    def _open_conversation(self, key: str, turns: list) -> tuple[list[dict], str, dict]:
        stored = [{"question": t.question, "answer": t.answer_json} for t in turns]
        chat = render.conversation_messages(stored, self.assistant, prefix="f")
        last = turns[-1].answer_json if turns else {}
        first = last["citations"][0]["n"] if last.get("citations") else None
        panel = render.sources_panel(self.assistant, last, len(turns) - 1, selected=first) if turns else ""
        return chat, panel, {"key": key, "count": len(turns)}

    def facilitator_refresh(self, pick, opened, request: gr.Request = None):
        """Live: the list of conversations, and the open one with its new answers. Outputs: the
        conversation picker, its chat, its sources, what is open."""
        if not self._facilitator(request):
            return (gr.skip(),) * 4
        convs = self._conversations()
        choices = [(render.conversation_choice(p, turns), key) for key, (p, turns) in convs.items()]
        opened = dict(opened or {})
        signature = [label for label, _ in choices]
        picker = gr.skip() if opened.get("choices") == signature else gr.update(choices=choices)
        if pick in convs and (opened.get("key") != pick or opened.get("count") != len(convs[pick][1])):
            chat, panel, state = self._open_conversation(pick, convs[pick][1])
            return picker, chat, panel, {**state, "choices": signature}
        return picker, gr.skip(), gr.skip(), {**opened, "choices": signature}

    def facilitator_open(self, pick, request: gr.Request = None):
        if not self._facilitator(request):
            return (gr.skip(),) * 3
        convs = self._conversations()
        if pick not in convs:
            return [], "<p class='pa-empty'>That conversation is not in this workshop.</p>", None
        chat, panel, state = self._open_conversation(pick, convs[pick][1])
        return chat, panel, state

    def facilitator_citation(self, opened, evt: gr.EventData, request: gr.Request = None):
        """A chip of the open conversation was clicked (key 'f-<turn>-<n>'): its passage."""
        m = re.fullmatch(r"f-(\d{1,4})-(\d{1,3})", _event_key(evt))
        if not self._facilitator(request) or not m or not opened:
            return gr.skip()
        participant, turns = self._conversations().get(opened.get("key"), (None, []))
        t, n = int(m.group(1)), int(m.group(2))
        if t >= len(turns):
            return "<p class='pa-empty'>That answer is not in the conversation.</p>"
        return render.single_source(self.assistant, turns[t].answer_json, n, t, prefix="f")

    def facilitator_export(self, request: gr.Request = None):
        if not self._facilitator(request):
            return gr.update(visible=False, value="")
        md = transcripts_markdown(self.store, self.assistant, self.workshop)
        name = f"workshop-{self.ws_name}-transcripts-{time.strftime('%Y%m%d-%H%M%S')}.md"
        return self._export(request, name, md, "Download every transcript")

    def on_load(self, request: gr.Request = None):
        if self._facilitator(request):
            return gr.update(visible=True), gr.Timer(active=True), gr.Tabs(selected="facilitator"), gr.skip()
        participant, _ = _who(request)
        hello = f"Signed in as **{render.user_message(participant)}** · [log out](/logout)" if participant else ""
        return gr.skip(), gr.skip(), gr.skip(), hello

    # ================================================================== API
    def api_ask(self, question: str, history: list[str] | None = None) -> dict:
        """Answer a question from the reports. `history`: earlier questions, oldest first.
        Returns the Answer JSON of `policy-assistant ask --json`."""
        try:
            return self.assistant.ask(question, history=[str(h) for h in (history or [])]).model_dump()
        except AssistantError as exc:
            raise gr.Error(str(exc)) from exc


def build_app(assistant: Assistant, workshop: Workshop | None = None, store: FeedbackStore | None = None) -> gr.Blocks:
    """The web chat's Gradio app (what ``serve`` launches and the tests drive)."""
    return WebChat(assistant, workshop=workshop, store=store).build()


def transcripts_markdown(store: FeedbackStore, assistant: Assistant, workshop: Workshop | None) -> str:
    """Every participant's conversation of a workshop, one after the other, with full citations."""
    name = workshop.name if workshop else None
    convs = store.transcripts(name)
    fb = {f.answer_id: f for f in store.feedback(name)}
    head = f"# Workshop transcripts — {workshop.title if workshop else 'web chat'}\n\n"
    head += f"_{len(convs)} conversation(s), exported {time.strftime('%Y-%m-%d %H:%M')}._\n\n"
    parts = [head]
    for i, ((participant, session), turns) in enumerate(convs.items(), 1):
        items = []
        for t in turns:
            f = fb.get(t.answer_id)
            items.append(
                {
                    "question": t.question,
                    "answer": t.answer_json,
                    "vote": {"up": "👍", "down": "👎"}.get(f.vote, "") if f and f.vote else "",
                    "comment": f.comment if f else "",
                }
            )
        started = time.strftime("%H:%M", time.localtime(turns[0].created))
        md = render.export_markdown(
            items, assistant, heading=f"Conversation {i}: {participant}", meta={"Started": started, "Session": session[:8]}
        )
        parts.append(md.replace("\n## ", "\n### ").replace("# Conversation", "## Conversation", 1) + "\n---\n")
    return "\n".join(parts)


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mount_kwargs(host: str, port: int, auth=None, auth_message: str | None = None) -> dict:
    """``gr.mount_gradio_app`` arguments of the web chat (``ui/server.py`` mounts it at /)."""
    return dict(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message=auth_message,
        show_error=True,
        footer_links=["api"],
    )


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    passcode: str | None = None,
    workshop: str | None = None,
    facilitator_passcode: str | None = None,
    cors_origins: list[str] | None = None,
) -> int:
    host = host or settings.host
    port = port or settings.port
    if not _is_loopback(host) and not passcode:
        print(
            f"error: refusing to listen on {host} without a passcode; pass --passcode or set POLICY_ASSISTANT_PASSCODE",
            file=sys.stderr,
        )
        return 2
    ws: Workshop | None = None
    generated: list[str] = []
    if workshop:
        try:
            ws = load_workshop(workshop, settings.workshops_dir)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not passcode:
            passcode = new_passcode()
            generated.append(f"participants' passcode: {passcode}")
        if not facilitator_passcode:
            facilitator_passcode = new_passcode()
            generated.append(f"facilitator passcode:   {facilitator_passcode}  (user name: facilitator)")
        if facilitator_passcode == passcode:
            print("error: the facilitator passcode must differ from the participants' passcode", file=sys.stderr)
            return 2
    elif facilitator_passcode:
        print("note: --facilitator-passcode only matters with --workshop", file=sys.stderr)

    if settings.embedding_threads is None:  # concurrent questions, one core each: no spin-waiting thread pools
        settings = settings.model_copy(update={"embedding_threads": 1})
    from ui.server import create_app, run

    assistant = Assistant(settings, progress=True)
    store = FeedbackStore(feedback_path(settings))
    app = build_app(assistant, workshop=ws, store=store)
    # one ASGI application: the web chat at /, the OpenAI-compatible API at /v1, REST at /api/v1, MCP at /mcp;
    # the same passcode for every door (queue positions are sent once a second, see create_app)
    asgi = create_app(assistant, web=app, passcode=passcode, facilitator_passcode=facilitator_passcode if ws else None,
                      cors_origins=list(cors_origins or settings.cors_origins), host=host, port=port)
    print(f"Integration Policy Assistant: http://{host}:{port}  (Ctrl+C to stop)")
    print(f"  OpenAI-compatible: http://{host}:{port}/v1   REST: http://{host}:{port}/api/v1 (docs: /docs)   MCP: http://{host}:{port}/mcp")
    if ws is not None:
        print(f"Workshop '{ws.name}': {ws.title} — {len(ws.scenarios)} scenario(s), {len(ws.questions)} questions")
    for line in generated:
        print(f"  generated {line}")
    sys.stdout.flush()
    run(asgi, host, port)
    return 0
