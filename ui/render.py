"""Everything the web chat shows, as text: [n] chips, the source panel (cited sentences
highlighted), the surrounding text of a report, the practice library, the report list and the
Markdown export.  Pure functions over the Answer / CatalogueRecord JSON, so they are tested
without a browser.

Safety: every piece of text that reaches ``gr.HTML`` goes through ``html.escape`` here (reports,
questions, comments, participant names alike). Markdown — the chat's messages and the export — holds
a report's words only through ``assistant.inert.inert_markdown`` (quotes, titles, sections: no link,
image, autolink, HTML or entity of a report becomes active) and the user's own words only through
``user_message`` (escaped as text); Gradio's sanitiser then sees the chat's Markdown as well.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.inert import code_name, inert_line, inert_markdown, no_autolinks
from assistant.models import CatalogueRecord
from assistant.settings import Settings
from assistant.taxonomy import level_name, theme_name

# A chip is a Markdown link to "#pa-c-<turn>-<n>"; the click handler in ui/app.py (JS) turns a
# click on any "#pa-…" link into an event on the matching source panel, so no custom HTML
# attributes have to survive the chat's sanitiser.
CHIP_PREFIX = "#pa-c-"
RECORD_PREFIX = "#pa-r-"
_MARKER = re.compile(r"\[(\d{1,3})\]")
_MARKERS_AT_END = re.compile(r"((?:\s*\[\d{1,3}\])+)\s*$")
_SEGMENT = re.compile(r"(.+?)((?:\s*\[\d{1,3}\])+)", re.S)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#|~$!])")
_MD_LINE_START = re.compile(r"^(\s*)([-+>]|\d+[.)])")
_WORD = re.compile(r"[a-z0-9à-ÿ]+")

ASSETS = Path(__file__).resolve().parent / "assets"
CSS = (ASSETS / "app.css").read_text(encoding="utf-8")
PAGE_JS = (ASSETS / "app.js").read_text(encoding="utf-8")

EMPTY_PANEL = "<p class='pa-empty'>Ask a question: the passages it cites appear here. Click a [n] marker in an answer to open its passage.</p>"


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


# --------------------------------------------------------------------------- the chat


def user_message(text: str) -> str:
    """The user's own words for the chat: shown as text, never as HTML or Markdown."""
    text = " ".join(str(text or "").split())
    text = no_autolinks(_MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)))
    def lead(m: re.Match) -> str:
        mark = m.group(2)
        return m.group(1) + ("\\" + mark if len(mark) == 1 else mark[:-1] + "\\" + mark[-1])

    return _MD_LINE_START.sub(lead, text)


def _label_text(text: str) -> str:
    """A chip's label as a Markdown link title: no quotes, brackets or backslashes."""
    text = str(text or "").replace(" > ", " › ")
    return " ".join(re.sub(r'["\\()\[\]<>]', " ", text).split())


def chip_labels(assistant, answer: dict) -> dict[int, str]:
    """'Source 1: Bilgili & Agimi 2015, Section > Subsection' for each citation of an answer."""
    out = {}
    for c in answer.get("citations") or []:
        meta = assistant.report(c["source"]) if assistant is not None else None
        report = (meta.short_citation if meta and meta.short_citation else "") or c.get("title") or c["source"]
        section = c.get("section") or "no section"
        out[int(c["n"])] = _label_text(f"Source {int(c['n'])}: {report}, {section}")
    return out


