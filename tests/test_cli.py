"""The command line as users run it: the JSON contract, bad input, adding reports, a damaged
data folder."""

from __future__ import annotations

import json

from conftest import REPO, run_cli, source_lines

from assistant.cleaning import text_in_span

ANSWER_FIELDS = {"question", "answer", "refused", "citations", "retrieved", "timings_ms"}
CITATION_FIELDS = {"n", "passage_id", "source", "title", "section", "start_line", "end_line", "text"}


def test_ask_json_contract(assistant):
    r = run_cli("ask", "--json", "How can an origin-country municipality support the integration of its emigrants abroad?")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert ANSWER_FIELDS <= set(data)
    assert data["refused"] is False and isinstance(data["answer"], str) and "[1]" in data["answer"]
    assert len({c["source"] for c in data["citations"]}) >= 2
    for c in data["citations"]:
        assert CITATION_FIELDS <= set(c)
        span = "\n".join(source_lines(c["source"])[c["start_line"] - 1 : c["end_line"]])
        assert text_in_span(c["text"], span)
    assert data["retrieved"] and all((CITATION_FIELDS - {"n"}) | {"score"} <= set(p) for p in data["retrieved"])
    assert {"retrieve", "compose", "total"} <= set(data["timings_ms"])


def test_ask_with_history_and_refusal(assistant):
    r = run_cli("ask", "--json", "What is the capital of Australia?")
    assert r.returncode == 0 and json.loads(r.stdout)["refused"] is True
    r = run_cli(
        "ask", "--json", "--history", "What did the city of Nuremberg do to adapt the national integration courses?",
        "What was it called?",
    )
    data = json.loads(r.stdout)
    assert "ZAM" in " ".join(p["text"] for p in data["retrieved"][:5])


def test_readable_output_lists_sources(assistant):
    r = run_cli("ask", "What does the EPC brief recommend about rural municipalities?")
    assert r.returncode == 0
    assert "Sources:" in r.stdout and "004_e378ebee438f39d1.txt, lines" in r.stdout


def test_bad_questions_get_a_clear_message(assistant):
    for q in ["", "   \n\t "]:
        r = run_cli("ask", q)
        assert r.returncode == 2 and "question is empty" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("ask", "x" * 100_000)
    assert r.returncode == 2 and "too long" in r.stderr and "Traceback" not in r.stderr


def test_unreadable_files_are_refused_and_the_index_keeps_serving(data_copy, tmp_path):
    binary = tmp_path / "report.pdf"
    binary.write_bytes(bytes(range(256)) * 40)
    r = run_cli("ingest", str(binary), data_dir=data_copy)
    assert r.returncode == 3 and "report.pdf" in r.stderr and "Traceback" not in r.stderr
    txt_binary = tmp_path / "notes.txt"
    txt_binary.write_bytes(b"\x00\x01\x02" * 500)
    r = run_cli("ingest", str(txt_binary), str(tmp_path / "missing.docx"), data_dir=data_copy)
    assert r.returncode == 3 and "binary" in r.stderr and "missing.docx" in r.stderr
    r = run_cli("ingest", str(tmp_path / "x.exe"), data_dir=data_copy)
    assert r.returncode == 3 and "unsupported" in r.stderr
    r = run_cli("ask", "--json", "What did the Berlin mayor do about Istanbul?", data_dir=data_copy)
    assert r.returncode == 0 and json.loads(r.stdout)["citations"]


