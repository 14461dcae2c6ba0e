"""database.azure.*: Azure Monitor metrics of a flexible server, read with the real
azure-mgmt-monitor client from the real stand-in, which computes them from the real PostgreSQL of
tests/database/conftest.py. Healthy passes; each check fails on its own fault (held connections,
an exhausted server, a busy backend, an undersized server's memory, data growth); what cannot be
read is INCONCLUSIVE; no section is one SKIP."""

from __future__ import annotations

import secrets
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from rehearsal.azure_standin.config import StandinConfig
from rehearsal.azure_standin.postgres_metrics import SERVERS_ENV
from rehearsal.azure_standin.process import StandinHandle, start_standin
from rehearsal.postgres_server import LocalPostgres
from runbook.core.checks import CheckResult, Status
from runbook.phases.monitoring.database.azure_metrics import azure_database_checks
from runbook.phases.monitoring.database.params import DatabaseParams
from runbook.providers.azure.params import AzureParams
from waiting import wait_for

SUB, RG, SERVER = "11111111-2222-3333-4444-555555555555", "pixcrawler-rg", "pixcrawler-db"
RESOURCE = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.DBforPostgreSQL/"
    f"flexibleServers/{SERVER}"
)
ACCEPT_ENV, CLIENT_ENV = "DB_TEST_STANDIN_TOKEN", "DB_TEST_ARM_TOKEN"
URL_ENV = "DB_TEST_STANDIN_PG_URL"
TOKEN = secrets.token_urlsafe(24)
STORAGE_SQL = (
    "SELECT sum(pg_database_size(datname))::bigint FROM pg_database "
    "WHERE has_database_privilege(datname, 'CONNECT')"
)


@pytest.fixture(scope="module")
def standin(
    tmp_path_factory: pytest.TempPathFactory, pg_server: LocalPostgres
) -> Iterator[StandinHandle]:
    """The stand-in with flexible server `pixcrawler-db` played by the test PostgreSQL."""
    config = StandinConfig(subscription_id=SUB, resource_group=RG, accept_token_env=ACCEPT_ENV)
    env = {ACCEPT_ENV: TOKEN, URL_ENV: pg_server.url("app"), SERVERS_ENV: f"{SERVER}={URL_ENV}"}
    with start_standin(config, tmp_path_factory.mktemp("pg-standin"), env=env) as handle:
        yield handle


def admin(standin: StandinHandle, method: str, path: str, body: Any = None) -> Any:
    trust = ssl.create_default_context(cafile=str(standin.ca_bundle))
    response = httpx.request(
        method, f"{standin.url}/_standin/postgres{path}", json=body, verify=trust, timeout=10
    )
    response.raise_for_status()
    return response.json()


def fresh_server(standin: StandinHandle, pg: LocalPostgres, samples: int = 3, **spec: Any) -> None:
    """Re-register the server (its samples start over) and wait for `samples` of them."""
    admin(standin, "PUT", f"/servers/{SERVER}", {"url": pg.url("app"), **spec})
    wait_for_samples(standin, samples)


def wait_for_samples(standin: StandinHandle, n: int) -> None:
    start = admin(standin, "GET", "")["servers"][SERVER]["samples"]
    wait_for(
        lambda: admin(standin, "GET", "")["servers"][SERVER]["samples"] >= start + n,
        f"{n} more samples of {SERVER}",
    )


@pytest.fixture
def azure(standin: StandinHandle, monkeypatch: pytest.MonkeyPatch) -> AzureParams:
    monkeypatch.setenv(CLIENT_ENV, TOKEN)
    return AzureParams(
        subscription_id=SUB,
        resource_group=RG,
        site="unused",
        arm_endpoint=standin.url,
        ca_bundle=str(standin.ca_bundle),
        credential={"kind": "static-token", "token": {"env": CLIENT_ENV}},
        retry_total=0,
        timeout=10,
    )


def params(resource: Any = RESOURCE, **thresholds: Any) -> DatabaseParams:
    return DatabaseParams.model_validate(
        {
            "url": {"env": "DB_TEST_UNUSED_URL"},
            "azure": {
                "resource_id": resource,
                "window": "PT5M",
                "interval": "PT1M",
                "ingestion_lag": "PT0S",
                "thresholds": thresholds,
            },
        }
    )


