"""Check results: the one structured record every check produces.

A `CheckResult` is shown to a person (an HTML / text row) and emitted as a versioned
JSON MIME bundle, so the orchestrator can read results back from an executed notebook.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runbook.core.masking import mask_data

CHECK_MIME = "application/vnd.pixcrawler.check+json"
CHECK_SCHEMA_VERSION = 1


class Status(StrEnum):
    """Outcome of one check. Only PASS proves the box; the verdict looks at everything else."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"  # the check itself could not run or could not reach its target
    INCONCLUSIVE = "inconclusive"  # a data source gave no usable data: never a pass
    PENDING_SIGN_OFF = "pending-sign-off"


class Severity(StrEnum):
    BLOCKER = "blocker"
    WARNING = "warning"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class CheckResult(BaseModel):
    """One checklist box, proven (or not) by a check or a sign-off."""

    model_config = ConfigDict(use_enum_values=False)

    id: str = Field(description="stable id, e.g. 'smoke.health'")
    section: str = Field(description="the checklist section this proves")
    title: str
    severity: Severity = Severity.BLOCKER
    status: Status
    observed: Any = None
    threshold: Any = None
    explanation: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)
    phase: str | None = None
    recorded_at: str = Field(default_factory=_now)

    @field_validator("title", "observed", "threshold", "explanation", "evidence")
    @classmethod
    def _masked(cls, value: Any) -> Any:
        """Secrets masked at capture: a resolved secret value never enters a result."""
        return mask_data(value)

    # -- machine-readable -------------------------------------------------------------
    def to_payload(self) -> dict[str, Any]:
        """The JSON stored in the notebook under CHECK_MIME."""
        data = mask_data(self.model_dump(mode="json"))  # also what model_copy put in
        data["schema_version"] = CHECK_SCHEMA_VERSION
        return dict(data)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> CheckResult:
        """Parse a CHECK_MIME payload; refuses a schema version it does not know."""
        version = payload.get("schema_version")
        if version != CHECK_SCHEMA_VERSION:
            raise ValueError(f"unsupported check schema_version {version!r}")
        data = {k: v for k, v in payload.items() if k != "schema_version"}
        return cls.model_validate(data)

    # -- human-readable ---------------------------------------------------------------
    def summary_line(self) -> str:
        obs = "" if self.observed is None else f" observed={_short(self.observed)}"
        thr = "" if self.threshold is None else f" threshold={_short(self.threshold)}"
        return (
            f"[{self.status.value.upper()}] {self.id} ({self.severity.value}) {self.title}"
            f"{obs}{thr} — {self.explanation}"
        )

    def to_html(self) -> str:
        colour = STATUS_COLOURS.get(self.status, "#555")
        e = html.escape
        return (
            f'<div class="rb-check" id="check-{e(self.id)}" '
            f'style="border-left:6px solid {colour};padding:4px 10px;margin:4px 0;'
            f'font-family:sans-serif;font-size:13px">'
            f'<b style="color:{colour}">{e(self.status.value.upper())}</b> '
            f"<code>{e(self.id)}</code> <i>({e(self.severity.value)})</i> {e(self.title)}<br>"
            f'<span style="color:#555">{e(self.section)}</span><br>'
            f"observed: <code>{e(_short(self.observed))}</code> &nbsp; "
            f"threshold: <code>{e(_short(self.threshold))}</code><br>"
            f"{e(self.explanation)}</div>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return dict(
            mask_data(
                {
                    "text/plain": self.summary_line(),
                    "text/html": self.to_html(),
                    CHECK_MIME: self.to_payload(),
                }
            )
        )


STATUS_COLOURS = {
    Status.PASS: "#1a7f37",
    Status.FAIL: "#cf222e",
    Status.ERROR: "#cf222e",
    Status.WARN: "#bf8700",
    Status.INCONCLUSIVE: "#8250df",
    Status.PENDING_SIGN_OFF: "#8250df",
    Status.SKIP: "#6e7781",
}


def _short(value: Any, limit: int = 160) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
