"""The web chat (Gradio): a thin layer over ``assistant.service.Assistant``.

Tabs: **Chat** (streaming answers whose [n] markers are chips that open the cited passage in the
source panel, filters, starter questions, 👍/👎 with a comment, Markdown export), **Practice
library** (the catalogue of practices and recommendations, each opening its passage), **About
the sources** (the reports and their metadata) and, in workshop mode, **Facilitator** (live
questions and feedback, export of every transcript; only for the facilitator login).

``/ask`` is a documented API endpoint returning the same Answer JSON as
``policy-assistant ask --json``.

Safe by default: 127.0.0.1 unless ``--host`` and a passcode; the user's words are escaped before
they reach the chat (and Gradio sanitises the chat's Markdown); everything in the HTML panels is
escaped in ``ui/render.py``; oversized questions are refused with a message by the service.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from assistant.errors import AssistantError, InputError  # noqa: E402
from assistant.guard import clean_question  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.taxonomy import LEVELS, THEMES  # noqa: E402
from ui import library, render  # noqa: E402
from ui.feedback import MAX_COMMENT_CHARS, FeedbackStore  # noqa: E402
from ui.workshop import Workshop, clean_participant_name, is_facilitator_name, load_workshop, make_auth, new_passcode  # noqa: E402

log = logging.getLogger(__name__)

STARTERS = [
    "How can an origin-country municipality support the integration of its emigrants abroad?",
    "What does the OSCE study recommend to national governments about funding?",
    "How do cities take part in EU migration policymaking, according to the EPC brief?",
    "What examples of city-to-city partnerships between Dutch and Moroccan municipalities are there?",
]

STREAM_MIN_INTERVAL_S = 0.05  # at most ~20 chat updates a second while an answer streams
THINKING = "_Searching the reports…_"

# Installed by each source panel (gr.HTML js_on_load).  One capturing click listener on the
# document turns a click on a link to "#pa-<p>-…" into a 'click' event, carrying the key, on the
# panel registered for prefix <p> ("c": chat chips, "r": practice-library records).  The chips
# are plain Markdown links, so nothing custom has to survive the chat's HTML sanitiser.
_PANEL_JS = """
const prefix = __PREFIX__;
window.__paOpeners = window.__paOpeners || {};
window.__paOpeners[prefix] = (key) => trigger('click', {key: key});
if (!document.getElementById('pa-style')) {
  const style = document.createElement('style');
  style.id = 'pa-style';
  style.textContent = __CSS__;
  document.head.appendChild(style);
}
if (!window.__paClickHandler) {
  window.__paClickHandler = (ev) => {
    const t = ev.target;
    if (!t || !t.closest) return;
    const a = t.closest('a[href^="#pa-"]');
    if (!a) return;
    const key = a.getAttribute('href').slice(4);
    const open = window.__paOpeners[key.charAt(0)];
    if (!open) return;
    ev.preventDefault();
    ev.stopPropagation();
    open(key);
  };
  document.addEventListener('click', window.__paClickHandler, true);
}
"""


def _panel_js(prefix: str) -> str:
    return _PANEL_JS.replace("__PREFIX__", json.dumps(prefix)).replace("__CSS__", json.dumps(render.CSS))


def feedback_path(settings: Settings) -> Path:
    return settings.feedback_db or settings.data_dir / "feedback.sqlite3"


def _new_session(session: dict | None = None) -> dict:
    if session and "turns" in session:
        return session
    return {"turns": [], "history": [], "msg_turn": {}, "open": None, "pending": None}


def _who(request: gr.Request | None) -> tuple[str | None, str | None]:
    if request is None:
        return None, None
    user = getattr(request, "username", None)
    return (clean_participant_name(user) or None) if user else None, getattr(request, "session_hash", None)


def build_app(assistant: Assistant, workshop: Workshop | None = None, store: FeedbackStore | None = None) -> gr.Blocks:
    settings = assistant.settings
    concurrency = max(1, min(40, settings.web_concurrency))
    radius = settings.source_context_lines
    if store is None:
        store = FeedbackStore(feedback_path(settings))
    ws_name = workshop.name if workshop else None

    # ------------------------------------------------------------------ chat
    def _answer_stream(message: str, history: list[str], filters):
        """Yield str deltas, then the final Answer."""
        yield from assistant.stream(message, history=history, filters=filters)

    def respond(message, chat, session, f_reports=None, f_levels=None, f_themes=None, request: gr.Request = None):
        """Outputs: chat, session, question box, source panel, surrounding text, its button."""
        chat = list(chat or [])
        session = _new_session(session)
        if not (message or "").strip():
            yield list(chat), session, "", gr.skip(), gr.skip(), gr.skip()
            return
        participant, sess = _who(request)
        shown = message if len(message) <= settings.max_question_chars else message[:600] + " …"
        try:  # refuse empty / oversized questions at once, without echoing 50,000 characters
            clean_question(message, settings.max_question_chars)
        except InputError as exc:
            chat += [{"role": "user", "content": render.user_message(shown)}, {"role": "assistant", "content": f"⚠️ {render.user_message(str(exc))}"}]
            yield list(chat), session, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        filters = library.make_filters(f_reports, f_levels, f_themes)
        chat = chat + [{"role": "user", "content": render.user_message(shown)}, {"role": "assistant", "content": THINKING}]
        yield list(chat), session, "", gr.skip(), gr.skip(), gr.skip()
        answer, text, last = None, "", 0.0
        try:
            for item in _answer_stream(message, list(session["history"]), filters):
                if isinstance(item, str):
                    text += item
                    if time.monotonic() - last >= STREAM_MIN_INTERVAL_S:
                        last = time.monotonic()
                        chat[-1] = {"role": "assistant", "content": text + " ▌"}
                        yield list(chat), session, gr.skip(), gr.skip(), gr.skip(), gr.skip()
                else:
                    answer = item
        except AssistantError as exc:
            chat[-1] = {"role": "assistant", "content": f"⚠️ {render.user_message(str(exc))}"}
            yield list(chat), session, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        except Exception:  # never leave the user with a spinner
            log.exception("answering failed")
            chat[-1] = {"role": "assistant", "content": "⚠️ Something went wrong while answering; please try again."}
            yield list(chat), session, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        if answer is None:
            chat[-1] = {"role": "assistant", "content": "⚠️ No answer came back; please try again."}
            yield list(chat), session, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        data = answer.model_dump(exclude={"retrieved"})
        turn = len(session["turns"])
        answer_id = uuid.uuid4().hex
        session["turns"].append({"id": answer_id, "question": answer.question, "answer": data})
        session["history"].append(answer.question)
        content = render.answer_message(data, turn)
        chat[-1] = {"role": "assistant", "content": content}
        session["msg_turn"][str(len(chat) - 1)] = turn
        first = data["citations"][0]["n"] if data.get("citations") else None
        session["open"] = [turn, first] if first is not None else None
        if workshop is not None:
            try:
                store.record_turn(answer_id, answer.question, data, ws_name, participant, sess)
            except Exception:
                log.exception("could not store the workshop turn")
        panel = render.sources_panel(assistant, data, turn, selected=first)
        ctx_btn = gr.update(visible=first is not None, value=f"Show the surrounding text of [{first}]" if first else "")
        yield list(chat), session, "", panel, "", ctx_btn

    def open_citation(session, evt: gr.EventData):
        """A chip was clicked: show that passage (key 'c-<turn>-<n>')."""
        session = _new_session(session)
        data = getattr(evt, "_data", None) or {}
        m = re.fullmatch(r"c-(\d{1,4})-(\d{1,3})", str(data.get("key", "")) if isinstance(data, dict) else "")
        if not m:
            return gr.skip(), session, gr.skip(), gr.skip()
        t, n = int(m.group(1)), int(m.group(2))
        if t >= len(session["turns"]):
            return render.single_source(assistant, {}, n, t), session, "", gr.update(visible=False)
        session["open"] = [t, n]
        html_ = render.single_source(assistant, session["turns"][t]["answer"], n, t)
        return html_, session, "", gr.update(visible=True, value=f"Show the surrounding text of [{n}]")

    def show_context(session):
        session = _new_session(session)
        if not session.get("open"):
            return "<p class='pa-empty'>Open a citation first.</p>"
        t, n = session["open"]
        if t >= len(session["turns"]):
            return ""
        for c in session["turns"][t]["answer"].get("citations", []):
            if c["n"] == n:
                return render.context_html(settings, c["source"], c["start_line"], c["end_line"], radius, title=c.get("title", ""))
        return ""

    def new_conversation():
        return [], _new_session(), "", render.EMPTY_PANEL, "", gr.update(visible=False), gr.update(visible=False), "", gr.update(visible=False, value=None)

    # ------------------------------------------------------------------ feedback
    def on_like(session, data: gr.LikeData, request: gr.Request = None):
        session = _new_session(session)
        idx = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        turn = session["msg_turn"].get(str(idx))
        if turn is None:
            return gr.skip(), gr.skip(), "", session
        t = session["turns"][turn]
        liked = data.liked
        vote = "up" if liked in (True, "Like") else "down" if liked in (False, "Dislike") else None
        participant, sess = _who(request)
        store.record_vote(t["id"], vote, t["question"], t["answer"].get("answer", ""), ws_name, participant, sess)
        t["vote"] = vote
        session["pending"] = turn
        if vote is None:
            return gr.update(visible=False), "", "Vote withdrawn.", session
        label = "👍" if vote == "up" else "👎"
        return gr.update(visible=True), gr.update(value="", label=f"{label} Thanks! Add a comment on answer {turn + 1} (optional)"), "", session

    def send_comment(comment, session, request: gr.Request = None):
        session = _new_session(session)
        turn = session.get("pending")
        if turn is None or turn >= len(session["turns"]):
            return gr.update(visible=False), "", "Vote on an answer first.", session
        t = session["turns"][turn]
        participant, sess = _who(request)
        if (comment or "").strip():
            t["comment"] = store.add_comment(t["id"], comment, t["question"], t["answer"].get("answer", ""), ws_name, participant, sess)
        return gr.update(visible=False), "", "Thank you — your feedback was saved.", session

    # ------------------------------------------------------------------ export
    def export_chat(session, request: gr.Request = None):
        session = _new_session(session)
        participant, _ = _who(request)
        meta = {}
        if workshop is not None:
            meta["Workshop"] = workshop.title
            if participant:
                meta["Participant"] = participant
        md = render.export_markdown(session["turns"], assistant, meta=meta)
        folder = Path(tempfile.mkdtemp(prefix="pa-export-"))
        path = folder / f"conversation-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(md, encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    # ------------------------------------------------------------------ library
    def library_view(kind, level, theme, source, country, text):
        cat = library.get_catalogue(assistant)
        if cat is None:
            return "<p class='pa-empty'>The practice library is not available in this version (no catalogue).</p>", gr.skip()
        found = library.filter_records(cat, kind, level or None, theme or None, country or None, source or None, text)
        choices = [("any", "")] + [(c, c) for c in library.countries(cat)]
        return render.record_list(found, total=len(found)), gr.update(choices=choices)

    def open_record(evt: gr.EventData):
        data = getattr(evt, "_data", None) or {}
        key = str(data.get("key", "")) if isinstance(data, dict) else ""
        if not key.startswith("r-"):
            return gr.skip(), None, gr.skip(), gr.skip()
        rec = library.find_record(library.get_catalogue(assistant), key[2:])
        if rec is None:
            return "<p class='pa-empty'>That record is not in the catalogue any more.</p>", None, "", gr.update(visible=False)
        return render.record_card(assistant, rec), rec.id, "", gr.update(visible=True)

    def record_context(rid):
        rec = library.find_record(library.get_catalogue(assistant), rid) if rid else None
        if rec is None:
            return "<p class='pa-empty'>Open a practice or recommendation first.</p>"
        return render.context_html(settings, rec.source, rec.start_line, rec.end_line, radius, title=rec.title)

    def about_view():
        cat = library.get_catalogue(assistant)
        return render.reports_html(assistant, library.record_counts(cat))

    # ------------------------------------------------------------------ facilitator
    def _facilitator(request: gr.Request | None) -> bool:
        return workshop is not None and request is not None and is_facilitator_name(getattr(request, "username", None))

    def facilitator_view(request: gr.Request = None):
        if not _facilitator(request):
            return gr.skip(), gr.skip(), gr.skip()
        turns = store.turns(ws_name)
        fb = store.feedback(ws_name)
        people = {t.participant for t in turns if t.participant}
        up = sum(1 for f in fb if f.vote == "up")
        down = sum(1 for f in fb if f.vote == "down")
        summary = (
            f"**{len(turns)}** questions from **{len(people)}** participant(s) · feedback: **{up}** helpful 👍, **{down}** not helpful 👎, "
            f"**{sum(1 for f in fb if f.comment)}** comment(s) · updated {time.strftime('%H:%M:%S')}"
        )
        rows = "".join(
            f"<tr><td>{time.strftime('%H:%M:%S', time.localtime(t.created))}</td><td>{render.esc(t.participant or '')}</td>"
            f"<td>{render.esc(t.question)}</td><td>{'declined' if t.refused else str(len(t.answer_json.get('citations', []))) + ' citation(s)'}</td></tr>"
            for t in reversed(turns[-200:])
        )
        q_html = (
            "<table class='pa-table' id='pa-fac-questions'><thead><tr><th>Time</th><th>Participant</th><th>Question</th><th>Answer</th></tr></thead>"
            f"<tbody>{rows or '<tr><td colspan=4>No questions yet.</td></tr>'}</tbody></table>"
        )
        frows = "".join(
            f"<tr><td>{time.strftime('%H:%M:%S', time.localtime(f.updated))}</td><td>{render.esc(f.participant or '')}</td>"
            f"<td class='{'pa-vote-up' if f.vote == 'up' else 'pa-vote-down'}'>{'👍 helpful' if f.vote == 'up' else '👎 not helpful' if f.vote == 'down' else '–'}</td>"
            f"<td>{render.esc(f.comment or '')}</td><td>{render.esc(f.question)}</td></tr>"
            for f in fb[:200]
        )
        f_html = (
            "<table class='pa-table' id='pa-fac-feedback'><thead><tr><th>Time</th><th>Participant</th><th>Vote</th><th>Comment</th><th>Question</th></tr></thead>"
            f"<tbody>{frows or '<tr><td colspan=5>No feedback yet.</td></tr>'}</tbody></table>"
        )
        return summary, q_html, f_html

    def facilitator_export(request: gr.Request = None):
        if not _facilitator(request):
            return gr.update(visible=False, value=None)
        md = transcripts_markdown(store, assistant, workshop)
        folder = Path(tempfile.mkdtemp(prefix="pa-transcripts-"))
        path = folder / f"workshop-{ws_name}-transcripts-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(md, encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    def on_load(request: gr.Request = None):
        if _facilitator(request):
            return gr.update(visible=True), gr.Timer(active=True), gr.Tabs(selected="facilitator"), gr.skip()
        participant, _ = _who(request)
        hello = f"Signed in as **{render.user_message(participant)}** · [log out](/logout)" if participant else ""
        return gr.skip(), gr.skip(), gr.skip(), hello

    # ------------------------------------------------------------------ API
    def api_ask(question: str, history: list[str] | None = None) -> dict:
        """Answer a question from the reports. `history`: earlier questions, oldest first.
        Returns the Answer JSON of `policy-assistant ask --json`."""
        try:
            return assistant.ask(question, history=[str(h) for h in (history or [])]).model_dump()
        except AssistantError as exc:
            raise gr.Error(str(exc)) from exc

    # ------------------------------------------------------------------ layout
    report_choices = [(f"{r.short_citation} — {r.title[:70]}", r.source) for r in assistant.reports]
    level_choices = [(t.name, t.id) for t in LEVELS]
    theme_choices = [(t.name, t.id) for t in THEMES]
    title = "Integration Policy Assistant" + (f" — workshop: {workshop.title}" if workshop else "")

    with gr.Blocks(title=title) as app:
        gr.Markdown(
            f"## {render.user_message(title)}\n"
            "Answers come only from the reports in the knowledge base; every statement carries a [n] "
            "marker — click it to see the passage it comes from."
        )
        hello = gr.Markdown("", elem_id="pa-hello")
        session = gr.State(None)
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("Chat", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        if workshop is not None:
                            with gr.Accordion(f"Workshop scenarios — {workshop.title}", open=True, elem_id="pa-scenarios"):
                                if workshop.description:
                                    gr.Markdown(workshop.description)
                        chat = gr.Chatbot(
                            label="Conversation",
                            height=520,
                            sanitize_html=True,
                            allow_tags=False,
                            elem_id="pa-chat",
                            buttons=["copy"],
                            placeholder="Ask a question about integration policy, or pick "
                            + ("a scenario question below." if workshop else "a starter question below."),
                        )
                        box = gr.Textbox(
                            label="Your question",
                            placeholder="Ask about integration policy…",
                            max_lines=6,
                            elem_id="pa-question",
                            submit_btn=False,
                        )
                        with gr.Row():
                            send = gr.Button("Ask", variant="primary", elem_id="pa-ask")
                            new = gr.Button("New conversation", elem_id="pa-new")
                            export = gr.Button("Export as Markdown", elem_id="pa-export")
                        export_file = gr.File(label="Conversation (Markdown)", visible=False, elem_id="pa-export-file")
                        with gr.Row(visible=False, elem_id="pa-feedback-row") as fb_row:
                            fb_comment = gr.Textbox(label="Add a comment (optional)", max_lines=3, max_length=MAX_COMMENT_CHARS, scale=4, elem_id="pa-comment")
                            fb_send = gr.Button("Send feedback", scale=1, elem_id="pa-comment-send")
                        fb_status = gr.Markdown("", elem_id="pa-feedback-status")
                        with gr.Accordion("Filters", open=False, elem_id="pa-filters"):
                            f_reports = gr.Dropdown(report_choices, multiselect=True, label="Only these reports", value=[])
                            f_levels = gr.Dropdown(level_choices, multiselect=True, label="Level of government (who acts or is addressed)", value=[])
                            f_themes = gr.Dropdown(theme_choices, multiselect=True, label="Theme", value=[])
                        if workshop is not None:
                            for i, sc in enumerate(workshop.scenarios, 1):
                                with gr.Accordion(f"Scenario {i}: {sc.title}", open=i == 1):
                                    gr.Markdown(sc.context)
                                    gr.Examples([[q] for q in sc.questions], inputs=box, label="Questions for the assistant")
                                    if sc.discussion:
                                        gr.Markdown("**For the group:**\n" + "\n".join(f"- {d}" for d in sc.discussion))
                        else:
                            gr.Examples([[q] for q in STARTERS], inputs=box, label="Starter questions")
                    with gr.Column(scale=2):
                        gr.Markdown("### Sources")
                        panel = gr.HTML(render.EMPTY_PANEL, elem_id="pa-sources", js_on_load=_panel_js("c"), apply_default_css=False, max_height=900)
                        ctx_btn = gr.Button("Show the surrounding text", visible=False, size="sm", elem_id="pa-context-btn")
                        ctx = gr.HTML("", elem_id="pa-context")

            with gr.Tab("Practice library", id="library") as lib_tab:
                gr.Markdown("Practices (what an actor did, where) and recommendations (what a report says someone should do), each with the passage it comes from. Click the citation to open it.")
                with gr.Row():
                    lib_kind = gr.Radio([("all", ""), ("practices", "practice"), ("recommendations", "recommendation")], value="", label="Kind")
                    lib_level = gr.Dropdown([("any", "")] + level_choices, value="", label="Level")
                    lib_theme = gr.Dropdown([("any", "")] + theme_choices, value="", label="Theme")
                with gr.Row():
                    lib_report = gr.Dropdown([("any", "")] + [(r.short_citation, r.source) for r in assistant.reports], value="", label="Report")
                    lib_country = gr.Dropdown([("any", "")], value="", label="Country")
                    lib_text = gr.Textbox(label="Words", placeholder="e.g. Nador, twinning, language courses")
                with gr.Row():
                    with gr.Column(scale=3):
                        lib_list = gr.HTML("<p class='pa-empty'>Loading the library…</p>", elem_id="pa-library-list", apply_default_css=False, js_on_load=None, max_height=760)
                    with gr.Column(scale=2):
                        lib_panel = gr.HTML("<p class='pa-empty'>Click a citation to see its passage.</p>", elem_id="pa-library-panel", js_on_load=_panel_js("r"), apply_default_css=False)
                        lib_open = gr.State(None)
                        lib_ctx_btn = gr.Button("Show the surrounding text", visible=False, size="sm", elem_id="pa-library-context-btn")
                        lib_ctx = gr.HTML("", elem_id="pa-library-context")

            with gr.Tab("About the sources", id="about") as about_tab:
                gr.Markdown(
                    "The assistant answers only from these reports. Citations name the report, its section and the "
                    "line span of the report's text file."
                )
                about = gr.HTML(render.reports_html(assistant), elem_id="pa-about")

            fac_tab = None
            if workshop is not None:
                with gr.Tab("Facilitator", id="facilitator", visible=False) as fac_tab:
                    gr.Markdown(f"### {render.user_message(workshop.title)} — live\nQuestions and feedback of every participant, refreshed every few seconds.")
                    fac_summary = gr.Markdown("", elem_id="pa-fac-summary")
                    fac_export = gr.Button("Export every transcript (Markdown)", elem_id="pa-fac-export")
                    fac_file = gr.File(label="Transcripts", visible=False, elem_id="pa-fac-file")
                    gr.Markdown("#### Questions (newest first)")
                    fac_questions = gr.HTML("", elem_id="pa-fac-q")
                    gr.Markdown("#### Feedback (newest first)")
                    fac_feedback = gr.HTML("", elem_id="pa-fac-fb")
                    timer = gr.Timer(3.0, active=False)

        # events ----------------------------------------------------------------------
        ask_inputs = [box, chat, session, f_reports, f_levels, f_themes]
        ask_outputs = [chat, session, box, panel, ctx, ctx_btn]
        for trigger in (send.click, box.submit):
            trigger(respond, ask_inputs, ask_outputs, api_visibility="private", concurrency_limit=concurrency, concurrency_id="answer")
        reset_outputs = [chat, session, box, panel, ctx, ctx_btn, fb_row, fb_status, export_file]
        new.click(new_conversation, None, reset_outputs, api_visibility="private")
        chat.clear(new_conversation, None, reset_outputs, api_visibility="private")
        panel.click(open_citation, [session], [panel, session, ctx, ctx_btn], api_visibility="private")
        ctx_btn.click(show_context, [session], [ctx], api_visibility="private")
        chat.like(on_like, [session], [fb_row, fb_comment, fb_status, session], api_visibility="private")
        fb_send.click(send_comment, [fb_comment, session], [fb_row, fb_comment, fb_status, session], api_visibility="private")
        fb_comment.submit(send_comment, [fb_comment, session], [fb_row, fb_comment, fb_status, session], api_visibility="private")
        export.click(export_chat, [session], [export_file], api_visibility="private")

        lib_inputs = [lib_kind, lib_level, lib_theme, lib_report, lib_country, lib_text]
        lib_tab.select(library_view, lib_inputs, [lib_list, lib_country], api_visibility="private")
        for comp in (lib_kind, lib_level, lib_theme, lib_report, lib_country):
            comp.change(library_view, lib_inputs, [lib_list, lib_country], api_visibility="private")
        lib_text.submit(library_view, lib_inputs, [lib_list, lib_country], api_visibility="private")
        lib_panel.click(open_record, None, [lib_panel, lib_open, lib_ctx, lib_ctx_btn], api_visibility="private")
        lib_ctx_btn.click(record_context, [lib_open], [lib_ctx], api_visibility="private")
        about_tab.select(about_view, None, [about], api_visibility="private")

        if workshop is not None:
            app.load(on_load, None, [fac_tab, timer, tabs, hello], api_visibility="private")
            timer.tick(facilitator_view, None, [fac_summary, fac_questions, fac_feedback], api_visibility="private")
            fac_tab.select(facilitator_view, None, [fac_summary, fac_questions, fac_feedback], api_visibility="private")
            fac_export.click(facilitator_export, None, [fac_file], api_visibility="private")
        gr.api(api_ask, api_name="ask", concurrency_limit=concurrency, concurrency_id="answer")
    app.pa_store = store  # for tests and the facilitator export
    return app


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


def launch_kwargs(host: str, port: int, auth=None, auth_message: str | None = None) -> dict:
    return dict(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message=auth_message,
        show_error=True,
        quiet=True,
        footer_links=["api"],
    )


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    passcode: str | None = None,
    workshop: str | None = None,
    facilitator_passcode: str | None = None,
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
    assistant = Assistant(settings, progress=True)
    store = FeedbackStore(feedback_path(settings))
    app = build_app(assistant, workshop=ws, store=store)
    auth, message = None, None
    if ws is not None:
        auth = make_auth(passcode, facilitator_passcode)
        message = (
            f"Workshop: {ws.title}. Participants: type your name as the user name and the workshop passcode as the "
            "password. Facilitator: user name 'facilitator' and the facilitator passcode."
        )
    elif passcode:
        auth = make_auth(passcode, None)
        message = "Type any user name and the passcode."
    print(f"Integration Policy Assistant: http://{host}:{port}  (Ctrl+C to stop)")
    if ws is not None:
        print(f"Workshop '{ws.name}': {ws.title} — {len(ws.scenarios)} scenario(s), {len(ws.questions)} questions")
    for line in generated:
        print(f"  generated {line}")
    sys.stdout.flush()
    # queue positions are sent once a second, not to every waiting request whenever a job starts
    app.queue(default_concurrency_limit=max(1, settings.web_concurrency), status_update_rate=1.0).launch(
        **launch_kwargs(host, port, auth, message)
    )
    return 0
