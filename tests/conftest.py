"""One real index for the whole test session: built on first use under ./data (as a user's
first run builds it), reloaded afterwards. Tests that change data work on a copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SOURCES = REPO / "knowledge_base" / "sources"
CLI = [sys.executable, "-m", "assistant.cli"]


@pytest.fixture(scope="session")
def settings():
    from assistant.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def assistant(settings):
    from assistant.service import Assistant

    return Assistant(settings, progress=False)


@pytest.fixture(scope="session")
def passages(assistant):
    return assistant.index.passages


@pytest.fixture()
def data_copy(assistant, tmp_path):
    """A private copy of the built data folder (index included), for tests that modify it."""
    dst = tmp_path / "data"
    shutil.copytree(assistant.settings.data_dir, dst, ignore=shutil.ignore_patterns("baseline_chroma"))
    return dst


def run_cli(*args: str, data_dir: Path | None = None, timeout: int = 600, input: str | None = None,
            env: dict | None = None):
    env = {**os.environ, **(env or {})}
    if data_dir is not None:
        env["POLICY_ASSISTANT_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO, input=input
    )


def source_lines(name: str) -> list[str]:
    return (SOURCES / name).read_text(encoding="utf-8").splitlines()
