"""The evaluation suite (evals/): metrics on hand-made cases, a mini run on dev questions with the
real assistant and index, threshold checks, question-file validation and a small baseline."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from evals import metrics as M
from evals.calibrate import Sample, best_threshold, evaluate_threshold
from evals.runner import (
    EvalInputError,
    check_thresholds,
    load_questions,
    load_thresholds,
    main,
    run_eval,
)

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "evals" / "dev_questions.jsonl"
MINI_IDS = ["q001", "q022", "q045", "q055", "q066", "q079", "q095"]  # every type, an injection
HOSTILE = {
    "id": "x001",
    "type": "practice",
    "question": "What did Nuremberg's <script>alert('x')</script> ZAM do & why?",
    "history": [],
    "answerable": True,
    "gold": [{"source": "003_443b9585100afe3f.txt", "start_line": 185, "end_line": 192}],
    "must_mention": ["ZAM", "<b>never</b>"],
    "addressee": None,
    "notes": "",
}


@pytest.fixture(scope="session")
def eval_assistant(request):
    """One Assistant for the session, on the default settings (reuses ./data; builds the index if
    it is missing). Shares the conftest's session Assistant when there is one."""
    try:
        return request.getfixturevalue("assistant")
    except pytest.FixtureLookupError:
        from assistant.service import Assistant

        return Assistant(progress=False)


def P(source, start, end, n=None, text="", pid=None):
    d = {"source": source, "start_line": start, "end_line": end, "text": text, "passage_id": pid or f"{source}:{start}"}
    if n is not None:
        d["n"] = n
    return d


# --------------------------------------------------------------------------- ranking (ranx)


def test_ranking_metrics_exact_values():
    gold = [P("a.txt", 10, 12), P("a.txt", 50, 50)]
    retrieved = [
        P("a.txt", 1, 5),  # 1: nothing
        P("a.txt", 11, 20),  # 2: covers g0
        P("b.txt", 10, 12),  # 3: right lines, wrong file
        P("a.txt", 12, 13),  # 4: g0 again -> not relevant a second time
        P("a.txt", 13, 49),  # 5: touches neither span
        P("a.txt", 45, 55),  # 6: covers g1
        P("a.txt", 100, 110),
    ]
    r = M.ranking_metrics([("q", retrieved, gold)])["q"]
    assert r["recall@5"] == pytest.approx(0.5)
    assert r["recall@10"] == pytest.approx(1.0)
    assert r["mrr"] == pytest.approx(0.5)
    dcg = 1 / math.log2(3) + 1 / math.log2(7)
    assert r["ndcg@10"] == pytest.approx(dcg / (1 + 1 / math.log2(3)))


def test_ranking_metrics_passage_covering_two_spans_and_misses():
    gold = [P("a.txt", 10, 10), P("a.txt", 12, 12)]
    out = M.ranking_metrics([
        ("both", [P("a.txt", 8, 14)] + [P("a.txt", 100 + i, 100 + i) for i in range(7)], gold),
        ("none", [P("a.txt", 1, 9), P("a.txt", 13, 20)], gold),
        ("empty", [], gold),
    ])
    assert out["both"] == pytest.approx({"recall@5": 1.0, "recall@10": 1.0, "mrr": 1.0, "ndcg@10": 1.0})
    assert out["none"] == pytest.approx({"recall@5": 0.0, "recall@10": 0.0, "mrr": 0.0, "ndcg@10": 0.0})
    assert out["empty"]["recall@5"] == 0.0
    # a question without gold spans is not scored
    assert M.ranking_metrics([("x", [P("a.txt", 1, 2)], [])]) == {}


def test_citation_precision_and_recall():
    gold = [P("a.txt", 10, 12), P("a.txt", 50, 50)]
    cites = [P("a.txt", 1, 9), P("a.txt", 12, 20), P("b.txt", 10, 12), P("a.txt", 11, 11)]
    assert M.citation_precision(cites, gold) == pytest.approx(0.5)
    assert M.citation_recall(cites, gold) == pytest.approx(0.5)
    assert M.citation_recall([], gold) == 0.0
    assert M.citation_precision([], gold) is None
    assert M.citation_recall(cites, []) is None


# --------------------------------------------------------------------------- must-mention


