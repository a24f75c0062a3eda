"""Scoring of answers against the gold annotations of a question set.

Everything here works on plain dicts (``Answer.model_dump()`` or a line of ``results.jsonl``) so
that saved results can be re-scored without running the assistant again.

Relevance
---------
A passage (retrieved or cited) is *relevant* to a question when its ``[start_line, end_line]``
overlaps a gold span of the same source file (both 1-based, inclusive).

The ranking metrics are computed with ranx.  The "documents" of a question's qrels are its gold
spans (``g0``, ``g1``, ...), so Recall counts gold spans covered, not relevant passages.  Each
retrieved passage is mapped, in rank order, to the gold spans it overlaps that no earlier passage
covered; a passage that covers nothing new (no overlap, or only spans an earlier passage already
covered) becomes a non-relevant document of its own.  A passage covering two new spans yields two
consecutive run entries.  Recall@k is computed on the run built from the top-k passages (so a
passage covering two spans does not push the k-th passage out of the cut-off); MRR on the full
run (its first relevant entry is always the first relevant passage); nDCG@10 on the run built from
the top-10 passages.
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from assistant.cleaning import fix_ligatures, fix_unicode, match_tokens, text_in_span

QUESTION_TYPES = ("practice", "recommendation", "factoid", "cross_report", "followup", "unanswerable")

# Metric keys in display order; the direction says whether higher is better.
METRICS: dict[str, str] = {
    "recall@5": "higher",
    "recall@10": "higher",
    "mrr": "higher",
    "ndcg@10": "higher",
    "citation_precision": "higher",
    "citation_recall": "higher",
    "must_mention": "higher",
    "groundedness": "higher",
    "refusal_accuracy": "higher",
    "false_refusal_rate": "lower",
    "followup_recall@5": "higher",
    "latency_p50_ms": "lower",
    "latency_p95_ms": "lower",
}
RANKING_METRICS = ("recall@5", "recall@10", "mrr", "ndcg@10")
GROUNDED_OVERLAP = 0.8


# --------------------------------------------------------------------------- spans


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def overlaps(passage: Any, span: Any) -> bool:
    """Same source file and the inclusive line ranges share at least one line."""
    return (
        _get(passage, "source") == _get(span, "source")
        and int(_get(passage, "start_line")) <= int(_get(span, "end_line"))
        and int(_get(span, "start_line")) <= int(_get(passage, "end_line"))
    )


def covered_spans(passage: Any, gold: Sequence[Any]) -> list[int]:
    """Indices of the gold spans the passage overlaps."""
    return [i for i, g in enumerate(gold) if overlaps(passage, g)]


# --------------------------------------------------------------------------- ranking (ranx)


def gold_doc_id(i: int) -> str:
    return f"g{i}"


def run_entries(retrieved: Sequence[Any], gold: Sequence[Any], k: int | None = None) -> dict[str, float]:
    """The ranx run of one question: gold-span ids for passages that cover a new gold span, a
    private non-relevant id for any other passage. Scores only encode the rank order."""
    passages = list(retrieved)[: k if k is not None else None]
    seen: set[int] = set()
    entries: dict[str, float] = {}
    score = float(2 * (len(passages) * max(1, len(gold)) + 1))
    for rank, p in enumerate(passages):
        new = [i for i in covered_spans(p, gold) if i not in seen]
        if new:
            for i in new:
                seen.add(i)
                entries[gold_doc_id(i)] = score
                score -= 1.0
        else:
            entries[f"p{rank}:{_get(p, 'passage_id', '')}"] = score
            score -= 1.0
    if not entries:  # ranx cannot score an empty ranking; an unmatched id scores 0 everywhere
        entries["none"] = 1.0
    return entries


def ranking_metrics(items: Iterable[tuple[str, Sequence[Any], Sequence[Any]]]) -> dict[str, dict[str, float]]:
    """``items``: (question id, retrieved passages in rank order, gold spans) for every question
    that has gold spans. Returns {question id: {recall@5, recall@10, mrr, ndcg@10}}, via ranx."""
    from ranx import Qrels, Run, evaluate

    items = [(qid, list(ret), list(gold)) for qid, ret, gold in items if gold]
    if not items:
        return {}
    qrels = Qrels({qid: {gold_doc_id(i): 1 for i in range(len(gold))} for qid, _, gold in items})
    runs = {
        "recall@5": (Run({qid: run_entries(ret, gold, 5) for qid, ret, gold in items}), "recall"),
        "recall@10": (Run({qid: run_entries(ret, gold, 10) for qid, ret, gold in items}), "recall"),
        "mrr": (Run({qid: run_entries(ret, gold) for qid, ret, gold in items}), "mrr"),
        "ndcg@10": (Run({qid: run_entries(ret, gold, 10) for qid, ret, gold in items}), "ndcg"),
    }
    out: dict[str, dict[str, float]] = {qid: {} for qid, _, _ in items}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba type-safety chatter
        for name, (run, ranx_metric) in runs.items():
            evaluate(qrels, run, [ranx_metric], save_results_in_run=True)
            for qid, value in run.scores[ranx_metric].items():
                out[qid][name] = float(value)
    return out


# --------------------------------------------------------------------------- citations


def citation_precision(citations: Sequence[Any], gold: Sequence[Any]) -> float | None:
    """Share of citations overlapping a gold span; None when there is nothing to score."""
    if not citations or not gold:
        return None
    return sum(1 for c in citations if covered_spans(c, gold)) / len(citations)


def citation_recall(citations: Sequence[Any], gold: Sequence[Any]) -> float | None:
    """Share of gold spans overlapped by some citation; None without gold spans."""
    if not gold:
        return None
    return sum(1 for g in gold if any(overlaps(c, g) for c in citations)) / len(gold)


# --------------------------------------------------------------------------- must-mention

_MARKERS = re.compile(r"\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
_DASHES = re.compile(r"[\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00ad]")
_WS = re.compile(r"\s+")


def strip_markers(text: str) -> str:
    return _MARKERS.sub("", text)


def normalise_text(text: str, hyphen: str = " ") -> str:
    """Lower case, accents removed, extraction repairs (ligature splits, hyphenation at line
    breaks), dashes replaced by ``hyphen`` and whitespace collapsed."""
    text = fix_ligatures(fix_unicode(text))
    text = re.sub(r"([A-Za-zÀ-ÿ])-\s*\n\s*([a-zà-ÿ])", r"\1\2", text)  # "govern-\nments"
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _DASHES.sub(hyphen, text.lower())
    return _WS.sub(" ", text).strip()


def _contains(needle: str, hay: str) -> bool:
    if not needle:
        return False
    pattern = re.escape(needle)
    if needle[0].isalnum():
        pattern = r"(?<![0-9a-z])" + pattern
    if needle[-1].isalnum():
        pattern += r"(?![0-9a-z])"
    return re.search(pattern, hay) is not None


def mention_found(item: str, text: str) -> bool:
    """True when any ``|`` alternative of ``item`` occurs in ``text`` (case-insensitive; whitespace,
    hyphens and accents normalised; whole words at the item's edges so that 'ADV' does not match
    'advice'). Hyphens count both as a space ('one-stop shop' = 'one stop shop') and as nothing
    ('non-governmental' = 'nongovernmental'). Citation markers [n] are ignored."""
    text = strip_markers(text)
    for alt in item.split("|"):
        alt = alt.strip()
        if not alt:
            continue
        for hyphen in (" ", ""):
            if _contains(normalise_text(alt, hyphen), normalise_text(text, hyphen)):
                return True
    return False


def must_mention(items: Sequence[str], answer: str) -> tuple[float | None, list[str]]:
    """(coverage, missed items); coverage None when there are no items."""
    if not items:
        return None, []
    missed = [m for m in items if not mention_found(m, answer)]
    return 1 - len(missed) / len(items), missed


# --------------------------------------------------------------------------- groundedness

_MARKER_GROUP = re.compile(r"(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_HEADING = re.compile(r"^\s*(?:#{1,6}\s|\*\*[^*]+\*\*:?\s*$|__[^_]+__:?\s*$)")


def answer_units(answer: str) -> list[tuple[str, list[int]]]:
    """Split an answer into the statements that must be grounded: every bullet / line /
    paragraph, cut after each group of [n] markers (so 'A. [1] B. [2]' is two units and 'A. B. [1]'
    one). Returns (text without markers, marker numbers); trailing text with no marker is a unit
    with no numbers. Markdown headings and bold-only label lines are not statements."""
    units: list[tuple[str, list[int]]] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+•]|\d+[.)])\s)", answer):
        block = block.strip()
        if not block or _HEADING.match(block):
            continue
        pos = 0
        for m in _MARKER_GROUP.finditer(block):
            text = block[pos : m.start()]
            numbers = [int(n) for n in re.findall(r"\d+", m.group(0))]
            pos = m.end()
            text = _BULLET.sub("", text).strip()
            if re.search(r"[0-9A-Za-zÀ-ÿ]", text):
                units.append((text, numbers))
        tail = _BULLET.sub("", block[pos:]).strip()
        if re.search(r"[0-9A-Za-zÀ-ÿ]{2,}", tail):
            units.append((tail, []))
    return units


def token_overlap(text: str, passage_text: str) -> float:
    """Share of the statement's tokens (with repetition) that occur in the passage."""
    tokens = match_tokens(text)
    if not tokens:
        return 0.0
    vocab = set(match_tokens(passage_text))
    return sum(1 for t in tokens if t in vocab) / len(tokens)


