"""Load on the web chat's /ask API: concurrent gradio_client sessions against a real server.

    .venv/bin/python benchmarks/bench_load.py [--sessions 30] [--questions 10] [--reps 3]
                                              [--concurrency N] [--out benchmarks/results/load.json]

Starts `policy-assistant serve` as a subprocess on a free 127.0.0.1 port (the real index under
data/, or POLICY_ASSISTANT_DATA_DIR), waits until it answers, warms it up with one question, then
per repetition: `--sessions` threads, each with its own gradio_client.Client, start together and
each asks `--questions` dev-set questions (evals/dev_questions.jsonl, follow-ups with their
history) one after the other.  The clients pass ssl_verify=False for the plain-http URL: with
verification on, gradio_client builds a fresh httpx client with the CA bundle (about 22 ms of CPU)
several times per request, which on a small machine costs more than the answer.  Recorded per request: wall-clock latency as the client sees it
(queueing included) and errors.  A sampler reads the server's RSS (its whole process tree, from
/proc) every 100 ms.  Reports per repetition and the medians over repetitions, checks the goals
(p95 <= 1.5 s, no errors, peak RSS <= 1.5 GB) and writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOALS = {"p95_ms": 1500.0, "errors": 0, "peak_rss_mb": 1536.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) in MB of a process and all its descendants, from /proc (Linux)."""
    rss = hwm = 0
    todo, seen = [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(k) for k in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return rss / 1024, hwm / 1024


def tree_rss_mb(pid: int) -> float:
    """RSS in MB of a process and all its descendants."""
    return tree_memory_mb(pid)[0]


def answer_problem(answer, missing: str = "not an answer") -> str | None:
    """What is wrong with an answer's JSON (the Answer, or the OpenAI route's policy_assistant field):
    ``missing`` when it is not one, or an answer without citations; None when it is fine."""
    if not isinstance(answer, dict) or "refused" not in answer or "citations" not in answer:
        return missing
    if not answer["refused"] and not answer["citations"]:
        return "an answer without citations"
    return None


def write_result(path: str, result: dict, shown: dict | None = None) -> int:
    """Write ``result`` as JSON to ``path``, print ``shown`` (default: all of it); the exit code is 0
    when every goal in ``result["goals"]`` holds."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result if shown is None else shown, indent=2))
    print(f"written to {out}")
    return 0 if all(result["goals"].values()) else 1


def tree_cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process (all its threads) from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append(tree_rss_mb(self.pid))
            self._stop_event.wait(self.every)

    def stop(self) -> dict:
        self._stop_event.set()
        self.join()
        return {"peak_rss_mb": round(max(self.samples, default=0.0), 1), "end_rss_mb": round(self.samples[-1] if self.samples else 0.0, 1)}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(1, int(round(q / 100 * len(v) + 0.4999)))
    return v[min(k, len(v)) - 1]


def load_questions() -> list[dict]:
    with open(REPO / "evals" / "dev_questions.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def start_server(port: int, concurrency: int | None = None, passcode: str | None = None) -> subprocess.Popen:
    """`policy-assistant serve` on ``port`` from this checkout (bench_api and bench_soak use it too)."""
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    if concurrency:
        env["POLICY_ASSISTANT_WEB_CONCURRENCY"] = str(concurrency)
    cmd = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)]
    if passcode:
        cmd += ["--passcode", passcode]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_server(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a server started by ``start_server`` (or any child process): terminate, kill if it
    has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 300, probe: str = "config",
                  passcode: str | None = None) -> float:
    """Seconds until ``url + probe`` answers 200 (with the passcode as a Bearer token when given)."""
    t0 = time.perf_counter()
    headers = {"Authorization": f"Bearer {passcode}"} if passcode else {}
    request = urllib.request.Request(url + probe, headers=headers)
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}:\n{proc.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not come up within {timeout} s")


def _client_worker(url: str, jobs: list[tuple[int, list[dict]]], barrier, results) -> None:
    """One client process: a thread per session, each with its own gradio_client.Client."""
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    clients: dict[int, Client | None] = {}

    def connect(i: int) -> None:
        try:
            clients[i] = Client(url, verbose=False, ssl_verify=url.startswith("https:"))
        except Exception as exc:
            clients[i] = None
            with lock:
                errors.append(f"connect: {exc!r}"[:300])

    def session(i: int, qs: list[dict]) -> None:
        client = clients.get(i)
        for q in qs:
            if client is None:
                with lock:
                    errors.append("no connection")
                continue
            t = time.perf_counter()
            try:
                data = client.predict(q["question"], q.get("history") or [], api_name="/ask")
                err = None if isinstance(data, dict) and "answer" in data else f"bad response: {str(data)[:200]}"
            except Exception as exc:
                err = repr(exc)[:300]
            dt = (time.perf_counter() - t) * 1000
            with lock:
                latencies.append(dt)
                if err:
                    errors.append(err)

    connectors = [threading.Thread(target=connect, args=(i,)) for i, _ in jobs]
    for t in connectors:
        t.start()
    for t in connectors:
        t.join()
    barrier.wait()  # every session of every process starts together
    cpu0 = time.process_time()
    threads = [threading.Thread(target=session, args=(i, qs)) for i, qs in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu, t_end = time.process_time() - cpu0, time.time()
    results.put({"latencies": latencies, "errors": errors, "cpu_s": cpu, "t_end": t_end})
    for c in clients.values():
        try:
            c and c.close()
        except Exception:
            pass


def one_rep(url: str, questions: list[dict], sessions: int, per_session: int, pid: int, procs: int) -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs + 1)
    results = ctx.Queue()
    jobs = [(i, [questions[(i * per_session + k) % len(questions)] for k in range(per_session)]) for i in range(sessions)]
    workers = [ctx.Process(target=_client_worker, args=(url, jobs[w::procs], barrier, results), daemon=True) for w in range(procs)]
    for w in workers:
        w.start()
    sampler = RssSampler(pid)
    sampler.start()
    barrier.wait(timeout=300)
    t0, cpu_server = time.time(), tree_cpu_s(pid)
    outs = [results.get(timeout=1800) for _ in workers]
    cpu_server = tree_cpu_s(pid) - cpu_server
    wall = max(o["t_end"] for o in outs) - t0
    for w in workers:
        w.join(timeout=30)
    rss = sampler.stop()
    latencies = [x for o in outs for x in o["latencies"]]
    errors = [e for o in outs for e in o["errors"]]
    cpu_client = sum(o["cpu_s"] for o in outs)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else float("nan"),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 2) if wall else 0.0,
        "server_cpu_ms_per_request": round(1000 * cpu_server / max(1, len(latencies)), 1),
        "client_cpu_ms_per_request": round(1000 * cpu_client / max(1, len(latencies)), 1),
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
        **rss,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--questions", type=int, default=10, help="questions per session")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--procs", type=int, default=3, help="client processes the sessions are spread over (threads inside each)")
    ap.add_argument("--concurrency", type=int, default=None, help="POLICY_ASSISTANT_WEB_CONCURRENCY for the server (default: its setting)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "load.json"))
    args = ap.parse_args()

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    questions = load_questions()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_server(port, args.concurrency)
    try:
        startup = wait_until_up(url, proc)
        idle_rss = tree_rss_mb(proc.pid)
        from gradio_client import Client

        t = time.perf_counter()
        Client(url, verbose=False, ssl_verify=False).predict(questions[0]["question"], [], api_name="/ask")  # warm-up
        print(f"server up in {startup:.1f} s, RSS {idle_rss:.0f} MB; warm-up question {1000 * (time.perf_counter() - t):.0f} ms", flush=True)
        runs = []
        for rep in range(args.reps):
            r = one_rep(url, questions, args.sessions, args.questions, proc.pid, max(1, min(args.procs, args.sessions)))
            runs.append(r)
            print(
                f"rep {rep + 1}: {r['requests']} requests, {r['errors']} errors, p50 {r['p50_ms']:.0f} ms, "
                f"p95 {r['p95_ms']:.0f} ms, max {r['max_ms']:.0f} ms, {r['throughput_rps']} req/s, peak RSS {r['peak_rss_mb']:.0f} MB, "
                f"CPU/request server {r['server_cpu_ms_per_request']:.0f} ms + client {r['client_cpu_ms_per_request']:.0f} ms, load {r['loadavg_1min_after']}",
                flush=True,
            )
    finally:
        stop_server(proc)

    med = {k: round(statistics.median(r[k] for r in runs), 1) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "throughput_rps", "peak_rss_mb")}
    med["errors"] = sum(r["errors"] for r in runs)
    goals = {
        "p95_ms <= 1500": med["p95_ms"] <= GOALS["p95_ms"],
        "no errors": med["errors"] == GOALS["errors"],
        "peak RSS <= 1.5 GB": med["peak_rss_mb"] <= GOALS["peak_rss_mb"],
    }
    try:
        from assistant.settings import get_settings

        concurrency = args.concurrency or get_settings().web_concurrency
    except Exception:
        concurrency = args.concurrency
    result = {
        "sessions": args.sessions,
        "client_processes": args.procs,
        "questions_per_session": args.questions,
        "reps": args.reps,
        "cpu_count": os.cpu_count(),
        "web_concurrency": concurrency,
        "server_startup_s": round(startup, 1),
        "idle_rss_mb": round(idle_rss, 1),
        "median": med,
        "goals": goals,
        "runs": runs,
    }
    return write_result(args.out, result, {"median": med, "goals": goals})


if __name__ == "__main__":
    sys.exit(main())
