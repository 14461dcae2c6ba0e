"""Monitor phase (checklist "Deployment Steps" §1.3, §2.5, §3.3, §3.4, §3.5; "Monitoring and
Alerting" §1, §5): Azure Monitor metrics, Application Insights logs and metric alert rules over a
look-back window ending now, judged fail-closed, with the raw series kept for re-judging."""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "LogReport": "runbook.monitor.logs",
    "LogsParams": "runbook.monitor.params",
    "MetricReport": "runbook.monitor.metrics",
    "MonitorParams": "runbook.monitor.params",
    "RequiredAlertRule": "runbook.monitor.params",
    "AppLogParams": "runbook.monitor.params",
    "alert_rule_checks": "runbook.monitor.alerts",
    "app_log_check": "runbook.monitor.applogs",
    "log_checks": "runbook.monitor.logs",
    "metric_checks": "runbook.monitor.metrics",
    "parse_duration": "runbook.monitor.params",
    "schedule_entries": "runbook.monitor.schedule",
    "window_bounds": "runbook.monitor.clients",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
