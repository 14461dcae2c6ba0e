"""database.pool_stability: pool usage read repeatedly while the performance load runs
(perf.run_target_load with the database section) against a real sandbox keeping its projects in
the real PostgreSQL of tests/database/conftest.py. Healthy passes; the sandbox's
db_hold_connections fault fails it; a full server (refused readings) is exhaustion; a steady
climb is a rising trend; too few readings are INCONCLUSIVE; no section is a SKIP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from rehearsal.postgres_server import LocalPostgres
from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.server import SandboxHandle, start_sandbox
from runbook.core.checks import Status
from runbook.core.target import TargetParams
from runbook.phases.monitoring.database.figures import pool_figure
from runbook.phases.monitoring.database.params import DatabaseParams
from runbook.phases.monitoring.database.pool_window import (
    PROBE_KEY,
    PoolSeries,
    pool_stability_check,
    sample_pool,
)
from runbook.phases.performance.params import PerformanceParams
from runbook.phases.performance.probe import LoadResult
from runbook.phases.performance.target import run_target_load
from waiting import wait_for

URL_ENV = "RUNBOOK_TEST_POOL_DATABASE_URL"
TOKEN_ENV, TOKEN = "RUNBOOK_TEST_POOL_SANDBOX_TOKEN", "pool-sandbox-token-not-a-secret"


def params(**pool: Any) -> DatabaseParams:
    return DatabaseParams.model_validate(
        {"url": {"env": URL_ENV}, "pool_stability": {"interval_s": 0.2, **pool}}
    )


@pytest.fixture(scope="module")
def pool_db(pg_server: LocalPostgres) -> str:
    """A database of its own for the sandbox (the other tests' statistics stay theirs)."""
    return pg_server.create_database("pooldb", statements=False)


@pytest.fixture(scope="module")
def db_sandbox(pool_db: str) -> Iterator[SandboxHandle]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(URL_ENV, pool_db)
        with start_sandbox(
            SandboxConfig(port=0, database_url_env=URL_ENV),
            TOKEN,
            token_env=TOKEN_ENV,
            startup_timeout=120,
        ) as handle:
            yield handle


@pytest.fixture
def sandbox(
    db_sandbox: SandboxHandle, pool_db: str, monkeypatch: pytest.MonkeyPatch
) -> SandboxHandle:
    db_sandbox.reset()
    db_sandbox.set_faults(db_hold_connections=0)
    monkeypatch.setenv(URL_ENV, pool_db)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return db_sandbox


def load(sandbox: SandboxHandle, database: DatabaseParams | None) -> LoadResult:
    """A short load on the project list (each request a real SELECT) with pool readings."""
    perf = PerformanceParams.model_validate(
        {
            "routes": [{"path": "/api/v1/projects/"}],
            "concurrency": 2,
            "workers": 1,
            "duration_s": 2.5,
            "warmup_s": 0.5,
            "window_s": 0.5,
        }
    )
    target = TargetParams.model_validate(
        {"name": "sandbox", "base_url": sandbox.url, "token": {"env": TOKEN_ENV}}
    )
    return run_target_load(perf, target, database)


def test_a_steady_pool_during_the_load_passes(sandbox: SandboxHandle) -> None:
    result = load(sandbox, params())
    assert len(result.measured) > 0 and result.measured["ok"].all()
    check = pool_stability_check(result, params())
    assert check.status is Status.PASS, check.summary_line()
    assert check.observed["readings"] >= 5 and check.observed["max"] >= 1  # the sandbox's own
    assert check.observed["max_usage_pct"] < 80
    readings = result.probe[PROBE_KEY]["readings"]
    assert readings[0]["t_s"] == 0 and readings[-1]["t_s"] >= 2.5  # the whole load
    assert pool_figure(result, params()).axes[0].lines  # connections drawn


def test_held_connections_fault_fails_it(sandbox: SandboxHandle) -> None:
    assert sandbox.set_faults(db_hold_connections=14).db_hold_connections == 14
    try:
        check = pool_stability_check(load(sandbox, params()), params())
    finally:
        sandbox.set_faults(db_hold_connections=0)
    assert check.status is Status.FAIL, check.summary_line()
    assert check.observed["max"] >= 15 and check.observed["max_usage_pct"] >= 80
    assert "at or above 80 %" in check.explanation


def test_a_full_server_is_exhaustion(
    pg_server: LocalPostgres, pool_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV, pool_db)
    held: list[psycopg.Connection] = []
    try:
        while True:
            try:
                held.append(psycopg.connect(pg_server.url("plain"), connect_timeout=5))
            except psycopg.OperationalError:
                break
        with sample_pool(params()) as series:
            wait_for(lambda: len(series.readings) >= 3, "three readings")  # type: ignore[union-attr]
    finally:
        for conn in held:
            conn.close()
    check = pool_stability_check(series, params())
    assert check.status is Status.FAIL and "exhausted" in check.explanation
    assert "refused" in check.explanation and check.observed["exhausted_readings"] >= 3


def test_a_steady_climb_is_a_rising_trend(
    pg_server: LocalPostgres, pool_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV, pool_db)
    opened: list[psycopg.Connection] = []
    stop = threading.Event()

    def leak() -> None:  # one more connection every 0.3 s, never returned, up to 8
        while not stop.is_set() and len(opened) < 8:
            opened.append(psycopg.connect(pg_server.url("plain")))
            stop.wait(0.3)

    try:
        with sample_pool(params(), warmup_s=0.0) as series:
            leaking = threading.Thread(target=leak, daemon=True)
            leaking.start()
            leaking.join(60)
            time.sleep(0.3)
    finally:
        stop.set()
        for conn in opened:
            conn.close()
    check = pool_stability_check(series, params())
    assert check.status is Status.FAIL, check.summary_line()
    assert "rising" in check.explanation and check.observed["max_usage_pct"] < 80
    assert check.observed["rise_pct"] > 10


def test_too_few_readings_are_inconclusive_and_no_section_skips(
    pool_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV, pool_db)
    strict = params(min_readings=10_000)
    with sample_pool(strict) as series:
        wait_for(lambda: len(series.readings) >= 2, "two readings")  # type: ignore[union-attr]
    few = pool_stability_check(series, strict)
    assert few.status is Status.INCONCLUSIVE and "fewer than 10000" in few.explanation
    monkeypatch.delenv(URL_ENV)
    with sample_pool(params()) as unset:
        pass
    blind = pool_stability_check(unset, params())
    assert blind.status is Status.INCONCLUSIVE and f"${URL_ENV}" in blind.explanation
    assert pool_stability_check(None, None).status is Status.SKIP
    nothing = pool_stability_check(PoolSeries(interval_s=1, started_at=0), params())
    assert nothing.status is Status.INCONCLUSIVE
    assert pool_figure(None, params()).axes[0].texts  # says why, draws nothing


def test_the_readings_survive_a_saved_load(sandbox: SandboxHandle, tmp_path: Any) -> None:
    result = load(sandbox, params())
    result.save(tmp_path)
    again = LoadResult.load(tmp_path)
    assert pool_stability_check(again, params()).status is Status.PASS
    assert httpx.get(f"{sandbox.url}/health", timeout=10).status_code == 200
