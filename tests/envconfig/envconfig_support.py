"""Helpers shared by the Environment Configuration tests."""

from __future__ import annotations

from runbook.core.checks import CheckResult, Status


def by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    ids = [r.id for r in results]
    assert len(ids) == len(set(ids)), f"duplicate result ids: {ids}"
    return {r.id: r for r in results}


def statuses(results: list[CheckResult]) -> dict[str, Status]:
    return {r.id: r.status for r in results}
