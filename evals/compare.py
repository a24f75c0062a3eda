"""Compare an evaluation run with a previous one: what got better, what got worse.

    policy-assistant eval --compare PREVIOUS_DIR [...]      # run, then compare with PREVIOUS_DIR
    python -m evals.compare PREVIOUS_DIR CURRENT_DIR        # compare two saved runs

A run is an output folder of ``eval``: ``metrics.json`` (its ``per_question`` rows) and, when
present, ``results.jsonl`` (the answers). Both runs are aggregated again over the questions they
share, so that the figures compare like with like when the question sets differ; the number of
questions only in one run is reported. Rows of an older run that lack the per-answer fields
(``words``, ``bullets``, ``artifacts``) get them from its ``results.jsonl``; a metric neither run
can give is shown as missing, never as a change.

Per metric (overall, per type, tuning and held-out halves): previous value, current value, delta,
and ``better`` / ``worse`` / ``same`` by the metric's direction in ``metrics.METRICS``. Latency is
shown but not judged (it depends on the machine and its load). Per question: must-mention
coverage, refused/answered correctness, Recall@5, citation precision, artifacts and words; the
questions with a regression are listed worst first.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .metrics import (
    ARTIFACT_KINDS,
    COUNT_METRICS,
    METRICS,
    QUESTION_TYPES,
    TIMING_METRICS,
    aggregate,
    answer_shape,
    format_metric,
    heldout,
)

# a change smaller than this is no change (shares 0..1; counts of words, bullets, artifacts)
TOLERANCE = 0.0005
COUNT_TOLERANCE = 0.05
# per question: (field, direction, smallest change that counts, weight of one unit of change in the
# ordering of regressions); "correct" is 1 when the refusal decision was right (answered an
# answerable question, refused an unanswerable one)
QUESTION_FIELDS: tuple[tuple[str, str, float, float], ...] = (
    ("correct", "higher", 0.5, 2.0),
    ("must_mention", "higher", 0.01, 1.0),
    ("recall@5", "higher", 0.01, 1.0),
    ("citation_precision", "higher", 0.01, 0.5),
    ("artifacts", "lower", 1, 0.25),
    ("words", "lower", 10, 1 / 200),
)


class CompareError(ValueError):
    """The previous run's folder cannot be read; the message says why."""


# --------------------------------------------------------------------------- loading


