"""Text from a report, shown as text: Markdown in which nothing a report wrote becomes active.

A quote is a report's own sentence, and a report is anything a user ingests, so a sentence may hold
``<img src="//host/x.png">``, ``&#104;ttp://…``, ``![x](//host/y.png)``, ``[click](javascript:…)`` or
``<http://…>``. Rendered as Markdown (the web chat, a chat front-end on the OpenAI-compatible API, a
Markdown viewer opening an export) such text would make the reader's browser fetch a remote
resource or show a live link. ``inert_markdown`` escapes exactly what could become active, and
leaves the rest of the Markdown (bullets, emphasis, headings, ``[n]`` markers) alone:

- a backslash is doubled first, so a report's own ``\\`` cannot undo an escape added here, and a
  backtick is escaped (no code span, in which an escape would show as typed);
- ``<`` before a letter, ``/``, ``!`` or ``?`` (an HTML tag, comment or autolink) becomes ``&lt;``,
  and ``&`` that starts an entity becomes ``&amp;``: raw HTML and entity-encoded text show as typed;
- ``![`` becomes ``!\\[`` (no image), ``](`` and ``]:`` become ``\\](`` and ``\\]:`` (no inline
  link, no link reference definition, hence no reference link either);
- bare URLs are no autolinks (``http\\://``, ``www\\.``), nor are e-mail addresses (``\\@``);
- LaTeX stays off in the chat (``latex_delimiters=[]`` on its Chatbots), so ``$$`` is plain text.

A normal answer has none of these and comes out unchanged. Everything is local to a line, so a
text streamed line by line is escaped the same way as the whole text.
"""

from __future__ import annotations

import re

_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_IMAGE = re.compile(r"!\[")
_LINK_END = re.compile(r"\](?=[(:])")
_SCHEME = re.compile(r"(?i)\b(https?|ftp)(?=://)")
_WWW = re.compile(r"(?i)\b(www)\.")
_AT = re.compile(r"(?<=[\w.+-])@(?=[\w-])")


def inert_markdown(text: str | None) -> str:
    """``text`` as Markdown in which no link, image, autolink, HTML tag or entity is active."""
    if not text:
        return ""
    t = str(text).replace("\\", "\\\\")
    t = _ENTITY.sub("&amp;", t)
    t = _HTML_START.sub("&lt;", t)
    t = t.replace("`", "\\`")
    t = _IMAGE.sub("!\\[", t)
    t = _LINK_END.sub("\\\\]", t)
    return no_autolinks(t)


def no_autolinks(text: str) -> str:
    """Bare URLs, ``www.`` names and e-mail addresses as text, not GFM autolinks."""
    t = _SCHEME.sub(r"\1\\", text)
    t = _WWW.sub(r"\1\\.", t)
    return _AT.sub("\\\\@", t)


def inert_line(text: str | None) -> str:
    """One line of ``inert_markdown`` (line breaks become spaces): a title, a section, a name."""
    return inert_markdown(" ".join(str(text or "").split()))


def code_name(text: str | None) -> str:
    """A file name for a Markdown code span: one line, no backtick (nothing in a code span is active)."""
    return " ".join(str(text or "").replace("`", "'").split())