def chipify(answer_md: str, turn: int, numbers: Iterable[int], labels: dict[int, str] | None = None, prefix: str = "c") -> str:
    """Turn the [n] markers of one answer into chips (links the click handler intercepts). A
    chip's title is its label ("Source 1: report, section"); the page's script makes it the
    link's accessible name, so a screen reader says more than "link 1"."""
    known = set(numbers)
    labels = labels or {}

    def sub(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in known:
            return m.group(0)
        title = f' "{_label_text(labels[n])}"' if labels.get(n) else ""
        return f"[\\[{n}\\]](#pa-{prefix}-{turn}-{n}{title})"

    return _MARKER.sub(sub, answer_md)


def filters_note(filters: dict[str, list[str]] | None) -> str:
    """One sentence naming the filters that limited retrieval ('' when none did)."""
    parts = [f"{k}: {', '.join(v)}" for k, v in (filters or {}).items() if v]
    return ("Filters limited the search — " + "; ".join(parts) + ".") if parts else ""


def answer_message(answer: dict, turn: int, labels: dict[int, str] | None = None, prefix: str = "c") -> str:
    """The assistant's chat message: the filters that limited the search (``answer['filters']``),
    the notice, the answer with chips (its report text inert), then the verifier's note."""
    parts = []
    note = filters_note(answer.get("filters"))
    if note:
        parts.append(f"> 🔎 {user_message(note)}\n")
    if answer.get("notice"):
        parts.append(f"> ℹ️ {user_message(answer['notice'])}\n")
    parts.append(chipify(inert_markdown(answer.get("answer", "")), turn, (c["n"] for c in answer.get("citations", [])), labels, prefix))
    removed = answer.get("removed_sentences") or []
    if removed:
        parts.append(f"\n\n_{len(removed)} sentence(s) without support in the cited passages were removed._")
    return "\n".join(parts)


def conversation_messages(turns: list[dict], assistant=None, prefix: str = "c") -> list[dict]:
    """Chat messages for stored turns ({'question', 'answer': Answer JSON}): a conversation
    restored after a reload, or a participant's as the facilitator reads it."""
    chat = []
    for i, t in enumerate(turns):
        a = t.get("answer") or {}
        chat.append({"role": "user", "content": user_message(a.get("question") or t.get("question", ""))})
        chat.append({"role": "assistant", "content": answer_message(a, i, chip_labels(assistant, a), prefix=prefix)})
    return chat


def cited_segments(answer_md: str) -> dict[int, list[str]]:
    """For each marker number, the answer's text segments that carry it (bullets and markers stripped)."""
    out: dict[int, list[str]] = {}
    for line in answer_md.splitlines():
        for m in _SEGMENT.finditer(line):
            seg = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", m.group(1)).strip(" .;:")
            seg = _MARKER.sub("", seg).strip()
            if not seg:
                continue
            for n in _MARKER.findall(m.group(2)):
                out.setdefault(int(n), []).append(seg)
    return out


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _matches(sentence: str, segments: list[str]) -> bool:
    s_norm = " ".join(_words(sentence))
    if not s_norm:
        return False
    s_set = set(s_norm.split())
    for seg in segments:
        g_norm = " ".join(_words(seg))
        if not g_norm:
            continue
        if len(g_norm) >= 20 and (g_norm in s_norm or (len(s_norm) >= 20 and s_norm in g_norm)):
            return True
        g_set = set(g_norm.split())
        if len(s_set) >= 4 and len(s_set & g_set) / len(s_set | g_set) >= 0.6:
            return True
    return False


def split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?…])\s+(?=[\"'“‘(\[A-ZÀ-Ý0-9])", text) if s.strip()]


def highlight(text: str, sentences: list[str], segments: list[str]) -> str:
    """The passage as HTML with the sentences the answer cites wrapped in <mark>."""
    sentences = sentences or split_sentences(text)
    out, pos, marked = [], 0, 0
    for s in sentences:
        at = text.find(s, pos)
        if at < 0:
            continue
        out.append(esc(text[pos:at]))
        if _matches(s, segments):
            out.append(f"<mark>{esc(s)}</mark>")
            marked += 1
        else:
            out.append(esc(s))
        pos = at + len(s)
    out.append(esc(text[pos:]))
    return "".join(out)


