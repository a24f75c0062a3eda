"""Each extraction repair, checked on a real example from the reports; line spans; structure."""

from __future__ import annotations

import re
import unicodedata

from conftest import source_lines

from assistant.chunking import make_passages
from assistant.cleaning import note_markers, text_in_span
from assistant.ingest import furniture_for, load_manifest
from assistant.structure import parse_document

F000, F001, F002, F003, F004 = (
    "000_a5ab5183360c038e.txt",
    "001_45261df8c35e07ff.txt",
    "002_5f0ffbab9fdb2741.txt",
    "003_443b9585100afe3f.txt",
    "004_e378ebee438f39d1.txt",
)


def of(passages, source):
    return [p for p in passages if p.source == source]


def body(passages, source):
    return [p for p in of(passages, source) if p.section_kind != "footnote"]


def test_every_report_is_ingested(passages, settings):
    sources = {m.source for m in load_manifest(settings.knowledge_base_dir)}
    assert sources == {p.source for p in passages}
    for s in sources:
        assert len(of(passages, s)) >= 20, s


def test_every_passage_text_stands_in_its_line_span(passages):
    for p in passages:
        lines = source_lines(p.source)
        assert 1 <= p.start_line <= p.end_line <= len(lines), p.passage_id
        span = "\n".join(lines[p.start_line - 1 : p.end_line])
        assert text_in_span(p.text, span), p.passage_id


def test_span_check_rejects_text_from_elsewhere(passages):
    a, b = passages[10], passages[200]
    span_a = "\n".join(source_lines(a.source)[a.start_line - 1 : a.end_line])
    assert not text_in_span(b.text, span_a)


def test_span_check_allows_dropped_note_numbers_only_at_line_starts():
    span = "36   Ibid.\n37 The centre is a public institution set up in 2008.\n38 A. Author, A study, 2014."
    assert text_in_span("Ibid. The centre is a public institution set up in 2008. A. Author, A study, 2014.", span)
    # a figure inside a line is text, not a note number
    assert not text_in_span("In the centre opened its doors to the public.", "In 2008 the centre opened its doors to the public.")


def test_passages_are_sized_for_citation(passages):
    sizes = [len(p.text.split()) for p in passages if p.section_kind != "footnote"]
    in_range = [n for n in sizes if 40 <= n <= 200]
    assert len(in_range) / len(sizes) > 0.85
    assert max(sizes) <= 260


def test_split_ligatures_are_joined(passages):
    raw = "\n".join(source_lines(F002))
    assert "specifi c" in raw and "fi rst" in raw
    text = " ".join(p.text for p in of(passages, F002))
    assert "specifi c" not in text and "fi rst" not in text and " fl exible" not in text
    assert "locally specific" in text and "The first is" in text


def test_hyphenation_across_lines_is_repaired(passages):
    raw = "\n".join(source_lines(F002))
    assert "govern-\nments" in raw
    text = " ".join(p.text for p in of(passages, F002))
    assert "govern- ments" not in text and "govern-ments" not in text
    assert "local governments" in text
    # a real compound keeps its hyphen
    assert "co-development" in text


def test_glued_footnote_markers_are_removed(passages):
    raw = "\n".join(source_lines(F000))
    assert "their countries of origin.11" in raw
    text = " ".join(p.text for p in body(passages, F000))
    assert "their countries of origin." in text
    assert "origin.11" not in text
    assert not re.search(r"[a-z]\.\d{1,3}\s+[A-Z]", text)
    # after a comma, before a lower-case word: "the MATRA programme,90 both funded by …"
    assert "the MATRA programme,90 both" in raw and "the MATRA programme, both funded" in text
    assert not re.search(r"[a-z],\d{1,3}\s+[a-z]", text)
    # after a year that ends a sentence: "reforms only recently, in 2012.44 As a result"
    assert "in 2012.44 As" in raw and "in 2012. As a result" in text


def test_footnote_text_becomes_its_own_marked_passages(passages):
    notes = [p for p in of(passages, F000) if p.section_kind == "footnote"]
    assert any("INTERACT priority countries of origin are: Algeria" in p.text for p in notes)
    # and that fact is not mixed into body passages
    assert not any("INTERACT priority countries of origin are:" in p.text for p in body(passages, F000))
    sup = [p for p in of(passages, F001) if p.section_kind == "footnote"]
    assert any(p.text.startswith("In sequence: Helsinki 1975") for p in sup)


