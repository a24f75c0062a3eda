"""Speed and memory of the foundation, as whole runs in fresh processes.

    python benchmarks/bench_core.py [--reps 5] [--modes build,reload,ask,cold-ask,serve]
                                    [--code DIR] [--data DIR] [--out benchmarks/results/core.json]

Modes, each repetition in its own process so that start-up and memory are real:
- build: a full index build of the shipped reports into an empty data folder (nothing reused;
  the ONNX encoder's export, if any, is outside the timing: it is made once per data folder);
- reload: loading the persisted index (Assistant start-up with an up-to-date index);
- ask: warm latency of 50 dev-set questions (p50/p95 per repetition), one process per repetition;
- cold-ask: `python -m assistant.cli ask --json "What is town twinning?"` as a user runs it, wall
  time from spawn to exit and the process's peak RSS (after one untimed run that warms the disk cache);
- serve: `python -m assistant.cli serve` on the existing index, time until `GET /` answers 200,
  and the server's RSS (whole process tree) and peak RSS at that moment, before any question.
Every run records the 1-minute load average before it: the machine is shared, so compare runs
at similar load. Reports medians over the repetitions.

``--code DIR`` measures another checkout of the project (e.g. an older commit from `git archive`)
with this same script; ``--data DIR`` uses an existing data folder for the modes other than build
(default: the folder the build mode made, or one untimed build).
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
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import free_port, stop_server, tree_memory_mb  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MODES = ("build", "reload", "ask", "cold-ask", "serve")
QUESTION = "What is town twinning?"

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
    state = IndexManager(settings).build(progress=False, force=True, reembed=True)
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


def child_env(code: Path, data: Path | None = None) -> dict:
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)
    if data is not None:
        env["POLICY_ASSISTANT_DATA_DIR"] = str(data)
    return env


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def child(mode: str, code: Path, data: Path) -> dict:
    load = load1()
    r = subprocess.run([sys.executable, "-c", CHILD, mode, str(data)], capture_output=True, text=True, cwd=code,
                       env=child_env(code))
    if r.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{r.stderr[-3000:]}")
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "load1": load}


def cold_ask(code: Path, data: Path) -> dict:
    """One `ask --json` process: wall time from spawn to exit, its peak RSS (wait4's rusage)."""
    load = load1()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ask", "--json", QUESTION], cwd=code,
                                env=child_env(code, data), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0 or not json.loads(out.read())["citations"]:
            raise SystemExit(f"cold ask failed:\n{err.read().decode()[-3000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "load1": load}


def serve(code: Path, data: Path, timeout: float = 300) -> dict:
    """Start `serve` on the existing index; seconds until GET / answers 200, RSS at that moment."""
    load = load1()
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], cwd=code,
                            env=child_env(code, data), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited with {proc.returncode}:\n{proc.stderr.read()[-3000:]}")
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"serve did not answer within {timeout} s")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        seconds = time.perf_counter() - t0
        rss, hwm = tree_memory_mb(proc.pid)
    finally:
        stop_server(proc, timeout=30)
    return {"seconds": seconds, "rss_mb": rss, "peak_rss_mb": hwm, "load1": load}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--code", default=str(REPO), help="the checkout of the project to measure (default: this one)")
    ap.add_argument("--data", help="an existing data folder for reload/ask/cold-ask/serve")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "core.json"))
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        ap.error(f"unknown modes: {', '.join(sorted(unknown))}")
    code = Path(args.code).resolve()
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data).resolve() if args.data else Path(tmp) / "data"
        if "build" in modes:
            build_data = Path(tmp) / "build"
            child("reload", code, build_data)  # untimed: builds once, and exports the ONNX encoder if any
            for _ in range(args.reps):
                runs["build"].append(child("build", code, build_data))
                print("build", runs["build"][-1], flush=True)
            if not args.data:
                data = build_data
        if not (data / "index" / "state.json").exists():
            child("reload", code, data)  # untimed build
        for _ in range(args.reps if "reload" in modes else 0):
            runs["reload"].append(child("reload", code, data))
            print("reload", runs["reload"][-1], flush=True)
        for _ in range(args.reps if "ask" in modes else 0):
            runs["ask"].append(child("ask", code, data))
            print("ask", runs["ask"][-1], flush=True)
        if "cold-ask" in modes:
            cold_ask(code, data)  # untimed: warms the disk cache
            for _ in range(args.reps):
                runs["cold-ask"].append(cold_ask(code, data))
                print("cold-ask", runs["cold-ask"][-1], flush=True)
        for _ in range(args.reps if "serve" in modes else 0):
            runs["serve"].append(serve(code, data))
            print("serve", runs["serve"][-1], flush=True)

    def med(mode: str, key: str) -> float | None:
        values = [r[key] for r in runs.get(mode, []) if key in r]
        return round(statistics.median(values), 3) if values else None

    summary = {
        "code": str(code),
        "reps": args.reps,
        "cpu_count": os.cpu_count(),
        "build_seconds_median": med("build", "seconds"),
        "build_peak_rss_mb_median": med("build", "peak_rss_mb"),
        "reload_seconds_median": med("reload", "seconds"),
        "ask_p50_ms_median": med("ask", "p50_ms"),
        "ask_p95_ms_median": med("ask", "p95_ms"),
        "ask_peak_rss_mb_median": med("ask", "peak_rss_mb"),
        "cold_ask_seconds_median": med("cold-ask", "seconds"),
        "cold_ask_peak_rss_mb_median": med("cold-ask", "peak_rss_mb"),
        "serve_ready_seconds_median": med("serve", "seconds"),
        "serve_rss_mb_median": med("serve", "rss_mb"),
        "serve_peak_rss_mb_median": med("serve", "peak_rss_mb"),
        "load1": {m: [r["load1"] for r in rs] for m, rs in runs.items()},
        "runs": runs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "runs" and v is not None}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