def judged(p: DatabaseParams, azure: AzureParams) -> dict[str, CheckResult]:
    return {r.id: r for r in azure_database_checks(p, azure)}


def statuses(results: dict[str, CheckResult]) -> dict[str, Status]:
    return {i: r.status for i, r in results.items()}


ALL = [
    "database.azure.active_connections",
    "database.azure.connections_failed",
    "database.azure.cpu",
    "database.azure.memory",
    "database.azure.storage",
    "database.azure.size",
]


def test_a_healthy_server_passes_every_metric(
    standin: StandinHandle, pg_server: LocalPostgres, azure: AzureParams
) -> None:
    fresh_server(standin, pg_server)
    results = judged(params(), azure)
    assert list(results) == ALL
    assert statuses(results) == dict.fromkeys(ALL, Status.PASS), [
        r.summary_line() for r in results.values()
    ]
    with psycopg.connect(pg_server.url("app")) as conn:
        used = conn.execute(STORAGE_SQL).fetchone()[0]  # type: ignore[index]
    size = results["database.azure.size"].observed["latest_bytes"]
    assert abs(size - used) < 0.1 * used  # Σ pg_database_size, as read by the stand-in
    ev = results["database.azure.cpu"].evidence
    assert ev["resource_id"] == RESOURCE and ev["metric"] == "cpu_percent"
    assert results["database.azure.connections_failed"].observed["failed"] == 0


def test_held_connections_fail_active_connections(
    standin: StandinHandle, pg_server: LocalPostgres, azure: AzureParams
) -> None:
    fresh_server(standin, pg_server)
    held = [psycopg.connect(pg_server.url("plain")) for _ in range(8)]
    try:
        wait_for_samples(standin, 2)
    finally:
        for conn in held:
            conn.close()
    results = judged(params(active_connections_max=5), azure)
    active = results.pop("database.azure.active_connections")
    assert active.status is Status.FAIL and active.observed["max"] >= 8, active.summary_line()
    assert set(statuses(results).values()) == {Status.PASS}


def test_an_exhausted_server_fails_connections_failed(
    standin: StandinHandle, pg_server: LocalPostgres, azure: AzureParams
) -> None:
    fresh_server(standin, pg_server)
    held: list[psycopg.Connection] = []
    try:
        while True:  # every slot, the superuser's reserved ones too
            try:
                held.append(psycopg.connect(pg_server.url("plain"), connect_timeout=5))
            except psycopg.OperationalError:
                break
        assert len(held) >= pg_server.max_connections - pg_server.reserved
        wait_for(
            lambda: "database.azure.connections_failed" in failing(azure),
            "a refused connection counted",
        )
    finally:
        for conn in held:
            conn.close()
    failed = judged(params(), azure)["database.azure.connections_failed"]
    assert failed.status is Status.FAIL and failed.observed["failed"] >= 1


def failing(azure: AzureParams) -> set[str]:
    return {i for i, r in judged(params(), azure).items() if r.status is Status.FAIL}