def passage_sentences(assistant, passage_id: str) -> list[str]:
    index = getattr(assistant, "index", None)
    if index is None:
        return []
    i = index.by_id.get(passage_id)
    return list(index.passages[i].sentences) if i is not None else []


def _report_line(assistant, source: str, title: str) -> tuple[str, str]:
    meta = assistant.report(source) if assistant is not None else None
    title = (meta.title if meta else "") or title or source
    bits = []
    if meta and meta.short_citation:
        bits.append(meta.short_citation)
    if meta and meta.year and (not meta.short_citation or str(meta.year) not in meta.short_citation):
        bits.append(str(meta.year))
    return title, " · ".join(bits)


def citation_card(assistant, citation: dict, segments: list[str], selected: bool = False) -> str:
    title, cite = _report_line(assistant, citation["source"], citation.get("title", ""))
    meta = assistant.report(citation["source"]) if assistant is not None else None
    year = f" ({meta.year})" if meta and meta.year else ""
    body = highlight(citation["text"], passage_sentences(assistant, citation["passage_id"]), segments)
    return (
        f"<div class='pa-card{' pa-selected' if selected else ''}' data-n='{int(citation['n'])}'>"
        f"<h4><span class='pa-num'>[{int(citation['n'])}]</span> {esc(title)}{esc(year)}</h4>"
        f"<div class='pa-meta'>{esc(cite)}{' · ' if cite else ''}Section: {esc(citation.get('section') or 'no section')}"
        f"<br><code>{esc(citation['source'])}</code> lines {int(citation['start_line'])}–{int(citation['end_line'])}"
        "</div>"
        f"<blockquote class='pa-passage'>{body}</blockquote></div>"
    )


def sources_panel(assistant, answer: dict, turn: int, selected: int | None = None) -> str:
    """All passages one answer cites (the selected one first and framed)."""
    citations = answer.get("citations") or []
    if answer.get("refused") or not citations:
        return "<p class='pa-empty'>No passages are cited for this answer.</p>"
    segs = cited_segments(answer.get("answer", ""))
    ordered = sorted(citations, key=lambda c: (c["n"] != selected, c["n"]))
    return "".join(citation_card(assistant, c, segs.get(c["n"], []), selected=c["n"] == selected) for c in ordered)


def single_source(assistant, answer: dict, n: int, turn: int, prefix: str = "c") -> str:
    """One cited passage (the chip's), framed, with its highlighted sentences."""
    for c in answer.get("citations") or []:
        if int(c["n"]) == int(n):
            segs = cited_segments(answer.get("answer", "")).get(int(n), [])
            title, cite = _report_line(assistant, c["source"], c.get("title", ""))
            head = (
                f"<h3 class='pa-focus pa-sr-only' tabindex='-1'>Source {int(n)}: {esc(cite or title)}, {esc(c.get('section') or 'no section')}</h3>"
                f"<p class='pa-meta'>Answer {turn + 1}, citation [{int(n)}] — question: “{esc(answer.get('question', ''))}”</p>"
            )
            opened = f"<div class='pa-opened' data-key='{esc(prefix)}-{int(turn)}-{int(n)}' data-at='{time.time_ns()}'>"
            return opened + head + citation_card(assistant, c, segs, selected=True) + "</div>"
    return "<p class='pa-empty'>That citation is no longer available (new conversation?).</p>"


# --------------------------------------------------------------------------- report text


def source_path(settings: Settings, source: str) -> Path | None:
    """The text file a citation points at: a shipped report or a user-added one."""
    if not source or Path(source).name != source:
        return None
    for folder in (settings.knowledge_base_dir / "sources", settings.data_dir / "sources"):
        p = folder / source
        if p.is_file():
            return p
    return None


@lru_cache(maxsize=32)
def _lines(path: str, mtime: float) -> tuple[str, ...]:
    return tuple(Path(path).read_text(encoding="utf-8", errors="replace").splitlines())


