"""The monitor phase where a source is not there: no App Service (development) is SKIP with
the reason; an App Service without an Application Insights workspace is INCONCLUSIVE (the
box "No errors in application logs" cannot be proved); nothing crashes on the empty data."""

from __future__ import annotations

from pathlib import Path

from runbook.core.checks import Status
from runbook.phases.monitoring.alerts import alert_rule_checks
from runbook.phases.monitoring.logs import log_checks
from runbook.phases.monitoring.metrics import metric_checks
from runbook.phases.monitoring.params import MonitorParams
from runbook.providers.azure.params import AzureParams


def test_without_azure_every_monitor_source_is_skipped_with_its_reason(tmp_path: Path) -> None:
    params = MonitorParams()
    metrics = metric_checks(params, None)
    logs = log_checks(params, None)
    alerts = alert_rule_checks(params, None)
    results = [*metrics.results, *logs.results, *alerts]
    assert [r.status for r in results] == [Status.SKIP] * 3
    assert all("no Azure App Service" in r.explanation for r in results)
    assert metrics.figures() == {} and logs.figures() == {}
    written = metrics.save(tmp_path) + logs.save(tmp_path)
    assert all(p.is_file() for p in written)


def test_azure_without_a_logs_workspace_is_inconclusive() -> None:
    azure = AzureParams(subscription_id="s", resource_group="rg", site="app")
    [result] = log_checks(MonitorParams(), azure).results
    assert result.status is Status.INCONCLUSIVE
    assert "monitor.logs.workspace_id" in result.explanation
