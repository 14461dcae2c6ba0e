"""Database health judged from PostgreSQL's own statistics (checklist "Monitoring and Alerting"
§2 Database Monitoring: connection pool usage, query performance, slow query log, database size,
active connections; "No connection pool exhaustion", "Connection pool stable/healthy",
"Database performance stable", "Check database performance")."""

from __future__ import annotations

from typing import Any

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.secret_refs import SecretRef, SecretUnavailable, resolve
from runbook.phases.environment.envconfig.masking import redact_url_password
from runbook.phases.monitoring.database.params import DatabaseParams
from runbook.phases.monitoring.workers.check_specs import CheckSpec
from runbook.phases.monitoring.workers.endpoints import ResolvedUrl
from runbook.providers.postgres import DatabaseSnapshot, Part, read_database

_S2 = "Monitoring and Alerting §2 Database Monitoring"
CONNECTION = CheckSpec(
    "database.connection",
    "Deployment Steps §3.3/§3.4 No database connection errors (Monitoring §5 critical: "
    "Database connection failures)",
    "Database reachable",
)
POOL = CheckSpec(
    "database.pool_usage",
    f"{_S2} — Connection pool usage (No connection pool "
    "exhaustion; Connection pool stable / healthy)",
    "Connection pool usage",
)
ACTIVE = CheckSpec(
    "database.active_connections",
    f"{_S2} — Active connections",
    "Active connections",
    Severity.WARNING,
)
SIZE = CheckSpec("database.size", f"{_S2} — Database size", "Database size", Severity.WARNING)
QUERIES = CheckSpec(
    "database.query_performance",
    f"{_S2} — Query performance (Database query time < 100ms; §5 warning > 200ms)",
    "Database query time",
)
SLOW_LOG = CheckSpec(
    "database.slow_query_log",
    f"{_S2} — Slow query log",
    "Slow query log configured",
    Severity.WARNING,
)
LONG = CheckSpec(
    "database.long_running_queries",
    f"{_S2} — Query performance (long-running queries)",
    "No long-running queries",
)
DATABASE_SPECS = (CONNECTION, POOL, ACTIVE, SIZE, QUERIES, SLOW_LOG, LONG)


def database_checks(params: DatabaseParams | None) -> list[CheckResult]:
    """Pool usage, active connections, size, query time, slow query log, long-running queries;
    one SKIP without a 'database' section, all ERROR (with the reason) when unreachable."""
    if params is None:
        return [
            CONNECTION.skip(
                "not configured: this environment's parameters have no "
                "'database' section, so no database check ran"
            )
        ]
    try:
        url = resolve_database_url(params.url)
    except SecretUnavailable as exc:  # the run cannot look: INCOMPLETE, not a finding
        return [spec.result(Status.INCONCLUSIVE, f"cannot look: {exc}") for spec in DATABASE_SPECS]
    except ValueError as exc:
        return [spec.error(f"cannot build the database URL: {exc}") for spec in DATABASE_SPECS]
    snap = read_database(url, params)
    if snap.error is not None:
        ev = {
            "endpoint": snap.endpoint,
            "error": snap.error,
            "connect_timeout_s": params.connect_timeout_s,
        }
        first = CONNECTION.error(
            f"could not connect to {url.shown} within {params.connect_timeout_s} s: {snap.error}",
            ev,
        )
        return [
            first,
            *(
                spec.error(f"no statistics: database unreachable ({snap.error})", ev)
                for spec in DATABASE_SPECS[1:]
            ),
        ]
    return [
        _connection(snap),
        pool_usage(snap, params),
        active_connections(snap, params),
        database_size(snap, params),
        query_performance(snap, params),
        slow_query_log(snap, params),
        long_running_queries(snap, params),
    ]


def resolve_database_url(ref: SecretRef) -> ResolvedUrl:
    """The URL behind `ref` (a postgresql:// URL); raises SecretUnavailable / ValueError."""
    value = resolve(ref)
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError(f"{ref.describe()} must hold a postgresql:// URL")
    return ResolvedUrl(value, redact_url_password(value), ref.describe())


def _evidence(snap: DatabaseSnapshot, **more: Any) -> dict[str, Any]:
    return {"endpoint": snap.endpoint, **snap.server, **more}


def _unread(spec: CheckSpec, part: Part, snap: DatabaseSnapshot, what: str) -> CheckResult:
    return spec.result(
        Status.ERROR,
        f"could not read {what}: {part.error}",
        evidence=_evidence(snap, error=part.error),
    )


def _setting(snap: DatabaseSnapshot, name: str) -> int | None:
    row = (snap.settings.data or {}).get(name)
    return int(row["setting"]) if row is not None else None


def _connection(snap: DatabaseSnapshot) -> CheckResult:
    return CONNECTION.result(
        Status.PASS,
        f"connected in {snap.connect_ms} ms to "
        f"{snap.server.get('database')!r} (PostgreSQL "
        f"{snap.server.get('server_version')})",
        observed={"connect_ms": snap.connect_ms},
        threshold="connects within the timeout",
        evidence=_evidence(snap),
    )


