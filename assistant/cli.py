"""`policy-assistant`: ask, ingest, remove, reports, index, serve, mcp, eval, practices, recommendations."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .errors import AssistantError, IndexError_

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def _settings(args: argparse.Namespace):
    from .settings import Settings, get_settings

    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "backend", None):
        overrides["backend"] = args.backend
    return Settings(**overrides) if overrides else get_settings()


def cmd_ask(args: argparse.Namespace) -> int:
    from .guard import clean_question
    from .retrieval import RetrievalFilters
    from .service import Assistant

    settings = _settings(args)
    question = args.question if args.question != "-" else sys.stdin.read()
    clean_question(question, settings.max_question_chars)  # fail fast, before loading the index
    for earlier in args.history or []:
        if earlier and earlier.strip():  # empty ones are skipped, as the answer path does
            clean_question(earlier, settings.max_question_chars, what="an earlier question in the history (--history)")
    assistant = Assistant(settings, progress=not args.json)
    if args.json and assistant.notice:  # without --json the assistant printed it while loading
        print(f"note: {assistant.notice}", file=sys.stderr)
    filters = None
    if args.report or args.section_kind:
        filters = RetrievalFilters(sources=args.report or None, section_kinds=args.section_kind or None)
    answer = assistant.ask(question, history=args.history or [], filters=filters)
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    if answer.notice:
        print(f"note: {answer.notice}\n")
    print(answer.answer)
    if answer.removed_sentences:
        print("\nRemoved by the citation check (not supported by the cited passages):")
        for sentence in answer.removed_sentences:
            print(f"  - {sentence}")
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            page = f"p. {c.page}, " if c.page else ""
            print(f"  [{c.n}] {c.title} — {c.section or 'no section'} — {c.source}, {page}lines {c.start_line}-{c.end_line}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Convert every file first (a refused one is reported and skipped), then add them all to the
    index as one change under the data folder's lock (see assistant/changes.py)."""
    from .changes import DISCARD, RESUME, ReportChanges
    from .ingest import convert

    settings = _settings(args)
    failures = 0
    converted = []
    for raw in args.paths:
        path = Path(raw)
        try:
            converted.append((path, convert(path, settings, follow_symlinks=args.follow_symlinks)))
        except AssistantError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
    if not converted:
        return 3
    names = " ".join(p.name for p, _ in converted)
    try:
        with ReportChanges(settings, command=f"ingest {names}"[:200]) as tx:
            for path, conv in converted:
                single = len(args.paths) == 1
                meta, status = tx.add(path, conv, title=args.title if single else None, year=args.year,
                                      aliases=args.alias if single else None)
                print(f"{status}: {path} -> {meta.source} ({meta.title})")
            state = tx.apply(progress=True)
    except KeyboardInterrupt:
        print(f"interrupted: the previous index keeps serving. `{RESUME}` finishes this ingest, `{DISCARD}` drops it",
              file=sys.stderr)
        return 130
    if state:
        print(f"index updated: {state['passages']} passages ({state['embedded_passages']} newly embedded)")
    elif not failures:
        print("nothing to do: every file was ingested before with the same content")
    return 3 if failures else 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Remove added reports (by file name, title or alias) from the index, as one change."""
    from .changes import ReportChanges

    settings = _settings(args)
    with ReportChanges(settings, command="remove " + " ".join(args.names)) as tx:
        removed = [tx.remove(name) for name in args.names]
        state = tx.apply(progress=True)
    for meta in removed:
        print(f"removed: {meta.source} ({meta.title})")
    if state:
        print(f"index updated: {state['passages']} passages")
    return 0


def cmd_reports(args: argparse.Namespace) -> int:
    """The reports: shipped and added, with title, citation, passages in the index and pages."""
    from .changes import pending_notice
    from .index import IndexManager, _read_passages
    from .ingest import load_manifest, load_pages, load_registry

    settings = _settings(args)
    manager = IndexManager(settings)
    counts: dict[str, int] | None = None
    try:
        state = manager.read_state()
        if state:
            counts = {}
            for p in _read_passages(manager.root / state["generation"]):
                counts[p.source] = counts.get(p.source, 0) + 1
    except Exception:  # noqa: BLE001 - a damaged index: the list still shows the reports
        counts = None
    rows = []
    for kind, folder, entries in (("shipped", settings.knowledge_base_dir / "sources",
                                   [m.model_dump() for m in load_manifest(settings.knowledge_base_dir)]),
                                  ("added", settings.data_dir / "sources", load_registry(settings))):
        for e in entries:
            pages = load_pages(folder / e["source"])
            rows.append({
                "source": e["source"], "kind": kind, "title": e["title"], "short_citation": e["short_citation"],
                "year": e.get("year"), "passages": None if counts is None else counts.get(e["source"], 0),
                "pages": len(pages[0]) if pages else None, "aliases": e.get("aliases", []),
                **({"file": e.get("file"), "origin": e.get("origin"), "added": e.get("added")} if kind == "added" else {}),
            })
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for r in rows:
            extra = f", {r['pages']} pages" if r["pages"] else ""
            count = "not indexed" if r["passages"] is None else f"{r['passages']} passage{'s' * (r['passages'] != 1)}"
            print(f"{r['source']}  [{r['kind']}]  {r['short_citation']} — {r['title']}  ({count}{extra})")
        print(f"{len(rows)} reports ({sum(r['kind'] == 'added' for r in rows)} added); "
              "`policy-assistant remove NAME` removes an added one")
    notice = pending_notice(settings)
    if notice:
        print(f"note: {notice}", file=sys.stderr)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from .changes import discard, pending_notice, resume
    from .embeddings import prepare_encoder
    from .index import IndexManager

    settings = _settings(args)
    manager = IndexManager(settings)
    if args.status:
        status = manager.status()
        print(json.dumps(status, indent=2))
        return 0 if status["ok"] else IndexError_.exit_code
    if args.discard:
        data = discard(settings)
        if data is None:
            print("nothing to discard: no ingest is pending")
        elif data.get("finished"):
            print(f"nothing to discard: the pending change had already reached the index and was finished "
                  f"({'; '.join(data.get('changes') or [])})")
        else:
            print(f"discarded: {'; '.join(data.get('changes') or []) or 'the pending ingest'}; the index is as it was before it")
        return 0
    encoder = prepare_encoder(settings)  # hashes the ONNX encoder's files, exports it again if needed
    if args.resume:
        state = resume(settings, progress=True)
        if state is None:
            print("nothing to resume: no ingest is pending")
            return 0
        print(f"resumed and finished: {'; '.join(state.get('changes') or [])}")
    else:
        notice = pending_notice(settings)
        if notice:
            print(f"note: {notice}", file=sys.stderr)
        state = manager.build(progress=True, force=args.rebuild, reembed=args.re_embed)
    manager.load()
    store = manager.check_store(state)
    if not store["ok"]:
        raise IndexError_(
            f"Chroma does not hold this index ({store.get('problem') or str(store.get('count')) + ' passages of ' + str(store['expected'])}). "
            "Run `policy-assistant index --rebuild`."
        )
    print(f"index ready: generation {state['generation']}, {state['passages']} passages, built in {state.get('build_seconds', 0)} s "
          f"({state.get('embedded_passages', 0)} passages embedded); encoder: {encoder['backend']} ({encoder['model']})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import serve

    return serve(
        _settings(args),
        host=args.host,
        port=args.port,
        passcode=args.passcode,
        workshop=args.workshop,
        facilitator_passcode=args.facilitator_passcode,
        cors_origins=args.cors_origin,
    )


def cmd_mcp(args: argparse.Namespace) -> int:
    """The MCP server on standard input/output (for desktop AI clients)."""
    from .api.mcp_server import run_stdio

    return run_stdio(_settings(args))


def cmd_eval(args: argparse.Namespace, rest: list[str]) -> int:
    from evals.runner import main as eval_main

    return eval_main(rest)


def _level_arg(value: str) -> str:
    from .taxonomy import resolve_level

    try:
        return resolve_level(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _theme_arg(value: str) -> str:
    from .taxonomy import resolve_theme

    try:
        return resolve_theme(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_catalogue(args: argparse.Namespace) -> int:
    """`practices` / `recommendations`: browse the catalogue extracted from the reports."""
    from .catalogue import Catalogue
    from .service import Assistant
    from .taxonomy import level_name, theme_name

    assistant = Assistant(_settings(args), progress=not args.json)
    catalogue = getattr(assistant, "catalogue", None) or Catalogue.for_index(
        assistant.index, assistant.reports, assistant.settings
    )
    for problem in catalogue.problems:
        print(f"warning: catalogue overrides: {problem}", file=sys.stderr)
    records = catalogue.filter(kind=args.kind, level=args.level, theme=args.theme, country=args.country,
                               source=args.report)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2, ensure_ascii=False))
        return 0
    if args.counts:
        from collections import Counter

        for title, keyfn in (("report", lambda r: [r.source]), ("level", lambda r: [r.level or "unspecified"]),
                             ("theme", lambda r: r.themes or ["unclassified"])):
            counts = Counter(k for r in records for k in keyfn(r))
            print(f"{args.kind}s per {title}:")
            for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
                label = level_name(key) if title == "level" else theme_name(key) if title == "theme" else key
                print(f"  {n:4d}  {label}")
        print(f"{len(records)} {args.kind}s")
        return 0
    for r in records:
        where = ", ".join(x for x in (r.place, r.country) if x)
        head = " — ".join(x for x in (level_name(r.level) if r.level else "level not named", where,
                                       ", ".join(theme_name(t) for t in r.themes)) if x)
        print(f"{r.id}  {head}")
        print(f"  {r.summary}")
        print(f"  {r.short_citation} — {r.section or 'no section'} — {r.source}, lines {r.start_line}-{r.end_line}\n")
    print(f"{len(records)} {args.kind}s" + (" (none matches these filters)" if not records else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="policy-assistant", description="Cited answers from reports on migrant integration.")
    p.add_argument("--data-dir", help="data folder (default: ./data, or POLICY_ASSISTANT_DATA_DIR)")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    p.add_argument(
        "--backend",
        choices=["extractive", "openai", "ollama", "llamacpp"],
        help="answer backend (default: extractive, or POLICY_ASSISTANT_BACKEND); LLM settings in README",
    )
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("ask", help="answer one question")
    a.add_argument("question", help="the question ('-' reads it from standard input)")
    a.add_argument("--json", action="store_true", help="print the Answer JSON (see README)")
    a.add_argument("--history", action="append", metavar="EARLIER_QUESTION", help="an earlier question, oldest first (repeatable)")
    a.add_argument("--report", action="append", metavar="FILE", help="only search this report (file name; repeatable)")
    a.add_argument("--section-kind", action="append", choices=["body", "summary", "recommendations", "footnote"])
    a.set_defaults(func=cmd_ask)

    i = sub.add_parser("ingest", help="add reports (PDF, DOCX, HTML, Markdown, TXT) and update the index")
    i.add_argument("paths", nargs="+")
    i.add_argument("--title", help="title for a single report (default: the file's metadata or its first page)")
    i.add_argument("--year", type=int)
    i.add_argument("--alias", action="append", metavar="NAME",
                   help="a name officials use for a single report ('EPC brief'; repeatable): a question that says it "
                        "searches that report")
    i.add_argument("--follow-symlinks", action="store_true",
                   help="ingest the file a symbolic link points to (refused by default)")
    i.set_defaults(func=cmd_ingest)

    r = sub.add_parser("remove", help="remove added reports from the index (by file name, title or alias)")
    r.add_argument("names", nargs="+", metavar="NAME")
    r.set_defaults(func=cmd_remove)

    lr = sub.add_parser("reports", help="list the reports: shipped and added, with title, citation, passages, pages")
    lr.add_argument("--json", action="store_true")
    lr.set_defaults(func=cmd_reports)

    x = sub.add_parser("index", help="build the index (only what changed), or show its status")
    what = x.add_mutually_exclusive_group()
    what.add_argument("--rebuild", action="store_true",
                      help="build a new generation and Chroma collection from the reports (a damaged Chroma store is set "
                           "aside); stored vectors that check out are reused")
    what.add_argument("--status", action="store_true", help="verify the index and print its status as JSON (exit 4 if damaged)")
    what.add_argument("--resume", action="store_true", help="finish an interrupted ingest")
    what.add_argument("--discard", action="store_true", help="drop an interrupted ingest (the index stays as it was)")
    x.add_argument("--re-embed", action="store_true", help="with --rebuild: embed every passage again")
    x.set_defaults(func=cmd_index)

    s = sub.add_parser("serve", help="start the web chat and the APIs (OpenAI-compatible /v1, REST /api/v1, MCP /mcp) on one port")
    s.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--passcode", default=os.environ.get("POLICY_ASSISTANT_PASSCODE"), help="required with a public --host; in a workshop, the participants' passcode")
    s.add_argument("--workshop", metavar="NAME", help="workshop mode: scenario questions from knowledge_base/workshops/NAME.yaml, participant logins, facilitator page")
    s.add_argument(
        "--facilitator-passcode",
        default=os.environ.get("POLICY_ASSISTANT_FACILITATOR_PASSCODE"),
        help="the facilitator's passcode (user name 'facilitator'); generated and printed if omitted",
    )
    s.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                   help="a web origin whose pages may call the APIs (repeatable; default none: CORS off; or POLICY_ASSISTANT_CORS_ORIGINS)")
    s.set_defaults(func=cmd_serve)

    m = sub.add_parser("mcp", help="the MCP server on standard input/output (for desktop AI clients; `serve` has it at /mcp)")
    m.set_defaults(func=cmd_mcp)

    for name, kind, what in (("practices", "practice", "what actors did, where"),
                             ("recommendations", "recommendation", "what the reports say someone should do")):
        c = sub.add_parser(name, help=f"list the {name} the reports describe ({what})")
        c.add_argument("--level", type=_level_arg, help="acting / addressed level: an id, a readable name or a short form (origin, city, national, eu ...)")
        c.add_argument("--theme", type=_theme_arg, help="theme: an id, a readable name or a short form (jobs, language, housing ...)")
        c.add_argument("--country", help="country or place, e.g. Senegal, Austria, Lyon")
        c.add_argument("--report", metavar="FILE", help="only this report (file name)")
        c.add_argument("--json", action="store_true", help="print a JSON list of records (with source, start_line, end_line, text)")
        c.add_argument("--counts", action="store_true", help="print counts per report, level and theme instead of the records")
        c.set_defaults(func=cmd_catalogue, kind=kind)

    e = sub.add_parser("eval", help="run the evaluation suite (see `policy-assistant eval --help`)", add_help=False)
    e.set_defaults(func=None)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    positionals = [i for i, a in enumerate(argv) if not a.startswith("-") and (i == 0 or argv[i - 1] not in ("--data-dir", "--backend"))]
    if positionals and argv[positionals[0]] == "eval":
        at = positionals[0]
        head, rest = argv[: at + 1], argv[at + 1 :]
        args = parser.parse_args(head)
    else:
        args, rest = parser.parse_args(argv), []
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.data_dir:
        os.environ["POLICY_ASSISTANT_DATA_DIR"] = str(Path(args.data_dir).resolve())
    if args.backend:
        os.environ["POLICY_ASSISTANT_BACKEND"] = args.backend
    try:
        if args.command == "eval":
            return cmd_eval(args, rest)
        return args.func(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
