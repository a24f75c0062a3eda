"""Soak: one `serve` process under a steady mixed load for ten minutes, every door at once.

    .venv/bin/python -m benchmarks.bench_soak [--clients 30] [--duration 600] [--warmup 120] [--procs 3]
                                              [--out benchmarks/results/soak.json]

Starts `policy-assistant serve --passcode ...` as a subprocess on a free 127.0.0.1 port (the real
index under data/, or POLICY_ASSISTANT_DATA_DIR; with a passcode, so that every request goes
through the Guard's authentication, back-off look-up, route list and session owners), waits until
it answers, warms it up, then runs `--clients` concurrent clients (threads spread over `--procs`
client processes), a third on each door:

- the web chat's `/ask` through `gradio_client` (`Client(url, headers={"Authorization": "Bearer …"})`),
- the OpenAI-compatible API through the openai SDK (every other request streamed),
- the REST API (`POST /api/v1/ask`) through httpx.

Each client asks dev-set questions (evals/dev_questions.jsonl, follow-ups with their history) one
after the other, waiting for each answer (the load is bounded by the number of clients), for
`--duration` seconds. A request fails when it raises, or its answer is neither refused nor cited.
The server's RSS (its process tree, from /proc) is sampled every second: the growth is the
median of the last minute against the median of the minute after `--warmup`. Reports requests,
errors and latency (p50/p95) per door, throughput, RSS, the load average; writes JSON to --out;
exits 1 unless there are no errors and the RSS grew by at most 5 % after the warm-up.
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
    answer_problem, free_port, load_questions, percentile, start_server, stop_server, tree_cpu_s, tree_rss_mb,
    wait_until_up, write_result)

REPO = Path(__file__).resolve().parent.parent
DOORS = ("gradio", "openai", "rest")
GOALS = {"errors": 0, "rss_growth_pct": 5.0}


class _Door:
    """One client of one door: ``ask(question, history)`` returns an error or None."""

    def __init__(self, door: str, url: str, passcode: str, i: int):
        self.door, self.k = door, i
        auth = {"Authorization": f"Bearer {passcode}"}
        if door == "gradio":
            from gradio_client import Client

            self.client = Client(url, headers=auth, verbose=False, ssl_verify=False)
        elif door == "openai":
            import openai

            self.client = openai.OpenAI(base_url=url + "v1", api_key=passcode, max_retries=0, timeout=120)
        else:
            import httpx

            self.client = httpx.Client(base_url=url, headers=auth, timeout=120)

    def ask(self, question: str, history: list[str]) -> str | None:
        self.k += 1
        if self.door == "gradio":
            return answer_problem(self.client.predict(question, history, api_name="/ask"))
        if self.door == "rest":
            resp = self.client.post("/api/v1/ask", json={"question": question, "history": history})
            return f"HTTP {resp.status_code}" if resp.status_code != 200 else answer_problem(resp.json())
        messages = [{"role": "user", "content": h} for h in history] + [{"role": "user", "content": question}]
        if self.k % 2:
            resp = self.client.chat.completions.create(model="policy-assistant", messages=messages)
            return answer_problem(getattr(resp.choices[0].message, "policy_assistant", None))
        extra = None
        with self.client.chat.completions.create(model="policy-assistant", messages=messages, stream=True) as events:
            for chunk in events:
                if chunk.choices and chunk.choices[0].finish_reason == "stop":
                    extra = getattr(chunk.choices[0].delta, "policy_assistant", None)
        return answer_problem(extra)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass


def _client_worker(url: str, passcode: str, jobs: list[tuple[int, str, list[dict]]], duration: float, barrier, results) -> None:
    """One client process: a thread per client."""
    records: list[tuple[float, str, float, str | None]] = []  # (start, door, ms, error)
    lock = threading.Lock()
    doors = {i: _Door(door, url, passcode, i) for i, door, _ in jobs}
    barrier.wait()
    t0 = time.time()
    deadline = time.perf_counter() + duration

    def client(i: int, door: str, qs: list[dict]) -> None:
        k = 0
        while time.perf_counter() < deadline:
            q = qs[k % len(qs)]
            k += 1
            start, t = time.time() - t0, time.perf_counter()
            try:
                err = doors[i].ask(q["question"], list(q.get("history") or []))
            except Exception as exc:  # noqa: BLE001
                err = repr(exc)[:300]
            with lock:
                records.append((start, door, (time.perf_counter() - t) * 1000, err))

    cpu0 = time.process_time()
    threads = [threading.Thread(target=client, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put({"records": records, "t0": t0, "cpu_s": time.process_time() - cpu0, "t_end": time.time()})
    for d in doors.values():
        d.close()


class Sampler(threading.Thread):
    """The server's RSS every second and the 1-minute load average every 5 s, with their times."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.rss, self.load = pid, [], []
        self._stop_event = threading.Event()

    def run(self) -> None:
        t0, n = time.time(), 0
        while not self._stop_event.is_set():
            now = time.time() - t0
            self.rss.append((now, tree_rss_mb(self.pid)))
            if n % 5 == 0:
                self.load.append((now, os.getloadavg()[0]))
            n += 1
            self._stop_event.wait(1.0)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _window(samples: list[tuple[float, float]], start: float, end: float) -> float:
    values = [v for t, v in samples if start <= t < end]
    return statistics.median(values) if values else float("nan")


