"""The promotion gate (Deployment Steps §3.1 "All staging tests passed", "No critical issues in
staging"): production may start only if the newest staging run of the same build is GO, its
run directory still verifies (`evidence.verify`), and it is younger than a limit.

The decision names the staging run it relied on (id, manifest sha256) so production's evidence
records it. An override lets production start anyway, but only with an explicit reason and
who gave it, both recorded (the result is then WARN, never a silent PASS).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence_store import EvidenceStoreParams

CHECK_ID = "governance.promotion"
SECTION = "Deployment Steps §3.1 Pre-Production Checklist — All staging tests passed"


class PromotionParams(BaseModel):
    """Parameters section `promotion` (production): where staging evidence is, how fresh."""

    model_config = ConfigDict(extra="forbid")

    from_environments: list[str] = Field(
        default_factory=lambda: ["staging"],
        min_length=1,
        description="environments whose runs may be relied on",
    )
    max_age_h: float = Field(72, gt=0, description="a staging run older than this is stale")
    require_phases: list[str] = Field(
        default_factory=lambda: ["deploy", "verify", "performance"],
        description="phases the staging run must have completed",
    )


class PromotionOverride(BaseModel):
    """Start production without the gate: who decided and why (recorded in the evidence)."""

    model_config = ConfigDict(extra="forbid")

    by: str = Field(min_length=1)
    reason: str = Field(min_length=10, description="an explicit reason, a sentence")


class StagingRun(BaseModel):
    """A staging run the gate looked at."""

    model_config = ConfigDict(extra="forbid")

    environment: str
    run_id: str
    manifest_sha256: str
    build_id: str | None
    verdict: str | None
    finished_at: str | None
    age_h: float | None
    refused_because: list[str] = Field(default_factory=list)


class PromotionDecision(BaseModel):
    """May production start, relying on which staging run; or why not."""

    model_config = ConfigDict(extra="forbid")

    allowed: bool
    build_id: str | None
    relied_on: StagingRun | None = None
    reasons: list[str] = Field(default_factory=list)
    considered: list[StagingRun] = Field(default_factory=list)
    override: PromotionOverride | None = None
    max_age_h: float
    decided_at: str

    def record(self) -> dict[str, Any]:
        """JSON for production's manifest (key 'promotion')."""
        return self.model_dump(mode="json")

    def result(self) -> CheckResult:
        """governance.promotion: PASS relying on a run, WARN when overridden, FAIL otherwise."""
        relied = self.relied_on
        if self.override is not None and not (relied and not relied.refused_because):
            status = Status.WARN
            text = (
                f"OVERRIDDEN by {self.override.by}: {self.override.reason} "
                f"(the gate refused: {'; '.join(self.reasons)})"
            )
        elif self.allowed and relied is not None:
            status = Status.PASS
            text = (
                f"staging run {relied.environment}/{relied.run_id} of build {self.build_id} "
                f"is GO, verifies, and is {relied.age_h:.1f} h old"
            )
        else:
            status, text = Status.FAIL, "; ".join(self.reasons) or "no staging evidence"
        return CheckResult(
            id=CHECK_ID,
            section=SECTION,
            severity=Severity.BLOCKER,
            status=status,
            title="Production starts only on fresh GO staging evidence of the same build",
            observed=relied.model_dump(mode="json") if relied else None,
            threshold={
                "verdict": "GO",
                "build_id": self.build_id,
                "verifies": True,
                "max_age_h": self.max_age_h,
            },
            explanation=text,
            evidence=self.record(),
        )


def _age_h(finished_at: str | None, now: datetime) -> float | None:
    if not finished_at:
        return None
    try:
        at = datetime.fromisoformat(finished_at)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return (now - at).total_seconds() / 3600


def _candidates(env_dir: Path, build_id: str | None) -> list[tuple[dict[str, Any], Path]]:
    """Chain entries of env_dir whose manifest names this build, newest first."""
    found = []
    for entry in reversed(ev.read_chain(env_dir)):
        run_dir = env_dir / str(entry.get("run_id"))
        path = run_dir / ev.MANIFEST
        if not path.is_file():
            continue
        try:
            build = json.loads(path.read_text()).get("build_id")
        except ValueError:
            continue
        if build_id is not None and build == build_id:
            found.append((entry, run_dir))
    return found


