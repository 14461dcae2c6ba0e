"""Smoke tests (checklist "Deployment Steps §1.2 Smoke Tests"): configured HTTP steps.

Each step is one request with its expected status and JSON; steps can capture values
(ids) for later steps' paths and register a cleanup request, run in reverse order at
the end so test data never stays behind. Every route, method and status is a parameter.

Without a test user's token the steps that need it are INCONCLUSIVE (never FAIL), and so are
the steps that need what those would have captured, naming the step they depend on. The
routes the checklist names are probed without credentials: one it names but the app no longer
serves (404/405) is reported as checklist drift, naming the route to use.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.json_path import MISSING, lookup
from runbook.core.secret_refs import SecretRef, SecretUnavailable, resolve
from runbook.core.target import TargetParams
from runbook.phases.verify.unauth_sweep import UnauthSweepParams
from runbook.providers.http import Exchange, exchange, http_statuses

SMOKE_SECTION = "Deployment Steps §1.2 Smoke Tests"
DRIFT_ID = "smoke.checklist-drift"
_PATH = re.compile(r"^/[^\s]*$")
_ROUTE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /\S*$")


def missing_token(ref: SecretRef) -> str | None:
    """Why the test user's token cannot be used ('needs a test-user token: $X is not set'), or
    None when it resolves (the value is never returned or shown)."""
    try:
        resolve(ref)
    except SecretUnavailable:
        return f"needs a test-user token: {ref.describe()} is not set"
    return None


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
        return {
            f
            for text in [self.path, *_strings(self.json_body)]
            for _, f, _, _ in string.Formatter().parse(text)
            if f
        }


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


class ExchangeStep(RequestSpec):
    """A request with the statuses that mean success, values to capture and how to undo it
    (what smoke steps and integration steps share)."""

    expect_status: list[int] = Field(min_length=1)
    capture: dict[str, str] = Field(
        default_factory=dict, description="name -> dotted path in the response JSON"
    )
    cleanup: RequestSpec | None = Field(None, description="the request that removes what this made")

    @field_validator("expect_status", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) else value

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        return http_statuses(value)


class SmokeStep(ExchangeStep):
    """A smoke-test step: an exchange with an id, a title and what its answer must hold."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    section: str = SMOKE_SECTION
    severity: Severity = Severity.BLOCKER
    expect_json: dict[str, Any] = Field(
        default_factory=dict,
        description="dotted path -> expected value, e.g. status: healthy; "
        "a value may name what an earlier step captured (id: '{project_id}')",
    )
    expect_keys: list[str] = Field(default_factory=list, description="dotted paths that must exist")
    expect_content_type: str | None = Field(
        None, description="the answer's Content-Type must contain this, e.g. text/html"
    )
    expect_text: str | None = Field(
        None, description="the answer's body must contain this text, e.g. swagger-ui"
    )
    checklist_route: str | None = Field(
        None,
        description="the route as the checklist names it when the app's differs, e.g. "
        "'POST /api/v1/jobs/': probed without credentials, 404/405 is reported as drift",
    )

    @field_validator("checklist_route")
    @classmethod
    def _route(cls, value: str | None) -> str | None:
        if value is not None and not _ROUTE.match(value):
            raise ValueError("must be 'METHOD /path', e.g. 'POST /api/v1/jobs/'")
        return value

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    def placeholders(self) -> set[str]:
        """Names this step takes from earlier captures: its request's and its expectations'."""
        return super().placeholders() | {
            f
            for text in _strings(self.expect_json)
            for _, f, _, _ in string.Formatter().parse(text)
            if f
        }


