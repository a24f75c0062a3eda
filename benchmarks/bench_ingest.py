"""Time to ingest one ~20-page PDF into an existing index (a copy of the data folder).

    python -m benchmarks.bench_ingest [--pages 20]

Builds a 20-page report PDF with running header, footer and page numbers from the user-report
fixture texts (evals/user_reports/sources, repeated with the page number in every paragraph so no
two pages are alike), copies the data folder (its index must exist: run any command once), and
times `add_user_report` + the index update, as `policy-assistant ingest` does. Target: <= 60 s on
two cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build_pdf(path: Path, pages: int) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    from evals.user_reports.build_fixtures import blocks

    body = ParagraphStyle("b", fontName="Times-Roman", fontSize=10.5, leading=14)
    head = ParagraphStyle("h", fontName="Helvetica-Bold", fontSize=14, leading=18, spaceBefore=8)
    texts = [s.read_text(encoding="utf-8") for s in sorted((REPO / "evals" / "user_reports" / "sources").glob("*.md"))]

    def furniture(canvas, doc):
        canvas.setFont("Helvetica-Oblique", 8)
        canvas.drawString(50, A4[1] - 30, "Benchmark report on local integration governance")
        canvas.drawString(50, 25, "Integration Policy Assistant benchmarks")
        canvas.drawRightString(A4[0] - 50, 25, str(doc.page))

    story = []
    for p in range(pages):
        for kind, level, text in blocks(texts[p % len(texts)]):
            esc = text.replace("&", "&amp;").replace("<", "&lt;")
            if kind == "heading":
                story.append(Paragraph(f"{p + 1}.{level} {esc}", head))
            else:
                story.append(Paragraph(f"(Part {p + 1}) {esc}", body))
            if len(story) > 0 and len(story) % 40 == 0:
                break
        story.append(PageBreak())
    SimpleDocTemplate(str(path), pagesize=A4).build(story, onFirstPage=furniture, onLaterPages=furniture)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from assistant.changes import ReportChanges
    from assistant.index import IndexManager
    from assistant.ingest import convert
    from assistant.settings import Settings, get_settings

    base = get_settings()
    IndexManager(base).ensure(progress=False)
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        pdf = work / "report.pdf"
        build_pdf(pdf, args.pages)
        import pdfplumber

        with pdfplumber.open(str(pdf)) as doc:
            n_pages = len(doc.pages)
        data = work / "data"
        shutil.copytree(base.data_dir, data, ignore=shutil.ignore_patterns("baseline_chroma", "feedback.sqlite3*"))
        settings = Settings(data_dir=data)
        t0 = time.perf_counter()
        conv = convert(pdf, settings)
        t1 = time.perf_counter()
        with ReportChanges(settings, command="bench_ingest") as tx:  # as `policy-assistant ingest` does
            meta, _ = tx.add(pdf, conv)
            state = tx.apply(progress=False)
        t2 = time.perf_counter()
        print(f"{n_pages}-page PDF: convert {t1 - t0:.1f} s, index update {t2 - t1:.1f} s "
              f"({state['embedded_passages']} passages embedded), total {t2 - t0:.1f} s; title {meta.title!r}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