@pytest.mark.parametrize(
    "item,text,found",
    [
        ("one-stop shop", "a one stop shop for migrants [1]", True),
        ("one-stop-shop", "it runs one-stop shops", False),  # whole words: 'shops' is not 'shop'
        ("one-stop-shop", "it runs a one-stop shop.", True),
        ("Nongovernmental associations", "non-governmental associations help", True),
        ("Zürich", "the city of ZURICH", True),
        ("ADV", "they gave advice", False),
        ("ADV", "an anti-discrimination bureau (ADV) [2]", True),
        ("3", "three cities [3]", False),  # citation markers do not count
        ("Art.1|Art. 1", "the expert institute Art. 1 works", True),
        ("2011", "in 2011.", True),
        ("30", "about 300 towns", False),
        ("European Integration Fund", "the European\nIntegration   Fund", True),
        ("specific", "a specifi c measure", True),  # ligature split repaired
    ],
)
def test_mention_found(item, text, found):
    assert M.mention_found(item, text) is found


def test_must_mention_coverage():
    cov, missed = M.must_mention(["Nuremberg", "ZAM", "one-stop shop"], "- Nuremberg set up the ZAM. [1]")
    assert cov == pytest.approx(2 / 3) and missed == ["one-stop shop"]
    assert M.must_mention([], "anything") == (None, [])


def test_lead_mention_looks_at_the_first_statement_only():
    answer = "The city of Utopia opened a desk. [1]\n\n- Nuremberg set up the ZAM. [2]"
    assert M.lead_mention(["Nuremberg", "ZAM"], answer) == 0.0
    assert M.lead_mention(["Utopia", "ZAM"], answer) == 1.0
    # a preface without a marker is no statement: the lead is the first quote
    assert M.lead_mention(["ZAM"], "The reports do not give this figure. What they say:\n\n- Nuremberg set up the ZAM. [1]") == 1.0
    assert M.lead_mention([], answer) is None and M.lead_mention(["ZAM"], "") is None


# --------------------------------------------------------------------------- groundedness


def test_groundedness_exact_share():
    passage = "The city of Nuremberg set up a central contact point for migration (ZAM). It helps immigrants find courses."
    cites = [P("a.txt", 1, 3, n=1, text=passage)]
    answer = (
        "- The city of Nuremberg set up a central contact point for migration (ZAM). [1]\n"  # verbatim
        "- Nuremberg helps immigrants find courses at the ZAM contact point. [1]\n"  # 9/10 tokens
        "- Paris built a tower for migrants. [9]\n"  # marker without citation
        "- A sentence without any marker."
    )
    g, unsupported = M.groundedness(answer, cites)
    assert g == pytest.approx(0.5)
    assert unsupported == ["Paris built a tower for migrants.", "A sentence without any marker."]
    assert M.token_overlap("Nuremberg helps immigrants find courses at the ZAM contact point.", passage) == pytest.approx(0.9)


def test_answer_units_paragraphs_and_marker_groups():
    units = M.answer_units("## Heading\n\nFirst chunk\nspans lines. [1]\n\nSecond [2][3] and a tail")
    assert units == [("First chunk\nspans lines.", [1]), ("Second", [2, 3]), ("and a tail", [])]


def test_aggregate_refusals_latency_failures():
    rows = [
        {"id": "a", "type": "factoid", "answerable": True, "refused": False, "recall@5": 1.0, "must_mention": 1.0, "latency_ms": 10, "failed": False},
        {"id": "b", "type": "factoid", "answerable": True, "refused": True, "recall@5": 0.0, "must_mention": 0.0, "latency_ms": 20, "failed": True},
        {"id": "c", "type": "unanswerable", "answerable": False, "refused": True, "latency_ms": 30, "failed": False},
        {"id": "d", "type": "unanswerable", "answerable": False, "refused": False, "latency_ms": 40, "failed": True},
        {"id": "e", "type": "followup", "answerable": True, "refused": False, "recall@5": 0.5, "latency_ms": 50, "failed": False},
    ]
    s = M.summarise(rows)
    o = s["overall"]
    assert o["refusal_accuracy"] == 0.5
    assert o["false_refusal_rate"] == pytest.approx(1 / 3)
    assert o["recall@5"] == pytest.approx(0.5)
    assert o["followup_recall@5"] == 0.5
    assert o["latency_p50_ms"] == 30 and o["latency_p95_ms"] == pytest.approx(48)
    assert o["failures"] == 2
    assert list(s["by_type"]) == ["factoid", "followup", "unanswerable"]
    assert s["by_type"]["unanswerable"]["recall@5"] is None
    assert s["by_type"]["factoid"]["false_refusal_rate"] == 0.5


def test_failure_reasons():
    assert M.failure_reasons({"answerable": True, "refused": False, "recall@5": 0.0, "must_mention": 1.0}) == ["no gold span in the top 5"]
    assert M.failure_reasons({"answerable": True, "refused": False, "recall@5": 1.0, "must_mention": 0.4}) == ["must-mention coverage < 0.5"]
    assert M.failure_reasons({"answerable": False, "refused": False}) == ["answered an unanswerable question"]
    assert M.failure_reasons({"answerable": False, "refused": True}) == []


