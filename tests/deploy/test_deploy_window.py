"""§3.2 "Deployment started at scheduled time": the deploy records when it started and judges it
against `deploy.window` — inside passes, outside fails and is refused before anything changes
(real zip deploy through the stand-in, real sandboxes), no window where one is required is
INCONCLUSIVE (never a pass), and environments that require none record nothing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from deploy_support import deploy_params, version_of
from pydantic import ValidationError

from rehearsal.azure_standin.process import StandinHandle
from runbook.core.checks import Status
from runbook.core.parameters import load
from runbook.core.verdict import Verdict, judge
from runbook.phases.deploy.params import DeployParams
from runbook.phases.deploy.sequence import run_deploy
from runbook.providers.azure.params import AzureParams

REGRESSED = "release-1.1.0-regressed"


def _window(start: timedelta, end: timedelta) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"start": (now + start).isoformat(), "end": (now + end).isoformat()}


def _command(tmp_path: Path, urls: dict, **over: Any) -> tuple[DeployParams, Path]:
    """A development-style command deploy that leaves a marker file when it runs."""
    marker = tmp_path / "deployed.txt"
    data = {
        "method": "command",
        "command": {"argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]},
        "app_urls": {"production": urls["production"]},
        "health": {
            "route": "/health",
            "expected_json": {"status": "healthy"},
            "timeout": 5,
            "version_field": None,
        },
        **over,
    }
    return DeployParams.model_validate(data), marker


def test_a_deploy_inside_the_window_passes_and_records_its_start(
    standin: StandinHandle, urls: dict, tmp_path: Path
) -> None:
    window = _window(timedelta(hours=-1), timedelta(hours=1))
    params, marker = _command(
        tmp_path, urls, window={**window, "note": "CHG-42"}, window_required=True
    )
    before = datetime.now(UTC)
    run = run_deploy(params, None, tmp_path)
    first = run.results[0]
    assert first.id == "deploy.scheduled-window" and first.status is Status.PASS
    assert "CHG-42" in first.explanation and marker.exists()
    assert run.started_at is not None and before <= run.started_at <= datetime.now(UTC)
    started = datetime.fromisoformat(first.observed["started_at"])
    assert abs(started - run.started_at) < timedelta(seconds=1)
    assert [r.id for r in run.results[1:]] == ["deploy.command", "deploy.health.production"]


def test_a_deploy_outside_the_window_fails_and_changes_nothing(
    standin: StandinHandle, azure: AzureParams, urls: dict, packages: dict, tmp_path: Path
) -> None:
    versions = {slot: version_of(url) for slot, url in urls.items()}
    params = deploy_params(
        urls,
        packages[REGRESSED],
        standin.url,
        window=_window(timedelta(hours=2), timedelta(hours=4)),
    )
    run = run_deploy(params, azure, tmp_path, expect_version="1.1.0")
    assert [r.id for r in run.results] == ["deploy.scheduled-window"]
    refused = run.results[0]
    assert refused.status is Status.FAIL
    assert "before the scheduled window" in refused.explanation
    assert "refused, nothing was changed" in refused.explanation
    assert {slot: version_of(url) for slot, url in urls.items()} == versions
    assert judge(run.results).verdict is Verdict.NO_GO


def test_a_late_start_fails_without_refusing_when_not_enforced(
    standin: StandinHandle, urls: dict, tmp_path: Path
) -> None:
    params, marker = _command(
        tmp_path,
        urls,
        window_enforce=False,
        window=_window(timedelta(hours=-3), timedelta(hours=-1)),
    )
    run = run_deploy(params, None, tmp_path)
    assert run.results[0].status is Status.FAIL
    assert "after the scheduled window" in run.results[0].explanation
    assert "refused" not in run.results[0].explanation and marker.exists()


def test_no_window_where_one_is_required_is_inconclusive_never_a_pass(
    standin: StandinHandle, urls: dict, tmp_path: Path
) -> None:
    params, marker = _command(tmp_path, urls, window_required=True)
    run = run_deploy(params, None, tmp_path)
    first = run.results[0]
    assert first.id == "deploy.scheduled-window" and first.status is Status.INCONCLUSIVE
    assert marker.exists()  # nothing to enforce: the deploy went on, the verdict says why not GO
    assert judge(run.results).verdict is Verdict.INCOMPLETE


def test_without_a_required_window_nothing_is_recorded(
    standin: StandinHandle, urls: dict, tmp_path: Path
) -> None:
    params, _ = _command(tmp_path, urls)
    run = run_deploy(params, None, tmp_path)
    assert "deploy.scheduled-window" not in {r.id for r in run.results} and run.ok


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"start": "2026-03-03T02:00:00", "end": "2026-03-03T04:00:00+00:00"}, "timezone"),
        (
            {"start": "2026-03-03T04:00:00+00:00", "end": "2026-03-03T02:00:00+00:00"},
            "after its start",
        ),
    ],
)
def test_a_window_needs_a_zone_and_an_order(window: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DeployParams.model_validate(
            {"method": "command", "command": {"argv": ["x"]}, "window": window}
        )


def test_production_requires_a_window_and_takes_it_from_the_command_line() -> None:
    plain = load("production").params.deploy
    assert plain is not None and plain.window_required and plain.window is None
    given = load(
        "production",
        [
            "deploy.window.start=2026-03-03T02:00:00+01:00",
            "deploy.window.end=2026-03-03T04:00:00+01:00",
        ],
    ).params.deploy
    assert given is not None and given.window is not None
    assert given.window.start.utcoffset() == timedelta(hours=1)
    staging = load("staging").params.deploy
    assert staging is not None and not staging.window_required
