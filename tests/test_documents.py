"""DOCX, HTML and Markdown ingestion on small synthetic files: headings from styles and markup,
list items and captions as body text, tables kept, metadata for the title and the citation."""

from __future__ import annotations

from assistant.chunking import make_passages
from assistant.documents import docx_convert, html_convert, markdown_title
from assistant.ingest import _short_citation
from assistant.models import ReportMeta
from assistant.structure import parse_document

PARA = "The city council funds language courses for newcomers and evaluates them every year with partners. " * 3


def para(n: int) -> str:
    """A paragraph of its own (identical paragraphs would be taken for a pull quote printed twice)."""
    return " ".join(f"In area {n}{i} the council runs service {i} for newcomers with {n + i} local partners." for i in range(6))


def _passages(text: str):
    return make_passages(parse_document(text.splitlines()), ReportMeta(source="x.txt", title="Report", short_citation="x"))


def test_docx_headings_lists_tables_and_metadata(tmp_path):
    import docx

    d = docx.Document()
    d.core_properties.author = "Jane Smith, Omar Haddad"
    d.add_paragraph("Welcoming Cities Report", style="Title")
    d.add_heading("Language courses", level=1)
    d.add_paragraph(PARA)
    d.add_paragraph("The programme offers:")
    for item in ("Evening classes", "Childcare", "Online tutoring"):
        d.add_paragraph(item, style="List Bullet")
    d.add_heading("Funding by level", level=2)
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "Level", "Share"
    t.cell(1, 0).text, t.cell(1, 1).text = "City", "60 percent"
    path = tmp_path / "r.docx"
    d.save(str(path))
    conv = docx_convert(path)
    lines = conv.text.splitlines()
    assert conv.title == "Welcoming Cities Report"
    assert "## Language courses" in lines and "### Funding by level" in lines
    assert "- Evening classes" in lines  # a list item, not a heading
    assert any("City | 60 percent" in x for x in lines)
    passages = _passages(conv.text)
    assert not any(p.section.endswith(("Evening classes", "Childcare", "The programme offers:")) for p in passages)
    assert any("Childcare" in p.text for p in passages)
    assert _short_citation(conv.authors, conv.title, 2024) == "Smith & Haddad 2024"


def test_html_headings_and_captions(tmp_path):
    html = (
        "<html><head><title>Site | Report</title></head><body><nav>Home</nav><h1>Inclusive Towns</h1>"
        "<h2>Housing</h2><p>" + para(1) + "</p><table><caption>Table 2. Funding by level 3</caption>"
        "<tr><th>Level</th><th>Share</th></tr><tr><td>Region</td><td>40</td></tr></table>"
        "<h2>Schools</h2><p>" + para(2) + "</p><footer>Copyright</footer></body></html>"
    ).encode()
    conv = html_convert(html)
    assert conv.title == "Inclusive Towns"
    assert "Home" not in conv.text and "Copyright" not in conv.text
    passages = _passages(conv.text)
    sections = {p.section for p in passages}
    assert sections <= {"Housing", "Schools", "Inclusive Towns > Housing", "Inclusive Towns > Schools"}, sections
    assert any("Region | 40" in p.text for p in passages)


def test_sentence_ending_in_colon_is_not_a_section():
    text = "# Report\n\n## Services\n\n" + para(1) + "\n\nThe city offers three services to newcomers:\n\n- advice\n- housing\n\n" + para(2)
    sections = {p.section for p in _passages(text)}
    assert not any(s.endswith(":") for s in sections), sections


def test_markdown_caption_with_footnote_number_is_not_a_heading():
    text = ("# Report\n\n## Funding\n\n" + para(1) + "\n\n**Table 3: Budgets by level of government**4\n\n" + para(2) +
            "\n\n## Housing\n\n" + para(3))
    sections = [p.section for p in _passages(text)]
    assert not any("Table 3" in s for s in sections), sections
    assert any(s.endswith("Housing") and "Table" not in s for s in sections)


def test_markdown_title():
    assert markdown_title("Intro line\n\n# The Real Title\n\ntext") == "The Real Title"


def test_short_citation_of_an_institution():
    assert _short_citation("European Economic and Social Committee", "Opinion", 2011) == "European Economic and Social Committee 2011"
