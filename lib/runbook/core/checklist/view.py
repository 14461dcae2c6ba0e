"""The checklist view of a run: every box of the catalogue with its state in this run, computed
from the run's results (never typed by hand), and the counts for the coverage line.

States: proved (every mapped check ran and passed), failed (a mapped check or sign-off failed or
errored), signed (a mapped sign-off passed; by whom), pending (a sign-off awaited), not-proved
(mapped checks ran but skipped, were inconclusive or warned, or one did not run), not-run (none of
its mapped checks ran in this run), unproved (the catalogue says no check proves it yet), and
not-applicable (not this environment's box, or a rollback step when no rollback was required).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runbook.core.checklist.catalogue import (
    Catalogue,
    CatalogueBox,
    Mapping,
    NotApplicable,
    catalogue_sha256,
    load_catalogue,
)
from runbook.core.checks import CheckResult, Status

VIEW_SCHEMA_VERSION = 1


class BoxState(StrEnum):
    PROVED = "proved"
    FAILED = "failed"
    SIGNED = "signed"
    PENDING = "pending"
    NOT_PROVED = "not-proved"
    NOT_RUN = "not-run"
    UNPROVED = "unproved"
    NOT_APPLICABLE = "not-applicable"


STATE_LABELS = {
    BoxState.PROVED: "proved",
    BoxState.FAILED: "failed",
    BoxState.SIGNED: "signed",
    BoxState.PENDING: "pending sign-off",
    BoxState.NOT_PROVED: "not proved in this run",
    BoxState.NOT_RUN: "not run in this run",
    BoxState.UNPROVED: "unproved (no check yet)",
    BoxState.NOT_APPLICABLE: "not applicable here",
}
_BAD = {Status.FAIL, Status.ERROR}


class Evidence(BaseModel):
    """One result a box's state was read from: id, status, phase (for the notebook link)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: str
    phase: str | None = None
    kind: str = Field("check", pattern="^(check|signoff)$")


class BoxView(BaseModel):
    """A box in one run: its state, why, and the results it was read from."""

    model_config = ConfigDict(extra="forbid")

    id: str
    section: str
    text: str
    kind: str
    state: BoxState
    reason: str = ""
    checks: list[str] = Field(default_factory=list, description="mapped check patterns")
    signoff: list[str] = Field(default_factory=list, description="mapped sign-off ids")
    evidence: list[Evidence] = Field(default_factory=list)
    signed_by: list[str] = Field(default_factory=list)


class ChecklistView(BaseModel):
    """Every box of the catalogue in one run, and the count per state."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = VIEW_SCHEMA_VERSION
    environment: str
    catalogue_sha256: str | None = None
    boxes: list[BoxView]

    @property
    def counts(self) -> dict[str, int]:
        """Boxes per state, every state listed (zero included), in display order."""
        counts = {s.value: 0 for s in BoxState}
        for box in self.boxes:
            counts[box.state.value] += 1
        return counts

    def coverage_line(self) -> str:
        """'193 boxes: 120 proved, 41 signed, …' (states with no box left out)."""
        parts = [f"{n} {STATE_LABELS[BoxState(s)]}" for s, n in self.counts.items() if n]
        return f"{len(self.boxes)} boxes: " + ", ".join(parts)

    def sections(self) -> dict[str, list[BoxView]]:
        """Boxes grouped by section, in checklist order."""
        out: dict[str, list[BoxView]] = {}
        for box in self.boxes:
            out.setdefault(box.section, []).append(box)
        return out

    def to_manifest(self) -> dict[str, Any]:
        """The manifest's `checklist` section: ids, states, check ids, evidence, counts."""
        data = self.model_dump(mode="json")
        data["counts"] = self.counts
        data["total"] = len(self.boxes)
        data["coverage"] = self.coverage_line()
        return data

    @classmethod
    def from_manifest(cls, data: dict[str, Any]) -> ChecklistView:
        """The view a manifest recorded (its derived counts are recomputed, not trusted)."""
        fields = {k: v for k, v in data.items() if k in cls.model_fields}
        return cls.model_validate(fields)


def _as_result(item: CheckResult | dict[str, Any]) -> CheckResult:
    return item if isinstance(item, CheckResult) else CheckResult.from_payload(item)


def matching(pattern: str, results: Iterable[CheckResult]) -> list[CheckResult]:
    """The results whose id matches `pattern` (an id or an fnmatch glob)."""
    return [r for r in results if fnmatch.fnmatchcase(r.id, pattern)]


def checklist_view(
    results: Iterable[CheckResult | dict[str, Any]],
    environment: str,
    catalogue: Catalogue | None = None,
) -> ChecklistView:
    """Every box of `catalogue` (the packaged one by default) in a run with `results` (check
    results or their manifest payloads) for `environment`."""
    packaged = catalogue is None
    catalogue = catalogue or load_catalogue()
    found = [_as_result(r) for r in results]
    return ChecklistView(
        environment=environment,
        catalogue_sha256=catalogue_sha256() if packaged else None,
        boxes=[box_view(b, found, environment) for b in catalogue.boxes],
    )


