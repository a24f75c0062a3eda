"""User-report evaluation: reports that are not shipped, ingested as a user would, then questioned.

    python -m evals.user_reports [--out DIR] [--formats pdf,docx] [--shipped METRICS_JSON] [--check]

For each format, a copy of the data folder (its index included) gets the fixtures of
``fixtures/`` added with ``add_user_report`` (no --title), the index is updated, and then:

- ingestion checks: the title found without --title, the share of the reports' passages with a
  section, the passages that still contain running header or footer text, pages on every passage
  of a PDF, and the time the ingest took;
- the questions of ``questions.jsonl`` go through ``evals.runner`` (the same path as ``ask``): gold
  spans are the line spans of ``gold_quotes`` in *that format's* ingested text (PDF and DOCX
  files break lines differently), ``must_mention`` items and on-topic questions the reports do not
  answer (refusal accuracy).

Writes ``DIR/user_reports.json`` (and each run's results under ``DIR/<format>/``) and prints a table
beside the shipped reports' figures (``--shipped eval_out/metrics.json``). ``--check`` only
verifies that every gold quote is found in the ingested text of every format.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from evals.sandbox import copy_data, run_questions

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
QUESTIONS = HERE / "questions.jsonl"
# what the fixtures' title pages say (checked against the title found without --title)
TITLES = {
    "eu_integration_action": "Integration and inclusion across levels of government in the EU",
    "eesc_civil_society_local": "Civil society, local and regional authorities and the integration of immigrants",
}
# running headers and footers printed on the PDF pages (build_fixtures.META)
FURNITURE = [
    "Integration and inclusion across levels of government",
    "European Union institutional texts on integration",
    "Civil society, local and regional authorities",
    "European Economic and Social Committee and Committee of the Regions",
]


def quote_span(lines: list[str], quote: str) -> tuple[int, int] | None:
    """1-based (start, end) lines of the text where ``quote`` stands (tokens normalised as for
    citations: hyphenation, markup and whitespace repaired)."""
    from assistant.cleaning import match_tokens

    tokens: list[tuple[str, int]] = []
    for n, line in enumerate(lines, start=1):
        tokens += [(t, n) for t in match_tokens(line)]
    words = [t for t, _ in tokens]
    q = match_tokens(quote)
    if not q:
        return None
    # hyphenated words broken across lines are two tokens in the line stream: compare joined text
    joined = " ".join(words)
    target = " ".join(q)
    at = joined.find(target)
    if at < 0:
        # a word split over a line break ("immigrant-" / "support"): retry without token boundaries
        flat, owners = "", []
        for t, n in tokens:
            flat += t
            owners += [n] * len(t)
        at = flat.find("".join(q))
        if at < 0:
            return None
        return owners[at], owners[at + len("".join(q)) - 1]
    start_tok = joined[:at].count(" ")
    end_tok = start_tok + len(q) - 1
    return tokens[start_tok][1], tokens[end_tok][1]


def _questions() -> list[dict]:
    return [json.loads(x) for x in QUESTIONS.read_text(encoding="utf-8").splitlines() if x.strip()]


def prepare(fmt: str, data_dir: Path, work: Path) -> dict:
    """Copy the data folder, ingest the fixtures of one format; ingestion figures."""
    from assistant.changes import ReportChanges
    from assistant.index import IndexManager
    from assistant.ingest import convert
    from assistant.settings import Settings

    dst = work / f"data_{fmt}"
    if dst.exists():
        shutil.rmtree(dst)
    copy_data(data_dir, dst)
    settings = Settings(data_dir=dst)
    t0 = time.perf_counter()
    with ReportChanges(settings, command="evals.user_reports") as tx:  # as `policy-assistant ingest` does
        metas = [tx.add(f, convert(f, settings))[0] for f in sorted(FIXTURES.glob(f"*.{fmt}"))]
        tx.apply(progress=False)
    manager = IndexManager(settings)
    ingest_s = time.perf_counter() - t0
    index = manager.ensure(progress=False)
    sources = {m.source for m in metas}
    passages = [p for p in index.passages if p.source in sources]
    leaks = [p.passage_id for p in passages if any(f.lower() in p.text.lower() for f in FURNITURE)]
    return {
        "data_dir": str(dst),
        "reports": {m.source: {"title": m.title, "title_ok": m.title == TITLES.get(Path(m.source).stem), "year": m.year,
                               "short_citation": m.short_citation} for m in metas},
        "passages": len(passages),
        "passages_with_section": sum(1 for p in passages if p.section) / max(len(passages), 1),
        "passages_with_furniture": len(leaks),
        "passages_with_page": sum(1 for p in passages if p.page) / max(len(passages), 1),
        "ingest_seconds": round(ingest_s, 2),
    }


def question_file(fmt: str, data_dir: Path, out: Path) -> tuple[Path, list[str]]:
    """The questions with gold spans resolved in this format's ingested text; problems found."""
    problems = []
    rows = []
    for q in _questions():
        source = f"{q['report']}.txt"
        lines = (data_dir / "sources" / source).read_text(encoding="utf-8").splitlines()
        gold = []
        for quote in q.get("gold_quotes", []):
            span = quote_span(lines, quote)
            if span is None:
                problems.append(f"{fmt} {q['id']}: quote not found: {quote!r}")
                continue
            gold.append({"source": source, "start_line": span[0], "end_line": span[1]})
        rows.append({
            "id": q["id"], "type": q["type"], "question": q["question"], "history": q.get("history", []),
            "answerable": q.get("answerable", q["type"] != "unanswerable"), "gold": gold,
            "must_mention": q.get("must_mention", []), "notes": q.get("notes", ""),
        })
    path = out / f"questions_{fmt}.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path, problems


