"""The server's memory stays bounded under never-ending request headers (issue 12).

A real `zhengai serve` in a child process on 127.0.0.1; 20 clients each try to send a 4 MB header
that never ends. Without a header limit the server holds what it is sent (80 MB here, 1.15 GB
for 20 × 50 MB in the issue); with it every connection is cut after MAX_HEADER_BYTES.
The full-size figure is measured by benchmarks/bench_serve.py.
"""

from __future__ import annotations

from pipelines.serve import MAX_HEADER_BYTES
from serve_fixtures import never_ending_headers, served

CLIENTS, HEADER_BYTES = 20, 4 * 1024 * 1024
ALLOWED_GROWTH = 32 * 1024 * 1024  # far below the 80 MB the clients send


def test_never_ending_headers_are_cut_and_memory_stays_bounded(zhengai_home):
    with served(zhengai_home) as (process, port):
        figures = never_ending_headers(port, CLIENTS, HEADER_BYTES, process.pid)
    assert figures["cut"] == CLIENTS, figures
    assert figures["sent"] < CLIENTS * (MAX_HEADER_BYTES + 8 * 1024 * 1024), figures
    assert figures["rss_peak"] - figures["rss_before"] < ALLOWED_GROWTH, figures