def test_busy_backends_fail_cpu(
    standin: StandinHandle, pg_server: LocalPostgres, azure: AzureParams
) -> None:
    """A one-vCore server and two backends counting: the line is lowered to 25 % so a shared
    2-core machine (other processes taking turns) still shows it; idle stays far below."""
    fresh_server(standin, pg_server, cores=1)
    line = params(cpu_percent=25)
    assert judged(line, azure)["database.azure.cpu"].status is Status.PASS
    stop = threading.Event()

    def burn() -> None:
        with psycopg.connect(pg_server.url("plain"), autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("SELECT count(*) FROM generate_series(1, 3000000)")

    workers = [threading.Thread(target=burn, daemon=True) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        wait_for(
            lambda: judged(line, azure)["database.azure.cpu"].status is Status.FAIL,
            "two busy backends' CPU at or above 25 % of the server's one core",
            bound_s=120,
        )
    finally:
        stop.set()
        for worker in workers:
            worker.join(60)
    cpu = judged(line, azure)["database.azure.cpu"]
    assert cpu.status is Status.FAIL and cpu.observed["worst"] >= 25


def test_an_undersized_server_fails_memory(
    standin: StandinHandle, pg_server: LocalPostgres, azure: AzureParams
) -> None:
    fresh_server(standin, pg_server)
    healthy = judged(params(), azure)["database.azure.memory"]
    assert healthy.status is Status.PASS and 0 < healthy.observed["worst"] < 80
    fresh_server(standin, pg_server, memory_bytes=16 * 1024 * 1024)  # the server's own memory
    results = judged(params(), azure)  # (tens of MiB) on a 16 MiB server
    memory = results.pop("database.azure.memory")
    assert memory.status is Status.FAIL and memory.observed["worst"] >= 90, memory.summary_line()
    assert results["database.azure.storage"].status is Status.PASS


def test_data_growth_fails_storage_and_size(
    standin: StandinHandle, pg_server: LocalPostgres, azure: AzureParams
) -> None:
    with psycopg.connect(pg_server.url("slowdb"), autocommit=True) as conn:
        used = int(conn.execute(STORAGE_SQL).fetchone()[0])  # type: ignore[index]
        fresh_server(standin, pg_server, storage_bytes=2 * used)  # half full
        lines = {"storage_used_max_bytes": int(used * 1.3)}
        before = judged(params(**lines), azure)
        assert before["database.azure.storage"].status is Status.PASS
        assert before["database.azure.size"].status is Status.PASS
        conn.execute(
            "CREATE TABLE growth AS SELECT repeat(md5(g::text), 32) AS pad "
            "FROM generate_series(1, 40000) g"
        )  # about used × 1.0 more on disk
        try:
            fresh_server(standin, pg_server, storage_bytes=2 * used)
            after = judged(params(**lines), azure)
        finally:
            conn.execute("DROP TABLE growth")
    storage, size = after["database.azure.storage"], after["database.azure.size"]
    assert storage.status in (Status.FAIL, Status.WARN), storage.summary_line()
    assert storage.observed["worst"] >= 80
    assert size.status is Status.FAIL and size.observed["max_bytes"] > used * 1.3


def test_what_cannot_be_read_is_inconclusive(
    standin: StandinHandle, azure: AzureParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = judged(params(RESOURCE.replace(SERVER, "no-such-server")), azure)
    assert set(statuses(missing).values()) == {Status.INCONCLUSIVE}
    assert "not-found" in missing["database.azure.cpu"].explanation
    monkeypatch.delenv("DB_TEST_PG_RESOURCE_ID", raising=False)
    unset = judged(params({"env": "DB_TEST_PG_RESOURCE_ID"}), azure)
    assert set(statuses(unset).values()) == {Status.INCONCLUSIVE}
    assert "$DB_TEST_PG_RESOURCE_ID" in unset["database.azure.size"].explanation
    monkeypatch.setenv(CLIENT_ENV, "a-wrong-token")
    refused = judged(params(), azure)
    assert set(statuses(refused).values()) == {Status.INCONCLUSIVE}
    assert "InvalidAuthenticationToken" in refused["database.azure.cpu"].explanation


def test_no_azure_section_is_one_skip_and_a_bad_id_is_refused(azure: AzureParams) -> None:
    plain = DatabaseParams.model_validate({"url": {"env": "DB_TEST_UNUSED_URL"}})
    only = azure_database_checks(plain, azure)
    assert [(r.id, r.status) for r in only] == [("database.azure.active_connections", Status.SKIP)]
    assert azure_database_checks(None, None)[0].status is Status.SKIP
    with pytest.raises(ValueError, match="flexibleServers"):
        params("/subscriptions/x/resourceGroups/y/providers/Microsoft.Web/sites/z")


def test_the_stand_in_serves_the_real_arm_path(standin: StandinHandle) -> None:
    trust = ssl.create_default_context(cafile=str(standin.ca_bundle))
    url = f"{standin.url}{RESOURCE}/providers/Microsoft.Insights/metrics"
    query = {"metricnames": "nonsense", "api-version": "2018-01-01"}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    bad = httpx.get(url, params=query, headers=headers, verify=trust, timeout=10)
    assert bad.status_code == 400 and "storage_percent" in bad.json()["error"]["message"]
    assert httpx.get(url, verify=trust, timeout=10).status_code == 401
    assert Path(standin.ca_bundle).is_file()
