"""Calibrate the refusal threshold on a question set.

    python -m evals.calibrate [--questions FILE] [--step 0.05]

Runs every question through the assistant, keeps the questions that were not declined as
prompt injection / opinion (the threshold plays no part there), and for each candidate threshold
t counts an answer as refused when its ``evidence`` < t.  Prints a table of candidates and the
threshold that maximises refusal accuracy (unanswerable refused) + (1 - false-refusal rate
(answerable refused)).  Among equally good thresholds it recommends the middle of the widest
optimal interval, which is the most robust choice.  Nothing is written: the threshold lives in
``assistant/settings.py`` (``refusal_threshold``, env POLICY_ASSISTANT_REFUSAL_THRESHOLD).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from .runner import DEFAULT_QUESTIONS, EvalInputError, load_questions

GUARD_REASONS = ("injection", "opinion")


@dataclass(frozen=True)
class Sample:
    id: str
    answerable: bool
    evidence: float
    always_refused: bool  # refused although evidence >= threshold (the composer found nothing to cite)


@dataclass(frozen=True)
class Candidate:
    threshold: float
    refusal_accuracy: float
    false_refusal_rate: float

    @property
    def objective(self) -> float:
        return self.refusal_accuracy + (1 - self.false_refusal_rate)


def evaluate_threshold(samples: Sequence[Sample], t: float) -> Candidate:
    ans = [s for s in samples if s.answerable]
    una = [s for s in samples if not s.answerable]

    def refused(s: Sample) -> bool:
        return s.always_refused or s.evidence < t

    ra = sum(refused(s) for s in una) / len(una) if una else 0.0
    frr = sum(refused(s) for s in ans) / len(ans) if ans else 0.0
    return Candidate(t, ra, frr)


def best_threshold(samples: Sequence[Sample]) -> tuple[Candidate, tuple[float, float]]:
    """The optimum and the interval [lo, hi) of thresholds that reach it (the widest one)."""
    values = sorted({round(s.evidence, 6) for s in samples})
    if not values:
        raise ValueError("no samples to calibrate on")
    # the outcome only changes at an evidence value: test one threshold per interval
    edges = [0.0, *values, max(1.0, values[-1] + 1e-6)]
    intervals = [(edges[i], edges[i + 1]) for i in range(len(edges) - 1) if edges[i + 1] > edges[i]]
    scored = [(evaluate_threshold(samples, hi), (lo, hi)) for lo, hi in intervals]
    # t in (lo, hi] behaves like t = hi (refused iff evidence < t): merge runs of equal objective
    best = max(c.objective for c, _ in scored)
    runs: list[tuple[float, float]] = []
    for c, (lo, hi) in scored:
        if abs(c.objective - best) < 1e-12:
            if runs and abs(runs[-1][1] - lo) < 1e-12:
                runs[-1] = (runs[-1][0], hi)
            else:
                runs.append((lo, hi))
    lo, hi = max(runs, key=lambda r: r[1] - r[0])
    mid = round((lo + hi) / 2, 3)
    return evaluate_threshold(samples, mid), (lo, hi)


def collect(questions_path=DEFAULT_QUESTIONS, assistant=None, progress: bool = True) -> tuple[list[Sample], float, int]:
    """(samples, current threshold, number of questions left out as injection/opinion)."""
    from tqdm import tqdm

    if assistant is None:
        from assistant.service import Assistant

        assistant = Assistant(progress=progress)
    current = assistant.settings.gate.refusal_threshold
    questions = load_questions(questions_path, assistant.settings)
    samples, skipped = [], 0
    for q in tqdm(questions, desc="calibrate", unit="q", disable=not progress, file=sys.stderr):
        a = assistant.ask(q["question"], q["history"])
        if a.refusal_reason in GUARD_REASONS:
            skipped += 1
            continue
        always = a.refused and a.evidence >= current
        samples.append(Sample(q["id"], bool(q["answerable"]), float(a.evidence), always))
    return samples, current, skipped


def format_report(samples: Sequence[Sample], current: float, skipped: int, step: float = 0.05) -> str:
    n_ans = sum(s.answerable for s in samples)
    n_una = len(samples) - n_ans
    best, (lo, hi) = best_threshold(samples)
    grid = sorted({round(i * step, 4) for i in range(int(round(1 / step)) + 1)} | {current, best.threshold})
    lines = [
        f"{len(samples)} questions ({n_ans} answerable, {n_una} unanswerable); "
        f"{skipped} declined as injection/opinion left out",
        "",
        f"{'threshold':>9}  {'refusal acc':>11}  {'false refusal':>13}  {'objective':>9}",
    ]
    for t in grid:
        c = evaluate_threshold(samples, t)
        tag = []
        if abs(t - current) < 1e-9:
            tag.append("current")
        if abs(t - best.threshold) < 1e-9:
            tag.append("recommended")
        lines.append(
            f"{t:>9.3f}  {c.refusal_accuracy:>11.3f}  {c.false_refusal_rate:>13.3f}  {c.objective:>9.3f}"
            + (f"  <- {', '.join(tag)}" if tag else "")
        )
    cur = evaluate_threshold(samples, current)
    una = sorted(s.evidence for s in samples if not s.answerable)
    ans = sorted(s.evidence for s in samples if s.answerable)
    lines += [
        "",
        f"evidence of unanswerable: min {una[0]:.3f} median {una[len(una) // 2]:.3f} max {una[-1]:.3f}" if una else "",
        f"evidence of answerable:   min {ans[0]:.3f} median {ans[len(ans) // 2]:.3f} max {ans[-1]:.3f}" if ans else "",
        "",
        f"current threshold   {current:.3f}: refusal accuracy {cur.refusal_accuracy:.3f}, "
        f"false-refusal rate {cur.false_refusal_rate:.3f}, objective {cur.objective:.3f}",
        f"recommended         {best.threshold:.3f}: refusal accuracy {best.refusal_accuracy:.3f}, "
        f"false-refusal rate {best.false_refusal_rate:.3f}, objective {best.objective:.3f} "
        f"(every threshold in ({lo:.3f}, {hi:.3f}] scores the same)",
        "set it with refusal_threshold in assistant/settings.py or POLICY_ASSISTANT_REFUSAL_THRESHOLD",
    ]
    return "\n".join(line for line in lines if line is not None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", default=str(DEFAULT_QUESTIONS), metavar="FILE")
    p.add_argument("--step", type=float, default=0.05, help="grid step of the printed table")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        samples, current, skipped = collect(args.questions, progress=not args.quiet)
    except EvalInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not any(s.answerable for s in samples) or all(s.answerable for s in samples):
        print("error: calibration needs both answerable and unanswerable questions", file=sys.stderr)
        return 2
    print(format_report(samples, current, skipped, args.step))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
