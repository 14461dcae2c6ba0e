"""The load probe: closed-loop (or open-loop) load over configured routes, every request
recorded. Worker subprocesses (`performance.worker`) each drive a share of the keep-alive
connections with one blocking `http.client` thread per connection, so the probe's own event
loop never queues responses (a shared async client at concurrency 50 reports a p95 many times
the server's, encode/httpx#3215). Each worker reports its CPU use so a saturated probe can be
told apart from a slow server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from runbook.phases.performance.params import PerformanceParams
from runbook.phases.performance.worker import ARRAYS

SAMPLES_FILE = "load-samples.csv.gz"
RUN_FILE = "load-run.json"


@dataclass
class LoadResult:
    """Every request of one load run (`frame`) and how the run went (probe CPU, machine load)."""

    frame: pd.DataFrame  # t_s, route, method, path, status, ok, latency_ms, error, worker
    base_url: str
    routes: list[str]
    concurrency: int
    workers: int
    warmup_s: float
    duration_s: float
    window_s: float
    rate_per_s: float | None
    started_at: str
    header_names: list[str] = field(default_factory=list)  # names only, never values
    probe: dict[str, Any] = field(default_factory=dict)  # per-worker CPU, machine load
    failures: list[str] = field(default_factory=list)  # what kept the probe from running

    @property
    def measured(self) -> pd.DataFrame:
        """The samples after the warm-up."""
        return self.frame[self.frame["t_s"] >= self.warmup_s]

    def max_worker_cpu(self) -> float | None:
        """The busiest worker's CPU use as a share of one core (None if none reported)."""
        shares = [w["cpu_share"] for w in self.probe.get("workers", [])]
        return max(shares) if shares else None

    def meta(self) -> dict[str, Any]:
        """Everything but the samples, JSON-able."""
        return {
            "base_url": self.base_url,
            "routes": self.routes,
            "concurrency": self.concurrency,
            "workers": self.workers,
            "warmup_s": self.warmup_s,
            "duration_s": self.duration_s,
            "window_s": self.window_s,
            "rate_per_s": self.rate_per_s,
            "started_at": self.started_at,
            "header_names": self.header_names,
            "probe": self.probe,
            "failures": self.failures,
            "samples": len(self.frame),
        }

    def save(self, directory: Path | str) -> Path:
        """Write the raw samples (gzip CSV) and the run description into directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.frame.to_csv(directory / SAMPLES_FILE, index=False, compression="gzip")
        (directory / RUN_FILE).write_text(json.dumps(self.meta(), indent=2))
        return directory / SAMPLES_FILE

    @classmethod
    def load(cls, directory: Path | str) -> LoadResult:
        """Read back a run saved with `save` (to re-judge it later)."""
        directory = Path(directory)
        meta = json.loads((directory / RUN_FILE).read_text())
        frame = pd.read_csv(directory / SAMPLES_FILE, keep_default_na=False)
        frame["route"] = pd.Categorical(frame["route"], categories=meta["routes"])
        frame["error"] = frame["error"].astype(str)
        meta.pop("samples", None)
        return cls(frame=frame, **meta)


# -- machine load ------------------------------------------------------------------------------
def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine from /proc/stat, None where unavailable."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def _busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 4)


# -- the run -----------------------------------------------------------------------------------
def _route_table(
    params: PerformanceParams, base_path: str, headers: dict[str, str]
) -> list[tuple[str, str, str | None, dict[str, str]]]:
    table = []
    for route in params.routes:
        sent = {"Accept": "application/json", **(headers if route.auth else {})}
        body = None
        if route.json_body is not None:
            body = json.dumps(route.json_body)
            sent["Content-Type"] = "application/json"
        table.append((route.method, base_path + route.path, body, sent))
    return table


def _read_line(stream: IO[str]) -> dict[str, Any] | None:
    """Next JSON line from a worker, None on EOF (a watchdog kills overrunning workers)."""
    line = stream.readline()
    return json.loads(line) if line else None


def run_load(
    params: PerformanceParams, base_url: str, headers: dict[str, str] | None = None
) -> LoadResult:
    """Load base_url's routes as params say; never raises for target trouble (it is recorded)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be http(s)://host[:port][/prefix], got {base_url!r}")
    headers = dict(headers or {})
    labels = [r.label for r in params.routes]
    conc = params.concurrency
    n_workers = min(params.workers, conc)
    shown_url = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    shown_url += parts.path.rstrip("/")
    result = LoadResult(
        frame=pd.DataFrame(), base_url=shown_url, routes=labels, concurrency=conc,
        workers=n_workers, warmup_s=params.warmup_s, duration_s=params.duration_s,
        window_s=params.window_s, rate_per_s=params.rate_per_s,
        started_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        header_names=sorted(headers),
    )  # fmt: skip
    interval_ns = int(conc / params.rate_per_s * 1e9) if params.rate_per_s else 0
    table = _route_table(params, parts.path.rstrip("/"), headers)
    with tempfile.TemporaryDirectory(prefix="perf-") as tmp:
        procs: list[tuple[subprocess.Popen[str], IO[bytes], str, list[int]]] = []
        try:
            for w in range(n_workers):
                indexes = list(range(w, conc, n_workers))
                out = os.path.join(tmp, f"worker-{w}.bin")
                spec = {
                    "scheme": parts.scheme, "host": parts.hostname,
                    "port": parts.port or (443 if parts.scheme == "https" else 80),
                    "routes": table, "timeout_s": params.timeout_s,
                    "error_backoff_s": params.error_backoff_s, "verify_tls": params.verify_tls,
                    "interval_ns": interval_ns, "concurrency": conc,
                    "connection_indexes": indexes, "out": out,
                }  # fmt: skip
                stderr: IO[bytes] = tempfile.TemporaryFile()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "runbook.phases.performance.worker"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
                )  # fmt: skip
                procs.append((proc, stderr, out, indexes))
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(spec) + "\n")  # secrets travel by pipe only
                proc.stdin.flush()
            _run_workers(procs, params, result)
        finally:
            for proc, stderr, _, _ in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                stderr.close()
        result.frame = _frame(procs, result, params)
    return result


