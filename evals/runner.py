"""Run a question set through the assistant (and optionally the LangChain baseline) and score it.

    python -m evals.runner [--questions FILE ...] [--out DIR] [--baseline] [--compare DIR]
                           [--check-thresholds] [--thresholds FILE]

Writes ``DIR/results.jsonl`` (one ``Answer`` per line plus ``id`` and ``type``),
``DIR/baseline_results.jsonl`` (with --baseline), ``DIR/metrics.json``, ``DIR/report.html`` and,
with --compare, ``DIR/comparison.json``. ``--questions`` may be given more than once: the first
file is the main run (written to DIR, checked against the thresholds), each further file is run
with the same assistant and written to ``DIR/<file stem>/``.

Exit status: 0 fine, 1 a metric crossed its bound in the thresholds file (--check-thresholds),
2 the question or thresholds file is invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .metrics import (  # noqa: F401 (heldout: re-exported)
    METRICS,
    QUESTION_TYPES,
    aggregate,
    format_metric,
    heldout,
    score_questions,
    summarise,
)

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = EVALS_DIR / "dev_questions.jsonl"
DEFAULT_THRESHOLDS = EVALS_DIR / "thresholds.json"
DEFAULT_OUT = Path("eval_out")


class EvalInputError(ValueError):
    """An invalid question or thresholds file; the message says where and what."""


# --------------------------------------------------------------------------- question file


def _source_dirs(settings) -> list[Path]:
    if settings is None:
        return []
    return [Path(settings.knowledge_base_dir) / "sources", Path(settings.data_dir) / "sources"]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_question(obj: Any, line_counts: dict[str, int | None], source_dirs: list[Path]) -> list[str]:
    """Problems of one question object (empty list when valid); fills in defaults in place."""
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {type(obj).__name__}"]
    errs: list[str] = []
    for key in ("id", "question"):
        if key not in obj:
            errs.append(f"missing required field '{key}'")
        elif not isinstance(obj[key], str) or not obj[key].strip():
            errs.append(f"field '{key}' must be a non-empty string (got {obj[key]!r})")
    qtype = obj.get("type")
    if qtype is None:
        errs.append(f"missing required field 'type' (one of {', '.join(QUESTION_TYPES)})")
    elif qtype not in QUESTION_TYPES:
        errs.append(f"field 'type' must be one of {', '.join(QUESTION_TYPES)} (got {qtype!r})")
    answerable = obj.setdefault("answerable", qtype != "unanswerable")
    if not isinstance(answerable, bool):
        errs.append(f"field 'answerable' must be true or false (got {answerable!r})")
    elif qtype == "unanswerable" and answerable:
        errs.append("type 'unanswerable' requires \"answerable\": false")
    elif qtype in QUESTION_TYPES and qtype != "unanswerable" and not answerable:
        errs.append(f"\"answerable\": false is only allowed for type 'unanswerable' (type is {qtype!r})")
    history = obj.setdefault("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        errs.append(f"field 'history' must be a list of strings (got {history!r})")
    must = obj.setdefault("must_mention", [])
    if not isinstance(must, list) or not all(isinstance(m, str) and m.strip() for m in must):
        errs.append(f"field 'must_mention' must be a list of non-empty strings (got {must!r})")
    obj.setdefault("addressee", None)
    obj.setdefault("notes", "")
    gold = obj.setdefault("gold", [])
    if not isinstance(gold, list):
        errs.append(f"field 'gold' must be a list of {{source, start_line, end_line}} objects (got {gold!r})")
        gold = []
    if answerable is False and gold:
        errs.append("an unanswerable question must have \"gold\": []")
    for i, g in enumerate(gold):
        where = f"gold[{i}]"
        if not isinstance(g, dict):
            errs.append(f"{where} must be an object {{source, start_line, end_line}} (got {g!r})")
            continue
        missing = [k for k in ("source", "start_line", "end_line") if k not in g]
        if missing:
            errs.append(f"{where} is missing {', '.join(missing)}")
            continue
        src, s, e = g["source"], g["start_line"], g["end_line"]
        if not isinstance(src, str) or not src:
            errs.append(f"{where}.source must be a file name (got {src!r})")
            continue
        if not _is_int(s) or s < 1:
            errs.append(f"{where}.start_line must be an integer >= 1 (got {s!r})")
            continue
        if not _is_int(e) or e < s:
            errs.append(f"{where}.end_line must be an integer >= start_line {s} (got {e!r})")
            continue
        if source_dirs:
            if src not in line_counts:
                path = next((d / src for d in source_dirs if (d / src).is_file()), None)
                line_counts[src] = (
                    len(path.read_text(encoding="utf-8").split("\n")) if path is not None else None
                )
            n = line_counts[src]
            if n is None:
                errs.append(f"{where}.source {src!r} is not a report file (looked in {', '.join(map(str, source_dirs))})")
            elif e > n:
                errs.append(f"{where}.end_line {e} is past the end of {src} ({n} lines)")
    return errs


def load_questions(path: str | Path, settings=None) -> list[dict[str, Any]]:
    """Parse and validate a question file (JSON lines, schema in evals/README_questions.md).

    Optional fields get their defaults (history [], gold [], must_mention [], answerable = type !=
    'unanswerable'). Raises ``EvalInputError`` listing every problem with its line number."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalInputError(f"cannot read the question file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise EvalInputError(f"{path}: not UTF-8 text ({exc})") from exc
    questions: list[dict[str, Any]] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    line_counts: dict[str, int | None] = {}
    dirs = _source_dirs(settings)
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        problems = _check_question(obj, line_counts, dirs)
        qid = obj.get("id") if isinstance(obj, dict) else None
        if isinstance(qid, str) and qid:
            if qid in seen:
                problems.append(f"duplicate id {qid!r} (first used on line {seen[qid]})")
            else:
                seen[qid] = lineno
        label = f" ({qid})" if isinstance(qid, str) and qid else ""
        errors.extend(f"{path}:{lineno}{label}: {p}" for p in problems)
        if not problems:
            obj["_line"] = lineno
            questions.append(obj)
    if errors:
        head = f"invalid question file {path} ({len(errors)} problem{'s' if len(errors) > 1 else ''}):"
        raise EvalInputError("\n".join([head, *("  " + e for e in errors)]))
    if not questions:
        raise EvalInputError(f"the question file {path} contains no questions")
    return questions


