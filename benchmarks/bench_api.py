"""Load on the OpenAI-compatible API: concurrent openai-SDK clients against one `serve` process.

    .venv/bin/python -m benchmarks.bench_api [--sessions 30] [--duration 300] [--procs 3]
                                             [--stream-share 0.5] [--reps 1] [--out benchmarks/results/api.json]

Starts `policy-assistant serve` as a subprocess on a free 127.0.0.1 port (the real index under
data/, or POLICY_ASSISTANT_DATA_DIR), waits until it answers, warms it up with one question, then
per repetition: `--sessions` threads (spread over `--procs` client processes), each with its own
`openai.OpenAI` client, start together and ask dev-set questions (evals/dev_questions.jsonl;
follow-ups send their history as earlier user messages) one after the other, with no think time,
for `--duration` seconds. A share of the requests (`--stream-share`) is streamed (server-sent
events), the rest whole. Recorded per request: the wall-clock latency to the complete answer as
the client sees it (queueing included), the time to the first content for streamed ones, and
errors — an exception, or a response without the `policy_assistant` field, or an answer that is
neither refused nor cited. A sampler reads the server's RSS (its whole process tree, from /proc)
every 100 ms; the 1-minute load average is read every 5 s. Reports the medians over repetitions,
checks the goals (p95 <= 1.5 s, no errors, peak RSS <= 1.5 GB) and writes JSON to --out; exits 1
when a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_load import (  # noqa: E402
    RssSampler, answer_problem, free_port, load_questions, percentile, start_server, stop_server, tree_cpu_s,
    tree_rss_mb, wait_until_up, write_result)

REPO = Path(__file__).resolve().parent.parent
GOALS = {"p95_ms": 1500.0, "errors": 0, "peak_rss_mb": 1536.0}


def messages_for(q: dict) -> list[dict]:
    return [{"role": "user", "content": h} for h in q.get("history") or []] + [{"role": "user", "content": q["question"]}]


def check(extra) -> str | None:
    return answer_problem(extra, "no policy_assistant field")


def ask_once(client, q: dict, stream: bool) -> tuple[float | None, str | None]:
    """(time to first content in ms for a streamed request, error or None)."""
    if not stream:
        resp = client.chat.completions.create(model="policy-assistant", messages=messages_for(q))
        return None, check(getattr(resp.choices[0].message, "policy_assistant", None))
    t0, first, extra = time.perf_counter(), None, None
    with client.chat.completions.create(model="policy-assistant", messages=messages_for(q), stream=True) as events:
        for chunk in events:
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            if choice.delta.content and first is None:
                first = (time.perf_counter() - t0) * 1000
            if choice.finish_reason == "stop":
                extra = getattr(choice.delta, "policy_assistant", None)
    return first, check(extra)


def _client_worker(url: str, jobs: list[tuple[int, list[dict]]], duration: float, stream_share: float, barrier, results) -> None:
    """One client process: a thread per session, each with its own openai.OpenAI client."""
    import openai

    latencies: list[float] = []
    firsts: list[float] = []
    by_kind: dict[str, list[float]] = {"stream": [], "whole": []}
    errors: list[str] = []
    lock = threading.Lock()
    clients = {i: openai.OpenAI(base_url=url + "v1", api_key="bench", max_retries=0, timeout=60) for i, _ in jobs}
    barrier.wait()  # every session of every process starts together
    deadline = time.perf_counter() + duration

    def session(i: int, qs: list[dict]) -> None:
        client, k = clients[i], 0
        while time.perf_counter() < deadline:
            q = qs[k % len(qs)]
            stream = (k * 997 + i * 31) % 100 < stream_share * 100
            k += 1
            t = time.perf_counter()
            try:
                first, err = ask_once(client, q, stream)
            except Exception as exc:
                first, err = None, repr(exc)[:300]
            dt = (time.perf_counter() - t) * 1000
            with lock:
                latencies.append(dt)
                by_kind["stream" if stream else "whole"].append(dt)
                if first is not None:
                    firsts.append(first)
                if err:
                    errors.append(err)

    cpu0 = time.process_time()
    threads = [threading.Thread(target=session, args=(i, qs)) for i, qs in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put({"latencies": latencies, "firsts": firsts, "errors": errors, "by_kind": by_kind,
                 "cpu_s": time.process_time() - cpu0, "t_end": time.time()})
    for c in clients.values():
        c.close()


class LoadSampler(threading.Thread):
    def __init__(self, every: float = 5.0):
        super().__init__(daemon=True)
        self.every, self.samples = every, []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop_event.wait(self.every)

    def stop(self) -> list[float]:
        self._stop_event.set()
        self.join()
        return self.samples


def one_rep(url: str, questions: list[dict], sessions: int, duration: float, stream_share: float, pid: int, procs: int) -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs + 1)
    results = ctx.Queue()
    per = max(10, len(questions) // sessions)
    jobs = [(i, [questions[(i * 7 + k) % len(questions)] for k in range(per)]) for i in range(sessions)]
    workers = [ctx.Process(target=_client_worker, args=(url, jobs[w::procs], duration, stream_share, barrier, results), daemon=True)
               for w in range(procs)]
    for w in workers:
        w.start()
    rss, load = RssSampler(pid), LoadSampler()
    barrier.wait(timeout=300)
    load_before = os.getloadavg()[0]
    rss.start()
    load.start()
    t0, cpu_server = time.time(), tree_cpu_s(pid)
    outs = [results.get(timeout=duration + 600) for _ in workers]
    cpu_server = tree_cpu_s(pid) - cpu_server
    wall = max(o["t_end"] for o in outs) - t0
    for w in workers:
        w.join(timeout=30)
    rss_out, loads = rss.stop(), load.stop()
    latencies = [x for o in outs for x in o["latencies"]]
    firsts = [x for o in outs for x in o["firsts"]]
    errors = [e for o in outs for e in o["errors"]]
    streamed = [x for o in outs for x in o["by_kind"]["stream"]]
    whole = [x for o in outs for x in o["by_kind"]["whole"]]
    return {
        "requests": len(latencies),
        "streamed": len(streamed),
        "whole": len(whole),
        "streamed_p50_ms": round(percentile(streamed, 50), 1),
        "streamed_p95_ms": round(percentile(streamed, 95), 1),
        "whole_p50_ms": round(percentile(whole, 50), 1),
        "whole_p95_ms": round(percentile(whole, 95), 1),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else float("nan"),
        "first_content_p50_ms": round(percentile(firsts, 50), 1),
        "first_content_p95_ms": round(percentile(firsts, 95), 1),
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 2) if wall else 0.0,
        "server_cpu_ms_per_request": round(1000 * cpu_server / max(1, len(latencies)), 1),
        "client_cpu_ms_per_request": round(1000 * sum(o["cpu_s"] for o in outs) / max(1, len(latencies)), 1),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_median_during": round(statistics.median(loads), 2) if loads else None,
        "loadavg_1min_max_during": round(max(loads), 2) if loads else None,
        **rss_out,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=30, help="concurrent clients")
    ap.add_argument("--duration", type=float, default=300.0, help="seconds each repetition runs")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--procs", type=int, default=3, help="client processes the sessions are spread over (threads inside each)")
    ap.add_argument("--stream-share", type=float, default=0.5, help="share of requests that are streamed (0..1)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "api.json"))
    args = ap.parse_args()

    questions = load_questions()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_server(port)
    try:
        startup = wait_until_up(url, proc, probe="v1/models")
        idle_rss = tree_rss_mb(proc.pid)
        import openai

        t = time.perf_counter()
        openai.OpenAI(base_url=url + "v1", api_key="bench").chat.completions.create(
            model="policy-assistant", messages=messages_for(questions[0]))  # warm-up
        print(f"server up in {startup:.1f} s, RSS {idle_rss:.0f} MB; warm-up question {1000 * (time.perf_counter() - t):.0f} ms; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        runs = []
        for rep in range(args.reps):
            r = one_rep(url, questions, args.sessions, args.duration, args.stream_share, proc.pid,
                        max(1, min(args.procs, args.sessions)))
            runs.append(r)
            print(
                f"rep {rep + 1}: {r['requests']} requests ({r['streamed']} streamed), {r['errors']} errors, p50 {r['p50_ms']:.0f} ms, "
                f"p95 {r['p95_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms, first content p50 "
                f"{r['first_content_p50_ms']:.0f} ms (p50/p95 streamed {r['streamed_p50_ms']:.0f}/{r['streamed_p95_ms']:.0f} ms, whole "
                f"{r['whole_p50_ms']:.0f}/{r['whole_p95_ms']:.0f} ms), {r['throughput_rps']} req/s, peak RSS {r['peak_rss_mb']:.0f} MB, CPU/request "
                f"server {r['server_cpu_ms_per_request']:.0f} ms + clients {r['client_cpu_ms_per_request']:.0f} ms, "
                f"load {r['loadavg_1min_before']} before, {r['loadavg_1min_median_during']} median during",
                flush=True,
            )
    finally:
        stop_server(proc)

    keys = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "first_content_p50_ms", "throughput_rps", "peak_rss_mb",
            "server_cpu_ms_per_request", "client_cpu_ms_per_request", "loadavg_1min_median_during")
    med = {k: round(statistics.median(r[k] for r in runs), 1) for k in keys}
    med["errors"] = sum(r["errors"] for r in runs)
    med["requests"] = sum(r["requests"] for r in runs)
    goals = {
        "p95_ms <= 1500": med["p95_ms"] <= GOALS["p95_ms"],
        "no errors": med["errors"] == GOALS["errors"],
        "peak RSS <= 1.5 GB": med["peak_rss_mb"] <= GOALS["peak_rss_mb"],
    }
    result = {
        "sessions": args.sessions, "client_processes": args.procs, "duration_s": args.duration, "stream_share": args.stream_share,
        "reps": args.reps, "cpu_count": os.cpu_count(), "server_startup_s": round(startup, 1), "idle_rss_mb": round(idle_rss, 1),
        "median": med, "goals": goals, "runs": runs,
    }
    return write_result(args.out, result, {"median": med, "goals": goals})


if __name__ == "__main__":
    sys.exit(main())
