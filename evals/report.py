"""One self-contained HTML report: inline CSS, plots as base64 PNG, every user-controlled string
escaped (questions, answers, passages and gold text may contain anything)."""

from __future__ import annotations

import base64
import datetime as _dt
import io
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from .metrics import COUNT_METRICS, METRICS, format_metric, overlaps

LABELS = {
    "recall@5": "Recall@5",
    "recall@10": "Recall@10",
    "mrr": "MRR",
    "ndcg@10": "nDCG@10",
    "citation_precision": "Citation precision",
    "citation_recall": "Citation recall",
    "must_mention": "Must-mention coverage",
    "lead_mention": "Lead holds a must-mention fact",
    "groundedness": "Groundedness",
    "refusal_accuracy": "Refusal accuracy (unanswerable)",
    "false_refusal_rate": "False-refusal rate (answerable)",
    "followup_recall@5": "Follow-up Recall@5",
    "latency_p50_ms": "Latency p50 (ms)",
    "latency_p95_ms": "Latency p95 (ms)",
    "artifacts": "Artifacts (count, answered)",
    "answers_with_artifacts": "Answers with artifacts (share)",
    "answer_words_median": "Answer words, median",
    "answer_words_p90": "Answer words, p90",
    "bullets_median": "Statements per answer, median",
    "bullets_max": "Statements per answer, max",
}

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1d2329;background:#fafbfc;font-size:14px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:6px 0}
.meta{color:#57606a;font-size:12.5px}
table{border-collapse:collapse;background:#fff;margin:6px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f0f3f6} td.name,th.name{text-align:left}
.better{color:#116329;background:#dafbe1;font-weight:600} .worse{color:#a40e26;background:#ffebe9;font-weight:600}
.same{color:#57606a}
.grid{display:flex;flex-wrap:wrap;gap:14px}
.grid>div{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px}
img{max-width:100%;border:1px solid #d0d7de;background:#fff}
details.q{background:#fff;border:1px solid #d0d7de;border-left:5px solid #2da44e;border-radius:4px;margin:6px 0;padding:4px 10px}
details.q.fail{border-left-color:#cf222e}
details.q>summary{cursor:pointer;padding:3px 0}
.badge{display:inline-block;border-radius:10px;padding:0 7px;font-size:12px;margin-right:4px;background:#eaeef2}
.badge.fail{background:#ffebe9;color:#a40e26} .badge.ok{background:#dafbe1;color:#116329}
.answer{white-space:pre-wrap;background:#f6f8fa;border:1px solid #e1e4e8;padding:6px 8px;border-radius:4px;font-size:13px}
pre.gold{white-space:pre-wrap;background:#fff8c5;border:1px solid #eac54f;padding:6px 8px;max-height:220px;overflow:auto;font-size:12.5px;margin:3px 0 8px}
ul.tight{margin:2px 0 6px;padding-left:22px} .k{color:#57606a;font-size:12.5px}
.hit{color:#116329;font-weight:600} .miss{color:#a40e26;font-weight:600}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _fmt(value: Any, name: str) -> str:
    return format_metric(value, name, missing="–")


def _delta_cell(ours: Any, base: Any, name: str) -> str:
    if ours is None or base is None:
        return '<td class="same">–</td>'
    d = ours - base
    higher_better = METRICS.get(name, "lower" if name.startswith("artifacts:") else "higher") == "higher"
    tol = 0.5 if name.endswith("_ms") else 0.05 if name in COUNT_METRICS or name.startswith("artifacts:") else 0.0005
    cls = "same" if abs(d) < tol else ("better" if (d > 0) == higher_better else "worse")
    txt = ("+" if d >= 0 else "-") + format_metric(abs(d), name)
    return f'<td class="{cls}">{_e(txt)}</td>'


def metrics_table(ours: dict[str, Any], base: dict[str, Any] | None, labels: tuple[str, str] = ("this project", "baseline")) -> str:
    """Metrics of ``ours`` with ``base`` beside them and the difference coloured by direction."""
    head = f'<tr><th class="name">metric</th><th>{_e(labels[0])}</th>'
    head += f"<th>{_e(labels[1])}</th><th>Δ</th></tr>" if base is not None else "</tr>"
    rows = [head]
    for name in METRICS:
        o = ours.get(name)
        b = base.get(name) if base is not None else None
        if o is None and b is None:
            continue
        r = f'<tr><td class="name">{_e(LABELS.get(name, name))}</td><td>{_fmt(o, name)}</td>'
        if base is not None:
            r += f"<td>{_fmt(b, name)}</td>{_delta_cell(o, b, name)}"
        rows.append(r + "</tr>")
    extra = f'<tr><td class="name">questions / failures</td><td>{ours["n"]} / {ours["failures"]}</td>'
    if base is not None:
        extra += f'<td>{base["n"]} / {base["failures"]}</td><td></td>'
    rows.append(extra + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


# --------------------------------------------------------------------------- plots


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def per_type_plot(metrics: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = ["recall@5", "citation_recall", "must_mention"]
    systems = [s for s in ("assistant", "baseline") if s in metrics]
    types = [t for t, m in metrics["assistant"]["by_type"].items() if any(m.get(n) is not None for n in names)]
    fig, axes = plt.subplots(1, len(names), figsize=(15, 3.8), sharey=True)
    x = np.arange(len(types))
    width = 0.8 / len(systems)
    colors = {"assistant": "#0969da", "baseline": "#bf8700"}
    for ax, name in zip(axes, names):
        for j, s in enumerate(systems):
            vals = [metrics[s]["by_type"].get(t, {}).get(name) for t in types]
            ax.bar(x + (j - (len(systems) - 1) / 2) * width, [v or 0 for v in vals], width,
                   label="this project" if s == "assistant" else "baseline", color=colors[s])
        ax.set_title(LABELS[name])
        ax.set_xticks(x)
        ax.set_xticklabels(types, rotation=25, ha="right")
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(systems), bbox_to_anchor=(0.5, 1.06), frameon=False)
    return _png(fig)


def latency_plot(rows_by_system: dict[str, Sequence[dict[str, Any]]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 3.5))
    data = {s: [r["latency_ms"] for r in rows if r.get("latency_ms")] for s, rows in rows_by_system.items()}
    allv = [v for vs in data.values() for v in vs]
    if allv:
        lo, hi = max(min(allv), 0.1), max(allv)
        bins = np.geomspace(lo, hi * 1.0001, 30) if hi > lo else 10
        colors = {"assistant": "#0969da", "baseline": "#bf8700"}
        for s, vs in data.items():
            ax.hist(vs, bins=bins, alpha=0.6, label="this project" if s == "assistant" else "baseline", color=colors[s])
        if hi > lo:
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("total time per question (ms, log scale)")
    ax.set_ylabel("questions")
    ax.set_title("Latency")
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(fig)


# --------------------------------------------------------------------------- drill-down


def _span(p: dict[str, Any]) -> str:
    return f"{p['source']}:{p['start_line']}-{p['end_line']}"


def _passage_list(passages: Sequence[dict[str, Any]], gold: Sequence[dict[str, Any]], numbered: bool) -> str:
    if not passages:
        return '<p class="k">none</p>'
    items = []
    for i, p in enumerate(passages, start=1):
        hit = any(overlaps(p, g) for g in gold)
        mark = '<span class="hit">✓ gold</span>' if hit else ""
        label = f"[{p['n']}] " if numbered and "n" in p else f"{i}. "
        section = f' <span class="k">— {_e(p.get("section"))}</span>' if p.get("section") else ""
        score = f' <span class="k">score {p["score"]:.3f}</span>' if "score" in p and p.get("score") is not None else ""
        items.append(f"<li>{_e(label)}<code>{_e(_span(p))}</code>{section}{score} {mark}</li>")
    return '<ul class="tight">' + "".join(items) + "</ul>"


def _scores_line(row: dict[str, Any]) -> str:
    parts = []
    for name in ("recall@5", "mrr", "citation_precision", "citation_recall", "must_mention", "lead_mention", "groundedness"):
        if row.get(name) is not None:
            parts.append(f"{LABELS[name]} {row[name]:.2f}")
    parts.append(f"evidence {row['evidence']:.3f}" if row.get("evidence") is not None else "")
    if row.get("latency_ms") is not None:
        parts.append(f"{row['latency_ms']:.0f} ms")
    if row.get("words") is not None:
        parts.append(f"{row['words']} words, {row.get('bullets')} statements")
    if row.get("artifacts"):
        parts.append(f"{len(row['artifacts'])} artifact{'s' if len(row['artifacts']) > 1 else ''}")
    return " · ".join(_e(p) for p in parts if p)


def question_block(q, answer, row, gold_texts, b_answer=None, b_row=None) -> str:
    failed = row["failed"]
    badges = "".join(f'<span class="badge fail">{_e(r)}</span>' for r in row["fail_reasons"]) or '<span class="badge ok">ok</span>'
    if row.get("artifacts"):
        badges += f'<span class="badge">{len(row["artifacts"])} artifact{"s" if len(row["artifacts"]) > 1 else ""}</span>'
    refused = '<span class="badge">refused: ' + _e(row.get("refusal_reason")) + "</span>" if row["refused"] else ""
    out = [f'<details class="q{" fail" if failed else ""}" id="{_e(q["id"])}"{" open" if failed else ""}>']
    out.append(f'<summary><b>{_e(q["id"])}</b> <span class="badge">{_e(q["type"])}</span>{badges}{refused} {_e(q["question"])}</summary>')
    if q.get("history"):
        out.append('<div class="k">History (oldest first):</div><ul class="tight">' + "".join(f"<li>{_e(h)}</li>" for h in q["history"]) + "</ul>")
    sq = answer.get("standalone_question")
    if sq and sq.strip() != (answer.get("question") or q["question"]).strip():
        out.append(f'<div class="k">Standalone question (as retrieval saw it): {_e(sq)}</div>')
    out.append(f'<div class="k">{_scores_line(row)}</div>')
    out.append(f'<h3>Answer</h3><div class="answer">{_e(answer.get("answer"))}</div>')
    if row.get("missed"):
        out.append('<div>Missed must-mention: ' + ", ".join(f'<span class="miss">{_e(m)}</span>' for m in row["missed"]) + "</div>")
    elif q.get("must_mention"):
        out.append('<div class="k">All must-mention items present: ' + _e(", ".join(q["must_mention"])) + "</div>")
    if row.get("artifacts"):
        out.append('<div class="k">Artifacts:</div><ul class="tight">'
                   + "".join(f'<li><span class="badge">{_e(a["kind"])}</span> {_e(a["text"])}</li>' for a in row["artifacts"])
                   + "</ul>")
    if row.get("unsupported"):
        out.append('<div class="k">Statements not supported by their cited passage:</div><ul class="tight">'
                   + "".join(f"<li>{_e(u)}</li>" for u in row["unsupported"]) + "</ul>")
    gold = q.get("gold") or []
    out.append("<h3>Citations</h3>" + _passage_list(answer.get("citations") or [], gold, numbered=True))
    if gold:
        out.append("<h3>Gold spans</h3>")
        for g, text in zip(gold, gold_texts):
            out.append(f"<div><code>{_e(_span(g))}</code></div><pre class=\"gold\">{_e(text)}</pre>")
    elif q.get("notes"):
        out.append(f'<div class="k">Notes: {_e(q["notes"])}</div>')
    out.append("<details><summary>Retrieved passages</summary>" + _passage_list(answer.get("retrieved") or [], gold, numbered=False) + "</details>")
    if b_answer is not None and b_row is not None:
        b_missed = f' · missed: {_e(", ".join(b_row["missed"]))}' if b_row.get("missed") else ""
        out.append(f'<details><summary>Baseline: {_scores_line(b_row)}{b_missed}</summary>'
                   f'<div class="answer">{_e(b_answer.get("answer"))}</div>'
                   + _passage_list(b_answer.get("retrieved") or [], gold, numbered=False) + "</details>")
    out.append("</details>")
    return "".join(out)


# --------------------------------------------------------------------------- artifacts, comparison


def artifacts_section(rows: Sequence[dict[str, Any]], overall: dict[str, Any]) -> str:
    kinds = overall.get("artifact_kinds")
    if kinds is None:
        return ""
    out = ["<h2>Answer artifacts</h2>",
           '<p class="k">Checked on every answered question\'s statements (lead and bullets): dangling connective, '
           "lead-in without its items, reference line, meta sentence, spacing, glued heading, fragment start "
           "(see evals/README.md for the heuristics and their limits).</p>",
           "<table><tr>" + "".join(f"<th>{_e(k)}</th>" for k in kinds) + "<th>total</th></tr><tr>"
           + "".join(f"<td>{v}</td>" for v in kinds.values()) + f"<td>{sum(kinds.values())}</td></tr></table>"]
    items = [(r["id"], a) for r in rows for a in (r.get("artifacts") or [])]
    if items:
        out.append('<ul class="tight">' + "".join(
            f'<li><a href="#{_e(qid)}">{_e(qid)}</a> <span class="badge">{_e(a["kind"])}</span> {_e(a["text"])}</li>'
            for qid, a in items) + "</ul>")
    return "".join(out)


def comparison_section(cmp: dict[str, Any]) -> str:
    from .compare import describe_changes

    out = [f"<h2>Compared with {_e(cmp['previous'])}</h2>",
           f'<p class="k">{cmp["n_common"]} questions in both runs, {len(cmp["only_current"])} only in this run'
           f'{" (" + _e(", ".join(cmp["only_current"])) + ")" if cmp["only_current"] else ""}, '
           f'{len(cmp["only_previous"])} only in the previous one'
           f'{" (" + _e(", ".join(cmp["only_previous"])) + ")" if cmp["only_previous"] else ""}; '
           "both runs aggregated over the shared questions. Latency is shown, not judged."
           + (" <b>No change.</b>" if cmp["no_change"] else "") + "</p>"]

    def table(entries: Sequence[dict[str, Any]]) -> str:
        rows = ['<tr><th class="name">metric</th><th>previous</th><th>current</th><th>Δ</th></tr>']
        for m in entries:
            name = m["metric"]
            cell = _delta_cell(m["current"], m["previous"], name) if m["verdict"] != "timing" else (
                f'<td class="same">{_e(_delta_text(m))}</td>')
            rows.append(f'<tr><td class="name">{_e(LABELS.get(name, name))}</td><td>{_fmt(m["previous"], name)}</td>'
                        f'<td>{_fmt(m["current"], name)}</td>{cell}</tr>')
        return "<table>" + "".join(rows) + "</table>"

    out.append("<h3>Overall</h3>" + table(cmp["groups"]["overall"]["metrics"]))
    out.append('<div class="grid">')
    for g, data in cmp["groups"].items():
        if g != "overall":
            label = g.replace("split:", "") + (" half" if g.startswith("split:") else "")
            out.append(f"<div><h3>{_e(label)} (n={data['n']})</h3>{table(data['metrics'])}</div>")
    out.append("</div>")
    for title, items, only, cls in (("Questions that got worse (worst first)", cmp["worse"], "worse", "miss"),
                                    ("Questions that got better", cmp["better"], "better", "hit")):
        out.append(f"<h3>{_e(title)}: {len(items)}</h3>")
        if items:
            out.append('<ul class="tight">' + "".join(
                f'<li><a href="#{_e(q["id"])}">{_e(q["id"])}</a> <span class="badge">{_e(q["type"])}</span> '
                f'<span class="{cls}">{_e(describe_changes(q, only))}</span></li>' for q in items) + "</ul>")
    return "".join(out)


def _delta_text(m: dict[str, Any]) -> str:
    d = m["delta"]
    return "–" if d is None else ("+" if d >= 0 else "-") + format_metric(abs(d), m["metric"])


# --------------------------------------------------------------------------- page


def render(
    questions: Sequence[dict[str, Any]],
    answers: Sequence[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    metrics: dict[str, Any],
    baseline_answers: Sequence[dict[str, Any]] | None = None,
    baseline_rows: Sequence[dict[str, Any]] | None = None,
    gold_texts: Sequence[Sequence[str]] | None = None,
    comparison: dict[str, Any] | None = None,
) -> str:
    has_base = baseline_rows is not None and "baseline" in metrics
    ours, base = metrics["assistant"], metrics.get("baseline") if has_base else None
    gold_texts = gold_texts or [[""] * len(q.get("gold") or []) for q in questions]
    html = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            "<title>Integration Policy Assistant — evaluation report</title>",
            f"<style>{CSS}</style></head><body>"]
    html.append("<h1>Integration Policy Assistant — evaluation report</h1>")
    s = metrics.get("settings", {})
    html.append(
        f'<div class="meta">{_e(metrics.get("questions_file"))} · {metrics["n_questions"]} questions · '
        f'{_e(", ".join(f"{t} {n}" for t, n in metrics.get("types", {}).items()))} · run {metrics.get("run_seconds", 0):.1f} s · '
        f'{_e(_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))}<br>'
        f'model {_e(s.get("embedding_model"))} · top_k {_e(s.get("top_k"))} · refusal threshold {_e(s.get("refusal_threshold"))}'
        + (" · baseline: LangChain RecursiveCharacterTextSplitter(1000/200) + Chroma top-8, answer = top-3 chunks" if has_base else "")
        + "</div>"
    )
    html.append("<h2>Summary (all questions)</h2>" + metrics_table(ours["overall"], base["overall"] if base else None))
    if metrics.get("user_reports"):  # issue 11: reports not shipped (evals/user_reports), beside the shipped ones
        from .user_reports.__main__ import html_table

        html.append("<h2>Reports not shipped (user-report eval)</h2>" + html_table(metrics["user_reports"], ours["overall"]))
    html.append("<h2>By question type</h2><div class=\"grid\">")
    for t, m in ours["by_type"].items():
        html.append(f"<div><h3>{_e(t)} (n={m['n']})</h3>{metrics_table(m, base['by_type'].get(t) if base else None)}</div>")
    html.append("</div>")
    if ours.get("split"):
        tune, held = ours["split"]["tuning"], ours["split"]["heldout"]
        html.append(f"<h2>Tuning half (n={tune['n']}) and held-out half (n={held['n']})</h2>"
                    '<p class="k">Held out: questions whose number is divisible by 3; nothing is fitted or tuned on them. '
                    "Δ = held-out − tuning, coloured by the metric's direction: a large worse Δ hints at overfitting.</p>"
                    + metrics_table(held, tune, labels=("held-out", "tuning")))
    html.append(artifacts_section(rows, ours["overall"]))
    if comparison:
        html.append(comparison_section(comparison))
    html.append("<h2>Plots</h2>")
    html.append(f'<img alt="per-type metrics" src="data:image/png;base64,{per_type_plot(metrics)}">')
    lat_rows = {"assistant": rows, **({"baseline": baseline_rows} if has_base else {})}
    html.append(f'<p><img alt="latency histogram" src="data:image/png;base64,{latency_plot(lat_rows)}"></p>')

    order = sorted(range(len(questions)), key=lambda i: (not rows[i]["failed"], i))
    n_fail = sum(1 for r in rows if r["failed"])
    html.append(f"<h2>Questions ({n_fail} failing first, then {len(rows) - n_fail} passing)</h2>")
    html.append('<p class="k">A question fails when it is answerable and Recall@5 = 0 or must-mention coverage &lt; 0.5 '
                "or it was refused, or when it is unanswerable and was answered. ✓ gold marks a passage that overlaps a gold span.</p>")
    for i in order:
        html.append(question_block(
            questions[i], answers[i], rows[i], gold_texts[i],
            baseline_answers[i] if has_base and baseline_answers else None,
            baseline_rows[i] if has_base else None,
        ))
    html.append("</body></html>")
    return "\n".join(html)


def write_report(path: str | Path, **kwargs: Any) -> Path:
    path = Path(path)
    path.write_text(render(**kwargs), encoding="utf-8")
    return path


def rerender(out_dir: str | Path, questions_path: str | Path | None = None) -> Path:
    """Rebuild ``out_dir/report.html`` from the saved results.jsonl / metrics.json (no re-run)."""
    import json

    from assistant.settings import get_settings

    from .runner import gold_text, load_questions

    out = Path(out_dir)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    settings = get_settings()
    questions = load_questions(questions_path or metrics["questions_file"], settings)

    def read(name: str) -> list[dict[str, Any]] | None:
        path = out / name
        if not path.exists():
            return None
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    answers = read("results.jsonl")
    b_answers = read("baseline_results.jsonl")
    comparison = json.loads((out / "comparison.json").read_text(encoding="utf-8")) if (out / "comparison.json").exists() else None
    rows = metrics["per_question"]["assistant"]
    b_rows = metrics["per_question"].get("baseline")
    return write_report(
        out / "report.html", questions=questions, answers=answers, rows=rows, metrics=metrics,
        baseline_answers=b_answers if b_rows else None, baseline_rows=b_rows,
        gold_texts=[[gold_text(g, settings) for g in q["gold"]] for q in questions],
        comparison=comparison,
    )


if __name__ == "__main__":
    import sys

    print(rerender(sys.argv[1] if len(sys.argv) > 1 else "eval_out"))
