"""The practice/recommendation catalogue: spans, filters, CLI, overrides, grouped answers, quality."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import run_cli, source_lines

from assistant.catalogue import Catalogue, apply_overrides, load_overrides, record_id
from assistant.compose import GROUP_DONE, GROUP_RECOMMEND
from assistant.cleaning import match_tokens, text_in_span
from assistant.extraction import classify_statement
from assistant.retrieval import RetrievalFilters
from assistant.taxonomy import LEVELS, THEMES
from evals.catalogue_eval import evaluate, load_gold

MUST_SHOW = "How can an origin-country municipality support the integration of its emigrants abroad?"
LEVEL_IDS = {t.id for t in LEVELS}
THEME_IDS = {t.id for t in THEMES}


@pytest.fixture(scope="module")
def catalogue(assistant):
    return getattr(assistant, "catalogue", None) or Catalogue.for_index(assistant.index, assistant.reports, assistant.settings)


def _norm(text: str) -> str:
    return " " + " ".join(match_tokens(text)) + " "


def test_every_record_span_holds_its_text(catalogue):
    assert len(catalogue.records) > 100
    for r in catalogue.records:
        span = "\n".join(source_lines(r.source)[r.start_line - 1 : r.end_line])
        assert text_in_span(r.text, span), r.id
        if r.origin == "extracted":
            assert _norm(r.statement) in _norm(r.text), r.id
        assert r.level is None or r.level in LEVEL_IDS, r.id
        assert set(r.themes) <= THEME_IDS, r.id
        assert r.summary and r.kind in ("practice", "recommendation")


def test_counts_per_report_level_and_theme(catalogue, assistant):
    counts = catalogue.counts()
    shipped = {m.source for m in assistant.reports}
    assert shipped <= set(counts["by_report"])
    assert set(counts["by_level"]) - {"unspecified"} <= LEVEL_IDS
    assert set(counts["by_theme"]) - {"unclassified"} <= THEME_IDS
    assert sum(v.get("practice", 0) for v in counts["by_report"].values()) == len(catalogue.filter(kind="practice"))
    assert counts["by_level"]["origin_municipality"]["practice"] >= 5


def test_readable_and_short_level_and_theme_names(catalogue):
    by_id = catalogue.filter(kind="practice", level="origin_municipality")
    assert by_id
    assert catalogue.filter(kind="practice", level="origin") == by_id
    assert catalogue.filter(kind="practice", level="origin-country municipality") == by_id
    assert catalogue.filter(theme="jobs") == catalogue.filter(theme="employment")
    assert all(r.country == "Germany" or r.place == "Germany" for r in catalogue.filter(country="germany"))
    with pytest.raises(ValueError, match="choose one of"):
        catalogue.filter(level="planet")


def test_cli_practices_json_by_short_level_name():
    proc = run_cli("practices", "--json", "--level", "origin")
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert records and all(r["level"] == "origin_municipality" and r["kind"] == "practice" for r in records)
    for r in records:
        assert {"id", "source", "start_line", "end_line", "text", "summary", "statement", "themes"} <= set(r)
        span = "\n".join(source_lines(r["source"])[r["start_line"] - 1 : r["end_line"]])
        assert text_in_span(r["text"], span)


def test_classify_statement_rules():
    rec = classify_statement("As such, the Commission should facilitate the establishment of separate fora for rural areas.", "recommendations")
    assert (rec.kind, rec.level) == ("recommendation", "eu")
    pr = classify_statement("The city of Munich, for instance, has developed courses with vocational profiles.", "body")
    assert (pr.kind, pr.level, pr.place, pr.country) == ("practice", "destination_city", "Munich", "Germany")
    origin = classify_statement("A group of Moroccan municipalities, for instance, took the lead in seeking cooperation "
                                "with Dutch local governments.", "body")
    assert (origin.kind, origin.level) == ("practice", "origin_municipality")
    assert classify_statement("Migration both separates and binds people.", "body").kind is None
    assert classify_statement("It should be noted that economic motives have also played a role.", "body").kind != "recommendation"


def test_retrieval_filters_by_level_and_theme(assistant, catalogue):
    search = assistant.search
    if getattr(search, "tags", None) is None:
        search.tags = catalogue
    hits = search.search("How can municipalities support their emigrants abroad?", filters=RetrievalFilters(levels=["origin"]))
    assert hits
    for h in hits:
        assert "origin_municipality" in catalogue.tags_for(h.passage.passage_id)[0]
    hits = search.search("language courses for newcomers", filters=RetrievalFilters(levels=["city"], themes=["language"]))
    assert hits
    for h in hits:
        levels, themes = catalogue.tags_for(h.passage.passage_id)
        assert "destination_city" in levels and "language" in themes


def test_overrides_win_and_survive_reingesting(assistant, tmp_path):
    index = assistant.index
    base = Catalogue.for_index(index, assistant.reports, assistant.settings, use_overrides=False)
    target = base.filter(kind="practice", source="003_443b9585100afe3f.txt")[0]
    dropped = base.filter(kind="recommendation", source="004_e378ebee438f39d1.txt")[0]
    footnote = next(p for p in index.passages if p.section_kind == "footnote" and p.source.startswith("003") and "Munich model" in p.text)
    path = tmp_path / "overrides.yaml"
    path.write_text(
        f"""
