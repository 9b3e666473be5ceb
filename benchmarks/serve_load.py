"""Load on `sketchtool serve`: N concurrent clients asking for completions (3 endings each) for S seconds
against the embedded sheep, the server pinned to one CPU core. Reports start to first response, p50/p95
latency, throughput, errors, the server's CPU seconds per request and its memory over the run.

    python benchmarks/serve_load.py [--clients 20] [--seconds 30] [--n 3] [--core 0] [--json out.json]

The server's CPU seconds come from /proc (what it used itself, robust to other load); latency is wall time and
includes waiting for the core. The load average is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

# a started sheep: a woolly back drawn left to right, in page pixels
START = [[[200, 260], [210, 230], [235, 215], [260, 220], [285, 205], [310, 210], [335, 200], [360, 210], [375, 240]]]


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", open(f"/proc/{pid}/status").read())
    return int(match.group(1)) / 1024


def post(url: str, body: dict, timeout: float = 120) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--core", default="0")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pin = ["taskset", "-c", args.core] if shutil.which("taskset") else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    server = subprocess.Popen([*pin, sys.executable, "-m", "sketchtool", "serve", "--port", str(port), "--threads", "1",
                               "--concurrency", str(args.concurrency)], stdout=subprocess.PIPE, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(base + "/api/models", timeout=1) as r:
                r.read()
            break
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None:
                sys.exit("the server did not start")
            time.sleep(0.02)
    first_response = time.perf_counter() - started
    start_cpu = cpu_seconds(server.pid)  # what starting took the server itself, whatever else runs
    status = post(base + "/api/complete", {"strokes": START, "n": args.n, "seed": 0})
    first_completion = time.perf_counter() - started
    assert status == 200, status

    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    memory: list[float] = []
    deadline = time.perf_counter() + args.seconds
    stop = threading.Event()

    def client(k: int) -> None:
        rng = random.Random(k)
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            code = post(base + "/api/complete", {"strokes": START, "n": args.n, "seed": rng.randrange(2**31)})
            with lock:
                results.append((time.perf_counter() - t, code))

    def sample_memory() -> None:
        while not stop.is_set():
            memory.append(rss_mb(server.pid))
            stop.wait(0.5)

    cpu_before = cpu_seconds(server.pid)
    watcher = threading.Thread(target=sample_memory)
    watcher.start()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    load_start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - load_start
    stop.set()
    watcher.join()
    cpu = cpu_seconds(server.pid) - cpu_before
    server.send_signal(signal.SIGTERM)
    server.wait(30)

    latencies = sorted(t for t, code in results if code == 200)
    errors = sum(code != 200 for _, code in results)
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
    quarter = max(1, len(memory) // 4)
    report = {
        "clients": args.clients, "seconds": round(elapsed, 1), "endings_per_request": args.n,
        "server_concurrency": args.concurrency, "pinned_core": args.core if pin else None,
        "requests": len(results), "errors": errors, "throughput_rps": round(len(latencies) / elapsed, 2),
        "p50_s": round(statistics.median(latencies), 3) if latencies else None, "p95_s": round(q[18], 3),
        "server_cpu_s_per_request": round(cpu / max(1, len(results)), 4),
        "rss_mb_first_quarter": round(statistics.mean(memory[:quarter]), 1),
        "rss_mb_last_quarter": round(statistics.mean(memory[-quarter:]), 1), "rss_mb_max": round(max(memory), 1),
        "rss_mb_every_10s": [round(m, 1) for m in memory[::20]],
        "start_to_first_response_s": round(first_response, 2), "start_cpu_s": round(start_cpu, 2), "start_to_first_completion_s": round(first_completion, 2),
        "load_average": os.getloadavg(), "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}",
    }
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
