"""The load probe and its gates against a real sandbox subprocess."""

from __future__ import annotations

import json
import socket

from perf_support import ME, SLOW, short_params

from rehearsal.sandbox.server import SandboxHandle
from runbook.core.checks import Status
from runbook.phases.performance.probe import LoadResult, run_load
from runbook.phases.performance.verdicts import load_checks


def by_id(checks: list) -> dict:
    return {c.id: c for c in checks}


def test_healthy_run_passes_every_gate_and_keeps_raw_samples(
    perf_sandbox: SandboxHandle, auth_headers: dict[str, str], perf_token: str, tmp_path
) -> None:
    params = short_params()
    result = run_load(params, perf_sandbox.url, auth_headers)
    checks = by_id(load_checks(result, params))
    assert {c.status for c in checks.values()} == {Status.PASS}, [
        c.summary_line() for c in checks.values()
    ]
    assert set(checks) == {
        "perf.probe",
        f"perf.p95.GET {SLOW}",
        f"perf.p95.GET {ME}",
        "perf.error_rate",
        "perf.rollback_lines",
    }
    measured = result.measured
    assert set(measured["route"].unique()) == {f"GET {SLOW}", f"GET {ME}"}
    assert (measured["status"] == 200).all() and measured["ok"].all()
    # the slow route sleeps 20 ms: no sample can be faster than that
    slow = measured[measured["route"] == f"GET {SLOW}"]["latency_ms"]
    assert slow.min() >= 19.0
    assert result.header_names == ["Authorization"]
    # raw samples survive a round trip and can be re-judged; the secret is nowhere on disk
    path = result.save(tmp_path / "evidence")
    assert path.name.endswith(".csv.gz")
    again = LoadResult.load(tmp_path / "evidence")
    assert len(again.frame) == len(result.frame)
    assert [c.status for c in load_checks(again, params)] == [Status.PASS] * 5
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "evidence").iterdir())
    assert perf_token.encode() not in on_disk
    assert perf_token not in json.dumps([c.to_payload() for c in checks.values()])


def test_added_latency_fails_p95_naming_the_route(
    perf_sandbox: SandboxHandle, auth_headers: dict[str, str]
) -> None:
    perf_sandbox.set_faults(latency_ms=300, latency_routes=[f"GET {SLOW}"])
    params = short_params()
    checks = by_id(load_checks(run_load(params, perf_sandbox.url, auth_headers), params))
    slow = checks[f"perf.p95.GET {SLOW}"]
    assert slow.status is Status.FAIL
    assert f"GET {SLOW}" in slow.explanation and slow.observed >= 300
    assert checks[f"perf.p95.GET {ME}"].status is Status.PASS


def test_error_rate_of_ten_percent_fails_the_error_gate(
    perf_sandbox: SandboxHandle, auth_headers: dict[str, str]
) -> None:
    perf_sandbox.set_faults(error_rate=0.1)
    params = short_params()
    checks = by_id(load_checks(run_load(params, perf_sandbox.url, auth_headers), params))
    errors = checks["perf.error_rate"]
    assert errors.status is Status.FAIL
    assert 0.03 < errors.observed["overall"] < 0.25
    assert errors.evidence["routes"]["(all)"]["errors"] > 0
    # the rollback line (5 %) is crossed too and said so
    assert checks["perf.rollback_lines"].status is Status.FAIL
    assert "error rate" in checks["perf.rollback_lines"].explanation


def test_unreachable_target_is_error_never_pass() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    params = short_params(duration_s=0.5, warmup_s=0.1)
    result = run_load(params, f"http://127.0.0.1:{port}")
    assert (result.frame["status"] == 0).all() and len(result.frame) > 0
    assert set(result.frame["error"]) == {"connection refused"}
    checks = load_checks(result, params)
    statuses = {c.id: c.status for c in checks}
    assert Status.PASS not in statuses.values()
    assert statuses["perf.error_rate"] is Status.ERROR
    assert all(s in (Status.ERROR, Status.INCONCLUSIVE) for s in statuses.values())
    assert "never answered" in by_id(checks)["perf.error_rate"].explanation


def test_route_without_success_is_inconclusive(
    perf_sandbox: SandboxHandle, auth_headers: dict[str, str]
) -> None:
    perf_sandbox.set_faults(fail_routes=[f"GET {ME}"])
    params = short_params()
    checks = by_id(load_checks(run_load(params, perf_sandbox.url, auth_headers), params))
    assert checks[f"perf.p95.GET {ME}"].status is Status.INCONCLUSIVE
    assert checks[f"perf.p95.GET {SLOW}"].status is Status.PASS
    assert checks["perf.error_rate"].status is Status.FAIL


def test_saturation_guard_refuses_a_p95(
    perf_sandbox: SandboxHandle, auth_headers: dict[str, str]
) -> None:
    params = short_params(max_worker_cpu=1e-6, concurrency=2, duration_s=0.8)
    result = run_load(params, perf_sandbox.url, auth_headers)
    assert result.max_worker_cpu() is not None and result.max_worker_cpu() > 1e-6
    checks = by_id(load_checks(result, params))
    assert checks["perf.probe"].status is Status.ERROR
    assert "saturated" in checks["perf.probe"].explanation
    for route in (SLOW, ME):
        p95 = checks[f"perf.p95.GET {route}"]
        assert p95.status is Status.ERROR and p95.observed is None
        assert "saturated" in p95.explanation
