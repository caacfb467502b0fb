"""Web API under concurrent clients: throughput of 1 and 4 clients posting a 2 KB text to /api/check.

Run: python benchmarks/web.py [--requests 60] [--workers 2]

Starts `stemcheck serve` on 127.0.0.1 (a free port, an empty results store, the rate limit raised for the
run), waits until it answers, then times N requests from one client and N from each of four concurrent clients.
Prints requests/s, p50 and p95 latency, and the 4-client / 1-client throughput ratio.
The CPU time of the server process is reported beside wall time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detector.output.store import ResultStore  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
TEXT = (ROOT / "corpora" / "pages" / "pc-01.html").read_text(encoding="utf-8")


def two_kb_text() -> str:
    from selectolax.lexbor import LexborHTMLParser

    words = LexborHTMLParser(TEXT).body.text(separator="\n").split()
    out, size = [], 0
    for w in words:
        out.append(w)
        size += len(w) + 1
        if size >= 2048:
            break
    return " ".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clients(url: str, body: dict, n_clients: int, per_client: int) -> tuple[float, list[float]]:
    """(requests per second, latencies) of n_clients threads each sending per_client requests."""
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(n_clients + 1)

    def run() -> None:
        with httpx.Client(timeout=60) as c:
            start.wait()
            for _ in range(per_client):
                t0 = time.perf_counter()
                r = c.post(url, json=body)
                r.raise_for_status()
                with lock:
                    latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=run) for _ in range(n_clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - t0), latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--requests", type=int, default=60, help="requests per client")
    ap.add_argument("--workers", type=int, default=2, help="analysis worker processes (STEMCHECK_WEB_WORKERS)")
    ap.add_argument("--model-dir", default=str(ROOT / "models"))
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.sqlite"
        ResultStore(db).close()  # an empty results store: this benchmark only checks texts
        env = {**ENV, "STEMCHECK_WEB_WORKERS": str(args.workers)}
        t0 = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "detector", "serve", "--port", str(port), "--db", str(db),
                                   "--rate-limit", "1000000", "--model-dir", args.model_dir], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/api/check"
            body = {"text": two_kb_text()}
            while True:
                try:
                    httpx.post(url, json=body, timeout=60).raise_for_status()
                    break
                except httpx.TransportError:
                    if server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            print(f"server answering after {time.perf_counter() - t0:.1f} s (workers={args.workers}); "
                  f"text of {len(body['text'])} characters")
            clients(url, body, 4, 3)  # warm every worker
            proc = psutil.Process(server.pid)
            results = {}
            for n in (1, 4):
                cpu0 = sum(p.cpu_times().user + p.cpu_times().system for p in [proc, *proc.children(recursive=True)])
                rate, lat = clients(url, body, n, args.requests)
                cpu1 = sum(p.cpu_times().user + p.cpu_times().system for p in [proc, *proc.children(recursive=True)])
                q = statistics.quantiles(lat, n=20)
                results[n] = rate
                p50 = statistics.median(lat) * 1000
                print(f"{n} client{'s' if n > 1 else ' '}: {rate:6.1f} requests/s, p50 {p50:6.0f} ms, "
                      f"p95 {q[18] * 1000:6.0f} ms, server CPU {(cpu1 - cpu0) / len(lat) * 1000:5.1f} ms/request")
            print(f"4 clients / 1 client throughput: {results[4] / results[1]:.2f}x (machine: {os.cpu_count()} cores)")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