def run(formats: list[str], out: Path, data_dir: Path, check_only: bool = False, count_check: bool = False) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="user_reports_"))
    result: dict = {"formats": {}}
    try:
        for fmt in formats:
            info = prepare(fmt, data_dir, work)
            qfile, problems = question_file(fmt, Path(info["data_dir"]), out)
            info["gold_problems"] = problems
            if not check_only:
                env = dict(os.environ, POLICY_ASSISTANT_DATA_DIR=info["data_dir"])
                if count_check:
                    env["POLICY_ASSISTANT_GATE__COUNT_CHECK"] = "true"
                info["metrics"] = run_questions(qfile, out / fmt, env, (
                    "n", "recall@5", "recall@10", "mrr", "must_mention", "citation_precision", "refusal_accuracy",
                    "false_refusal_rate", "failures"))
            info.pop("data_dir")
            result["formats"][fmt] = info
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "user_reports.json").write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return result


def print_table(result: dict, shipped: dict | None = None) -> None:
    fmts = list(result["formats"])
    cols = fmts + (["shipped"] if shipped else [])
    print("== user-report eval (reports not shipped, ingested without --title) ==")
    print(f"{'metric':28}" + "".join(f"{c:>10}" for c in cols))
    keys = ["recall@5", "recall@10", "mrr", "must_mention", "refusal_accuracy", "false_refusal_rate"]
    for k in keys:
        row = [result["formats"][f].get("metrics", {}).get(k) for f in fmts]
        if shipped:
            row.append(shipped.get(k))
        print(f"{k:28}" + "".join(f"{v:>10.3f}" if isinstance(v, (int, float)) else f"{'-':>10}" for v in row))
    for k in ("passages", "passages_with_section", "passages_with_furniture", "passages_with_page", "ingest_seconds"):
        row = [result["formats"][f].get(k) for f in fmts]
        print(f"{k:28}" + "".join(f"{v:>10.3f}" if isinstance(v, float) else f"{v!s:>10}" for v in row))
    for f in fmts:
        for src, r in result["formats"][f]["reports"].items():
            print(f"  {f}: {src}: title {'ok' if r['title_ok'] else 'WRONG'} ({r['title']!r}), cited as {r['short_citation']!r}")
        for p in result["formats"][f].get("gold_problems", []):
            print("  gold problem:", p)


def html_table(result: dict, shipped: dict | None = None) -> str:
    """The figures as an HTML table for report.html."""
    from html import escape

    fmts = list(result["formats"])
    cols = fmts + (["shipped"] if shipped else [])
    rows = ["<table><tr><th>metric</th>" + "".join(f"<th>{escape(c)}</th>" for c in cols) + "</tr>"]
    for k in ("recall@5", "must_mention", "refusal_accuracy", "false_refusal_rate"):
        vals = [result["formats"][f].get("metrics", {}).get(k) for f in fmts] + ([shipped.get(k)] if shipped else [])
        rows.append(f"<tr><td>{k}</td>" + "".join(f"<td>{v:.3f}</td>" if isinstance(v, (int, float)) else "<td>-</td>" for v in vals) + "</tr>")
    for k in ("passages_with_section", "passages_with_furniture", "passages_with_page", "ingest_seconds"):
        vals = [result["formats"][f].get(k) for f in fmts]
        rows.append(f"<tr><td>{k}</td>" + "".join(f"<td>{v:.3f}</td>" if isinstance(v, float) else f"<td>{escape(str(v))}</td>" for v in vals) + "</tr>")
    titles = all(r["title_ok"] for f in fmts for r in result["formats"][f]["reports"].values())
    rows.append("<tr><td>title found without --title</td>" + "".join(
        f"<td>{'yes' if all(r['title_ok'] for r in result['formats'][f]['reports'].values()) else 'no'}</td>" for f in fmts) + "</tr>")
    del titles
    return "\n".join(rows) + "</table>"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="eval_out/user_reports")
    ap.add_argument("--formats", default="pdf,docx")
    ap.add_argument("--shipped", help="metrics.json of a shipped-report eval run, shown beside")
    ap.add_argument("--check", action="store_true", help="only check that every gold quote is found")
    ap.add_argument("--count-check", action="store_true", help="answer with gate.count_check on (see assistant/counted.py)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from assistant.index import IndexManager
    from assistant.settings import get_settings

    settings = get_settings()
    IndexManager(settings).ensure(progress=False)  # the shipped reports' index, built once
    result = run(args.formats.split(","), Path(args.out), Path(settings.data_dir), check_only=args.check,
                 count_check=args.count_check)
    shipped = None
    if args.shipped:
        shipped = json.loads(Path(args.shipped).read_text(encoding="utf-8"))["assistant"]["overall"]
    print_table(result, shipped)
    bad = any(result["formats"][f]["gold_problems"] for f in result["formats"])
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
