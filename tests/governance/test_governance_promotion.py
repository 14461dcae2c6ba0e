"""Promotion gate: production starts only on fresh, intact, GO staging evidence of the same
build; otherwise it is refused, unless an override with a reason is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from governance_support import make_run
from pydantic import ValidationError

from runbook.core.checks import Status
from runbook.governance.promotion import (
    PromotionOverride,
    PromotionParams,
    gate_from_params,
    promotion_gate,
)

DAY = timedelta(hours=24)
PHASES = ("deploy", "verify", "performance")


def test_fresh_go_staging_run_of_the_build_is_relied_on(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    make_run(staging, build_id="build-6")
    run_id, _, digest = make_run(staging, build_id="build-7")
    decision = promotion_gate(staging, "build-7", DAY, require_phases=PHASES)
    assert decision.allowed and decision.relied_on is not None
    assert (decision.relied_on.run_id, decision.relied_on.manifest_sha256) == (run_id, digest)
    result = decision.result()
    assert result.status is Status.PASS and result.evidence["relied_on"]["run_id"] == run_id
    params = PromotionParams(max_age_h=1)  # the parameters' way, over outputs/<env>/
    assert gate_from_params(tmp_path, params, "build-7").allowed


def test_production_without_staging_evidence_of_the_build_is_refused(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    make_run(staging, build_id="build-6")
    decision = promotion_gate(staging, "build-7", DAY)
    assert not decision.allowed and decision.result().status is Status.FAIL
    assert "no finished run of build build-7" in decision.reasons[0]
    assert not promotion_gate(staging, None, DAY).allowed


def test_stale_nogo_partial_or_altered_staging_runs_are_refused(tmp_path: Path) -> None:
    old = tmp_path / "old"
    make_run(old, finished_at=datetime.now(UTC) - timedelta(hours=30))
    refused = promotion_gate(old, "build-7", DAY)
    assert not refused.allowed and "h old (limit 24 h)" in refused.reasons[0]

    later_nogo = tmp_path / "nogo"
    make_run(later_nogo, finished_at=datetime.now(UTC) - timedelta(hours=2))
    make_run(later_nogo, verdict="NO-GO")  # the newest run of the build decides
    refused = promotion_gate(later_nogo, "build-7", DAY)
    assert not refused.allowed and "its verdict is NO-GO" in refused.reasons[0]

    partial = tmp_path / "partial"
    make_run(partial, phases=("verify",))
    refused = promotion_gate(partial, "build-7", DAY, require_phases=PHASES)
    assert (
        not refused.allowed
        and "did not complete phase(s) deploy, performance" in (refused.reasons[0])
    )

    altered = tmp_path / "altered"
    _, run_dir, _ = make_run(altered)
    (run_dir / "report.html").write_text("<html>GO GO GO</html>")
    refused = promotion_gate(altered, "build-7", DAY)
    assert not refused.allowed and "does not verify" in refused.reasons[0]


def test_an_override_needs_a_reason_and_is_recorded(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    make_run(staging, verdict="NO-GO")
    with pytest.raises(ValidationError):
        PromotionOverride(by="cto", reason="")
    override = PromotionOverride(by="cto", reason="hotfix for an outage; staging is down")
    decision = promotion_gate(staging, "build-7", DAY, override=override)
    assert decision.allowed
    result = decision.result()
    assert result.status is Status.WARN and "OVERRIDDEN by cto" in result.explanation
    assert decision.record()["override"] == {
        "by": "cto",
        "reason": "hotfix for an outage; staging is down",
    }
    assert "its verdict is NO-GO" in decision.record()["reasons"][0]


def test_a_real_local_run_can_be_promoted_from(real_run) -> None:
    decision = promotion_gate(real_run.run_dir.parent, "local", DAY, require_phases=PHASES)
    assert decision.allowed, decision.reasons
    assert decision.relied_on is not None and decision.relied_on.run_id == real_run.run_dir.name