def unit_supported(text: str, numbers: Sequence[int], citations: Sequence[Any]) -> bool:
    by_n = {int(_get(c, "n")): c for c in citations}
    cited = [by_n[n] for n in numbers if n in by_n]
    for c in cited:
        ptext = _get(c, "text", "") or ""
        if text_in_span(text, ptext) or token_overlap(text, ptext) >= GROUNDED_OVERLAP:
            return True
    return False


def groundedness(answer: str, citations: Sequence[Any]) -> tuple[float | None, list[str]]:
    """(share of supported statements, unsupported statements); None for an empty answer."""
    units = answer_units(answer)
    if not units:
        return None, []
    unsupported = [t for t, ns in units if not unit_supported(t, ns, citations)]
    return 1 - len(unsupported) / len(units), unsupported


# --------------------------------------------------------------------------- per question


def failure_reasons(row: Mapping[str, Any]) -> list[str]:
    reasons = []
    if row["answerable"]:
        if row["refused"]:
            reasons.append("refused an answerable question")
        if row.get("recall@5") == 0:
            reasons.append("no gold span in the top 5")
        if row.get("must_mention") is not None and row["must_mention"] < 0.5:
            reasons.append("must-mention coverage < 0.5")
    elif not row["refused"]:
        reasons.append("answered an unanswerable question")
    return reasons


