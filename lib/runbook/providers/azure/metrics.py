"""One Azure Monitor metric read through the SDK: its points, or why there are none (an SDK
failure, no series, or the service's own errorCode). Never raises: callers fail closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from azure.mgmt.monitor import MonitorManagementClient

from runbook.providers.azure.errors import describe_azure_error

ReadKind = Literal["ok", "error", "no-series", "source-error"]


@dataclass
class MetricRead:
    """`points`: (UTC time, value or None) of every series (instance) of the metric."""

    kind: ReadKind
    problem: str | None = None
    failure: dict[str, Any] | None = None
    points: list[tuple[datetime, float | None]] = field(default_factory=list)


def read_metric(
    client: MonitorManagementClient,
    resource_uri: str,
    name: str,
    aggregation: str,
    *,
    timespan: str,
    interval: str,
) -> MetricRead:
    """The metric `name` of `resource_uri` with `aggregation` over `timespan` per `interval`."""
    try:
        response = client.metrics.list(
            resource_uri,
            timespan=timespan,
            interval=interval,
            metricnames=name,
            aggregation=aggregation,
        )
    except Exception as exc:  # noqa: BLE001 -- fail closed: any SDK failure is recorded
        failure = describe_azure_error(exc)
        return MetricRead("error", f"{failure.reason}: {failure.message}", failure.model_dump())
    metric = next(
        (m for m in response.value or [] if (m.name.value or "").lower() == name.lower()), None
    )
    if metric is None:
        return MetricRead("no-series", "the answer holds no series for this metric")
    if metric.error_code and metric.error_code.lower() != "success":
        message = f"errorCode {metric.error_code}: {metric.error_message or ''}".strip()
        return MetricRead("source-error", message)
    attr = aggregation.lower()
    points: list[tuple[datetime, float | None]] = []
    for series in metric.timeseries or []:
        for point in series.data or []:
            value = getattr(point, attr, None)
            points.append(
                (point.time_stamp.astimezone(UTC), None if value is None else float(value))
            )
    return MetricRead("ok", points=points)
