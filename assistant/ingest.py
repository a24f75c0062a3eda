"""Reports in, passages out: the shipped knowledge base, user-added files (PDF, DOCX, HTML,
Markdown, TXT) converted to text, and their content hashes."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .chunking import make_passages
from .documents import (Converted, TextLimitExceeded, docx_convert, html_convert, markdown_title, page_of_line,
                        pdf_convert)
from .domain import get_domain
from .errors import IngestError
from .filecheck import ENV, MB, check_zip, decode_text, language_problem, read_file
from .models import Passage, ReportMeta
from .settings import Settings
from .structure import BYLINE_LINES, byline_names, lower_case_words, parse_document
from .text import ORGANISATION, author_names

SUPPORTED = {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt"}
CHUNKING_VERSION = "30"  # bump when structure/chunking changes the passages of an unchanged file


@dataclass(frozen=True)
class SourceFile:
    meta: ReportMeta
    path: Path
    sha256: str


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest(kb_dir: Path) -> list[ReportMeta]:
    path = kb_dir / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IngestError(f"cannot read the knowledge-base manifest {path}: {exc}") from exc
    return [ReportMeta(**r) for r in data["reports"]]


def user_registry_path(settings: Settings) -> Path:
    return settings.data_dir / "user_reports.json"


def load_registry(settings: Settings) -> list[dict]:
    """The entries of ``user_reports.json`` as stored: a report's metadata (ReportMeta's fields)
    plus where it came from (``origin``, the path it was ingested from; ``file``; ``sha256`` of its
    text; ``added``)."""
    path = user_registry_path(settings)
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(entries, list):
            raise ValueError("not a list")
        for e in entries:
            ReportMeta(**e)
        return entries
    except (OSError, ValueError, TypeError) as exc:
        raise IngestError(f"the list of added reports {path} is unreadable ({exc}); fix or delete it") from exc


def load_user_reports(settings: Settings) -> list[ReportMeta]:
    return [ReportMeta(**e) for e in load_registry(settings)]


def all_sources(settings: Settings, entries: list[dict] | None = None, staged_dir: Path | None = None) -> list[SourceFile]:
    """The shipped reports followed by the user-added ones, each with its content hash.
    ``entries``: the added reports (default: ``user_reports.json``); ``staged_dir``: a folder
    whose texts take the place of ``data/sources``' (an ingest not committed yet)."""
    out: list[SourceFile] = []
    for meta in load_manifest(settings.knowledge_base_dir):
        out.append(_source(settings.knowledge_base_dir / "sources" / meta.source, meta))
    for entry in load_registry(settings) if entries is None else entries:
        meta = ReportMeta(**entry)
        path = settings.data_dir / "sources" / meta.source
        if staged_dir is not None and (staged_dir / meta.source).exists():
            path = staged_dir / meta.source
        out.append(_source(path, meta))
    return out


def _source(path: Path, meta: ReportMeta) -> SourceFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"cannot read report {path}: {exc}") from exc
    return SourceFile(meta, path, sha256_bytes(data))


def passages_for(src: SourceFile, settings: Settings) -> list[Passage]:
    raw = src.path.read_text(encoding="utf-8").splitlines()
    passages = make_passages(
        parse_document(raw, furniture_for(src.meta)),
        src.meta,
        settings.passage_min_words,
        settings.passage_target_words,
        settings.passage_max_words,
    )
    pages = load_pages(src.path)
    if pages:
        starts, labels = pages
        for p in passages:
            index = page_of_line(starts, p.start_line)
            if index is not None:
                p.page = labels[index - 1] if index - 1 < len(labels) else str(index)
    return passages


def pages_path(text_path: Path) -> Path:
    """The sidecar of an ingested PDF's text file: the line where each page starts, and its printed number."""
    return text_path.with_name(text_path.name + ".pages.json")


