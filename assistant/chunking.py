"""Paragraph blocks -> citable passages of whole sentences, each with its exact line span."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .cleaning import collapse_ws, join_hyphenated, match_tokens
from .models import Passage, ReportMeta, SectionKind
from .structure import Block

_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "no", "nos", "vol", "pp", "p", "dr", "mr", "mrs", "ms", "prof", "st", "al",
    "eds", "ed", "cf", "fig", "art", "para", "approx", "inc", "ltd", "co", "vs", "u.s", "u.k", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "ibid", "op", "cit",
}
_CONTENTS = re.compile(r"^\s*(table of )?contents\s*$", re.I)
_SENT_BOUNDARY = re.compile(r"(?<=[.!?])[\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9ÀÁÂÄÅÉÈÖØÜ])")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence (start, end) character offsets in ``text``; guards common abbreviations."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENT_BOUNDARY.finditer(text):
        before = text[start : m.start()].rstrip("\"”’)]")
        last_word = re.findall(r"([A-Za-z][A-Za-z.]*)\.$", before)
        if last_word and (last_word[0].lower().rstrip(".") in _ABBREVIATIONS or len(last_word[0]) == 1):
            continue
        end = m.start() + len(m.group(0).rstrip())
        if text[start:end].strip():
            spans.append((start, end))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


@dataclass
class _Sentence:
    text: str
    start_line: int
    end_line: int
    title: bool = False  # a box's or list item's title: searchable, never quoted
    cites: tuple[int, ...] = ()  # the notes it cites
    note: int | None = None  # the note it belongs to (a footnote block's sentence)
    note_start: bool = False  # the first sentence of a note
    heading: str | None = None  # the title of the list item it belongs to
    lead: bool = False  # a list item's bold title, printed on the line its text starts

    @property
    def words(self) -> int:
        return len(self.text.split())


def _paragraph_sentences(block: Block, vocabulary: set[str]) -> list[_Sentence]:
    """Join the block's lines (repairing hyphenation across line breaks) and split it into
    sentences, keeping for every character the line it came from."""
    chars: list[str] = []
    owner: list[int] = []
    for lineno, line in block.lines:
        line = line.strip()
        if not line:
            continue
        if chars:
            joined_prev = "".join(chars)
            if re.search(r"[A-Za-zÀ-ÿ]-$", joined_prev) and re.match(r"[a-zà-ÿ]", line):
                merged, dropped = join_hyphenated(joined_prev[-60:], line, vocabulary)
                if dropped:
                    chars.pop()
                    owner.pop()
            else:
                chars.append(" ")
                owner.append(lineno)
        for ch in line:
            chars.append(ch)
            owner.append(lineno)
    # collapse runs of whitespace, keeping the owner map aligned
    text_chars: list[str] = []
    text_owner: list[int] = []
    for ch, ln in zip(chars, owner):
        if ch.isspace():
            if text_chars and text_chars[-1] == " ":
                continue
            ch = " "
        text_chars.append(ch)
        text_owner.append(ln)
    text = "".join(text_chars)
    out: list[_Sentence] = []
    for a, b in split_sentences(text):
        seg = text[a:b]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg.rstrip())
        a2, b2 = a + lead, a + max(trail, lead + 1)
        sentence = text[a2:b2].strip()
        if sentence:
            out.append(_Sentence(sentence, text_owner[a2], text_owner[b2 - 1]))
    return out


def document_vocabulary(blocks: list[Block]) -> set[str]:
    vocab: set[str] = set()
    for b in blocks:
        for _, line in b.lines:
            vocab.update(w.lower() for w in re.findall(r"[A-Za-zÀ-ÿ]+(?:-[A-Za-zÀ-ÿ]+)*", line))
    return vocab


def _section_kind(section: list[str], block_kind: str) -> SectionKind:
    if block_kind == "footnote":
        return "footnote"
    joined = " ".join(section).lower()
    kinds = _section_kind_patterns()
    if kinds.get("recommendations") and re.search(kinds["recommendations"], joined):
        return "recommendations"
    if kinds.get("summary") and re.search(kinds["summary"], joined):
        return "summary"
    return "body"


def _section_kind_patterns() -> dict[str, str]:
    """Section titles that mark recommendations or a summary: knowledge_base/domain/documents.yaml."""
    from .domain import get_domain

    return get_domain().section_kinds


def _section_label(section: list[str], meta: ReportMeta) -> list[str]:
    """Drop a top heading that merely repeats the report title."""
    title = set(match_tokens(meta.title))
    out = list(section)
    if out and title:
        first = set(match_tokens(out[0]))
        if first and len(first & title) / len(first) > 0.8:
            out = out[1:]
    return out


def passage_id(source: str, start_line: int, end_line: int, text: str, heading: str = "") -> str:
    """Stable over rebuilds; changes with what is embedded (the text, and the heading it is searched with)."""
    key = f"{source}|{start_line}|{end_line}|{text}" + (f"|{heading}" if heading else "")
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return f"{source.rsplit('.', 1)[0][:24]}:{start_line}-{end_line}:{digest}"


def make_passages(
    blocks: list[Block], meta: ReportMeta, min_words: int = 60, target_words: int = 120, max_words: int = 180
) -> list[Passage]:
    """Pack the sentences of consecutive paragraphs of one section into passages of about
    ``target_words`` words: a paragraph is never cut mid-sentence, short paragraphs are merged with
    their neighbours in the same section, and footnotes are packed separately."""
    vocab = document_vocabulary(blocks)
    passages: list[Passage] = []
    pending: list[_Sentence] = []
    pending_key: tuple[str, tuple[str, ...]] | None = None
    pending_last_line = 0  # the last source line of the blocks in pending
    asides: set[int] = set()  # the passages made of asides: never merged with their neighbours

    # a list item's title whose text is still to come (notes printed between them): it waits for it
    held: list[_Sentence] = []
    held_key: tuple[str, tuple[str, ...]] | None = None

    def flush() -> None:
        nonlocal pending, held, held_key
        if not pending:
            return
        if pending_key[0] == "title" and all(s.title for s in pending) and pending[-1].lead:  # type: ignore[index]
            release()
            held, held_key, pending = pending, pending_key, []
            return
        emit(pending, pending_key)
        pending = []

    def release() -> None:
        """A held title that no text of its section followed becomes a passage of its own."""
        nonlocal held
        if held:
            emit(held, held_key)
            held = []

    def emit(group: list[_Sentence], group_key: tuple[str, tuple[str, ...]]) -> None:
        kind, section = group_key
        label = _section_label(list(section), meta)
        text = " ".join(s.text for s in group)
        start, end = min(s.start_line for s in group), max(s.end_line for s in group)
        # a piece of a long list item whose title went into an earlier passage is searched with it
        heading = group[0].heading if group[0].heading and not group[0].title else ""
        if kind == "aside":
            asides.add(len(passages))
        passages.append(
            Passage(
                passage_id=passage_id(meta.source, start, end, text, heading),
                source=meta.source,
                title=meta.title,
                short_citation=meta.short_citation,
                year=meta.year,
                section=" > ".join(label),
                section_kind=_section_kind(list(section), kind),
                start_line=start,
                end_line=end,
                text=text,
                sentences=[s.text for s in group],
                titles=[i for i, s in enumerate(group) if s.title],
                cites=sorted({m for s in group for m in s.cites}),
                notes=sorted({s.note for s in group if s.note is not None}),
                note_starts=[i for i, s in enumerate(group) if s.note_start],
                heading=heading,
            )
        )

    for block in blocks:
        if block.kind in ("heading",) or any(_CONTENTS.match(h) for h in block.section):
            continue
        key = (block.kind, tuple(block.section))
        sentences = _paragraph_sentences(block, vocab)
        if block.kind in ("title", "aside"):
            for sentence in sentences:
                sentence.title = True
                sentence.lead = block.lead
        if block.kind == "footnote" and sentences:
            sentences[0].note_start = True
        for sentence in sentences:
            sentence.note = block.note
            sentence.cites = tuple(m for n in range(sentence.start_line, sentence.end_line + 1) for m in block.marks.get(n, ()))
        if not sentences:
            continue
        if held and block.kind != "footnote":
            if block.kind == "paragraph" and held_key[1] == key[1] and block.lines[0][0] == held[-1].end_line:  # type: ignore[index]
                flush()  # the notes printed between the title and its text
                pending, pending_key, held = held, held_key, []
                pending_last_line = max(x.end_line for x in pending)
            else:
                release()
        # a list item's title heads its text: the paragraph that follows it joins the title's passage
        # (else the lone title would be merged into the passage before, away from what it names)
        titled = (block.kind == "paragraph" and pending and all(s.title for s in pending)
                  and pending_key == ("title", key[1]) and block.lines[0][0] >= pending_last_line)
        if titled:
            pending_key = key
            for sentence in sentences:
                sentence.heading = pending[0].text
        elif pending_key != key or block.lines[0][0] < pending_last_line:
            # a passage keeps its sentences in source order: a box moved after the sentence it
            # interrupted (structure.parse_document) starts a passage of its own
            flush()
            pending_key = key
            pending_last_line = 0
        pending_last_line = max(pending_last_line, block.lines[-1][0])
        pending_words = sum(s.words for s in pending)
        para_words = sum(s.words for s in sentences)
        # a new paragraph starts a new passage unless the pending one is still too short
        if pending and pending_words >= min_words and pending_words + para_words > target_words:
            flush()
        for s in sentences:
            pending_words = sum(x.words for x in pending)
            if pending and pending_words + s.words > max_words:
                flush()
            elif pending and pending_words >= target_words and s.words >= 8:
                flush()
            pending.append(s)
    flush()
    release()
    return _merge_short_tails(passages, min_words, max_words, asides)


def _merge_short_tails(
    passages: list[Passage], min_words: int, max_words: int, asides: frozenset[int] | set[int] = frozenset()
) -> list[Passage]:
    """A passage below min_words joins the previous passage of the same section and kind when the
    result stays within max_words; an aside (``asides``: indexes in ``passages``) joins none and
    none joins it."""
    out: list[Passage] = []
    for n, p in enumerate(passages):
        prev = out[-1] if out else None
        if (
            prev is not None
            and n not in asides
            and n - 1 not in asides
            and len(p.text.split()) < min_words
            and p.start_line >= prev.end_line
            and prev.section == p.section
            and prev.section_kind == p.section_kind
            and len(prev.text.split()) + len(p.text.split()) <= max_words
        ):
            text = prev.text + " " + p.text
            start, end = min(prev.start_line, p.start_line), max(prev.end_line, p.end_line)
            out[-1] = prev.model_copy(
                update={
                    "text": text,
                    "start_line": start,
                    "end_line": end,
                    "sentences": prev.sentences + p.sentences,
                    "titles": prev.titles + [len(prev.sentences) + i for i in p.titles],
                    "cites": sorted(set(prev.cites) | set(p.cites)),
                    "notes": sorted(set(prev.notes) | set(p.notes)),
                    "note_starts": prev.note_starts + [len(prev.sentences) + i for i in p.note_starts],
                    "passage_id": passage_id(p.source, start, end, text, prev.heading),
                }
            )
        else:
            out.append(p)
    return out


def passage_words(p: Passage) -> int:
    return len(collapse_ws(p.text).split())
