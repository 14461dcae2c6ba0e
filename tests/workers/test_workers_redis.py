"""Redis checks against a real redis-server: every metric read after real traffic."""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pydantic import ValidationError
from workers_support import redis_or_fail

from rehearsal.workers import RedisHandle, free_port
from runbook.core.checks import CheckResult, Status
from runbook.phases.monitoring.workers.params import RedisParams, WorkersParams
from runbook.phases.monitoring.workers.redis_health import redis_checks


def run(
    url: str | None = None, *, secret_env: str | None = None, **options: object
) -> dict[str, CheckResult]:
    source = {"secret": {"env": secret_env}} if secret_env else {"url": url}
    params = WorkersParams(redis=RedisParams.model_validate({"url": source, **options}))
    return {r.id: r for r in redis_checks(params)}


def test_every_metric_is_read_after_hits_misses_and_evictions(tmp_path: Path) -> None:
    with redis_or_fail(tmp_path, maxmemory="2mb", maxmemory_policy="allkeys-lru") as server:
        client = redis.Redis.from_url(server.url)
        client.set("present", "x")
        for _ in range(9):
            assert client.get("present") == b"x"
        assert client.get("absent") is None
        payload = b"v" * 20_000
        for i in range(300):  # ~6 MB into a 2 MB instance: the LRU policy must evict
            client.set(f"fill:{i}", payload)
        info = client.info()
        assert info["evicted_keys"] > 0

        results = run(server.url)
        after = client.info()
        client.close()

    conn = results["redis.connection"]
    assert conn.status is Status.PASS and conn.observed["ping_ms"] >= 0
    memory = results["redis.memory"]
    assert memory.evidence["limit_source"] == "maxmemory"
    assert memory.evidence["maxmemory"] == 2 * 1024 * 1024
    assert memory.observed["used_pct"] > 90 and memory.status is Status.FAIL
    clients = results["redis.clients"]
    assert clients.status is Status.PASS
    assert clients.observed["connected_clients"] >= 1
    assert clients.evidence["limit"] == int(0.8 * info["maxclients"])
    ops = results["redis.ops_per_sec"]
    assert ops.status is Status.PASS and isinstance(ops.observed, float)
    assert ops.evidence["total_commands_processed"] >= 311
    hit = results["redis.hit_rate"]
    assert hit.evidence["keyspace_hits"] == 9 and hit.evidence["keyspace_misses"] == 1
    assert hit.observed == 0.9 and hit.status is Status.PASS
    evicted = results["redis.evicted_keys"]
    # a new connection's buffers can evict a few more keys while the check reads INFO
    assert info["evicted_keys"] <= evicted.observed <= after["evicted_keys"]
    assert evicted.status is Status.FAIL
    assert all(
        r.section.startswith("Monitoring and Alerting §3 Redis Monitoring — ")
        for k, r in results.items()
        if k not in ("redis.connection", "redis.latency")
    )
    assert results["redis.latency"].status is Status.PASS


def test_thresholds_come_from_parameters(tmp_path: Path) -> None:
    with redis_or_fail(tmp_path, maxmemory="2mb", maxmemory_policy="allkeys-lru") as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.get("k")
        client.get("missing")  # hit rate 0.5
        for i in range(300):
            client.set(f"fill:{i}", b"v" * 20_000)
        client.close()
        strict = run(
            server.url, min_hit_rate=0.6, max_connected_clients=1, max_ops_per_sec=0.000001
        )
        loose = run(
            server.url,
            min_hit_rate=0.5,
            max_evicted_keys=10**9,
            memory_warn_pct=100,
            memory_critical_pct=100,
        )
    assert strict["redis.hit_rate"].status is Status.FAIL
    assert loose["redis.hit_rate"].status is Status.PASS
    assert loose["redis.evicted_keys"].status is Status.PASS
    assert strict["redis.evicted_keys"].status is Status.FAIL
    assert loose["redis.memory"].status is Status.PASS  # at most 100 % of maxmemory
    # the checker's own connection plus nothing else: 1 client is not above 1
    assert strict["redis.clients"].observed["connected_clients"] == 1
    assert strict["redis.clients"].status is Status.PASS


