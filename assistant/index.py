"""The knowledge index: dense passage vectors + bm25s (lexical) over the same passages, plus the
sentence embeddings that the extractive composer ranks.

Every build writes a new *generation* (a Chroma collection and a folder of files) and only then
switches ``state.json`` to it with an atomic rename, so a killed or failed build never replaces a
good index.  Unchanged passages keep their embeddings from the previous generation.

Chroma is the store of record, written at build time. Queries against the embedded store search
the generation's ``passage_vectors.npy`` with numpy (exact cosine, the ranking Chroma gives), so
answering a question never loads chromadb; with ``chroma_host`` set the Chroma server is queried
over HTTP. ``index --status`` and ``index`` check that Chroma holds the generation's passages.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .embeddings import Embedder, get_embedder, vector_space
from .errors import IndexError_
from .ingest import CHUNKING_VERSION, SourceFile, all_sources, passages_for
from .models import Passage
from .settings import Settings
from .text import bm25_tokenize

log = logging.getLogger(__name__)
STATE_FILE = "state.json"
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
        "passage_words": [settings.passage_min_words, settings.passage_target_words, settings.passage_max_words],
        "sources": {s.meta.source: s.sha256 for s in sources},
        "chroma": f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else "embedded",
    }


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
                f"the index state file {path} is corrupted ({exc}). Run `policy-assistant index --rebuild` "
                f"to build a fresh index (the reports themselves are not affected)."
            ) from exc

    def is_current(self) -> bool:
        state = self.read_state()
        if state is None:
            return False
        return signature_matches(state.get("signature"), _signature(self.settings, all_sources(self.settings)))

    def status(self) -> dict:
        """``index --status``: the generation, whether it is up to date, the encoder (for ONNX its
        file, SHA-256 and whether the hash checks out) and whether Chroma holds every passage."""
        from .embeddings import encoder_status

        state = self.read_state()
        sources = all_sources(self.settings)
        return {
            "data_dir": str(self.settings.data_dir),
            "built": state is not None,
            "generation": state and state["generation"],
            "passages": state and state.get("passages"),
            "up_to_date": bool(state) and signature_matches(state.get("signature"), _signature(self.settings, sources)),
            "reports": [s.meta.source for s in sources],
            "embedding_model": self.settings.embedding_model,
            "encoder": encoder_status(self.settings, verify=True),
            # the backend that embedded this generation ("sentence-transformers" before it was recorded)
            "built_with": state and (state.get("encoder") or {"backend": "sentence-transformers"}),
            "chroma": f"{self.settings.chroma_host}:{self.settings.chroma_port}" if self.settings.chroma_host else "embedded",
            "store": self.check_store(state) if state else None,
        }

    def check_store(self, state: dict) -> dict:
        """Does Chroma (the store of record) hold this generation's collection with every passage?"""
        out = {"collection": state.get("collection"), "expected": state.get("passages")}
        try:
            count = chroma_client(self.settings).get_collection(state["collection"], embedding_function=None).count()
        except Exception as exc:  # noqa: BLE001 - a missing collection, a damaged store or a server that is down
            return {**out, "ok": False, "problem": f"{type(exc).__name__}: {exc}"}
        return {**out, "count": count, "ok": count == state.get("passages")}

    # ------------------------------------------------------------------ build
    def ensure(self, progress: bool = True) -> LoadedIndex:
        """Load the index, building or updating it first when the corpus or model changed."""
        if not self.is_current():
            self.build(progress=progress)
        return self.load()

    def build(self, progress: bool = True, force: bool = False) -> dict:
        from tqdm import tqdm

        t0 = time.perf_counter()
        sources = all_sources(self.settings)
        signature = _signature(self.settings, sources)
        try:
            old_state = self.read_state()
        except IndexError_:
            old_state = None  # a corrupted state is replaced by this build
        if old_state and signature_matches(old_state.get("signature"), signature) and not force:
            return old_state

        passages: list[Passage] = []
        for src in tqdm(sources, desc="Reading reports", unit="report", disable=not progress):
            passages.extend(passages_for(src, self.settings))
        if not passages:
            raise IndexError_("no passages were produced from the reports; is knowledge_base/sources empty?")

        embedder = get_embedder(self.settings)
        reuse = {} if force else self._reusable_vectors(old_state)
        # the same text split into sentences differently (a chunking change) cannot reuse sentence vectors
        n_sentences = {p.passage_id: len(p.sentences) for p in passages}
        reuse = {pid: v for pid, v in reuse.items() if len(v["s"]) == n_sentences.get(pid, len(v["s"]))}
        texts = [p.text for p in passages]
        todo = [i for i, p in enumerate(passages) if p.passage_id not in reuse]
        pvecs = np.zeros((len(passages), embedder.dimension), dtype=np.float32)
        for i, p in enumerate(passages):
            if p.passage_id in reuse:
                pvecs[i] = reuse[p.passage_id]["p"]
        if todo:
            bar = tqdm(total=len(todo), desc="Embedding passages", unit="passage", disable=not progress)
            for a in range(0, len(todo), 64):
                chunk = todo[a : a + 64]
                pvecs[chunk] = embedder.embed([texts[i] for i in chunk])
                bar.update(len(chunk))
            bar.close()

        svecs_parts, owners = [], []
        new_sentences = [(i, s) for i, p in enumerate(passages) if p.passage_id not in reuse for s in p.sentences]
        fresh = {}
        if new_sentences:
            bar = tqdm(total=len(new_sentences), desc="Embedding sentences", unit="sentence", disable=not progress)
            for a in range(0, len(new_sentences), 256):
                chunk = new_sentences[a : a + 256]
                vecs = embedder.embed([s for _, s in chunk], batch_size=64)
                for (i, _), v in zip(chunk, vecs):
                    fresh.setdefault(i, []).append(v)
                bar.update(len(chunk))
            bar.close()
        for i, p in enumerate(passages):
            vecs = reuse[p.passage_id]["s"] if p.passage_id in reuse else np.array(fresh.get(i, []), dtype=np.float32)
            if len(vecs) != len(p.sentences):
                raise IndexError_(f"internal error: sentence vectors of {p.passage_id} do not match")
            svecs_parts.append(np.asarray(vecs, dtype=np.float32).reshape(-1, embedder.dimension))
            owners.extend([i] * len(p.sentences))

        generation = f"g{int(time.time() * 1000):x}"
        gen_dir = self.root / generation
        tmp_dir = self.root / (generation + ".partial")
        tmp_dir.mkdir(parents=True, exist_ok=True)
        collection_name = f"{self.settings.collection_prefix}_{generation}"
        client = chroma_client(self.settings)
        try:
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
            self._write_files(tmp_dir, passages, pvecs, np.concatenate(svecs_parts), np.array(owners, dtype=np.int64))
            tmp_dir.replace(gen_dir)
            state = {
                "generation": generation,
                "collection": collection_name,
                "signature": signature,
                "passages": len(passages),
                "sentences": len(owners),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "build_seconds": round(time.perf_counter() - t0, 2),
                "embedded_passages": len(todo),
                "encoder": embedder.describe(),
            }
            self._write_state(state)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            try:
                client.delete_collection(collection_name)
            except Exception:  # noqa: BLE001 - best effort clean-up
                pass
            raise
        self._cleanup(client, keep=generation)
        return state

    def _reusable_vectors(self, state: dict | None) -> dict[str, dict]:
        """passage_id -> {'p': passage vector, 's': sentence vectors} from the current generation."""
        if not state or _encoder_of(state.get("signature") or {}) != vector_space(self.settings):
            return {}
        gen_dir = self.root / state["generation"]
        try:
            passages = _read_passages(gen_dir)
            pvecs = np.load(gen_dir / "passage_vectors.npy")
            svecs = np.load(gen_dir / "sentence_vectors.npy")
            owners = np.load(gen_dir / "sentence_owner.npy")
        except Exception:  # noqa: BLE001 - a damaged generation simply gives nothing to reuse
            return {}
        out = {}
        for i, p in enumerate(passages):
            out[p.passage_id] = {"p": pvecs[i], "s": svecs[owners == i]}
        return out

    def _write_files(self, d: Path, passages: list[Passage], pvecs, svecs, owners) -> None:
        bm25s = import_bm25s()

        with open(d / "passages.jsonl", "w", encoding="utf-8") as fh:
            for p in passages:
                fh.write(p.model_dump_json() + "\n")
        np.save(d / "passage_vectors.npy", pvecs)
        np.save(d / "sentence_vectors.npy", svecs)
        np.save(d / "sentence_owner.npy", owners)
        retriever = bm25s.BM25()
        retriever.index(bm25_tokenize([_bm25_text(p) for p in passages]), show_progress=False)
        retriever.save(str(d / "bm25"))
        (d / "COMPLETE").write_text("ok\n")
        for f in d.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())

    def _write_state(self, state: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (STATE_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self._state_path())

    def _cleanup(self, client, keep: str) -> None:
        """Remove abandoned partial builds and all but the two newest generations: the previous
        one stays so that a process still serving it keeps working until it reloads."""
        gens = sorted((d.name for d in self.root.iterdir() if d.is_dir() and d.name.startswith("g")
                       and not d.name.endswith(".partial")), reverse=True)
        keep_set = {keep, *[g for g in gens if g != keep][:1]}
        for d in self.root.iterdir():
            if d.is_dir() and d.name not in keep_set:
                shutil.rmtree(d, ignore_errors=True)
        try:
            for c in client.list_collections():
                name = c if isinstance(c, str) else c.name
                gen = name.rsplit("_", 1)[-1]
                if name.startswith(self.settings.collection_prefix + "_g") and gen not in keep_set:
                    client.delete_collection(name)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not clean up old collections: %s", exc)

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
                f"the index generation {gen_dir} is incomplete or missing. Run `policy-assistant index --rebuild`."
            )
        try:
            passages = _read_passages(gen_dir)
            pvecs = np.load(gen_dir / "passage_vectors.npy")
            svecs = np.load(gen_dir / "sentence_vectors.npy")
            owners = np.load(gen_dir / "sentence_owner.npy")
            bm25 = bm25s.BM25.load(str(gen_dir / "bm25"))
            collection, count = None, state.get("passages")
            if self.settings.chroma_host:
                collection = chroma_client(self.settings).get_collection(state["collection"], embedding_function=None)
                count = collection.count()
        except Exception as exc:  # noqa: BLE001 - everything here means a damaged index
            raise IndexError_(
                f"the index in {gen_dir} is corrupted ({type(exc).__name__}: {exc}). "
                f"Run `policy-assistant index --rebuild`."
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
                f"vectors {pvecs.shape[0]}). Run `policy-assistant index --rebuild`."
            )
        embedder = get_embedder(self.settings)
        if embedder.dimension != pvecs.shape[1]:
            raise IndexError_(
                f"the index in {gen_dir} has {pvecs.shape[1]}-dimensional vectors but the encoder gives "
                f"{embedder.dimension}. Run `policy-assistant index --rebuild`."
            )
        return LoadedIndex(self.settings, state["generation"], passages, state["collection"], bm25, svecs, owners,
                           pvecs, embedder, collection)


def _read_passages(gen_dir: Path) -> list[Passage]:
    with open(gen_dir / "passages.jsonl", encoding="utf-8") as fh:
        return [Passage.model_validate_json(line) for line in fh if line.strip()]


def _bm25_text(p: Passage) -> str:
    return f"{p.section} {p.text}"
