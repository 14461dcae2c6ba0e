"""'Redis performance stable': PING round trips timed against a real Redis server, directly
and through a real TCP relay that holds every answer back (a slow network or server)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from workers_support import redis_or_fail

from runbook.core.checks import Status
from runbook.phases.monitoring.workers.params import RedisParams, WorkersParams
from runbook.phases.monitoring.workers.redis_health import redis_checks

DELAY_S = 0.05


def _pump(src: socket.socket, dst: socket.socket, delay_s: float) -> None:
    try:
        while data := src.recv(65536):
            time.sleep(delay_s)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            s.close()


@contextmanager
def slow_relay(port: int, delay_s: float) -> Iterator[int]:
    """A TCP relay on a free 127.0.0.1 port to `port`, each answer held back `delay_s`."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", port))
            threading.Thread(target=_pump, args=(client, upstream, 0.0), daemon=True).start()
            threading.Thread(target=_pump, args=(upstream, client, delay_s), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def _latency(url: str, **options: object):
    params = WorkersParams(
        redis=RedisParams.model_validate(
            {"url": {"url": url}, "latency_samples": 5, "latency_interval_s": 0.0, **options}
        )
    )
    return {r.id: r for r in redis_checks(params)}["redis.latency"]


def test_a_local_server_answers_well_within_the_line(tmp_path: Path) -> None:
    with redis_or_fail(tmp_path) as server:
        result = _latency(server.url)
    assert result.status is Status.PASS, result.explanation
    assert result.observed["samples"] == 5 and len(result.evidence["samples_ms"]) == 5
    assert 0 < result.observed["p50_ms"] <= result.observed["p95_ms"] <= 25.0


def test_answers_held_back_fail_the_line(tmp_path: Path) -> None:
    with redis_or_fail(tmp_path) as server, slow_relay(server.port, DELAY_S) as port:
        url = f"redis://127.0.0.1:{port}/0"
        assert urlsplit(url).port == port
        slow = _latency(url, max_latency_p95_ms=DELAY_S * 1000 / 2)
        generous = _latency(url, max_latency_p95_ms=60_000)
    assert slow.status is Status.FAIL and "above" in slow.explanation
    assert slow.observed["p50_ms"] >= DELAY_S * 1000  # every round trip waited for the relay
    assert generous.status is Status.PASS
