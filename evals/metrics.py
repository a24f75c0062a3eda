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
from functools import lru_cache
from typing import Any

from assistant.analysis import about_report
from assistant.chunking import split_sentences
from assistant.cleaning import fix_ligatures, fix_unicode, match_tokens, text_in_span
from assistant.scoring import BIBLIO, CONNECTIVE, INNER_CONNECTIVE, META, quote_balance

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
    "lead_mention": "higher",
    "groundedness": "higher",
    "refusal_accuracy": "higher",
    "false_refusal_rate": "lower",
    "followup_recall@5": "higher",
    "latency_p50_ms": "lower",
    "latency_p95_ms": "lower",
    "artifacts": "lower",
    "answers_with_artifacts": "lower",
    "answer_words_median": "lower",
    "answer_words_p90": "lower",
    "bullets_median": "lower",
    "bullets_max": "lower",
}
RANKING_METRICS = ("recall@5", "recall@10", "mrr", "ndcg@10")
# metrics that count things (words, bullets, artifacts) rather than shares or milliseconds
COUNT_METRICS = frozenset({"artifacts", "answer_words_median", "answer_words_p90", "bullets_median", "bullets_max"})
TIMING_METRICS = frozenset({"latency_p50_ms", "latency_p95_ms"})


def format_metric(value: Any, name: str, missing: str = "-") -> str:
    """A metric value as the console table and the HTML report show it."""
    if value is None:
        return missing
    if name.endswith("_ms"):
        return f"{value:.0f}"
    if name in COUNT_METRICS or name.startswith("artifacts:"):
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{value:.3f}"


def heldout(question: Mapping[str, Any]) -> bool:
    """The held-out half of a question file: questions whose number is divisible by 3 (q003, q006,
    c003 …). Nothing is fitted or tuned on them (evals/fit_answer_model.py, evals/calibrate.py);
    ``eval`` reports them apart so that a gain that only the tuning half shows is visible. Works on
    questions and on per-question score rows (both have ``id``)."""
    digits = "".join(ch for ch in str(question.get("id", "")) if ch.isdigit())
    return bool(digits) and int(digits) % 3 == 0
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


def answer_blocks(answer: str) -> list[str]:
    """The paragraphs and bullet items of an answer, Markdown headings and bold-only label lines
    left out."""
    blocks = (b.strip() for b in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+•]|\d+[.)])\s)", answer))
    return [b for b in blocks if b and not _HEADING.match(b)]


def answer_units(answer: str) -> list[tuple[str, list[int]]]:
    """Split an answer into the statements that must be grounded: every bullet / line /
    paragraph, cut after each group of [n] markers (so 'A. [1] B. [2]' is two units and 'A. B. [1]'
    one). Returns (text without markers, marker numbers); trailing text with no marker is a unit
    with no numbers. Markdown headings and bold-only label lines are not statements."""
    units: list[tuple[str, list[int]]] = []
    for block in answer_blocks(answer):
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


# --------------------------------------------------------------------------- answer shape: length and artifacts

ARTIFACT_KINDS = (
    "dangling_connective",
    "leadin_without_items",
    "reference_line",
    "meta_sentence",
    "spacing",
    "glued_heading",
    "fragment_start",
    "unclosed_quote",
)
_FLAG = re.compile(r"\s*⚠️\s*_\(not supported by the cited passages\)_")  # assistant.assemble.FLAG
_LABEL = re.compile(r"^\*[^*\n]{1,120}?:\*\s+")  # "*Nuremberg (Germany), city:* "
_TRIM = ("…", "...")
_WORD_TOKEN = re.compile(r"[0-9A-Za-zÀ-ÿ]")
# connectives that also open ordinary sentences ("First results …", "So far …", "Overall responsibility
# …", "Then-mayor …"): a statement opening with one is dangling only when a comma follows it
_WEAK_CONNECTIVES = frozenset(
    "also first firstly second secondly third thirdly then overall still so instead finally lastly".split()
)
# "In addition to …", "As a result of …", "Similarly to …" open a self-contained sentence
_NOT_DANGLING_AFTER = re.compile(r"(?:of|to|that|with|as)\b", re.I)
# name particles: "van Ewijk (2013) shows …" is not a fragment
_NAME_PARTICLE = re.compile(r"^(?:van|von|de|der|den|da|di|du|la|le|al|el|ten|ter)\s+[A-Z]")

