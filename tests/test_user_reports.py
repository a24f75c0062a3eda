"""A report a user adds, end to end: the PDF fixture (not shipped) ingested without --title into a
copy of the data folder, then asked about: its title, sections, pages and no running header text."""

from __future__ import annotations

import json

from conftest import REPO, run_cli

FIXTURE = REPO / "evals" / "user_reports" / "fixtures" / "eesc_civil_society_local.pdf"


def test_ingested_pdf_is_cited_with_title_section_and_page(data_copy):
    proc = run_cli("ingest", str(FIXTURE), data_dir=data_copy)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((data_copy / "user_reports.json").read_text(encoding="utf-8"))[0]
    assert meta["title"] == "Civil society, local and regional authorities and the integration of immigrants"
    assert (data_copy / "sources" / "eesc_civil_society_local.txt.pages.json").exists()
    text = (data_copy / "sources" / "eesc_civil_society_local.txt").read_text(encoding="utf-8")
    assert "European Economic and Social Committee and Committee of the Regions" not in text  # the running footer
    proc = run_cli("ask", "--json", "What does the EESC propose that municipal and regional authorities set up for civil society?",
                   data_dir=data_copy)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    ours = [c for c in answer["citations"] if c["source"] == "eesc_civil_society_local.txt"]
    assert ours and all(c["page"] and c["section"] for c in ours)
    proc = run_cli("ask", "What does the EESC propose that municipal and regional authorities set up for civil society?",
                   data_dir=data_copy)
    assert "p. " in proc.stdout and "lines" in proc.stdout
