"""Repairs of text-extraction damage, one function per kind of damage.

These work on single lines or on joined text; the document structure (headers, footnote
blocks, pull quotes, headings) is handled in ``structure.py``.  ``normalise_for_match`` is the
canonical form used to check that a passage's text stands in its line span.
"""

from __future__ import annotations

import re
import unicodedata

# "specifi c", "fi rst", "confi rm", "fl exible", "effi cient": a ligature glyph (fi, fl, ffi, ffl)
# was extracted with a trailing space.  Only fi/fl endings are joined: "staff members" is real.
_LIGATURE_SPLIT = re.compile(r"(?<![A-Za-z])([A-Za-z]*?(?:fi|fl|Fi|Fl))\s(?=[a-z])")

# Footnote markers glued to the word or punctuation before them: "integration.12", "place.4 For".
# After punctuation only when a new sentence or the line's end follows: "Art.1, named after" is a name.
_GLUED_MARKER = re.compile(
    r"(?<=[a-z\)’”\"'])(\d{1,3})(?=[\s,;:.)—–]|$)|(?<=[a-z\)’”\"'][.,;:])(\d{1,3})(?=\s+[A-Z“\"‘(\[]|\s*$)|"
    # after a comma glued to a word, before a lower-case one: "the MATRA programme,90 both funded by"
    # (a number in a list has a space after the comma: "cities, 73 municipalities")
    r"(?<=[a-z\)’”\"'],)(\d{1,3})(?=\s+[a-z])|"
    # after a year that ends a sentence: "reforms only recently, in 2012.44 As a result" (no decimal follows a year)
    r"(?<=\b(?:19|20)\d\d\.)(\d{1,3})(?=\s+[A-Z]|\s*$)"
)
# Spaced markers left by some PDF extractions: "studies. 1  " or "co-develop- ment 2  initiatives".
# A number at the end of a line after a word is text ("residents represent 30" / "percent in Malmo"),
# after punctuation it is a marker ("studies. 1").
_SPACED_MARKER = re.compile(
    r"(?<=[A-Za-z\.,;:)’”])\s+\d{1,2}(?=\s{2,})|(?<=[\.,;:)’”])\s+\d{1,2}\s*$|^\s+\d{1,2}\s{2,}(?=[A-Z])"
)
_SUP_TAG = re.compile(r"<sup>\s*[^<]{0,12}\s*</sup>")
_SUPERSCRIPT_DIGITS = re.compile(r"[¹²³⁴⁵⁶⁷⁸⁹⁰]+")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^()]*\))*\)")  # "[text](javascript:f(x))" -> "text"
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$|<>~])")  # "\$920 million" -> "$920 million"
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*(?=\S)|(?<=\S)\*)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_BULLET = re.compile(r"^\s*(?:[-*+•▪◦●]\s*)?(?:[▶►•▪◦●]\s*)?")
_SPACED_HYPHEN = re.compile(r"(?<=[A-Za-zÀ-ÿ])- (?=[A-Za-zÀ-ÿ])")
# spaces inside brackets and before punctuation left by some PDF extractions: "Smith ( 2013 )",
# "(Jones and Brown 2009 ; Smith 2013 )", "migrant integration : good practices"
_SPACE_IN_BRACKETS = re.compile(r"([(\[])\s+|\s+([)\]])")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=\w)\s+([;,:!?](?=\s)|[;,:!?]$)")
_WS = re.compile(r"\s+")


def fix_unicode(text: str) -> str:
    """Compose decomposed accents ('u' + combining diaeresis -> 'ü') and drop soft hyphens."""
    return unicodedata.normalize("NFC", text).replace("\u00ad", "").replace("\ufb01", "fi").replace("\ufb02", "fl")


def fix_ligatures(text: str) -> str:
    return _LIGATURE_SPLIT.sub(r"\1", text)


def strip_markup(text: str) -> str:
    """Markdown headings, bold/italic marks, links, <sup> footnote tags, superscript digits, bullets."""
    text = _SUP_TAG.sub("", text)
    text = _SUPERSCRIPT_DIGITS.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_ESCAPE.sub(r"\1", text)
    text = _MD_HEADING.sub("", text)
    text = _MD_EMPHASIS.sub("", text)
    text = _BULLET.sub("", text, count=1)
    return text


_SUP_NUMBER = re.compile(r"<sup>\s*(\d{1,3})\s*</sup>")
_SUPERSCRIPT_VALUE = str.maketrans("¹²³⁴⁵⁶⁷⁸⁹⁰", "1234567890")


def note_markers(line: str) -> list[int]:
    """The numbers of the notes a line of running text cites: "<sup>15</sup>", "¹²", "integration.12",
    "studies. 1" (what ``clean_line`` strips from the text)."""
    line = fix_unicode(line)
    found = [int(m.group(1)) for m in _SUP_NUMBER.finditer(line)]
    found += [int(m.group(0).translate(_SUPERSCRIPT_VALUE)) for m in _SUPERSCRIPT_DIGITS.finditer(line)]
    plain = strip_markup(line)
    for m in _SPACED_MARKER.finditer(plain):
        found += [int(d) for d in re.findall(r"\d+", m.group(0))]
    for m in _GLUED_MARKER.finditer(_SPACED_MARKER.sub("", plain)):
        found.append(int(next(g for g in m.groups() if g)))  # the alternative that matched
    return found


