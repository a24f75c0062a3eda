"""Extraction quality of the practice/recommendation catalogue against the hand-checked gold list.

    python -m evals.catalogue_eval [--gold FILE] [--json] [--errors]

The gold list (``evals/catalogue_gold.jsonl``) holds, for reports read in full, one JSON object
per practice or recommendation sentence:

    {"source": "003_...txt", "kind": "practice", "level": "destination_city", "required": true,
     "quote": "The city of Munich, for instance, has developed courses"}

- ``quote``: a phrase of the report's sentence (as the index splits it) that locates it;
- ``kind``: ``practice`` (an identifiable actor did or does something concrete), ``recommendation``
  (the report says what someone should do) or ``either``;
- ``level``: the acting (practice) / addressed (recommendation) level, a list when several are
  equally right, ``"any"`` when the sentence names no actor (not counted in level accuracy);
- ``required``: false marks borderline sentences (generic actors, continuations of a practice
  described in the sentence before, reported demands of third parties, action-point titles):
  extracting them is neither rewarded nor penalised.

Scope: body, summary and recommendation sections (footnotes are not catalogued).

Matching: a record matches a gold entry of the same report when the quote stands in the record's
statement (normalised tokens) and the kinds agree.  Precision = matched records / records of the
gold reports; recall = matched required entries / required entries; level accuracy = share of
matched required entries (level not "any") whose record level is one of the gold levels.  The
figures are reported for the extraction alone and with the curator's overrides applied.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_GOLD = EVALS_DIR / "catalogue_gold.jsonl"


def load_gold(path: str | Path = DEFAULT_GOLD) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        obj = json.loads(line)
        for key in ("source", "kind", "quote"):
            if key not in obj:
                raise ValueError(f"{path}:{n}: missing {key!r}")
        if obj["kind"] not in ("practice", "recommendation", "either"):
            raise ValueError(f"{path}:{n}: kind must be practice, recommendation or either")
        obj.setdefault("required", True)
        obj.setdefault("level", "any")
        rows.append(obj)
    return rows


def _norm(text: str) -> str:
    from assistant.cleaning import match_tokens

    return " " + " ".join(match_tokens(text)) + " "


def _levels(gold: dict[str, Any]) -> list[str] | None:
    lv = gold.get("level")
    if lv in (None, "any"):
        return None
    return [lv] if isinstance(lv, str) else list(lv)


def evaluate(records: Sequence[Any], gold: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Precision, recall and level accuracy per gold report and overall (records are
    CatalogueRecord objects or dicts with source, kind, level, statement)."""

    def get(r, key):
        return r.get(key) if isinstance(r, dict) else getattr(r, key)

    sources = sorted({g["source"] for g in gold})
    gq = [(g, _norm(g["quote"])) for g in gold]
    per: dict[str, Any] = {}
    totals = {"records": 0, "matched_records": 0, "required": 0, "found": 0, "level_n": 0, "level_ok": 0}
    errors: dict[str, list[dict[str, Any]]] = {"false_positives": [], "missed": [], "wrong_kind": [], "wrong_level": []}
    for src in sources:
        recs = [r for r in records if get(r, "source") == src]
        golds = [(g, q) for g, q in gq if g["source"] == src]
        matched_gold: dict[int, Any] = {}
        n_matched_records = 0
        for r in recs:
            stmt = _norm(get(r, "statement") or "")
            hit = None
            kind_clash = None
            for gi, (g, q) in enumerate(golds):
                if q in stmt:
                    if g["kind"] in ("either", get(r, "kind")):
                        hit = gi
                        if g["required"]:
                            break
                    else:
                        kind_clash = g
            if hit is None:
                errors["wrong_kind" if kind_clash else "false_positives"].append(
                    {"source": src, "kind": get(r, "kind"), "level": get(r, "level"), "statement": get(r, "statement"),
                     **({"gold_kind": kind_clash["kind"]} if kind_clash else {})}
                )
                continue
            n_matched_records += 1
            matched_gold.setdefault(hit, r)
        required = [(gi, g) for gi, (g, _) in enumerate(golds) if g["required"]]
        found = [(gi, g) for gi, g in required if gi in matched_gold]
        for gi, g in required:
            if gi not in matched_gold:
                errors["missed"].append({"source": src, "kind": g["kind"], "level": g.get("level"), "quote": g["quote"]})
        level_n = level_ok = 0
        for gi, g in found:
            want = _levels(g)
            if want is None:
                continue
            level_n += 1
            got = get(matched_gold[gi], "level")
            if got in want:
                level_ok += 1
            else:
                errors["wrong_level"].append({"source": src, "quote": g["quote"], "gold": want, "got": got})
        per[src] = {
            "records": len(recs),
            "precision": n_matched_records / len(recs) if recs else None,
            "recall": len(found) / len(required) if required else None,
            "level_accuracy": level_ok / level_n if level_n else None,
            "required": len(required),
            "found": len(found),
        }
        totals["records"] += len(recs)
        totals["matched_records"] += n_matched_records
        totals["required"] += len(required)
        totals["found"] += len(found)
        totals["level_n"] += level_n
        totals["level_ok"] += level_ok
    overall = {
        "records": totals["records"],
        "precision": totals["matched_records"] / totals["records"] if totals["records"] else None,
        "recall": totals["found"] / totals["required"] if totals["required"] else None,
        "level_accuracy": totals["level_ok"] / totals["level_n"] if totals["level_n"] else None,
        "required": totals["required"],
        "found": totals["found"],
    }
    return {"overall": overall, "per_report": per, "errors": errors}