class ChecklistDriftParams(BaseModel):
    """Probing the routes the checklist names, without credentials."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    gone_status: list[int] = Field(
        default_factory=lambda: [404, 405],
        min_length=1,
        description="answers meaning the app no longer serves the route",
    )
    own_routes: bool = Field(
        default=True, description="also probe the steps' own routes (those without placeholders)"
    )


class SmokeParams(BaseModel):
    """The smoke-test phase: its steps, run in order, the unauthenticated sweep and the
    checklist-drift probe."""

    model_config = ConfigDict(extra="forbid")

    steps: list[SmokeStep] = Field(default_factory=list)
    unauthenticated: UnauthSweepParams = Field(default_factory=lambda: UnauthSweepParams())
    checklist_drift: ChecklistDriftParams = Field(default_factory=lambda: ChecklistDriftParams())

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
                    f"steps.{i} ({step.id}): uses {sorted(unknown)} which no earlier step captures"
                )
            captured |= set(step.capture)
            unknown = (step.cleanup.placeholders() if step.cleanup else set()) - captured
            if unknown:
                raise ValueError(
                    f"steps.{i} ({step.id}): its cleanup uses {sorted(unknown)} "
                    "which no earlier step captures"
                )
        return self

    def unknown_ids(self, ids: list[str]) -> list[str]:
        """The ids among `ids` that name no configured step."""
        known = {s.id for s in self.steps}
        return [i for i in ids if i not in known]

    def producer(self, name: str) -> SmokeStep | None:
        """The first step that captures `name`."""
        return next((s for s in self.steps if name in s.capture), None)


class SmokeSession:
    """Runs configured steps against one target, keeping captures and pending cleanups."""

    def __init__(self, params: SmokeParams, target: TargetParams, phase: str = "verify"):
        self.params = params
        self.target = target
        self.phase = phase
        self.captures: dict[str, Any] = {}
        self.done: set[str] = set()
        self.outcomes: dict[str, CheckResult] = {}
        self._why_not: dict[str, str] = {}  # step id -> the root reason it could not look
        self._cleanups: list[tuple[str, RequestSpec]] = []
        self._client = httpx.Client(
            timeout=target.timeout_s, verify=target.verify_tls, follow_redirects=False
        )

    # -- public ---------------------------------------------------------------------
    def step(self, step_id: str) -> CheckResult:
        """Run the configured step `step_id` and return its result."""
        step = next((s for s in self.params.steps if s.id == step_id), None)
        if step is None:
            known = ", ".join(s.id for s in self.params.steps) or "none"
            return CheckResult(
                id=step_id,
                section=SMOKE_SECTION,
                title=step_id,
                status=Status.ERROR,
                phase=self.phase,
                explanation=f"no smoke step with id {step_id!r} is configured in the parameters "
                f"(verify.steps has: {known})",
            )
        self.done.add(step_id)
        result = self._run(step)
        self.outcomes[step_id] = result
        return result

    def remaining(self) -> list[CheckResult]:
        """Run every configured step no cell has run yet, in order."""
        return [self.step(s.id) for s in self.params.steps if s.id not in self.done]

    def plan(self) -> Any:
        """The configured steps as a table (a one-row note when none is configured)."""
        import pandas as pd

        rows = [
            {
                "step": s.id,
                "checklist box": s.title,
                "request": s.route,
                "token": "yes" if s.auth else "no",
                "expects": " or ".join(map(str, s.expect_status)),
                "checklist route": s.checklist_route or "",
            }
            for s in self.params.steps
        ]
        if not rows:
            return pd.DataFrame(
                {
                    "step": ["(none)"],
                    "checklist box": ["no smoke step is configured (verify.steps)"],
                }
            )
        return pd.DataFrame(rows)

    def run_all(self) -> Iterator[CheckResult]:
        """Every configured step not run yet, in the parameters' order, each yielded as soon as
        it is judged (a cell that dies midway keeps the results it already showed)."""
        for spec in self.params.steps:
            if spec.id not in self.done:
                yield self.step(spec.id)

    def cleanup(self) -> CheckResult:
        """Undo what the steps created (reverse order); a failed cleanup is a finding."""
        title = "Test data created by the smoke tests is removed"
        if not self._cleanups:
            return CheckResult(
                id="smoke.cleanup",
                section=SMOKE_SECTION,
                title=title,
                severity=Severity.WARNING,
                status=Status.SKIP,
                phase=self.phase,
                observed={"cleaned": 0, "failed": 0},
                threshold={"failed": 0},
                explanation="nothing to clean up: no step created test data",
            )
        failures, records = [], []
        while self._cleanups:
            step_id, spec = self._cleanups.pop()
            ex, error = self._send(spec)
            records.append(ex.evidence() if ex else {"error": error})
            if error or ex is None or ex.status is None or (ex.status >= 400 and ex.status != 404):
                why = error or (ex.error if ex else None) or (ex.status if ex else None)
                failures.append(f"{step_id}: {why}")
        status = Status.FAIL if failures else Status.PASS
        return CheckResult(
            id="smoke.cleanup",
            section=SMOKE_SECTION,
            title=title,
            severity=Severity.WARNING,
            status=status,
            phase=self.phase,
            observed={"cleaned": len(records), "failed": len(failures)},
            threshold={"failed": 0},
            explanation="; ".join(failures)
            if failures
            else f"{len(records)} cleanup request(s) succeeded",
            evidence={"requests": records},
        )

    def checklist_drift(self) -> CheckResult:
        """Probe the routes the checklist names without credentials: a route the app no longer
        serves (404/405) is a WARN naming the route to use (the step's own)."""
        p = self.params.checklist_drift
        title = "The routes the checklist names are still served (else: the route to use)"
        common: dict[str, Any] = {
            "id": DRIFT_ID,
            "section": SMOKE_SECTION,
            "title": title,
            "severity": Severity.WARNING,
            "phase": self.phase,
            "threshold": {"not": p.gone_status},
        }
        if not p.enabled:
            return CheckResult(
                **common,
                status=Status.SKIP,
                explanation="off (verify.checklist_drift.enabled: false)",
            )
        probes = self._drift_probes(p.own_routes)
        if not probes:
            return CheckResult(
                **common, status=Status.SKIP, explanation="no step names a checklist route to probe"
            )
        observed: dict[str, Any] = {}
        records, drifted, unknown = [], [], []
        for route, step in probes.items():
            method, path = route.split(" ", 1)
            ex = exchange(
                self._client,
                method,
                self.target.base_url.rstrip("/") + path,
                headers=dict(self.target.headers),
                json_body={} if method in ("POST", "PUT", "PATCH") else None,
            )
            observed[route] = ex.status if ex.ok else "no answer"
            records.append({"route": route, "step": step.id, **ex.evidence()})
            if not ex.ok:
                unknown.append(f"{route}: {ex.error}")
            elif ex.status in p.gone_status:
                use = (
                    f"the route to use is {step.route} (step {step.id})"
                    if route != step.route
                    else f"no other route is configured (step {step.id}: give it the route the "
                    "app serves)"
                )
                drifted.append(f"checklist drift: {route} answers {ex.status}; {use}")
        if drifted:
            status, why = Status.WARN, "; ".join(drifted)
        elif unknown:
            status, why = Status.INCONCLUSIVE, "no answer from " + "; ".join(unknown)
        else:
            status, why = (
                Status.PASS,
                (
                    f"all {len(probes)} route(s) the checklist names are "
                    "served (none answers " + "/".join(map(str, p.gone_status)) + ")"
                ),
            )
        return CheckResult(
            **common,
            status=status,
            observed=observed,
            explanation=why,
            evidence={"probes": records},
        )

    def close(self) -> None:
        self._client.close()

    # -- internals ------------------------------------------------------------------
    def _drift_probes(self, own_routes: bool) -> dict[str, SmokeStep]:
        """Route the checklist names -> the step that covers it."""
        probes: dict[str, SmokeStep] = {}
        for step in self.params.steps:
            if step.checklist_route:
                probes.setdefault(step.checklist_route, step)
            elif own_routes and "{" not in step.path and step.method not in ("HEAD", "OPTIONS"):
                probes.setdefault(step.route, step)
        return probes

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

    def _unmet(self, step: SmokeStep) -> tuple[Status, str] | None:
        """Why a step cannot be sent because a capture it needs is missing, naming the step
        that should have made it; INCONCLUSIVE when that step could not look either."""
        for name in sorted(step.placeholders() - set(self.captures)):
            producer = self.params.producer(name)
            done = self.outcomes.get(producer.id) if producer else None
            if producer is None:
                return Status.ERROR, f"needs {name!r}, which no step captures"
            if done is None:
                return Status.ERROR, (f"needs {name!r} from {producer.id}, which has not run yet")
            if done.status in (Status.INCONCLUSIVE, Status.SKIP):
                root = self._why_not.get(producer.id, done.explanation)
                self._why_not[step.id] = root
                return Status.INCONCLUSIVE, (
                    f"needs {name!r} from {producer.id}, which was {done.status.value} ({root})"
                )
            return Status.ERROR, (
                f"needs {name!r} from {producer.id}, which did not capture it ({done.status.value})"
            )
        return None

    def _run(self, step: SmokeStep) -> CheckResult:
        def result(
            status: Status, explanation: str, observed: Any = None, ex: Exchange | None = None
        ) -> CheckResult:
            return CheckResult(
                id=step.id,
                section=step.section,
                title=step.title,
                severity=step.severity,
                status=status,
                phase=self.phase,
                observed=observed,
                threshold={
                    "status": step.expect_status,
                    **({"json": step.expect_json} if step.expect_json else {}),
                    **(
                        {"content_type": step.expect_content_type}
                        if step.expect_content_type
                        else {}
                    ),
                    **({"text": step.expect_text} if step.expect_text else {}),
                },
                explanation=explanation,
                evidence={
                    "exchange": ex.evidence() if ex else None,
                    "captured": sorted(step.capture),
                },
            )

        unmet = self._unmet(step)
        if unmet is not None:
            return result(unmet[0], f"{step.method} {step.path} not sent: {unmet[1]}")
        no_token = missing_token(self.target.token) if step.auth else None
        if no_token:
            self._why_not[step.id] = no_token
            return result(Status.INCONCLUSIVE, f"{step.method} {step.path} not sent: {no_token}")
        ex, error = self._send(step)
        if ex is None:
            return result(Status.ERROR, f"{step.method} {step.path} not sent: {error}")
        observed: dict[str, Any] = {"status": ex.status, "elapsed_ms": round(ex.elapsed_ms or 0, 1)}
        if not ex.ok:
            return result(Status.ERROR, f"{step.method} {ex.url}: {ex.error}", observed, ex)
        if ex.status not in step.expect_status:
            detail = lookup(ex.json, "error.message") if ex.json is not None else MISSING
            why = f" ({detail})" if detail is not MISSING else ""
            return result(
                Status.FAIL,
                f"{step.method} {step.path} answered {ex.status}{why}, "
                f"expected {' or '.join(map(str, step.expect_status))}",
                observed,
                ex,
            )
        problems = []
        for key, wanted in step.expect_json.items():
            expected = fill(wanted, self.captures)  # every name was captured (see _unmet)
            got = lookup(ex.json, key)
            if got is MISSING:
                problems.append(f"'{key}' missing")
            elif got != expected:
                problems.append(f"'{key}' is {got!r}, expected {expected!r}")
        for key in [*step.expect_keys, *step.capture.values()]:
            if lookup(ex.json, key) is MISSING:
                problems.append(f"'{key}' missing from the response")
        kind = next((v for k, v in ex.response_headers.items() if k.lower() == "content-type"), "")
        if step.expect_content_type and step.expect_content_type.lower() not in kind.lower():
            problems.append(
                f"Content-Type is {kind or '(none)'!r}, expected {step.expect_content_type!r}"
            )
        if step.expect_text and step.expect_text not in ex.body_text:
            problems.append(f"{step.expect_text!r} not in the body")
        if problems:
            return result(
                Status.FAIL, f"{step.method} {step.path}: " + "; ".join(problems), observed, ex
            )
        for name, key in step.capture.items():
            self.captures[name] = lookup(ex.json, key)
        if step.cleanup is not None:
            self._cleanups.append((step.id, step.cleanup))
        return result(
            Status.PASS, f"{step.method} {step.path} answered {ex.status} as expected", observed, ex
        )
