"""Load on one server: 32 concurrent small jobs (text-to-image, one seed each) through
Client.remote. Every job must finish (a 429 is retried after its Retry-After, and counted);
prints p50/p95 latency (submit to result in hand) and throughput.

    python benchmarks/server_load.py --bundle PATH [--workers 2 --queue-size 16 --threads 1]
    python benchmarks/server_load.py --url http://host:8000 --token TOKEN

With --bundle a server is started on a free loopback port (without auth) and stopped after.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np

from reelpoet.sdk.remote_client import RemoteClient


class CountingTransport(httpx.HTTPTransport):
    """Counts the 429 answers the clients saw (and retried), over all their threads."""

    refused = 0
    _lock = threading.Lock()

    def handle_request(self, request):
        response = super().handle_request(request)
        if response.status_code == 429:
            with CountingTransport._lock:
                CountingTransport.refused += 1
        return response


@contextmanager
def started_server(args, folder: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "reelpoet.sdk.cli", "serve", "--no-auth", "--port", str(port)]
    command += ["--bundle", str(args.bundle), "--data-dir", str(folder / "data")]
    command += ["--workers", str(args.workers), "--queue-size", str(args.queue_size)]
    command += ["--threads", str(args.threads), "--per-token-jobs", str(args.jobs)]
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    raise SystemExit((folder / "server.log").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(30)


def run_load(url: str, token: str | None, jobs: int) -> None:
    def one(seed: int) -> float:
        client = RemoteClient(url, token=token, retries=50, transport=CountingTransport())
        started = time.perf_counter()
        with client:
            result = client.text_to_image("a yellow star over a striped background", seed=seed)
        assert result.frames.shape[0] == 1
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        latencies = np.array(list(pool.map(one, range(jobs))))  # raises if any job was lost
    wall = time.perf_counter() - started
    p50, p95 = np.percentile(latencies, [50, 95])
    print(f"{jobs} jobs submitted at once: {len(latencies)} completed, none lost")
    print(f"  429 answers (retried after Retry-After): {CountingTransport.refused}")
    print(f"  latency p50 {p50:.2f} s, p95 {p95:.2f} s, max {latencies.max():.2f} s")
    print(f"  throughput {jobs / wall:.2f} jobs/s ({wall:.1f} s for all)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running server")
    parser.add_argument("--token", default=os.environ.get("REELPOET_TOKEN"))
    parser.add_argument("--bundle", type=Path, help="start a server on this bundle")
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.url:
        run_load(args.url, args.token, args.jobs)
        return
    if args.bundle is None:
        parser.error("give --url of a server, or --bundle to start one")
    with tempfile.TemporaryDirectory() as folder, started_server(args, Path(folder)) as url:
        print(f"server: {args.workers} workers x {args.threads} thread(s), queue {args.queue_size}")
        run_load(url, None, args.jobs)


if __name__ == "__main__":
    main()