def test_sentence_interrupted_by_footnote_block_is_rejoined(passages):
    # 000 lines 188-189: "...aim to support migrant integration at" [footnotes 12-13] "destination, and those..."
    text = " ".join(p.text for p in body(passages, F000))
    assert "clearly aim to support migrant integration at destination, and those that have a symbolic" in text


def test_sentence_interrupted_by_a_box_is_rejoined(passages):
    # 004 line 25 stops at "(AMIF) and"; an authors' box (names, affiliations) follows; line 47 goes on
    # "the European Social Fund (ESF), ...": one sentence again, and the box is not glued to it
    sentences = [s for p in body(passages, F004) for s in p.sentences]
    assert any(s.startswith("Local authorities can acquire funding") and "(AMIF) and the European Social Fund (ESF)" in s
               for s in sentences)
    assert not any("University of Hildesheim the European" in s for s in sentences)
    # the box is a passage of its own, searchable but not quoted, and the text after it is not merged into it
    box = next(p for p in body(passages, F004) if p.sentences[0] == "Janina Stürner")
    assert set(box.titles) == set(range(len(box.sentences)))
    assert not any(s.startswith("Therefore, within the framework") for s in box.sentences)


def test_sentence_interrupted_by_footnotes_and_reference_lines_is_rejoined(passages):
    # 001 line 292 stops at "financed from the national"; footnote 22 (line 296) goes on with two
    # reference lines (297-298) printed right under it; line 300 goes on "level, while service delivery ..."
    sentences = [s for p in body(passages, F001) for s in p.sentences]
    assert any("financed from the national level, while service delivery is managed by regional or local authorities."
               in s for s in sentences)
    assert not any("financed from the national M. Martinelli" in s for s in sentences)
    notes = " ".join(p.text for p in of(passages, F001) if p.section_kind == "footnote")
    assert "Case-studies from Eight Cities" in notes
    # 001 line 470 ("... Funding has been") and 478 ("allocated from the three cities ..."), with footnote 34
    # and a reference entry (476) in between
    assert any("Funding has been allocated from the three cities and the ministries" in s for s in sentences)


def test_bullet_that_lost_its_mark_is_no_heading(passages):
    # 003 line 627 " Improve formal and informal coordination on integration policy. Improving coordination",
    # a blank line, then "between local and national governments is not just a matter of statutory duties."
    sentences = [s for p in body(passages, F003) for s in p.sentences]
    assert "Improving coordination between local and national governments is not just a matter of statutory duties." in sentences


def test_each_note_is_its_own_text_without_its_number(passages):
    # 000 lines 468-469: "36   Ibid." and "37 The India Centre for Migration (ICM) is ..." are two notes
    sentences = [s for p in of(passages, F000) if p.section_kind == "footnote" for s in p.sentences]
    assert ("The India Centre for Migration (ICM) is a public institution formerly known as the Indian Council of "
            "Overseas Employment (ICOE).") in sentences
    assert not any("Ibid. 37" in s or s.startswith("37 ") for s in sentences)
    # 003 line 299 "13 For example, approximate figures for Flanders ..." follows note 12 after a box: a note too
    notes = [p for p in of(passages, F003) if p.section_kind == "footnote"]
    assert any(p.text.startswith("For example, approximate figures for Flanders in 2012") for p in notes)
    assert not any("approximate figures for Flanders" in p.text for p in body(passages, F003))


def test_note_markers_are_read_before_they_are_stripped():
    assert note_markers("involvement from 35 cities<sup>15</sup> and led to") == [15]
    assert note_markers("Intercultural competences23 have been integrated into job") == [23]
    assert note_markers("specific courses for women and men.17") == [17]
    assert note_markers("There are 80 formal partnerships between municipalities") == []
    assert note_markers("the expert institute, Art.1, named after the constitution") == []


def test_a_passage_knows_the_notes_it_cites_and_a_note_passage_the_notes_it_holds(passages):
    # 003: "Intercultural competences23 have been integrated into job profiles" cites note 23, which defines them
    citing = [p for p in body(passages, F003) if any("Intercultural competences have been integrated" in s for s in p.sentences)]
    assert citing and 23 in citing[0].cites
    note = [p for p in of(passages, F003) if 23 in p.notes]
    assert len(note) == 1 and note[0].section_kind == "footnote"
    opening = [i for i, s in enumerate(note[0].sentences) if s.startswith("The city defines intercultural competences")]
    assert opening and opening[0] in note[0].note_starts


def _texts(lines: list[str], kind: str) -> list[str]:
    return [b.text for b in parse_document(lines) if b.kind == kind]


