"""The sandbox with a real PostgreSQL (rehearsal.postgres_server): projects are rows in
sandbox_projects, pg_stat_statements sees its statements, and each database fault knob flips
exactly its own check (db_hold_connections: pool usage; db_slow_query_ms: query time); without
a database the knobs are refused and projects stay in memory."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest
from sandbox_support import AUTH, TOKEN

from rehearsal.postgres_server import LocalPostgres, local_postgres
from rehearsal.sandbox.config import SandboxConfig, SandboxFaults
from rehearsal.sandbox.server import SandboxHandle, start_sandbox
from runbook.core.checks import Status
from runbook.phases.monitoring.database.checks import database_checks
from runbook.phases.monitoring.database.params import DatabaseParams
from waiting import wait_for

URL_ENV = "RUNBOOK_TEST_SANDBOX_DATABASE_URL"
PROJECTS = "/api/v1/projects/"
PASSWORD = "sandbox-role-password-not-a-secret"


@pytest.fixture(scope="module")
def pg() -> Iterator[LocalPostgres]:
    with local_postgres(max_connections=20, reserved=3, passwords=True) as server:
        server.create_role("pixcrawler", PASSWORD)
        server.create_database("pixcrawler", slow_query_log_ms=100, owner="pixcrawler")
        yield server


def role_url(pg: LocalPostgres, password: str = PASSWORD) -> str:
    """The URL the rehearsal hands over: the database's owner role, with its password."""
    return pg.url("pixcrawler", user="pixcrawler", password=password)


@pytest.fixture(scope="module")
def db_sandbox(pg: LocalPostgres) -> Iterator[SandboxHandle]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(URL_ENV, role_url(pg))
        config = SandboxConfig(port=0, database_url_env=URL_ENV)
        with start_sandbox(config, TOKEN, startup_timeout=120) as handle:
            yield handle


@pytest.fixture
def sandbox(
    db_sandbox: SandboxHandle, pg: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> SandboxHandle:
    """The database sandbox emptied, its faults off, the statement statistics reset."""
    db_sandbox.reset()
    with psycopg.connect(pg.url("pixcrawler"), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    monkeypatch.setenv(URL_ENV, role_url(pg))
    return db_sandbox


def checks() -> dict[str, Status]:
    results = database_checks(DatabaseParams.model_validate({"url": {"env": URL_ENV}}))
    return {r.id: r.status for r in results}


def project_traffic(url: str, n: int = 3) -> None:
    """Create, read, list and delete n projects through the API."""
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        for i in range(n):
            created = client.post(PROJECTS, json={"name": f"p{i}"})
            assert created.status_code == 201, created.text
            pid = created.json()["id"]
            assert client.get(f"{PROJECTS}{pid}").json()["name"] == f"p{i}"
            assert pid in [p["id"] for p in client.get(PROJECTS).json()["data"]]
            assert client.delete(f"{PROJECTS}{pid}").status_code == 200


def test_projects_are_rows_and_their_statements_are_recorded(
    sandbox: SandboxHandle, pg: LocalPostgres
) -> None:
    with httpx.Client(base_url=sandbox.url, headers=AUTH, timeout=60) as client:
        created = client.post(PROJECTS, json={"name": "kept", "description": "in postgres"})
        assert created.status_code == 201
        listed = client.get(PROJECTS).json()["data"]
    with psycopg.connect(pg.url("pixcrawler"), autocommit=True) as conn:
        rows = conn.execute("SELECT data FROM sandbox_projects").fetchall()
        statements = [r[0] for r in conn.execute("SELECT query FROM pg_stat_statements")]
    assert [r[0]["name"] for r in rows] == ["kept"]
    assert [p["name"] for p in listed] == ["kept"]
    assert any(q.startswith("INSERT INTO sandbox_projects") for q in statements)
    assert any(q.startswith("SELECT data FROM sandbox_projects") for q in statements)
    sandbox.reset()  # reset empties the table too
    with psycopg.connect(pg.url("pixcrawler"), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM sandbox_projects").fetchone() == (0,)


def test_the_role_needs_its_password(pg: LocalPostgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(role_url(pg, password="wrong")).close()
    psycopg.connect(role_url(pg)).close()


def test_healthy_sandbox_database_checks_pass(sandbox: SandboxHandle) -> None:
    project_traffic(sandbox.url)
    assert set(checks().values()) == {Status.PASS}


def test_held_connections_fail_only_pool_usage(sandbox: SandboxHandle) -> None:
    project_traffic(sandbox.url)
    assert sandbox.set_faults(db_hold_connections=14).db_hold_connections == 14
    statuses = checks()
    assert statuses.pop("database.pool_usage") == Status.FAIL
    assert set(statuses.values()) == {Status.PASS}
    sandbox.set_faults(db_hold_connections=0)
    wait_for(lambda: checks()["database.pool_usage"] == Status.PASS, "held connections released")


def test_slow_queries_fail_only_query_performance(sandbox: SandboxHandle) -> None:
    wait_for(lambda: checks()["database.pool_usage"] == Status.PASS, "pool usage back to normal")
    sandbox.set_faults(db_slow_query_ms=400)
    project_traffic(sandbox.url, n=2)
    statuses = checks()
    assert statuses.pop("database.query_performance") == Status.FAIL
    assert set(statuses.values()) == {Status.PASS}


def test_without_a_database_projects_stay_in_memory_and_db_knobs_are_refused() -> None:
    with (
        start_sandbox(SandboxConfig(port=0), TOKEN) as handle,
        httpx.Client(base_url=handle.url, headers=AUTH, timeout=30) as client,
    ):
        assert client.post(PROJECTS, json={"name": "m"}).status_code == 201
        assert [p["name"] for p in client.get(PROJECTS).json()["data"]] == ["m"]
        refused = httpx.put(f"{handle.url}/_sandbox/faults", json={"db_hold_connections": 2})
        assert refused.status_code == 422
        assert "no database" in refused.json()["error"]["message"]
    faulted = SandboxConfig(port=0, faults=SandboxFaults(db_slow_query_ms=10))
    assert "need a database" in (faulted.database_problem() or "")
    with pytest.raises(ValueError, match="need a database"):  # refused when it starts
        start_sandbox(faulted, TOKEN)