def gold_text(span: dict[str, Any], settings, cache: dict[str, list[str]] | None = None) -> str:
    cache = {} if cache is None else cache
    src = span["source"]
    if src not in cache:
        path = next((d / src for d in _source_dirs(settings) if (d / src).is_file()), None)
        cache[src] = path.read_text(encoding="utf-8").split("\n") if path else []
    return "\n".join(cache[src][span["start_line"] - 1 : span["end_line"]])


# --------------------------------------------------------------------------- thresholds


def load_thresholds(path: str | Path) -> dict[str, dict[str, float]]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalInputError(f"cannot read the thresholds file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise EvalInputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not (set(data) & {"floors", "ceilings"}):
        raise EvalInputError(f"{path}: expected an object with \"floors\" and/or \"ceilings\"")
    out: dict[str, dict[str, float]] = {}
    for kind in ("floors", "ceilings"):
        section = data.get(kind, {})
        if not isinstance(section, dict):
            raise EvalInputError(f"{path}: \"{kind}\" must be an object {{metric: value}}")
        section = {k: v for k, v in section.items() if not k.startswith("_")}  # "_comment" keys
        for metric, value in section.items():
            if metric not in METRICS:
                raise EvalInputError(f"{path}: unknown metric {metric!r} in \"{kind}\" (known: {', '.join(METRICS)})")
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise EvalInputError(f"{path}: {kind}.{metric} must be a number (got {value!r})")
        out[kind] = {k: float(v) for k, v in section.items()}
    return out


def check_thresholds(overall: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> tuple[list[str], list[str]]:
    """(violations, notes): a floor is violated when the metric is below it, a ceiling when above."""
    bad, notes = [], []
    for kind, cmp, word in (("floors", lambda v, b: v < b, "below its floor"), ("ceilings", lambda v, b: v > b, "above its ceiling")):
        for metric, bound in thresholds.get(kind, {}).items():
            value = overall.get(metric)
            if value is None:
                notes.append(f"{metric}: not measured on this question set (bound {bound:g} not checked)")
            elif cmp(value, bound):
                bad.append(f"{metric} = {value:.4f} is {word} {bound:g}")
    return bad, notes


# --------------------------------------------------------------------------- running


def _ask_all(system, questions: Sequence[dict[str, Any]], desc: str, progress: bool, with_history: bool) -> list:
    from tqdm import tqdm

    answers = []
    for q in tqdm(questions, desc=desc, unit="q", disable=not progress, file=sys.stderr):
        history = q["history"] if with_history else None
        answers.append(system.ask(q["question"], history))
    return answers


def _write_results(path: Path, questions, answers) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for q, a in zip(questions, answers):
            row = {"id": q["id"], "type": q["type"], **a.model_dump(mode="json")}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_eval(
    questions_path: str | Path = DEFAULT_QUESTIONS,
    out_dir: str | Path = DEFAULT_OUT,
    baseline: bool = False,
    settings=None,
    *,
    assistant=None,
    baseline_rag=None,
    progress: bool = True,
    previous: dict[str, Any] | None = None,
    catalogue: bool = True,
) -> dict[str, Any]:
    """Run every question through the assistant (follow-ups with their history) and, with
    ``baseline``, through the LangChain baseline; write results, metrics and the HTML report into
    ``out_dir`` and return the metrics. ``assistant`` / ``baseline_rag``: already loaded systems to
    reuse (by default they are created from ``settings``). ``previous``: a run loaded with
    ``evals.compare.load_run`` to compare with (written to ``comparison.json``, shown in the
    report and returned under the key ``comparison``, which metrics.json does not hold).
    ``catalogue``: also score the practices catalogue (a property of the index, not of the
    question set)."""
    from assistant.settings import get_settings

    from . import compare, report

    t_start = time.perf_counter()
    if assistant is not None:
        settings = assistant.settings
    settings = settings or get_settings()
    questions = load_questions(questions_path, settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    if assistant is None:
        from assistant.service import Assistant

        assistant = Assistant(settings, progress=progress)
    assistant.ask("warm-up: how do cities coordinate integration policy?")  # first call loads lazily
    answers = _ask_all(assistant, questions, "assistant", progress, with_history=True)
    _write_results(out / "results.jsonl", questions, answers)
    rows = score_questions(questions, answers)
    metrics: dict[str, Any] = {
        "questions_file": str(questions_path),
        "n_questions": len(questions),
        "types": {t: sum(1 for q in questions if q["type"] == t) for t in QUESTION_TYPES if any(q["type"] == t for q in questions)},
        "settings": {
            "embedding_model": settings.embedding_model,
            "top_k": settings.top_k,
            "refusal_threshold": settings.gate.refusal_threshold,
            "max_answer_sentences": settings.max_answer_sentences,
            "compose": settings.compose.model_dump(),
            "backend": settings.backend,
        },
        "assistant": summarise(rows),
    }
    if catalogue:
        metrics["catalogue"] = _catalogue_metrics(assistant)
    # the same follow-ups asked without their history: what the rewriting adds
    followups = [q for q in questions if q["history"]]
    if followups:
        bare = _ask_all(assistant, followups, "follow-ups without history", progress, with_history=False)
        metrics["followup_without_history"] = aggregate(score_questions(followups, bare))
    if settings.backend != "extractive":
        metrics["llm"] = {
            "answers_from_llm": sum(1 for a in answers if a.backend == settings.backend and not a.refused),
            "fell_back_to_extractive": sum(1 for a in answers if a.notice),
            "removed_sentences": sum(len(a.removed_sentences) for a in answers),
            "mean_groundedness_reported": round(
                sum(a.groundedness for a in answers if not a.refused) / max(1, sum(1 for a in answers if not a.refused)), 4
            ),
        }

    b_answers, b_rows = None, None
    if baseline:
        from .baseline import BaselineRAG

        t_b = time.perf_counter()
        rag = baseline_rag if baseline_rag is not None else BaselineRAG(settings, progress=progress)
        metrics["baseline_index"] = {
            "collection": rag.collection_name,
            "chunks": rag.n_chunks,
            "built_now": rag.built,
            "seconds": round(time.perf_counter() - t_b, 1),
        }
        rag.ask("warm-up")
        b_answers = _ask_all(rag, questions, "baseline", progress, with_history=False)
        _write_results(out / "baseline_results.jsonl", questions, b_answers)
        b_rows = score_questions(questions, b_answers)
        metrics["baseline"] = summarise(b_rows)

    metrics["per_question"] = {"assistant": rows, **({"baseline": b_rows} if b_rows is not None else {})}
    metrics["run_seconds"] = round(time.perf_counter() - t_start, 1)
    if previous is not None:
        metrics["compared_with"] = previous["dir"]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
    comparison = None
    if previous is not None:
        comparison = compare.compare_runs(previous, compare.current_run(out, metrics, [a.model_dump(mode="json") for a in answers]))
        compare.write_comparison(out / "comparison.json", comparison)
    report.write_report(
        out / "report.html",
        questions=questions,
        answers=[a.model_dump(mode="json") for a in answers],
        rows=rows,
        metrics=metrics,
        baseline_answers=[a.model_dump(mode="json") for a in b_answers] if b_answers else None,
        baseline_rows=b_rows,
        gold_texts=[[gold_text(g, settings) for g in q["gold"]] for q in questions],
        comparison=comparison,
    )
    if comparison is not None:
        metrics["comparison"] = comparison
    return metrics


def _catalogue_metrics(assistant) -> dict[str, Any]:
    """Practice/recommendation extraction against evals/catalogue_gold.jsonl: precision, recall and
    level accuracy of the extraction alone and with the curator's overrides, plus record counts."""
    try:
        from .catalogue_eval import run as run_catalogue
        from .catalogue_eval import summary_metrics

        result = run_catalogue(assistant)
    except Exception as exc:  # noqa: BLE001 - the question metrics still count
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {
        **summary_metrics(result),
        "per_report": {k: result[k]["per_report"] for k in ("extraction", "with_overrides")},
        "n_records": result["n_records"],
        "counts": result["counts"],
    }


def format_catalogue(metrics: dict[str, Any]) -> str:
    cat = metrics.get("catalogue")
    if not cat:
        return ""
    if "error" in cat:
        return f"== catalogue ==\nnot measured: {cat['error']}"

    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = ["== catalogue (gold list) ==", f"{'':<22}{'extraction':>12}{'+overrides':>12}"]
    for name, label in (("precision", "precision"), ("recall", "recall"), ("level_accuracy", "level accuracy")):
        lines.append(f"{label:<22}{f(cat.get('catalogue_' + name)):>12}{f(cat.get('catalogue_' + name + '_overrides')):>12}")
    lines.append(f"{'records':<22}{cat.get('n_records', 0):>12}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI


def format_table(metrics: dict[str, Any]) -> str:
    """Plain-text summary: overall, then per type; baseline alongside when present."""
    systems = [s for s in ("assistant", "baseline") if s in metrics]
    groups = ["overall", *metrics["assistant"]["by_type"]]
    cell = format_metric

    lines = []
    for g in groups:
        lines.append(f"== {g} ==" + ("" if g == "overall" else f" (n={metrics['assistant']['by_type'][g]['n']})"))
        lines.append(f"{'metric':<24}" + "".join(f"{s:>12}" for s in systems))
        for name in METRICS:
            vals = [(metrics[s]["overall"] if g == "overall" else metrics[s]["by_type"].get(g, {})).get(name) for s in systems]
            if all(v is None for v in vals):
                continue
            lines.append(f"{name:<24}" + "".join(f"{cell(v, name):>12}" for v in vals))
        kinds = metrics["assistant"]["overall"].get("artifact_kinds") if g == "overall" else None
        if kinds:
            lines.append("artifacts by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    split = metrics["assistant"].get("split")
    if split:
        tune, held = split["tuning"], split["heldout"]
        lines.append("== assistant: tuning half vs held-out half (question number divisible by 3) ==")
        lines.append(f"{'metric':<24}{'tuning':>12}{'held-out':>12}")
        lines.append(f"{'n':<24}{tune['n']:>12}{held['n']:>12}")
        for name in METRICS:
            a, b = tune.get(name), held.get(name)
            if a is None and b is None:
                continue
            lines.append(f"{name:<24}{cell(a, name):>12}{cell(b, name):>12}")
    bare = metrics.get("followup_without_history")
    if bare:
        with_history = metrics["assistant"]["by_type"].get("followup", {})
        lines.append("== follow-ups: with their history vs asked alone ==")
        for name in ("recall@5", "mrr", "must_mention"):
            lines.append(f"{name:<22}{cell(with_history.get(name), name):>12}{cell(bare.get(name), name):>12}")
    if metrics.get("llm"):
        lines.append("== LLM backend ==")
        lines.extend(f"{k:<28}{v}" for k, v in metrics["llm"].items())
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="policy-assistant eval", description="Evaluate the assistant on a question set.")
    p.add_argument("--questions", action="append", metavar="FILE",
                   help="question file, JSON lines (default: evals/dev_questions.jsonl); repeat it to run "
                        "further sets, e.g. --questions evals/dev_questions.jsonl --questions evals/check_questions.jsonl: "
                        "each further set is written to OUT/<file stem>/")
    p.add_argument("--compare", metavar="DIR",
                   help="compare with a previous run's output folder (its metrics.json and results.jsonl); "
                        "further question sets are compared with DIR/<file stem>/ when it exists")
    p.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR", help="output folder (default: eval_out/)")
    p.add_argument("--baseline", action="store_true", help="also score the plain LangChain RAG baseline")
    p.add_argument("--check-thresholds", action="store_true",
                   help="exit 1 when a metric crosses its bound in the thresholds file")
    p.add_argument("--thresholds", default=str(DEFAULT_THRESHOLDS), metavar="FILE",
                   help="thresholds file (default: evals/thresholds.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--user-reports", action="store_true",
                   help="also run the user-report eval (evals/user_reports: reports not shipped, as PDF and DOCX)")
    return p


def _extra_dirs(paths: Sequence[str]) -> list[str]:
    """Sub-folder names for the further question sets: the file stem, made unique."""
    names: list[str] = []
    for p in paths:
        stem = Path(p).stem or "questions"
        name, i = stem, 2
        while name in names:
            name, i = f"{stem}_{i}", i + 1
        names.append(name)
    return names


def _print_run(metrics: dict[str, Any], out: Path) -> None:
    print(format_table(metrics))
    if metrics.get("catalogue"):
        print("\n" + format_catalogue(metrics))
    if metrics.get("comparison"):
        from .compare import format_comparison

        print("\n" + format_comparison(metrics["comparison"]))
    print(f"\n{metrics['n_questions']} questions in {metrics['run_seconds']:.1f} s; "
          f"wrote {out / 'results.jsonl'}, {out / 'metrics.json'}, {out / 'report.html'}"
          + (f", {out / 'comparison.json'}" if metrics.get("comparison") else ""))


def main(argv: list[str] | None = None, *, assistant=None) -> int:
    from .compare import CompareError, load_run

    args = build_parser().parse_args(argv)
    files = args.questions or [str(DEFAULT_QUESTIONS)]
    out = Path(args.out)
    subdirs = _extra_dirs(files[1:])
    try:
        thresholds = load_thresholds(args.thresholds) if args.check_thresholds else None
        previous = [None] * len(files)
        if args.compare:
            previous[0] = load_run(args.compare)
            for i, name in enumerate(subdirs, start=1):
                if (Path(args.compare) / name / "metrics.json").is_file():
                    previous[i] = load_run(Path(args.compare) / name)
        if len(files) > 1:  # every file is checked before anything is loaded or run
            from assistant.settings import get_settings

            settings = assistant.settings if assistant is not None else get_settings()
            for f in files:
                load_questions(f, settings)
            if assistant is None:
                from assistant.service import Assistant

                assistant = Assistant(settings, progress=not args.quiet)
        metrics = run_eval(files[0], out, args.baseline, assistant=assistant, progress=not args.quiet,
                           previous=previous[0])
        extra = [
            run_eval(f, out / name, False, assistant=assistant, progress=not args.quiet, previous=prev, catalogue=False)
            for f, name, prev in zip(files[1:], subdirs, previous[1:])
        ]
    except (EvalInputError, CompareError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_run(metrics, out)
    if args.user_reports:  # issue 11: figures on reports that are not shipped, beside the shipped ones
        from assistant.settings import get_settings
        from evals import report as _report
        from evals.user_reports.__main__ import print_table
        from evals.user_reports.__main__ import run as run_user_reports

        print()
        metrics["user_reports"] = run_user_reports(["pdf", "docx"], out / "user_reports", Path(get_settings().data_dir))
        print_table(metrics["user_reports"], metrics["assistant"]["overall"])
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
        _report.rerender(out)
    for f, name, m in zip(files[1:], subdirs, extra):
        print(f"\n\n######## {f} ({m['n_questions']} questions) ########")
        _print_run(m, out / name)
    if thresholds is not None:
        bad, notes = check_thresholds(metrics["assistant"]["overall"], thresholds)
        for n in notes:
            print(f"note: {n}")
        if bad:
            print(f"\nFAILED: {len(bad)} metric(s) crossed their bound in {args.thresholds}:")
            for b in bad:
                print(f"  - {b}")
            return 1
        print(f"\nthresholds OK ({args.thresholds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
