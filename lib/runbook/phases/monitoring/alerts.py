"""Metric alert rules configured (Monitoring §1, §5): the rules of the resource group against the
required ones. A required rule that is missing, weaker (a '>' rule with a higher threshold, a
'<' rule with a lower one, or ANDed with other conditions) or disabled is a finding, named."""

from __future__ import annotations

from typing import Any

from azure.mgmt.monitor import MonitorManagementClient

from runbook.core.checks import CheckResult, Status
from runbook.phases.monitoring.clients import monitor_client
from runbook.phases.monitoring.params import MonitorParams, RequiredAlertRule
from runbook.providers.azure.errors import describe_azure_error, failure_is_blind
from runbook.providers.azure.params import AzureParams

_DIRECTION = {
    "GreaterThan": ">", "GreaterThanOrEqual": ">", "LessThan": "<", "LessThanOrEqual": "<",
}  # fmt: skip


def describe_rules(rules: list[Any]) -> list[dict[str, Any]]:
    """Flatten SDK MetricAlertResource objects to JSON-able criteria rows (one per criterion)."""
    out = []
    for rule in rules:
        criteria = getattr(rule.criteria, "all_of", None) or []
        for criterion in criteria:
            out.append({
                "rule": rule.name,
                "enabled": bool(rule.enabled),
                "severity": rule.severity,
                "scopes": list(rule.scopes or []),
                "metric_name": getattr(criterion, "metric_name", None),
                "operator": getattr(criterion, "operator", None),
                "threshold": getattr(criterion, "threshold", None),
                "time_aggregation": getattr(criterion, "time_aggregation", None),
                "criterion_type": getattr(criterion, "criterion_type", None),
                "conditions_in_rule": len(criteria),
            })  # fmt: skip
        if not criteria:
            out.append(
                {
                    "rule": rule.name,
                    "enabled": bool(rule.enabled),
                    "severity": rule.severity,
                    "scopes": list(rule.scopes or []),
                    "metric_name": None,
                    "operator": None,
                    "threshold": None,
                    "criterion_type": type(rule.criteria).__name__,
                    "conditions_in_rule": 0,
                }
            )
    return out


def _weakness(required: RequiredAlertRule, row: dict[str, Any]) -> str | None:
    """Why a matching criterion does not meet the requirement (None: it does)."""
    threshold = row["threshold"]
    if threshold is None:
        return f"rule {row['rule']!r} has no static threshold ({row['criterion_type']})"
    if required.operator.startswith(">") and threshold > required.threshold:
        return (
            f"rule {row['rule']!r} fires only above {threshold:g} {required.unit}, weaker than "
            f"{required.operator} {required.threshold:g}"
        )
    if required.operator.startswith("<") and threshold < required.threshold:
        return (
            f"rule {row['rule']!r} fires only below {threshold:g} {required.unit}, weaker "
            f"than {required.operator} {required.threshold:g}"
        )
    if required.time_aggregation and (row.get("time_aggregation") or "").lower() != (
        required.time_aggregation.lower()
    ):
        return (
            f"rule {row['rule']!r} aggregates {row.get('time_aggregation')}, not "
            f"{required.time_aggregation}"
        )
    limit = required.azure_severity_at_most
    if limit is not None and (row.get("severity") is None or row["severity"] > limit):
        return (
            f"rule {row['rule']!r} has Azure severity {row.get('severity')}, less urgent than "
            f"the required {limit} or lower"
        )
    if row["conditions_in_rule"] > 1:
        others = row["conditions_in_rule"] - 1
        return f"rule {row['rule']!r} ANDs this condition with {others} other(s)"
    if not row["enabled"]:
        return f"rule {row['rule']!r} is disabled"
    return None


def judge_alert_rules(
    rows: list[dict[str, Any]], params: MonitorParams, resource_group: str
) -> list[CheckResult]:
    """One result per required rule: PASS when an enabled rule at least as strict exists."""
    results = []
    for required in params.alert_rules:
        names = {n.lower() for n in required.metric_names}
        candidates = [
            r for r in rows
            if (r["metric_name"] or "").lower() in names
            and _DIRECTION.get(r["operator"] or "") == required.operator[0]
        ]  # fmt: skip
        findings = [(r, _weakness(required, r)) for r in candidates]
        good = [r for r, why in findings if why is None]
        threshold = {
            "metric": required.metric_names,
            "operator": required.operator,
            "threshold": required.threshold,
            "unit": required.unit,
            "enabled": True,
        }
        if good:
            status = Status.PASS
            best = good[0]
            explanation = (
                f"rule {best['rule']!r}: {best['metric_name']} {best['operator']} "
                f"{best['threshold']:g}, severity {best['severity']}, enabled"
            )
            observed: Any = [r["rule"] for r in good]
        elif findings:
            status = Status.FAIL
            explanation = "weaker or disabled: " + "; ".join(str(why) for _, why in findings)
            observed = [r["rule"] for r in candidates]
        else:
            status = Status.FAIL
            explanation = (
                f"missing: no metric alert rule in resource group {resource_group!r} "
                f"on {' / '.join(required.metric_names)} {required.operator} "
                f"{required.threshold:g} {required.unit}"
            )
            observed = None
        results.append(CheckResult(
            id=f"monitor.alert-rule.{required.id}", section=params.alert_section,
            title=required.title, severity=required.severity, status=status, observed=observed,
            threshold=threshold, explanation=explanation,
            evidence={"required": required.model_dump(mode="json"), "candidates": candidates,
                      "rules_in_resource_group": sorted({r["rule"] for r in rows})},
        ))  # fmt: skip
    return results


def alert_rule_checks(
    params: MonitorParams,
    azure: AzureParams | None,
    *,
    client: MonitorManagementClient | None = None,
) -> list[CheckResult]:
    """List the metric alert rules of azure.resource_group and compare with params.alert_rules
    (one SKIP without an App Service: there are no Azure alert rules to read)."""
    if azure is None:
        from runbook.phases.monitoring.absent import absent_source

        return [
            absent_source(
                "monitor.alert-rules",
                "Monitoring alerts configured",
                params,
                azure=False,
                section=params.alert_section,
            )
        ]
    try:
        client = client or monitor_client(azure)
        rules = list(client.metric_alerts.list_by_resource_group(azure.resource_group))
    except Exception as exc:  # noqa: BLE001 -- fail closed: any SDK failure is an ERROR
        failure = describe_azure_error(exc)
        return [
            CheckResult(
                id=f"monitor.alert-rule.{required.id}",
                section=params.alert_section,
                title=required.title,
                severity=required.severity,
                status=Status.INCONCLUSIVE if failure_is_blind(failure) else Status.ERROR,
                threshold={"operator": required.operator, "threshold": required.threshold},
                explanation=(
                    f"could not list the metric alert rules of {azure.resource_group!r} "
                    f"at {azure.arm_endpoint}: {failure.reason}: {failure.message}"
                ),
                evidence={"failure": failure.model_dump()},
            )
            for required in params.alert_rules
        ]
    return judge_alert_rules(describe_rules(rules), params, azure.resource_group)
