"""Probe accuracy: the load probe's p95 against wrk's at the same concurrency (1, 10, 50) on the
sandbox's 20 ms route. Goal: probe p95 / wrk p95 within 0.9 .. 1.1.

wrk's --latency prints p50/75/90/99 only; its p95 comes from a Lua done() hook
(latency:percentile(95)). Optional: --httpx adds a shared httpx.AsyncClient at the highest
concurrency, the design this probe replaces (encode/httpx#3215).

Like with like: wrk has no warm-up, so the probe excludes none (--warmup 0); wrk runs one
thread (--wrk-threads 1) because the single-process sandbox needs one of the two cores and a
second busy wrk thread competes with it. Each concurrency is measured in alternating rounds and
the medians compared; wrk's own round-to-round spread is printed as the noise floor.

Run: uv run python bench/probe_vs_wrk.py [--duration 8] [--rounds 5] [--httpx]
Needs wrk (on PATH, or WRK=/path/to/wrk); without it the benchmark says how to get it and
exits 0 having measured nothing (it is a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.server import start_sandbox
from runbook.phases.performance.params import PerformanceParams
from runbook.phases.performance.probe import run_load
from runbook.phases.performance.stats import route_stats

ROUTE = "/api/v1/sandbox/slow"
LUA_P95 = """done = function(summary, latency, requests)
  io.write(string.format("P95_US %d\\n", latency:percentile(95)))
end
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
WRK_MISSING = (
    "SKIPPED probe accuracy: wrk is not installed, so there is nothing to compare "
    "the probe with. wrk is not on PyPI; get it from your system's packages (Debian/"
    "Ubuntu: `apt-get install wrk`, macOS: `brew install wrk`) or build it from "
    "https://github.com/wg/wrk, or point WRK at a wrk binary. Nothing else needs it: "
    "the tests and the rehearsal run without it."
)