def test_calibration_picks_middle_of_best_interval():
    samples = [Sample("a1", True, 0.6, False), Sample("a2", True, 0.7, False), Sample("u1", False, 0.3, False),
               Sample("u2", False, 0.5, False)]
    best, (lo, hi) = best_threshold(samples)
    assert (lo, hi) == (0.5, 0.6) and best.threshold == pytest.approx(0.55)
    assert best.refusal_accuracy == 1.0 and best.false_refusal_rate == 0.0
    assert evaluate_threshold(samples, 0.4).objective == pytest.approx(1.5)


# --------------------------------------------------------------------------- answer shape: artifacts, length

VOCAB = frozenset({"material", "integration", "resources"})  # the reports' common words, for glued headings


@pytest.mark.parametrize(
    "answer,kinds",
    [
        ("Therefore, the city pays for the courses. [1]", ["dangling_connective"]),
        ("- However the city pays. [2]", ["dangling_connective"]),
        ("There is, however, still a need for exchange. [1]", ["dangling_connective"]),
        ("*Nuremberg (Germany), city:* Moreover, it set up a desk. [1]", ["dangling_connective"]),
        ("…however, the city pays for the courses. [1]", []),  # trimmed: fine
        ("…the city pays for the courses. [1]", []),
        ("In addition to courses, the city pays. [1]", []),  # "in addition to …" opens a whole sentence
        ("First results show a rise. [1]", []),  # weak connective without a comma
        ("Finally, the city pays. [1]", ["dangling_connective"]),
        ("The steps are as follows: [1]", ["leadin_without_items"]),
        ("The reports do not give this figure. What they say on the topic:\n\nThe city pays. [1]", []),  # preface
        ("- Smith et al. (2010) found this in Berlin. [1]", ["reference_line"]),
        ("This paper explores the role of the local level. [1]", ["meta_sentence"]),
        ("The city pays. Chapter 4 summarises the findings. [1]", ["meta_sentence"]),
        ("Van Ewijk ( 2013 ) describes it. [1]", ["spacing"]),
        ("Cities coordinate ; regions fund. [1]", ["spacing"]),
        ("Cities coordinate  and regions fund. [1]", ["spacing"]),
        ("Cities lacked fundingThe regions paid. [1]", ["spacing"]),
        ("Welcome centres for skilled groups14—provide advice. [1]", ["spacing"]),
        ("Cities used the MATRA programme,90 both funded by the ministry. [1]", ["spacing"]),
        ("Reforms began only recently, in 2012.44 As a result, towns gain powers. [1]", ["spacing"]),
        ("The share rose from 2.5 to 3.44 Percent points in Ghent. [1]", []),
        ("Some 1,800 people and 35 cities, 12 of them capitals, took part. [1]", []),
        ("They work in townto-town partnerships. [1]", ["spacing"]),
        ("The leaflet at www.example.org/a.pdf?blob=publicationFile explains it. [1]", []),  # URLs are not spacing faults
        ("Many work along the corridor On the German side the cities led. [1]", ["glued_heading"]),
        ("Support at the local level Material resources to finance it are scarce. [1]", ["glued_heading"]),
        ("Cities like Munich and the Integration Council of Vienna work together. [1]", []),
        ("Offices in The Hague and The Netherlands cooperate. [1]", []),
        ("turns attention to integration policy in the multi-level context. [1]", ["fragment_start"]),
        ("van Ewijk describes the partnerships. [1]", []),
        ("Nuremberg set up a one-stop shop for language learning. [1]", []),
        ("As the mayor put it, ‘It was obvious that they were torn. [1]", ["unclosed_quote"]),
        ("As the mayor put it, ‘It was obvious.’ He acted. [1]", []),
        ("The migrants’ links to home are strong. [1]", []),  # an apostrophe, not a quotation
    ],
)
def test_artifacts(answer, kinds):
    assert [a["kind"] for a in M.artifacts(answer, VOCAB)] == kinds


def test_artifacts_text_and_statements():
    answer = ("The reports do not give this figure. What they say on the topic:\n\n"
              "*Nuremberg (Germany), city:* Nuremberg set up the ZAM. [1] However, it costs. [2]\n\n"
              "**What the reports recommend**\n- *EU:* …the EU should fund it. [3][4] ⚠️ _(not supported by the cited passages)_\n"
              "- Cities ( 2013 ) coordinate. [1]")
    assert M.answer_statements(answer) == [
        "Nuremberg set up the ZAM.", "However, it costs.", "…the EU should fund it.", "Cities ( 2013 ) coordinate."]
    arts = M.artifacts(answer, VOCAB)
    assert arts == [{"kind": "dangling_connective", "text": "However, it costs."},
                    {"kind": "spacing", "text": "Cities ( 2013 ) coordinate."}]
    assert M.artifacts("", VOCAB) == [] and M.artifacts("No marker here, therefore nothing to check", VOCAB) == []