_SPACING = re.compile(
    r"[(\[]\s+\S"  # "( 2013", "[ x"
    r"|\S\s+[)\]]"  # "2013 )", "x ]"
    r"|\w\s+[;,.:!?](?=\s|$)"  # "word ;", "word ,", "word ." (not "… .5")
    r"|\S {2,}\S"  # double spaces
    r"|\b[a-z]{2,}[A-Z][a-z]{2,}"  # "fundingThe": two words joined across a missing space
    r"|\b[a-z]{3,}[.;:][A-Z][a-z]"  # "funding.The"
    r"|\b[a-z]{3,}\d{1,3}(?![\w%])"  # "groups14": a footnote number glued to its word
    r"|\b[a-z]{3,}[.,]\d{1,3}(?=\s+[a-z])"  # "programme,90 both": a footnote number glued after a comma
    r"|\b(?:19|20)\d\d\.\d{1,3}(?=\s+[A-Z])"  # "in 2012.44 As a result": a footnote number glued after a year
    r"|\b([a-z]{3,})(?:to|and|or)-\1\b"  # "townto-town": "town-to-town" with a hyphen lost
)
# capitalised function words that open a clause or a heading; after a lower-case word, with no
# punctuation between and a lower-case word after, they mark a heading glued to the sentence
# ("… corridor On the German side …", "… the report In this section we …")
_OPENERS = (
    "On|In|At|For|From|With|By|As|When|While|Since|Although|Though|Because|If|After|Before|During|Despite|"
    "Unlike|Through|Under|Within|Between|Among|The|This|These|Those|Its|Their|It|They|We|Our|Such|Each|"
    "Most|Many|Some|There|What|How|Why|Where|Which|Who|However|Moreover|Furthermore|Therefore|Thus|But|"
    "And|Or|Both|Other|Another|Further|Finally|Firstly|Secondly"
)
_GLUED_OPENER = re.compile(r"\b([a-z][a-z’'-]*[a-z])\s+(" + _OPENERS + r")\s+[a-z]")
_GLUED_WORD = re.compile(r"\b([a-z][a-z’'-]*[a-z])\s+([A-Z][a-z]{2,})\s+[a-z]")
# lower-case words after which a capitalised word is ordinary: a title, a name ("the report The
# Future of …" is followed by a capital anyway), or a noun phrase ("the Integration policy")
_FUNCTION_WORDS = frozenset(
    """a an the of in on at for from to by with and or nor but as than that which who whose whom this these
    those its their our his her my your such each every any some no not into onto upon via per about like
    unlike between among within without through across under over including include includes called named
    titled entitled see cf e.g i.e is are was were be been being has have had do does did all both many
    much more most few fewer several other various certain""".split()
)
_URL = re.compile(r"\S*(?:https?://|www\.)\S*|\S+\.(?:pdf|html?|aspx?|php)\b\S*", re.I)


@lru_cache(maxsize=4)
def corpus_vocabulary(dirs: tuple[str, ...] | None = None) -> frozenset[str]:
    """Words that are common nouns, verbs or adjectives in the reports: seen in lower case at least
    3 times and at least 4 times as often as capitalised after a lower-case word. 'Material' after
    'local level' is then a glued heading; 'Roma' or 'Nuremberg' never are. ``dirs``: folders of
    report text files (default: knowledge_base/sources)."""
    from pathlib import Path

    folders = [Path(d) for d in dirs] if dirs else [Path(__file__).resolve().parent.parent / "knowledge_base" / "sources"]
    lower: dict[str, int] = {}
    capital: dict[str, int] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
            text = _URL.sub(" ", path.read_text(encoding="utf-8", errors="replace"))
            for m in re.finditer(r"\b[a-z]{3,}\b", text):
                lower[m.group(0)] = lower.get(m.group(0), 0) + 1
            for m in re.finditer(r"\b[a-z][a-z’'-]*[a-z] +([A-Z][a-z]{2,})\b", text):
                w = m.group(1).lower()
                capital[w] = capital.get(w, 0) + 1
    return frozenset(w for w, n in lower.items() if n >= 2 and n >= 4 * capital.get(w, 0))


def answer_statements(answer: str) -> list[str]:
    """The quotes of an answer: the lead and every bullet, cut after each group of ``[n]``
    markers, without markers, bullet dashes, italic labels (``*Nuremberg (Germany), city:* ``) or
    the ⚠️ flag. Text without a marker (a preface such as "The reports do not give this figure.
    What they say on the topic:") is not a statement. A trimmed quote keeps its leading "…"."""
    answer = _FLAG.sub("", answer or "")
    return [_LABEL.sub("", text, count=1).strip() for text, numbers in answer_units(answer) if numbers]