def score_questions(questions: Sequence[Mapping[str, Any]], answers: Sequence[Any]) -> list[dict[str, Any]]:
    """One row of per-question scores for every (question, answer) pair."""
    answers = [a.model_dump() if hasattr(a, "model_dump") else dict(a) for a in answers]
    ranks = ranking_metrics(
        (q["id"], a.get("retrieved") or [], q.get("gold") or [])
        for q, a in zip(questions, answers)
        if q.get("answerable", True)
    )
    rows = []
    for q, a in zip(questions, answers):
        gold = q.get("gold") or []
        answerable = bool(q.get("answerable", True))
        refused = bool(a.get("refused"))
        citations = a.get("citations") or []
        text = a.get("answer") or ""
        row: dict[str, Any] = {
            "id": q["id"],
            "type": q.get("type"),
            "answerable": answerable,
            "refused": refused,
            "refusal_reason": a.get("refusal_reason"),
            "evidence": a.get("evidence"),
            "latency_ms": (a.get("timings_ms") or {}).get("total"),
        }
        r = ranks.get(q["id"], {}) if answerable else {}
        for name in RANKING_METRICS:
            row[name] = r.get(name)
        scored = answerable and not refused
        row["citation_precision"] = citation_precision(citations, gold) if scored else None
        row["citation_recall"] = citation_recall(citations, gold) if answerable else None
        if answerable:
            cov, missed = must_mention(q.get("must_mention") or [], "" if refused else text)
        else:
            cov, missed = None, []
        row["must_mention"], row["missed"] = cov, missed
        g, unsupported = groundedness(text, citations) if not refused else (None, [])
        row["groundedness"], row["unsupported"] = g, unsupported
        row["fail_reasons"] = failure_reasons(row)
        row["failed"] = bool(row["fail_reasons"])
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- aggregation


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default), q in 0..100."""
    vals = sorted(float(v) for v in values if v is not None)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def aggregate(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Every metric over ``rows`` (None where no question of the group can be scored)."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    followups = [r for r in rows if r["type"] == "followup"]
    latencies = [r["latency_ms"] for r in rows if r.get("latency_ms") is not None]
    out: dict[str, Any] = {"n": len(rows)}
    for name in RANKING_METRICS + ("citation_precision", "citation_recall", "must_mention", "groundedness"):
        out[name] = _mean(r.get(name) for r in rows)
    out["refusal_accuracy"] = _mean(1.0 if r["refused"] else 0.0 for r in unanswerable)
    out["false_refusal_rate"] = _mean(1.0 if r["refused"] else 0.0 for r in answerable)
    out["followup_recall@5"] = _mean(r.get("recall@5") for r in followups)
    out["latency_p50_ms"] = percentile(latencies, 50)
    out["latency_p95_ms"] = percentile(latencies, 95)
    out["failures"] = sum(1 for r in rows if r["failed"])
    return out


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """{"overall": {...}, "by_type": {type: {...}}} with types in the canonical order."""
    types = [t for t in QUESTION_TYPES if any(r["type"] == t for r in rows)]
    types += sorted({r["type"] for r in rows} - set(types))
    return {
        "overall": aggregate(rows),
        "by_type": {t: aggregate([r for r in rows if r["type"] == t]) for t in types},
    }
