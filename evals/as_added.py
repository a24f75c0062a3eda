"""Each shipped report added back as a user would add it: how well the assistant does on a report
that nothing was written for, measured with the questions we have for that report.

    python -m evals.as_added [--reports 000,003] [--out eval_out/as_added]

For each report: a copy of the data folder is given a copy of the knowledge base without that report
(its manifest entry and its text), and the report's text is then added under a plain file name
(``<stem>.txt``) the way ``policy-assistant ingest`` adds a file (``changes.ReportChanges``, no
--title). The added report so has none of what was written for the shipped one: no aliases ("the
OSCE study"), no manifest title, authors or publisher, no catalogue overrides. The dev and blind
questions whose gold lies in that report are answered on the shipped index and on this one (gold
spans moved to the added file: a .txt keeps its lines) with ``evals.runner``, and the figures are
printed side by side. Stored vectors are reused, so each report takes about half a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from evals.sandbox import copy_data, run_questions

HERE = Path(__file__).resolve().parent
QUESTION_FILES = (HERE / "dev_questions.jsonl", HERE / "check_questions.jsonl")
# the plain file names a user might give the reports' texts (no alias or manifest name in them)
ADDED_NAMES = {"000": "origin_countries", "001": "coordination_study", "002": "local_governments_chapter",
               "003": "city_governance", "004": "cities_eu_policy"}
KEYS = ("n", "recall@5", "mrr", "must_mention", "citation_precision", "lead_mention", "false_refusal_rate")


def questions_for(source: str, added: str, files=QUESTION_FILES) -> tuple[list[dict], list[dict]]:
    """The questions with gold in ``source``: as they are, and with that gold moved to ``added``."""
    shipped, moved = [], []
    for f in files:
        for line in Path(f).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            q = json.loads(line)
            if not any(g["source"] == source for g in q.get("gold") or []):
                continue
            shipped.append(q)
            moved.append(dict(q, gold=[dict(g, source=added) if g["source"] == source else g for g in q["gold"]]))
    return shipped, moved


def prepare(source: str, added: str, data_dir: Path, kb_dir: Path, work: Path) -> Path:
    """A data folder whose knowledge base lacks ``source`` and which has its text added as ``added``."""
    from assistant.changes import ReportChanges
    from assistant.index import IndexManager
    from assistant.ingest import convert
    from assistant.settings import Settings

    kb = work / "knowledge_base"
    shutil.copytree(kb_dir, kb, ignore=shutil.ignore_patterns(source))
    manifest = json.loads((kb / "manifest.json").read_text(encoding="utf-8"))
    entries = manifest if isinstance(manifest, list) else manifest["reports"]
    entries[:] = [r for r in entries if r["source"] != source]
    (kb / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    data = copy_data(data_dir, work / "data")
    settings = Settings(data_dir=data, knowledge_base_dir=kb)
    IndexManager(settings).ensure(progress=False)  # the shipped reports but this one
    text = work / added
    shutil.copyfile(kb_dir / "sources" / source, text)
    with ReportChanges(settings, command="evals.as_added") as tx:
        tx.add(text, convert(text, settings))
        tx.apply(progress=False)
    return data


def answer(questions: list[dict], out: Path, env: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    qfile = out / "questions.jsonl"
    qfile.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in questions) + "\n", encoding="utf-8")
    return run_questions(qfile, out, env, KEYS)


def run(reports: list[str], out: Path, data_dir: Path, kb_dir: Path) -> dict:
    sources = {p.name[:3]: p.name for p in sorted((kb_dir / "sources").glob("*.txt"))}
    result = {}
    for r in reports:
        source, added = sources[r], f"{ADDED_NAMES.get(r, 'report_' + r)}.txt"
        shipped_qs, moved_qs = questions_for(source, added)
        work = Path(tempfile.mkdtemp(prefix="as_added_"))
        try:
            data = prepare(source, added, data_dir, kb_dir, work)
            env = dict(os.environ, POLICY_ASSISTANT_DATA_DIR=str(data), POLICY_ASSISTANT_KNOWLEDGE_BASE_DIR=str(work / "knowledge_base"))
            result[r] = {
                "source": source, "added_as": added,
                "shipped": answer(shipped_qs, out / r / "shipped", dict(os.environ)),
                "added": answer(moved_qs, out / r / "added", env),
            }
        finally:
            shutil.rmtree(work, ignore_errors=True)
    (out / "as_added.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def print_table(result: dict) -> None:
    print("== each shipped report added back as a user report (no aliases, no manifest entry) ==")
    print(f"{'report':8}{'metric':22}{'shipped':>10}{'added':>10}")
    for r, row in result.items():
        for k in KEYS:
            a, b = row["shipped"].get(k), row["added"].get(k)
            fmt = (lambda v: f"{v:>10}") if k == "n" else (lambda v: f"{v:>10.3f}" if isinstance(v, (int, float)) else f"{'-':>10}")
            print(f"{r:8}{k:22}{fmt(a)}{fmt(b)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", default="000,001,002,003,004", help="the shipped reports, by the number their file starts with")
    ap.add_argument("--out", default="eval_out/as_added")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from assistant.index import IndexManager
    from assistant.settings import get_settings

    settings = get_settings()
    IndexManager(settings).ensure(progress=False)
    result = run([r.strip() for r in args.reports.split(",") if r.strip()], Path(args.out), settings.data_dir,
                 settings.knowledge_base_dir)
    print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