def _states(snap: DatabaseSnapshot) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in snap.activity.data or []:
        out[row["state"]] = out.get(row["state"], 0) + int(row["n"])
    return out


def pool_usage(snap: DatabaseSnapshot, p: DatabaseParams) -> CheckResult:
    """Client connections against the slots the server has for ordinary users."""
    if snap.settings.error is not None:
        return _unread(POOL, snap.settings, snap, "the connection settings")
    if snap.activity.error is not None:
        return _unread(POOL, snap.activity, snap, "pg_stat_activity")
    max_conn = _setting(snap, "max_connections") or 0
    reserved = (_setting(snap, "superuser_reserved_connections") or 0) + (
        _setting(snap, "reserved_connections") or 0
    )
    usable = max_conn - reserved
    states = _states(snap)
    used = sum(states.values())
    threshold = {"usage_below_pct": p.pool_usage_max_pct, "usable_slots": usable}
    ev = _evidence(
        snap,
        max_connections=max_conn,
        reserved_slots=reserved,
        by_state=states,
        by_database=snap.activity.data,
        note="server-side connections of every client (the runbook's own excluded)",
    )
    if usable <= 0:
        return POOL.result(
            Status.INCONCLUSIVE,
            f"no usable slots to judge against (max_connections {max_conn}, reserved {reserved})",
            observed={"connections": used},
            threshold=threshold,
            evidence=ev,
        )
    pct = round(100.0 * used / usable, 1)
    detail = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"
    hidden = states.get("hidden", 0)
    if hidden:
        ev["hidden_note"] = (
            "other roles' sessions seen without pg_read_all_stats are counted: an upper bound"
        )
    text = (
        f"{used} client connections of {usable} usable (max_connections {max_conn} − "
        f"{reserved} reserved) = {pct} % ({detail})"
    )
    if used >= usable:
        status, text = Status.FAIL, f"pool exhausted: {text}"
    elif pct >= p.pool_usage_max_pct:
        status, text = Status.FAIL, f"{text}: at or above {p.pool_usage_max_pct:g} %"
    else:
        status, text = Status.PASS, f"{text}: below {p.pool_usage_max_pct:g} %"
    return POOL.result(
        status,
        text,
        observed={"connections": used, "usage_pct": pct, "by_state": states},
        threshold=threshold,
        evidence=ev,
    )


def active_connections(snap: DatabaseSnapshot, p: DatabaseParams) -> CheckResult:
    """Connections running a statement now (recorded; judged when a limit is set)."""
    if snap.activity.error is not None:
        return _unread(ACTIVE, snap.activity, snap, "pg_stat_activity")
    states = _states(snap)
    active = states.get("active", 0)
    ev = _evidence(snap, by_state=states, pg_stat_database=snap.database.data)
    observed = {"active": active, "by_state": states}
    if p.max_active_connections is None:
        return ACTIVE.result(
            Status.PASS,
            f"{active} active connections recorded (no limit configured)",
            observed=observed,
            evidence=ev,
        )
    ok = active <= p.max_active_connections
    return ACTIVE.result(
        Status.PASS if ok else Status.FAIL,
        f"{active} active connections {'within' if ok else 'above'} {p.max_active_connections}",
        observed=observed,
        threshold=f"<= {p.max_active_connections}",
        evidence=ev,
    )


def database_size(snap: DatabaseSnapshot, p: DatabaseParams) -> CheckResult:
    """pg_database_size of the connected database (recorded; judged when a limit is set)."""
    if snap.database.error is not None or snap.database.data is None:
        return _unread(
            SIZE,
            snap.database if snap.database.error else Part(error="no pg_stat_database row"),
            snap,
            "the database size",
        )
    row = snap.database.data
    size = int(row["size_bytes"])
    ev = _evidence(snap, pg_stat_database=row)
    observed = {"size_bytes": size, "size": row["size_pretty"]}
    if p.max_size_bytes is None:
        return SIZE.result(
            Status.PASS,
            f"database {row['name']!r} is {row['size_pretty']} ({size} bytes; no limit configured)",
            observed=observed,
            evidence=ev,
        )
    ok = size <= p.max_size_bytes
    return SIZE.result(
        Status.PASS if ok else Status.FAIL,
        f"database {row['name']!r} is {size} bytes, "
        f"{'within' if ok else 'above'} {p.max_size_bytes}",
        observed=observed,
        threshold=f"<= {p.max_size_bytes} bytes",
        evidence=ev,
    )


