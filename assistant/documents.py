"""User files (PDF, DOCX, HTML, Markdown, TXT) -> the text file citations point into, with the
page each line came from and the metadata the file or its first page gives.

PDF (pdfplumber, MIT; chosen over pypdf because it gives every word's position, size and font, and
over PyMuPDF, which is AGPL): words are grouped into lines by position; running headers, footers and
page numbers are recognised by their repetition across pages at the top or bottom of the page (text
with the digits masked) and dropped; headings are recovered from font size and weight (larger or
bold lines that do not end a sentence) and written as Markdown headings, their level from the size
rank or their numbering ("2.3"); a vertical gap or an indent starts a paragraph (a blank line). Line
breaks inside a paragraph are kept, so hyphenation across lines is repaired downstream
(``chunking``, with the document's own vocabulary) and every passage keeps its exact line span.

DOCX (python-docx): body order of paragraphs and tables; headings from the heading and title
styles, list items as "- " lines of body text (never headings), tables as one line per row, captions
as body text. HTML (BeautifulSoup): headings from h1-h6, list items, table rows, captions and
figure captions as body text; navigation, scripts and page furniture dropped. Markdown and TXT: as
they are (Markdown headings are understood by ``structure``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Converted:
    text: str
    page_starts: list[int] | None = None  # 1-based line of the text where each PDF page starts
    page_labels: list[str] | None = None  # the printed page number of each page (or its index)
    title: str = ""
    authors: str = ""
    year: int | None = None
    furniture: list[str] = field(default_factory=list)  # running headers/footers removed (for reports)


_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[-–—(]?\s*([0-9]{1,4}|[ivxlc]{1,6})\s*[-–—)]?(?:\s*(?:/|of)\s*\d{1,4})?$", re.I)
_BAD_TITLE = re.compile(r"^(?:microsoft word|untitled|\(?anonymous\)?|document\d*|doc\d*|\s*$)|\.(?:docx?|pdf|odt|indd)\s*$", re.I)
_CID_BULLET = re.compile(r"^\(cid:\d+\)\s*")
_CID = re.compile(r"\(cid:\d+\)")
_BAD_AUTHOR = re.compile(r"^(?:python-docx|admin\w*|user|owner|unknown|author|anonymous|microsoft \w+|\W*)$", re.I)
_NUMBERED = re.compile(r"^((?:\d{1,2}\.){0,3}\d{1,2})\.?\s+\S")


def page_of_line(page_starts: list[int] | None, line: int) -> int | None:
    """The 1-based page index of a text line (None without page information)."""
    if not page_starts:
        return None
    page = 0
    for i, start in enumerate(page_starts):
        if start <= line:
            page = i
        else:
            break
    return page + 1


# --------------------------------------------------------------------------- PDF


@dataclass
class _Line:
    text: str
    top: float
    bottom: float
    x0: float
    size: float
    bold: bool


def _pdf_lines(page) -> list[_Line]:
    words = page.extract_words(extra_attrs=["size", "fontname"], use_text_flow=True, keep_blank_chars=False, x_tolerance=1.5)
    lines: list[list[dict]] = []
    for w in words:
        if lines and abs(w["top"] - lines[-1][-1]["top"]) <= max(2.0, 0.3 * w["size"]) and w["x0"] >= lines[-1][-1]["x0"] - 1:
            lines[-1].append(w)
        else:
            lines.append([w])
    out = []
    for ws in lines:
        text = " ".join(w["text"] for w in ws).strip()
        text = _CID_BULLET.sub("- ", text)  # a bullet glyph the font does not map: "(cid:127) EU ensures"
        text = _CID.sub("", text).strip()
        if not text:
            continue
        sizes = Counter(round(w["size"], 1) for w in ws for _ in w["text"])
        bold = sum(len(w["text"]) for w in ws if re.search(r"bold|black|heavy|semibold", w["fontname"], re.I)) >= 0.8 * len(text.replace(" ", ""))
        out.append(_Line(text, min(w["top"] for w in ws), max(w["bottom"] for w in ws), min(w["x0"] for w in ws), sizes.most_common(1)[0][0], bold))
    return out


def _in_zone(ln: _Line, height: float) -> bool:
    """Near the top or bottom edge of the page, where running headers, footers and page numbers stand."""
    return ln.top < 0.09 * height or ln.bottom > 0.91 * height


def _mask(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


class TextLimitExceeded(Exception):
    """Extraction stopped: the text passed the limit (``chars`` so far, at ``page``)."""

    def __init__(self, chars: int, page: int):
        super().__init__(f"more than {chars:,} characters of text by page {page}")
        self.chars, self.page = chars, page


def pdf_convert(path: Path, data: bytes | None = None, max_text_chars: int | None = None) -> Converted:
    """``data``: the file's bytes (read once by the caller), else ``path`` is opened.
    ``max_text_chars``: stop at the page where the text passes it (TextLimitExceeded)."""
    import io

    import pdfplumber

    pages = []
    chars = 0
    with pdfplumber.open(io.BytesIO(data) if data is not None else str(path)) as pdf:
        meta = dict(pdf.metadata or {})
        for number, p in enumerate(pdf.pages, 1):
            lines = _pdf_lines(p)
            pages.append((float(p.height), lines))
            chars += sum(len(ln.text) + 1 for ln in lines)
            if max_text_chars is not None and chars > max_text_chars:
                raise TextLimitExceeded(chars, number)
            p.close()  # frees the page's parsed objects (a long PDF otherwise keeps them all)
    n = len(pages)
    # running headers and footers: the same text (digits masked) near the top or bottom of many pages
    all_sizes: Counter = Counter(ln.size for _, lines in pages for ln in lines for _ in ln.text)
    common_size = all_sizes.most_common(1)[0][0] if all_sizes else 10.0
    zone_counts: Counter = Counter()
    for height, lines in pages:
        keys = set()
        for ln in lines:
            # a heading repeated on every page (a chapter title) is not furniture: furniture is small print
            if _in_zone(ln, height) and ln.size < common_size * 1.12:
                keys.add(_mask(ln.text))
        zone_counts.update(keys)
    repeated = {k for k, c in zone_counts.items() if n >= 3 and c >= max(3, 0.3 * n)}
    furniture: set[str] = set()
    labels: list[str] = []
    kept: list[list[_Line]] = []
    for idx, (height, lines) in enumerate(pages):
        label = str(idx + 1)
        body = []
        for ln in lines:
            in_zone = _in_zone(ln, height) and ln.size < common_size * 1.12
            number = _PAGE_NUMBER.match(ln.text.strip())
            if in_zone and number:
                label = number.group(1)
                continue
            if in_zone and _mask(ln.text) in repeated:
                furniture.add(ln.text)
                # a footer "Report title | 7": the page number inside furniture
                m = re.search(r"(?:^|\s)(\d{1,4})\s*$|^(\d{1,4})(?:\s|$)", ln.text)
                if m:
                    label = m.group(1) or m.group(2)
                continue
            body.append(ln)
        labels.append(label)
        kept.append(body)
    sizes: Counter = Counter()
    bold_chars = total_chars = 0
    for body in kept:
        for ln in body:
            sizes[ln.size] += len(ln.text)
            total_chars += len(ln.text)
            bold_chars += len(ln.text) if ln.bold else 0
    body_size = sizes.most_common(1)[0][0] if sizes else 10.0
    body_bold = bold_chars > 0.5 * max(total_chars, 1)
    heading_sizes = sorted({s for s in sizes if s >= body_size * 1.12}, reverse=True)

    def heading_level(ln: _Line) -> int | None:
        t = ln.text.strip()
        if len(t) > 160 or not re.search(r"[A-Za-zÀ-ÿ]{2}", t) or re.search(r"[.,;:]$", t):
            return None
        if re.match(r"^(?:Source|Sources|Note|Notes|Table|Figure|Box|Chart)\b", t):
            return None
        num = _NUMBERED.match(t)
        if ln.size >= body_size * 1.12:
            return min(heading_sizes.index(ln.size) + 1 if ln.size in heading_sizes else 1, 4)
        if ln.bold and not body_bold and len(t.split()) <= 14:
            # bold at the body's size: below the larger headings; "2.3 Title" one level deeper than "2 Title"
            return min(len(heading_sizes) + 1 + (num.group(1).count(".") if num else 0), 5)
        return None

    out: list[str] = []
    page_starts: list[int] = []
    title = ""
    authors = ""
    for idx, body in enumerate(kept):
        page_starts.append(len(out) + 1)
        prev: _Line | None = None
        prev_heading = False
        for ln in body:
            level = heading_level(ln)
            wraps = (
                prev_heading and prev is not None and ln.size == prev.size and ln.bold == prev.bold
                and 0 <= ln.top - prev.bottom < 0.8 * ln.size and len(out) >= 2 and out[-2].startswith("#")
            )
            if wraps:
                out[-2] = out[-2] + " " + ln.text.strip()  # a heading wrapped onto the next line
                if idx == 0 and title and out[-2].lstrip("# ").startswith(title):
                    title = out[-2].lstrip("# ").strip()
                prev = ln
                continue
            if idx == 0 and not title and level is not None and ln.size == max((x.size for x in body), default=0):
                title = ln.text.strip()
            if level is not None:
                if out and out[-1] != "":
                    out.append("")
                out.append("#" * level + " " + ln.text.strip())
                out.append("")
                prev, prev_heading = ln, True
                continue
            gap = ln.top - prev.bottom if prev is not None else 0.0
            new_par = prev is None and idx > 0 and out and out[-1] != "" and _ends_sentence(out[-1])
            if prev is not None and not prev_heading:
                if gap > 0.7 * ln.size or ln.x0 > prev.x0 + 0.8 * ln.size and _ends_sentence(out[-1] if out else ""):
                    new_par = True
            if new_par and out and out[-1] != "":
                out.append("")
            out.append(ln.text.strip())
            prev, prev_heading = ln, False
    text = "\n".join(out).strip("\n") + "\n"
    meta_title = str(meta.get("Title") or "").strip()
    if meta_title and not _BAD_TITLE.search(meta_title) and meta_title.lower() != path.stem.lower():
        title = meta_title
    authors = str(meta.get("Author") or "").strip()
    if _BAD_TITLE.search(authors) or _BAD_AUTHOR.search(authors):
        authors = ""
    year = _year_of(" ".join(ln.text for ln in (kept[0] if kept else [])), str(meta.get("CreationDate") or ""))
    return Converted(text, page_starts, labels, title, authors, year, sorted(furniture))


def _ends_sentence(line: str) -> bool:
    return bool(re.search(r"[.!?:;…][\"”’)]*\s*$", line))


def _year_of(first_page: str, fallback: str = "") -> int | None:
    m = re.search(r"(?:©|\(c\)|copyright|published|edition|January|February|March|April|May|June|July|August|September|"
                  r"October|November|December)\D{0,20}(19[5-9]\d|20[0-4]\d)", first_page, re.I)
    if m:
        return int(m.group(1))
    m = _YEAR.search(first_page)
    if m:
        return int(m.group(1))
    m = re.search(r"(?:D:)?(19[5-9]\d|20[0-4]\d)", fallback)
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------- DOCX


def docx_convert(path: Path, data: bytes | None = None) -> Converted:
    """``data``: the file's bytes (read and checked once by the caller), else ``path`` is opened."""
    import io

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data) if data is not None else str(path))
    lines: list[str] = []
    title = ""

    def block(text_lines: list[str]) -> None:
        if lines and lines[-1] != "":
            lines.append("")
        lines.extend(text_lines)
        lines.append("")

    body = document.element.body
    in_list = False
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            par = Paragraph(child, document)
            text = " ".join(par.text.split())
            style = (par.style.name or "").lower() if par.style is not None else ""
            if not text:
                continue
            is_list = style.startswith("list") or child.find(".//{*}numPr") is not None
            if style == "title":
                title = title or text
                block(["# " + text])
                in_list = False
            elif style.startswith("heading"):
                digits = re.findall(r"\d", style)
                level = (int(digits[0]) if digits else 1) + (1 if title else 0)  # under the document's title
                block(["#" * min(level, 6) + " " + text])
                in_list = False
            elif is_list:
                if not in_list and lines and lines[-1] != "":
                    lines.append("")
                lines.append("- " + text)  # a list item is body text, never a heading
                in_list = True
            else:
                if in_list:
                    lines.append("")
                in_list = False
                block([text])
        elif tag == "tbl":
            table = Table(child, document)
            rows = []
            for row in table.rows:
                cells = []
                for cell in row.cells:
                    t = " ".join(cell.text.split())
                    if t and (not cells or cells[-1] != t):  # merged cells repeat their text
                        cells.append(t)
                if cells:
                    rows.append(" | ".join(cells) + ("" if re.search(r"[.!?]$", cells[-1]) else "."))
            if rows:
                block(rows)
            in_list = False
    props = document.core_properties
    meta_title = (props.title or "").strip()
    if meta_title and not _BAD_TITLE.search(meta_title):
        title = meta_title
    year = props.created.year if props.created else None
    first = " ".join(lines[:40])
    year = _year_of(first) or year
    authors = (props.author or "").strip()
    if _BAD_AUTHOR.search(authors):
        authors = ""
    return Converted("\n".join(lines).strip("\n") + "\n", title=title, authors=authors, year=year)


