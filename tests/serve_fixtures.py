"""`zhengai serve` in a child process on 127.0.0.1, and the never-ending-header attack of issue 12.

Shared by tests/test_serve_limits.py (a small attack) and benchmarks/bench_serve.py (20 × 50 MB).
Loopback only; every loop is bounded by bytes sent or a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

CHUNK = 64 * 1024
STARTUP_SECONDS = 60


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(home: Path):
    """`zhengai serve` on a free loopback port with `home` as its data home; yields (process, port)."""
    port = free_port()
    zhengai = os.path.join(os.path.dirname(sys.executable), "zhengai")
    env = {**os.environ, "ZHENGAI_HOME": str(home)}
    process = subprocess.Popen(
        [zhengai, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("zhengai serve did not start") from None
                time.sleep(0.1)
        yield process, port
    finally:
        process.send_signal(signal.SIGINT)  # uvicorn's graceful stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def never_ending_headers(port: int, clients: int, header_bytes: int, server_pid: int) -> dict:
    """Open `clients` connections that each send one header value that never ends, round-robin, up to
    `header_bytes` each or until the server stops reading; returns the server's resident memory before
    and at its peak while every connection is still open, and how many connections the server cut."""
    before = rss_bytes(server_pid)
    sockets, sent = [], []
    for _ in range(clients):
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Never-Ending: ")
        sockets.append(sock)
        sent.append(0)
    live = set(range(clients))
    peak = before
    chunk = b"a" * CHUNK
    while live:
        for index in sorted(live):
            try:
                sockets[index].sendall(chunk)
                sent[index] += CHUNK
            except OSError:  # reset, broken pipe, or the server stopped reading (timeout)
                live.discard(index)
                continue
            if sent[index] >= header_bytes:
                live.discard(index)
        peak = max(peak, rss_bytes(server_pid))
    time.sleep(0.5)
    peak = max(peak, rss_bytes(server_pid))
    cut = sum(1 for total in sent if total < header_bytes)
    for sock in sockets:
        sock.close()
    return {"rss_before": before, "rss_peak": peak, "cut": cut, "sent": sum(sent)}
