"""Smoke tests (checklist "Deployment Steps §1.2 Smoke Tests"): configured HTTP steps.

Each step is one request with its expected status and JSON; steps can capture values
(ids) for later steps' paths and register a cleanup request, run in reverse order at
the end so test data never stays behind. Every route, method and status is a parameter.
"""

from __future__ import annotations

import re
import string
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.checks import CheckResult, Severity, Status
from runbook.probes.http import Exchange, exchange
from runbook.secrets import SecretUnavailable, resolve
from runbook.target import TargetParams

SMOKE_SECTION = "Deployment Steps §1.2 Smoke Tests"
_PATH = re.compile(r"^/[^\s]*$")


class RequestSpec(BaseModel):
    """One request against the target; `path` may use {name} captured by earlier steps."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    path: str
    auth: bool = Field(True, description="send the target's bearer token")
    json_body: Any = Field(None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path_shape(cls, value: str) -> str:
        if not _PATH.match(value):
            raise ValueError("must start with '/' and contain no whitespace or newlines")
        return value

    @field_validator("headers")
    @classmethod
    def _header_values(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            if any(c in name + item for c in "\r\n\0"):
                raise ValueError(f"header {name!r} contains a newline or NUL")
        return value

    def placeholders(self) -> set[str]:
        """Names this request takes from earlier captures ({name} in its path or JSON body)."""
        return {f for text in [self.path, *_strings(self.json_body)]
                for _, f, _, _ in string.Formatter().parse(text) if f}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


_WHOLE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def fill(value: Any, captures: dict[str, Any]) -> Any:
    """Substitute captured values: a string that is exactly '{name}' takes the captured value
    with its type; other strings are formatted. A missing name raises KeyError."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        return captures[whole.group(1)] if whole else value.format_map(captures)
    if isinstance(value, dict):
        return {k: fill(v, captures) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, captures) for v in value]
    return value


