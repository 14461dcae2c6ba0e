"""Reading PostgreSQL itself through psycopg: settings, pg_stat_activity, pg_stat_database,
pg_database_size and pg_stat_statements. Every part is read on its own, so one refused query
(a missing extension, a missing privilege) leaves the others usable; errors are scrubbed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from runbook.phases.monitoring.database.params import DatabaseParams
from runbook.phases.monitoring.workers.endpoints import ResolvedUrl

MARK = "/* runbook:database */"  # inside each of the runbook's own statements (a leading
# comment is dropped by pg_stat_statements), so they are left out of what is judged
APPLICATION_NAME = "runbook-database-check"


@dataclass
class Part:
    """One part read from the server: its rows/values, or why it could not be read."""

    data: Any = None
    error: str | None = None


@dataclass
class DatabaseSnapshot:
    """Everything read from one database in one connection."""

    endpoint: dict[str, str]
    error: str | None = None  # the connection itself failed
    connect_ms: float | None = None
    server: dict[str, Any] = field(default_factory=dict)
    settings: Part = field(default_factory=Part)
    activity: Part = field(default_factory=Part)
    long_running: Part = field(default_factory=Part)
    database: Part = field(default_factory=Part)
    statements: Part = field(default_factory=Part)


SETTINGS_SQL = f"""
SELECT {MARK} name, setting, unit FROM pg_settings
WHERE name IN ('max_connections', 'superuser_reserved_connections', 'reserved_connections',
               'log_min_duration_statement', 'shared_preload_libraries', 'log_destination',
               'logging_collector')"""

ACTIVITY_SQL = f"""
SELECT {MARK} CASE WHEN backend_type IS NULL THEN 'hidden' ELSE coalesce(state, 'unknown')
       END AS state, datname, count(*) AS n
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND (backend_type = 'client backend' OR (backend_type IS NULL AND usename IS NOT NULL))
GROUP BY 1, 2 ORDER BY 1, 2"""
# 'hidden': another role's session seen without pg_read_all_stats (no type, no state): it is
# counted (an upper bound: a superuser's background worker looks the same)

LONG_SQL = f"""
SELECT {MARK} pid, datname, usename, application_name, state,
       round(extract(epoch FROM clock_timestamp() - query_start) * 1000) AS running_ms,
       left(query, 300) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state = 'active'
  AND query_start < clock_timestamp() - make_interval(secs => %s / 1000.0)
ORDER BY query_start"""

DATABASE_SQL = f"""
SELECT {MARK} current_database() AS name, pg_database_size(current_database()) AS size_bytes,
       pg_size_pretty(pg_database_size(current_database())) AS size_pretty,
       d.numbackends, d.xact_commit, d.xact_rollback, d.deadlocks, d.temp_bytes,
       d.stats_reset::text AS stats_reset
FROM pg_stat_database d WHERE d.datname = current_database()"""

EXTENSION_SQL = f"SELECT {MARK} extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"

STATEMENTS_TOTAL_SQL = f"""
SELECT {MARK} coalesce(sum(calls), 0)::bigint AS calls,
       coalesce(sum(total_exec_time), 0)::float8 AS total_ms,
       coalesce(max(max_exec_time), 0)::float8 AS max_ms
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = current_database() AND s.query NOT LIKE %s"""

STATEMENTS_WORST_SQL = f"""
SELECT {MARK} left(s.query, 300) AS query, s.calls,
       round(s.mean_exec_time::numeric, 3)::float8 AS mean_ms,
       round(s.max_exec_time::numeric, 3)::float8 AS max_ms
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = current_database() AND s.query NOT LIKE %s
ORDER BY s.mean_exec_time DESC LIMIT %s"""


def read_database(url: ResolvedUrl, p: DatabaseParams) -> DatabaseSnapshot:
    """Connect once and read every part; a failed connection is recorded in `error`."""
    import time

    snap = DatabaseSnapshot(endpoint=url.evidence())
    start = time.perf_counter()
    try:
        conn = psycopg.connect(
            url.value,
            connect_timeout=p.connect_timeout_s,
            autocommit=True,
            application_name=APPLICATION_NAME,
            row_factory=dict_row,
        )
    except (psycopg.Error, OSError, ValueError) as exc:
        snap.error = url.scrub(f"{type(exc).__name__}: {exc}".strip())
        return snap
    snap.connect_ms = round((time.perf_counter() - start) * 1000, 3)
    with conn:
        conn.execute(f"SET {MARK} statement_timeout = {int(p.statement_timeout_ms)}")
        snap.server = {
            "server_version": conn.info.parameter_status("server_version"),
            "database": conn.info.dbname,
            "user": conn.info.user,
        }
        snap.settings = _part(
            conn, url, lambda: {r["name"]: r for r in conn.execute(SETTINGS_SQL).fetchall()}
        )
        snap.activity = _part(conn, url, lambda: conn.execute(ACTIVITY_SQL).fetchall())
        snap.long_running = _part(
            conn, url, lambda: conn.execute(LONG_SQL, (p.long_query_ms,)).fetchall()
        )
        snap.database = _part(conn, url, lambda: conn.execute(DATABASE_SQL).fetchone())
        snap.statements = _statements(conn, url, p)
    return snap


def _part(conn: psycopg.Connection[Any], url: ResolvedUrl, read: Any) -> Part:
    try:
        return Part(data=read())
    except psycopg.Error as exc:
        return Part(error=url.scrub(f"{type(exc).__name__}: {exc}".strip()))


def _statements(conn: psycopg.Connection[Any], url: ResolvedUrl, p: DatabaseParams) -> Part:
    """pg_stat_statements of this database, or why it cannot be read (`data` None)."""
    installed = _part(conn, url, lambda: conn.execute(EXTENSION_SQL).fetchone())
    if installed.error is not None:
        return installed
    if installed.data is None:
        return Part(
            error="the pg_stat_statements extension is not installed in database "
            f"{conn.info.dbname!r} (it needs shared_preload_libraries = "
            "'pg_stat_statements' and CREATE EXTENSION pg_stat_statements)"
        )
    pattern = f"%{MARK}%"

    def read() -> dict[str, Any]:
        total = conn.execute(STATEMENTS_TOTAL_SQL, (pattern,)).fetchone() or {}
        worst = conn.execute(STATEMENTS_WORST_SQL, (pattern, p.worst_statements)).fetchall()
        return {
            "extension_version": installed.data["extversion"],
            **total,
            "worst": [{**w, "query": url.scrub(w["query"])} for w in worst],
        }

    part = _part(conn, url, read)
    if part.error is not None:
        part.error = f"pg_stat_statements is installed but cannot be read: {part.error}"
    return part
