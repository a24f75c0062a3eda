"""Changes to the added reports — add, replace, remove — each applied to the index as one unit.

``ReportChanges`` holds the data folder's write lock (``locking``) from the moment it reads the
list of added reports until the index and the list agree again, so two ingests never interleave:
the second waits (up to ``ingest.lock_timeout_s``) and then sees the first one's report.
``apply()`` stages the converted texts and the new list in ``pending/`` (``journal``), builds the
new generation and commits. On an error the change is rolled back (the index, the list and the
texts stay as they were); on a kill it stays pending until `index --resume` or `index --discard`.

Names are stable and never collide: a new report gets its file's stem (``report.txt``, or
``report-2.txt`` when that name is taken), a report ingested again from the same path keeps its
name and is replaced, the same text from elsewhere is recognised as already there.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from .documents import Converted
from .errors import IngestError, InputError
from .index import IndexManager
from .ingest import (
    _aliases,
    _short_citation,
    all_sources,
    load_manifest,
    load_registry,
    pages_path,
    report_meta,
    sha256_bytes,
    source_name,
    user_registry_path,
)
from .journal import Journal, write_json_atomic
from .locking import LockBusy, holder, say_waiting, writer_lock
from .models import ReportMeta
from .settings import Settings

RESUME = "policy-assistant index --resume"
DISCARD = "policy-assistant index --discard"


class ReportChanges:
    """``with ReportChanges(settings) as tx: tx.add(path, conv); tx.remove(name); tx.apply()``"""

    def __init__(self, settings: Settings, command: str = "ingest", wait_message: bool = True):
        self.settings = settings
        self.command = command
        self.manager = IndexManager(settings)
        self.journal = Journal(settings.data_dir)
        self._lock = writer_lock(settings.data_dir, command, settings.ingest.lock_timeout_s,
                                 on_wait=say_waiting if wait_message else None)
        self.summary: list[str] = []

    def __enter__(self) -> ReportChanges:
        self._lock.__enter__()
        try:
            _recover(self.settings)
            data = self.journal.read()
            if data is not None:
                raise IngestError(f"{_pending_text(data)}. Run `{RESUME}` to finish it or `{DISCARD}` to drop it, "
                                  "then try again.")
            self.entries: list[dict] = load_registry(self.settings)
            self._before = json.dumps(self.entries, sort_keys=True)
            self.shipped = load_manifest(self.settings.knowledge_base_dir)
            self.staged: dict[str, Converted] = {}
            self.removed: list[str] = []
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._lock.__exit__(*exc)

    # ------------------------------------------------------------------ changes
    def _taken(self) -> set[str]:
        folder = self.settings.data_dir / "sources"
        on_disk = {p.name for p in folder.glob("*.txt")} if folder.is_dir() else set()
        return ({m.source for m in self.shipped} | {e["source"] for e in self.entries} | set(self.staged)
                | (on_disk - set(self.removed)))

    def _text_digest(self, entry: dict) -> str | None:
        if self.staged.get(entry["source"]) is not None:
            return sha256_bytes(self.staged[entry["source"]].text.encode("utf-8"))
        if entry.get("sha256"):
            return entry["sha256"]
        try:
            return sha256_bytes((self.settings.data_dir / "sources" / entry["source"]).read_bytes())
        except OSError:
            return None

    def add(self, path: Path, conv: Converted, title: str | None = None, year: int | None = None,
            aliases: list[str] | None = None) -> tuple[ReportMeta, str]:
        """Stage one converted file. Returns its metadata and what happens: 'added', 'replaced'
        (ingested before from the same path, the text changed), 'updated' (same text, new title,
        year or names: ``aliases``) or 'unchanged'."""
        path = Path(path)
        origin = os.path.abspath(path)
        digest = sha256_bytes(conv.text.encode("utf-8"))

        def same_metadata(meta: ReportMeta) -> bool:
            return ((title is None or title == meta.title) and (year is None or year == meta.year)
                    and (aliases is None or set(_aliases(path, title or meta.title, aliases, meta)) == set(meta.aliases)))

        existing = next((e for e in self.entries if e.get("origin") == origin), None)
        if existing is None:
            # the same text from another path, or an entry from before origins were recorded
            same = next((e for e in self.entries if self._text_digest(e) == digest), None)
            if same is not None:
                meta = ReportMeta(**same)
                if same_metadata(meta):
                    return meta, "unchanged"
                existing = same
        if existing is not None:
            old = ReportMeta(**existing)
            name = old.source
            meta = report_meta(conv, path, name, title, year, old, aliases)
            if self._text_digest(existing) == digest and same_metadata(old):
                return old, "unchanged"
            status = "replaced" if self._text_digest(existing) != digest else "updated"
            if status == "updated":  # same text, a new title, year or names: the metadata changes, the passages' text not
                meta = old.model_copy(update={k: v for k, v in (("title", title), ("year", year)) if v is not None})
                meta = meta.model_copy(update={"short_citation": _short_citation(meta.authors, meta.title, meta.year),
                                               "aliases": _aliases(path, meta.title, aliases, old)})
        else:
            name = source_name(path.stem, self._taken())
            meta = report_meta(conv, path, name, title, year, aliases=aliases)
            status = "added"
        entry = {**meta.model_dump(), "origin": origin, "file": path.name, "sha256": digest,
                 "added": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self.entries = [e for e in self.entries if e["source"] != name] + [entry]
        if status != "updated":
            self.staged[name] = conv
        self.summary.append(f"{status} {path.name} as {name}")
        return meta, status

    def resolve(self, ref: str) -> dict:
        """The added report ``ref`` names: its file name (with or without .txt), title or an alias
        (case-insensitive). Shipped reports are refused; an ambiguous name lists the candidates."""
        key = ref.strip().lower()
        for m in self.shipped:
            if key in {m.source.lower(), m.source.lower().removesuffix(".txt"), m.title.lower(),
                       *(a.lower() for a in m.aliases)}:
                raise InputError(f"'{ref}' is a shipped report ({m.source}, {m.title}); shipped reports cannot be removed "
                                 "(they are part of knowledge_base/, see README 'Adding a report')")
        by_name = [e for e in self.entries if key in {e["source"].lower(), e["source"].lower().removesuffix(".txt")}]
        if by_name:
            return by_name[0]
        found = [e for e in self.entries if key == e["title"].lower() or key in (a.lower() for a in e.get("aliases", []))]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InputError(f"'{ref}' names {len(found)} added reports: "
                             + "; ".join(f"{e['source']} ({e['title']})" for e in found) + ". Remove one by its file name")
        known = ", ".join(e["source"] for e in self.entries) or "none"
        raise InputError(f"no added report is called '{ref}' (added reports: {known}; `policy-assistant reports` lists them)")

    def remove(self, ref: str) -> ReportMeta:
        entry = self.resolve(ref)
        self.entries = [e for e in self.entries if e["source"] != entry["source"]]
        self.staged.pop(entry["source"], None)
        self.removed.append(entry["source"])
        self.summary.append(f"remove {entry['source']}")
        return ReportMeta(**entry)

    # ------------------------------------------------------------------ apply
    def apply(self, progress: bool = True) -> dict | None:
        """Stage, build, commit; None when nothing changed. The previous index serves throughout."""
        if not self.staged and not self.removed and json.dumps(self.entries, sort_keys=True) == self._before:
            return None
        j = self.journal
        shutil.rmtree(j.dir, ignore_errors=True)  # what a change killed while staging left (it has no journal)
        j.sources_dir.mkdir(parents=True)
        for name, conv in self.staged.items():
            (j.sources_dir / name).write_text(conv.text, encoding="utf-8")
            if conv.page_starts:
                pages_path(j.sources_dir / name).write_text(
                    json.dumps({"page_starts": conv.page_starts, "page_labels": conv.page_labels}), encoding="utf-8")
        j.write({
            "command": self.command,
            "pid": os.getpid(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "changes": self.summary,
            "registry": self.entries,
            "staged": {name: {"pages": bool(conv.page_starts)} for name, conv in self.staged.items()},
            "remove": self.removed,
            "phase": "staged",
        })
        return _run(self.settings, j, progress, rollback_on_error=True)


def _run(settings: Settings, journal: Journal, progress: bool, rollback_on_error: bool) -> dict:
    data = journal.read()
    manager = IndexManager(settings)
    try:
        sources = all_sources(settings, entries=data["registry"], staged_dir=journal.sources_dir)
        state = manager.build(progress=progress, sources=sources, journal=journal)
    except KeyboardInterrupt:
        raise
    except BaseException:
        if rollback_on_error:
            _discard(settings, journal)
        raise
    _finish(settings, journal.read() or data, journal)
    return state


def _finish(settings: Settings, data: dict, journal: Journal) -> None:
    """After the commit point: move the staged texts into data/sources, delete removed ones,
    write the list of added reports, drop the journal. Every step can be repeated."""
    folder = settings.data_dir / "sources"
    folder.mkdir(parents=True, exist_ok=True)
    for name, info in (data.get("staged") or {}).items():
        staged, target = journal.sources_dir / name, folder / name
        if staged.exists():
            os.replace(staged, target)
        if info.get("pages") and pages_path(staged).exists():
            os.replace(pages_path(staged), pages_path(target))
        elif not info.get("pages"):
            pages_path(target).unlink(missing_ok=True)
    for name in data.get("remove") or []:
        (folder / name).unlink(missing_ok=True)
        pages_path(folder / name).unlink(missing_ok=True)
    write_json_atomic(user_registry_path(settings), data["registry"])
    journal.remove()


def _discard(settings: Settings, journal: Journal) -> dict | None:
    """Drop a pending change: its staged texts, checkpoints, partial generation and collection.
    The index, the list of reports and their texts were never touched by it."""
    data = journal.read()
    manager = IndexManager(settings)
    state = _state(manager)
    if data and "unreadable" not in data:
        if state and data.get("collection") and data["collection"] != state.get("collection"):
            manager.drop_collection(data["collection"])
        gen = data.get("generation")
        if gen and (not state or gen != state["generation"]):
            shutil.rmtree(manager.root / gen, ignore_errors=True)
    manager._clear_abandoned()
    journal.remove()
    return data


def _state(manager: IndexManager) -> dict | None:
    try:
        return manager.read_state()
    except Exception:  # noqa: BLE001
        return None


def _committed(manager: IndexManager, data: dict | None) -> bool:
    """Did the pending change reach the commit point (state.json names its generation)?"""
    if not data or data.get("phase") != "committing" or not data.get("generation"):
        return False
    state = _state(manager)
    return bool(state) and state["generation"] == data["generation"]


def _recover(settings: Settings) -> None:
    """With the lock held: finish a change killed after its commit point; clear what a change
    killed while staging left (a pending folder without a journal)."""
    journal = Journal(settings.data_dir)
    data = journal.read()
    if data is None:
        if journal.dir.exists():
            shutil.rmtree(journal.dir, ignore_errors=True)
        return
    if "unreadable" not in data and _committed(IndexManager(settings), data):
        _finish(settings, data, journal)


def roll_forward(settings: Settings) -> bool:
    """For a reader (`ask`, `serve`): finish a change that reached the index but was killed before
    its last renames, if no writer is at work (then it finishes the change itself). True if done."""
    journal = Journal(settings.data_dir)
    data = journal.read()
    if data is None or "unreadable" in data or not _committed(IndexManager(settings), data):
        return False
    try:
        with writer_lock(settings.data_dir, "finishing an ingest", timeout_s=0):
            _recover(settings)
    except LockBusy:
        return False
    except OSError:  # a read-only data folder: serve the generation as it is (it carries its own reports)
        return False
    return True


# ---------------------------------------------------------------------- pending: status, resume, discard


def _pending_text(data: dict) -> str:
    if "unreadable" in data:
        return f"the record of an interrupted ingest is unreadable ({data['unreadable']})"
    what = "; ".join(data.get("changes") or []) or data.get("command", "an ingest")
    progress = data.get("progress") or {}
    where = data.get("phase", "?")
    if where == "embedding" and progress.get("total"):
        where += f" ({progress.get('done', 0)} of {progress['total']} passages embedded)"
    return f"an interrupted ingest is pending ({what}; started {data.get('started', '?')}, stopped while {where})"


def pending_status(settings: Settings) -> dict | None:
    """The change in ``pending/`` for `index --status`: None, or what it is, whether its process is
    still at work ('running') or was stopped ('interrupted'), and the commands that settle it."""
    journal = Journal(settings.data_dir)
    data = journal.read()
    if data is None:
        return None
    if "unreadable" in data:
        return {"state": "unreadable", "problem": data["unreadable"], "discard": DISCARD}
    writer = holder(settings.data_dir)
    running = bool(writer) and writer.get("pid") == data.get("pid")
    return {
        "state": "running" if running else "interrupted",
        "command": data.get("command"),
        "changes": data.get("changes"),
        "pid": data.get("pid"),
        "started": data.get("started"),
        "phase": data.get("phase"),
        "progress": data.get("progress"),
        **({} if running else {"resume": RESUME, "discard": DISCARD}),
    }


def pending_notice(settings: Settings) -> str | None:
    """One sentence for `ask` and `serve` about a pending change (None without one)."""
    status = pending_status(settings)
    if status is None:
        return None
    data = Journal(settings.data_dir).read() or {}
    if status["state"] == "running":
        return (f"an ingest is running ({'; '.join(status.get('changes') or [])}); answers come from the previous index "
                "until it has finished")
    return (f"{_pending_text(data)}; answers come from the previous index. Run `{RESUME}` to finish it "
            f"or `{DISCARD}` to drop it")


def resume(settings: Settings, progress: bool = True) -> dict | None:
    """`index --resume`: finish the pending change (its build reuses the vectors it had
    embedded). None when nothing is pending."""
    journal = Journal(settings.data_dir)
    with writer_lock(settings.data_dir, "index --resume", settings.ingest.lock_timeout_s, on_wait=say_waiting):
        _recover(settings)
        data = journal.read()
        if data is None:
            return None
        if "unreadable" in data:
            raise IngestError(f"{_pending_text(data)}: it cannot be resumed. Run `{DISCARD}` and ingest the files again")
        journal.update(pid=os.getpid(), resumed=time.strftime("%Y-%m-%dT%H:%M:%S"))
        state = _run(settings, journal, progress, rollback_on_error=False)
        return {**state, "changes": data.get("changes")}


def discard(settings: Settings) -> dict | None:
    """`index --discard`: drop the pending change. None when nothing is pending."""
    journal = Journal(settings.data_dir)
    with writer_lock(settings.data_dir, "index --discard", settings.ingest.lock_timeout_s, on_wait=say_waiting):
        data = journal.read()
        if data is not None and "unreadable" not in data and _committed(IndexManager(settings), data):
            _recover(settings)  # it had reached the index: finished, not discarded
            return {**data, "finished": True}
        _recover(settings)
        if journal.read() is None:
            return None
        return _discard(settings, journal)