def test_a_sentence_about_the_report_is_no_artifact_when_asked_who_made_it():
    answer = "This study was commissioned by the Office from the Policy Group, whose researchers drafted it. [1]"
    assert [a["kind"] for a in M.artifacts(answer, VOCAB)] == ["meta_sentence"]
    assert M.artifacts(answer, VOCAB, question="Who drafted the study, and who commissioned it?") == []


def test_answer_words_and_bullets():
    answer = ("The reports do not give this figure. What they say on the topic:\n\n"
              "*Nuremberg (Germany), city:* Nuremberg set up the ZAM. [1] It helps. [2]\n\n"
              "**What the reports recommend**\n- The EU should fund it. [3][4]\n- Cities coordinate. [1]")
    # preface 13 + label 3 + 5 + 2 + 5 + 2; the heading, markers and bullet dashes do not count
    assert M.answer_words(answer) == 30
    assert M.answer_bullets(answer) == 3  # the lead paragraph and two bullets
    assert M.answer_words("One two three [1]") == 3 and M.answer_bullets("One two three [1]") == 1
    assert M.answer_shape("Refused text.", refused=True) == {"words": None, "bullets": None, "artifacts": []}
    shape = M.answer_shape("Therefore, x. [1]", refused=False, vocabulary=VOCAB)
    assert shape["words"] == 2 and shape["bullets"] == 1 and shape["artifacts"][0]["kind"] == "dangling_connective"


def _row(qid, refused=False, words=None, bullets=None, artifacts=(), answerable=True, qtype="factoid", **extra):
    return {"id": qid, "type": qtype, "answerable": answerable, "refused": refused, "failed": False, "latency_ms": 10,
            "words": words, "bullets": bullets, "artifacts": list(artifacts), **extra}


def test_shape_metrics_over_answered_questions():
    spacing = {"kind": "spacing", "text": "x ( 1 )"}
    rows = [
        _row("q001", words=100, bullets=2, artifacts=[spacing, {"kind": "meta_sentence", "text": "This paper"}]),
        _row("q002", words=200, bullets=4),
        _row("q004", words=150, bullets=6, artifacts=[spacing]),
        _row("q005", refused=True),  # refusals do not count
    ]
    o = M.aggregate(rows)
    assert o["artifacts"] == 3 and o["answers_with_artifacts"] == pytest.approx(2 / 3)
    assert o["artifact_kinds"]["spacing"] == 2 and o["artifact_kinds"]["meta_sentence"] == 1 and o["artifact_kinds"]["glued_heading"] == 0
    assert o["answer_words_median"] == 150 and o["answer_words_p90"] == pytest.approx(190)
    assert o["bullets_median"] == 4 and o["bullets_max"] == 6
    for key in ("artifacts", "answers_with_artifacts", "answer_words_median", "answer_words_p90", "bullets_median", "bullets_max"):
        assert M.METRICS[key] == "lower"
    # rows of an older run (no per-answer fields): not measured, not zero
    old = [{k: v for k, v in r.items() if k not in ("words", "bullets", "artifacts")} for r in rows]
    o = M.aggregate(old)
    assert o["artifacts"] is None and o["artifact_kinds"] is None and o["answer_words_median"] is None
    # only refusals: nothing to count
    o = M.aggregate([_row("q005", refused=True)])
    assert o["artifacts"] == 0 and o["answers_with_artifacts"] is None and o["bullets_max"] is None


def test_heldout_split():
    assert [M.heldout({"id": i}) for i in ("q001", "q003", "c006", "x", "q010", "q099")] == [False, True, True, False, False, True]
    rows = [_row(f"q{i:03d}", words=i, bullets=1, **{"recall@5": 1.0 if i % 3 else 0.0}) for i in range(1, 10)]
    s = M.summarise(rows)
    assert s["split"]["tuning"]["n"] == 6 and s["split"]["heldout"]["n"] == 3
    assert s["split"]["tuning"]["recall@5"] == 1.0 and s["split"]["heldout"]["recall@5"] == 0.0
    assert s["split"]["heldout"]["answer_words_median"] == 6  # q003, q006, q009
    from evals.runner import format_table, heldout

    assert heldout is M.heldout  # the runner's name for it still works
    table = format_table({"assistant": s})
    assert "tuning half vs held-out half" in table and "answer_words_median" in table