def _paragraphs(lines: list[str]) -> list[str]:
    return _texts(lines, "paragraph")


def test_box_between_the_halves_of_a_sentence_moves_after_it():
    lines = [
        "# Funding", "",
        "Cities can draw on several funds for their integration work, such as the national fund and", "",
        "Anna Example", "", "Research Fellow, Some University", "",
        "the regional programme for newcomers. Both require co-funding.", "",
        "A new paragraph starts here and ends properly.",
    ]
    blocks = parse_document(lines)
    assert [(b.kind, b.text) for b in blocks if b.kind != "heading"] == [
        ("paragraph", "Cities can draw on several funds for their integration work, such as the national fund and the "
                      "regional programme for newcomers. Both require co-funding."),
        ("aside", "Anna Example"), ("aside", "Research Fellow, Some University"),
        ("paragraph", "A new paragraph starts here and ends properly."),
    ]


def test_reference_lines_under_a_footnote_join_it_and_the_sentence_resumes():
    lines = [
        "# Funding", "",
        "Most of the services that newcomers rely on in their first years are paid for by the national", "",
        "<sup>4</sup> A. Author, The first study, City: Publisher, 2014.",
        "B. Writer, The second study, City: Publisher, 2016.", "",
        "level, while the cities deliver them.",
    ]
    assert _texts(lines, "paragraph") == [
        "Most of the services that newcomers rely on in their first years are paid for by the national level, "
        "while the cities deliver them."
    ]
    assert _texts(lines, "footnote") == [
        "A. Author, The first study, City: Publisher, 2014. B. Writer, The second study, City: Publisher, 2016."
    ]


def test_numbered_notes_are_split_and_lose_their_numbers():
    lines = [
        "# Partners", "",
        "The centre advises the ministry on migration and runs training for officials in the states.", "",
        "36   Ibid.",
        "37 The centre is a public institution. It was set up by the ministry in July 2008 to serve as a",
        "think tank on 12 matters of migration.",
        "38 A. Author, A study of centres, City: Publisher, 2014.",
    ]
    assert _texts(lines, "footnote") == [
        "Ibid.",
        "The centre is a public institution. It was set up by the ministry in July 2008 to serve as a think tank on "
        "12 matters of migration.",
        "A. Author, A study of centres, City: Publisher, 2014.",
    ]


def test_a_list_in_a_note_that_runs_over_the_page_is_finished_by_its_tail():
    lines = [
        "# Networks", "",
        "The network brought together practitioners from 20 cities<sup>3</sup> and issued recommendations.", "",
        "<sup>3</sup> Amsterdam (NL), Antwerp (BE), Athens (GR), Barcelona (ES), Bologna (IT),", "",
        "Cities also exchanged staff and visited each other's services during the programme.", "",
        "Sefton (UK), Stuttgart (DE), Turku (FI), Zurich (CH).",
    ]
    assert _texts(lines, "footnote") == [
        "Amsterdam (NL), Antwerp (BE), Athens (GR), Barcelona (ES), Bologna (IT), Sefton (UK), Stuttgart (DE), Turku (FI), "
        "Zurich (CH)."
    ]
    assert not any("Sefton" in t for t in _texts(lines, "paragraph"))


def test_note_list_tail_printed_after_the_body_rejoins_its_note(passages):
    # 001 note 15 (line 230) lists the CLIP cities up to "Prague (CZ),"; its tail "Sefton (UK), … Zurich (CH)."
    # stands at line 247, after the next page's bullets
    notes = [p for p in of(passages, F001) if p.section_kind == "footnote"]
    assert any("Prague (CZ), Sefton (UK)" in p.text and p.text.rstrip().endswith("Zurich (CH).") for p in notes)
    assert not any("Sefton (UK)" in p.text for p in body(passages, F001))


def test_list_items_after_an_unfinished_lead_in_are_not_taken_for_a_box():
    lines = [
        "# Measures", "",
        "The programme funded three kinds of activity across the partner towns", "",
        "- language cafés", "", "- mentoring", "",
        "and each was evaluated by the city council in 2019.",
    ]
    paragraphs = _paragraphs(lines)
    assert "language cafés" in " ".join(paragraphs)
    assert not any(p.startswith("The programme funded") and "evaluated" in p for p in paragraphs)