def _run_workers(
    procs: list[tuple[subprocess.Popen[str], IO[bytes], str, list[int]]],
    params: PerformanceParams,
    result: LoadResult,
) -> None:
    """Wait for ready, start everyone at the same instant, collect each worker's report."""
    total_s = params.warmup_s + params.duration_s
    watchdog = _Watchdog([p for p, _, _, _ in procs])
    watchdog.arm(30 + params.timeout_s)  # start-up and first connections
    for proc, stderr, _, _ in procs:
        assert proc.stdout is not None
        ready = _read_line(proc.stdout)
        if not ready or ready.get("event") != "ready":
            stderr.seek(0)
            tail = stderr.read().decode("utf-8", "replace").strip()[-800:]
            result.failures.append(f"probe worker {proc.pid} did not start: {tail or 'no output'}")
    if result.failures:
        watchdog.disarm()
        return
    go_ns = time.perf_counter_ns() + 50_000_000
    end_ns = go_ns + int(total_s * 1e9)
    cpu_before, load_before = _cpu_times(), os.getloadavg()
    for proc, _, _, _ in procs:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"go_ns": go_ns, "end_ns": end_ns}) + "\n")
        proc.stdin.flush()
    watchdog.arm(total_s + params.timeout_s + 30)
    reports = []
    for proc, _, _, _ in procs:
        assert proc.stdout is not None
        done = _read_line(proc.stdout)
        if not done or done.get("event") != "done":
            result.failures.append(f"probe worker {proc.pid} ended without its report")
            continue
        reports.append(done)
        if done["threads_stuck"]:
            result.failures.append(
                f"probe worker {proc.pid}: {done['threads_stuck']} connection(s) still busy "
                f"{params.timeout_s + 5:g} s after the end"
            )
    watchdog.disarm()
    result.probe = {
        "workers": [
            {"pid": r["pid"], "samples": r["n"], "cpu_s": round(r["cpu_s"], 3),
             "wall_s": round(r["wall_s"], 3),
             "cpu_share": round(r["cpu_s"] / r["wall_s"], 4) if r["wall_s"] > 0 else None}
            for r in reports
        ],
        "machine_busy_share": _busy_share(cpu_before, _cpu_times()),
        "cpu_count": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "reports": reports,
    }  # fmt: skip


class _Watchdog:
    """Kills the workers if a phase overruns its deadline (so a hung worker cannot hang us)."""

    def __init__(self, procs: list[subprocess.Popen[str]]) -> None:
        self._procs = procs
        self._timer: threading.Timer | None = None

    def arm(self, seconds: float) -> None:
        self.disarm()
        self._timer = threading.Timer(seconds, self._kill)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _kill(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()


def _frame(
    procs: list[tuple[subprocess.Popen[str], IO[bytes], str, list[int]]],
    result: LoadResult,
    params: PerformanceParams,
) -> pd.DataFrame:
    """All workers' samples as one DataFrame, sorted by start time."""
    reports = {r["pid"]: r for r in result.probe.get("reports", [])}
    parts = []
    for w, (proc, _, out, _) in enumerate(procs):
        report = reports.get(proc.pid)
        if report is None or not os.path.exists(out):
            continue
        n = int(report["n"])
        raw = np.fromfile(out, dtype=np.uint8)
        columns: dict[str, Any] = {}
        offset = 0
        for name, code in ARRAYS:
            dtype = np.dtype({"q": np.int64, "H": np.uint16}[code])
            columns[name] = raw[offset : offset + n * dtype.itemsize].view(dtype)
            offset += n * dtype.itemsize
        error = np.full(n, "", dtype=object)
        for index, message in report["errors"].items():
            error[int(index)] = message
        parts.append(pd.DataFrame({
            "t_s": columns["start_ns"] / 1e9,
            "route_index": columns["route"],
            "status": columns["status"],
            "latency_ms": columns["latency_ns"] / 1e6,
            "error": error,
            "worker": np.full(n, w, dtype=np.int16),
        }))  # fmt: skip
    result.probe.pop("reports", None)
    if not parts:
        return _empty_frame(result.routes)
    frame = pd.concat(parts, ignore_index=True).sort_values("t_s", kind="stable")
    expected = np.zeros((len(params.routes), 1 << 16), dtype=bool)
    for i, route in enumerate(params.routes):
        expected[i, route.expected_status] = True
    idx = frame["route_index"].to_numpy(np.int64)
    frame["ok"] = expected[idx, frame["status"].to_numpy(np.int64)]
    frame["route"] = pd.Categorical.from_codes(idx, categories=result.routes)
    frame["method"] = np.array([r.method for r in params.routes], dtype=object)[idx]
    frame["error"] = frame["error"].where(
        (frame["error"] != "") | frame["ok"], "unexpected status " + frame["status"].astype(str)
    )
    order = ["t_s", "route", "method", "status", "ok", "latency_ms", "error", "worker"]
    return frame[order].reset_index(drop=True)


def _empty_frame(routes: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "t_s": pd.Series(dtype=float), "route": pd.Categorical([], categories=routes),
        "method": pd.Series(dtype=object), "status": pd.Series(dtype=np.uint16),
        "ok": pd.Series(dtype=bool), "latency_ms": pd.Series(dtype=float),
        "error": pd.Series(dtype=object), "worker": pd.Series(dtype=np.int16),
    })  # fmt: skip