def load_run(path: str | Path) -> dict[str, Any]:
    """``{"dir", "metrics", "rows", "answers"}`` of a saved run; raises ``CompareError``."""
    folder = Path(path)
    mpath = folder / "metrics.json"
    if not mpath.is_file():
        raise CompareError(f"{folder} is not an eval output folder (no metrics.json)")
    try:
        metrics = json.loads(mpath.read_text(encoding="utf-8"))
        rows = metrics["per_question"]["assistant"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CompareError(f"{mpath}: not the metrics.json of an eval run ({exc})") from exc
    answers: dict[str, dict[str, Any]] = {}
    rpath = folder / "results.jsonl"
    if rpath.is_file():
        for line in rpath.read_text(encoding="utf-8").splitlines():
            if line.strip():
                a = json.loads(line)
                answers[a.get("id")] = a
    return {"dir": str(folder), "metrics": metrics, "rows": rows, "answers": answers}


def current_run(out_dir: str | Path, metrics: dict[str, Any], answers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run just made, in the shape of ``load_run``."""
    rows = metrics["per_question"]["assistant"]
    return {"dir": str(out_dir), "metrics": metrics, "rows": rows,
            "answers": {r["id"]: a for r, a in zip(rows, answers)}}


def _complete(rows: Sequence[Mapping[str, Any]], answers: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the per-answer fields an older run lacks, computed from its answers."""
    out = []
    for r in rows:
        r = dict(r)
        if r.get("artifacts") is None and r.get("id") in answers:
            r.update(answer_shape(answers[r["id"]].get("answer") or "", bool(r.get("refused")), question=r.get("question") or ""))
        out.append(r)
    return out


# --------------------------------------------------------------------------- comparing


def verdict(name: str, previous: Any, current: Any, direction: str | None = None) -> str:
    """``better`` / ``worse`` / ``same`` by the metric's direction; ``missing`` when a side has no
    value; ``timing`` for latency (shown, not judged)."""
    if previous is None or current is None:
        return "missing"
    if name in TIMING_METRICS:
        return "timing"
    direction = direction or METRICS.get(name, "lower" if name.startswith("artifacts:") else "higher")
    tol = COUNT_TOLERANCE if name in COUNT_METRICS or name.startswith("artifacts:") else TOLERANCE
    d = current - previous
    if abs(d) < tol:
        return "same"
    return "better" if (d > 0) == (direction == "higher") else "worse"


def metric_names() -> list[str]:
    return [*METRICS, *(f"artifacts:{k}" for k in ARTIFACT_KINDS)]


def _value(agg: Mapping[str, Any], name: str) -> Any:
    if name.startswith("artifacts:"):
        kinds = agg.get("artifact_kinds")
        return None if kinds is None else kinds.get(name.split(":", 1)[1], 0)
    return agg.get(name)


def compare_groups(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per metric that either aggregate has: metric, previous, current, delta, verdict."""
    out = []
    for name in metric_names():
        p, c = _value(previous, name), _value(current, name)
        if p is None and c is None:
            continue
        out.append({"metric": name, "previous": p, "current": c,
                    "delta": None if p is None or c is None else c - p, "verdict": verdict(name, p, c)})
    return out


def _question_values(row: Mapping[str, Any]) -> dict[str, Any]:
    arts = row.get("artifacts")
    return {
        "correct": 1.0 if bool(row.get("refused")) != bool(row.get("answerable", True)) else 0.0,
        "refused": bool(row.get("refused")),
        "must_mention": row.get("must_mention"),
        "recall@5": row.get("recall@5"),
        "citation_precision": row.get("citation_precision"),
        "artifacts": None if arts is None else len(arts),
        "words": row.get("words"),
    }


def compare_question(prev: Mapping[str, Any], cur: Mapping[str, Any]) -> dict[str, Any]:
    """The changes of one question: ``changes`` (field, previous, current, verdict), ``regression``
    and ``gain`` (weighted sizes of the worse and the better changes)."""
    p, c = _question_values(prev), _question_values(cur)
    changes, regression, gain = [], 0.0, 0.0
    for field, direction, step, weight in QUESTION_FIELDS:
        a, b = p[field], c[field]
        if a is None or b is None or abs(b - a) < step:
            continue
        better = (b > a) == (direction == "higher")
        size = abs(b - a) * weight
        if better:
            gain += size
        else:
            regression += size
        changes.append({"field": field, "previous": a, "current": b, "verdict": "better" if better else "worse"})
    if any(ch["field"] == "correct" for ch in changes):
        for ch in changes:
            if ch["field"] == "correct":
                ch["previous"] = "refused" if p["refused"] else "answered"
                ch["current"] = "refused" if c["refused"] else "answered"
    return {"id": cur["id"], "type": cur.get("type"), "changes": changes,
            "regression": round(regression, 4), "gain": round(gain, 4)}


def compare_runs(previous: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """Everything ``format_comparison`` and the HTML report show (see the module docstring)."""
    prev_rows = {r["id"]: r for r in _complete(previous["rows"], previous.get("answers") or {})}
    cur_rows = _complete(current["rows"], current.get("answers") or {})
    cur_by_id = {r["id"]: r for r in cur_rows}
    common = [r["id"] for r in cur_rows if r["id"] in prev_rows]
    only_current = [r["id"] for r in cur_rows if r["id"] not in prev_rows]
    only_previous = [i for i in prev_rows if i not in cur_by_id]
    # both sides grouped by the current run's question types
    type_of = {i: cur_by_id[i].get("type") for i in common}

    def pair(ids: Sequence[str]) -> list[dict[str, Any]]:
        return compare_groups(aggregate([prev_rows[i] for i in ids]), aggregate([cur_by_id[i] for i in ids]))

    groups: dict[str, dict[str, Any]] = {"overall": {"n": len(common), "metrics": pair(common)}}
    types = [t for t in QUESTION_TYPES if t in type_of.values()] + sorted({t for t in type_of.values() if t not in QUESTION_TYPES})
    for t in types:
        ids = [i for i in common if type_of[i] == t]
        groups[t] = {"n": len(ids), "metrics": pair(ids)}
    for half, pick in (("tuning", False), ("heldout", True)):
        ids = [i for i in common if heldout({"id": i}) == pick]
        if ids:
            groups[f"split:{half}"] = {"n": len(ids), "metrics": pair(ids)}
    questions = [compare_question(prev_rows[i], cur_by_id[i]) for i in common]
    worse = sorted((q for q in questions if q["regression"] > 0), key=lambda q: (-q["regression"], q["id"]))
    better = sorted((q for q in questions if q["gain"] > 0), key=lambda q: (-q["gain"], q["id"]))
    judged = [m for g in groups.values() for m in g["metrics"] if m["verdict"] in ("better", "worse")]
    return {
        "previous": previous["dir"],
        "current": current["dir"],
        "n_common": len(common),
        "only_previous": only_previous,
        "only_current": only_current,
        "groups": groups,
        "worse": worse,
        "better": better,
        "unchanged": sum(1 for q in questions if not q["changes"]),
        "no_change": not judged and not worse and not better,
    }


# --------------------------------------------------------------------------- text


def _fmt(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if name in ("words", "artifacts"):
        return "-" if value is None else f"{value:.0f}"
    return format_metric(value, name)


def _delta(entry: Mapping[str, Any]) -> str:
    d = entry["delta"]
    if d is None:
        return "-"
    if d == 0:
        return "0"
    name = entry["metric"]
    text = format_metric(abs(d), name)
    return ("+" if d >= 0 else "-") + text


def describe_changes(q: Mapping[str, Any], only: str | None = None) -> str:
    parts = []
    for ch in q["changes"]:
        if only and ch["verdict"] != only:
            continue
        name = "answer" if ch["field"] == "correct" else ch["field"]
        parts.append(f"{name} {_fmt(ch['previous'], ch['field'])} → {_fmt(ch['current'], ch['field'])}")
    return "; ".join(parts)


def format_comparison(cmp: Mapping[str, Any], max_questions: int = 15) -> str:
    """Console text: the overall table, the changed metrics of each type and half, the questions
    that got worse (worst first) and better."""
    head = (f"== compared with {cmp['previous']} ({cmp['n_common']} questions in both runs; "
            f"{len(cmp['only_current'])} only in this run, {len(cmp['only_previous'])} only in the previous one) ==")
    lines = [head]
    if cmp["only_current"] or cmp["only_previous"]:
        lines.append("metrics below are over the shared questions only")
    lines.append(f"{'overall':<30}{'previous':>10}{'current':>10}{'delta':>10}")
    for m in cmp["groups"]["overall"]["metrics"]:
        mark = {"better": "better", "worse": "WORSE", "same": "", "missing": "(not in one run)", "timing": "(timing, not judged)"}[m["verdict"]]
        lines.append(f"{m['metric']:<30}{_fmt(m['previous'], m['metric']):>10}{_fmt(m['current'], m['metric']):>10}{_delta(m):>10}  {mark}".rstrip())
    for g, data in cmp["groups"].items():
        if g == "overall":
            continue
        changed = [m for m in data["metrics"] if m["verdict"] in ("better", "worse")]
        label = g.replace("split:", "") + (" half" if g.startswith("split:") else "")
        if changed:
            lines.append(textwrap.fill(f"{label} (n={data['n']}): " + "; ".join(
                f"{m['metric']} {_fmt(m['previous'], m['metric'])} → {_fmt(m['current'], m['metric'])}"
                f" ({'better' if m['verdict'] == 'better' else 'WORSE'})" for m in changed),
                width=110, subsequent_indent="    ", break_on_hyphens=False))
    both = len({q["id"] for q in cmp["worse"]} & {q["id"] for q in cmp["better"]})
    lines.append(f"questions: {len(cmp['worse'])} with a regression, {len(cmp['better'])} with a gain"
                 + (f" ({both} with both)" if both else "") + f", {cmp['unchanged']} unchanged")
    for title, items, only in (("worse (worst first)", cmp["worse"], "worse"), ("better", cmp["better"], "better")):
        if items:
            lines.append(f"{title}:")
            for q in items[:max_questions]:
                lines.append(f"  {q['id']:<6} {describe_changes(q, only)}")
            if len(items) > max_questions:
                lines.append(f"  … and {len(items) - max_questions} more (report.html lists them all)")
    if cmp["no_change"]:
        lines.append("no change: every metric and every question as in the previous run (latency aside)")
    return "\n".join(lines)


def write_comparison(path: str | Path, cmp: Mapping[str, Any]) -> None:
    Path(path).write_text(json.dumps(cmp, indent=2, ensure_ascii=False), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.compare", description="Compare two saved eval runs.")
    p.add_argument("previous", help="the earlier run's output folder")
    p.add_argument("current", help="the later run's output folder")
    args = p.parse_args(argv)
    try:
        cmp = compare_runs(load_run(args.previous), load_run(args.current))
    except CompareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_comparison(cmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