def lead_mention(items: Sequence[str], answer: str) -> float | None:
    """1.0 when the answer's first statement (the lead, the direct answer) holds at least one of
    the must-mention ``items``, 0.0 when it holds none; None without items or statements."""
    statements = answer_statements(answer)
    if not items or not statements:
        return None
    return 1.0 if must_mention(items, statements[0])[0] > 0 else 0.0


def answer_words(answer: str) -> int:
    """Words a reader reads: the answer without ``[n]`` markers and heading lines (labels and a
    preface count)."""
    body = "\n".join(b for b in answer_blocks(_FLAG.sub("", answer or "")))
    return sum(1 for tok in strip_markers(body).split() if _WORD_TOKEN.search(tok))


def answer_bullets(answer: str) -> int:
    """Statements shown: the lead paragraph plus every bullet line (blocks carrying a marker)."""
    return sum(1 for b in answer_blocks(answer or "") if _MARKER_GROUP.search(b))


def _snippet(text: str, start: int, end: int, width: int = 30) -> str:
    lo, hi = max(0, start - width), min(len(text), end + width)
    return ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")


def _dangling(statement: str) -> bool:
    if INNER_CONNECTIVE.match(statement):  # "There is, however, …"
        return True
    m = CONNECTIVE.match(statement)
    if not m:
        return False
    if "," in m.group(0):  # "Therefore, …", "Finally, …"
        return True
    first = m.group(0).split()[0].lower()
    return first not in _WEAK_CONNECTIVES and not _NOT_DANGLING_AFTER.match(statement[m.end():])


def artifacts(
    answer: str, vocabulary: frozenset[str] | set[str] | None = None, question: str = ""
) -> list[dict[str, str]]:
    """Artifacts of the answer's statements (see ``answer_statements``), as ``{kind, text}``:

    - ``dangling_connective``: opens with a connective that points at a sentence not quoted
      ("Therefore, …", "However …", "There is, however, …"); a quote trimmed to "…" is fine;
    - ``leadin_without_items``: ends with ":" (its items were not quoted);
    - ``reference_line``: a sentence that is a bibliography or reference line (``BIBLIO``);
    - ``meta_sentence``: a sentence about the report itself ("This paper …") (``META``), unless the
      ``question`` asks who made the report ("Who drafted the study?": its front matter answers);
    - ``spacing``: "( 2013 )", "word ;", double spaces, "fundingThe", "groups14", "programme,90 both", "townto-town";
    - ``glued_heading``: a lower-case word followed, with no punctuation, by a capitalised clause
      opener ("… corridor On the German side …") or by a capitalised common word ("… local level
      Material resources …", common = ``vocabulary``, by default ``corpus_vocabulary()``);
    - ``fragment_start``: opens in lower case without the "…" trim marker ("turns attention to …");
    - ``unclosed_quote``: opens a quotation it does not close ("As the mayor put it, ‘It was …").

    ``text`` is the statement, the sentence or a snippet around the match."""
    vocab = corpus_vocabulary() if vocabulary is None else vocabulary
    about = about_report(question, named=True)
    found: list[dict[str, str]] = []

    def add(kind: str, text: str) -> None:
        item = {"kind": kind, "text": text}
        if item not in found:
            found.append(item)

    for st in answer_statements(answer):
        trimmed = st.startswith(_TRIM)
        body = st.lstrip("….").lstrip() if trimmed else st
        if not body:
            continue
        if not trimmed and _dangling(body):
            add("dangling_connective", st)
        if body.endswith(":"):
            add("leadin_without_items", st)
        if not trimmed and body[0].islower() and not _NAME_PARTICLE.match(body):
            add("fragment_start", st)
        if quote_balance(body) > 0:
            add("unclosed_quote", st)
        for a, b in split_sentences(body):
            sentence = body[a:b].strip()
            if BIBLIO.search(sentence):
                add("reference_line", sentence)
            if META.search(sentence) and not about:
                add("meta_sentence", sentence)
        plain = _URL.sub(lambda u: "x" * len(u.group(0)), body.replace(" . . .", " " + "…" * 5))  # URLs and ". . ." are no spacing faults
        for a, b in _merged(m.span() for m in _SPACING.finditer(plain)):
            add("spacing", _snippet(body, a, b))
        glued = [m.span() for m in _GLUED_OPENER.finditer(body) if m.group(1).lower() not in _FUNCTION_WORDS]
        glued += [m.span() for m in _GLUED_WORD.finditer(body)
                  if m.group(1).lower() not in _FUNCTION_WORDS and m.group(2).lower() in vocab
                  and not _GLUED_OPENER.match(m.group(0))]
        for a, b in _merged(glued):
            add("glued_heading", _snippet(body, a, b))
    return found


