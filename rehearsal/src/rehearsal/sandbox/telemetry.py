"""What the sandbox would send to Application Insights: the custom metrics of the work it does
and its background worker's traces and exceptions, kept in a bounded log the Azure stand-in
reads (`GET /_sandbox/telemetry`) to answer the Logs queries over `AppMetrics`, `AppTraces`
and `AppExceptions`. Nothing is invented here: an entry is written when the sandbox acts."""

from __future__ import annotations

import itertools
from collections import deque
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

# Application Insights SeverityLevel
VERBOSE, INFORMATION, WARNING, ERROR, CRITICAL = range(5)


class TelemetryRecord(BaseModel):
    """One telemetry item: a custom metric value, a trace or an exception of one cloud role."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    ts: str
    kind: Literal["metric", "trace", "exception"]
    role: str
    name: str = ""  # metric name
    value: float = 0.0  # metric value
    severity: int = INFORMATION  # traces and exceptions
    message: str = ""
    exception_type: str = ""
    operation: str = ""


class TelemetryLog:
    """Bounded log of the latest telemetry items, numbered from 1 for the life of the process."""

    def __init__(self, size: int) -> None:
        self._entries: deque[TelemetryRecord] = deque(maxlen=size)
        self._seq = itertools.count(1)

    def _add(self, **fields: Any) -> None:
        self._entries.append(
            TelemetryRecord(
                seq=next(self._seq),
                ts=datetime.now(UTC).isoformat(timespec="milliseconds"),
                **fields,
            )
        )

    def metric(self, role: str, name: str, value: float = 1.0) -> None:
        """Record one custom metric value (trackMetric)."""
        self._add(kind="metric", role=role, name=name, value=value)

    def trace(
        self, role: str, message: str, severity: int = INFORMATION, operation: str = ""
    ) -> None:
        """Record one trace (a log record the telemetry exporter sends)."""
        self._add(kind="trace", role=role, message=message, severity=severity, operation=operation)

    def exception(self, role: str, exception_type: str, message: str, operation: str = "") -> None:
        """Record one exception (severity Error)."""
        self._add(
            kind="exception",
            role=role,
            exception_type=exception_type,
            message=message,
            severity=ERROR,
            operation=operation,
        )

    def since(self, seq: int = 0) -> list[TelemetryRecord]:
        """Records numbered above seq, oldest first."""
        return [r for r in self._entries if r.seq > seq]

    def clear(self) -> None:
        """Forget every record (numbering continues)."""
        self._entries.clear()