def test_a_long_paragraph_between_is_no_box():
    lines = [
        "# Measures", "",
        "The city opened a welcome desk for newcomers in the old town hall and", "",
        "This paragraph is long enough to be body text of its own, not a box of names or affiliations at all", "",
        "then closed it again.",
    ]
    assert not any(p.startswith("The city opened") and "closed it again" in p for p in _paragraphs(lines))


def test_text_after_a_page_number_inside_running_text_stays_body(passages):
    # 000 line 777 ends a sentence, line 778 is the page number "69", and line 779 (" New laws have
    # transferred ...") starts the next page: body text, not footnotes
    assert source_lines(F000)[777].strip() == "69"
    text = " ".join(p.text for p in body(passages, F000))
    assert "the conclusion of international partnerships is still conditional on the approval of the Turkish Ministry" in text
    assert "In the Philippines, decentralisation is viewed as an important element of democratisation." in text
    # while footnote text after a page number that follows an unfinished sentence stays a footnote
    notes = " ".join(p.text for p in of(passages, F000) if p.section_kind == "footnote")
    assert "MATRA stands for ‘societal transformation’" in notes


def test_pull_quotes_printed_twice_are_kept_once(passages):
    quote = "has the potential to effect cost-efficient integration management"
    assert " ".join(" ".join(source_lines(F000)).split()).count(quote) == 2
    assert sum(quote in p.text for p in passages) == 1


def test_running_headers_and_page_numbers_are_dropped(passages):
    header = "Building Inclusive Cities: Challenges in the Multilevel Governance of Immigrant Integration in Europe"
    assert header in [line.strip() for line in source_lines(F003)]
    for p in of(passages, F003):
        assert header not in p.text
        assert "MIGRATION POLICY INSTITUTE" not in p.text
        assert not re.search(r"(^|\s)\d{1,3}(\s|$)MIGRATION", p.text)


def test_decomposed_accents_are_composed(passages):
    raw = "\n".join(source_lines(F003))
    assert any(unicodedata.combining(ch) for ch in raw)
    for p in passages:
        assert not any(unicodedata.combining(ch) for ch in p.text), p.passage_id


def test_markdown_markup_is_stripped(passages):
    for p in of(passages, F001) + of(passages, F004):
        assert "<sup>" not in p.text and "**" not in p.text and "](#)" not in p.text, p.passage_id
        assert not re.search(r"[¹²³⁴⁵⁶⁷⁸⁹⁰]", p.text), p.passage_id
    text = " ".join(p.text for p in of(passages, F004))
    assert "promote inclusive narratives on migration" in text


def test_sections_are_detected(passages):
    secs = {p.section for p in of(passages, F003)}
    assert any(s.startswith("V. Conclusions and Recommendations") for s in secs)
    assert any("B. Combating Discrimination" in s for s in secs)
    osce = {p.section for p in of(passages, F001)}
    assert any(s.endswith("3.4.3 Funding distribution structures") for s in osce)
    recs = [p for p in of(passages, F000) if p.section_kind == "recommendations"]
    assert recs and all("CONCLUSION AND RECOMMENDATIONS" in p.section for p in recs)


def test_passage_ids_are_stable(settings):
    meta = next(m for m in load_manifest(settings.knowledge_base_dir) if m.source == F004)
    lines = source_lines(F004)
    first = [p.passage_id for p in make_passages(parse_document(lines, furniture_for(meta)), meta)]
    second = [p.passage_id for p in make_passages(parse_document(lines, furniture_for(meta)), meta)]
    assert first == second and len(set(first)) == len(first)


def test_a_list_item_title_heads_its_own_text(passages):
    """A bold list-item title ("**Germany: Widespread monitoring …** Efforts to …") opens the
    passage of the text it names; it is never left at the end of the passage before."""
    for p in passages:
        if p.section_kind == "footnote" or not p.titles or len(p.sentences) < 2:
            continue
        last = len(p.sentences) - 1
        if last in p.titles and last - 1 not in p.titles:
            follower = next((q for q in of(passages, p.source) if q.start_line >= p.end_line and q is not p
                             and q.section == p.section and q.section_kind == p.section_kind), None)
            # allowed only when nothing of the same section follows (a heading-like title at the end)
            assert follower is None or follower.start_line > p.end_line, (p.source, p.start_line, p.sentences[last])
    recs = {p.sentences[0]: p for p in of(passages, F004) if p.section_kind == "recommendations" and p.titles[:1] == [0]}
    assert "Changing narratives." in recs and "inclusive narratives" in recs["Changing narratives."].text