# --------------------------------------------------------------------------- HTML


def html_convert(data: bytes) -> Converted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    authors = ""
    meta_author = soup.find("meta", attrs={"name": "author"})
    if meta_author and meta_author.get("content"):
        authors = meta_author["content"].strip()
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "aside", "form"]):
        tag.decompose()
    lines: list[str] = []
    h1 = ""
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "tr", "caption", "figcaption", "dt", "dd"]):
        if el.name in ("p", "li") and el.find_parent(["li", "td", "th"]) is not None and el.name == "p":
            continue  # a paragraph inside a list item or a cell: taken with it
        if el.name == "tr":
            cells = [" ".join(c.get_text(" ").split()) for c in el.find_all(["td", "th"])]
            text = " | ".join(c for c in cells if c)
        else:
            text = " ".join(el.get_text(" ").split())
        if not text:
            continue
        if el.name.startswith("h") and len(el.name) == 2:
            h1 = h1 or (text if el.name == "h1" else "")
            lines += ["", "#" * int(el.name[1]) + " " + text, ""]
        elif el.name == "li":
            lines.append("- " + text)
        else:
            lines += [text, ""]  # captions are body text, never headings
    return Converted("\n".join(lines).strip("\n") + "\n", title=h1 or title, authors=authors)


def markdown_title(text: str) -> str:
    m = re.search(r"^\s{0,3}#\s+(.+)$", text, re.M)
    return m.group(1).strip(" #") if m else ""
