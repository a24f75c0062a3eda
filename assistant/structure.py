"""Document structure from extracted text: which lines are body, headings, footnotes or page
furniture, and how the body falls into paragraphs under a section path.

Works line by line on the source file so that every paragraph keeps the 1-based numbers of
the lines it came from.  The heuristics cover the layouts that PDF-to-text and PDF-to-Markdown
conversions produce (see knowledge_base/README.md): running headers and page numbers, footnote
blocks with or without their numbers, page starts marked by a leading space, Markdown headings,
Roman-numbered and lettered headings, ALL-CAPS headings and pull quotes printed twice.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .cleaning import clean_line, collapse_ws, fix_unicode, match_tokens, note_markers

_BARE_NUMBER = re.compile(r"^\s*\d{1,3}\s*$")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*)$")
_ROMAN = re.compile(r"^\s*([IVX]{1,5})\.\s*(.*)$")
_LETTER = re.compile(r"^\s*([A-H])\.\s*$")
_DIGIT_ALONE = re.compile(r"^\s*(\d)\.\s*$")
_NUMBERED_TITLE = re.compile(r"^\s*(\d{1,2})\.\s+([A-Z].{3,110})$")
_HR = re.compile(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$")
_SUP_FOOTNOTE = re.compile(r"^\s*(<sup>\s*\d+\s*</sup>|[¹²³⁴⁵⁶⁷⁸⁹⁰]+)\s*\S")
_NUMBERED_FOOTNOTE_WIDE = re.compile(r"^\d{1,2}\s{2,}\S")  # "1   One policy-oriented study"
_NUMBERED_FOOTNOTE = re.compile(r"^\d{1,3}\s+[A-Z“‘\"']")  # "10 Eva Ersbøll and ..."
_CITATION_LIKE = re.compile(
    r"(https?://|www\.|\bIbid\b|\bInterview (with|at)\b|\baccessed\b|\bet al\.|\beds?\.|\bno\. \d|"
    r"\(\s*[A-Z][^()]{1,60}:\s*[^()]{2,80},?\s*\d{4}\)|^\s*See\b|\bpp?\. \d)",
)
BYLINE_LINES = 40  # a byline stands among a report's first lines
_UNFINISHED = re.compile(r"(?:\b[a-z][\w’'-]*|,)\s*$")  # a line that stops mid-sentence: "… the national fund and"
_SENTENCE_END = re.compile(r"[.!?:;…][\"”’)]*\s*$")
# "- **Title.** Text ..." (the text after the title starts a sentence: "**Chapter 3** turns ..." is no title)
_BOLD_LEAD = re.compile(r"^\s*(?:[-*+•▪●▶►]\s*)*\*\*([^*]{3,160}?)\*\*\s*([A-Z“\"‘(].{20,})$")
# "Box 1. Partners across borders: ...", "Figure 3: ..." printed over a box or figure: a paragraph of its own
_BOX_TITLE = re.compile(r"^(?:Box|Figure|Table|Chart|Exhibit|Map|Graph)\s+\d{1,2}(?:\.\d+)?[.:]?\s+[A-Z‘“\"'].{2,160}$")


@dataclass
class Block:
    """A paragraph (body or footnote) or a heading, with the source lines it came from."""

    # "paragraph" | "footnote" | "heading" | "title" (a list item's bold title: not quoted) | "aside" (a box
    # that interrupted a sentence: names, affiliations, reference lines; searchable, not quoted, a passage of its own)
    kind: str
    lines: list[tuple[int, str]]  # (1-based line number, repaired line text)
    section: list[str] = field(default_factory=list)
    level: int = 0
    note: int | None = None  # a footnote block: the number of the note it holds
    marks: dict[int, list[int]] = field(default_factory=dict)  # line number -> numbers of the notes it cites
    lead: bool = False  # a "title": a list item's bold lead-in, printed on the line its text starts

    @property
    def text(self) -> str:
        return collapse_ws(" ".join(t for _, t in self.lines))


def _clean_title(line: str) -> str:
    """Headings keep their numbers ("3.4.1"), so no footnote-marker stripping here."""
    return re.sub(r"(\*\*|<sup>.*?</sup>|^\s*#+\s*)", "", fix_unicode(line))


def _is_all_caps_title(s: str) -> bool:
    letters = [c for c in s if c.isalpha()]
    return len(letters) >= 6 and sum(c.isupper() for c in letters) / len(letters) > 0.85 and len(s) <= 130


def _words(s: str) -> int:
    return len(s.split())


_CAPTION = re.compile(r"^\W*(Source|Sources|Chart|Table|Figure|Box|Note|Notes)\b.*|.*(https?://|www\.)")


def _looks_like_title(s: str) -> bool:
    s = s.strip()
    if not s or len(s) > 110 or _words(s) > 14 or re.search(r"[.,;:!]$", s) or _CAPTION.match(s):
        return False
    return s[0].isupper() or s[0] in "‘“'\"("


class _Lines:
    def __init__(self, raw: list[str]):
        self.raw = [fix_unicode(x.rstrip("\n\r")) for x in raw]

    def __len__(self) -> int:
        return len(self.raw)

    def blank(self, i: int) -> bool:
        return i >= len(self.raw) or not self.raw[i].strip()

    def next_nonblank(self, i: int) -> int:
        while i < len(self.raw) and not self.raw[i].strip():
            i += 1
        return i


def running_headers(raw: list[str]) -> set[str]:
    """Short lines that repeat on many pages: report titles, publisher names in headers/footers."""
    counts = Counter(collapse_ws(x).lower() for x in raw if x.strip())
    return {
        line
        for line, n in counts.items()
        if n >= 3 and 3 <= len(line) <= 150 and not _BARE_NUMBER.match(line) and not _HR.match(line)
    }


def parse_document(raw_lines: list[str], furniture: tuple[str, ...] = ()) -> list[Block]:
    """Classify every line and group them into headings, body paragraphs and footnote blocks.

    ``furniture``: texts known to be page furniture when they stand alone on a line (the report
    title and publisher, printed as running headers or footers even where they occur once)."""
    L = _Lines(raw_lines)
    headers = running_headers(L.raw) | {collapse_ws(f).lower() for f in furniture if len(f) >= 10}
    long_lines = sorted(len(x.strip()) for x in L.raw if len(x.strip()) > 40)
    typical_width = long_lines[int(len(long_lines) * 0.75)] if long_lines else 100

    lower_words = lower_case_words(L.raw)  # a byline's names are never among them
    blocks: list[Block] = []
    section: list[str] = []
    levels: list[int] = []
    current: Block | None = None  # open body paragraph
    footnote: Block | None = None  # open footnote block
    state = "body"  # body | numbers | footnote
    footnote_first = -1
    last_note: int | None = None  # the number of the last note seen
    numbers_seen = 0
    page_number_in_text = False

    deferred: list[Block] = []  # a box that interrupted a sentence: placed after the sentence's paragraph

    def close_paragraph() -> None:
        nonlocal current
        if current and current.lines:
            blocks.append(current)
        current = None
        if deferred:
            blocks.extend(deferred)
            deferred.clear()

    def close_footnote() -> None:
        nonlocal footnote
        if footnote and footnote.lines:
            blocks.append(footnote)
        footnote = None

    def open_footnote(i: int) -> None:
        nonlocal footnote, footnote_first, state
        close_footnote()
        footnote = Block("footnote", [], list(section) + ["Footnotes"])
        footnote_first = i
        state = "footnote"

    def add_heading(title_lines: list[tuple[int, str]], level: int) -> None:
        nonlocal section, levels
        close_paragraph()
        close_footnote()
        title = collapse_ws(" ".join(_clean_title(t) for _, t in title_lines)).strip(" *#")
        if not title:
            return
        while levels and levels[-1] >= level:
            levels.pop()
            section.pop()
        section.append(title)
        levels.append(level)
        blocks.append(Block("heading", [(n, _clean_title(t)) for n, t in title_lines], list(section), level))

    i = 0
    n = len(L)
    while i < n:
        raw = L.raw[i]
        s = raw.strip()
        lineno = i + 1
        norm = collapse_ws(s.strip("*# ")).lower()

        if not s:
            i += 1
            continue
        if norm in headers or _HR.match(s):
            i += 1
            continue
        if _BARE_NUMBER.match(s):  # footnote numbers printed apart from their texts, or a page number
            if state == "body":
                # a page number printed right after a finished sentence (no blank line before it)
                # is followed by the next page's text, not by footnotes
                state, numbers_seen = "numbers", 0
                page_number_in_text = (
                    i > 0 and not L.blank(i - 1) and current is not None
                    and bool(_SENTENCE_END.search(current.lines[-1][1]))
                )
            numbers_seen += 1
            i += 1
            continue

        # a byline under the title ("Edith van Ewijk and Gery Nijenhuis") is front matter to quote ("Who
        # wrote it?"), not a heading: a paragraph of its own, before the body's first sentence (not an
        # author box that interrupts a sentence: "… such as the national fund and" [names] "the regional …")
        if (state == "body" and blocks and lineno <= BYLINE_LINES and L.blank(i - 1) and L.blank(i + 1)
                and not any(b.kind == "paragraph" and _SENTENCE_END.search(b.lines[-1][1]) for b in blocks)
                and not any(b is not None and b.kind == "paragraph" and _UNFINISHED.search(b.lines[-1][1])
                            for b in (current, blocks[-1]))
                and byline_names(s, lower_words)):
            close_paragraph()
            blocks.append(Block("paragraph", [(lineno, s)], list(section)))
            i += 1
            continue

        # ---------------- headings (they also end any footnote block) ----------------
        heading = _match_heading(L, i, headers, state)
        if heading is not None:
            title_lines, level, i = heading
            state = "body"
            add_heading(title_lines, level)
            continue

        # ---------------- single-line footnotes: <sup>1</sup> ..., ¹ ... ----------------
        if _SUP_FOOTNOTE.match(s):
            close_paragraph() if current and _SENTENCE_END.search(current.lines[-1][1]) else None
            fn = Block("footnote", [(lineno, clean_line(raw).strip())], list(section) + ["Footnotes"])
            opening = note_markers(s.split()[0])
            fn.note = opening[0] if opening else None
            last_note = fn.note if fn.note is not None else last_note
            blocks.append(fn)
            i += 1
            # reference lines printed right under it (no blank line) belong to the same note
            while i < n and not L.blank(i) and not _SUP_FOOTNOTE.match(L.raw[i]) and _is_reference(L.raw[i].strip()):
                fn.lines.append((i + 1, clean_line(L.raw[i]).strip()))
                i += 1
            continue

        leading_space = raw[:1].isspace()
        prev_text = current.lines[-1][1] if current else ""

        if state == "numbers":
            # the text after a run of numbers is footnote text unless it plainly continues the body:
            # lower-case after one number, or a page start (leading space) after a page number
            # printed inside running text
            if numbers_seen == 1 and current is not None and (
                s[0].islower()
                or (page_number_in_text and re.match(r"^ \S", raw) and not _CITATION_LIKE.match(s))
            ):
                state = "body"
            else:
                open_footnote(i)
        elif state == "body":
            if _NUMBERED_FOOTNOTE_WIDE.match(raw) or (
                _NUMBERED_FOOTNOTE.match(raw)
                and (_CITATION_LIKE.search(s) or (current is not None and not _SENTENCE_END.search(prev_text)))
            ):
                open_footnote(i)
            elif leading_space and re.match(r"^ \S", raw) and _CITATION_LIKE.match(s) and current is not None:
                open_footnote(i)
            elif last_note is not None and L.blank(i - 1) and _note_number(s, last_note) is not None:
                # "13 For example, approximate figures for Flanders …" after note 12: the next note
                open_footnote(i)

        if state == "footnote":
            ends = leading_space and i > footnote_first and not _NUMBERED_FOOTNOTE_WIDE.match(raw)
            if not ends:
                assert footnote is not None
                text = clean_line(raw).strip()
                # the first line of a block structure took for a note may open with any number ("108 …"
                # after note 38: the notes between were printed apart from their numbers)
                note = _note_number(text, None if not footnote.lines else last_note)
                if note is not None:
                    # each note is a block of its own, without its number: "36 Ibid." and "37 The India
                    # Centre for Migration (ICM) is …" are two notes, not one sentence "36 Ibid. 37 The …"
                    if footnote.lines:
                        close_footnote()
                        footnote = Block("footnote", [], list(section) + ["Footnotes"])
                    footnote.note = note
                    last_note, text = note, _NOTE_START.sub("", text, count=1)
                footnote.lines.append((lineno, text))
                i += 1
                continue
            close_footnote()
            state = "body"

        # ---------------- body text ----------------
        lead = _BOLD_LEAD.match(raw)
        if lead:
            # "- **Including rural and small municipalities.** The Commission should ...": the bold
            # title of a list item is a paragraph of its own, not the start of its first sentence
            close_paragraph()
            blocks.append(Block("title", [(lineno, clean_line(lead.group(1)).strip())], list(section), lead=True))
            raw = " " * (len(raw) - len(raw.lstrip())) + lead.group(2)
            current = Block("paragraph", [], list(section))
            current.lines.append((lineno, clean_line(raw).strip()))
            i += 1
            continue
        text = clean_line(raw).strip()
        if not text:
            i += 1
            continue
        if _BOX_TITLE.match(text):
            # "Box 4. Decentralisation remains a challenge in ... of" / "origin": the title of a box or
            # figure (and its wrapped lower-case continuation) is not part of the box's first sentence
            close_paragraph()
            current = Block("title", [(lineno, text)], list(section))
            i += 1
            continue
        if current is not None and current.kind == "title":
            if text[0].islower() and not L.blank(i - 1):
                current.lines.append((lineno, text))
                i += 1
                continue
            close_paragraph()
        if L.blank(i - 1) and _is_name_list(text):
            note = _unfinished_list_note(blocks, lineno)
            if note is not None:
                # "<sup>15</sup> Amsterdam (NL), …, Prague (CZ)," ran over the page; its tail "Sefton (UK), …,
                # Zurich (CH)." was printed after the next page's body text: it ends the note
                note.lines.append((lineno, text))
                i += 1
                continue
        if current is not None and current.kind == "paragraph" and text[0].islower() and L.blank(i - 1):
            host = _interrupted_paragraph(blocks, current, L)
            if host is not None:
                # "... through EU funds such as the AMIF and" [an authors' box: names, affiliations]
                # "the European Social Fund (ESF), ...": the lower-case text goes on with the sentence the
                # box interrupted; the box's lines follow that paragraph as asides
                at = next(k for k in range(len(blocks) - 1, -1, -1) if blocks[k] is host)
                for b in blocks[at + 1 :] + [current]:
                    if b.kind == "paragraph":
                        b.kind = "aside"
                    deferred.append(b)
                del blocks[at:]
                current = host
                current.lines.append((lineno, text))
                i += 1
                continue
        new_par = current is None
        if current is not None:
            prev_raw_blank = L.blank(i - 1)
            ended = bool(_SENTENCE_END.search(prev_text))
            starts_upper = text[0].isupper() or text[0] in "‘“\"'(•▶-"
            is_bullet = bool(re.match(r"^\s*([-*•▪●]|▶|\d{1,2}\.)\s", raw))  # "2005. Although": a year ending a sentence
            if is_bullet:
                new_par = True
            elif prev_raw_blank and not (not ended and text[0].islower()):
                new_par = True
            elif leading_space and starts_upper and ended and re.match(r"^\s{2,}|^ \S", raw):
                new_par = ended
            elif ended and starts_upper and len(L.raw[current.lines[-1][0] - 1].strip()) < 0.7 * typical_width:
                new_par = True
        if new_par:
            close_paragraph()
            current = Block("paragraph", [], list(section))
        assert current is not None
        current.lines.append((lineno, text))
        i += 1

    close_paragraph()
    close_footnote()
    for b in blocks:  # the notes each line of running text cites ("cities<sup>15</sup>", "competences23")
        if b.kind in ("paragraph", "title", "aside"):
            b.marks = {n: m for n, _ in b.lines if (m := note_markers(L.raw[n - 1]))}
    return _drop_pull_quotes(blocks)


# the number that opens a note: "37 The India Centre …", "1   One policy-oriented study …"
_NOTE_START = re.compile(r"^(\d{1,3})\s+(?=[A-ZÀ-Ý“‘\"'(])")


def _note_number(text: str, last: int | None) -> int | None:
    """The number of the note that ``text`` (a line of a footnote block) opens, when it follows
    the last note's number (by one to three: a note may have been printed elsewhere); None for a
    line that goes on with a note or starts with a figure."""
    m = _NOTE_START.match(text)
    if not m:
        return None
    number = int(m.group(1))
    return number if last is None or last < number <= last + 3 else None


_LIST_ITEM = re.compile(
    r"^[A-ZÀ-Ý][\w’'.-]*(?:\s+(?:[A-ZÀ-Ý][\w’'.-]*|\([A-Z]{2,3}\)|de|del|la|le|van|von|am|an|der|upon|on|and))*\.?$"
)


_NAME_PARTICLE = frozenset("van von de der den del della da di du la le ter ten bin al el y".split())


def lower_case_words(lines: list[str]) -> set[str]:
    """The words a document writes in lower case (lower-cased, outer dots and apostrophes stripped):
    what ``byline_names`` takes for no name."""
    return {w.lower().strip(".’'") for line in lines for w in line.split() if w[:1].islower()}


def byline_names(text: str, lower_words: set[str], max_names: int = 8) -> list[str]:
    """The people a byline under a report's title names ("Edith van Ewijk and Gery Nijenhuis", "By
    Jane Doe, John Smith & Ana Roe"), or [] when the line is anything else. Each name is two to four
    words, each capitalised or a particle ("van"), and none a word the document also writes in lower
    case (``lower_words``): "Translocal Activities" or "Building Inclusive Cities" is a title, not a name."""
    line = re.sub(r"^\s*by\s+", "", collapse_ws(text).strip(" *_#"), flags=re.I).rstrip(".")
    if not line or re.search(r"[\d(:;]", line):
        return []
    names = [x.strip() for x in re.split(r",\s*(?:and\s+)?|\s+and\s+|\s*&\s*", line) if x.strip()]
    if not 1 <= len(names) <= max_names:
        return []
    for name in names:
        words = name.split()
        core = [w for w in words if w.lower() not in _NAME_PARTICLE]
        if not 2 <= len(words) <= 4 or len(core) < 2 or not words[0][:1].isupper():
            return []
        if any(not w[:1].isupper() or w.lower().strip(".’'") in lower_words for w in core):
            return []
    return names


def _is_name_list(text: str, min_items: int = 4) -> bool:
    """A line that only lists names: "Sefton (UK), Stuttgart (DE), Sundsvall (SE), …"."""
    items = [x.strip() for x in re.split(r",\s*|\s+and\s+", text.strip().rstrip(".,;")) if x.strip()]
    return len(items) >= min_items and sum(bool(_LIST_ITEM.match(x)) for x in items) >= 0.9 * len(items)


def _unfinished_list_note(blocks: list[Block], lineno: int, within: int = 40) -> Block | None:
    """The note, printed at most ``within`` lines before, that stops in the middle of a list of names."""
    for b in reversed(blocks):
        if b.lines[-1][0] < lineno - within:
            return None
        if b.kind == "footnote":
            last = b.lines[-1][1]
            return b if last.rstrip().endswith(",") and _is_name_list(last) else None
    return None


# a reference-list entry: "L. Piccoli, Left out by the State ..., Neuchâtel: Université de Neuchâtel, 2016."
_REFERENCE_ENTRY = re.compile(r"^(?:[A-Z]\.\s?){1,3}[A-Z][\w'’-]+(?:,|\s+et al\b)|,\s*(?:19|20)\d\d[a-z]?\.?\s*$")


def _is_reference(text: str) -> bool:
    return bool(_CITATION_LIKE.search(text) or _REFERENCE_ENTRY.search(text))


_LIST_MARK = re.compile(r"^\s*(?:[-*+•▪●▶►]|\d{1,2}[.)])\s")


def _interrupted_paragraph(blocks: list[Block], current: Block, L: _Lines, max_box_words: int = 14,
                           max_box_blocks: int = 10, min_host_words: int = 8) -> Block | None:
    """The paragraph whose unfinished sentence something printed in between interrupted, when
    ``current`` (followed by a blank line and a lower-case line) ends that interruption: a run of
    short unfinished non-list paragraphs (names, affiliations, a stray header), reference lines or
    footnotes, right after a longer paragraph of the same section that stops mid-sentence. None when
    the text before is anything else."""

    def interruption(b: Block) -> bool:
        if b.kind == "footnote":
            return True
        if b.kind != "paragraph" or any(_LIST_MARK.match(L.raw[n - 1]) for n, _ in b.lines):
            return False
        short = _words(b.text) <= max_box_words and not _SENTENCE_END.search(b.lines[-1][1])
        return short or _is_reference(b.text)

    if not interruption(current):
        return None
    run = 1
    for b in reversed(blocks):
        if run <= max_box_blocks and interruption(b):
            run += 1
            continue
        if (b.kind == "paragraph" and b.section == current.section and _words(b.text) >= min_host_words
                and not _SENTENCE_END.search(b.lines[-1][1])):
            return b
        return None
    return None


def _match_heading(L: _Lines, i: int, headers: set[str], state: str):
    """(title_lines, level, next_index) when line i starts a heading, else None."""
    raw = L.raw[i]
    s = raw.strip()
    prev_blank = i == 0 or L.blank(i - 1) or _BARE_NUMBER.match(L.raw[i - 1] or "")

    def title_after(j: int, max_lines: int = 2) -> tuple[list[tuple[int, str]], int]:
        j = L.next_nonblank(j)
        if j >= len(L) or not _looks_like_title(L.raw[j]):
            return [], j
        out = [(j + 1, L.raw[j])]
        k = j + 1
        caps = _is_all_caps_title(L.raw[j])
        while k < len(L) and len(out) < max_lines and not L.blank(k):
            nxt = L.raw[k].strip()
            if (caps and _is_all_caps_title(nxt)) or (_words(nxt) <= 4 and _looks_like_title(nxt) and L.blank(k + 1)):
                out.append((k + 1, L.raw[k]))
                k += 1
            else:
                break
        return out, k

    m = _MD_HEADING.match(raw)
    if m:
        return [(i + 1, m.group(2))], len(m.group(1)), i + 1
    if i == L.next_nonblank(0) and _looks_like_title(s) and _words(s) <= 8:
        return [(i + 1, s)], 1, i + 1
    if re.match(r"^\*\*[^*]{2,120}\*\*\s*$", s) and prev_blank and L.blank(i + 1):
        return [(i + 1, s)], 3, i + 1
    m = re.match(r"^[-*+]\s+\*\*([^*]{2,120})\*\*\s*$", s)
    if m and i + 1 < len(L) and not L.blank(i + 1):
        # "- **Empower the local level**" over its paragraph: the title of a list of points
        return [(i + 1, m.group(1))], 4, i + 1
    m = _ROMAN.match(raw)
    if m:
        rest = m.group(2).strip()
        if not rest:
            title, k = title_after(i + 1)
            if title:
                return [(i + 1, m.group(1) + ".")] + title, 1, k
        elif _is_all_caps_title(rest) or _looks_like_title(rest):
            out, k = [(i + 1, raw)], i + 1
            if k < len(L) and _is_all_caps_title(L.raw[k].strip()) and _is_all_caps_title(rest):
                out.append((k + 1, L.raw[k]))
                k += 1
            return out, 1, k
    for pat, level in ((_LETTER, 2), (_DIGIT_ALONE, 3)):
        m = pat.match(raw)
        if m:
            title, k = title_after(i + 1, max_lines=1)
            if title:
                return [(i + 1, m.group(1) + ".")] + title, level, k
    if state != "body":
        return None
    m = _NUMBERED_TITLE.match(raw)
    if m and prev_blank and L.blank(i + 1) and not _SENTENCE_END.search(s.rstrip("?")) or (
        m and s.endswith("?") and prev_blank and L.blank(i + 1)
    ):
        return [(i + 1, s)], 2, i + 1
    if _is_all_caps_title(s) and (prev_blank or raw.startswith(" ")) and _words(s) >= 2 and not _CAPTION.match(s):
        return [(i + 1, s)], 1, i + 1
    if re.match(r"^\s{3,}\S", raw) and _looks_like_title(s) and not _NUMBERED_FOOTNOTE_WIDE.match(s):
        # indented title (book-chapter layout), possibly wrapped onto one short line
        out, k = [(i + 1, raw)], i + 1
        if k < len(L) and not L.blank(k) and _words(L.raw[k]) <= 4 and _looks_like_title(L.raw[k]) and L.blank(k + 1):
            out.append((k + 1, L.raw[k]))
            k += 1
        if L.blank(k) or k >= len(L):
            return out, 1, k
    if prev_blank and L.blank(i + 1) and _looks_like_title(s) and 1 <= _words(s) <= 12 and not s.endswith("?"):
        # a name such as "Maria Rossi" has no lower-case word; a section title has. A line whose text
        # goes on in lower case after the blank line (" Improve formal … coordination. Improving
        # coordination" / "between local and national governments …") is a bullet that lost its mark
        following = L.raw[L.next_nonblank(i + 1)].strip() if L.next_nonblank(i + 1) < len(L) else ""
        if not re.match(r"^\s*([-*•▪●]|▶)", raw) and re.search(r"\s[a-z]", s) and not following[:1].islower():
            return [(i + 1, s)], 2, i + 1
    return None


def _drop_pull_quotes(blocks: list[Block]) -> list[Block]:
    """Drop a short body paragraph whose text also stands inside another paragraph (a call-out
    printed twice).  The copy inside the running text is kept."""
    keyed = [(b, " ".join(match_tokens(b.text))) for b in blocks]
    out: list[Block] = []
    for idx, (b, key) in enumerate(keyed):
        if b.kind == "paragraph" and 6 <= len(key.split()) <= 80:
            twin = any(
                j != idx and o.kind in ("paragraph", "footnote") and key in okey and (len(okey) > len(key) or j < idx)
                for j, (o, okey) in enumerate(keyed)
            )
            if twin:
                continue
        out.append(b)
    return out
