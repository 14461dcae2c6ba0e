"""Parameters, windows and the §3.5 schedule: pure functions, no services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from runbook.phases.monitoring.clients import window_bounds
from runbook.phases.monitoring.params import (
    MonitorParams,
    iso_duration,
    kql_timespan,
    parse_duration,
)
from runbook.phases.monitoring.schedule import run_times, schedule_entries


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT30M", timedelta(minutes=30)),
        ("PT1H", timedelta(hours=1)),
        ("P1D", timedelta(hours=24)),
        ("P2D", timedelta(hours=48)),
        (30, timedelta(minutes=30)),
        ("90", timedelta(minutes=90)),
    ],
)
def test_window_accepts_iso_durations_and_minutes(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["30 minutes", "PT", "P1DT", "-PT5M"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(bad)


def test_duration_formats_round_trip() -> None:
    assert iso_duration(timedelta(minutes=1)) == "PT1M"
    assert iso_duration(timedelta(hours=4)) == "PT4H"
    assert iso_duration(timedelta(days=1)) == "P1D"
    assert kql_timespan(timedelta(minutes=5)) == "5m"
    assert kql_timespan(timedelta(hours=1)) == "1h"


def test_params_forbid_unknown_keys_and_odd_intervals() -> None:
    with pytest.raises(ValidationError, match="extra"):
        MonitorParams.model_validate({"windw": "PT1H"})
    with pytest.raises(ValidationError, match="whole minutes"):
        MonitorParams.model_validate({"interval": "PT30S"})
    with pytest.raises(ValidationError, match="longer than the window"):
        MonitorParams.model_validate({"window": "PT5M", "interval": "PT1H"})


def test_window_ends_now_minus_the_ingestion_lag() -> None:
    now = datetime(2025, 3, 5, 12, 0, 30, 123, tzinfo=UTC)
    params = MonitorParams(window="PT1H", ingestion_lag="PT3M")
    start, end = window_bounds(params, now)
    assert end == datetime(2025, 3, 5, 11, 57, 31, tzinfo=UTC)
    assert end - start == timedelta(hours=1)


def test_schedule_follows_section_3_5_from_the_deployment_time() -> None:
    deployed = datetime(2025, 3, 5, 13, 30, tzinfo=UTC)
    params = MonitorParams()
    times = run_times(params, deployed)
    day1 = [t for label, t, w in times if label.startswith("Day 1")]
    day23 = [(t, w) for label, t, w in times if label.startswith("Day 2-3")]
    day47 = [(t, w) for label, t, w in times if label.startswith("Day 4-7")]
    assert len(day1) == 24 and day1[0] == deployed + timedelta(hours=1)
    assert day1[-1] == deployed + timedelta(hours=24)
    assert [t for t, _ in day23][:2] == [
        deployed + timedelta(hours=28),
        deployed + timedelta(hours=32),
    ]
    assert len(day23) == 12 and {w for _, w in day23} == {"PT4H"}
    assert [t for t, _ in day47] == [deployed + timedelta(days=d) for d in (4, 5, 6, 7)]
    assert {w for _, w in day47} == {"P1D"}

    blocks = schedule_entries("production", params, deployed)
    assert len(blocks) == 3
    first = blocks[0]
    assert '- cron: "30 14-23 5 3 *"' in first and '- cron: "30 0-13 6 3 *"' in first
    assert "--env production" in first and "monitor.window=PT1H" in first
    assert "on:\n  schedule:" in first
    assert '- cron: "30 17,21 6 3 *"' in blocks[1] and "monitor.window=PT4H" in blocks[1]
    assert '- cron: "30 13 9 3 *"' in blocks[2] and '- cron: "30 13 12 3 *"' in blocks[2]
    assert "monitor.window=P1D" in blocks[2]


def test_schedule_needs_an_aware_deployment_time() -> None:
    with pytest.raises(ValueError, match="time zone"):
        schedule_entries("staging", MonitorParams(), datetime(2025, 3, 5, 13, 30))