def main() -> int:
    import multiprocessing as mp

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=30, help="concurrent clients, a third on each door")
    ap.add_argument("--duration", type=float, default=600.0, help="seconds the load runs")
    ap.add_argument("--warmup", type=float, default=120.0, help="seconds before the RSS baseline (its next minute)")
    ap.add_argument("--procs", type=int, default=3, help="client processes the clients are spread over")
    ap.add_argument("--passcode", default="soak-passcode")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "soak.json"))
    args = ap.parse_args()

    questions = load_questions()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_server(port, passcode=args.passcode)
    try:
        startup = wait_until_up(url, proc, probe="v1/models", passcode=args.passcode)
        for door in DOORS:  # warm every door once
            _Door(door, url, args.passcode, 0).ask(questions[0]["question"], [])
        idle_rss = tree_rss_mb(proc.pid)
        load_before = os.getloadavg()[0]
        print(f"server up in {startup:.1f} s, RSS {idle_rss:.0f} MB after one question per door; load {load_before:.2f}", flush=True)

        ctx = mp.get_context("spawn")
        procs = max(1, min(args.procs, args.clients))
        barrier = ctx.Barrier(procs + 1)
        results = ctx.Queue()
        per = max(10, len(questions) // max(1, args.clients))
        jobs = [(i, DOORS[i % 3], [questions[(i * 7 + k) % len(questions)] for k in range(per)]) for i in range(args.clients)]
        workers = [ctx.Process(target=_client_worker, args=(url, args.passcode, jobs[w::procs], args.duration, barrier, results),
                               daemon=True) for w in range(procs)]
        for w in workers:
            w.start()
        sampler = Sampler(proc.pid)
        barrier.wait(timeout=300)
        sampler.start()
        t0, cpu_server = time.time(), tree_cpu_s(proc.pid)
        outs = [results.get(timeout=args.duration + 900) for _ in workers]
        cpu_server = tree_cpu_s(proc.pid) - cpu_server
        wall = max(o["t_end"] for o in outs) - t0
        for w in workers:
            w.join(timeout=30)
        sampler.stop()
        alive = proc.poll() is None
    finally:
        stop_server(proc)

    records = [r for o in outs for r in o["records"]]
    errors = [r[3] for r in records if r[3]]
    by_door = {}
    for door in DOORS:
        ms = [r[2] for r in records if r[1] == door]
        by_door[door] = {"requests": len(ms), "errors": sum(1 for r in records if r[1] == door and r[3]),
                         "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
                         "max_ms": round(max(ms, default=float("nan")), 1)}
    base = _window(sampler.rss, args.warmup, args.warmup + 60)
    end = _window(sampler.rss, wall - 60, wall + 1)
    growth = 100 * (end - base) / base if base else float("nan")
    minutes = {f"{int(m)}": round(_window(sampler.rss, m * 60 - 30, m * 60 + 1), 1) for m in range(1, int(wall // 60) + 1)}
    loads = [v for _, v in sampler.load]
    all_ms = [r[2] for r in records]
    result = {
        "clients": args.clients, "client_processes": procs, "duration_s": args.duration, "warmup_s": args.warmup,
        "cpu_count": os.cpu_count(), "server_startup_s": round(startup, 1), "server_alive_at_end": alive,
        "requests": len(records), "errors": len(errors), "error_examples": sorted(set(errors))[:5],
        "p50_ms": round(percentile(all_ms, 50), 1), "p95_ms": round(percentile(all_ms, 95), 1),
        "throughput_rps": round(len(records) / wall, 2) if wall else 0.0, "by_door": by_door,
        "server_cpu_ms_per_request": round(1000 * cpu_server / max(1, len(records)), 1),
        "client_cpu_ms_per_request": round(1000 * sum(o["cpu_s"] for o in outs) / max(1, len(records)), 1),
        "rss_mb": {"idle_after_warm_up_question": round(idle_rss, 1), "baseline_after_warmup": round(base, 1),
                   "last_minute": round(end, 1), "peak": round(max((v for _, v in sampler.rss), default=0.0), 1),
                   "growth_pct": round(growth, 2), "median_by_minute": minutes},
        "loadavg_1min": {"before": round(load_before, 2), "median_during": round(statistics.median(loads), 2) if loads else None,
                         "max_during": round(max(loads), 2) if loads else None},
    }
    goals = {"no errors": result["errors"] == GOALS["errors"] and alive,
             f"RSS growth after warm-up <= {GOALS['rss_growth_pct']:.0f} %": growth <= GOALS["rss_growth_pct"]}
    result["goals"] = goals
    return write_result(args.out, result)


if __name__ == "__main__":
    sys.exit(main())
