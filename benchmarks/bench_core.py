"""Speed and memory of the foundation, as whole runs in fresh processes.

    .venv/bin/python benchmarks/bench_core.py [--reps 3] [--out benchmarks/results/core.json]

Measures, each in its own subprocess so that start-up and memory are real:
- build: a full index build of the shipped reports into an empty data folder (nothing reused);
- reload: loading the persisted index (Assistant start-up with an up-to-date index);
- ask: warm latency of 50 dev-set questions (p50/p95 per repetition), one process per repetition;
- peak RSS of each of those processes.
Reports medians over the repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
mode, data_dir = sys.argv[1], sys.argv[2]
os.environ["POLICY_ASSISTANT_DATA_DIR"] = data_dir
t0 = time.perf_counter()
from assistant.settings import Settings
from assistant.index import IndexManager
from assistant.service import Assistant
settings = Settings(data_dir=Path(data_dir))
out = {}
if mode == "build":
    state = IndexManager(settings).build(progress=False, force=True)
    out["seconds"] = time.perf_counter() - t0
    out["passages"] = state["passages"]
elif mode == "reload":
    a = Assistant(settings, progress=False)
    out["seconds"] = time.perf_counter() - t0
else:
    a = Assistant(settings, progress=False)
    qs = [json.loads(l) for l in open("evals/dev_questions.jsonl")][:50]
    a.ask(qs[0]["question"])  # warm-up
    lat = []
    for q in qs:
        t = time.perf_counter()
        a.ask(q["question"], history=q.get("history") or [])
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    out["p50_ms"] = lat[len(lat) // 2]
    out["p95_ms"] = lat[int(len(lat) * 0.95) - 1]
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(mode: str, data_dir: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", CHILD, mode, str(data_dir)], capture_output=True, text=True, cwd=REPO, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "core.json"))
    args = ap.parse_args()
    runs: dict[str, list[dict]] = {"build": [], "reload": [], "ask": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        for i in range(args.reps):
            runs["build"].append(child("build", data))
            print("build", runs["build"][-1], flush=True)
        for i in range(args.reps + 2):
            runs["reload"].append(child("reload", data))
            print("reload", runs["reload"][-1], flush=True)
        for i in range(args.reps):
            runs["ask"].append(child("ask", data))
            print("ask", runs["ask"][-1], flush=True)
    med = lambda xs: round(statistics.median(xs), 3)  # noqa: E731
    summary = {
        "reps": args.reps,
        "cpu_count": os.cpu_count(),
        "build_seconds_median": med([r["seconds"] for r in runs["build"]]),
        "build_peak_rss_mb_median": med([r["peak_rss_mb"] for r in runs["build"]]),
        "reload_seconds_median": med([r["seconds"] for r in runs["reload"]]),
        "ask_p50_ms_median": med([r["p50_ms"] for r in runs["ask"]]),
        "ask_p95_ms_median": med([r["p95_ms"] for r in runs["ask"]]),
        "ask_peak_rss_mb_median": med([r["peak_rss_mb"] for r in runs["ask"]]),
        "runs": runs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
