"""Notifications: a run's verdict told to the team, in Microsoft Teams, Slack or any JSON webhook.

Parameters section `notify` names each webhook by a secret reference (a webhook URL is a
credential: whoever holds it can post), plus where reviewers open the report. At the end of a
run, as soon as its verdict is computed (before the report is rendered, so a ROLLBACK REQUIRED
goes out first), one message per configured channel is posted: environment, target, build,
verdict, the failing checks and the link to the report.

A notification never changes the verdict: its result `notify.sent` is a warning, and what
happened to every message (delivered, refused, unreachable, reference not set; never the URL)
is written to `notifications.json` in the run directory before the manifest, so it is hashed
with the rest of the evidence and `runbook verify` covers it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.secret_refs import SecretRef, SecretUnavailable, resolve, resolved_values
from runbook.core.verdict import BLOCKING, UNPROVEN, Verdict

CHECK_ID = "notify.sent"
RECORD_FILE = "notifications.json"
SECTION = (
    "Post-Deployment Tasks §2 Team Communication (Notify team of successful deployment); "
    "Deployment Steps §3.1 (Team notified of deployment); Rollback Steps §3 (Notify team)"
)
CHANNELS = ("teams", "slack", "webhook")
MAX_LISTED = 10  # failing checks named in a message; the rest are counted
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SCHEMA = "pixcrawler-runbook/notification/v1"
COLOURS = {  # Adaptive Card colours per verdict
    Verdict.GO: "Good",
    Verdict.INCOMPLETE: "Warning",
    Verdict.NO_GO: "Attention",
    Verdict.ROLLBACK_REQUIRED: "Attention",
}


class NotifyParams(BaseModel):
    """Parameters section `notify`: webhooks (secret references), the report link, when."""

    model_config = ConfigDict(extra="forbid")

    teams: SecretRef | None = Field(
        None, description="Microsoft Teams incoming webhook / Workflows URL (Adaptive Card)"
    )
    slack: SecretRef | None = Field(None, description="Slack incoming webhook URL (blocks)")
    webhook: SecretRef | None = Field(None, description="any endpoint taking a JSON POST")
    report_base_url: str | None = Field(
        None,
        description="where reviewers open the evidence: a URL with {environment}, {run_id}, "
        "{build_id} placeholders; ending in '/': <env>/<run_id>/report.html is appended; "
        "otherwise the link as given (e.g. the CI run holding the artifact); unset: the "
        "report's path on the machine that ran",
    )
    on: list[Verdict] = Field(
        default_factory=lambda: list(Verdict),
        min_length=1,
        description="the verdicts that are told (default: every verdict)",
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="per request")
    retries: int = Field(2, ge=0, le=5, description="again after a refused connection or 5xx/429")
    backoff_s: float = Field(1.0, ge=0, le=30, description="wait before retry n: n × backoff_s")

    @model_validator(mode="after")
    def _some_channel(self) -> NotifyParams:
        if not any(getattr(self, c) for c in CHANNELS):
            raise ValueError("notify needs at least one of teams, slack, webhook")
        return self

    def channels(self) -> list[tuple[str, SecretRef]]:
        """(channel, reference) for every configured channel, in a fixed order."""
        return [(c, ref) for c in CHANNELS if (ref := getattr(self, c)) is not None]


class FailingCheck(BaseModel):
    """A blocker that failed, errored or is unproven: what a message lists."""

    id: str
    status: str
    phase: str | None = None
    explanation: str = ""


class VerdictMessage(BaseModel):
    """What every channel says about one run."""

    environment: str
    target: str
    build_id: str | None
    run_id: str
    verdict: Verdict
    failing: list[FailingCheck] = Field(default_factory=list)
    report_url: str

    @property
    def title(self) -> str:
        build = f" build {self.build_id}" if self.build_id else ""
        return f"{self.verdict.value}: {self.environment}{build} ({self.target})"

    def listed(self) -> tuple[list[FailingCheck], int]:
        """The failing checks a message names, and how many more there are."""
        return self.failing[:MAX_LISTED], max(0, len(self.failing) - MAX_LISTED)


class Delivery(BaseModel):
    """What happened to one channel's message (never the URL: only its reference)."""

    channel: str
    reference: str
    status: str = Field(pattern=r"^(delivered|failed|not-set)$")
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    sent_at: str | None = None
    payload: dict[str, Any] | None = None


