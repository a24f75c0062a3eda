"""PDF ingestion on small synthetic PDFs (reportlab): running headers, footers and page numbers
removed by their repetition, headings from font size and weight, wrapped headings joined,
paragraphs, pages of each line, title from the first page, hyphenation across lines."""

from __future__ import annotations

import pytest

reportlab = pytest.importorskip("reportlab")

from assistant.chunking import make_passages  # noqa: E402
from assistant.documents import page_of_line, pdf_convert  # noqa: E402
from assistant.models import ReportMeta  # noqa: E402
from assistant.structure import parse_document  # noqa: E402

BODY = (
    "Municipalities in the region coordinate their reception services with the national agency. "
    "They share data on arrivals every month and agree on a common plan for language courses. "
) * 6


def _pdf(path, pages=4, header="Local integration brief", footer="City Network Papers", title="A Study of Local Reception",
         hyphenated=False):
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A5)
    c.setTitle("Microsoft Word - final2.docx")
    w, h = A5
    for n in range(1, pages + 1):
        c.setFont("Helvetica-Oblique", 7)
        c.drawString(40, h - 25, header)
        c.drawString(40, 20, footer)
        c.drawRightString(w - 40, 20, str(n))
        y = h - 70
        if n == 1:
            c.setFont("Helvetica-Bold", 18)
            c.drawString(40, y, title)
            y -= 36
        c.setFont("Helvetica-Bold", 12)
        c.drawString(40, y, f"{n}. Coordination across levels")
        y -= 14
        c.drawString(40, y, "of government")
        y -= 22
        c.setFont("Times-Roman", 10)
        words = " ".join(
            f"In district {n}{i} the municipality coordinates service number {i} with the national agency and reports "
            f"to {i + n} partners every month." for i in range(10)
        ).split()
        line = ""
        lines = []
        for word in words:
            if len(line) + len(word) > 60:
                lines.append(line)
                line = word
            else:
                line = (line + " " + word).strip()
        lines.append(line)
        if hyphenated:
            lines[1] = lines[1] + " govern-"
            lines[2] = "ments " + lines[2]
        for ln in lines:
            c.drawString(40, y, ln)
            y -= 13
        c.showPage()
    c.save()
    return path


def test_running_header_footer_and_page_numbers_are_removed(tmp_path):
    conv = pdf_convert(_pdf(tmp_path / "r.pdf"))
    assert "Local integration brief" not in conv.text
    assert "City Network Papers" not in conv.text
    assert not any(line.strip().isdigit() for line in conv.text.splitlines())
    assert conv.page_labels == ["1", "2", "3", "4"]
    assert "Local integration brief" in conv.furniture


def test_headings_from_font_size_and_weight_and_wrapped_headings_joined(tmp_path):
    conv = pdf_convert(_pdf(tmp_path / "r.pdf"))
    headings = [x for x in conv.text.splitlines() if x.startswith("#")]
    assert headings[0] == "# A Study of Local Reception"
    assert "## 1. Coordination across levels of government" in headings
    assert len(headings) == 5  # the title and one (wrapped) section heading per page


def test_title_from_first_page_when_metadata_is_a_file_name(tmp_path):
    conv = pdf_convert(_pdf(tmp_path / "r.pdf"))
    assert conv.title == "A Study of Local Reception"


def test_every_line_has_its_page_and_passages_a_section(tmp_path):
    conv = pdf_convert(_pdf(tmp_path / "r.pdf"))
    lines = conv.text.splitlines()
    assert page_of_line(conv.page_starts, 1) == 1
    assert page_of_line(conv.page_starts, len(lines)) == 4
    meta = ReportMeta(source="r.txt", title=conv.title, short_citation="r")
    passages = make_passages(parse_document(lines), meta)
    assert passages and all(p.section for p in passages)
    assert all("Coordination across levels" not in p.text for p in passages)  # headings stay out of quotes


def test_a_word_hyphenated_across_lines_is_joined(tmp_path):
    conv = pdf_convert(_pdf(tmp_path / "r.pdf", hyphenated=True))
    lines = conv.text.splitlines()
    passages = make_passages(parse_document(lines), ReportMeta(source="r.txt", title="t", short_citation="r"))
    text = " ".join(p.text for p in passages)
    assert "governments" in text and "govern- ments" not in text


def test_no_furniture_is_guessed_from_a_two_page_file(tmp_path):
    conv = pdf_convert(_pdf(tmp_path / "r.pdf", pages=2))
    # two pages are too few to call a line a running header: it stays (as text), nothing is lost
    assert "Coordination across levels" in conv.text
