"""Build the user-report fixtures (PDF and DOCX) from the verbatim texts in sources/*.md.

    python -m evals.user_reports.build_fixtures

Each source becomes
- ``fixtures/<name>.pdf`` (reportlab): A5 pages with a running header (the short title), a running
  footer (the publisher line and "Page N"), headings set larger and bold, justified body text;
  the PDF's metadata title is an unhelpful word-processor name, as in many real files, so the title
  must come from the first page;
- ``fixtures/<name>.docx`` (python-docx): Title and Heading styles, list items in the List Bullet
  style, the author in the document properties.

The fixtures are committed; rerun this after editing a source (the eval's gold spans refer to the
ingested text, so check them with ``python -m evals.user_reports --check``).
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
FIXTURES = HERE / "fixtures"

META = {
    "eu_integration_action": {
        "header": "Integration and inclusion across levels of government",
        "footer": "European Union institutional texts on integration",
        "author": "European Commission; European Union Agency for Asylum",
        "pdf_title": "Microsoft Word - draft_v3.docx",
    },
    "eesc_civil_society_local": {
        "header": "Civil society, local and regional authorities",
        "footer": "European Economic and Social Committee and Committee of the Regions",
        "author": "European Economic and Social Committee",
        "pdf_title": "",
    },
}


def blocks(md: str):
    """(kind, level, text) for each heading, paragraph and list item of a source."""
    for para in re.split(r"\n\s*\n", md.strip()):
        lines = [x.strip() for x in para.splitlines() if x.strip()]
        if not lines:
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", lines[0])
        if m and len(lines) == 1:
            yield "heading", len(m.group(1)), m.group(2)
        elif all(x.startswith("- ") for x in lines):
            for x in lines:
                yield "item", 0, x[2:]
        else:
            yield "para", 0, " ".join(lines)


def build_pdf(name: str, md: str, out: Path) -> None:
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer

    meta = META[name]
    body = ParagraphStyle("body", fontName="Times-Roman", fontSize=10, leading=13, alignment=TA_JUSTIFY, spaceAfter=6)
    heads = {
        1: ParagraphStyle("h1", fontName="Helvetica-Bold", fontSize=17, leading=21, spaceAfter=10),
        2: ParagraphStyle("h2", fontName="Helvetica-Bold", fontSize=13, leading=16, spaceBefore=8, spaceAfter=6),
        3: ParagraphStyle("h3", fontName="Helvetica-Bold", fontSize=11, leading=14, spaceBefore=6, spaceAfter=4),
    }

    def furniture(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica-Oblique", 7.5)
        w, h = A5
        canvas.drawString(15 * mm, h - 10 * mm, meta["header"])
        canvas.drawString(15 * mm, 9 * mm, meta["footer"])
        canvas.drawRightString(w - 15 * mm, 9 * mm, f"Page {doc.page}")
        canvas.restoreState()

    story = []
    items: list = []
    for kind, level, text in blocks(md):
        if kind != "item" and items:
            story.append(ListFlowable(items, bulletType="bullet", leftIndent=12))
            items = []
        esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if kind == "heading":
            story.append(Paragraph(esc, heads[min(level, 3)]))
        elif kind == "item":
            items.append(ListItem(Paragraph(esc, body)))
        else:
            story.append(Paragraph(esc, body))
    if items:
        story.append(ListFlowable(items, bulletType="bullet", leftIndent=12))
    story.append(Spacer(1, 4))
    doc = SimpleDocTemplate(str(out), pagesize=A5, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=meta["pdf_title"], author="", creator="")
    doc.build(story, onFirstPage=furniture, onLaterPages=furniture)


def build_docx(name: str, md: str, out: Path) -> None:
    import datetime

    import docx

    document = docx.Document()
    document.core_properties.author = META[name]["author"]
    document.core_properties.title = ""
    document.core_properties.created = datetime.datetime(2024, 5, 1)
    for kind, level, text in blocks(md):
        if kind == "heading":
            if level == 1:
                document.add_paragraph(text, style="Title")
            else:
                document.add_heading(text, level=level - 1)
        elif kind == "item":
            document.add_paragraph(text, style="List Bullet")
        else:
            document.add_paragraph(text)
    document.save(str(out))


def main() -> int:
    FIXTURES.mkdir(exist_ok=True)
    for src in sorted(SOURCES.glob("*.md")):
        md = src.read_text(encoding="utf-8")
        build_pdf(src.stem, md, FIXTURES / f"{src.stem}.pdf")
        build_docx(src.stem, md, FIXTURES / f"{src.stem}.docx")
        print("built", src.stem)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