def strip_footnote_markers(text: str) -> str:
    text = _SPACED_MARKER.sub("", text)
    return _GLUED_MARKER.sub("", text)


def fix_spaced_hyphens(text: str) -> str:
    """'policy- oriented' -> 'policy-oriented', 'town- to- town' -> 'town-to-town'."""
    return _SPACED_HYPHEN.sub("-", text)


def fix_spacing(text: str) -> str:
    """'( 2013 )' -> '(2013)', 'Wilson 2009 ; Van' -> 'Wilson 2009; Van', 'integration : good' ->
    'integration: good' (leading/trailing space kept)."""
    lead = text[: len(text) - len(text.lstrip())]
    body = _SPACE_IN_BRACKETS.sub(lambda m: m.group(1) or m.group(2), text.lstrip())
    body = _SPACE_BEFORE_PUNCT.sub(r"\1", body)
    return lead + body


def clean_line(line: str) -> str:
    """All per-line repairs, in the order that keeps them independent. Whitespace is preserved
    at the ends so that callers can still see indentation-based layout before calling strip()."""
    line = fix_unicode(line)
    line = strip_markup(line)
    line = strip_footnote_markers(line)
    line = fix_ligatures(line)
    line = fix_spaced_hyphens(line)
    line = fix_spacing(line)
    return line


def collapse_ws(text: str) -> str:
    return _WS.sub(" ", text).strip()


def join_hyphenated(left: str, right: str, vocabulary: set[str] | None = None) -> tuple[str, bool]:
    """Join a line ending in 'govern-' with the next line 'ments ...'.

    Returns (joined_text, dropped_hyphen).  The hyphen is dropped when the next line starts in
    lower case, unless the document spells the compound with a hyphen elsewhere ('co-development')
    and never without it.
    """
    m = re.search(r"([A-Za-zÀ-ÿ]+)-\s*$", left)
    n = re.match(r"\s*([a-zà-ÿ][A-Za-zÀ-ÿ]*)(-?)", right)
    if not m or not n:
        return left.rstrip() + " " + right.lstrip(), False
    head, tail = m.group(1), n.group(1)
    # "town-" + "to-town": the line broke inside a hyphenated compound, whose hyphens stay
    keep = bool(n.group(2))
    if vocabulary is not None and not keep:
        solid = (head + tail).lower()
        hyphenated = f"{head}-{tail}".lower()
        keep = hyphenated in vocabulary and solid not in vocabulary
    if keep:
        return left.rstrip() + right.lstrip(), False
    return left.rstrip()[:-1] + right.lstrip(), True


_TOKEN = re.compile(r"[0-9a-zà-ÿ]+")


def match_tokens(text: str) -> list[str]:
    """Canonical token form for span checks: repairs applied, hyphenation removed, lower case."""
    text = "\n".join(clean_line(line) for line in text.split("\n"))
    text = re.sub(r"([A-Za-zÀ-ÿ])-\s*\n\s*([A-Za-zÀ-ÿ])", r"\1\2", text)
    text = text.replace("-", "")
    return _TOKEN.findall(text.lower())


_NOTE_NUMBER_LINE = re.compile(r"^(\s*)\d{1,3}(?=\s)", re.M)


def text_in_span(text: str, span_text: str, max_gaps: int = 4, min_run: int = 4) -> bool:
    """True when ``text`` stands in ``span_text`` once whitespace and repairs are normalised.

    The passage's tokens must appear in order as at most ``max_gaps + 1`` contiguous runs of the
    span's tokens (gaps are the footnote blocks, running headers and pull quotes that ingestion
    lifted out of the body); every run but the last is at least ``min_run`` tokens long. The
    numbers that open a line ("36   Ibid.", "37 The India Centre …": the numbers of notes, which
    ingestion drops) may be missing from ``text`` too.
    """
    if _in_span(match_tokens(text), match_tokens(span_text), max_gaps, min_run):
        return True
    without_numbers = _NOTE_NUMBER_LINE.sub(r"\1", span_text)
    return without_numbers != span_text and _in_span(match_tokens(text), match_tokens(without_numbers), max_gaps, min_run)


def _in_span(needle: list[str], hay: list[str], max_gaps: int, min_run: int) -> bool:
    if not needle:
        return False
    hay_str = " " + " ".join(hay) + " "
    pos, i, runs = 0, 0, 0
    while i < len(needle):
        # longest run of needle[i:] found in hay at or after pos
        lo, hi, best_at = 1, len(needle) - i, -1
        found_len = 0
        while lo <= hi:
            mid = (lo + hi) // 2
            at = hay_str.find(" " + " ".join(needle[i : i + mid]) + " ", pos)
            if at >= 0:
                found_len, best_at, lo = mid, at, mid + 1
            else:
                hi = mid - 1
        if found_len == 0 or (found_len < min_run and i + found_len < len(needle)):
            return False
        runs += 1
        if runs > max_gaps + 1:
            return False
        pos = best_at + len(" ".join(needle[i : i + found_len])) + 1
        i += found_len
    return True