def test_adding_a_report_and_reingesting_it(data_copy, tmp_path):
    doc = tmp_path / "lisbon-pilot.md"
    doc.write_text(
        "# Lisbon pilot on welcome desks\n\n## Findings\n\n"
        + "The municipality of Lisbon opened three multilingual welcome desks for newly arrived residents in 2019. "
        "Each desk pairs a municipal clerk with a cultural mediator from the Cape Verdean community association. "
        "Over two years the desks handled about 12,000 visits and referred most visitors to language classes. "
        "The city council financed the desks from its own budget after a national grant ran out in 2020. "
        "An evaluation found that residents who used the desks registered with health services sooner.\n",
        encoding="utf-8",
    )
    r = run_cli("ingest", str(doc), "--title", "Lisbon welcome desk pilot", "--year", "2021", data_dir=data_copy)
    assert r.returncode == 0, r.stderr
    assert "added" in r.stdout and "newly embedded" in r.stdout
    r = run_cli("ask", "--json", "How many visits did the Lisbon welcome desks handle?", data_dir=data_copy)
    data = json.loads(r.stdout)
    assert not data["refused"] and data["citations"][0]["title"] == "Lisbon welcome desk pilot"
    assert "12,000" in data["answer"]
    cited = data["citations"][0]
    lines = (data_copy / "sources" / cited["source"]).read_text(encoding="utf-8").splitlines()
    assert text_in_span(cited["text"], "\n".join(lines[cited["start_line"] - 1 : cited["end_line"]]))
    # unchanged: nothing to do
    r = run_cli("ingest", str(doc), data_dir=data_copy)
    assert r.returncode == 0 and "unchanged" in r.stdout and "nothing to do" in r.stdout
    # changed: its passages are replaced
    doc.write_text(doc.read_text(encoding="utf-8").replace("12,000", "15,500"), encoding="utf-8")
    r = run_cli("ingest", str(doc), data_dir=data_copy)
    assert r.returncode == 0 and "replaced" in r.stdout and "lisbon-pilot.txt" in r.stdout
    r = run_cli("ask", "--json", "How many visits did the Lisbon welcome desks handle?", data_dir=data_copy)
    data = json.loads(r.stdout)
    assert "15,500" in data["answer"] and "12,000" not in json.dumps(data["retrieved"])


def test_a_report_gets_the_names_officials_use_for_it(data_copy, tmp_path):
    # --alias: "the Porto note" names the added report; ingested again with another name it is
    # 'updated' (same text) and keeps only the new one beside its title
    doc = tmp_path / "porto.md"
    doc.write_text(
        "# Porto reception desks\n\nThe city of Porto opened two reception desks for refugees in 2018. "
        "Each desk works with a volunteer interpreter from a migrant association. "
        "The desks referred most visitors to housing support and to the language classes of the parish councils.\n",
        encoding="utf-8",
    )
    def added() -> dict:
        return next(e for e in json.loads(run_cli("reports", "--json", data_dir=data_copy).stdout) if e.get("origin"))

    r = run_cli("ingest", str(doc), "--alias", "Porto note", "--alias", "desk memo", data_dir=data_copy)
    assert r.returncode == 0, r.stderr
    entry = added()
    assert {"Porto note", "desk memo", "Porto reception desks"} <= set(entry["aliases"])
    r = run_cli("ask", "--json", "According to the Porto note, where were visitors referred?", data_dir=data_copy)
    data = json.loads(r.stdout)
    assert not data["refused"] and {c["source"] for c in data["citations"]} == {entry["source"]}
    r = run_cli("ingest", str(doc), "--alias", "Porto pilot", data_dir=data_copy)
    assert r.returncode == 0 and "updated" in r.stdout, r.stdout
    aliases = added()["aliases"]
    assert "Porto pilot" in aliases and "desk memo" not in aliases
    r = run_cli("ingest", str(doc), data_dir=data_copy)
    assert "unchanged" in r.stdout


def test_corrupted_data_directory_gets_a_clear_message(data_copy):
    state = data_copy / "index" / "state.json"
    good = state.read_text()
    state.write_text("{ not json")
    r = run_cli("ask", "What do the reports say about city networks?", data_dir=data_copy)
    assert r.returncode == 4 and "corrupted" in r.stderr and "index --rebuild" in r.stderr
    assert "Traceback" not in r.stderr
    state.write_text(good)
    gen = json.loads(good)["generation"]
    (data_copy / "index" / gen / "passages.jsonl").write_text("garbage\n")
    r = run_cli("ask", "What do the reports say about city networks?", data_dir=data_copy)
    assert r.returncode == 4 and "corrupted" in r.stderr
    r = run_cli("index", "--rebuild", data_dir=data_copy, timeout=900)
    assert r.returncode == 0, r.stderr
    r = run_cli("ask", "--json", "What do the reports say about city networks?", data_dir=data_copy)
    assert r.returncode == 0 and json.loads(r.stdout)["citations"]


def test_missing_data_directory_is_created(tmp_path, assistant):
    # a fresh folder: the index is built there on first use (reusing nothing), then answers
    target = tmp_path / "fresh"
    r = run_cli("index", "--status", data_dir=target)
    assert r.returncode == 0 and json.loads(r.stdout)["built"] is False
    assert (REPO / "knowledge_base" / "manifest.json").exists()