def source_lines(settings: Settings, source: str) -> tuple[str, ...] | None:
    p = source_path(settings, source)
    if p is None:
        return None
    return _lines(str(p), p.stat().st_mtime)


def context_html(settings: Settings, source: str, start: int, end: int, radius: int = 15, title: str = "") -> str:
    """The report's own text around a span (±radius lines), numbered, the span shaded."""
    lines = source_lines(settings, source)
    if lines is None:
        return f"<p class='pa-empty'>The text of {esc(source)} is not available on this server.</p>"
    lo, hi = max(1, start - radius), min(len(lines), end + radius)
    rows = []
    for i in range(lo, hi + 1):
        cls = "pa-line pa-in" if start <= i <= end else "pa-line"
        rows.append(f"<span class='{cls}'><span class='pa-ln'>{i}</span>{esc(lines[i - 1])}</span>")
    head = (
        f"<p class='pa-meta'>{esc(title or source)} — <code>{esc(source)}</code>, lines {lo}–{hi} "
        f"(the cited span {start}–{end} is shaded)</p>"
    )
    return head + f"<div class='pa-context'>{''.join(rows)}</div>"


# --------------------------------------------------------------------------- practice library


def record_list(records: list[CatalogueRecord], limit: int = 200, total: int | None = None) -> str:
    total = len(records) if total is None else total
    if not records:
        return "<p class='pa-empty'>No practice or recommendation matches these filters.</p>"
    items = []
    for r in records[:limit]:
        where = ", ".join(x for x in (r.actor, r.place, r.country) if x)
        tags = ([level_name(r.level)] if r.level else []) + [theme_name(t) for t in r.themes]
        cite = r.short_citation or r.source
        items.append(
            f"<li><span class='pa-badge {esc(r.kind)}'>{esc(r.kind)}</span>"
            f"{esc(r.summary)} "
            f"<a href='{RECORD_PREFIX}{esc(r.id)}' title='Open the passage: {esc(cite)}, lines {r.start_line}–{r.end_line}'>{esc(cite)}, lines "
            f"{r.start_line}–{r.end_line}</a>"
            f"<div class='pa-tags'>{esc(where)}{' — ' if where and tags else ''}{esc(' · '.join(tags))}</div></li>"
        )
    more = f"<p class='pa-meta'>Showing {min(limit, len(records))} of {total}; narrow the filters to see the rest.</p>" if total > limit else f"<p class='pa-meta'>{total} record(s).</p>"
    return more + f"<ul class='pa-records'>{''.join(items)}</ul>"


def record_card(assistant, rec: CatalogueRecord) -> str:
    """A practice or recommendation with its passage, its own sentence highlighted."""
    statement = rec.statement or rec.summary
    citation = {"n": 1, **rec.model_dump(include={"passage_id", "source", "title", "section", "start_line", "end_line", "text"})}
    tags = []
    if rec.level:
        tags.append(("level", level_name(rec.level)))
    if rec.themes:
        tags.append(("themes", ", ".join(theme_name(t) for t in rec.themes)))
    tags += [(k, getattr(rec, k)) for k in ("actor", "place", "country") if getattr(rec, k)]
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in tags)
    head = (
        f"<p><span class='pa-badge {esc(rec.kind)}'>{esc(rec.kind)}</span>"
        f"<strong>{esc(rec.summary)}</strong> <span class='pa-meta'>({esc(rec.id)})</span></p>"
        f"<table class='pa-table'><caption class='pa-sr-only'>Details</caption>{rows}</table>"
    )
    card = citation_card(assistant, citation, [statement] if statement else [], selected=True)
    focus = f"<h3 class='pa-focus pa-sr-only' tabindex='-1'>{esc(rec.kind.capitalize())}: {esc(rec.summary)}</h3>"
    return f"<div class='pa-opened' data-key='r-{esc(rec.id)}' data-at='{time.time_ns()}'>" + focus + head + card.replace("<span class='pa-num'>[1]</span> ", "") + "</div>"