def failing_checks(results: Iterable[CheckResult]) -> list[FailingCheck]:
    """Blockers that failed or errored first, then those inconclusive or waiting for a sign-off."""
    results = [r for r in results if r.severity is Severity.BLOCKER]
    ordered = [r for r in results if r.status in BLOCKING] + [
        r for r in results if r.status in UNPROVEN
    ]
    return [
        FailingCheck(
            id=r.id, status=r.status.value, phase=r.phase, explanation=_short(r.explanation, 300)
        )
        for r in ordered
    ]


def report_url(settings: NotifyParams, environment: str, run_id: str, build_id: str | None,
               run_dir: Path) -> str:  # fmt: skip
    """The link a message carries (see `NotifyParams.report_base_url`)."""
    base = settings.report_base_url
    if not base:
        return (run_dir / "report.html").resolve().as_uri()
    if "{" in base:
        return base.format(environment=environment, run_id=run_id, build_id=build_id or "")
    if base.endswith("/"):
        return f"{base}{environment}/{run_id}/report.html"
    return base


# -- payloads ------------------------------------------------------------------------------------
def teams_payload(message: VerdictMessage) -> dict[str, Any]:
    """An incoming-webhook / Workflows message carrying one Adaptive Card."""
    listed, more = message.listed()
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.title,
            "weight": "Bolder",
            "size": "Large" if message.verdict is Verdict.ROLLBACK_REQUIRED else "Medium",
            "color": COLOURS[message.verdict],
            "wrap": True,
        },
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(message)]},
    ]
    if listed:
        body.append({"type": "TextBlock", "text": "Failing checks", "weight": "Bolder"})
        body += [
            {"type": "TextBlock", "text": f"{f.id} — {f.status}: {f.explanation}", "wrap": True}
            for f in listed
        ]
        if more:
            body.append({"type": "TextBlock", "text": f"… and {more} more", "isSubtle": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.report_url.startswith(("https://", "http://")):
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the report", "url": message.report_url}
        ]
    else:
        body.append({"type": "TextBlock", "text": f"Report: {message.report_url}", "wrap": True})
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def slack_payload(message: VerdictMessage) -> dict[str, Any]:
    """Blocks for an incoming webhook, with `text` as the fallback notifications show."""
    listed, more = message.listed()
    link = _slack_escape(message.report_url)
    fallback = f"{message.title} — report: {message.report_url}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _short(message.title, 150)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{k}*\n{_slack_escape(v)}"} for k, v in _facts(message)
            ],
        },
    ]
    if listed:
        lines = [
            f"• `{_slack_escape(f.id)}` {f.status}: {_slack_escape(f.explanation)}" for f in listed
        ] + ([f"… and {more} more"] if more else [])
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _short("*Failing checks*\n" + "\n".join(lines), 3000),
                },
            }
        )
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Report>"}})
    return {"text": fallback, "blocks": blocks}


def webhook_payload(message: VerdictMessage) -> dict[str, Any]:
    """Plain JSON for any receiver."""
    return {
        "schema": SCHEMA,
        "event": "verdict",
        "environment": message.environment,
        "target": message.target,
        "build_id": message.build_id,
        "run_id": message.run_id,
        "verdict": message.verdict.value,
        "rollback_required": message.verdict is Verdict.ROLLBACK_REQUIRED,
        "failing_checks": [f.model_dump() for f in message.failing],
        "report_url": message.report_url,
    }


PAYLOADS: dict[str, Callable[[VerdictMessage], dict[str, Any]]] = {
    "teams": teams_payload,
    "slack": slack_payload,
    "webhook": webhook_payload,
}


# -- delivery ------------------------------------------------------------------------------------
@dataclass
class Sender:
    """POSTs JSON with a timeout and a bounded number of retries (refused connections, 429, 5xx)."""

    timeout_s: float = 10.0
    retries: int = 2
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def post(self, url: str, payload: dict[str, Any]) -> tuple[int | None, int, str | None]:
        """(last HTTP status or None, attempts, error or None); an error text never holds `url`."""
        import httpx

        status: int | None = None
        error: str | None = None
        attempts = 0
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    self.sleep(self.backoff_s * attempt)
                attempts += 1
                try:
                    response = client.post(url, json=payload)
                except httpx.HTTPError as exc:
                    status, error = None, f"{type(exc).__name__}: {exc}"
                    continue
                status = response.status_code
                if 200 <= status < 300:
                    return status, attempts, None
                error = f"HTTP {status}: {_short(response.text, 200)}"
                if status not in RETRY_STATUSES:
                    break
        return status, attempts, error


