"""The knowledge index: dense passage vectors + bm25s (lexical) over the same passages, plus the
sentence embeddings that the extractive composer ranks.

Every build writes a new *generation* (a Chroma collection and a folder of files) and only then
switches ``state.json`` to it with an atomic rename, so a killed or failed build never replaces a
good index.  Unchanged passages keep their embeddings from the previous generation.

Chroma is the store of record, written at build time. Queries against the embedded store search
the generation's ``passage_vectors.npy`` with numpy (exact cosine, the ranking Chroma gives), so
answering a question never loads chromadb; with ``chroma_host`` set the Chroma server is queried
over HTTP. ``index --status`` and ``index`` check that Chroma holds the generation's passages.

One writer at a time (``locking.writer_lock``: every build holds the data folder's lock), and a
change to the added reports goes through ``pending/`` (``journal.py``): a build that is killed
leaves the previous generation serving and, for an ingest, a pending change that `index --resume`
finishes and `index --discard` drops; `ask` and `serve` never finish it on their own.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .embeddings import Embedder, get_embedder, vector_space
from .errors import IndexError_
from .ingest import CHUNKING_VERSION, SourceFile, all_sources, passages_for
from .journal import Journal, write_json_atomic
from .locking import holder, say_waiting, writer_lock
from .models import Passage, ReportMeta
from .settings import Settings
from .text import TEXT_VERSION, bm25_tokenize

log = logging.getLogger(__name__)
STATE_FILE = "state.json"
REPORTS_FILE = "reports.json"  # in a generation folder: the metadata of the reports it holds
REBUILD = "policy-assistant index --rebuild"
EMBED_GROUP = 32  # passages embedded (with their sentences) and checkpointed together
# cosine, and a search breadth far above dense_candidates: on a corpus of this size Chroma's HNSW
# search is then exact, the ranking the numpy search of the embedded store gives
COLLECTION_METADATA = {"hnsw:space": "cosine", "hnsw:search_ef": 512}


def _signature(settings: Settings, sources: list[SourceFile]) -> dict:
    return {
        "embedding_model": settings.embedding_model,
        # the vectors' model and precision, shared by encoder backends that give the same vectors
        # (onnx and sentence-transformers, both float32): switching between them keeps the index
        "encoder": vector_space(settings),
        "chunking_version": CHUNKING_VERSION,
        "text_version": TEXT_VERSION,  # the BM25 tokens
        "passage_words": [settings.passage_min_words, settings.passage_target_words, settings.passage_max_words],
        "sources": {s.meta.source: s.sha256 for s in sources},
        # titles, citations and years are stored in every passage: a change of them is a change
        "metadata": _metadata_digest(sources),
        "chroma": f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else "embedded",
    }


def _metadata_digest(sources: list[SourceFile]) -> str:
    import hashlib

    blob = json.dumps([s.meta.model_dump() for s in sources], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _encoder_of(signature: dict) -> str | None:
    """The signature's vector space. Indexes built before it was recorded were all embedded by
    sentence-transformers in float32, which the ONNX encoder reproduces (cosine >= 0.999): they
    count as that space and are reused as they are."""
    if "encoder" in signature:
        return signature["encoder"]
    return f"{signature['embedding_model']}:float32" if "embedding_model" in signature else None


def signature_matches(stored: dict | None, current: dict) -> bool:
    if not isinstance(stored, dict):
        return False
    return {**stored, "encoder": _encoder_of(stored)} == current


def import_bm25s():
    """bm25s, without the optional accelerators it imports whenever they are installed: numba
    and scipy.sparse (ranx, for the evaluation, brings both) cost ~90 MB and ~0.15 s per process,
    yet this index uses bm25s' numpy backend for building and retrieval (``BM25()`` defaults:
    ``backend="numpy"``, ``csc_backend="numpy"``), which needs neither. Modules the process has
    already imported are left as they are, and the block ends with the import."""
    import sys

    if "bm25s" in sys.modules:
        return sys.modules["bm25s"]
    blocked = [name for name in ("numba", "scipy.sparse") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # `import name` raises ImportError: bm25s falls back to numpy
    try:
        import bm25s
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    # bm25s sets its own logger to DEBUG, so "DEBUG bm25s: Building index from tokens" reached
    # stderr on every build: let it follow the application's logging level instead
    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


def chroma_client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    path = settings.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def chroma_path(settings: Settings) -> Path:
    return settings.data_dir / "chroma"


def _sqlite_problem(path: Path) -> str | None:
    """SQLite's own quick check of the embedded Chroma store's database (read only)."""
    import sqlite3

    db = path / "chroma.sqlite3"
    if not db.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=15)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return f"{db} is damaged ({exc})"
    result = "; ".join(str(r[0]) for r in rows[:3])
    return None if result == "ok" else f"{db} is damaged (SQLite quick_check: {result[:300]})"


def _reraise_interrupts(exc: BaseException) -> None:
    """Chroma's Rust core reports some failures as a PanicException, a BaseException: treat it
    as an error, but never swallow Ctrl+C or an exit."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        raise exc