def test_memory_warning_line_without_maxmemory(redis_server: RedisHandle) -> None:
    used = redis.Redis.from_url(redis_server.url).info("memory")["used_memory"]
    warn = run(redis_server.url, memory_limit_bytes=int(used / 0.85))
    assert warn["redis.memory"].evidence["limit_source"] == "parameter memory_limit_bytes"
    assert 80 < warn["redis.memory"].observed["used_pct"] <= 90
    assert warn["redis.memory"].status is Status.WARN
    system = run(redis_server.url)
    assert system["redis.memory"].evidence["limit_source"].startswith("total_system_memory")
    assert system["redis.memory"].status is Status.PASS


def test_no_traffic_hit_rate_is_inconclusive(redis_server: RedisHandle) -> None:
    results = run(redis_server.url)
    assert results["redis.hit_rate"].status is Status.INCONCLUSIVE
    assert results["redis.hit_rate"].observed is None
    assert results["redis.evicted_keys"].status is Status.PASS


def test_sampling_judges_only_the_window(redis_server: RedisHandle) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.set("k", "v")
    for _ in range(5):
        client.get("k")  # hits before the window
    stop = threading.Event()

    def misses() -> None:
        while not stop.wait(0.02):
            client.get("never-set")

    before = run(redis_server.url)
    thread = threading.Thread(target=misses)
    thread.start()
    try:
        windowed = run(redis_server.url, sample_s=0.6)
    finally:
        stop.set()
        thread.join()
        client.close()
    assert before["redis.hit_rate"].observed == 1.0
    hit = windowed["redis.hit_rate"]
    assert hit.evidence["counter_basis"] == "change over 0.6 s"
    assert hit.evidence["keyspace_hits"] == 0 and hit.evidence["keyspace_misses"] > 5
    assert hit.observed == 0.0 and hit.status is Status.FAIL


def test_refused_connection_is_error() -> None:
    results = run(f"redis://127.0.0.1:{free_port()}/0", timeout_s=1)
    assert {r.status for r in results.values()} == {Status.ERROR}
    assert "ConnectionError" in results["redis.connection"].explanation


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_unanswered_ping_times_out_as_error(silent_listener: int) -> None:
    results = run(f"redis://127.0.0.1:{silent_listener}/0", timeout_s=0.5)
    conn = results["redis.connection"]
    assert conn.status is Status.ERROR and "Timeout" in conn.explanation
    assert results["redis.memory"].status is Status.ERROR


def test_password_never_appears_in_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    password = "pw-" + secrets.token_urlsafe(16)
    with redis_or_fail(tmp_path, password=password) as server:
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert password.encode() not in cmdline  # it sits in the 0600 config file only
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.get("k")
        client.close()
        monkeypatch.setenv("RUNBOOK_TEST_REDIS_URL", server.url)
        good = run(secret_env="RUNBOOK_TEST_REDIS_URL")
        wrong = server.url.replace(password, password[::-1])
        monkeypatch.setenv("RUNBOOK_TEST_REDIS_URL", wrong)
        refused = run(secret_env="RUNBOOK_TEST_REDIS_URL")
    assert good["redis.connection"].status is Status.PASS
    assert good["redis.hit_rate"].observed == 1.0
    assert good["redis.connection"].evidence["endpoint"]["source"] == "$RUNBOOK_TEST_REDIS_URL"
    assert "•••" in good["redis.connection"].evidence["endpoint"]["url"]
    assert refused["redis.connection"].status is Status.ERROR
    for result in [*good.values(), *refused.values()]:
        text = json.dumps(result.to_payload()) + result.to_html() + result.summary_line()
        assert password not in text and password[::-1] not in text


def test_unset_secret_is_error_naming_the_reference() -> None:
    results = run(secret_env="RUNBOOK_TEST_UNSET_REDIS_URL")
    assert {r.status for r in results.values()} == {Status.ERROR}
    assert "$RUNBOOK_TEST_UNSET_REDIS_URL" in results["redis.connection"].explanation


def test_no_redis_configured_skips_saying_why() -> None:
    results = redis_checks(WorkersParams())
    assert len(results) == 7 and {r.status for r in results} == {Status.SKIP}
    assert all("no 'redis' section" in r.explanation for r in results)


def test_inline_url_may_not_carry_a_password() -> None:
    with pytest.raises(ValidationError, match="secret"):
        RedisParams.model_validate({"url": {"url": "redis://:hunter22@localhost:6379/0"}})
    with pytest.raises(ValidationError, match="extra"):
        WorkersParams.model_validate({"redis": {"url": {"url": "redis://h:1/0"}, "typo": 1}})