# --------------------------------------------------------------------------- --compare


def _run_folder(root: Path, rows, answers=None, drop=()) -> Path:
    """A saved run: metrics.json (per-question rows, keys in ``drop`` removed as an older run
    lacks them) and results.jsonl."""
    root.mkdir(parents=True, exist_ok=True)
    rows = [{k: v for k, v in r.items() if k not in drop} for r in rows]
    metrics = {"n_questions": len(rows), "assistant": M.summarise(rows), "per_question": {"assistant": rows}}
    (root / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    if answers is not None:
        write_jsonl(root / "results.jsonl", [{"id": r["id"], **a} for r, a in zip(rows, answers)])
    return root


def _cmp_row(qid, recall=1.0, must=1.0, refused=False, answerable=True, words=100, artifacts=0, qtype="factoid"):
    return _row(qid, refused=refused, answerable=answerable, qtype=qtype, words=None if refused else words,
                bullets=None if refused else 2, artifacts=[{"kind": "spacing", "text": "x"}] * artifacts,
                **{"recall@5": recall if answerable else None, "must_mention": must if answerable else None,
                   "citation_precision": 0.5 if answerable and not refused else None})


def test_compare_better_worse_by_direction(tmp_path):
    from evals.compare import compare_runs, format_comparison, load_run

    prev = [_cmp_row("q001"), _cmp_row("q002", recall=0.0), _cmp_row("q003", artifacts=0),
            _cmp_row("q004", answerable=False, qtype="unanswerable", refused=True), _cmp_row("q005", words=100)]
    cur = [_cmp_row("q001", must=0.5, recall=0.0), _cmp_row("q002", recall=1.0), _cmp_row("q003", artifacts=2),
           _cmp_row("q004", answerable=False, qtype="unanswerable", refused=False), _cmp_row("q005", words=60)]
    cmp = compare_runs(load_run(_run_folder(tmp_path / "prev", prev)), load_run(_run_folder(tmp_path / "cur", cur)))
    overall = {m["metric"]: m for m in cmp["groups"]["overall"]["metrics"]}
    assert overall["artifacts"]["previous"] == 0 and overall["artifacts"]["current"] == 2
    assert overall["artifacts"]["verdict"] == "worse"  # lower is better
    assert overall["artifacts:spacing"]["verdict"] == "worse"
    assert overall["refusal_accuracy"]["verdict"] == "worse" and overall["refusal_accuracy"]["delta"] == -1.0
    assert overall["must_mention"]["verdict"] == "worse"
    assert overall["recall@5"]["verdict"] == "same"  # one up, one down
    assert overall["latency_p50_ms"]["verdict"] == "timing"
    assert set(cmp["groups"]) == {"overall", "factoid", "unanswerable", "split:tuning", "split:heldout"}
    # worst regression first: the answered unanswerable question (weight 2), then q001 (must 0.5 + recall 1)
    assert [q["id"] for q in cmp["worse"]] == ["q004", "q001", "q003"]
    assert [q["id"] for q in cmp["better"]] == ["q002", "q005"]  # recall +1; 40 fewer words
    q004 = cmp["worse"][0]["changes"][0]
    assert q004 == {"field": "correct", "previous": "refused", "current": "answered", "verdict": "worse"}
    assert not cmp["no_change"]
    text = format_comparison(cmp)
    assert "q004   answer refused → answered" in text
    assert "q001   must_mention 1.000 → 0.500; recall@5 1.000 → 0.000" in text
    assert "q005   words 100 → 60" in text
    assert "artifacts                              0         2        +2  WORSE" in text


def test_compare_older_run_and_different_question_sets(tmp_path):
    from evals.compare import compare_runs, format_comparison, load_run

    answers = [{"answer": "Therefore, x. [1]", "refused": False}, {"answer": "A b c. [1]", "refused": False},
               {"answer": "Refused.", "refused": True}]
    prev_rows = [_cmp_row("q001"), _cmp_row("q002"), _cmp_row("q007", refused=True)]
    # an older run: no words, bullets or artifacts in its rows (recomputed from results.jsonl)
    old = load_run(_run_folder(tmp_path / "old", prev_rows, answers, drop=("words", "bullets", "artifacts")))
    cur = load_run(_run_folder(tmp_path / "cur", [_cmp_row("q001", words=2), _cmp_row("q002", words=3), _cmp_row("q010")]))
    cmp = compare_runs(old, cur)
    assert cmp["n_common"] == 2 and cmp["only_previous"] == ["q007"] and cmp["only_current"] == ["q010"]
    overall = {m["metric"]: m for m in cmp["groups"]["overall"]["metrics"]}
    assert overall["artifacts"]["previous"] == 1 and overall["artifacts"]["current"] == 0  # "Therefore, x." in q001
    assert overall["artifacts"]["verdict"] == "better"
    assert overall["answer_words_median"]["previous"] == 2.5
    text = format_comparison(cmp)
    assert "2 questions in both runs; 1 only in this run, 1 only in the previous one" in text
    assert "shared questions only" in text
    # an older run without results.jsonl either: the new metrics are missing there, not changed
    bare = load_run(_run_folder(tmp_path / "bare", prev_rows, drop=("words", "bullets", "artifacts")))
    cmp = compare_runs(bare, cur)
    overall = {m["metric"]: m for m in cmp["groups"]["overall"]["metrics"]}
    assert overall["artifacts"]["previous"] is None and overall["artifacts"]["verdict"] == "missing"
    assert "(not in one run)" in format_comparison(cmp)
    assert not any(ch["field"] in ("artifacts", "words") for q in cmp["worse"] + cmp["better"] for ch in q["changes"])


def test_compare_same_run_says_no_change(tmp_path, capsys):
    from evals.compare import main as compare_main

    run = _run_folder(tmp_path / "run", [_cmp_row("q001"), _cmp_row("q002", artifacts=1)])
    assert compare_main([str(run), str(run)]) == 0
    out = capsys.readouterr().out
    assert "no change" in out and "0 with a regression, 0 with a gain, 2 unchanged" in out
    assert compare_main([str(tmp_path / "nowhere"), str(run)]) == 2
    assert "no metrics.json" in capsys.readouterr().err


def test_eval_cli_bad_compare_or_second_question_file_exits_before_running(tmp_path, capsys):
    assert main(["--compare", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "is not an eval output folder" in capsys.readouterr().err
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "z1", "type": "trivia", "question": "x?"}])
    assert main(["--questions", str(DEV), "--questions", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "field 'type' must be one of" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.jsonl").exists()


# --------------------------------------------------------------------------- question files


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_dev_set_is_valid(eval_assistant):
    qs = load_questions(DEV, eval_assistant.settings)
    assert len(qs) == 238 and {q["type"] for q in qs} == set(M.QUESTION_TYPES)


def test_malformed_question_file(tmp_path, capsys, eval_assistant):
    good = json.loads(DEV.read_text(encoding="utf-8").splitlines()[0])
    bad = write_jsonl(tmp_path / "bad.jsonl", [
        good,
        '{"id": "q2", "type": "factoid", "question": "unterminated',
        {"id": "q3", "type": "factoid"},
        {"id": "q4", "type": "trivia", "question": "x?"},
        {"id": "q5", "type": "practice", "question": "x?", "gold": [{"source": "nope.txt", "start_line": 1, "end_line": 2}]},
        {"id": "q6", "type": "practice", "question": "x?", "gold": [{"source": good["gold"][0]["source"], "start_line": 9, "end_line": 3}]},
        {"id": "q001", "type": "unanswerable", "question": "x?", "answerable": True},
    ])
    with pytest.raises(EvalInputError) as err:
        load_questions(bad, eval_assistant.settings)
    msg = str(err.value)
    assert "7 problems" in msg
    assert "bad.jsonl:2: not valid JSON" in msg
    assert "bad.jsonl:3 (q3): missing required field 'question'" in msg
    assert "bad.jsonl:4 (q4): field 'type' must be one of" in msg
    assert "bad.jsonl:5 (q5): gold[0].source 'nope.txt' is not a report file" in msg
    assert "bad.jsonl:6 (q6): gold[0].end_line must be an integer >= start_line 9" in msg
    assert "bad.jsonl:7 (q001): type 'unanswerable' requires \"answerable\": false" in msg
    assert "duplicate id 'q001' (first used on line 1)" in msg
    # the CLI reports it and exits 2 without loading anything
    assert main(["--questions", str(bad), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "bad.jsonl:2: not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_minimal_user_question_file_gets_defaults(tmp_path, eval_assistant):
    path = write_jsonl(tmp_path / "mine.jsonl", [{"id": "m1", "type": "practice", "question": "What is ZAM?"}, ""])
    (q,) = load_questions(path, eval_assistant.settings)
    assert q["history"] == [] and q["gold"] == [] and q["must_mention"] == [] and q["answerable"] is True


# --------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def mini(tmp_path_factory, eval_assistant):
    root = tmp_path_factory.mktemp("mini")
    lines = {json.loads(l)["id"]: json.loads(l) for l in DEV.read_text(encoding="utf-8").splitlines() if l.strip()}
    questions = write_jsonl(root / "mini.jsonl", [lines[i] for i in MINI_IDS] + [HOSTILE])
    out = root / "out"
    metrics = run_eval(questions, out, baseline=False, assistant=eval_assistant, progress=False)
    return questions, out, metrics


def test_mini_run_writes_results_metrics_report(mini):
    questions, out, metrics = mini
    results = [json.loads(l) for l in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in results] == MINI_IDS + ["x001"]
    assert {"id", "type", "question", "answer", "refused", "citations", "retrieved", "timings_ms", "evidence"} <= set(results[0])
    assert results[MINI_IDS.index("q095")]["refused"] is True  # prompt injection

    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    overall = saved["assistant"]["overall"]
    for key in M.METRICS:
        assert key in overall
    assert overall["n"] == 8
    assert set(saved["assistant"]["by_type"]) == set(M.QUESTION_TYPES)
    assert 0 <= overall["recall@5"] <= 1 and overall["latency_p95_ms"] >= overall["latency_p50_ms"] > 0
    assert saved["assistant"]["by_type"]["followup"]["followup_recall@5"] == saved["assistant"]["by_type"]["followup"]["recall@5"]
    rows = {r["id"]: r for r in saved["per_question"]["assistant"]}
    unanswerable = [rows[i]["refused"] for i in ("q079", "q095")]
    assert overall["refusal_accuracy"] == pytest.approx(sum(unanswerable) / 2)
    assert rows["q079"]["recall@5"] is None and rows["q001"]["recall@5"] is not None
    assert "<b>never</b>" in rows["x001"]["missed"]

    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert "<script>" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;b&gt;never&lt;/b&gt;" in html and "<b>never</b>" not in html
    # failures come first in the drill-down
    order = [i for i in MINI_IDS + ["x001"] if f'id="{i}"' in html]
    positions = sorted(order, key=lambda i: html.index(f'id="{i}"'))
    failed = [i for i in positions if rows[i]["failed"]]
    assert positions[: len(failed)] == failed


def _thresholds_file(path: Path, floors: dict, ceilings: dict) -> Path:
    path.write_text(json.dumps({"_doc": "test", "floors": floors, "ceilings": ceilings}), encoding="utf-8")
    return path


def test_check_thresholds_cli(mini, tmp_path, capsys, eval_assistant):
    questions, _, metrics = mini
    o = metrics["assistant"]["overall"]
    floors = {k: max(0.0, o[k] - 0.05) for k in ("recall@5", "mrr", "ndcg@10", "citation_recall", "must_mention", "groundedness") if o[k] is not None}
    ceilings = {"false_refusal_rate": min(1.0, o["false_refusal_rate"] + 0.05)}
    ok = _thresholds_file(tmp_path / "ok.json", floors, ceilings)
    args = ["--questions", str(questions), "--out", str(tmp_path / "o1"), "--quiet", "--check-thresholds", "--thresholds"]
    assert main([*args, str(ok)], assistant=eval_assistant) == 0
    assert "thresholds OK" in capsys.readouterr().out

    too_high = _thresholds_file(tmp_path / "high.json", {**floors, "recall@5": o["recall@5"] + 0.01}, {"false_refusal_rate": -0.01})
    args[3] = str(tmp_path / "o2")
    assert main([*args, str(too_high)], assistant=eval_assistant) == 1
    out = capsys.readouterr().out
    assert "FAILED: 2 metric(s)" in out and "recall@5 = " in out and "below its floor" in out
    assert "false_refusal_rate" in out and "above its ceiling" in out


def test_two_question_files_and_compare_with_the_mini_run(mini, tmp_path, capsys, eval_assistant):
    questions, previous_out, _ = mini
    lines = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines()]
    first = write_jsonl(tmp_path / "first.jsonl", lines[:3] + [lines[-1]])  # q001, q022, q045 and x001
    second = write_jsonl(tmp_path / "second.jsonl", lines[3:5])  # q055, q066
    out = tmp_path / "out"
    args = ["--questions", str(first), "--questions", str(second), "--out", str(out), "--quiet", "--compare", str(previous_out)]
    assert main(args, assistant=eval_assistant) == 0
    text = capsys.readouterr().out
    assert "4 questions in both runs; 0 only in this run, 4 only in the previous one" in text
    assert "tuning half vs held-out half" in text and "second.jsonl (2 questions)" in text
    assert (out / "comparison.json").exists() and (out / "second" / "results.jsonl").exists()
    assert not (out / "second" / "comparison.json").exists()  # no previous run for that set
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert "comparison" not in metrics and metrics["compared_with"] == str(previous_out)
    rows = {r["id"]: r for r in metrics["per_question"]["assistant"]}
    assert rows["q001"]["words"] > 0 and rows["q001"]["bullets"] >= 1 and isinstance(rows["q001"]["artifacts"], list)
    assert set(metrics["assistant"]["split"]) == {"tuning", "heldout"}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Compared with " in html and "Answer artifacts" in html and "held-out half" in html


def test_thresholds_file_validation(tmp_path):
    assert set(load_thresholds(REPO / "evals" / "thresholds.json")) == {"floors", "ceilings"}
    bad = tmp_path / "t.json"
    bad.write_text('{"floors": {"recal@5": 0.5}}', encoding="utf-8")
    with pytest.raises(EvalInputError, match="unknown metric 'recal@5'"):
        load_thresholds(bad)
    bad.write_text('{"floors": {"mrr": "high"}}', encoding="utf-8")
    with pytest.raises(EvalInputError, match="floors.mrr must be a number"):
        load_thresholds(bad)
    violations, notes = check_thresholds({"mrr": 0.5, "refusal_accuracy": None}, {"floors": {"mrr": 0.4, "refusal_accuracy": 0.5}})
    assert violations == [] and "refusal_accuracy: not measured" in notes[0]


# --------------------------------------------------------------------------- baseline (one small corpus)


def test_baseline_on_small_corpus(tmp_path, eval_assistant):
    """Build the tutorial baseline over one short report, reuse it, answer, score, report."""
    from assistant.settings import Settings
    from evals.baseline import ANSWER_CHUNKS, TOP_K, BaselineRAG

    kb = tmp_path / "kb"
    (kb / "sources").mkdir(parents=True)
    src_kb = eval_assistant.settings.knowledge_base_dir
    manifest = json.loads((src_kb / "manifest.json").read_text(encoding="utf-8"))
    manifest["reports"] = [r for r in manifest["reports"] if r["source"].startswith("004_")]
    (kb / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    name = manifest["reports"][0]["source"]
    shutil.copy(src_kb / "sources" / name, kb / "sources" / name)
    settings = Settings(knowledge_base_dir=kb, data_dir=tmp_path / "data")

    rag = BaselineRAG(settings, progress=False)
    assert rag.built and rag.n_chunks > 10
    assert (tmp_path / "data" / "baseline_chroma").is_dir()
    again = BaselineRAG(settings, progress=False)
    assert not again.built and again.collection_name == rag.collection_name

    a = again.ask("Which EU funds can municipalities use for integration?", ["ignored history"])
    assert not a.refused and len(a.retrieved) == TOP_K and [c.n for c in a.citations] == [1, 2, 3]
    assert a.answer.rstrip().endswith(f"[{ANSWER_CHUNKS}]") and a.answer.count("\n\n") == ANSWER_CHUNKS - 1
    lines = (kb / "sources" / name).read_text(encoding="utf-8").split("\n")
    for p in a.retrieved:  # the line span really holds the chunk
        span = "\n".join(lines[p.start_line - 1 : p.end_line])
        assert p.text in span and p.text.split("\n")[0] in lines[p.start_line - 1]
    g, _ = M.groundedness(a.answer, [c.model_dump() for c in a.citations])
    assert g == 1.0

    # the same questions through run_eval with this baseline: side-by-side metrics and report
    dev = {json.loads(l)["id"]: json.loads(l) for l in DEV.read_text(encoding="utf-8").splitlines() if l.strip()}
    qfile = write_jsonl(tmp_path / "q.jsonl", [dev["q053"], dev["q035"], dev["q091"]])
    m = run_eval(qfile, tmp_path / "out", baseline=True, assistant=eval_assistant, baseline_rag=again, progress=False)
    assert m["baseline"]["overall"]["refusal_accuracy"] == 0.0 and m["baseline"]["overall"]["false_refusal_rate"] == 0.0
    assert m["baseline"]["overall"]["recall@5"] is not None
    assert (tmp_path / "out" / "baseline_results.jsonl").exists()
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<th>baseline</th>" in html and "Baseline:" in html


def test_as_added_moves_the_gold_of_the_left_out_report_only(tmp_path):
    from evals.as_added import questions_for

    f = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "?", "gold": [{"source": "003_x.txt", "start_line": 1, "end_line": 2},
                                             {"source": "001_y.txt", "start_line": 5, "end_line": 5}]},
        {"id": "b", "question": "?", "gold": [{"source": "001_y.txt", "start_line": 5, "end_line": 5}]},
        {"id": "c", "question": "?", "gold": []},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    shipped, moved = questions_for("003_x.txt", "city_governance.txt", files=[f])
    assert [q["id"] for q in shipped] == ["a"] and shipped[0]["gold"][0]["source"] == "003_x.txt"
    assert [g["source"] for g in moved[0]["gold"]] == ["city_governance.txt", "001_y.txt"]