def embedded_store_problem(settings: Settings) -> str | None:
    """Why the embedded Chroma store cannot be opened and written (None: it can)."""
    path = chroma_path(settings)
    if not path.exists():
        return None
    problem = _sqlite_problem(path)
    if problem:
        return problem
    try:
        chroma_client(settings).list_collections()
    except BaseException as exc:  # noqa: BLE001
        _reraise_interrupts(exc)
        return f"{path} cannot be opened ({type(exc).__name__}: {exc})"
    return None


def set_aside_embedded_store(settings: Settings, problem: str) -> Path:
    """Move a damaged embedded Chroma store out of the way (kept, not deleted) so that a fresh one
    is written; returns where it went."""
    path = chroma_path(settings)
    aside = path.with_name(f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    path.rename(aside)
    try:  # chromadb keeps one client system per path in the process: forget the damaged one
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # noqa: BLE001
        pass
    print(f"note: the Chroma store was damaged ({problem}); it was moved to {aside} (delete it when you no "
          "longer need it) and a fresh one is written", file=sys.stderr)
    return aside


@dataclass
class LoadedIndex:
    """A complete generation, ready to query."""

    settings: Settings
    generation: str
    passages: list[Passage]
    collection_name: str
    bm25: object
    sentence_vectors: np.ndarray  # (n_sentences, dim), rows in passage order
    sentence_owner: np.ndarray  # (n_sentences,) index into passages
    passage_vectors: np.ndarray
    embedder: Embedder
    _collection: object = field(default=None, repr=False)
    reports: list[ReportMeta] | None = None  # the generation's own report metadata (None: built before it was kept)

    def __post_init__(self) -> None:
        self.by_id = {p.passage_id: i for i, p in enumerate(self.passages)}
        self.sentence_start = np.zeros(len(self.passages) + 1, dtype=np.int64)
        counts = np.bincount(self.sentence_owner, minlength=len(self.passages))
        self.sentence_start[1:] = np.cumsum(counts)

    def sentence_rows(self, passage_index: int) -> range:
        return range(int(self.sentence_start[passage_index]), int(self.sentence_start[passage_index + 1]))

    @property
    def collection(self):
        """The generation's Chroma collection, opened on first use (queries against the embedded
        store do not need it)."""
        if self._collection is None:
            self._collection = chroma_client(self.settings).get_collection(self.collection_name, embedding_function=None)
        return self._collection

    def dense_search(self, query_vector: np.ndarray, n: int, allowed: np.ndarray,
                     where: dict | None = None, ids: list[str] | None = None) -> list[int]:
        """The ``n`` passages nearest to ``query_vector`` by cosine among ``allowed`` (a mask over
        ``passages``), best first, as positions in ``passages``. The embedded store is searched
        exactly in numpy over the persisted passage vectors; a Chroma server is queried with
        ``where`` / ``ids``, the same restriction as ``allowed`` in Chroma's terms."""
        if n <= 0:
            return []
        if self.settings.chroma_host:
            res = self.collection.query(
                query_embeddings=[np.asarray(query_vector).tolist()], n_results=n, where=where, ids=ids,
                include=["distances"],
            )
            return [self.by_id[pid] for pid in res["ids"][0] if pid in self.by_id]
        candidates = np.flatnonzero(allowed)
        # cosine distance as Chroma computes it (1 - dot of unit vectors), smallest first; ties by position
        distance = 1.0 - self.passage_vectors[candidates] @ np.asarray(query_vector, dtype=np.float32)
        order = np.argsort(distance, kind="stable")[:n]
        return candidates[order].tolist()


class IndexManager:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.data_dir / "index"
        # set by ensure(): what the user should know about the index being served (an interrupted
        # ingest pending, another process updating it), else None
        self.notice: str | None = None

    # ------------------------------------------------------------------ state
    def _state_path(self) -> Path:
        return self.root / STATE_FILE

    def read_state(self) -> dict | None:
        path = self._state_path()
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            state["generation"]  # noqa: B018 - presence check
            return state
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexError_(
                f"the index state file {path} is corrupted ({exc}). Run `{REBUILD}` "
                f"to build a fresh index (the reports themselves are not affected)."
            ) from exc

    def is_current(self) -> bool:
        state = self.read_state()
        if state is None:
            return False
        return signature_matches(state.get("signature"), _signature(self.settings, all_sources(self.settings)))

    def writer(self, command: str, wait_message: bool = True):
        """The data folder's write lock (see ``locking``), waiting up to ``ingest.lock_timeout_s``."""
        return writer_lock(self.settings.data_dir, command, self.settings.ingest.lock_timeout_s,
                           on_wait=say_waiting if wait_message else None)

    # ------------------------------------------------------------------ status
    def status(self) -> dict:
        """``index --status``: the generation, verified (files present and readable, counts that
        agree, Chroma's collection readable and complete) rather than taken from ``state.json``;
        ``problems`` lists what is damaged with the command that repairs it; ``pending`` an
        interrupted (or running) ingest; ``writer`` the process that holds the lock."""
        from .changes import pending_status
        from .embeddings import encoder_status
        from .errors import AssistantError

        problems: list[dict] = []
        state = None
        try:
            state = self.read_state()
        except IndexError_ as exc:
            problems.append({"problem": str(exc), "repair": REBUILD})
        sources = None
        try:
            sources = all_sources(self.settings)
        except AssistantError as exc:
            problems.append({"problem": str(exc), "repair": "restore the file, or `policy-assistant remove NAME` the report"})
        if state:
            problems += [{"problem": p, "repair": REBUILD} for p in self.verify_generation(state)]
        store = self.check_store(state) if state else None
        if store is not None and not store["ok"]:
            what = store.get("problem") or f"it holds {store.get('count')} of the {store.get('expected')} passages"
            problems.append({"problem": f"the Chroma store does not hold this index: {what}", "repair": REBUILD})
        encoder = encoder_status(self.settings, verify=True)
        signature_ok = bool(state) and sources is not None and signature_matches(
            state.get("signature"), _signature(self.settings, sources))
        return {
            "data_dir": str(self.settings.data_dir),
            "built": state is not None,
            "generation": state and state["generation"],
            "passages": state and state.get("passages"),
            # reports, model, chunking and Chroma target unchanged, and the generation verified
            "up_to_date": signature_ok and not problems,
            "ok": not problems,
            "problems": problems,
            "repair": problems[0]["repair"] if problems else None,
            "pending": pending_status(self.settings),
            "writer": holder(self.settings.data_dir),
            "reports": [s.meta.source for s in sources] if sources is not None else None,
            "embedding_model": self.settings.embedding_model,
            "encoder": encoder,
            # the backend that embedded this generation ("sentence-transformers" before it was recorded)
            "built_with": state and (state.get("encoder") or {"backend": "sentence-transformers"}),
            "chroma": f"{self.settings.chroma_host}:{self.settings.chroma_port}" if self.settings.chroma_host else "embedded",
            "store": store,
        }

    def verify_generation(self, state: dict) -> list[str]:
        """What is wrong with the generation's files (empty: nothing): every file present and
        readable, the counts agreeing with each other and with the state, vectors of unit length."""
        gen_dir = self.root / str(state.get("generation"))
        if not gen_dir.is_dir():
            return [f"the index generation {gen_dir} is missing"]
        problems = []
        if not (gen_dir / "COMPLETE").exists():
            problems.append(f"the index generation {gen_dir} is incomplete (no COMPLETE marker)")
        loaded: dict = {}
        for name, read in (
            ("passages.jsonl", _read_passages),
            ("passage_vectors.npy", lambda d: np.load(d / "passage_vectors.npy")),
            ("sentence_vectors.npy", lambda d: np.load(d / "sentence_vectors.npy")),
            ("sentence_owner.npy", lambda d: np.load(d / "sentence_owner.npy")),
            ("bm25", lambda d: import_bm25s().BM25.load(str(d / "bm25"))),
            (REPORTS_FILE, _read_reports),
        ):
            try:
                loaded[name] = read(gen_dir)
            except Exception as exc:  # noqa: BLE001 - anything here is damage
                problems.append(f"{gen_dir / name} is unreadable ({type(exc).__name__}: {str(exc)[:200]})")
        if problems:
            return problems
        passages, pvecs, svecs, owners = (loaded[k] for k in ("passages.jsonl", "passage_vectors.npy",
                                                             "sentence_vectors.npy", "sentence_owner.npy"))
        n = len(passages)
        checks = [
            (n == state.get("passages"), f"passages.jsonl holds {n} passages, the state records {state.get('passages')}"),
            (pvecs.ndim == 2 and pvecs.shape[0] == n, f"passage_vectors.npy has shape {pvecs.shape} for {n} passages"),
            (svecs.ndim == 2 and svecs.shape[0] == len(owners), f"sentence_vectors.npy has {svecs.shape[0]} rows for {len(owners)} sentences"),
            (state.get("sentences") in (None, len(owners)), f"{len(owners)} sentences, the state records {state.get('sentences')}"),
            (pvecs.ndim == 2 and svecs.ndim == 2 and pvecs.shape[1] == svecs.shape[1], "passage and sentence vectors differ in dimension"),
            (len(owners) == 0 or (owners.min() >= 0 and owners.max() < n and bool(np.all(np.diff(owners) >= 0))),
             "sentence_owner.npy points outside the passages"),
        ]
        problems += [f"the index in {gen_dir} is inconsistent: {msg}" for ok, msg in checks if not ok]
        if problems:
            return problems
        for name, vecs in (("passage_vectors.npy", pvecs), ("sentence_vectors.npy", svecs)):
            if len(vecs) and (not np.all(np.isfinite(vecs)) or np.abs(np.linalg.norm(vecs, axis=1) - 1).max() > 1e-2):
                problems.append(f"{gen_dir / name} holds vectors that are not unit length (damaged)")
        reports = loaded[REPORTS_FILE]
        if reports is not None:
            missing = sorted({p.source for p in passages} - {r.source for r in reports})
            if missing:
                problems.append(f"{gen_dir / REPORTS_FILE} lacks the reports {', '.join(missing)}")
        return problems

    def check_store(self, state: dict | None) -> dict:
        """Does Chroma (the store of record) hold this generation's collection with every passage?"""
        out = {"collection": (state or {}).get("collection"), "expected": (state or {}).get("passages")}
        if not state:
            return {**out, "ok": False, "problem": "no index"}
        if not self.settings.chroma_host:
            if not chroma_path(self.settings).exists():
                return {**out, "ok": False, "problem": f"{chroma_path(self.settings)} is missing"}
            problem = _sqlite_problem(chroma_path(self.settings))
            if problem:
                return {**out, "ok": False, "problem": problem}
        try:
            collection = chroma_client(self.settings).get_collection(state["collection"], embedding_function=None)
            count = collection.count()
            sample = []
            gen_dir = self.root / state["generation"]
            try:
                passages = _read_passages(gen_dir)
                sample = [passages[i].passage_id for i in sorted({0, len(passages) // 2, len(passages) - 1}) if passages]
            except Exception:  # noqa: BLE001 - the files' own damage is reported by verify_generation
                pass
            found = len(collection.get(ids=sample, include=[])["ids"]) if sample else 0
        except BaseException as exc:  # noqa: BLE001 - a missing collection, a damaged store or a server that is down
            _reraise_interrupts(exc)
            return {**out, "ok": False, "problem": f"{type(exc).__name__}: {str(exc)[:300]}"}
        ok = count == state.get("passages") and found == len(sample)
        return {**out, "count": count, "ok": ok, **({} if ok or count != state.get("passages")
                                                    else {"problem": f"{len(sample) - found} of {len(sample)} sampled passages missing"})}

    # ------------------------------------------------------------------ serving
    def ensure(self, progress: bool = True) -> LoadedIndex:
        """The index to serve. Built or updated first when the reports, the model or the chunking
        changed — but never to finish an ingest that was interrupted: then the previous complete
        generation is served and ``notice`` says that the ingest is pending. While another process
        holds the write lock, the current generation is served if there is one."""
        from .changes import pending_notice, roll_forward

        self.notice = None
        roll_forward(self.settings)  # a change killed after its commit point: finish its last renames
        notice = pending_notice(self.settings)
        if notice:
            try:
                index = self.load()
            except IndexError_ as exc:
                raise IndexError_(f"{exc} Note: {notice}") from exc
            self.notice = notice
            return index
        if self.is_current():
            return self.load()
        busy = holder(self.settings.data_dir)
        if busy:
            try:
                index = self.load()
                from .locking import describe

                self.notice = f"{describe(busy)} is updating the index; answering from the previous one"
                return index
            except IndexError_:
                pass  # nothing to serve: wait for the other build below
        with self.writer("index build (first use or a change of reports, model or chunking)", wait_message=progress):
            notice = pending_notice(self.settings)
            if notice:  # an ingest was interrupted while we waited
                self.notice = notice
            elif not self.is_current():
                self.build(progress=progress)
        return self.load()

    # ------------------------------------------------------------------ build
    def build(self, progress: bool = True, force: bool = False, *, sources: list[SourceFile] | None = None,
              journal: Journal | None = None, reembed: bool = False) -> dict:
        """Build a new generation from ``sources`` (default: the shipped and the added reports)
        unless the current one already matches (or ``force``), reusing the vectors of passages that
        did not change (unless ``reembed``) and, for an ingest (``journal``), the vectors its
        interrupted build had checkpointed. Holds the data folder's write lock throughout."""
        with self.writer("index build", wait_message=progress):
            if journal is None:  # a change killed after its commit point is finished first, not rebuilt away
                from .changes import _recover

                _recover(self.settings)
            return self._build(progress, force, sources, journal, reembed)

    def _build(self, progress: bool, force: bool, sources: list[SourceFile] | None, journal: Journal | None,
               reembed: bool) -> dict:
        from tqdm import tqdm

        t0 = time.perf_counter()
        self._clear_abandoned()
        sources = all_sources(self.settings) if sources is None else sources
        signature = _signature(self.settings, sources)
        try:
            old_state = self.read_state()
        except IndexError_:
            old_state = None  # a corrupted state is replaced by this build
        if old_state and signature_matches(old_state.get("signature"), signature) and not force:
            return old_state
        if journal is not None:
            journal.progress("reading", force=True)

        passages: list[Passage] = []
        for src in tqdm(sources, desc="Reading reports", unit="report", disable=not progress):
            passages.extend(passages_for(src, self.settings))
        if not passages:
            raise IndexError_("no passages were produced from the reports; is knowledge_base/sources empty?")

        embedder = get_embedder(self.settings)
        reuse = {} if reembed else self._reusable_vectors(old_state, embedder, passages)
        if journal is not None and not reembed:
            reuse.update(_valid_vectors(journal.saved_vectors(), embedder.dimension))
        # the same text split into sentences differently (a chunking change) cannot reuse sentence vectors
        n_sentences = {p.passage_id: len(p.sentences) for p in passages}
        reuse = {pid: v for pid, v in reuse.items() if pid in n_sentences and len(v["s"]) == n_sentences[pid]}
        vectors, embedded = self._embed(passages, reuse, embedder, progress, journal)
        pvecs = np.stack([vectors[p.passage_id]["p"] for p in passages]).astype(np.float32)
        svecs = np.concatenate([np.asarray(vectors[p.passage_id]["s"], dtype=np.float32).reshape(-1, embedder.dimension)
                                for p in passages])
        owners = np.array([i for i, p in enumerate(passages) for _ in p.sentences], dtype=np.int64)

        if not self.settings.chroma_host:
            problem = embedded_store_problem(self.settings)
            if problem:
                set_aside_embedded_store(self.settings, problem)
        generation = f"g{int(time.time() * 1000):x}"
        gen_dir = self.root / generation
        tmp_dir = self.root / (generation + ".partial")
        tmp_dir.mkdir(parents=True, exist_ok=True)
        collection_name = f"{self.settings.collection_prefix}_{generation}"
        if journal is not None:
            journal.update(collection=collection_name)
            journal.progress("writing", force=True)
        client = None
        switched = False
        try:
            try:
                client = chroma_client(self.settings)
                collection = client.create_collection(collection_name, metadata=COLLECTION_METADATA, embedding_function=None)
                for a in tqdm(range(0, len(passages), 256), desc="Writing Chroma index", unit="batch", disable=not progress):
                    batch = passages[a : a + 256]
                    collection.add(
                        ids=[p.passage_id for p in batch],
                        embeddings=pvecs[a : a + len(batch)].tolist(),
                        documents=[p.text for p in batch],
                        metadatas=[
                            {
                                "source": p.source,
                                "section": p.section,
                                "section_kind": p.section_kind,
                                "start_line": p.start_line,
                                "end_line": p.end_line,
                            }
                            for p in batch
                        ],
                    )
            except BaseException as exc:  # noqa: BLE001 - chromadb raises many types, its Rust core a PanicException
                _reraise_interrupts(exc)
                where = f"the Chroma server {self.settings.chroma_host}:{self.settings.chroma_port}" if self.settings.chroma_host \
                    else f"the Chroma store {chroma_path(self.settings)}"
                raise IndexError_(
                    f"could not write {where} ({type(exc).__name__}: {str(exc)[:300]}); the previous index keeps serving. "
                    + ("Check that the server is running, then try again." if self.settings.chroma_host else f"Run `{REBUILD}`.")
                ) from exc
            self._write_files(tmp_dir, passages, pvecs, svecs, owners, [s.meta for s in sources])
            tmp_dir.replace(gen_dir)
            state = {
                "generation": generation,
                "previous": old_state and old_state.get("generation"),
                "collection": collection_name,
                "signature": signature,
                "passages": len(passages),
                "sentences": len(owners),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "build_seconds": round(time.perf_counter() - t0, 2),
                "embedded_passages": embedded,
                "encoder": embedder.describe(),
            }
            if journal is not None:
                journal.update(phase="committing", generation=generation)
            self._write_state(state)
            switched = True
        finally:
            if not switched:
                shutil.rmtree(tmp_dir, ignore_errors=True)
                shutil.rmtree(gen_dir, ignore_errors=True)
                try:
                    if client is not None:
                        client.delete_collection(collection_name)
                except BaseException as exc:  # noqa: BLE001 - best effort clean-up
                    _reraise_interrupts(exc)
        self._cleanup(client, keep={generation, state.get("previous")} - {None})
        return state

    def _embed(self, passages: list[Passage], reuse: dict[str, dict], embedder: Embedder, progress: bool,
               journal: Journal | None) -> tuple[dict[str, dict], int]:
        """Vectors of every passage and of its sentences: reused, else embedded group by group
        (each group checkpointed in the journal of an ingest, so that a resumed one keeps it)."""
        from tqdm import tqdm

        vectors = dict(reuse)
        todo = [p for p in passages if p.passage_id not in vectors]
        if not todo:
            return vectors, 0
        if journal is not None:
            journal.progress("embedding", 0, len(todo), force=True)
        bar = tqdm(total=len(todo), desc="Embedding passages", unit="passage", disable=not progress)
        for a in range(0, len(todo), EMBED_GROUP):
            group = todo[a : a + EMBED_GROUP]
            pv = embedder.embed([dense_text(p) for p in group])
            sentences = [s for p in group for s in p.sentences]
            sv = embedder.embed(sentences, batch_size=64) if sentences else np.zeros((0, embedder.dimension), np.float32)
            parts, k = [], 0
            for j, p in enumerate(group):
                n = len(p.sentences)
                parts.append(sv[k : k + n])
                vectors[p.passage_id] = {"p": pv[j], "s": sv[k : k + n]}
                k += n
            if journal is not None:
                journal.save_vectors([p.passage_id for p in group], pv, parts)
                journal.progress("embedding", a + len(group), len(todo))
            bar.update(len(group))
        bar.close()
        return vectors, len(todo)

    def _reusable_vectors(self, state: dict | None, embedder: Embedder, passages: list[Passage]) -> dict[str, dict]:
        """passage_id -> {'p': passage vector, 's': sentence vectors} from a stored generation: the
        current one, else (a damaged state) the newest complete one on disk. Only vectors that
        check out are reused: readable files that agree, unit length, and a sample re-embedded now
        matching what is stored (so damaged or foreign vectors are embedded again)."""
        candidates: list[str] = []
        if state:
            if _encoder_of(state.get("signature") or {}) != vector_space(self.settings):
                return {}
            candidates.append(state["generation"])
        if self.root.is_dir():
            candidates += sorted((d.name for d in self.root.iterdir() if d.is_dir() and d.name.startswith("g")
                                  and not d.name.endswith(".partial") and d.name not in candidates and (d / "COMPLETE").exists()),
                                 reverse=True)
        wanted = {p.passage_id for p in passages}
        for generation in candidates:
            gen_dir = self.root / generation
            try:
                stored = _read_passages(gen_dir)
                pvecs = np.load(gen_dir / "passage_vectors.npy")
                svecs = np.load(gen_dir / "sentence_vectors.npy")
                owners = np.load(gen_dir / "sentence_owner.npy")
                if pvecs.shape != (len(stored), embedder.dimension) or svecs.shape != (len(owners), embedder.dimension):
                    continue
            except Exception:  # noqa: BLE001 - a damaged generation simply gives nothing to reuse
                continue
            starts = np.searchsorted(owners, np.arange(len(stored) + 1))
            out = {p.passage_id: {"p": pvecs[i], "s": svecs[starts[i] : starts[i + 1]]}
                   for i, p in enumerate(stored) if p.passage_id in wanted}
            out = _valid_vectors(out, embedder.dimension)
            if out and not self._spot_check(out, {p.passage_id: p for p in stored}, embedder):
                log.warning("the stored vectors of %s do not match the encoder; embedding again", gen_dir)
                continue
            return out
        return {}

    @staticmethod
    def _spot_check(vectors: dict[str, dict], passages: dict[str, Passage], embedder: Embedder, n: int = 4) -> bool:
        """Re-embed a few of the passages (and one sentence of each) about to be reused: their
        stored vectors must be what the encoder gives now (cosine >= 0.99)."""
        ids = sorted(vectors)
        picked = [ids[int(i)] for i in np.linspace(0, len(ids) - 1, num=min(n, len(ids)))]
        texts, stored = [], []
        for pid in dict.fromkeys(picked):
            texts.append(dense_text(passages[pid]))
            stored.append(vectors[pid]["p"])
            if passages[pid].sentences and len(vectors[pid]["s"]):
                texts.append(passages[pid].sentences[0])
                stored.append(vectors[pid]["s"][0])
        fresh = embedder.embed(texts)
        return bool(np.all(np.sum(fresh * np.asarray(stored), axis=1) >= 0.99))

    def _write_files(self, d: Path, passages: list[Passage], pvecs, svecs, owners,
                     reports: list[ReportMeta] | None = None) -> None:
        bm25s = import_bm25s()

        with open(d / "passages.jsonl", "w", encoding="utf-8") as fh:
            for p in passages:
                fh.write(p.model_dump_json() + "\n")
        np.save(d / "passage_vectors.npy", pvecs)
        np.save(d / "sentence_vectors.npy", svecs)
        np.save(d / "sentence_owner.npy", owners)
        if reports is not None:
            (d / REPORTS_FILE).write_text(json.dumps([r.model_dump() for r in reports], indent=2, ensure_ascii=False),
                                          encoding="utf-8")
        retriever = bm25s.BM25()
        retriever.index(bm25_tokenize([_bm25_text(p) for p in passages]), show_progress=False)
        retriever.save(str(d / "bm25"))
        (d / "COMPLETE").write_text("ok\n")
        for f in d.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())

    def _write_state(self, state: dict) -> None:
        write_json_atomic(self._state_path(), state)

    def _clear_abandoned(self) -> None:
        """Remove the ``.partial`` folders of builds that were killed. Called with the write lock
        held, so no other process is building: every partial folder is abandoned."""
        if self.root.is_dir():
            for d in self.root.iterdir():
                if d.is_dir() and d.name.endswith(".partial"):
                    shutil.rmtree(d, ignore_errors=True)

    def _cleanup(self, client, keep: set[str]) -> None:
        """Remove every generation but ``keep`` (the new one and the one before it: a process still
        serving that one keeps working until it reloads), and their Chroma collections."""
        for d in self.root.iterdir():
            if d.is_dir() and d.name not in keep and (d.name.startswith("g") or d.name.endswith(".partial")):
                shutil.rmtree(d, ignore_errors=True)
        try:
            client = client or chroma_client(self.settings)
            for c in client.list_collections():
                name = c if isinstance(c, str) else c.name
                gen = name.rsplit("_", 1)[-1]
                if name.startswith(self.settings.collection_prefix + "_g") and gen not in keep:
                    client.delete_collection(name)
        except BaseException as exc:  # noqa: BLE001
            _reraise_interrupts(exc)
            log.warning("could not clean up old collections: %s", exc)

    def drop_collection(self, name: str | None) -> None:
        """Delete one collection (an interrupted build's), if it exists."""
        if not name:
            return
        try:
            chroma_client(self.settings).delete_collection(name)
        except BaseException as exc:  # noqa: BLE001 - absent, or a damaged store the next build sets aside
            _reraise_interrupts(exc)

    def state_mtime(self) -> float:
        try:
            return self._state_path().stat().st_mtime
        except OSError:
            return 0.0

    # ------------------------------------------------------------------ load
    def load(self) -> LoadedIndex:
        """The current generation, checked cheaply: its files are complete and agree with each
        other and with the state (passage count). Chroma is opened only for a Chroma server, whose
        count is checked here; the embedded store is checked by ``index`` and ``index --status``."""
        bm25s = import_bm25s()

        state = self.read_state()
        if state is None:
            raise IndexError_(
                f"no index in {self.root}. Run `policy-assistant index` (or any command: the index is built on first use)."
            )
        gen_dir = self.root / state["generation"]
        if not (gen_dir / "COMPLETE").exists():
            raise IndexError_(
                f"the index generation {gen_dir} is incomplete or missing. Run `{REBUILD}`."
            )
        try:
            passages = _read_passages(gen_dir)
            pvecs = np.load(gen_dir / "passage_vectors.npy")
            svecs = np.load(gen_dir / "sentence_vectors.npy")
            owners = np.load(gen_dir / "sentence_owner.npy")
            bm25 = bm25s.BM25.load(str(gen_dir / "bm25"))
            reports = _read_reports(gen_dir)
            collection, count = None, state.get("passages")
            if self.settings.chroma_host:
                collection = chroma_client(self.settings).get_collection(state["collection"], embedding_function=None)
                count = collection.count()
        except Exception as exc:  # noqa: BLE001 - everything here means a damaged index
            raise IndexError_(
                f"the index in {gen_dir} is corrupted ({type(exc).__name__}: {exc}). "
                f"Run `{REBUILD}`."
            ) from exc
        store = "Chroma has" if self.settings.chroma_host else "the state records"
        if (
            count != len(passages)
            or pvecs.shape[0] != len(passages)
            or svecs.shape[0] != len(owners)
            or pvecs.ndim != 2
            or svecs.ndim != 2
            or pvecs.shape[1] != svecs.shape[1]
            or (len(owners) and (owners.min() < 0 or owners.max() >= len(passages)))
        ):
            raise IndexError_(
                f"the index in {gen_dir} is inconsistent ({store} {count} passages, files {len(passages)}, "
                f"vectors {pvecs.shape[0]}). Run `{REBUILD}`."
            )
        embedder = get_embedder(self.settings)
        if embedder.dimension != pvecs.shape[1]:
            raise IndexError_(
                f"the index in {gen_dir} has {pvecs.shape[1]}-dimensional vectors but the encoder gives "
                f"{embedder.dimension}. Run `{REBUILD}`."
            )
        return LoadedIndex(self.settings, state["generation"], passages, state["collection"], bm25, svecs, owners,
                           pvecs, embedder, collection, reports)


def _valid_vectors(vectors: dict[str, dict], dimension: int) -> dict[str, dict]:
    """Only finite unit vectors of the right dimension (a damaged file or checkpoint is not reused)."""
    out = {}
    for pid, v in vectors.items():
        p, s = np.asarray(v["p"]), np.asarray(v["s"])
        if p.shape != (dimension,) or (len(s) and s.shape[1:] != (dimension,)):
            continue
        both = np.vstack([p[None, :], s.reshape(-1, dimension)])
        if np.all(np.isfinite(both)) and np.abs(np.linalg.norm(both, axis=1) - 1).max() <= 1e-2:
            out[pid] = {"p": p, "s": s.reshape(-1, dimension)}
    return out


def _read_reports(gen_dir: Path) -> list[ReportMeta] | None:
    """The generation's report metadata (None for a generation built before it was kept)."""
    path = gen_dir / REPORTS_FILE
    if not path.exists():
        return None
    return [ReportMeta(**r) for r in json.loads(path.read_text(encoding="utf-8"))]


def _read_passages(gen_dir: Path) -> list[Passage]:
    with open(gen_dir / "passages.jsonl", encoding="utf-8") as fh:
        return [Passage.model_validate_json(line) for line in fh if line.strip()]


def dense_text(p: Passage) -> str:
    """What a passage's vector is made from: its text, after the title of the list item it continues."""
    return f"{p.heading} {p.text}" if p.heading else p.text


def _bm25_text(p: Passage) -> str:
    return f"{p.section} {dense_text(p)}"
