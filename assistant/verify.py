"""Citation verification of LLM answers.

The model sees passages under opaque ids (``K7Q2``); its answer cites them in square brackets.
Every sentence of the answer is checked:

* it must carry at least one valid marker (an id that was shown); invalid markers are dropped;
* it must be supported by the passages it cites: the embedding cosine with the best-matching
  sentence of those passages reaches ``min_similarity`` and at least ``min_overlap`` of its
  content words occur in them (thresholds calibrated on the dev set with
  ``python -m evals.calibrate_verifier``);
* every number (years, counts, shares) and every name (places, actors, acronyms) in it occurs in
  the cited passages (or the cited report's title).

Sentences of a passage that look like instructions ("ignore the above …") never count as
support, so an answer that obeys an instruction planted in a report is not verified by it.
Unsupported sentences are removed, or kept with a visible flag (``unsupported_action``).
The kept sentences become Statements citing their passages; ``assemble`` numbers the citations.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field

import numpy as np

from .chunking import split_sentences
from .guard import is_instruction_like
from .index import LoadedIndex
from .models import Heading, Hit, Statement
from .text import content_terms

_BRACKET = re.compile(r"\[([^\[\]\n]{1,80})\]")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_HEADING = re.compile(r"^\s*(#{1,6}\s+.*|\*\*[^*]+\*\*:?|[^.!?]{1,80}:)\s*$")
_BULLET = re.compile(r"^(\s*(?:[-*•]|\d+[.)])\s+)")


def opaque_ids(passage_ids: list[str], salt: str) -> list[str]:
    """Short ids (letter digit letter digit) that reveal nothing about the passage, unique per answer."""
    letters = "BCDFGHJKLMNPQRSTVWXZ"
    out: list[str] = []
    for pid in passage_ids:
        n = 0
        while True:
            h = hashlib.sha256(f"{salt}|{pid}|{n}".encode()).digest()
            oid = f"{letters[h[0] % 20]}{h[1] % 10}{letters[h[2] % 20]}{h[3] % 10}"
            if oid not in out:
                break
            n += 1
        out.append(oid)
    return out


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zà-ÿ]{2,}(?:[-’'][A-Za-zà-ÿ]+)*|[A-Z]{2,}[a-z]?)\b")
_NOT_NAMES = frozenset("The This That These Those Their There They It Its In On At For From With By As And But Or If When While According Report Reports Study".split())


def names_in(claim: str) -> list[str]:
    """Places, actors and acronyms named in a claim (capitalised words not opening it)."""
    return [n for n in _NAME.findall(claim.strip()) if n not in _NOT_NAMES]


@dataclass
class SentenceCheck:
    text: str  # the sentence without its markers
    cited: list[str]  # passage ids its valid markers point to
    invalid_markers: list[str]
    similarity: float
    overlap: float
    facts_ok: bool  # every number and name in it occurs in the cited passages
    supported: bool
    reason: str | None = None
    support: str = ""  # the cited passages' sentence closest to it


@dataclass
class Verification:
    blocks: list[Heading | Statement]
    checks: list[SentenceCheck] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    groundedness: float = 0.0

    @property
    def kept(self) -> int:
        return sum(1 for c in self.checks if c.supported)


def _markers(sentence: str, known: dict[str, Hit]) -> tuple[list[str], list[str], str]:
    """(valid ids, invalid marker texts, the sentence without markers)."""
    valid: list[str] = []
    invalid: list[str] = []

    def take(match: re.Match) -> str:
        tokens = [t for t in re.split(r"[\s,;]+", match.group(1)) if t]
        ids = [t.strip(string.punctuation).upper() for t in tokens]
        hits = [t for t in ids if t in known]
        if hits:
            valid.extend(h for h in hits if h not in valid)
        else:
            invalid.append(match.group(0))
        return ""

    text = _BRACKET.sub(take, sentence)
    # bare ids ("as K7Q2 shows", "(K7Q2)") count as citations too
    for oid in known:
        if re.search(rf"\b{oid}\b", text, re.I):
            if oid not in valid:
                valid.append(oid)
            text = re.sub(rf"\(?\b{oid}\b\)?", "", text, flags=re.I)
    text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()
    return valid, invalid, text


def _split_line(line: str) -> list[str]:
    """Sentences of one answer line; a marker that follows a full stop belongs to the sentence before."""
    parts = [line[a:b].strip() for a, b in split_sentences(line)]
    out: list[str] = []
    for part in parts:
        lead = re.match(r"^((?:\[[^\[\]\n]{1,80}\]\s*)+)(.*)$", part)
        if lead and out:
            out[-1] = out[-1] + " " + lead.group(1).strip()
            part = lead.group(2).strip()
        if part:
            out.append(part)
    return out


class CitationVerifier:
    def __init__(self, index: LoadedIndex, min_similarity: float, min_overlap: float, action: str = "remove"):
        self.index = index
        self.min_similarity = min_similarity
        self.min_overlap = min_overlap
        self.action = action

    def score(self, claim: str, claim_vec: np.ndarray, hits: list[Hit]) -> tuple[float, float, bool, str]:
        """(similarity, overlap, facts_ok, closest sentence) of a claim against the passages it cites."""
        rows: list[int] = []
        texts: list[str] = []
        for h in hits:
            for row, sent in zip(self.index.sentence_rows(h.index), h.passage.sentences):
                if not is_instruction_like(sent):
                    rows.append(row)
                    texts.append(sent)
        if not rows:
            return 0.0, 0.0, False, ""
        sims = self.index.sentence_vectors[rows] @ claim_vec
        sim = float(np.max(sims))
        closest = texts[int(np.argmax(sims))]
        support_terms = set(content_terms(" ".join(texts)))
        terms = set(content_terms(claim))
        overlap = len(terms & support_terms) / len(terms) if terms else 0.0
        joined = " ".join(texts)
        known = (joined + " " + " ".join(f"{h.passage.title} {h.passage.short_citation}" for h in hits)).lower()
        facts_ok = all(n.rstrip(".,") in joined for n in _NUMBER.findall(claim)) and all(
            name.lower() in known for name in names_in(claim)
        )
        return sim, overlap, facts_ok, closest

    def verify(self, answer: str, sources: dict[str, Hit]) -> Verification:
        """Check ``answer`` (Markdown citing the opaque ids in ``sources``) sentence by sentence."""
        known = {k.upper(): v for k, v in sources.items()}
        lines = [ln for ln in answer.replace("\r", "").split("\n")]
        parsed: list[tuple[str, str, list[tuple[str, list[str], list[str]]]]] = []  # (kind, prefix, sentences)
        claims: list[str] = []
        for line in lines:
            if not line.strip():
                continue
            if _HEADING.match(line) and not _BRACKET.search(line):
                parsed.append(("heading", line.strip(), []))
                continue
            bullet = _BULLET.match(line)
            prefix = bullet.group(1) if bullet else ""
            body = line[len(prefix):] if bullet else line.strip()
            sents = []
            for sent in _split_line(body):
                valid, invalid, text = _markers(sent, known)
                if len(content_terms(text)) == 0:
                    continue
                sents.append((text, valid, invalid))
                claims.append(text)
            parsed.append(("text", prefix, sents))

        vectors = self.index.embedder.embed(claims) if claims else np.zeros((0, 1))
        checks: list[SentenceCheck] = []
        blocks: list[Heading | Statement] = []
        pending_heading: str | None = None
        i = 0
        for kind, prefix, sents in parsed:
            if kind == "heading":
                pending_heading = prefix
                continue
            kept_parts: list[str] = []
            for text, valid, invalid in sents:
                vec = vectors[i]
                i += 1
                cited_hits = [known[v] for v in valid]
                if not cited_hits:
                    check = SentenceCheck(text, [], invalid, 0.0, 0.0, True, False, "no valid citation")
                else:
                    sim, overlap, facts_ok, closest = self.score(text, vec, cited_hits)
                    supported = sim >= self.min_similarity and overlap >= self.min_overlap and facts_ok
                    reason = None
                    if not facts_ok:
                        reason = "a number or name is not in the cited passages"
                    elif not supported:
                        reason = "not supported by the cited passages"
                    check = SentenceCheck(
                        text, [h.passage.passage_id for h in cited_hits], invalid, round(sim, 4), round(overlap, 4),
                        facts_ok, supported, reason, closest,
                    )
                checks.append(check)
                if not check.supported and self.action == "remove":
                    continue
                kept_parts.append(
                    Statement(
                        text,
                        [h.passage for h in cited_hits],
                        quotes=[check.support] if check.support else [],
                        flagged=not check.supported,
                        bullet=bool(prefix),
                        continues=bool(kept_parts),
                    )
                )
            if kept_parts:
                if pending_heading:
                    blocks.append(Heading(re.sub(r"^\s*(?:#{1,6}\s+|\*\*)|\*\*:?\s*$", "", pending_heading).strip()))
                    pending_heading = None
                blocks.extend(kept_parts)
        supported = sum(1 for c in checks if c.supported)
        return Verification(
            blocks=blocks,
            checks=checks,
            removed=list(dict.fromkeys(c.text for c in checks if not c.supported)),
            groundedness=round(supported / len(checks), 4) if checks else 0.0,
        )
