"""Connection pool usage over a window ("Connection pool stable", Deployment Steps §2.4): the
query database.pool_usage runs, repeated every `pool_stability.interval_s` by a thread while the
performance load runs, then judged: no reading at or above the pool line, none exhausted (a
refused connection counts as exhausted), no rising trend, and enough readings to say so."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from runbook.core.checks import CheckResult, Status
from runbook.core.secret_refs import SecretUnavailable
from runbook.phases.monitoring.database.params import DatabaseParams
from runbook.phases.monitoring.workers.check_specs import CheckSpec
from runbook.phases.monitoring.workers.endpoints import ResolvedUrl
from runbook.providers.postgres import ACTIVITY_SQL, APPLICATION_NAME, MARK, SETTINGS_SQL

STABILITY = CheckSpec(
    "database.pool_stability",
    "Deployment Steps §2.4 Performance Tests — Connection pool stable (during the load; "
    "Monitoring §2 Connection pool usage)",
    "Connection pool stable under load",
)
TOO_MANY_CONNECTIONS = "53300"  # SQLSTATE too_many_connections: the server refused a client
PROBE_KEY = "database_pool"  # where the readings ride in a LoadResult's probe (load-run.json)


class PoolReading(BaseModel):
    """One reading: seconds since sampling began, client connections, or why none was read."""

    t_s: float
    connections: int | None = None
    by_state: dict[str, int] = Field(default_factory=dict)
    exhausted: bool = False  # the pool was full: used >= usable, or the server refused us
    error: str | None = None


class PoolSeries(BaseModel):
    """The readings of one window, with the slots they are judged against."""

    endpoint: dict[str, str] = Field(default_factory=dict)
    interval_s: float
    started_at: float  # epoch seconds
    warmup_s: float = 0.0  # readings before this are the warm-up (not used for the trend)
    max_connections: int | None = None
    reserved: int | None = None
    readings: list[PoolReading] = Field(default_factory=list)
    error: str | None = None  # sampling could not begin (no URL, say)

    @property
    def usable(self) -> int | None:
        """Slots ordinary clients may take (max_connections − reserved)."""
        if self.max_connections is None:
            return None
        return self.max_connections - (self.reserved or 0)


class PoolSampler:
    """A daemon thread reading pool usage every `interval_s` until stopped."""

    def __init__(self, url: ResolvedUrl, params: DatabaseParams) -> None:
        self.url, self.params = url, params
        self.series = PoolSeries(
            endpoint=url.evidence(),
            interval_s=params.pool_stability.interval_s,
            started_at=time.time(),
        )
        self._stop = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(target=self._run, name="runbook-pool-sampler", daemon=True)

    def start(self) -> PoolSampler:
        """Begin sampling (the first reading is taken at once)."""
        self.series.started_at = time.time()
        self._thread.start()
        return self

    def stop(self) -> PoolSeries:
        """Take a last reading, end the thread, release the connection; the readings."""
        self._stop.set()
        self._thread.join(timeout=max(30.0, 3 * self.params.connect_timeout_s))
        return self.series

    def _run(self) -> None:
        start = time.monotonic()
        step = self.series.interval_s
        n = 0
        try:
            while True:
                self.series.readings.append(self.read(round(time.monotonic() - start, 3)))
                n += 1
                if self._stop.is_set():
                    return
                self._stop.wait(max(0.0, start + n * step - time.monotonic()))
        finally:
            if self._conn is not None:
                self._conn.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self.url.value,
                connect_timeout=self.params.connect_timeout_s,
                autocommit=True,
                application_name=APPLICATION_NAME,
                row_factory=dict_row,
            )
            self._conn.execute(
                f"SET {MARK} statement_timeout = {int(self.params.statement_timeout_ms)}"
            )
        return self._conn

    def read(self, t_s: float) -> PoolReading:
        """One reading (never raises: a failure is the reading's `error`)."""
        try:
            conn = self._connection()
            if self.series.max_connections is None:
                rows = {r["name"]: r["setting"] for r in conn.execute(SETTINGS_SQL).fetchall()}
                self.series.max_connections = int(rows["max_connections"])
                self.series.reserved = int(rows.get("superuser_reserved_connections", 0)) + int(
                    rows.get("reserved_connections", 0)
                )
            states: dict[str, int] = {}
            for row in conn.execute(ACTIVITY_SQL).fetchall():
                states[row["state"]] = states.get(row["state"], 0) + int(row["n"])
        except psycopg.Error as exc:
            refused = getattr(exc, "sqlstate", None) == TOO_MANY_CONNECTIONS or (
                "too many clients" in str(exc) or "remaining connection slots" in str(exc)
            )
            return PoolReading(
                t_s=t_s,
                exhausted=refused,
                error=self.url.scrub(f"{type(exc).__name__}: {exc}".strip()),
            )
        used = sum(states.values())
        usable = self.series.usable
        return PoolReading(
            t_s=t_s,
            connections=used,
            by_state=states,
            exhausted=usable is not None and used >= usable,
        )


@contextmanager
def sample_pool(
    params: DatabaseParams | None, *, warmup_s: float = 0.0
) -> Iterator[PoolSeries | None]:
    """Read pool usage in the background for the block's duration; yields the series (filled
    when the block ends), or None without a database section. An unresolvable URL gives a
    series that says why, with no readings."""
    if params is None:
        yield None
        return
    from runbook.phases.monitoring.database.checks import resolve_database_url

    try:
        url = resolve_database_url(params.url)
    except (SecretUnavailable, ValueError) as exc:
        yield PoolSeries(
            interval_s=params.pool_stability.interval_s,
            started_at=time.time(),
            warmup_s=warmup_s,
            error=f"cannot look: {exc}",
        )
        return
    sampler = PoolSampler(url, params)
    sampler.series.warmup_s = warmup_s
    sampler.start()
    try:
        yield sampler.series
    finally:
        sampler.stop()


def series_of(source: Any) -> PoolSeries | None:
    """The readings from a PoolSeries, its JSON, or a perf LoadResult carrying them."""
    if source is None or isinstance(source, PoolSeries):
        return source
    probe = getattr(source, "probe", None)
    if isinstance(probe, dict):
        source = probe.get(PROBE_KEY)
    return PoolSeries.model_validate(source) if isinstance(source, dict) else None


def rise_per_window(series: PoolSeries) -> tuple[float, int] | None:
    """The least-squares rise of connections across the measured (post-warm-up) readings, in
    connections, and how many readings it rests on; None with fewer than two."""
    pts = [
        (r.t_s, r.connections)
        for r in series.readings
        if r.connections is not None and r.t_s >= series.warmup_s
    ]
    if len(pts) < 2:
        return None
    t = np.array([p[0] for p in pts], dtype=float)
    c = np.array([p[1] for p in pts], dtype=float)
    if float(t.max() - t.min()) <= 0:
        return None
    slope = float(np.polyfit(t, c, 1)[0])
    return slope * float(t.max() - t.min()), len(pts)


def pool_stability_check(source: Any, params: DatabaseParams | None) -> CheckResult:
    """Judge the readings: every one below the pool line, none exhausted, no rise beyond
    `pool_stability.max_rise_pct` of the usable slots, at least `min_readings` read."""
    if params is None:
        return STABILITY.skip(
            "not configured: this environment's parameters have no "
            "'database' section, so the pool was not read during the load"
        )
    series = series_of(source)
    ps = params.pool_stability
    threshold = {
        "usage_below_pct": params.pool_usage_max_pct,
        "exhausted_readings": 0,
        "max_rise_pct_of_usable": ps.max_rise_pct,
        "min_readings": ps.min_readings,
        "interval_s": ps.interval_s,
    }
    if series is None:
        return STABILITY.result(
            Status.INCONCLUSIVE,
            "no pool readings were taken during the "
            "load (the load ran without the database section)",
            threshold=threshold,
        )
    ev: dict[str, Any] = {
        "endpoint": series.endpoint,
        "max_connections": series.max_connections,
        "reserved_slots": series.reserved,
        "warmup_s": series.warmup_s,
        "readings": [r.model_dump(exclude_defaults=True) for r in series.readings],
    }
    if series.error is not None:
        return STABILITY.result(Status.INCONCLUSIVE, series.error, threshold=threshold, evidence=ev)
    read = [r for r in series.readings if r.connections is not None]
    refused = [r for r in series.readings if r.exhausted and r.connections is None]
    failed = [r for r in series.readings if r.error is not None and not r.exhausted]
    usable = series.usable
    exhausted = [r for r in series.readings if r.exhausted]
    if exhausted:
        first = exhausted[0]
        how = (
            ("the server refused a connection: " + (first.error or ""))
            if first in refused
            else f"{first.connections} of {usable} usable slots taken"
        )
        return STABILITY.result(
            Status.FAIL,
            f"pool exhausted in {len(exhausted)} of {len(series.readings)} "
            f"reading(s); first at {first.t_s:g} s ({how})",
            observed={"readings": len(series.readings), "exhausted_readings": len(exhausted)},
            threshold=threshold,
            evidence=ev,
        )
    if len(read) < ps.min_readings or not usable or usable <= 0:
        why = (
            f"{len(read)} pool reading(s) during the load, fewer than {ps.min_readings}"
            if len(read) < ps.min_readings
            else "the server's usable slots are unknown"
        )
        if failed:
            why += f"; {len(failed)} failed, first: {failed[0].error}"
        return STABILITY.result(
            Status.INCONCLUSIVE,
            f"{why}: nothing to judge stability on",
            observed={"readings": len(read)},
            threshold=threshold,
            evidence=ev,
        )
    counts = [r.connections for r in read if r.connections is not None]
    peak = max(counts)
    peak_pct = round(100.0 * peak / usable, 1)
    fit = rise_per_window(series)
    rise = round(fit[0], 2) if fit else 0.0
    rise_pct = round(100.0 * rise / usable, 1)
    observed = {
        "readings": len(read),
        "failed_readings": len(failed),
        "min": min(counts),
        "max": peak,
        "mean": round(float(np.mean(counts)), 2),
        "max_usage_pct": peak_pct,
        "usable_slots": usable,
        "rise_connections": rise,
        "rise_pct": rise_pct,
    }
    text = (
        f"{len(read)} readings every {ps.interval_s:g} s: {min(counts)}–{peak} client "
        f"connections of {usable} usable (peak {peak_pct} %), fitted rise {rise:+g} "
        f"({rise_pct:+g} % of usable) after the warm-up"
    )
    if failed:
        text += f"; {len(failed)} reading(s) failed"
    if peak_pct >= params.pool_usage_max_pct:
        return STABILITY.result(
            Status.FAIL,
            f"{text}: peak at or above {params.pool_usage_max_pct:g} %",
            observed=observed,
            threshold=threshold,
            evidence=ev,
        )
    if rise_pct > ps.max_rise_pct:
        return STABILITY.result(
            Status.FAIL,
            f"{text}: rising more than {ps.max_rise_pct:g} % "
            "of the usable slots (connections not returned?)",
            observed=observed,
            threshold=threshold,
            evidence=ev,
        )
    return STABILITY.result(
        Status.PASS, f"{text}: stable", observed=observed, threshold=threshold, evidence=ev
    )