# --------------------------------------------------------------------------- about the sources


def reports_html(assistant, record_counts: dict[str, int] | None = None) -> str:
    passages: dict[str, int] = {}
    index = getattr(assistant, "index", None)
    for p in getattr(index, "passages", []) or []:
        passages[p.source] = passages.get(p.source, 0) + 1
    rows = []
    for r in assistant.reports:
        extra = f"<br>{record_counts.get(r.source, 0)} practices/recommendations" if record_counts is not None else ""
        rows.append(
            "<tr>"
            f"<td><strong>{esc(r.title)}</strong><br><span class='pa-meta'>cited as {esc(r.short_citation)}</span></td>"
            f"<td>{esc(r.authors)}</td><td>{esc(r.publisher)}</td><td>{esc(r.year or '')}</td><td>{esc(r.kind)}</td>"
            f"<td><code>{esc(r.source)}</code><br>{passages.get(r.source, 0)} passages{extra}</td>"
            f"<td class='pa-meta'>{esc(', '.join(r.aliases))}</td>"
            "</tr>"
        )
    return scrolling_table(
        "The reports the assistant answers from",
        "<thead><tr><th scope='col'>Report</th><th scope='col'>Authors</th><th scope='col'>Publisher</th><th scope='col'>Year</th>"
        "<th scope='col'>Kind</th><th scope='col'>File</th><th scope='col'>Also called</th></tr></thead><tbody>" + "".join(rows) + "</tbody>",
    )


def scrolling_table(caption: str, inner: str, table_id: str = "") -> str:
    """A table that scrolls sideways on a narrow screen (its container is focusable, so the
    keyboard can scroll it too); ``inner``: thead/tbody HTML, already escaped."""
    tid = f" id='{esc(table_id)}'" if table_id else ""
    return (
        f"<div class='pa-scroll' role='region' aria-label='{esc(caption)}' tabindex='0'>"
        f"<table class='pa-table'{tid}><caption class='pa-sr-only'>{esc(caption)}</caption>{inner}</table></div>"
    )


# --------------------------------------------------------------------------- export


def _quote(text: str) -> str:
    return "\n".join("> " + inert_markdown(line) for line in (text or "").splitlines() or [""])


def download_link(href: str, filename: str, label: str) -> str:
    """The link to an export held for the user (``ui/exports.py``)."""
    return (
        f"<p class='pa-download'><a href='{esc(href)}' download='{esc(filename)}'>{esc(label)} "
        f"(<code>{esc(filename)}</code>)</a></p>"
    )


