"""Settlements: an INCONCLUSIVE blocker goes to a person, who settles it by a sign-off naming
the check and the sha256 of its evidence (the result as recorded).

A settlement is data on the result: `evidence["settlement"]` holds the sign-off record (who,
role, note, when, the evidence hash, where it came from) and the explanation before it; the
status stays INCONCLUSIVE (the check itself could not decide) and `core.verdict.judge` no
longer counts it as unproven. Fail closed: a settlement is refused, and recorded as refused
under `evidence["settlement_refused"]`, when its hash is not the evidence's (the evidence
changed since the person looked), the result is not an inconclusive blocker, or the role may
not settle. Without a settlement the run stays INCOMPLETE.

Headless, settlements come from parameters (`settlement.settled: [{check, evidence_sha256, by,
role, note}]`) and are applied where results are judged: each phase in `runbook run`, and
`runbook rejudge RUN_DIR --param 'settlement.settled=[...]'` for a finished run (its report
lists each unsettled blocker with the hash to name). Interactively the sign-off widget
(`governance.signoff.signoff_widget`) signs the result and `settle` attaches the record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.checks import CheckResult, Severity, Status
from runbook.governance.signoff import (
    APPROVERS,
    SignOff,
    SignOffItem,
    evidence_digest,
    is_headless,
    signoff_widget,
)

KEY = "settlement"
REFUSED_KEY = "settlement_refused"
SETTLEABLE = {Status.INCONCLUSIVE}
SECTION = "Settlement of an inconclusive check"


class SettlementEntry(BaseModel):
    """A settlement given in parameters: the check, the evidence hash seen, who, role, note."""

    model_config = ConfigDict(extra="forbid")

    check: str = Field(min_length=1, description="the inconclusive check's id")
    evidence_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="as the report lists it")
    by: str = Field(min_length=1)
    role: str = Field(min_length=1)
    note: str = ""


class SettlementParams(BaseModel):
    """Parameters section `settlement`: who may settle, and the settlements given headless."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(
        default_factory=lambda: list(APPROVERS), min_length=1,
        description="roles that may settle an inconclusive blocker",
    )  # fmt: skip
    settled: list[SettlementEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _allowed(self) -> SettlementParams:
        bad = [f"settled[{i}] ({e.check}): role {e.role!r} may not settle (allowed: "
               f"{', '.join(self.roles)})"
               for i, e in enumerate(self.settled) if e.role not in self.roles]  # fmt: skip
        if bad:
            raise ValueError("; ".join(bad))
        return self


def _bare(result: CheckResult) -> CheckResult:
    """The result as it was before any settlement was attached or refused."""
    evidence = {k: v for k, v in result.evidence.items() if k not in (KEY, REFUSED_KEY)}
    before = (result.evidence.get(KEY) or {}).get("explanation_before")
    update: dict[str, Any] = {"evidence": evidence}
    if isinstance(before, str):
        update["explanation"] = before
    return result.model_copy(update=update)


def evidence_sha256(result: CheckResult) -> str:
    """The hash a settlement names: sha256 of the result as recorded (as a sign-off binds it,
    `signoff.evidence_digest`), any settlement left out."""
    return evidence_digest([_bare(result)])[0]


def is_settled(result: CheckResult) -> bool:
    """True when the result carries an accepted settlement whose hash is its evidence's."""
    record = result.evidence.get(KEY)
    return (
        isinstance(record, dict)
        and record.get("accepted") is True
        and (record.get("signoff") or {}).get("evidence_sha256") == evidence_sha256(result)
    )


def _item(result: CheckResult, roles: list[str]) -> SignOffItem:
    slug = re.sub(r"[^a-z0-9-]+", "-", result.id.lower()).strip("-") or "check"
    return SignOffItem(id=f"settle-{slug}", section=SECTION, roles=roles, phase=result.phase,
                       required=False,  # the inconclusive check itself is what blocks
                       title=f"Settle inconclusive {result.id}: {result.title}")  # fmt: skip


def record_for(entry: SettlementEntry, source: str = "parameters") -> SignOff:
    """The sign-off record of a parameters entry."""
    return SignOff(item=f"settle:{entry.check}", by=entry.by.strip(), role=entry.role,
                   note=entry.note, evidence_sha256=entry.evidence_sha256,
                   evidence_ids=[entry.check], source=source)  # fmt: skip


def _refuse(result: CheckResult, record: SignOff, why: str) -> CheckResult:
    refused = [*result.evidence.get(REFUSED_KEY, []),
               {"signoff": record.model_dump(mode="json"), "why": why}]  # fmt: skip
    return result.model_copy(update={"evidence": {**result.evidence, REFUSED_KEY: refused}})


def settle(result: CheckResult, record: SignOff, roles: Iterable[str]) -> CheckResult:
    """The result settled by record, or the result with the refusal recorded (fail closed)."""
    roles = list(roles)
    actual = evidence_sha256(result)
    if result.status not in SETTLEABLE or result.severity is not Severity.BLOCKER:
        why = f"only an inconclusive blocker can be settled; this one is {result.status.value} " \
              f"({result.severity.value})"  # fmt: skip
        return _refuse(result, record, why)
    if record.role not in roles:
        return _refuse(result, record, f"role {record.role!r} may not settle "
                                       f"(allowed: {', '.join(roles)})")  # fmt: skip
    if record.evidence_sha256 != actual:
        return _refuse(result, record, f"it names evidence {record.evidence_sha256[:12]}…, this "
                                       f"result's evidence is {actual[:12]}…: the evidence "
                                       "changed since it was looked at")  # fmt: skip
    bare = _bare(result)
    note = f": {record.note}" if record.note else ""
    text = (f"{bare.explanation} — settled by {record.by} ({record.role}) via {record.source} "
            f"against evidence {actual[:12]}…{note}")  # fmt: skip
    data = {"accepted": True, "signoff": record.model_dump(mode="json"),
            "explanation_before": bare.explanation}  # fmt: skip
    return result.model_copy(
        update={"explanation": text, "evidence": {**result.evidence, KEY: data}}
    )


def apply_settlements(
    results: Iterable[CheckResult], settings: SettlementParams | None
) -> list[CheckResult]:
    """Every parameters settlement applied to the result it names (results it names that are
    absent are ignored; a mismatch is recorded as refused)."""
    results = list(results)
    if settings is None or not settings.settled:
        return results
    by_check: dict[str, list[SettlementEntry]] = {}
    for entry in settings.settled:
        by_check.setdefault(entry.check, []).append(entry)
    out = []
    for result in results:
        for entry in by_check.get(result.id, []):
            if not is_settled(result):
                result = settle(result, record_for(entry), settings.roles)
        out.append(result)
    return out


def unsettled(results: Iterable[CheckResult]) -> list[tuple[str, str]]:
    """(check id, evidence sha256) of every inconclusive blocker not settled: what to name."""
    return [
        (r.id, evidence_sha256(r))
        for r in results
        if r.status in SETTLEABLE and r.severity is Severity.BLOCKER and not is_settled(r)
    ]


def settlements_of(params: Any) -> SettlementParams | None:
    """The `settlement` section of a run's parameters (None without one)."""
    found = getattr(params, KEY, None)
    if found is None or isinstance(found, SettlementParams):
        return found
    return SettlementParams.model_validate(found)


# -- the notebook cell -----------------------------------------------------------------------
def _frozen(result: CheckResult) -> Callable[[], list[CheckResult]]:
    """What the widget signs: this result as it was before any settlement."""
    bare = _bare(result)
    return lambda: [bare]


class _Context(Protocol):
    phase: str
    params: Any
    results: dict[str, CheckResult]


def settle_inconclusive(ctx: _Context, params: Mapping[str, Any] | None) -> list[Any]:
    """The phase's inconclusive blockers to a person: parameters settlements applied (headless
    or not); interactively, a sign-off widget for each one still unsettled. Returns the
    widgets shown."""
    from IPython.display import display

    settings = settlements_of(ctx.params) or SettlementParams()
    for result in apply_settlements(ctx.results.values(), settings):
        if result != ctx.results.get(result.id):
            ctx.results[result.id] = result
            display(result)
    if is_headless(params):
        return []
    widgets = []
    for check_id, _digest in unsettled(ctx.results.values()):
        result = ctx.results[check_id]

        def signed(record: SignOff, _signed: CheckResult, check_id: str = check_id) -> None:
            ctx.results[check_id] = settle(ctx.results[check_id], record, settings.roles)
            display(ctx.results[check_id])

        widget = signoff_widget(_item(result, settings.roles), _frozen(result), signed, ctx.phase)
        widget.show()
        widgets.append(widget)
    return widgets
