"""One probe worker process: a share of the connections, one thread per keep-alive connection
with blocking `http.client`, timing with `perf_counter_ns` around the request only.

Stdlib only (it starts fast). Protocol on stdin/stdout, one JSON object per line:
  parent -> spec (may carry secret headers: they are never written anywhere)
  worker -> {"event": "ready"}          (all connections attempted)
  parent -> {"go_ns": <perf_counter_ns of the start>, "end_ns": <stop sending at>}
  worker -> {"event": "done", ...}      (samples written to spec["out"] as raw arrays)
CLOCK_MONOTONIC (perf_counter_ns on Linux) is system-wide, so all workers share one time base.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time
from array import array
from typing import Any

ARRAYS = (("start_ns", "q"), ("latency_ns", "q"), ("route", "H"), ("status", "H"))


def describe(exc: BaseException) -> str:
    """A short category for a transport error (no URL or header in it)."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection reset"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "server closed the connection"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.__class__.__name__}"
    if isinstance(exc, socket.gaierror):
        return "name resolution failed"
    return exc.__class__.__name__


class Connection(threading.Thread):
    """One keep-alive connection sending requests back to back (or on an open-loop schedule)."""

    def __init__(self, spec: dict[str, Any], index: int, start_gate: threading.Event) -> None:
        super().__init__(daemon=True)
        self.spec = spec
        self.index = index  # global connection index (route rotation and open-loop phase)
        self.start_gate = start_gate
        self.ready = threading.Event()
        self.go_ns = 0
        self.end_ns = 0
        self.samples = {name: array(code) for name, code in ARRAYS}
        self.errors: dict[int, str] = {}
        self.conn = self._new_connection()

    def _new_connection(self) -> http.client.HTTPConnection:
        s = self.spec
        if s["scheme"] == "https":
            context = ssl.create_default_context()
            if not s["verify_tls"]:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                s["host"], s["port"], timeout=s["timeout_s"], context=context
            )
        return http.client.HTTPConnection(s["host"], s["port"], timeout=s["timeout_s"])

    def connect(self) -> None:
        """Open the connection before the start (a failure is retried, and recorded, later)."""
        try:
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            self.conn.close()

    def run(self) -> None:
        routes = self.spec["routes"]  # [(method, path, body | None, headers)]
        n_routes = len(routes)
        backoff_s = self.spec["error_backoff_s"]
        interval_ns = self.spec["interval_ns"]  # 0 = closed loop
        start_a, lat_a = self.samples["start_ns"].append, self.samples["latency_ns"].append
        route_a, status_a = self.samples["route"].append, self.samples["status"].append
        clock = time.perf_counter_ns
        conn = self.conn
        self.connect()
        self.ready.set()
        self.start_gate.wait()
        go, end = self.go_ns, self.end_ns
        k = self.index % n_routes
        due = go + (self.index * interval_ns) // max(self.spec["concurrency"], 1)
        while True:
            if interval_ns:
                now = clock()
                if due > now:
                    time.sleep((due - now) / 1e9)
                began = due  # open loop: latency counts from the scheduled time
                due += interval_ns
            else:
                began = clock()
            if began >= end:
                break
            method, path, body, headers = routes[k]
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except Exception as exc:  # noqa: BLE001 - every transport failure is a sample
                done = clock()
                self.errors[len(self.samples["status"])] = describe(exc)
                conn.close()
                status = 0
                if backoff_s:
                    time.sleep(backoff_s)
            else:
                done = clock()
            start_a(began - go)
            lat_a(done - began)
            route_a(k)
            status_a(status)
            k = (k + 1) % n_routes
        conn.close()


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    start_gate = threading.Event()
    conns = [Connection(spec, i, start_gate) for i in spec["connection_indexes"]]
    for c in conns:
        c.start()  # each connects, then waits for the start
    for c in conns:
        c.ready.wait(spec["timeout_s"] + 1)
    print(json.dumps({"event": "ready"}), flush=True)
    go = json.loads(sys.stdin.readline())
    for c in conns:
        c.go_ns, c.end_ns = int(go["go_ns"]), int(go["end_ns"])
    now = time.perf_counter_ns()
    if go["go_ns"] > now:
        time.sleep((go["go_ns"] - now) / 1e9)
    cpu0, wall0 = time.process_time_ns(), time.perf_counter_ns()
    start_gate.set()
    grace_s = spec["timeout_s"] + 5
    stuck = 0
    for c in conns:
        c.join(max(0.0, (c.end_ns - time.perf_counter_ns()) / 1e9) + grace_s)
        stuck += c.is_alive()
    cpu_ns, wall_ns = time.process_time_ns() - cpu0, time.perf_counter_ns() - wall0
    # a stuck thread may still append: cut every connection to the length all arrays reached
    counts = [min(len(a) for a in c.samples.values()) for c in conns]
    with open(spec["out"], "wb") as out:
        for name, _ in ARRAYS:
            for c, n in zip(conns, counts, strict=True):
                c.samples[name][:n].tofile(out)
    errors: dict[str, str] = {}
    offset = 0
    for c, n in zip(conns, counts, strict=True):
        errors.update({str(offset + i): m for i, m in list(c.errors.items()) if i < n})
        offset += n
    print(
        json.dumps(
            {
                "event": "done",
                "pid": os.getpid(),
                "n": offset,
                "cpu_s": cpu_ns / 1e9,
                "wall_s": wall_ns / 1e9,
                "threads_stuck": stuck,
                "errors": errors,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
