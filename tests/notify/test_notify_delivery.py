"""Notifications posted to a real receiver on 127.0.0.1: the three payload shapes, retries,
a receiver that fails or refuses, an unset reference, and no webhook URL in what is kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notify_receiver import Receiver, refused_url, webhook_receiver

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.parameters import ParameterError, load
from runbook.core.verdict import Verdict
from runbook.governance.notify import (
    CHECK_ID,
    RECORD_FILE,
    NotifyParams,
    Sender,
    notify_verdict,
    report_url,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def _params(monkeypatch: pytest.MonkeyPatch, urls: dict[str, str], **extra: object) -> Any:
    """The shipped staging parameters with these webhooks (each through its own reference)."""
    overrides = ['build_id="1234"']
    for channel, url in urls.items():
        name = f"RUNBOOK_TEST_{channel.upper()}_HOOK"
        monkeypatch.setenv(name, url)
        overrides.append(f"notify.{channel}={{env: {name}}}")
    overrides += ["notify.backoff_s=0", *(f"notify.{k}={json.dumps(v)}" for k, v in extra.items())]
    return load("staging", overrides, ROOT).params


def _results() -> list[CheckResult]:
    common: dict[str, Any] = {"section": "§", "title": "t"}
    return [
        CheckResult(id="smoke.health", status=Status.PASS, **common),
        CheckResult(id="smoke.create-project", status=Status.FAIL, phase="verify",
                    explanation="POST /api/v1/projects/ answered 500", **common),
        CheckResult(id="monitor.alerts", status=Status.INCONCLUSIVE, phase="monitor",
                    explanation="no Azure credential", **common),
        CheckResult(id="perf.memory", status=Status.FAIL, severity=Severity.WARNING, **common),
    ]  # fmt: skip


def test_each_channel_gets_its_own_shape(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    urls = {c: receiver.url(f"/{c}") for c in ("teams", "slack", "webhook")}
    params = _params(monkeypatch, urls, report_base_url="https://ci.example/runs/{run_id}")
    out = notify_verdict(tmp_path, "run-1", params, Verdict.NO_GO, _results(), say=lambda _: None)

    assert [r.id for r in out] == [CHECK_ID] and out[0].status is Status.PASS
    assert out[0].severity is Severity.WARNING
    teams, slack, hook = (receiver.on(f"/{c}") for c in ("teams", "slack", "webhook"))
    assert len(teams) == len(slack) == len(hook) == 1
    card = teams[0].body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["actions"][0]["url"] == "https://ci.example/runs/run-1"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][1]["facts"]}
    assert facts["Verdict"] == "NO-GO" and facts["Environment"] == "staging"
    assert facts["Build"] == "1234"
    assert "NO-GO" in slack[0].body["text"]
    assert slack[0].body["blocks"][0]["type"] == "header"
    assert "smoke.create-project" in json.dumps(slack[0].body["blocks"])
    assert hook[0].content_type.startswith("application/json")
    body = hook[0].body
    assert body["verdict"] == "NO-GO" and body["build_id"] == "1234"
    # blockers only, failures before the unproven; a failed warning is not a failing check
    assert [f["id"] for f in body["failing_checks"]] == ["smoke.create-project", "monitor.alerts"]
    assert body["report_url"] == "https://ci.example/runs/run-1"


def test_a_failing_and_a_refusing_receiver_are_recorded_not_judged(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    receiver.statuses["/broken"] = 500
    urls = {
        "teams": refused_url(),
        "slack": receiver.url("/broken"),
        "webhook": receiver.url("/ok"),
    }
    params = _params(monkeypatch, urls, retries=2)
    out = notify_verdict(tmp_path, "run-2", params, Verdict.GO, [], say=lambda _: None)

    result = out[0]
    assert result.status is Status.FAIL and result.severity is Severity.WARNING
    assert "the verdict is unchanged" in result.explanation
    assert len(receiver.on("/broken")) == 3  # the first try and two retries
    assert len(receiver.on("/ok")) == 1
    record = json.loads((tmp_path / RECORD_FILE).read_text())
    by = {d["channel"]: d for d in record["deliveries"]}
    assert by["slack"]["status"] == "failed" and by["slack"]["http_status"] == 500
    assert by["slack"]["attempts"] == 3
    assert by["teams"]["status"] == "failed" and by["teams"]["http_status"] is None
    assert "ConnectError" in by["teams"]["error"]
    assert by["webhook"]["status"] == "delivered"
    text = (tmp_path / RECORD_FILE).read_text() + result.model_dump_json()
    for url in urls.values():  # a webhook URL is a credential: only its reference is kept
        assert url not in text and url.split("://", 1)[1] not in text
    assert "$RUNBOOK_TEST_SLACK_HOOK" in text


def test_a_client_error_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses["/gone"] = 404
    status, attempts, error = Sender(timeout_s=30, retries=3, backoff_s=0).post(
        receiver.url("/gone"), {"x": 1}
    )
    assert (status, attempts) == (404, 1) and error is not None and "HTTP 404" in error


def test_an_unset_reference_is_inconclusive_and_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("RUNBOOK_TEST_NOWHERE", raising=False)
    params = load("production", ["notify.webhook={env: RUNBOOK_TEST_NOWHERE}"], ROOT).params
    out = notify_verdict(tmp_path, "run-3", params, Verdict.GO, [], say=lambda _: None)
    assert out[0].status is Status.INCONCLUSIVE
    assert "$RUNBOOK_TEST_NOWHERE" in out[0].explanation
    # the local report path is the link when no report_base_url is set
    record = json.loads((tmp_path / RECORD_FILE).read_text())
    assert record["report_url"] == (tmp_path / "report.html").resolve().as_uri()


def test_the_report_link_follows_report_base_url(tmp_path: Path) -> None:
    def link(base: str) -> str:
        settings = NotifyParams.model_validate({"webhook": {"env": "X"}, "report_base_url": base})
        return report_url(settings, "staging", "r1", "b7", tmp_path)

    assert link("https://ev.example/{environment}/{build_id}/{run_id}") == (
        "https://ev.example/staging/b7/r1"
    )
    assert link("https://ev.example/runs/") == "https://ev.example/runs/staging/r1/report.html"
    assert link("https://ci.example/actions/runs/42") == "https://ci.example/actions/runs/42"


def test_a_verdict_not_asked_for_is_not_sent(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    params = _params(
        monkeypatch, {"webhook": receiver.url("/w")}, on=["NO-GO", "ROLLBACK REQUIRED"]
    )
    out = notify_verdict(tmp_path, "run-4", params, Verdict.GO, [], say=lambda _: None)
    assert out[0].status is Status.SKIP and receiver.on("/w") == []
    out = notify_verdict(
        tmp_path, "run-5", params, Verdict.ROLLBACK_REQUIRED, [], say=lambda _: None
    )
    assert out[0].status is Status.PASS
    assert receiver.on("/w")[0].body["rollback_required"] is True


def test_a_secret_of_the_run_never_leaves_in_a_message(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    params = _params(monkeypatch, {"webhook": receiver.url("/w")})
    monkeypatch.setenv("PIXCRAWLER_API_TOKEN", "tok-very-secret-123")  # the target's token
    leaky = CheckResult(
        id="smoke.me", section="§", title="t", status=Status.FAIL,
        explanation="echoed Authorization: Bearer tok-very-secret-123",
    )  # fmt: skip
    notify_verdict(tmp_path, "run-6", params, Verdict.NO_GO, [leaky], say=lambda _: None)
    sent = json.dumps(receiver.on("/w")[0].body)
    assert "tok-very-secret-123" not in sent and "[masked]" in sent


def test_notify_parameters_are_validated_with_the_rest() -> None:
    with pytest.raises(ParameterError, match="notify"):
        load("local", ["notify={report_base_url: x}"], ROOT)
    with pytest.raises(ParameterError, match="notify"):
        load("local", ["notify.webhook=https://hooks.example/raw-url"], ROOT)
    loaded = load("staging", ["notify.teams={env: TEAMS_HOOK}"], ROOT)
    assert loaded.params.notify is not None and loaded.params.notify.teams is not None