corrections:
  {target.id}:
    level: eu
    themes: [jobs, "housing and segregation"]
    summary: Curated summary.
  {dropped.id}:
    drop: true
add:
  - source: 003_443b9585100afe3f.txt
    quote: "The Munich model for providing health care to unauthorized immigrants"
    kind: practice
    level: city
    place: Munich
""",
        encoding="utf-8",
    )
    cat = Catalogue.for_index(index, assistant.reports, assistant.settings, overrides_path=path)
    assert not cat.problems
    fixed = cat.get(target.id)
    assert (fixed.level, fixed.themes, fixed.summary, fixed.origin) == ("eu", ["employment", "housing_segregation"], "Curated summary.", "override")
    assert cat.get(dropped.id) is None
    added = next(r for r in cat.records if "Munich model" in r.statement)
    assert (added.passage_id, added.level, added.place) == (footnote.passage_id, "destination_city", "Munich")
    span = "\n".join(source_lines(added.source)[added.start_line - 1 : added.end_line])
    assert text_in_span(added.text, span)

    # re-ingesting cuts passages differently: new passage ids and spans. Record ids come from the
    # sentence, and additions are anchored by a quote, so the overrides still apply.
    shifted = [p.model_copy(update={"passage_id": p.passage_id + "-v2", "start_line": p.start_line, "end_line": p.end_line + 1})
               for p in index.passages]
    by_old = {p.passage_id: q for p, q in zip(index.passages, shifted)}
    records = [r.model_copy(update={"passage_id": by_old[r.passage_id].passage_id, "end_line": r.end_line + 1})
               for r in base.records]
    again, problems = apply_overrides(records, load_overrides(path), shifted)
    assert not problems
    again_by_id = {r.id: r for r in again}
    assert again_by_id[target.id].level == "eu" and dropped.id not in again_by_id
    added2 = next(r for r in again if "Munich model" in r.statement)
    assert added2.passage_id == footnote.passage_id + "-v2" and added2.end_line == footnote.end_line + 1
    assert record_id("practice", target.source, target.statement) == target.id


def test_broken_override_entries_are_reported(assistant, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("corrections:\n  P-999-000000:\n    level: eu\nadd:\n  - source: 003_443b9585100afe3f.txt\n"
                    "    quote: words that the report never uses anywhere\n    kind: practice\n", encoding="utf-8")
    cat = Catalogue.for_index(assistant.index, assistant.reports, assistant.settings, overrides_path=path)
    assert len(cat.problems) == 2


def test_grouped_answer_for_the_origin_municipality_question(assistant):
    """A "how can <level> ..." question: the reports' recommendations to that level lead, labelled
    with the level; every statement a verbatim run of its passage's sentences."""
    answer = assistant.ask(MUST_SHOW)
    markdown, citations = answer.answer, answer.citations
    assert markdown.startswith("*Origin-country municipality:*")
    numbers = {c.n for c in citations}
    assert numbers == set(range(1, len(numbers) + 1))
    for c in citations:
        span = "\n".join(source_lines(c.source)[c.start_line - 1 : c.end_line])
        assert text_in_span(c.text, span)
    labels = []
    for line in markdown.splitlines():
        if not line.strip() or line.startswith("**"):
            continue
        m = re.match(r"(?:- )?(?:\*([^*]+):\* )?(.*?) ((?:\[\d+\])+)$", line)
        assert m, line
        label, quote, marks = m.groups()
        cited = [c for c in citations if f"[{c.n}]" in marks]
        assert any(quote.lstrip("…") in c.text for c in cited), line  # verbatim run of the cited passage
        if label:
            labels.append(label)
    assert "Origin-country municipality" in labels
    # the recommendations come before what was done, then the rest
    order = [h for h in (GROUP_RECOMMEND, GROUP_DONE) if h in markdown]
    assert order == sorted(order, key=markdown.index)


def test_a_factoid_answer_is_not_grouped(assistant):
    answer = assistant.ask("Which city did the Berlin mayor distance himself from, and why?")
    assert GROUP_DONE not in answer.answer and GROUP_RECOMMEND not in answer.answer
    assert "Istanbul" in answer.answer.split("\n")[0]  # the fact asked for comes first


def test_gold_precision_recall_and_level_accuracy(catalogue, assistant):
    gold = load_gold()
    assert len({g["source"] for g in gold}) >= 2
    raw = Catalogue.for_index(assistant.index, assistant.reports, assistant.settings, use_overrides=False)
    result = evaluate(raw.records, gold)["overall"]
    assert result["precision"] >= 0.8 and result["recall"] >= 0.8, result
    assert result["level_accuracy"] >= 0.8, result


def test_catalogue_loads_fast_from_its_cache(assistant):
    Catalogue.for_index(assistant.index, assistant.reports, assistant.settings)
    t0 = time.perf_counter()
    Catalogue.for_index(assistant.index, assistant.reports, assistant.settings)
    assert time.perf_counter() - t0 < 2.0