def deliver(
    settings: NotifyParams,
    message: VerdictMessage,
    sender: Sender | None = None,
    secrets: Iterable[str] = (),
) -> list[Delivery]:
    """Post the message to every configured channel. `secrets` (the run's resolved values) are
    masked in every payload; a webhook URL never appears in what is returned."""
    sender = sender or Sender(settings.timeout_s, settings.retries, settings.backoff_s)
    masks = {value: "[masked]" for value in secrets if value}
    out = []
    for channel, ref in settings.channels():
        payload = _masked_payload(PAYLOADS[channel](message), masks)
        record = Delivery(channel=channel, reference=ref.describe(), status="not-set")
        try:
            url = resolve(ref)
        except SecretUnavailable as exc:
            out.append(record.model_copy(update={"error": str(exc), "payload": payload}))
            continue
        record.sent_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        status, attempts, error = sender.post(url, payload)
        out.append(
            record.model_copy(
                update={
                    "status": "delivered" if error is None else "failed",
                    "attempts": attempts,
                    "http_status": status,
                    "error": _mask(error, {url: ref.describe()}) if error else None,
                    "payload": payload,
                }
            )
        )
    return out


def delivery_result(verdict: Verdict, deliveries: list[Delivery], told: bool) -> CheckResult:
    """`notify.sent`: a warning, so it never changes the verdict it reports."""
    common: dict[str, Any] = {
        "id": CHECK_ID,
        "section": SECTION,
        "title": "Team notified of the verdict",
        "severity": Severity.WARNING,
        "phase": "run",
        "threshold": "every configured channel delivered (2xx)",
        "evidence": {"file": RECORD_FILE},
    }
    if not told:
        return CheckResult(
            **common,
            status=Status.SKIP,
            explanation=f"not sent: the verdict {verdict.value} is not in notify.on",
        )
    observed = {d.channel: d.status for d in deliveries}
    failed = [d for d in deliveries if d.status == "failed"]
    unset = [d for d in deliveries if d.status == "not-set"]
    words = [
        f"{d.channel} ({d.reference}): {d.status}"
        + (f" after {d.attempts} attempt(s), {d.error}" if d.error and d.attempts else "")
        for d in deliveries
    ]
    if failed:
        status = Status.FAIL
    elif unset:
        status = Status.INCONCLUSIVE
    else:
        status = Status.PASS
    return CheckResult(
        **common,
        status=status,
        observed=observed,
        explanation=f"{verdict.value} told: " + "; ".join(words)
        + ("" if status is Status.PASS else " (the verdict is unchanged)"),
    )  # fmt: skip


def notify_verdict(
    run_dir: Path,
    run_id: str,
    params: Any,
    verdict: Verdict,
    results: Iterable[CheckResult],
    say: Callable[[str], None] = print,
    sender: Sender | None = None,
) -> list[CheckResult]:
    """Tell the configured channels `verdict`, write notifications.json, return `notify.sent`
    (nothing when `params.notify` is unset). Never raises for a channel that fails."""
    settings: NotifyParams | None = getattr(params, "notify", None)
    if settings is None:
        return []
    message = VerdictMessage(
        environment=params.environment,
        target=params.target.name,
        build_id=params.build_id,
        run_id=run_id,
        verdict=verdict,
        failing=failing_checks(results),
        report_url=report_url(settings, params.environment, run_id, params.build_id, run_dir),
    )
    told = verdict in settings.on
    secrets = resolved_values(params)
    deliveries = deliver(settings, message, sender, secrets) if told else []
    result = delivery_result(verdict, deliveries, told)
    record = {
        "schema": SCHEMA,
        "verdict": verdict.value,
        "told": told,
        "report_url": message.report_url,
        "deliveries": [d.model_dump(mode="json") for d in deliveries],
    }
    from runbook.core.evidence import write_evidence

    write_evidence(run_dir / RECORD_FILE, json.dumps(record, indent=2) + "\n")
    say(f"notify: {result.explanation}")
    return [result]


# -- helpers ---------------------------------------------------------------------------------------
def _facts(message: VerdictMessage) -> list[tuple[str, str]]:
    return [
        ("Verdict", message.verdict.value),
        ("Environment", message.environment),
        ("Target", message.target),
        ("Build", message.build_id or "unversioned"),
        ("Run", message.run_id),
    ]


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mask(text: str, secrets: dict[str, str]) -> str:
    """`text` with each secret value (also without its scheme) replaced by its name."""
    for value, name in secrets.items():
        for form in (value, value.split("://", 1)[-1]):
            if form:
                text = text.replace(form, name)
    return text


def _masked_payload(payload: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    """The payload with every secret value of the run masked (a check's text could hold one)."""
    if not secrets:
        return payload
    masked: dict[str, Any] = json.loads(_mask(json.dumps(payload), secrets))
    return masked
