"""`policy-assistant`: ask, ingest, index, serve, eval."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .errors import AssistantError

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def _settings(args: argparse.Namespace):
    from .settings import Settings, get_settings

    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return Settings(**overrides) if overrides else get_settings()


def cmd_ask(args: argparse.Namespace) -> int:
    from .guard import clean_question
    from .retrieval import RetrievalFilters
    from .service import Assistant

    settings = _settings(args)
    question = args.question if args.question != "-" else sys.stdin.read()
    clean_question(question, settings.max_question_chars)  # fail fast, before loading the index
    assistant = Assistant(settings, progress=not args.json)
    filters = None
    if args.report or args.section_kind:
        filters = RetrievalFilters(sources=args.report or None, section_kinds=args.section_kind or None)
    answer = assistant.ask(question, history=args.history or [], filters=filters)
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    print(answer.answer)
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"  [{c.n}] {c.title} — {c.section or 'no section'} — {c.source}, lines {c.start_line}-{c.end_line}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from .index import IndexManager
    from .ingest import add_user_report

    settings = _settings(args)
    failures, changed = 0, 0
    for raw in args.paths:
        path = Path(raw)
        try:
            meta, was_changed = add_user_report(path, settings, title=args.title if len(args.paths) == 1 else None, year=args.year)
        except AssistantError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        changed += was_changed
        print(f"{'added' if was_changed else 'unchanged'}: {path} -> {meta.source} ({meta.title})")
    if changed:
        state = IndexManager(settings).build(progress=True)
        print(f"index updated: {state['passages']} passages ({state['embedded_passages']} newly embedded)")
    elif not failures:
        print("nothing to do: every file was ingested before with the same content")
    return 3 if failures else 0


def cmd_index(args: argparse.Namespace) -> int:
    from .index import IndexManager

    manager = IndexManager(_settings(args))
    if args.status:
        print(json.dumps(manager.status(), indent=2))
        return 0
    state = manager.build(progress=True, force=args.rebuild)
    manager.load()
    print(f"index ready: generation {state['generation']}, {state['passages']} passages, built in {state.get('build_seconds', 0)} s")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import serve

    return serve(_settings(args), host=args.host, port=args.port, passcode=args.passcode)


def cmd_eval(args: argparse.Namespace, rest: list[str]) -> int:
    from evals.runner import main as eval_main

    return eval_main(rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="policy-assistant", description="Cited answers from reports on migrant integration.")
    p.add_argument("--data-dir", help="data folder (default: ./data, or POLICY_ASSISTANT_DATA_DIR)")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
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
    i.add_argument("--title", help="title for a single report (default: its first line)")
    i.add_argument("--year", type=int)
    i.set_defaults(func=cmd_ingest)

    x = sub.add_parser("index", help="build the index (only what changed), or show its status")
    x.add_argument("--rebuild", action="store_true", help="re-embed everything")
    x.add_argument("--status", action="store_true", help="print the index status as JSON")
    x.set_defaults(func=cmd_index)

    s = sub.add_parser("serve", help="start the web chat")
    s.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--passcode", default=os.environ.get("POLICY_ASSISTANT_PASSCODE"), help="required with a public --host")
    s.set_defaults(func=cmd_serve)

    e = sub.add_parser("eval", help="run the evaluation suite (see `policy-assistant eval --help`)", add_help=False)
    e.set_defaults(func=None)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    positionals = [i for i, a in enumerate(argv) if not a.startswith("-") and (i == 0 or argv[i - 1] != "--data-dir")]
    if positionals and argv[positionals[0]] == "eval":
        at = positionals[0]
        head, rest = argv[: at + 1], argv[at + 1 :]
        args = parser.parse_args(head)
    else:
        args, rest = parser.parse_args(argv), []
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.data_dir:
        os.environ["POLICY_ASSISTANT_DATA_DIR"] = str(Path(args.data_dir).resolve())
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
