"""Calibrate the citation verifier's thresholds on the dev set.

    python -m evals.calibrate_verifier [--questions FILE] [--max-false-accept 0.05]

No LLM is needed: for every answerable dev question the passages an LLM would be shown are
retrieved, and claims are built from them with known labels.

Supported claims (each cited to the passage it comes from):
  * a sentence of the passage, verbatim;
  * the same sentence shortened to its first clause or first ~60% of words (models condense);
  * the sentence reworded at the edges ("The report notes that …", "According to the report, …").

Unsupported claims:
  * wrong citation: a sentence of one shown passage cited to a shown passage of another report;
  * topical invention: a sentence from a passage elsewhere in the corpus (same topic, not shown)
    cited to the top passage;
  * altered facts: a supported sentence whose named place or actor is swapped for another from the
    corpus.

For each (similarity, overlap) pair on a grid it reports the share of supported claims kept and
unsupported claims accepted, and recommends the pair that keeps the most supported claims while
accepting at most ``--max-false-accept`` of the unsupported ones. Nothing is written: the values
live in ``assistant/settings.py`` (``verify_min_similarity``, ``verify_min_overlap``).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Sequence

import numpy as np

from .runner import DEFAULT_QUESTIONS, load_questions

_NAME = re.compile(r"\b[A-Z][a-z]{3,}\b")


def build_claims(assistant, questions, rng: random.Random):
    """(claim, cited hits, label) triples; label True = supported."""
    from assistant.retrieval import analyse

    index = assistant.index
    names = sorted({m for p in index.passages for m in _NAME.findall(p.text) if m.lower() not in {"this", "these", "there", "their"}})
    claims: list[tuple[str, list, bool]] = []
    for q in questions:
        if not q["answerable"] or q.get("history"):
            continue
        analysis = analyse(q["question"], assistant.reports)
        qvec = index.embedder.embed_query(q["question"])
        hits = assistant.search.search(q["question"], analysis=analysis, query_vector=qvec)[: assistant.settings.llm_context_passages]
        if len(hits) < 2:
            continue
        shown = {h.passage.passage_id for h in hits}
        for h in hits[:3]:
            sents = [s for s in h.passage.sentences if len(s.split()) >= 8]
            if not sents:
                continue
            s = rng.choice(sents)
            words = s.rstrip(".").split()
            claims.append((s, [h], True))
            first_clause = re.split(r"[,;:]\s", s)[0]
            short = first_clause if len(first_clause.split()) >= 7 else " ".join(words[: max(7, int(len(words) * 0.6))])
            claims.append((short.rstrip(".") + ".", [h], True))
            claims.append((rng.choice(["The report notes that ", "According to the report, "]) + s[0].lower() + s[1:], [h], True))
            # altered fact: swap a name for another one from the corpus
            found = [n for n in _NAME.findall(s) if n != words[0]]
            if found:
                old = rng.choice(found)
                new = rng.choice([n for n in names if n != old and n.lower() not in h.passage.text.lower()])
                claims.append((s.replace(old, new), [h], False))
        # wrong citation: a sentence of a shown passage cited to another report's shown passage
        a = hits[0]
        others = [h for h in hits if h.passage.source != a.passage.source]
        if others:
            s = max(a.passage.sentences, key=len)
            claims.append((s, [others[0]], False))
        # topical invention: a nearby passage that was not shown, cited to the top passage
        sims = index.passage_vectors @ qvec
        for i in np.argsort(-sims)[:30]:
            p = index.passages[int(i)]
            if p.passage_id not in shown and p.source != hits[0].passage.source and p.section_kind != "footnote":
                sents = [s for s in p.sentences if len(s.split()) >= 8]
                if sents:
                    claims.append((rng.choice(sents), [hits[0]], False))
                break
    return claims


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.calibrate_verifier", description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    parser.add_argument("--max-false-accept", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from assistant.service import Assistant
    from assistant.verify import CitationVerifier

    assistant = Assistant(progress=False)
    questions = load_questions(args.questions, assistant.settings)
    claims = build_claims(assistant, questions, random.Random(args.seed))
    verifier = CitationVerifier(assistant.index, 0.0, 0.0)
    vectors = assistant.index.embedder.embed([c for c, _, _ in claims])
    scored = []
    for (claim, hits, label), vec in zip(claims, vectors):
        sim, overlap, facts_ok = verifier.score(claim, vec, hits)
        scored.append((sim, overlap, facts_ok, label))
    pos = [s for s in scored if s[3]]
    neg = [s for s in scored if not s[3]]
    print(f"{len(claims)} claims: {len(pos)} supported, {len(neg)} unsupported, from {len(questions)} questions")

    def rates(t_sim: float, t_ov: float) -> tuple[float, float]:
        keep = lambda s: s[0] >= t_sim and s[1] >= t_ov and s[2]  # noqa: E731
        return sum(map(keep, pos)) / len(pos), sum(map(keep, neg)) / len(neg)

    current = (assistant.settings.verify_min_similarity, assistant.settings.verify_min_overlap)
    best = None
    print(f"{'sim':>5} {'overlap':>7} {'kept supported':>15} {'accepted unsupported':>21}")
    for t_sim in np.arange(0.40, 0.91, 0.05):
        for t_ov in np.arange(0.30, 0.91, 0.1):
            tp, fp = rates(float(t_sim), float(t_ov))
            if round(float(t_sim), 2) in (0.5, 0.6, 0.65, 0.7, 0.8):
                print(f"{t_sim:5.2f} {t_ov:7.2f} {tp:15.3f} {fp:21.3f}")
            if fp <= args.max_false_accept and (best is None or tp > best[2] + 1e-9):
                best = (round(float(t_sim), 2), round(float(t_ov), 2), tp, fp)
    tp, fp = rates(*current)
    print(f"\ncurrent settings: similarity {current[0]}, overlap {current[1]}: kept {tp:.3f} of supported, accepted {fp:.3f} of unsupported")
    if best is None:
        print(f"no pair accepts at most {args.max_false_accept:.0%} of unsupported claims")
        return 1
    print(f"recommended: similarity {best[0]}, overlap {best[1]}: kept {best[2]:.3f} of supported, accepted {best[3]:.3f} of unsupported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
