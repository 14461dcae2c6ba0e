"""The sandbox's PostgreSQL (when configured): projects kept as rows, so a monitor sees real
statements; the `db_hold_connections` and `db_slow_query_ms` fault knobs act on it."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

APPLICATION_NAME = "pixcrawler-sandbox"
CREATE_SQL = """CREATE TABLE IF NOT EXISTS sandbox_projects (
    sandbox text NOT NULL, id bigint NOT NULL, data jsonb NOT NULL, PRIMARY KEY (sandbox, id))"""


class SandboxDatabase:
    """One working connection (statements in turn) plus the connections a fault holds. Rows are
    keyed by this process's instance id, so several sandboxes share one database."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.instance = uuid.uuid4().hex
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._held: list[psycopg.AsyncConnection[Any]] = []
        self.slow_query_ms = 0.0

    async def open(self) -> None:
        """Connect and create the table (raises psycopg.Error when the database is unusable)."""
        async with self._lock:
            conn = await self._connection()
            await conn.execute(CREATE_SQL)

    async def close(self) -> None:
        """Release every connection."""
        await self.hold(0)
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, application_name=APPLICATION_NAME, connect_timeout=10
            )
        return self._conn

    async def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (after the slow-query fault's pg_sleep); rows if it returns any."""
        async with self._lock:
            conn = await self._connection()
            if self.slow_query_ms > 0:
                await conn.execute("SELECT pg_sleep(%s)", (self.slow_query_ms / 1000,))
            cur = await conn.execute(sql, args)
            return await cur.fetchall() if cur.description is not None else []

    async def insert(self, project: dict[str, Any]) -> None:
        """Store a new project."""
        await self._run(
            "INSERT INTO sandbox_projects (sandbox, id, data) VALUES (%s, %s, %s)",
            (self.instance, project["id"], Jsonb(project)),
        )

    async def save(self, project: dict[str, Any]) -> None:
        """Store a changed project."""
        await self._run(
            "UPDATE sandbox_projects SET data = %s WHERE sandbox = %s AND id = %s",
            (Jsonb(project), self.instance, project["id"]),
        )

    async def get(self, project_id: int) -> dict[str, Any] | None:
        """One project, or None."""
        rows = await self._run(
            "SELECT data FROM sandbox_projects WHERE sandbox = %s AND id = %s",
            (self.instance, project_id),
        )
        return rows[0][0] if rows else None

    async def list(self) -> list[dict[str, Any]]:
        """Every project, oldest first."""
        rows = await self._run(
            "SELECT data FROM sandbox_projects WHERE sandbox = %s ORDER BY id", (self.instance,)
        )
        return [r[0] for r in rows]

    async def delete(self, project_id: int) -> None:
        """Forget one project."""
        await self._run(
            "DELETE FROM sandbox_projects WHERE sandbox = %s AND id = %s",
            (self.instance, project_id),
        )

    async def clear(self) -> None:
        """Forget this sandbox's projects (POST /_sandbox/reset)."""
        await self._run("DELETE FROM sandbox_projects WHERE sandbox = %s", (self.instance,))

    async def hold(self, count: int) -> int:
        """Hold exactly `count` extra idle connections (as many as the server allows); returns
        how many are held."""
        while len(self._held) > count:
            await self._held.pop().close()
        while len(self._held) < count:
            try:
                self._held.append(
                    await psycopg.AsyncConnection.connect(
                        self._url,
                        autocommit=True,
                        application_name=f"{APPLICATION_NAME}-held",
                        connect_timeout=10,
                    )
                )
            except psycopg.Error as exc:
                print(
                    f"db_hold_connections: holding {len(self._held)} of {count}: {exc}",
                    file=sys.stderr,
                    flush=True,
                )
                break
        return len(self._held)
