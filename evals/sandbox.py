"""What the evals that add reports share (``evals.user_reports``, ``evals.as_added``): a copy of the
data folder to add them to, and a run of ``evals.runner`` in a separate process on that copy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def copy_data(data_dir: Path, dst: Path) -> Path:
    """``data_dir`` copied to ``dst`` (its vectors are reused), without the baseline's store and the
    feedback database, which an eval of added reports does not need."""
    shutil.copytree(data_dir, dst, ignore=shutil.ignore_patterns("baseline_chroma", "feedback.sqlite3*"))
    return dst


def run_questions(qfile: Path, out: Path, env: dict, keys: tuple[str, ...]) -> dict:
    """``evals.runner`` on ``qfile`` into ``out`` with ``env`` (which data folder, which settings);
    the assistant's overall figures named in ``keys``. A run whose thresholds fail (exit 1) still counts."""
    proc = subprocess.run([sys.executable, "-m", "evals.runner", "--questions", str(qfile), "--out", str(out), "--quiet"],
                          cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"evals.runner failed on {qfile.name}: {proc.stderr[-2000:]}")
    overall = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["assistant"]["overall"]
    return {k: overall.get(k) for k in keys}