def _judge_run(
    entry: dict[str, Any],
    run_dir: Path,
    max_age: timedelta,
    require_phases: Sequence[str],
    now: datetime,
) -> StagingRun:
    manifest = json.loads((run_dir / ev.MANIFEST).read_text())
    age = _age_h(manifest.get("finished_at"), now)
    run = StagingRun(
        environment=run_dir.parent.name,
        run_id=run_dir.name,
        manifest_sha256=str(entry.get("manifest_sha256")),
        build_id=manifest.get("build_id"),
        verdict=manifest.get("verdict"),
        finished_at=manifest.get("finished_at"),
        age_h=None if age is None else round(age, 3),
    )
    why = run.refused_because
    if run.verdict != "GO":
        why.append(f"its verdict is {run.verdict}, not GO")
    integrity = ev.verify(run_dir)
    if not integrity.ok:
        why.append("its evidence does not verify: " + "; ".join(integrity.lines()[:5]))
    limit_h = max_age.total_seconds() / 3600
    if age is None:
        why.append("it has no usable finished_at time")
    elif age > limit_h:
        why.append(f"it is {age:.1f} h old (limit {limit_h:g} h)")
    elif age < -0.1:
        why.append(f"it finished {-age:.1f} h in the future")
    completed = {
        p.get("name") for p in manifest.get("phases", []) if p.get("status") == "completed"
    }
    lacking = [p for p in require_phases if p not in completed]
    if lacking:
        why.append(f"it did not complete phase(s) {', '.join(lacking)}")
    return run


def promotion_gate(
    env_dirs: Path | Sequence[Path],
    build_id: str | None,
    max_age: timedelta,
    *,
    require_phases: Sequence[str] = (),
    override: PromotionOverride | None = None,
    now: datetime | None = None,
) -> PromotionDecision:
    """Allow production only on the newest staging run of `build_id`, if GO, intact and fresh;
    an override (who + reason) allows it anyway, recorded."""
    now = now or datetime.now(UTC)
    dirs = [env_dirs] if isinstance(env_dirs, Path) else list(env_dirs)
    max_age_h = max_age.total_seconds() / 3600
    decision = PromotionDecision(
        allowed=False,
        build_id=build_id,
        max_age_h=max_age_h,
        decided_at=now.isoformat(timespec="milliseconds"),
        override=override,
    )
    if not build_id:
        decision.reasons.append(
            "this run has no build id, so no staging run can be matched (parameter build_id)"
        )
    candidates = [c for d in dirs for c in _candidates(d, build_id)] if build_id else []
    candidates.sort(key=lambda c: str(c[0].get("finished_at") or ""), reverse=True)
    if build_id and not candidates:
        where = ", ".join(str(d) for d in dirs)
        decision.reasons.append(f"no finished run of build {build_id} under {where}")
    if candidates:
        entry, run_dir = candidates[0]  # the newest run of the build decides: a later NO-GO wins
        newest = _judge_run(entry, run_dir, max_age, require_phases, now)
        decision.considered.append(newest)
        decision.relied_on = newest
        if newest.refused_because:
            decision.reasons.append(
                f"the newest staging run of build {build_id} "
                f"({newest.environment}/{newest.run_id}) is refused: "
                + "; ".join(newest.refused_because)
            )
        else:
            decision.allowed = True
    if not decision.allowed and override is not None:
        decision.allowed = True
    return decision


def gate_from_params(
    outputs: Path,
    params: PromotionParams,
    build_id: str | None,
    override: PromotionOverride | None = None,
    store: EvidenceStoreParams | None = None,
) -> PromotionDecision:
    """The gate as the `promotion` parameters configure it, over outputs/<env>/ directories,
    or, with `store`, over the runs of the evidence store (mirrored into .cache/; a store that
    cannot be read refuses, naming why)."""
    dirs = [outputs / e for e in params.from_environments]
    unread = None
    if store is not None:
        from runbook.core.evidence_store import default_cache
        from runbook.providers.azure.blob_store import StoreError, mirror_for_promotion

        try:
            dirs = mirror_for_promotion(store, params.from_environments, build_id, default_cache())
        except StoreError as exc:
            dirs, unread = [], f"the evidence store could not be read: {exc}"
    decision = promotion_gate(
        dirs,
        build_id,
        timedelta(hours=params.max_age_h),
        require_phases=params.require_phases,
        override=override,
    )
    if unread:
        decision.reasons.insert(0, unread)
    return decision
