"""Each command imports what it needs and nothing heavy besides: answering a question loads no
torch, gradio, chromadb or LangChain (the embedded store is searched in numpy)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO

HEAVY = ("torch", "sentence_transformers", "transformers", "gradio", "chromadb", "langchain_core", "onnx", "numba")

PROBE = r"""
import contextlib, io, json, sys
from assistant.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"code": code, "heavy": heavy, "output": out.getvalue()[:200]}}))
""".format(heavy=HEAVY)


def _modules(*args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_ask_imports_nothing_heavy(assistant):
    result = _modules("ask", "--json", "What is town twinning?")
    assert result["code"] == 0 and result["heavy"] == []


def test_practices_imports_nothing_heavy(assistant):
    result = _modules("practices", "--level", "origin", "--counts")
    assert result["code"] == 0 and result["heavy"] == []


def test_index_status_opens_chroma_but_no_model_library(assistant):
    result = _modules("index", "--status")
    assert result["code"] == 0
    # Chroma is opened to check that it holds the generation; nothing else heavy
    assert result["heavy"] == ["chromadb"]
