"""Database checks against a real PostgreSQL (tests/database/conftest.py): healthy passes; held
connections fail pool usage; a sleeping statement fails long-running queries; no
pg_stat_statements is inconclusive; slow statements fail query time; the slow query log off is
named; unreachable is ERROR without the password; no section is one SKIP."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from runbook.core.checks import CheckResult, Status
from runbook.core.secret_refs import SecretRef
from runbook.phases.monitoring.database.checks import database_checks
from runbook.phases.monitoring.database.params import DatabaseParams
from waiting import wait_for

ENV = "RUNBOOK_TEST_DATABASE_URL"


def params(**kw: object) -> DatabaseParams:
    return DatabaseParams.model_validate({"url": {"env": ENV}, **kw})


def by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


@contextmanager
def held_connections(server: Any, n: int) -> Iterator[list[psycopg.Connection]]:
    conns = [psycopg.connect(server.url("plain"), autocommit=True) for _ in range(n)]
    try:
        yield conns
    finally:
        for c in conns:
            c.close()


def test_a_healthy_database_passes(db_env) -> None:  # type: ignore[no-untyped-def]
    db_env("app")
    with psycopg.connect(os.environ[ENV], autocommit=True) as conn:
        for _ in range(20):
            conn.execute("SELECT count(*) FROM items WHERE name LIKE %s", ("item 1%",))
    results = by_id(database_checks(params()))
    assert list(results) == [
        "database.connection",
        "database.pool_usage",
        "database.active_connections",
        "database.size",
        "database.query_performance",
        "database.slow_query_log",
        "database.long_running_queries",
    ]
    assert {i: r.status for i, r in results.items()} == dict.fromkeys(results, Status.PASS), [
        r.summary_line() for r in results.values()
    ]
    perf = results["database.query_performance"]
    assert perf.observed["calls"] >= 20 and perf.observed["mean_ms"] < 100
    assert results["database.size"].observed["size_bytes"] > 0
    assert results["database.slow_query_log"].observed == {"log_min_duration_statement_ms": 100}


def test_connections_held_over_the_threshold_fail_pool_usage(db_env, pg_server: Any) -> None:  # type: ignore[no-untyped-def]
    db_env("app")
    usable = pg_server.max_connections - pg_server.reserved  # 17; 80 % of it is 13.6
    with held_connections(pg_server, 14):
        pool = by_id(database_checks(params()))["database.pool_usage"]
    assert pool.status is Status.FAIL, pool.summary_line()
    assert pool.observed["connections"] == 14
    assert f"14 client connections of {usable} usable" in pool.explanation
    assert pool.observed["by_state"] == {"idle": 14}
    after = by_id(database_checks(params()))["database.pool_usage"]
    assert after.status is Status.PASS and after.observed["connections"] == 0


def test_a_full_pool_is_called_exhausted(db_env, pg_server: Any) -> None:  # type: ignore[no-untyped-def]
    db_env("app")
    with held_connections(pg_server, pg_server.max_connections - pg_server.reserved):
        pool = by_id(database_checks(params()))["database.pool_usage"]
    assert pool.status is Status.FAIL
    assert pool.explanation.startswith("pool exhausted: 17 client connections of 17 usable")


def test_a_sleeping_statement_fails_long_running_queries(db_env) -> None:  # type: ignore[no-untyped-def]
    db_env("plain")
    sleeper = psycopg.connect(os.environ[ENV], autocommit=True)
    pid = sleeper.info.backend_pid
    errors: list[BaseException] = []

    def sleep() -> None:
        try:
            sleeper.execute("SELECT pg_sleep(120)")
        except psycopg.errors.QueryCanceled:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=sleep, daemon=True)
    thread.start()
    try:

        def seen() -> CheckResult | None:
            r = by_id(database_checks(params(long_query_ms=300)))["database.long_running_queries"]
            return r if r.status is Status.FAIL else None

        long = wait_for(seen, "the sleeping statement to run longer than 300 ms")
    finally:
        with psycopg.connect(os.environ[ENV], autocommit=True) as admin:
            admin.execute("SELECT pg_cancel_backend(%s)", (pid,))
        thread.join(timeout=60)
        sleeper.close()
    assert errors == []
    assert long.observed["count"] == 1 and long.observed["longest_ms"] > 300
    assert f"(pid {pid}, database 'plain')" in long.explanation
    assert "pg_sleep(120)" in long.evidence["long_running"][0]["query"]
    calm = by_id(database_checks(params(long_query_ms=300)))["database.long_running_queries"]
    assert calm.status is Status.PASS


def test_statements_hidden_from_the_monitoring_role_are_not_a_pass(
    db_env, monkeypatch: pytest.MonkeyPatch, pg_server: Any
) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(pg_server.url("postgres"), autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS watcher")
        admin.execute("CREATE ROLE watcher LOGIN")
    monkeypatch.setenv(ENV, pg_server.url("plain").replace("postgres@", "watcher@"))
    with held_connections(pg_server, 1):  # a superuser's connection: hidden from 'watcher'
        long = by_id(database_checks(params()))["database.long_running_queries"]
    assert long.status is Status.INCONCLUSIVE, long.summary_line()
    assert long.observed["hidden_connections"] >= 1
    assert "session(s) of other roles show no state to 'watcher'" in long.explanation
    assert "pg_read_all_stats" in long.explanation


def test_without_pg_stat_statements_query_time_is_inconclusive(db_env) -> None:  # type: ignore[no-untyped-def]
    db_env("plain")
    perf = by_id(database_checks(params()))["database.query_performance"]
    assert perf.status is Status.INCONCLUSIVE
    assert "pg_stat_statements extension is not installed in database 'plain'" in (perf.explanation)


def test_slow_statements_push_the_mean_over_the_line_and_fail(db_env) -> None:  # type: ignore[no-untyped-def]
    db_env("slowdb")
    with psycopg.connect(os.environ[ENV], autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        for _ in range(3):
            conn.execute("SELECT pg_sleep(0.25)")
        conn.execute("SELECT count(*) FROM items")
    perf = by_id(database_checks(params()))["database.query_performance"]
    assert perf.status is Status.FAIL, perf.summary_line()
    assert perf.observed["mean_ms"] >= 100 and perf.observed["calls"] >= 4
    assert "pg_sleep" in perf.evidence["pg_stat_statements"]["worst"][0]["query"]
    # the runbook's own statements are not judged
    assert all(
        "runbook:database" not in w["query"] for w in perf.evidence["pg_stat_statements"]["worst"]
    )


def test_a_fast_mean_with_one_slow_statement_warns(db_env) -> None:  # type: ignore[no-untyped-def]
    db_env("slowdb")
    with psycopg.connect(os.environ[ENV], autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
        conn.execute("SELECT pg_sleep(0.25)")
        for i in range(40):
            conn.execute("SELECT name FROM items WHERE id = %s", (i + 1,))
    perf = by_id(database_checks(params()))["database.query_performance"]
    assert perf.status is Status.WARN, perf.summary_line()
    assert "1 statement(s) average above 200 ms" in perf.explanation


def test_the_slow_query_log_off_is_named(db_env) -> None:  # type: ignore[no-untyped-def]
    db_env("plain")
    log = by_id(database_checks(params()))["database.slow_query_log"]
    assert log.status is Status.FAIL
    assert log.observed == {"log_min_duration_statement_ms": -1}
    assert "slow query log off: log_min_duration_statement = -1" in log.explanation
    lenient = by_id(database_checks(params(slow_query_log_required=False)))
    assert lenient["database.slow_query_log"].status is Status.WARN


def test_an_unreachable_database_is_error_without_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(ENV, f"postgresql://app:s3cret-pw@/app?host={tmp_path}")
    results = database_checks(params(connect_timeout_s=2))
    assert len(results) == 7 and {r.status for r in results} == {Status.ERROR}
    first = results[0]
    assert first.id == "database.connection"
    assert "could not connect to postgresql://app:" in first.explanation
    assert str(tmp_path) in first.explanation  # the reason: the socket that is not there
    assert all("s3cret-pw" not in r.model_dump_json() for r in results)


def test_an_unset_secret_is_inconclusive_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    results = database_checks(params())
    assert {r.status for r in results} == {Status.INCONCLUSIVE}  # cannot look: INCOMPLETE
    assert f"${ENV}" in results[0].explanation


def test_no_database_section_is_one_skip() -> None:
    [skip] = database_checks(None)
    assert skip.status is Status.SKIP and "not configured" in skip.explanation


def test_a_url_value_in_the_parameters_is_refused() -> None:
    with pytest.raises(ValueError):
        DatabaseParams.model_validate({"url": "postgresql://u:p@h/db"})
    assert params().url == SecretRef(env=ENV)


def test_the_parameters_section_as_documented_validates() -> None:
    import yaml

    from runbook.core.parameters import Parameters

    section = yaml.safe_load("""
database:
  url: {env: PIXCRAWLER_DATABASE_URL}
  pool_usage_max_pct: 80
  query_time_ms: 100
  query_warning_ms: 200
  long_query_ms: 5000
""")["database"]
    assert Parameters.model_fields["database"].default is None  # absent: one SKIP
    p = DatabaseParams.model_validate(section)
    assert p.url.env == "PIXCRAWLER_DATABASE_URL" and p.max_size_bytes is None
    with pytest.raises(ValueError, match="query_time_ms must not exceed"):
        DatabaseParams.model_validate({**section, "query_time_ms": 300})
