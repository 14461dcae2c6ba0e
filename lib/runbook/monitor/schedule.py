"""§3.5 Extended Monitoring as CI schedule entries: GitHub Actions `on: schedule` blocks anchored
at the deployment time, each with the window its runs look back over (equal to its cadence, so
the runs cover the week without gaps or overlap)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runbook.monitor.params import MonitorParams, iso_duration


def run_times(params: MonitorParams, deployed_at: datetime) -> list[tuple[str, datetime, str]]:
    """(stage label, run time UTC, window) of every scheduled check, in order."""
    anchor = _utc(deployed_at).replace(second=0, microsecond=0)
    out = []
    for stage in params.schedule:
        hours = stage.start_h + stage.every_h
        while hours <= stage.end_h:
            out.append((stage.label, anchor + timedelta(hours=hours),
                        iso_duration(timedelta(hours=stage.every_h))))
            hours += stage.every_h
    return out


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("deployed_at must carry a time zone (e.g. 2025-01-31T14:05:00+00:00)")
    return value.astimezone(UTC)


def _hours(values: list[int]) -> str:
    """Hours as a cron field: ranges where consecutive (0-5,9,13-23)."""
    parts, start = [], None
    ordered = sorted(set(values))
    for i, h in enumerate(ordered):
        start = h if start is None else start
        if i + 1 == len(ordered) or ordered[i + 1] != h + 1:
            parts.append(str(start) if start == h else f"{start}-{h}")
            start = None
    return ",".join(parts)


def schedule_entries(env: str, params: MonitorParams, deployed_at: datetime) -> list[str]:
    """One GitHub Actions `on: schedule` block per §3.5 stage, anchored at `deployed_at`."""
    times = run_times(params, deployed_at)
    anchor = _utc(deployed_at)
    blocks = []
    for stage in params.schedule:
        mine = [(t, w) for label, t, w in times if label == stage.label]
        if not mine:
            continue
        window = mine[0][1]
        by_day: dict[tuple[int, int], list[int]] = {}
        for t, _ in mine:
            by_day.setdefault((t.month, t.day), []).append(t.hour)
        minute = mine[0][0].minute
        crons = [f'    - cron: "{minute} {_hours(hours)} {day} {month} *"'
                 for (month, day), hours in by_day.items()]  # fmt: skip
        command = params.schedule_command.format(env=env, window=window)
        blocks.append("\n".join([
            f"# Deployment Steps §3.5 Extended Monitoring — {stage.label} "
            f"({len(mine)} run(s), each looking back {window})",
            f"# deployed {anchor.isoformat()}; first run {mine[0][0].isoformat()}, last "
            f"{mine[-1][0].isoformat()}; cron is yearly: remove this block after the last run",
            f"# run: {command}",
            "on:",
            "  schedule:",
            *crons,
        ]))  # fmt: skip
    return blocks