def query_performance(snap: DatabaseSnapshot, p: DatabaseParams) -> CheckResult:
    """Mean execution time over pg_stat_statements (INCONCLUSIVE, saying why, without it)."""
    threshold = {"mean_below_ms": p.query_time_ms, "statement_warning_above_ms": p.query_warning_ms}
    if snap.statements.error is not None:
        return QUERIES.result(
            Status.INCONCLUSIVE,
            f"query times not measured: {snap.statements.error}",
            threshold=threshold,
            evidence=_evidence(snap, error=snap.statements.error),
        )
    data = snap.statements.data
    calls, total_ms = int(data["calls"]), float(data["total_ms"])
    ev = _evidence(
        snap,
        pg_stat_statements=data,
        basis="since pg_stat_statements was last reset; the runbook's own excluded",
    )
    if calls == 0:
        return QUERIES.result(
            Status.INCONCLUSIVE,
            "pg_stat_statements recorded no statement in this database yet: nothing to judge",
            threshold=threshold,
            evidence=ev,
        )
    mean = round(total_ms / calls, 3)
    slow = [w for w in data["worst"] if w["mean_ms"] > p.query_warning_ms]
    observed = {"mean_ms": mean, "calls": calls, "max_ms": round(float(data["max_ms"]), 3)}
    if mean >= p.query_time_ms:
        status = Status.FAIL
        text = f"mean query time {mean} ms over {calls} calls: not below {p.query_time_ms:g} ms"
    elif slow:
        status = Status.WARN
        text = (
            f"mean {mean} ms over {calls} calls is below {p.query_time_ms:g} ms, but "
            f"{len(slow)} statement(s) average above {p.query_warning_ms:g} ms"
        )
    else:
        status = Status.PASS
        text = f"mean query time {mean} ms over {calls} calls: below {p.query_time_ms:g} ms"
    if data["worst"]:
        top = data["worst"][0]
        text += f"; slowest: {top['mean_ms']} ms mean, {top['calls']} calls"
    return QUERIES.result(status, text, observed=observed, threshold=threshold, evidence=ev)


def slow_query_log(snap: DatabaseSnapshot, p: DatabaseParams) -> CheckResult:
    """Is slow-query logging on (log_min_duration_statement), and does it catch the warning line?"""
    if snap.settings.error is not None:
        return _unread(SLOW_LOG, snap.settings, snap, "log_min_duration_statement")
    value = _setting(snap, "log_min_duration_statement")
    ev = _evidence(snap, settings=snap.settings.data)
    threshold = f"0 <= log_min_duration_statement <= {p.query_warning_ms:g} ms"
    if value is None:
        return SLOW_LOG.result(
            Status.INCONCLUSIVE,
            "the server did not show log_min_duration_statement",
            threshold=threshold,
            evidence=ev,
        )
    if value < 0:
        status = Status.FAIL if p.slow_query_log_required else Status.WARN
        text = (
            "slow query log off: log_min_duration_statement = -1, so no slow statement is "
            "logged (set it, e.g. to the §5 warning line "
            f"{p.query_warning_ms:g} ms)"
        )
    elif value > p.query_warning_ms:
        status = Status.WARN
        text = (
            f"slow query log on at {value} ms, above the §5 warning line "
            f"{p.query_warning_ms:g} ms: slower statements below it go unlogged"
        )
    else:
        status, text = Status.PASS, f"slow query log on: statements over {value} ms are logged"
    return SLOW_LOG.result(
        status,
        text,
        observed={"log_min_duration_statement_ms": value},
        threshold=threshold,
        evidence=ev,
    )


def long_running_queries(snap: DatabaseSnapshot, p: DatabaseParams) -> CheckResult:
    """Statements active for longer than `long_query_ms` right now."""
    if snap.long_running.error is not None:
        return _unread(LONG, snap.long_running, snap, "pg_stat_activity")
    rows = [dict(r) for r in snap.long_running.data or []]
    hidden = _states(snap).get("hidden", 0)
    ev = _evidence(snap, long_running=rows, hidden_connections=hidden)
    threshold = f"no statement active > {p.long_query_ms:g} ms"
    if rows:
        worst = max(rows, key=lambda r: float(r["running_ms"]))
        return LONG.result(
            Status.FAIL,
            f"{len(rows)} statement(s) active longer than "
            f"{p.long_query_ms:g} ms; longest {worst['running_ms']} ms (pid "
            f"{worst['pid']}, database {worst['datname']!r})",
            observed={"count": len(rows), "longest_ms": worst["running_ms"]},
            threshold=threshold,
            evidence=ev,
        )
    if hidden:
        return LONG.result(
            Status.INCONCLUSIVE,
            f"{hidden} session(s) of other roles show no "
            f"state to {snap.server.get('user')!r}: their statements cannot be "
            "seen (grant the monitoring role pg_read_all_stats)",
            observed={"count": 0, "hidden_connections": hidden},
            threshold=threshold,
            evidence=ev,
        )
    return LONG.result(
        Status.PASS,
        f"no statement active longer than {p.long_query_ms:g} ms",
        observed={"count": 0},
        threshold=threshold,
        evidence=ev,
    )