class SmokeStep(RequestSpec):
    """A smoke-test step: request, expectations, captures and cleanup."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    section: str = SMOKE_SECTION
    severity: Severity = Severity.BLOCKER
    expect_status: list[int]
    expect_json: dict[str, Any] = Field(
        default_factory=dict, description="dotted path -> expected value, e.g. status: healthy"
    )
    expect_keys: list[str] = Field(default_factory=list, description="dotted paths that must exist")
    capture: dict[str, str] = Field(
        default_factory=dict, description="name -> dotted path in the response JSON"
    )
    cleanup: RequestSpec | None = None

    @field_validator("expect_status", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) else value

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        if not value or any(not 100 <= s <= 599 for s in value):
            raise ValueError("must be one or more HTTP status codes between 100 and 599")
        return value


class SmokeParams(BaseModel):
    """The smoke-test phase: its steps, run in order."""

    model_config = ConfigDict(extra="forbid")

    steps: list[SmokeStep]

    @model_validator(mode="after")
    def _consistent(self) -> SmokeParams:
        seen: set[str] = set()
        captured: set[str] = set()
        for i, step in enumerate(self.steps):
            if step.id in seen:
                raise ValueError(f"steps.{i}: duplicate id {step.id!r}")
            seen.add(step.id)
            unknown = step.placeholders() - captured
            if unknown:
                raise ValueError(
                    f"steps.{i} ({step.id}): uses {sorted(unknown)} which no earlier step "
                    "captures"
                )
            captured |= set(step.capture)
            unknown = (step.cleanup.placeholders() if step.cleanup else set()) - captured
            if unknown:
                raise ValueError(f"steps.{i} ({step.id}): its cleanup uses {sorted(unknown)} "
                                 "which no earlier step captures")
        return self


_MISSING = object()


def lookup(data: Any, dotted: str) -> Any:
    """Follow a dotted path ('error.status_code', 'items.0.id') into JSON; _MISSING if absent."""
    current = data
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


class SmokeSession:
    """Runs configured steps against one target, keeping captures and pending cleanups."""

    def __init__(self, params: SmokeParams, target: TargetParams, phase: str = "verify"):
        self.params = params
        self.target = target
        self.phase = phase
        self.captures: dict[str, Any] = {}
        self.done: set[str] = set()
        self._cleanups: list[tuple[str, RequestSpec]] = []
        self._client = httpx.Client(
            timeout=target.timeout_s, verify=target.verify_tls, follow_redirects=False
        )

    # -- public ---------------------------------------------------------------------
    def step(self, step_id: str) -> CheckResult:
        """Run the configured step `step_id` and return its result."""
        step = next((s for s in self.params.steps if s.id == step_id), None)
        if step is None:
            return CheckResult(
                id=step_id, section=SMOKE_SECTION, title=step_id, status=Status.ERROR,
                phase=self.phase,
                explanation=f"no smoke step with id {step_id!r} is configured in the parameters",
            )
        self.done.add(step_id)
        return self._run(step)

    def remaining(self) -> list[CheckResult]:
        """Run every configured step no cell has run yet, in order."""
        return [self.step(s.id) for s in self.params.steps if s.id not in self.done]

    def cleanup(self) -> CheckResult:
        """Undo what the steps created (reverse order); a failed cleanup is a finding."""
        failures, records = [], []
        while self._cleanups:
            step_id, spec = self._cleanups.pop()
            ex, error = self._send(spec)
            records.append(ex.evidence() if ex else {"error": error})
            if error or ex is None or ex.status is None or (ex.status >= 400 and ex.status != 404):
                failures.append(f"{step_id}: {error or (ex.error if ex else '') or ex.status}")
        status = Status.FAIL if failures else Status.PASS
        return CheckResult(
            id="smoke.cleanup", section=SMOKE_SECTION, title="Test data created by the smoke "
            "tests is removed", severity=Severity.WARNING, status=status, phase=self.phase,
            observed={"cleaned": len(records), "failed": len(failures)}, threshold={"failed": 0},
            explanation="; ".join(failures) if failures else f"{len(records)} cleanup request(s)"
            " succeeded",
            evidence={"requests": records},
        )

    def close(self) -> None:
        self._client.close()

    # -- internals ------------------------------------------------------------------
    def _send(self, spec: RequestSpec) -> tuple[Exchange | None, str | None]:
        headers = dict(self.target.headers) | dict(spec.headers)
        if spec.auth:
            try:
                headers["Authorization"] = f"Bearer {resolve(self.target.token)}"
            except SecretUnavailable as exc:
                return None, str(exc)
        try:
            path = fill(spec.path, self.captures)
            body = fill(spec.json_body, self.captures)
        except KeyError as exc:
            return None, f"needs {exc.args[0]!r}, which an earlier step did not capture"
        url = self.target.base_url.rstrip("/") + path
        return exchange(self._client, spec.method, url, headers=headers, json_body=body), None

    def _run(self, step: SmokeStep) -> CheckResult:
        def result(status: Status, explanation: str, observed: Any = None,
                   ex: Exchange | None = None) -> CheckResult:
            return CheckResult(
                id=step.id, section=step.section, title=step.title, severity=step.severity,
                status=status, phase=self.phase, observed=observed,
                threshold={"status": step.expect_status, **({"json": step.expect_json}
                                                            if step.expect_json else {})},
                explanation=explanation,
                evidence={"exchange": ex.evidence() if ex else None,
                          "captured": sorted(step.capture)},
            )

        ex, error = self._send(step)
        if ex is None:
            return result(Status.ERROR, f"{step.method} {step.path} not sent: {error}")
        observed: dict[str, Any] = {"status": ex.status, "elapsed_ms": round(ex.elapsed_ms or 0, 1)}
        if not ex.ok:
            return result(Status.ERROR, f"{step.method} {ex.url}: {ex.error}", observed, ex)
        if ex.status not in step.expect_status:
            detail = lookup(ex.json, "error.message") if ex.json is not None else _MISSING
            why = f" ({detail})" if detail is not _MISSING else ""
            return result(Status.FAIL, f"{step.method} {step.path} answered {ex.status}{why}, "
                          f"expected {' or '.join(map(str, step.expect_status))}", observed, ex)
        problems = []
        for key, expected in step.expect_json.items():
            got = lookup(ex.json, key)
            if got is _MISSING:
                problems.append(f"'{key}' missing")
            elif got != expected:
                problems.append(f"'{key}' is {got!r}, expected {expected!r}")
        for key in [*step.expect_keys, *step.capture.values()]:
            if lookup(ex.json, key) is _MISSING:
                problems.append(f"'{key}' missing from the response")
        if problems:
            return result(Status.FAIL, f"{step.method} {step.path}: " + "; ".join(problems),
                          observed, ex)
        for name, key in step.capture.items():
            self.captures[name] = lookup(ex.json, key)
        if step.cleanup is not None:
            self._cleanups.append((step.id, step.cleanup))
        return result(Status.PASS, f"{step.method} {step.path} answered {ex.status} as expected",
                      observed, ex)