def run(assistant=None, gold_path: str | Path = DEFAULT_GOLD) -> dict[str, Any]:
    """Evaluate the extraction alone and with the overrides; also the catalogue counts."""
    from assistant.catalogue import Catalogue

    if assistant is None:
        from assistant.service import Assistant

        assistant = Assistant(progress=False)
    gold = load_gold(gold_path)
    raw = Catalogue.for_index(assistant.index, assistant.reports, assistant.settings, use_overrides=False)
    cat = getattr(assistant, "catalogue", None) or Catalogue.for_index(assistant.index, assistant.reports, assistant.settings)
    return {
        "gold_file": str(gold_path),
        "extraction": evaluate(raw.records, gold),
        "with_overrides": evaluate(cat.records, gold),
        "counts": cat.counts(),
        "n_records": len(cat.records),
        "override_problems": cat.problems,
    }


def summary_metrics(result: dict[str, Any]) -> dict[str, float | None]:
    """The flat figures the main eval report carries."""
    e, o = result["extraction"]["overall"], result["with_overrides"]["overall"]
    return {
        "catalogue_precision": e["precision"],
        "catalogue_recall": e["recall"],
        "catalogue_level_accuracy": e["level_accuracy"],
        "catalogue_precision_overrides": o["precision"],
        "catalogue_recall_overrides": o["recall"],
        "catalogue_level_accuracy_overrides": o["level_accuracy"],
    }


def format_result(result: dict[str, Any]) -> str:
    def f(v):
        return "-" if v is None else f"{v:.3f}"

    lines = ["== catalogue extraction vs gold list ==",
             f"{'report':<28}{'setting':<16}{'records':>8}{'P':>8}{'R':>8}{'level':>8}"]
    for setting in ("extraction", "with_overrides"):
        res = result[setting]
        for src, m in res["per_report"].items():
            lines.append(f"{src:<28}{setting:<16}{m['records']:>8}{f(m['precision']):>8}{f(m['recall']):>8}{f(m['level_accuracy']):>8}")
        m = res["overall"]
        lines.append(f"{'overall':<28}{setting:<16}{m['records']:>8}{f(m['precision']):>8}{f(m['recall']):>8}{f(m['level_accuracy']):>8}")
    return "\n".join(lines)


def format_counts(counts: dict[str, Any]) -> str:
    lines = []
    for key, title in (("by_report", "report"), ("by_level", "level"), ("by_theme", "theme")):
        lines.append(f"{title:<30}{'practices':>10}{'recommend.':>11}")
        for k, v in counts[key].items():
            lines.append(f"{k:<30}{v.get('practice', 0):>10}{v.get('recommendation', 0):>11}")
        lines.append("")
    return "\n".join(lines).rstrip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.catalogue_eval", description=__doc__.split("\n")[0])
    p.add_argument("--gold", default=str(DEFAULT_GOLD))
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--errors", action="store_true", help="list false positives, misses and level errors (extraction alone)")
    args = p.parse_args(argv)
    result = run(gold_path=args.gold)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(format_result(result))
    print()
    print(format_counts(result["counts"]))
    if result["override_problems"]:
        print("\noverride problems:")
        for prob in result["override_problems"]:
            print("  -", prob)
    if args.errors:
        for kind, items in result["extraction"]["errors"].items():
            print(f"\n== {kind} ({len(items)}) ==")
            for it in items:
                print("  ", json.dumps(it, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
