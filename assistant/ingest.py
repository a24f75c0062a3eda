"""Reports in, passages out: the shipped knowledge base, user-added files (PDF, DOCX, HTML,
Markdown, TXT) converted to text, and their content hashes."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .chunking import make_passages
from .documents import Converted, docx_convert, html_convert, markdown_title, page_of_line, pdf_convert
from .errors import IngestError
from .models import Passage, ReportMeta
from .settings import Settings
from .structure import parse_document

SUPPORTED = {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt"}
CHUNKING_VERSION = "15"  # bump when structure/chunking changes the passages of an unchanged file


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


def load_user_reports(settings: Settings) -> list[ReportMeta]:
    path = user_registry_path(settings)
    if not path.exists():
        return []
    try:
        return [ReportMeta(**r) for r in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError) as exc:
        raise IngestError(f"the list of added reports {path} is unreadable ({exc}); fix or delete it") from exc


def all_sources(settings: Settings) -> list[SourceFile]:
    """The shipped reports followed by the user-added ones, each with its content hash."""
    out: list[SourceFile] = []
    for meta in load_manifest(settings.knowledge_base_dir):
        out.append(_source(settings.knowledge_base_dir / "sources" / meta.source, meta))
    for meta in load_user_reports(settings):
        out.append(_source(settings.data_dir / "sources" / meta.source, meta))
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


def convert(path: Path) -> Converted:
    """The text of a supported file, with its pages (PDF) and the metadata found in it."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError(f"{path.name}: unsupported file type '{suffix}' (supported: {', '.join(sorted(SUPPORTED))})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise IngestError(f"{path.name}: the file is empty")
    try:
        if suffix == ".pdf":
            conv = pdf_convert(path)
        elif suffix == ".docx":
            conv = docx_convert(path)
        elif suffix in (".html", ".htm"):
            conv = html_convert(data)
        else:
            if b"\x00" in data[:4096]:
                raise IngestError(f"{path.name}: looks like a binary file, not {suffix} text")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
            conv = Converted(text, title=markdown_title(text) if suffix in (".md", ".markdown") else "")
    except IngestError:
        raise
    except Exception as exc:  # parsers raise many types on damaged files
        raise IngestError(f"{path.name}: cannot extract text ({type(exc).__name__}: {exc})") from exc
    if len(re.findall(r"[A-Za-zÀ-ÿ]{3,}", conv.text)) < 20:
        raise IngestError(f"{path.name}: no readable text found (a scanned PDF needs OCR first)")
    return conv


def _guess_title(text: str, path: Path) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if 3 <= len(line) <= 200:
            return line
    return path.stem


_ORGANISATION = re.compile(
    r"\b(?:Committee|Commission|Agency|Office|Union|Ministry|Institute|Organi[sz]ation|Council|Centre|Center|"
    r"Foundation|Network|Department|Parliament|Government|University|Association|Programme|Bank|Forum)\b"
)


def _short_citation(authors: str, title: str, year: int | None) -> str:
    """'Smith & Jones 2021', 'Smith et al. 2021', else the title's first words."""
    if _ORGANISATION.search(authors or ""):
        first = re.split(r";", authors)[0].strip()  # an institution as author: its name, not "surnames"
        return first[:60] + (f" {year}" if year else "")
    names = [a.strip() for a in re.split(r",|;|\band\b|&", authors or "") if a.strip()]
    surnames = [n.split()[-1] for n in names if n.split()]
    if surnames and len(surnames) <= 2:
        head = " & ".join(surnames)
    elif surnames:
        head = f"{surnames[0]} et al."
    else:
        words = title.split()
        head = " ".join(words[:5]) + ("…" if len(words) > 5 else "")
    return head[:60] + (f" {year}" if year else "")


def add_user_report(path: Path, settings: Settings, title: str | None = None, year: int | None = None) -> tuple[ReportMeta, bool]:
    """Convert ``path`` to text under data_dir/sources and register it.

    Returns (meta, changed): ``changed`` is False when the same content was ingested before.
    The text file (not the original) is what citations' line spans refer to.
    """
    conv = convert(path)
    text = conv.text
    digest = sha256_bytes(text.encode("utf-8"))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)[:60] + ".txt"
    reports = load_user_reports(settings)
    shipped = {m.source for m in load_manifest(settings.knowledge_base_dir)}
    if name in shipped:
        name = "user_" + name
    target = settings.data_dir / "sources" / name
    existing = next((m for m in reports if m.source == name), None)
    if existing is not None and target.exists() and sha256_bytes(target.read_bytes()) == digest and (
        (title is None or existing.title == title) and (year is None or existing.year == year)
    ):
        return existing, False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    sidecar = pages_path(target)
    if conv.page_starts:
        tmp = sidecar.with_suffix(".tmp")
        tmp.write_text(json.dumps({"page_starts": conv.page_starts, "page_labels": conv.page_labels}), encoding="utf-8")
        tmp.replace(sidecar)
    elif sidecar.exists():
        sidecar.unlink()
    title = title or conv.title or (existing.title if existing else _guess_title(text, path))
    year = year or conv.year
    meta = ReportMeta(
        source=name,
        title=title,
        short_citation=_short_citation(conv.authors, title, year),
        publisher="added by user",
        authors=conv.authors,
        year=year,
        kind="user report",
        aliases=[path.stem, title],
    )
    reports = [m for m in reports if m.source != name] + [meta]
    reg = user_registry_path(settings)
    reg.parent.mkdir(parents=True, exist_ok=True)
    tmp = reg.with_suffix(".tmp")
    tmp.write_text(json.dumps([m.model_dump() for m in reports], indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(reg)
    return meta, True