def test_a_long_list_item_is_searched_with_its_title(passages):
    """The pieces of a list item too long for one passage keep its title as their heading, which
    BM25 and the passage vector see (the piece naming Wiesbaden never says "Germany")."""
    from assistant.index import _bm25_text, dense_text

    germany = [p for p in of(passages, F001) if p.start_line <= 519 <= p.end_line and "Wiesbaden" in p.text]
    assert len(germany) == 1
    piece = germany[0]
    assert piece.heading.startswith("Germany: Widespread monitoring")
    assert "Germany" not in piece.text
    assert piece.heading in _bm25_text(piece) and dense_text(piece).startswith(piece.heading)
    # and a citation of it shows where it stands: "… > 3.4.5 Monitoring … > Germany: Widespread monitoring …"
    assert piece.section_path == f"{piece.section} > {piece.heading}"
    # the heading is searched, never quoted: it is not one of the passage's sentences
    assert piece.heading not in piece.sentences
    # a passage that holds its own title has no heading
    assert all(not p.heading for p in passages if 0 in p.titles)


def test_a_year_opening_a_line_is_no_numbered_item(passages):
    """"… Integrationskurse, introduced in" / "2005. Although most big cities …": the year ends the
    sentence of the line before (a numbered list item has one or two digits)."""
    text = " ".join(p.text for p in body(passages, F003))
    assert "Integrationskurse, introduced in 2005." in text
    assert not any(s.strip() == "2005." for p in of(passages, F003) for s in p.sentences)


def test_a_byline_under_the_title_names_the_authors_and_is_a_passage():
    from assistant.ingest import _guess_authors
    from assistant.structure import byline_names

    text = ("Chapter 8\nTranslocal Activities of Local Governments\n\n   Edith   van   Ewijk   and   Gery   Nijenhuis  \n\n"
            "Introduction\n\nLinkages between migrant source and destination countries can take many forms. Local "
            "governments and migrant organizations take part in activities and partnerships.\n")
    assert _guess_authors(text) == "Edith van Ewijk and Gery Nijenhuis"
    # the byline is a paragraph of the front matter, not a heading the next heading replaces
    blocks = parse_document(text.splitlines())
    assert any(b.kind == "paragraph" and "Nijenhuis" in b.lines[0][1] for b in blocks)
    assert not any(b.kind == "heading" and "Nijenhuis" in b.lines[0][1] for b in blocks)
    lower = {"take", "many", "forms", "activities", "partnerships", "local", "governments"}
    assert byline_names("By Jane Doe, John Smith & Ana de la Roe", lower) == ["Jane Doe", "John Smith", "Ana de la Roe"]
    # a title-case heading is no byline: its words are written in lower case elsewhere
    for line in ("Translocal Activities", "Local Governments and Partnerships", "Introduction", "Chapter 8 Activities",
                 "Jane Doe (ed.)"):
        assert byline_names(line, lower) == [], line
    # an author block: each name on a line of its own, then the person's position or affiliation
    block = ("A brief on cities\n\nCities acquire funding for integration through funds and\n\nJane Doe\n\n"
             "Research Fellow, University of Somewhere\n\nKarl Roe\n\nProfessor of policy analysis\n\n"
             "programmes like the urban actions.\n")
    assert _guess_authors(block) == "Jane Doe and Karl Roe"
    # a text without a byline has no authors guessed
    assert _guess_authors("Building Inclusive Cities\n\nCities are vital actors. They act.\n") == ""


def test_a_text_added_without_a_title_is_titled_by_its_first_title_like_block():
    from pathlib import Path

    from assistant.ingest import _guess_title

    path = Path("city_governance.txt")
    # an opening heading many reports share is skipped, a title wrapped over two lines is joined
    assert _guess_title("Executive Summary\n\nBuilding Inclusive Cities:\nChallenges of Integration\n\nBody text. More.",
                        path) == "Building Inclusive Cities: Challenges of Integration"
    # "Chapter 8" before the title is dropped; the body that follows without a blank line is not the title
    assert _guess_title("Chapter 8\nTranslocal Activities of Local Governments\n\nLinkages take many forms.", path) \
        == "Translocal Activities of Local Governments"
    assert _guess_title("INTERACT: Researching Integration\nApproximately 25 million persons live here. They work.", path) \
        == "INTERACT: Researching Integration"
    # a paragraph's wrapped first line is no title; with nothing like one, the file's name is
    assert _guess_title("Executive Summary\n\nCities are vital actors in the process of\nimmigrant integration. Yes.", path) \
        == "city governance"
