"""Fit the score stage's fact model (``Settings.scoring.weights``) on the dev set.

    python -m evals.fit_answer_model [--questions evals/dev_questions.jsonl] [--C 1.0]

Every sentence of the passages retrieved for an answerable question is an example; its label is
whether it contains one of the question's must-mention facts (``evals.metrics.mention_found``).
A logistic regression over ``assistant.scoring.FEATURES`` (kinds of sentence, never words of a
report) is fitted on the *tuning* half of the questions and reported on the *held-out* half:
questions whose number is divisible by 3 (q003, q006 …) are never used to fit anything
(``evals.runner.heldout``). The script prints the weights as the ``SENTENCE_WEIGHTS`` literal of
``assistant/settings.py``; paste them there to use them. Needs scikit-learn (the dev extra).
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from .metrics import mention_found
from .runner import DEFAULT_QUESTIONS, heldout, load_questions


def examples(assistant, questions) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(features, labels, question index of each row) over the answerable questions."""
    xs, ys, owner = [], [], []
    for qi, q in enumerate(questions):
        if not q["answerable"] or not q["must_mention"]:
            continue
        _, _, evidence, _ = assistant.pipeline.evidence(q["question"], q["history"])
        for s in evidence.scored:
            xs.append(s.features)
            ys.append(float(any(mention_found(m, s.text) for m in q["must_mention"])))
            owner.append(qi)
    return np.array(xs), np.array(ys), owner


def fit(x: np.ndarray, y: np.ndarray, c: float) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    from assistant.scoring import FEATURES

    bias = FEATURES.index("bias")
    cols = [i for i in range(len(FEATURES)) if i != bias]
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(x[:, cols], y)
    weights = {FEATURES[i]: round(float(w), 4) for i, w in zip(cols, model.coef_[0])}
    weights["bias"] = round(float(model.intercept_[0]), 4)
    return {name: weights[name] for name in FEATURES}


def auc(x: np.ndarray, y: np.ndarray, weights: dict[str, float]) -> float | None:
    from sklearn.metrics import roc_auc_score

    from assistant.scoring import FEATURES

    if len(set(y)) < 2:
        return None
    w = np.array([weights.get(f, 0.0) for f in FEATURES])
    return round(float(roc_auc_score(y, x @ w)), 4)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.fit_answer_model", description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    p.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    args = p.parse_args(argv)

    from assistant.service import Assistant

    assistant = Assistant(progress=False)
    questions = load_questions(args.questions, assistant.settings)
    tune = [q for q in questions if not heldout(q)]
    check = [q for q in questions if heldout(q)]
    x_t, y_t, _ = examples(assistant, tune)
    x_c, y_c, _ = examples(assistant, check)
    weights = fit(x_t, y_t, args.C)
    current = assistant.settings.scoring.weights
    print(f"{len(tune)} tuning questions ({int(y_t.sum())} of {len(y_t)} sentences carry a fact), "
          f"{len(check)} held out ({int(y_c.sum())} of {len(y_c)})", file=sys.stderr)
    print(f"AUC  fitted: tuning {auc(x_t, y_t, weights)}, held out {auc(x_c, y_c, weights)}", file=sys.stderr)
    if current:
        print(f"AUC current: tuning {auc(x_t, y_t, current)}, held out {auc(x_c, y_c, current)}", file=sys.stderr)
    print("SENTENCE_WEIGHTS: dict[str, float] = {")
    for name, w in weights.items():
        print(f"    {name!r}: {w},")
    print("}")
    return 0 if all(math.isfinite(w) for w in weights.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