def load_pages(text_path: Path) -> tuple[list[int], list[str]] | None:
    path = pages_path(text_path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [int(x) for x in data["page_starts"]], [str(x) for x in data.get("page_labels") or []]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def furniture_for(meta: ReportMeta) -> tuple[str, ...]:
    """The report's title and publisher names: alone on a line they are running headers/footers."""
    names = [meta.title] + [part.strip() for part in re.split(r"[,;()]", meta.publisher) if part.strip()]
    return tuple(names)


# ---------------------------------------------------------------------------------------
# user-added reports
# ---------------------------------------------------------------------------------------


def to_text(path: Path) -> str:
    """Extract plain text (one paragraph or line per line) from a supported file."""
    return convert(path).text


def convert(path: Path, settings: Settings | None = None, follow_symlinks: bool = False) -> Converted:
    """The text of a supported file, with its pages (PDF) and the metadata found in it, within
    the limits of ``settings.ingest`` (see ``filecheck``): refused with an IngestError (exit 3)
    when the file is a symbolic link (unless ``follow_symlinks``), too large, a zip bomb,
    unreadable, or does not hold text in a human language."""
    from .settings import get_settings

    limits = (settings or get_settings()).ingest
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError(f"{path.name}: unsupported file type '{suffix}' (supported: {', '.join(sorted(SUPPORTED))})")
    data = read_file(path, int(limits.max_file_mb * MB), follow_symlinks=follow_symlinks)
    if not data.strip():
        raise IngestError(f"{path.name}: the file is empty")
    max_text = int(limits.max_text_mb * MB)
    text_limit = f"{limits.max_text_mb:g} MB of text ({ENV}MAX_TEXT_MB)"
    try:
        if suffix == ".pdf":
            conv = pdf_convert(path, data, max_text_chars=max_text)
        elif suffix == ".docx":
            check_zip(data, path.name, int(limits.max_unpacked_mb * MB), limits.max_compression_ratio)
            conv = docx_convert(path, data)
        elif suffix in (".html", ".htm"):
            if len(data) > 25 * max_text:  # markup is never 25 times the text: refused before parsing
                raise IngestError(f"{path.name}: {len(data) / MB:,.1f} MB of HTML, more than 25 times the limit of {text_limit}")
            conv = html_convert(data)
        else:
            if len(data) > 4 * max_text:  # 4 bytes a character at most: over the limit whatever it decodes to
                raise IngestError(f"{path.name}: {len(data) / MB:,.1f} MB of text, more than the limit of {text_limit}; "
                                  "split the report or raise the limit")
            if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise IngestError(f"{path.name}: looks like a binary file, not {suffix} text")
            text, _ = decode_text(data)
            conv = Converted(text, title=markdown_title(text) if suffix in (".md", ".markdown") else "")
    except IngestError:
        raise
    except TextLimitExceeded as exc:
        raise IngestError(f"{path.name}: more than the limit of {text_limit} by page {exc.page}; extraction stopped. "
                          "Split the report or raise the limit") from exc
    except MemoryError as exc:
        raise IngestError(f"{path.name}: too large to convert in memory") from exc
    except Exception as exc:  # parsers raise many types on damaged files
        raise IngestError(f"{path.name}: cannot extract text ({type(exc).__name__}: {exc})") from exc
    size = len(conv.text.encode("utf-8"))
    if size > max_text:
        raise IngestError(f"{path.name}: {size / MB:,.1f} MB of text once extracted, more than the limit of {text_limit}; "
                          "split the report or raise the limit")
    if len(re.findall(r"[A-Za-zÀ-ÿ]{3,}", conv.text)) < 20:
        raise IngestError(f"{path.name}: no readable text found (a scanned PDF needs OCR first)")
    problem = language_problem(conv.text, limits.max_bad_char_share, limits.min_letter_share, limits.min_word_share)
    if problem:
        raise IngestError(f"{path.name}: refused, {problem}")
    return conv


def _guess_title(text: str, path: Path, look: int = 8) -> str:
    """The title of a text given none: the first of its first ``look`` blocks of lines (or the first
    line of the opening one, when the body follows without a blank line) that reads as a title: at most 25
    words, no sentence in it, not a heading many reports open with ("Executive Summary"; one before
    the title, "Chapter 8", is dropped: documents.yaml generic_headings); a title wrapped over lines
    is joined. Else the file's name ("city_governance" -> "city governance")."""
    generic = get_domain().generic_headings

    def clean(lines: list[str]) -> str:
        return " ".join(" ".join(x.strip().lstrip("#").strip().strip("*_").strip() for x in lines).split())

    def titled(candidate: str) -> str | None:
        if generic and (m := re.match(rf"(?:{generic})\s+(?=\S)", candidate, re.I)):
            candidate = candidate[m.end():]  # "Chapter 8 Translocal Activities …"
        if (not 3 <= len(candidate) <= 250 or len(candidate.split()) > 25 or not re.search(r"[^\W\d_]", candidate)
                or candidate.lstrip("‘“\"'([").strip()[:1].islower()
                or re.search(r"[.;,]$|\w[.!?]\s+[A-Z]", candidate)
                or (generic and re.fullmatch(generic, candidate, re.I))):
            return None
        return candidate

    blocks = [[x for x in b.splitlines() if x.strip()] for b in re.split(r"\n\s*\n", text) if b.strip()]
    for i, lines in enumerate(blocks[:look]):
        # (only the text's opening block may run from its title into the body without a blank line)
        title = titled(clean(lines)) or (titled(clean(lines[:1])) if i == 0 else None)
        if title:
            return title
    return re.sub(r"[_-]+", " ", path.stem).strip() or path.stem


def _guess_authors(text: str, look: int = BYLINE_LINES) -> str:
    """The authors of a text given none, from its opening lines: an author block (a name on a line of
    its own, then the person's affiliation or position, "Research Fellow, … University …", two or more
    times; positions: documents.yaml author_positions) or a byline, a line of its own after the title
    that only names people ("Edith van Ewijk and Gery Nijenhuis": ``structure.byline_names``); ""
    when there is neither."""
    lines = text.splitlines()
    lower_words = lower_case_words(lines)

    def alone(i: int) -> bool:
        return i > 0 and not lines[i - 1].strip() and (i + 1 >= len(lines) or not lines[i + 1].strip())

    positions = get_domain().author_positions
    block = []
    for i, line in enumerate(lines[: 2 * look]):
        names = byline_names(line, lower_words) if alone(i) and line.strip() else []
        after = next((x for x in lines[i + 1: i + 4] if x.strip()), "")
        if len(names) == 1 and (ORGANISATION.search(after) or (positions and re.search(positions, after))):
            block.append(names[0])
    if len(block) >= 2:
        return _joined(block)
    for i, line in enumerate(lines[:look]):
        after_title = any(x.strip() for x in lines[: max(0, i - 1)])
        if after_title and alone(i) and line.strip() and (names := byline_names(line, lower_words)):
            return _joined(names)
    return ""


def _joined(names: list[str]) -> str:
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


def _short_citation(authors: str, title: str, year: int | None) -> str:
    """'Smith & Jones 2021', 'Smith et al. 2021', else the title's first words."""
    surnames = author_names(authors)
    if ORGANISATION.search(authors or ""):
        return surnames[0][:60] + (f" {year}" if year else "")  # an institution as author: its name
    if surnames and len(surnames) <= 2:
        head = " & ".join(surnames)
    elif surnames:
        head = f"{surnames[0]} et al."
    else:
        words = title.split()
        head = " ".join(words[:5]) + ("…" if len(words) > 5 else "")
    return head[:60] + (f" {year}" if year else "")


def source_name(stem: str, taken: set[str]) -> str:
    """A new report's text file name: its file's stem made safe ("My report (v2)" ->
    "My_report_v2_.txt"), with "-2", "-3" ... when another report (shipped or added) has it."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:60].strip("._-") or "report"
    name, n = f"{base}.txt", 1
    while name in taken or name.lower() in {t.lower() for t in taken}:
        n += 1
        name = f"{base}-{n}.txt"
    return name


def report_meta(conv: Converted, path: Path, name: str, title: str | None, year: int | None,
                existing: ReportMeta | None = None, aliases: list[str] | None = None) -> ReportMeta:
    """The metadata of an added report: the title given, else the file's own, else the one it had;
    the names given (``aliases``, "EPC brief") beside its file name and title, else those it had."""
    title = title or conv.title or (existing.title if existing else _guess_title(conv.text, path))
    year = year or conv.year or (existing.year if existing else None)
    authors = conv.authors or (existing.authors if existing else _guess_authors(conv.text))
    return ReportMeta(
        source=name,
        title=title,
        short_citation=_short_citation(authors, title, year),
        publisher="added by user",
        authors=authors,
        year=year,
        kind="user report",
        aliases=_aliases(path, title, aliases, existing),
    )


def _aliases(path: Path, title: str, given: list[str] | None, existing: ReportMeta | None) -> list[str]:
    """A report's names: its file's stem (when it is a name: ``_distinctive``), its title, and the
    names a user gave it (``--alias``; a report ingested again keeps those it had unless new ones are given)."""
    if given is None and existing is not None:
        given = [a for a in existing.aliases if a not in (existing.title, Path(existing.source).stem, path.stem)]
    extra = [" ".join(a.split()) for a in given or [] if a and a.strip()]
    return list(dict.fromkeys(([path.stem] if _distinctive(path.stem) else []) + [title] + extra))


_GENERIC = {"report", "reports", "document", "doc", "docs", "draft", "final", "study", "paper", "brief", "briefing",
            "summary", "text", "file", "untitled", "new", "copy", "version", "main", "index", "output", "export", "scan",
            "en", "eng", "english", "web", "print", "full", "annex", "appendix", "part", "chapter", "policy"}


def _distinctive(stem: str) -> bool:
    """Is a file's stem a name for the report? "lisbon-pilot" is; "report", "final_report_v2" or
    "2023" are not: as an alias, any question about "the report" would name it."""
    cores = [re.sub(r"^v?\d+$|\d+$", "", w) for w in re.split(r"[^a-z0-9]+", stem.lower())]  # "doc1" -> "doc"
    return any(len(c) > 1 and c not in _GENERIC for c in cores)


def add_user_report(path: Path, settings: Settings, title: str | None = None, year: int | None = None,
                    follow_symlinks: bool = False, progress: bool = False,
                    aliases: list[str] | None = None) -> tuple[ReportMeta, bool]:
    """Add (or replace) one report and update the index, as `policy-assistant ingest` does: one
    change under the data folder's lock (see ``changes.ReportChanges``).

    Returns (meta, changed): ``changed`` is False when the same content was ingested before.
    The text file (not the original) is what citations' line spans refer to."""
    from .changes import ReportChanges

    conv = convert(path, settings, follow_symlinks=follow_symlinks)
    with ReportChanges(settings, command=f"ingest {Path(path).name}") as tx:
        meta, status = tx.add(Path(path), conv, title=title, year=year, aliases=aliases)
        tx.apply(progress=progress)
    return meta, status != "unchanged"
