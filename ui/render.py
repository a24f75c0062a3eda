"""Everything the web chat shows, as text: [n] chips, the source panel (cited sentences
highlighted), the surrounding text of a report, the practice library, the report list and the
Markdown export.  Pure functions over the Answer / CatalogueRecord JSON, so they are tested
without a browser.

Safety: every piece of text that reaches ``gr.HTML`` goes through ``html.escape`` here (reports,
questions, comments, participant names alike); the chat's Markdown goes through Gradio's
sanitiser, and the user's own words are escaped before that (``user_message``).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

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

CSS = """
.pa-chip, a[href^="#pa-c-"], a[href^="#pa-r-"] {
  display: inline-block; padding: 0 .4em; margin: 0 .1em; border-radius: .8em;
  background: #e0ecff; color: #1a4fa0 !important; font-size: .85em; font-weight: 600;
  text-decoration: none !important; line-height: 1.5; cursor: pointer; border: 1px solid #b7cdf5;
}
a[href^="#pa-c-"]:hover, a[href^="#pa-r-"]:hover { background: #c7dbff; }
.pa-card { border: 1px solid #d8dee8; border-radius: 8px; padding: .6em .8em; margin: 0 0 .8em 0; background: #fff; color: #1f2937; }
.pa-card.pa-selected { border: 2px solid #1a4fa0; box-shadow: 0 0 0 3px #e0ecff; }
.pa-card h4 { margin: 0 0 .2em 0; font-size: 1em; }
.pa-meta { color: #4b5563; font-size: .85em; margin-bottom: .4em; }
.pa-meta code { font-size: .95em; }
.pa-passage { margin: 0; padding: .4em .6em; border-left: 3px solid #b7cdf5; background: #f8fafc; font-size: .92em; line-height: 1.45; }
.pa-passage mark { background: #fff1a8; padding: 0 .1em; }
.pa-num { color: #1a4fa0; font-weight: 700; }
.pa-empty { color: #6b7280; font-style: italic; }
.pa-context { font-family: ui-monospace, monospace; font-size: .8em; white-space: pre-wrap; background: #f8fafc; border: 1px solid #e5e7eb; border-radius: 6px; padding: .4em; max-height: 420px; overflow: auto; color: #1f2937; }
.pa-line { display: block; }
.pa-line .pa-ln { color: #9ca3af; display: inline-block; width: 3.5em; user-select: none; }
.pa-line.pa-in { background: #fff7cc; }
.pa-records { list-style: none; padding: 0; margin: 0; }
.pa-records li { border-bottom: 1px solid #eef0f3; padding: .45em 0; color: #1f2937; }
.pa-badge { display: inline-block; font-size: .75em; padding: 0 .45em; border-radius: .6em; margin-right: .3em; }
.pa-badge.practice { background: #dcfce7; color: #166534; }
.pa-badge.recommendation { background: #fde68a; color: #854d0e; }
.pa-tags { color: #4b5563; font-size: .8em; }
.pa-table { border-collapse: collapse; width: 100%; font-size: .9em; }
.pa-table th, .pa-table td { border-bottom: 1px solid #e5e7eb; padding: .35em .5em; text-align: left; vertical-align: top; color: #1f2937; }
.pa-table th { background: #f3f4f6; }
.pa-vote-up { color: #166534; } .pa-vote-down { color: #991b1b; }
"""

EMPTY_PANEL = "<p class='pa-empty'>Ask a question: the passages it cites appear here. Click a [n] marker in an answer to open its passage.</p>"


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


# --------------------------------------------------------------------------- the chat


def user_message(text: str) -> str:
    """The user's own words for the chat: shown as text, never as HTML or Markdown."""
    text = " ".join(str(text or "").split())
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    def lead(m: re.Match) -> str:
        mark = m.group(2)
        return m.group(1) + ("\\" + mark if len(mark) == 1 else mark[:-1] + "\\" + mark[-1])

    return _MD_LINE_START.sub(lead, text)


def chipify(answer_md: str, turn: int, numbers: Iterable[int]) -> str:
    """Turn the [n] markers of one answer into chips (links the click handler intercepts)."""
    known = set(numbers)

    def sub(m: re.Match) -> str:
        n = int(m.group(1))
        return f"[\\[{n}\\]]({CHIP_PREFIX}{turn}-{n})" if n in known else m.group(0)

    return _MARKER.sub(sub, answer_md)


def answer_message(answer: dict, turn: int) -> str:
    """The assistant's chat message: the answer with chips, then the notice and verifier note."""
    parts = []
    if answer.get("notice"):
        parts.append(f"> ℹ️ {user_message(answer['notice'])}\n")
    parts.append(chipify(answer.get("answer", ""), turn, (c["n"] for c in answer.get("citations", []))))
    removed = answer.get("removed_sentences") or []
    if removed:
        parts.append(f"\n\n_{len(removed)} sentence(s) without support in the cited passages were removed._")
    return "\n".join(parts)


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


def single_source(assistant, answer: dict, n: int, turn: int) -> str:
    """One cited passage (the chip's), framed, with its highlighted sentences."""
    for c in answer.get("citations") or []:
        if int(c["n"]) == int(n):
            segs = cited_segments(answer.get("answer", "")).get(int(n), [])
            head = f"<p class='pa-meta'>Answer {turn + 1}, citation [{int(n)}] — question: “{esc(answer.get('question', ''))}”</p>"
            return head + citation_card(assistant, c, segs, selected=True)
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
            f"<a href='{RECORD_PREFIX}{esc(r.id)}' title='open the passage'>{esc(cite)}, lines "
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
        f"<table class='pa-table'>{rows}</table>"
    )
    card = citation_card(assistant, citation, [statement] if statement else [], selected=True)
    return head + card.replace("<span class='pa-num'>[1]</span> ", "")


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
    return (
        "<table class='pa-table'><thead><tr><th>Report</th><th>Authors</th><th>Publisher</th><th>Year</th>"
        "<th>Kind</th><th>File</th><th>Also called</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


# --------------------------------------------------------------------------- export


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in (text or "").splitlines() or [""])


def export_markdown(turns: list[dict], assistant=None, heading: str = "Conversation with the Integration Policy Assistant", meta: dict | None = None) -> str:
    """A conversation as Markdown: each question, the answer with its [n] markers, and every
    cited passage in full (report, year, section, file, line span)."""
    out = [f"# {heading}", ""]
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    out.append(f"_Exported {stamp}. Answers are drawn only from the cited reports; check the passages below._")
    for k, v in (meta or {}).items():
        out.append(f"- **{k}:** {v}")
    out.append("")
    if not turns:
        out.append("_No questions were asked._")
    for i, t in enumerate(turns, 1):
        a = t.get("answer") or {}
        out += [f"## {i}. {a.get('question') or t.get('question', '')}", ""]
        if a.get("notice"):
            out += [f"> Note: {a['notice']}", ""]
        out += [a.get("answer", ""), ""]
        cits = a.get("citations") or []
        if cits:
            out += ["**Sources**", ""]
            for c in cits:
                meta_r = assistant.report(c["source"]) if assistant is not None else None
                cite = f"{meta_r.short_citation}, " if meta_r and meta_r.short_citation else ""
                year = f" ({meta_r.year})" if meta_r and meta_r.year else ""
                out.append(
                    f"[{c['n']}] {c.get('title', '')}{year}. {cite}section “{c.get('section') or 'no section'}”, "
                    f"`{c['source']}` lines {c['start_line']}–{c['end_line']}."
                )
                out += [_quote(c.get("text", "")), ""]
        if t.get("vote") or t.get("comment"):
            out += [f"_Feedback: {t.get('vote') or ''} {t.get('comment') or ''}_".strip(), ""]
    return "\n".join(out).rstrip() + "\n"
