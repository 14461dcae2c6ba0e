"""Redis health (checklist "Monitoring and Alerting" §3 Redis Monitoring, §5 alerts, and
Deployment Steps §3.4 "No Redis connection errors"), read with redis-py from `INFO`.

Counters (hits, misses, evicted keys, rejected connections) are judged since server start, or,
with `sample_s > 0`, by their change between two INFO snapshots `sample_s` apart.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.secret_refs import SecretUnavailable
from runbook.phases.monitoring.workers.check_specs import CheckSpec
from runbook.phases.monitoring.workers.endpoints import ResolvedUrl, resolve_url
from runbook.phases.monitoring.workers.params import RedisParams, WorkersParams

_S3 = "Monitoring and Alerting §3 Redis Monitoring"
CONNECTION = CheckSpec(
    "redis.connection",
    "Deployment Steps §3.4 Monitor Production — Alerts: No Redis connection errors "
    "(§3.3 Redis connection working; Monitoring §5 critical: Redis connection failures)",
    "No Redis connection errors",
)
MEMORY = CheckSpec("redis.memory", f"{_S3} — Memory usage", "Redis memory usage")
CLIENTS = CheckSpec(
    "redis.clients", f"{_S3} — Connected clients", "Redis connected clients", Severity.WARNING
)
OPS = CheckSpec(
    "redis.ops_per_sec",
    f"{_S3} — Commands per second",
    "Redis commands per second",
    Severity.WARNING,
)
HIT_RATE = CheckSpec(
    "redis.hit_rate", f"{_S3} — Hit rate", "Redis keyspace hit rate", Severity.WARNING
)
EVICTIONS = CheckSpec(
    "redis.evicted_keys", f"{_S3} — Evicted keys", "Redis evicted keys", Severity.WARNING
)
LATENCY = CheckSpec(
    "redis.latency",
    "Deployment Steps §2.5 Monitor Staging — Redis performance stable "
    "(§3.3 Check Redis performance)",
    "Redis round-trip latency (PING)",
    Severity.WARNING,
)
REDIS_SPECS = (CONNECTION, MEMORY, CLIENTS, OPS, HIT_RATE, EVICTIONS, LATENCY)

COUNTERS = (
    "keyspace_hits",
    "keyspace_misses",
    "evicted_keys",
    "rejected_connections",
    "total_commands_processed",
)


@dataclass
class RedisSnapshot:
    """What was read from one Redis: INFO (last snapshot) and the judged counter values."""

    endpoint: dict[str, str]
    ping_ms: float | None = None
    latency_ms: list[float] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    counter_basis: str = "since server start"
    error: str | None = None


def redis_checks(params: WorkersParams) -> list[CheckResult]:
    """Connection, memory, clients, commands/s, hit rate, evictions, PING latency; SKIP
    without 'redis'."""
    if params.redis is None:
        why = "no 'redis' section in this environment's parameters: nothing to monitor"
        return [spec.skip(why) for spec in REDIS_SPECS]
    p = params.redis
    try:
        url = resolve_url(p.url)
    except SecretUnavailable as exc:
        return [spec.error(f"cannot build the Redis URL: {exc}") for spec in REDIS_SPECS]
    snap = read_redis(url, p)
    if snap.error is not None:
        evidence = {"endpoint": snap.endpoint, "error": snap.error, "timeout_s": p.timeout_s}
        first = CONNECTION.error(
            f"could not connect and PING {url.shown} within {p.timeout_s:g} s: {snap.error}",
            evidence,
        )
        rest = [
            spec.error(f"no metrics: Redis unreachable ({snap.error})", evidence)
            for spec in REDIS_SPECS[1:]
        ]
        return [first, *rest]
    return [
        _connection(snap),
        _memory(snap, p),
        _clients(snap, p),
        _ops(snap, p),
        _hit_rate(snap, p),
        _evictions(snap, p),
        _latency(snap, p),
    ]


def read_redis(url: ResolvedUrl, p: RedisParams) -> RedisSnapshot:
    """PING, INFO, `latency_samples` timed PINGs, and INFO again `sample_s` later when
    sampling; errors are recorded, scrubbed."""
    snap = RedisSnapshot(endpoint=url.evidence())
    client = None
    try:
        client = redis.Redis.from_url(
            url.value,
            socket_timeout=p.timeout_s,
            socket_connect_timeout=p.timeout_s,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        start = time.perf_counter()
        if client.ping() is not True:
            raise redis.RedisError("PING did not answer PONG")
        snap.ping_ms = round((time.perf_counter() - start) * 1000, 3)
        first = client.info()
        for i in range(p.latency_samples):
            if i and p.latency_interval_s:
                time.sleep(p.latency_interval_s)
            start = time.perf_counter()
            client.ping()
            snap.latency_ms.append(round((time.perf_counter() - start) * 1000, 3))
        last = first
        if p.sample_s > 0:
            time.sleep(p.sample_s)
            last = client.info()
            snap.counter_basis = f"change over {p.sample_s:g} s"
        snap.info = dict(last)
        snap.counters = {
            k: int(last.get(k, 0)) - (int(first.get(k, 0)) if last is not first else 0)
            for k in COUNTERS
        }
    except (redis.RedisError, OSError, ValueError) as exc:
        snap.error = url.scrub(f"{type(exc).__name__}: {exc}")
    finally:
        if client is not None:
            client.close()
    return snap


def _base_evidence(snap: RedisSnapshot, *keys: str) -> dict[str, Any]:
    return {
        "endpoint": snap.endpoint,
        "redis_version": snap.info.get("redis_version"),
        # Valkey answers redis_version with its compatibility level: say what answered
        "server_name": snap.info.get("server_name", "redis"),
        "server_version": snap.info.get("valkey_version") or snap.info.get("redis_version"),
        "counter_basis": snap.counter_basis,
        **{k: snap.info.get(k) for k in keys},
    }


def _connection(snap: RedisSnapshot) -> CheckResult:
    ev = _base_evidence(snap, "uptime_in_seconds", "role")
    ev["ping_ms"] = snap.ping_ms
    return CONNECTION.result(
        Status.PASS,
        f"connected and PINGed in {snap.ping_ms} ms",
        observed={"ping_ms": snap.ping_ms},
        threshold="PONG within timeout",
        evidence=ev,
    )


def _memory(snap: RedisSnapshot, p: RedisParams) -> CheckResult:
    info = snap.info
    used = int(info.get("used_memory", 0))
    ev = _base_evidence(
        snap,
        "used_memory",
        "used_memory_human",
        "used_memory_peak",
        "maxmemory",
        "maxmemory_policy",
        "total_system_memory",
        "mem_fragmentation_ratio",
    )
    threshold = {"warn_above_pct": p.memory_warn_pct, "critical_above_pct": p.memory_critical_pct}
    if int(info.get("maxmemory", 0)) > 0:
        limit, source = int(info["maxmemory"]), "maxmemory"
    elif p.memory_limit_bytes is not None:
        limit, source = p.memory_limit_bytes, "parameter memory_limit_bytes"
    elif int(info.get("total_system_memory", 0)) > 0:
        limit, source = int(info["total_system_memory"]), "total_system_memory (no maxmemory)"
    else:
        return MEMORY.result(
            Status.INCONCLUSIVE,
            f"used {used} bytes but no limit to judge it "
            "against (no maxmemory, no memory_limit_bytes, no system total)",
            observed={"used_memory": used},
            threshold=threshold,
            evidence=ev,
        )
    pct = round(100.0 * used / limit, 2)
    ev.update(limit_bytes=limit, limit_source=source, used_pct=pct)
    if pct > p.memory_critical_pct:
        status, word = Status.FAIL, f"above the critical line {p.memory_critical_pct:g} %"
    elif pct > p.memory_warn_pct:
        status, word = Status.WARN, f"above the warning line {p.memory_warn_pct:g} %"
    else:
        status, word = Status.PASS, f"within {p.memory_warn_pct:g} %"
    return MEMORY.result(
        status,
        f"{used} of {limit} bytes ({source}) = {pct} %: {word}",
        observed={"used_memory": used, "limit_bytes": limit, "used_pct": pct},
        threshold=threshold,
        evidence=ev,
    )


def _clients(snap: RedisSnapshot, p: RedisParams) -> CheckResult:
    connected = int(snap.info.get("connected_clients", 0))
    rejected = snap.counters["rejected_connections"]
    maxclients = snap.info.get("maxclients")
    if p.max_connected_clients is not None:
        limit, source = p.max_connected_clients, "parameter max_connected_clients"
    elif maxclients:
        limit = int(p.clients_max_fraction * int(maxclients))
        source = f"{p.clients_max_fraction:g} × maxclients {maxclients}"
    else:
        limit, source = None, "none known"
    ev = _base_evidence(snap, "connected_clients", "blocked_clients", "maxclients")
    ev.update(rejected_connections=rejected, limit=limit, limit_source=source)
    problems = []
    if limit is not None and connected > limit:
        problems.append(f"{connected} clients exceed {limit} ({source})")
    if rejected > 0:
        problems.append(f"{rejected} connections rejected ({snap.counter_basis})")
    if problems:
        status, text = Status.FAIL, "; ".join(problems)
    else:
        status = Status.PASS
        text = f"{connected} clients, none rejected" + (
            f", within {limit} ({source})"
            if limit is not None
            else "; no client limit to judge against"
        )
    return CLIENTS.result(
        status,
        text,
        observed={"connected_clients": connected, "rejected_connections": rejected},
        threshold={"max_connected_clients": limit, "rejected_connections": 0},
        evidence=ev,
    )


def _ops(snap: RedisSnapshot, p: RedisParams) -> CheckResult:
    ops = float(snap.info.get("instantaneous_ops_per_sec", 0))
    ev = _base_evidence(snap, "instantaneous_ops_per_sec", "total_commands_processed")
    ev["commands_in_basis"] = snap.counters["total_commands_processed"]
    if p.max_ops_per_sec is None:
        return OPS.result(
            Status.PASS,
            f"{ops:g} commands/s recorded (no limit configured)",
            observed=ops,
            threshold=None,
            evidence=ev,
        )
    ok = ops <= p.max_ops_per_sec
    return OPS.result(
        Status.PASS if ok else Status.FAIL,
        f"{ops:g} commands/s {'within' if ok else 'above'} {p.max_ops_per_sec:g}",
        observed=ops,
        threshold=f"<= {p.max_ops_per_sec:g}",
        evidence=ev,
    )


def _hit_rate(snap: RedisSnapshot, p: RedisParams) -> CheckResult:
    hits, misses = snap.counters["keyspace_hits"], snap.counters["keyspace_misses"]
    ev = _base_evidence(snap)
    ev.update(keyspace_hits=hits, keyspace_misses=misses)
    threshold = f">= {p.min_hit_rate:g}"
    if hits + misses == 0:
        return HIT_RATE.result(
            Status.INCONCLUSIVE,
            f"no key lookups ({snap.counter_basis}): no traffic to compute a hit rate from",
            observed=None,
            threshold=threshold,
            evidence=ev,
        )
    rate = round(hits / (hits + misses), 4)
    ev["hit_rate"] = rate
    ok = rate >= p.min_hit_rate
    word = "meets" if ok else "below"
    return HIT_RATE.result(
        Status.PASS if ok else Status.FAIL,
        f"{hits} hits / {hits + misses} lookups = {rate:g} "
        f"({snap.counter_basis}) {word} {p.min_hit_rate:g}",
        observed=rate,
        threshold=threshold,
        evidence=ev,
    )


def _evictions(snap: RedisSnapshot, p: RedisParams) -> CheckResult:
    evicted = snap.counters["evicted_keys"]
    ev = _base_evidence(snap, "maxmemory", "maxmemory_policy")
    ev["evicted_keys"] = evicted
    ok = evicted <= p.max_evicted_keys
    return EVICTIONS.result(
        Status.PASS if ok else Status.FAIL,
        f"{evicted} keys evicted ({snap.counter_basis}); "
        f"{'within' if ok else 'above'} {p.max_evicted_keys}",
        observed=evicted,
        threshold=f"<= {p.max_evicted_keys}",
        evidence=ev,
    )


def _latency(snap: RedisSnapshot, p: RedisParams) -> CheckResult:
    samples = sorted(snap.latency_ms)
    threshold = f"p95 <= {p.max_latency_p95_ms:g} ms"
    ev = _base_evidence(snap)
    ev.update(samples_ms=snap.latency_ms, interval_s=p.latency_interval_s)
    if not samples:
        return LATENCY.result(
            Status.INCONCLUSIVE, "no PING was timed", threshold=threshold, evidence=ev
        )
    p95 = samples[max(0, math.ceil(0.95 * len(samples)) - 1)]  # nearest rank
    observed = {
        "p50_ms": samples[(len(samples) - 1) // 2],
        "p95_ms": p95,
        "max_ms": samples[-1],
        "samples": len(samples),
    }
    ok = p95 <= p.max_latency_p95_ms
    return LATENCY.result(
        Status.PASS if ok else Status.FAIL,
        f"{len(samples)} PING round trips: p50 {observed['p50_ms']:g} ms, p95 "
        f"{p95:g} ms ({'within' if ok else 'above'} {p.max_latency_p95_ms:g} "
        "ms)",
        observed=observed,
        threshold=threshold,
        evidence=ev,
    )