def run_wrk(wrk: str, url: str, concurrency: int, duration_s: int, lua: Path,
            threads: int) -> dict[str, float]:  # fmt: skip
    """wrk's p50/p90/p95/p99 (ms) and request rate at `concurrency` connections."""
    threads = min(threads, concurrency)
    out = subprocess.run(
        [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{duration_s}s", "--latency",
         "-s", str(lua), url + ROUTE],
        capture_output=True, text=True, check=True, timeout=duration_s + 30,
    ).stdout  # fmt: skip
    stats = {
        f"p{p}": float(v) * UNITS[u]
        for p, v, u in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\b", out, re.M)
    }
    stats["p95"] = int(re.search(r"P95_US (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    stats["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    stats["bad"] = float("Non-2xx" in out or "Socket errors" in out)  # wrk saw failures
    return stats


def run_probe(url: str, concurrency: int, duration_s: int, workers: int,
              warmup_s: float) -> dict[str, float]:  # fmt: skip
    """The probe's p50/p95/p99 (ms), request rate and busiest worker's CPU share."""
    params = PerformanceParams(
        routes=[{"path": ROUTE, "auth": False}],
        concurrency=concurrency,
        duration_s=duration_s,
        warmup_s=warmup_s,
        workers=workers,
    )
    result = run_load(params, url)
    row = route_stats(result.frame, warmup_s=warmup_s, duration_s=duration_s).loc["(all)"]
    return {
        "p50": row["p50_ms"],
        "p95": row["p95_ms"],
        "p99": row["p99_ms"],
        "rps": row["throughput_rps"],
        "errors": row["errors"],
        "cpu": result.max_worker_cpu() or float("nan"),
    }


def run_httpx_shared(url: str, concurrency: int, duration_s: int) -> dict[str, float]:
    """The naive design: one shared httpx.AsyncClient, `concurrency` tasks, 1 s warm-up."""
    import httpx

    async def main() -> list[float]:
        lat: list[float] = []
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            warm_end = time.perf_counter() + 1.0
            end = warm_end + duration_s

            async def loop() -> None:
                while (began := time.perf_counter()) < end:
                    await client.get(url + ROUTE)
                    if began >= warm_end:
                        lat.append((time.perf_counter() - began) * 1000)

            await asyncio.gather(*(loop() for _ in range(concurrency)))
        return lat

    lat = np.asarray(asyncio.run(main()))
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    return {"p50": p50, "p95": p95, "p99": p99, "rps": lat.size / duration_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="alternating wrk/probe rounds")
    parser.add_argument("--workers", type=int, default=2, help="probe worker processes")
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (the sandbox needs one of the 2 cores: a second busy "
        "wrk thread competes with it and adds to the tail it measures)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.0,
        help="probe warm-up excluded (wrk has none: 0 compares like with like)",
    )
    parser.add_argument("--httpx", action="store_true", help="also time a shared AsyncClient")
    args = parser.parse_args()
    wrk = shutil.which(os.environ.get("WRK", "wrk"))
    if wrk is None:
        print(WRK_MISSING, flush=True)
        return
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    config = SandboxConfig(port=0, slow_route_ms=20, rate_limit_per_minute=100_000_000)
    began = time.perf_counter()
    token = secrets.token_urlsafe(16)
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_sandbox(config, token, token_env="BENCH_SANDBOX_TOKEN") as sbx,
    ):
        lua = Path(tmp) / "p95.lua"
        lua.write_text(LUA_P95)
        print(
            f"{'conc':>4} {'round':>5} | {'wrk p50':>8} {'p95':>7} {'p99':>7} {'rps':>6} | "
            f"{'probe p50':>9} {'p95':>7} {'p99':>7} {'rps':>6} {'cpu':>5} | {'p95 ratio':>9}"
        )
        summary = []
        for c in args.concurrency:
            wrk_p95, probe_p95 = [], []
            for r in range(args.rounds):
                w = run_wrk(wrk, sbx.url, c, args.duration, lua, args.wrk_threads)
                p = run_probe(sbx.url, c, args.duration, args.workers, args.warmup)
                wrk_p95.append(w["p95"])
                probe_p95.append(p["p95"])
                print(
                    f"{c:>4} {r + 1:>5} | {w['p50']:>8.2f} {w['p95']:>7.2f} {w['p99']:>7.2f} "
                    f"{w['rps']:>6.0f} | {p['p50']:>9.2f} {p['p95']:>7.2f} {p['p99']:>7.2f} "
                    f"{p['rps']:>6.0f} {p['cpu']:>5.0%} | {p['p95'] / w['p95']:>9.3f}"
                    + ("  (wrk saw errors)" if w["bad"] else ""),
                    flush=True,
                )
            ratio = statistics.median(probe_p95) / statistics.median(wrk_p95)
            summary.append(
                (
                    c,
                    statistics.median(wrk_p95),
                    statistics.median(probe_p95),
                    ratio,
                    max(wrk_p95) / min(wrk_p95),
                )
            )
        if args.httpx:
            c = max(args.concurrency)
            h = run_httpx_shared(sbx.url, c, args.duration)
            print(
                f"shared httpx.AsyncClient at {c}: p50 {h['p50']:.2f} p95 {h['p95']:.2f} "
                f"p99 {h['p99']:.2f} ms, {h['rps']:.0f} req/s"
            )
    print("\nmedian over rounds (ms); 'wrk spread' is wrk's own largest/smallest p95:")
    for c, w95, p95, ratio, spread in summary:
        verdict = "within ±10 %" if 0.9 <= ratio <= 1.1 else "OUTSIDE ±10 %"
        print(
            f"  c={c:<3} wrk p95 {w95:7.2f}  probe p95 {p95:7.2f}  ratio {ratio:.3f}  {verdict}"
            f"  (wrk spread {spread:.2f}×)"
        )
    print(
        f"total {time.perf_counter() - began:.0f} s; load average at end {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