def box_view(box: CatalogueBox, results: list[CheckResult], environment: str) -> BoxView:
    """One box's state in a run (see the module docstring for the rules)."""
    base: dict[str, Any] = {
        "id": box.id,
        "section": box.section,
        "text": box.text,
        "kind": box.kind,
    }
    mapping = box.mapping_for(environment)
    if isinstance(mapping, NotApplicable):
        return BoxView(**base, state=BoxState.NOT_APPLICABLE, reason=mapping.reason)
    refs: dict[str, Any] = {"checks": mapping.checks, "signoff": mapping.signoff}
    gate = box.only_when
    if gate is not None:
        decided = [r for r in results if r.id == gate.id]
        if decided and not any(r.status.value in gate.status for r in decided):
            return BoxView(
                **base,
                **refs,
                state=BoxState.NOT_APPLICABLE,
                reason=f"{gate.reason}: {gate.id} is {decided[-1].status.value}",
            )
    state, reason, evidence, signed_by = _judge(mapping, results)
    if mapping.note and state is BoxState.PROVED:
        reason = f"{reason} ({mapping.note})"
    return BoxView(
        **base, **refs, state=state, reason=reason, evidence=evidence, signed_by=signed_by
    )


def _judge(
    mapping: Mapping, results: list[CheckResult]
) -> tuple[BoxState, str, list[Evidence], list[str]]:
    checks = {p: matching(p, results) for p in mapping.checks}
    ran = list({r.id: r for rs in checks.values() for r in rs}.values())
    signs = [r for r in results if r.id in set(mapping.signoff)]
    evidence = [Evidence(id=r.id, status=r.status.value, phase=r.phase) for r in ran] + [
        Evidence(id=r.id, status=r.status.value, phase=r.phase, kind="signoff") for r in signs
    ]
    signed_by = [_signer(r) for r in signs if r.status is Status.PASS]
    bad = [r for r in [*ran, *signs] if r.status in _BAD]
    if bad:
        return (
            BoxState.FAILED,
            "; ".join(f"{r.id} {r.status.value}: {r.explanation}" for r in bad),
            evidence,
            signed_by,
        )
    if mapping.unproved:
        partial = f" (partial evidence: {', '.join(r.id for r in ran)})" if ran else ""
        return BoxState.UNPROVED, mapping.unproved + partial, evidence, signed_by
    if mapping.checks:
        state, reason = _checks_state(checks, ran)
        if state is not BoxState.PROVED or not mapping.signoff:
            return state, reason, evidence, signed_by
    return (*_signoff_state(mapping.signoff, signs, signed_by), evidence, signed_by)


def _checks_state(
    checks: dict[str, list[CheckResult]], ran: list[CheckResult]
) -> tuple[BoxState, str]:
    if not ran:
        return BoxState.NOT_RUN, f"none of {', '.join(checks)} ran in this run"
    unmatched = [p for p, rs in checks.items() if not rs]
    open_ = [r for r in ran if r.status is not Status.PASS]
    if not unmatched and not open_:
        return BoxState.PROVED, f"{len(ran)} check(s) passed"
    if any(r.status is Status.PENDING_SIGN_OFF for r in open_) and not unmatched:
        return BoxState.PENDING, "; ".join(f"{r.id}: {r.explanation}" for r in open_)
    reasons = [f"{r.id} {r.status.value}: {r.explanation}" for r in open_]
    reasons += [f"{p} did not run" for p in unmatched]
    return BoxState.NOT_PROVED, "; ".join(reasons)


def _signoff_state(
    ids: list[str], signs: list[CheckResult], signed_by: list[str]
) -> tuple[BoxState, str]:
    if signed_by:
        return BoxState.SIGNED, "signed by " + ", ".join(signed_by)
    if signs:
        return BoxState.PENDING, signs[0].explanation or "waiting for a sign-off"
    return BoxState.NOT_RUN, f"no sign-off {', '.join(ids)} was asked in this run"


def _signer(result: CheckResult) -> str:
    observed = result.observed if isinstance(result.observed, dict) else {}
    who, role = observed.get("by"), observed.get("role")
    if not who:
        return result.id
    return f"{who} ({role})" if role else str(who)


class BoxChange(BaseModel):
    """A box whose state differs between two views."""

    id: str
    text: str
    old: str
    new: str


def compare_views(old: ChecklistView, new: ChecklistView) -> list[BoxChange]:
    """The boxes whose state changed from `old` to `new` (a box new to either side counts)."""
    before = {b.id: b for b in old.boxes}
    after = {b.id: b for b in new.boxes}
    changes = [
        BoxChange(
            id=i,
            text=b.text,
            old=before[i].state.value if i in before else "absent",
            new=b.state.value,
        )
        for i, b in after.items()
        if i not in before or before[i].state != b.state
    ]
    changes += [
        BoxChange(id=i, text=b.text, old=b.state.value, new="absent")
        for i, b in before.items()
        if i not in after
    ]
    return changes


def manifest_section(
    results: Iterable[CheckResult | dict[str, Any]], environment: str
) -> dict[str, Any]:
    """The manifest's `checklist` section for a run; a catalogue that cannot be read gives
    {"error": why} instead (the run and its report are never lost to it)."""
    from runbook.core.checklist.catalogue import CatalogueError

    try:
        return checklist_view(results, environment).to_manifest()
    except (CatalogueError, OSError, ValueError) as exc:
        return {"error": f"the checklist view could not be computed: {exc}"}