def export_markdown(turns: list[dict], assistant=None, heading: str = "Conversation with the Integration Policy Assistant", meta: dict | None = None) -> str:
    """A conversation as Markdown: each question, the answer with its [n] markers, and every
    cited passage in full (report, year, section, file, line span). Everything a report or a user
    wrote is inert (``assistant.inert``), so the file is safe to open in any Markdown viewer."""
    out = [f"# {inert_line(heading)}", ""]
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    out.append(f"_Exported {stamp}. Answers are drawn only from the cited reports; check the passages below._")
    for k, v in (meta or {}).items():
        out.append(f"- **{inert_line(k)}:** {inert_line(v)}")
    out.append("")
    if not turns:
        out.append("_No questions were asked._")
    for i, t in enumerate(turns, 1):
        a = t.get("answer") or {}
        out += [f"## {i}. {inert_line(a.get('question') or t.get('question', ''))}", ""]
        note = filters_note(a.get("filters") or t.get("filters"))
        if note:
            out += [f"_{inert_line(note)}_", ""]
        if a.get("notice"):
            out += [f"> Note: {inert_line(a['notice'])}", ""]
        out += [inert_markdown(a.get("answer", "")), ""]
        cits = a.get("citations") or []
        if cits:
            out += ["**Sources**", ""]
            for c in cits:
                meta_r = assistant.report(c["source"]) if assistant is not None else None
                cite = f"{inert_line(meta_r.short_citation)}, " if meta_r and meta_r.short_citation else ""
                year = f" ({meta_r.year})" if meta_r and meta_r.year else ""
                out.append(
                    f"[{int(c['n'])}] {inert_line(c.get('title', ''))}{year}. {cite}section "
                    f"“{inert_line(c.get('section') or 'no section')}”, "
                    f"`{code_name(c['source'])}` lines {int(c['start_line'])}–{int(c['end_line'])}."
                )
                out += [_quote(c.get("text", "")), ""]
        if t.get("vote") or t.get("comment"):
            out += [f"_Feedback: {t.get('vote') or ''} {inert_line(t.get('comment') or '')}_".strip(), ""]
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------- the facilitator's page


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def facilitator_summary(turns, feedback) -> str:
    """Markdown: questions, participants, votes and comments so far."""
    people = {t.participant for t in turns if t.participant}
    up = sum(1 for f in feedback if f.vote == "up")
    down = sum(1 for f in feedback if f.vote == "down")
    return (
        f"**{len(turns)}** questions from **{len(people)}** participant(s) · feedback: **{up}** helpful 👍, **{down}** not helpful 👎, "
        f"**{sum(1 for f in feedback if f.comment)}** comment(s) · updated {time.strftime('%H:%M:%S')}"
    )


def facilitator_questions(turns, limit: int = 200) -> str:
    """Every question, newest first, with who asked it and the start of the answer."""
    rows = []
    for t in list(reversed(turns))[:limit]:
        outcome = "declined" if t.refused else f"{len(t.answer_json.get('citations', []))} citation(s)"
        gist = " ".join(re.sub(r"[*_#>`]|\[\d{1,3}\]", "", t.answer or "").split())
        gist = gist if len(gist) <= 160 else gist[:159] + "…"
        rows.append(
            f"<tr><td>{_clock(t.created)}</td><td>{esc(t.participant or '')}</td><td>{esc(t.question)}</td>"
            f"<td>{esc(outcome)}<br><span class='pa-meta'>{esc(gist)}</span></td></tr>"
        )
    body = "".join(rows) or "<tr><td colspan=4>No questions yet.</td></tr>"
    return scrolling_table(
        "Questions of every participant, newest first",
        "<thead><tr><th scope='col'>Time</th><th scope='col'>Participant</th><th scope='col'>Question</th><th scope='col'>Answer</th></tr></thead>"
        f"<tbody>{body}</tbody>",
        table_id="pa-fac-questions",
    )


def facilitator_feedback(feedback, limit: int = 200) -> str:
    rows = "".join(
        f"<tr><td>{_clock(f.updated)}</td><td>{esc(f.participant or '')}</td>"
        f"<td class='{'pa-vote-up' if f.vote == 'up' else 'pa-vote-down'}'>{'👍 helpful' if f.vote == 'up' else '👎 not helpful' if f.vote == 'down' else '–'}</td>"
        f"<td>{esc(f.comment or '')}</td><td>{esc(f.question)}</td></tr>"
        for f in feedback[:limit]
    )
    return scrolling_table(
        "Feedback of every participant, newest first",
        "<thead><tr><th scope='col'>Time</th><th scope='col'>Participant</th><th scope='col'>Vote</th><th scope='col'>Comment</th><th scope='col'>Question</th></tr></thead>"
        f"<tbody>{rows or '<tr><td colspan=5>No feedback yet.</td></tr>'}</tbody>",
        table_id="pa-fac-feedback",
    )


def conversation_choice(participant: str, turns) -> str:
    """How a conversation is listed for the facilitator: 'Amina — 3 questions, since 10:02'."""
    n = len(turns)
    return f"{participant} — {n} question{'s' if n != 1 else ''}, since {time.strftime('%H:%M', time.localtime(turns[0].created))}"
