"""The monitor library through the real Azure SDKs against the real stand-in over TLS, whose
Monitor routes compute metrics and logs from a real sandbox's traffic and process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from monitor_support import CLIENT_ENV, FAILING, HEALTH, admin, traffic

from rehearsal.azure_standin.process import StandinHandle
from rehearsal.sandbox.server import SandboxHandle
from runbook.core.checks import Status
from runbook.phases.monitoring.alerts import alert_rule_checks
from runbook.phases.monitoring.logs import log_checks
from runbook.phases.monitoring.metrics import metric_checks
from runbook.phases.monitoring.params import MonitorParams
from runbook.providers.azure.params import AzureParams


def _by_id(results: list) -> dict:
    return {r.id: r for r in results}


def _monitor(standin: StandinHandle, method: str, path: str, body: object = None) -> object:
    return admin(standin.url, str(standin.ca_bundle), method, path, body)


def test_metrics_show_the_sandbox_traffic_and_the_error_gate_fails_over_1_percent(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams,
    tmp_path: Path,
) -> None:  # fmt: skip
    sandbox.set_faults(fail_routes=[f"GET {FAILING}"])
    traffic(sandbox.url, ok=90, failing=6, health=4)

    report = metric_checks(params, azure)
    frame = report.frame
    assert frame["requests"].sum() == 100
    assert frame["http5xx"].sum() == 6
    busy = frame[frame["requests"] > 0]
    assert (busy["error_rate"] == busy["http5xx"] / busy["requests"]).all()
    results = _by_id(report.results)
    error_rate = results["monitor.metrics.error-rate"]
    assert error_rate.status is Status.FAIL
    assert error_rate.observed["overall"] == pytest.approx(0.06)
    assert error_rate.observed["http5xx"] == 6
    # CPU and memory come from the sandbox process itself, health from its health route
    assert results["monitor.metrics.memory"].status is Status.PASS
    assert frame["memory_bytes"].max() > 10 * 1024 * 1024
    assert results["monitor.metrics.cpu"].status is Status.PASS
    assert results["monitor.metrics.health"].status is Status.PASS
    assert set(report.figures()) == {"error_rate", "response_time", "cpu", "memory"}
    assert all(isinstance(f, Figure) for f in report.figures().values())
    json.dumps([r.to_payload() for r in report.results])  # evidence is plain JSON
    written = report.save(tmp_path)
    assert {p.name for p in written} == {"monitor-metrics.csv", "monitor-metrics.json"}
    assert "http5xx" in (tmp_path / "monitor-metrics.csv").read_text().splitlines()[0]


def test_only_successful_traffic_passes_the_error_gate(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    traffic(sandbox.url, ok=60)
    result = _by_id(metric_checks(params, azure).results)["monitor.metrics.error-rate"]
    assert result.status is Status.PASS and result.observed["requests"] == 60


def test_no_traffic_in_the_window_is_inconclusive(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    results = _by_id(metric_checks(params, azure).results)
    assert results["monitor.metrics.error-rate"].status is Status.INCONCLUSIVE
    assert "no requests" in results["monitor.metrics.error-rate"].explanation
    assert _by_id(log_checks(params, azure).results)["monitor.logs.p95"].status is (
        Status.INCONCLUSIVE
    )


def test_an_erroring_metrics_endpoint_is_inconclusive_never_pass(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    traffic(sandbox.url, ok=30)
    _monitor(standin, "PUT", "/faults", {"metrics_error_status": 503})
    results = metric_checks(params, azure).results
    assert {r.status for r in results} == {Status.INCONCLUSIVE}
    assert "unavailable (HTTP 503)" in results[0].explanation


def test_empty_metric_data_and_source_error_codes_are_inconclusive(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    traffic(sandbox.url, ok=30)
    _monitor(standin, "PUT", "/faults", {"metrics_error_codes": {"MemoryWorkingSet": "Throttled"}})
    results = _by_id(metric_checks(params, azure).results)
    assert results["monitor.metrics.memory"].status is Status.INCONCLUSIVE
    assert "Throttled" in results["monitor.metrics.memory"].explanation
    assert results["monitor.metrics.error-rate"].status is Status.PASS

    _monitor(standin, "PUT", "/faults", {"metrics_empty": True})
    statuses = {r.status for r in metric_checks(params, azure).results}
    assert statuses == {Status.INCONCLUSIVE}


def test_a_refused_token_is_inconclusive_with_its_reason(
    standin: StandinHandle, azure: AzureParams, params: MonitorParams,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv(CLIENT_ENV, "not-the-accepted-token")
    metrics = metric_checks(params, azure).results
    assert {r.status for r in metrics} == {Status.INCONCLUSIVE}
    assert "auth" in metrics[0].evidence["sources"]["requests"]["message"]
    alerts = alert_rule_checks(params, azure)
    assert {r.status for r in alerts} == {Status.INCONCLUSIVE}  # could not look: INCOMPLETE
    assert "needs an Azure credential" in alerts[0].explanation


def test_logs_give_p95_and_error_rate_per_bin_and_exceptions_by_type(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams,
    tmp_path: Path,
) -> None:  # fmt: skip
    sandbox.set_faults(
        fail_routes=[f"GET {FAILING}"], latency_ms=250, latency_routes=[f"GET {HEALTH}"]
    )
    traffic(sandbox.url, ok=30, failing=2, health=4)
    log = sandbox.requests()
    durations = sorted(r.duration_ms for r in log)
    expected_p95 = durations[int(0.95 * len(durations) + 0.999999) - 1]  # nearest rank

    report = log_checks(params, azure)
    results = _by_id(report.results)
    p95 = results["monitor.logs.p95"]
    assert p95.status is Status.FAIL  # 4 of 36 requests take 250 ms: p95 is one of them
    assert p95.observed["p95_ms"] == pytest.approx(expected_p95)
    assert p95.observed["p95_ms"] >= 250
    per_bin = report.per_bin
    assert per_bin["requests"].sum() == 36 and per_bin["failed"].sum() == 2
    assert (per_bin["error_rate"] == per_bin["failed"] / per_bin["requests"]).all()
    error_rate = results["monitor.logs.error-rate"]
    assert error_rate.status is Status.FAIL
    assert error_rate.observed["error_rate"] == pytest.approx(2 / 36, abs=1e-4)
    exceptions = results["monitor.logs.exceptions"]
    assert exceptions.status is Status.FAIL
    assert exceptions.observed["by_type"] == {"SandboxFault.fail_routes": 2}
    json.dumps([r.to_payload() for r in report.results])
    assert set(report.figures()) == {"latency", "error_rate"}
    assert (tmp_path / "monitor-logs.json") in report.save(tmp_path)


def test_logs_dependency_checks_see_an_unhealthy_redis(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    sandbox.set_faults(component_health={"redis": "unhealthy"})
    traffic(sandbox.url, ok=0, failing=10)  # /api/v1/notifications/ without a token: 401
    results = _by_id(log_checks(params, azure).results)
    assert results["monitor.logs.redis-errors"].status is Status.FAIL
    assert results["monitor.logs.redis-errors"].observed["failed"] == 10
    assert results["monitor.logs.database-errors"].status is Status.PASS
    assert results["monitor.logs.database-time"].observed["calls"] == 10
    assert results["monitor.logs.error-rate"].status is Status.PASS  # 401 is no server error


def test_an_unknown_query_shape_is_an_error_naming_why(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    traffic(sandbox.url, ok=5)
    assert params.logs is not None
    logs = params.logs.model_copy(
        update={
            "queries": params.logs.queries.model_copy(
                update={"exceptions_by_type": "AppExceptions | summarize count() by ExceptionType"}
            )
        }
    )
    custom = params.model_copy(update={"logs": logs})
    result = _by_id(log_checks(custom, azure).results)["monitor.logs.exceptions"]
    assert result.status is Status.INCONCLUSIVE
    assert "UnsupportedQuery" in result.explanation or "not a KQL engine" in result.explanation


def test_alert_rules_pass_with_the_default_seed(
    standin: StandinHandle, azure: AzureParams, params: MonitorParams
) -> None:
    results = alert_rule_checks(params, azure)
    assert len(results) == 7
    assert {r.status for r in results} == {Status.PASS}
    json.dumps([r.to_payload() for r in results])
    critical = _by_id(results)["monitor.alert-rule.memory-critical"]
    assert critical.observed == ["memory-above-90pct"]  # the Sev 2 80 % rule is not critical


def test_a_removed_weakened_or_disabled_alert_rule_is_named(
    standin: StandinHandle, azure: AzureParams, params: MonitorParams
) -> None:
    rules = _monitor(standin, "GET", "")["alert_rules"]
    kept = [r for r in rules if r["name"] != "cpu-above-80pct"]
    for rule in kept:
        if rule["name"] == "memory-above-90pct":
            rule["threshold"] = 95
        if rule["name"] == "availability-below-99pct":
            rule["enabled"] = False
    _monitor(standin, "PUT", "/alert-rules", kept)

    results = _by_id(alert_rule_checks(params, azure))
    failed = {k for k, r in results.items() if r.status is Status.FAIL}
    assert failed == {
        "monitor.alert-rule.cpu-warning",
        "monitor.alert-rule.memory-critical",
        "monitor.alert-rule.availability",
    }
    assert "missing" in results["monitor.alert-rule.cpu-warning"].explanation
    memory = results["monitor.alert-rule.memory-critical"].explanation
    assert "'memory-above-90pct' fires only above 95" in memory
    assert "'availability-below-99pct' is disabled" in (
        results["monitor.alert-rule.availability"].explanation
    )


def test_connections_the_app_reset_count_as_5xx_like_app_services_front_end_502(
    standin: StandinHandle, sandbox: SandboxHandle, azure: AzureParams, params: MonitorParams
) -> None:
    import httpx

    sandbox.set_faults(reset_routes=[f"GET {FAILING}"])
    traffic(sandbox.url, ok=45)
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        for _ in range(5):
            with pytest.raises(httpx.TransportError):
                client.get(FAILING)
    result = _by_id(metric_checks(params, azure).results)["monitor.metrics.error-rate"]
    assert result.status is Status.FAIL
    assert result.observed["http5xx"] == 5 and result.observed["requests"] == 50