def _merged(spans: Iterable[tuple[int, int]], gap: int = 12) -> list[tuple[int, int]]:
    """Character spans with those less than ``gap`` apart joined: "( 2013 )" is one fault."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def answer_shape(answer: str, refused: bool, vocabulary=None, question: str = "") -> dict[str, Any]:
    """Per-answer ``words``, ``bullets`` (None for a refusal) and ``artifacts`` ([] for a refusal)."""
    if refused:
        return {"words": None, "bullets": None, "artifacts": []}
    return {"words": answer_words(answer), "bullets": answer_bullets(answer),
            "artifacts": artifacts(answer, vocabulary, question)}


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


def score_questions(
    questions: Sequence[Mapping[str, Any]], answers: Sequence[Any], vocabulary: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """One row of per-question scores for every (question, answer) pair. ``vocabulary``: the common
    words of the reports for the glued-heading check (default ``corpus_vocabulary()``)."""
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
        row["lead_mention"] = lead_mention(q.get("must_mention") or [], text) if scored else None
        g, unsupported = groundedness(text, citations) if not refused else (None, [])
        row["groundedness"], row["unsupported"] = g, unsupported
        row.update(answer_shape(text, refused, vocabulary, q["question"]))
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
    for name in RANKING_METRICS + ("citation_precision", "citation_recall", "must_mention", "lead_mention", "groundedness"):
        out[name] = _mean(r.get(name) for r in rows)
    out["refusal_accuracy"] = _mean(1.0 if r["refused"] else 0.0 for r in unanswerable)
    out["false_refusal_rate"] = _mean(1.0 if r["refused"] else 0.0 for r in answerable)
    out["followup_recall@5"] = _mean(r.get("recall@5") for r in followups)
    out["latency_p50_ms"] = percentile(latencies, 50)
    out["latency_p95_ms"] = percentile(latencies, 95)
    out.update(shape_metrics(rows))
    out["failures"] = sum(1 for r in rows if r["failed"])
    return out


def shape_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Artifacts and length over the answered (non-refused) questions: ``artifacts`` (count),
    ``answers_with_artifacts`` (share), ``artifact_kinds`` ({kind: count}), ``answer_words_median``,
    ``answer_words_p90``, ``bullets_median``, ``bullets_max``. None where the rows do not have the
    per-answer fields (results of an older run) or no question was answered."""
    measured = [r for r in rows if r.get("artifacts") is not None]
    answered = [r for r in measured if not r["refused"]]
    words = [r["words"] for r in rows if not r["refused"] and r.get("words") is not None]
    bullets = [r["bullets"] for r in rows if not r["refused"] and r.get("bullets") is not None]
    kinds: dict[str, int] | None = None
    if measured:
        kinds = {k: 0 for k in ARTIFACT_KINDS}
        for r in measured:
            for a in r["artifacts"]:
                kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
    return {
        "artifacts": sum(kinds.values()) if kinds is not None else None,
        "answers_with_artifacts": _mean(1.0 if r["artifacts"] else 0.0 for r in answered),
        "artifact_kinds": kinds,
        "answer_words_median": percentile(words, 50),
        "answer_words_p90": percentile(words, 90),
        "bullets_median": percentile(bullets, 50),
        "bullets_max": max(bullets) if bullets else None,
    }


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """{"overall": {...}, "by_type": {type: {...}}, "split": {"tuning": {...}, "heldout": {...}}}
    with types in the canonical order; the split is ``heldout`` (question number divisible by 3)."""
    types = [t for t in QUESTION_TYPES if any(r["type"] == t for r in rows)]
    types += sorted({r["type"] for r in rows} - set(types))
    return {
        "overall": aggregate(rows),
        "by_type": {t: aggregate([r for r in rows if r["type"] == t]) for t in types},
        "split": {
            "tuning": aggregate([r for r in rows if not heldout(r)]),
            "heldout": aggregate([r for r in rows if heldout(r)]),
        },
    }
