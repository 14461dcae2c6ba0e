"""Approval bound to the plan: a person approves *what a run will do*, identified by a sha256,
and a run refuses to start on an approval of another plan or an old one.

The plan is a canonical description of a run: the phase notebooks as papermill will run them
(parameterized with the same injected `env` and `params`, without run-specific values such as
run_dir; cell ids, outputs and metadata other than tags dropped), the resolved parameters
(secret *references* only, as `public_dump` gives them, without the run-time inputs
`signoff` and `approval`), the phases, the deploy package's sha256
when one is configured, and the runbook's own code. `plan_hash` is the sha256 of its canonical
JSON. Anything that changes what would run changes the hash.

An approval is a small YAML/JSON file: {plan_sha256, approver, at, note[, signature]}.
`verify_approval` refuses it when the hash is not the current plan's (forged or for another
plan), when it is older than `max_age` (stale) or dated in the future, when the approver is
not allowed, and, with an HMAC key configured (`approval.hmac_key: {env: NAME}`), when its
signature "hmac-sha256:<hex>" over {plan_sha256, approver, at, note} does not verify. The key
is a secret reference resolved at verification; it is never printed or stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.secret_refs import SecretRef, SecretUnavailable, resolve
from runbook.orchestration.phase_plan import Phase

CHECK_ID = "governance.approval"
SECTION = "Deployment Steps §3.1 Pre-Production Checklist — Deployment approved"
PLAN_FILE = "plan.json"
HASH_FILE = "plan.sha256"
SIGNATURE_PREFIX = "hmac-sha256:"
FUTURE_SKEW = timedelta(minutes=5)
PLAN_EXCLUDED = ("signoff", "approval")  # run-time inputs, not what the run does


def canonical_json(data: Any) -> bytes:
    """The one byte form everything here is hashed in: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def sha256_of(data: Any) -> str:
    return hashlib.sha256(canonical_json(data)).hexdigest()


# -- the plan --------------------------------------------------------------------------------------
class PlannedPhase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    notebook: str
    sha256: str = Field(description="sha256 of the normalised parameterized notebook")


class PlannedPackage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    build_id: str
    source: str
    sha256: str | None = Field(description="None: the package is not there (yet)")


class Plan(BaseModel):
    """What a run will do, canonically; `sha256` identifies it."""

    model_config = ConfigDict(extra="forbid")

    environment: str
    build_id: str | None
    phases: list[PlannedPhase]
    parameters: dict[str, Any]
    package: PlannedPackage | None
    runbook: dict[str, str]
    _notebooks: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @property
    def sha256(self) -> str:
        return sha256_of(self.model_dump(mode="json"))


def injected_parameters(params: Any) -> dict[str, Any]:
    """What `runbook run` injects into every notebook, minus run-specific values (run_dir) and
    the governance inputs given at run time (sign-offs, the approval settings)."""
    from runbook.core.parameters import public_dump

    dumped = {k: v for k, v in public_dump(params).items() if k not in PLAN_EXCLUDED}
    return {"env": params.environment, "params": dumped}


def normalised_notebook(path: Path, injected: dict[str, Any], kernel_name: str) -> dict[str, Any]:
    """The notebook as papermill parameterizes it, reduced to cell types, sources and tags."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(path))  # as papermill loads it: tags and metadata in place
    nb = parameterize_notebook(
        nb,
        injected,
        kernel_name=kernel_name,
        language=nb.metadata.get("kernelspec", {}).get("language") or "python",
    )
    cells = [
        {
            "cell_type": c.cell_type,
            "source": c.source,
            "tags": sorted(c.get("metadata", {}).get("tags", [])),
        }
        for c in nb.cells
    ]
    return {"kernel_name": kernel_name, "nbformat": nb.nbformat, "cells": cells}


def code_fingerprint() -> str:
    """sha256 over the runbook library's Python sources (path and content)."""
    import runbook

    base = Path(runbook.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(base.rglob("*.py")):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _package(params: Any, root: Path) -> PlannedPackage | None:
    deploy = getattr(params, "deploy", None)
    spec = getattr(deploy, "package", None)
    if spec is None:
        return None
    from runbook.core.evidence import sha256_file
    from runbook.phases.deploy.package import zip_folder

    if spec.path is not None:
        path = root / spec.path
        digest = sha256_file(path) if path.is_file() else None
        return PlannedPackage(build_id=spec.build_id, source=f"zip {spec.path}", sha256=digest)
    folder = root / str(spec.source_dir)
    if not folder.is_dir():
        return PlannedPackage(
            build_id=spec.build_id, source=f"folder {spec.source_dir}", sha256=None
        )
    with tempfile.TemporaryDirectory(prefix="plan-") as tmp:
        dest = Path(tmp) / "package.zip"
        zip_folder(folder, dest, spec.exclude)  # deterministic: same files, same bytes
        digest = sha256_file(dest)
    return PlannedPackage(build_id=spec.build_id, source=f"folder {spec.source_dir}", sha256=digest)


def build_plan(params: Any, phases: Sequence[Phase], root: Path) -> Plan:
    """The plan of a run of these (validated, pre-run) parameters and phases in this checkout."""
    from runbook import __version__

    injected = injected_parameters(params)
    kernel = params.execution.kernel_name
    notebooks, planned = {}, []
    for phase in phases:
        nb = normalised_notebook(phase.path(root), injected, kernel)
        notebooks[phase.notebook] = nb
        planned.append(PlannedPhase(name=phase.name, notebook=phase.notebook, sha256=sha256_of(nb)))
    plan = Plan(
        environment=params.environment,
        build_id=params.build_id,
        phases=planned,
        parameters=injected["params"],
        package=_package(params, root),
        runbook={"version": __version__, "code_sha256": code_fingerprint()},
    )
    plan._notebooks = notebooks
    return plan


def plan_hash(params: Any, phases: Sequence[Phase], root: Path) -> str:
    """sha256 identifying what a run of these parameters and phases will do."""
    return build_plan(params, phases, root).sha256


def write_plan(plan: Plan, folder: Path) -> str:
    """Render the plan into folder (plan.json, the normalised notebooks as .ipynb, plan.sha256);
    returns the hash (the CLI prints it)."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    (folder / PLAN_FILE).write_text(
        json.dumps(plan.model_dump(mode="json"), indent=1, ensure_ascii=False, sort_keys=True)
    )
    for name, content in plan._notebooks.items():
        nb = nbformat.v4.new_notebook(
            metadata={
                "kernelspec": {
                    "name": content["kernel_name"],
                    "display_name": content["kernel_name"],
                }
            }
        )
        for cell in content["cells"]:
            make = (
                nbformat.v4.new_code_cell
                if cell["cell_type"] == "code"
                else (nbformat.v4.new_markdown_cell)
            )
            new = make(source=cell["source"])
            if cell["tags"]:
                new.metadata["tags"] = cell["tags"]
            nb.cells.append(new)
        target = folder / "notebooks" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    digest = plan.sha256
    (folder / HASH_FILE).write_text(digest + "\n")
    return digest


# -- approvals -------------------------------------------------------------------------------------
class ApprovalParams(BaseModel):
    """Parameters section `approval`: whether a run needs one, where it is, how old it may be."""

    model_config = ConfigDict(extra="forbid")

    required: bool = Field(True, description="refuse to start without a valid approval")
    file: str | None = Field(
        None,
        description="approval file (relative to the checkout); "
        "`runbook run --approval PATH` overrides",
    )
    max_age_h: float = Field(24, gt=0, description="an approval older than this is stale")
    approvers: list[str] = Field(
        default_factory=list, description="who may approve (empty: anyone)"
    )
    hmac_key: SecretRef | None = Field(
        None, description="approvals must carry an HMAC keyed by this secret"
    )


class Approval(BaseModel):
    """An approval of one plan."""

    model_config = ConfigDict(extra="forbid")

    plan_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    approver: str = Field(min_length=1)
    at: AwareDatetime
    note: str = ""
    signature: str | None = None

    def signed_fields(self) -> dict[str, Any]:
        return {
            "plan_sha256": self.plan_sha256,
            "approver": self.approver,
            "at": self.at.astimezone(UTC).isoformat(),
            "note": self.note,
        }


class ApprovalError(ValueError):
    """An approval file that cannot be read or is not an approval."""


def signature(approval: Approval, key: str) -> str:
    """hmac-sha256 over the approval's canonical signed fields."""
    mac = hmac.new(key.encode(), canonical_json(approval.signed_fields()), hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def create_approval(
    plan_sha256: str,
    approver: str,
    note: str = "",
    *,
    key_ref: SecretRef | None = None,
    at: datetime | None = None,
) -> Approval:
    """A new approval of a plan (signed when a key reference is given)."""
    approval = Approval(
        plan_sha256=plan_sha256, approver=approver, note=note, at=at or datetime.now(UTC)
    )
    if key_ref is not None:
        approval = approval.model_copy(update={"signature": signature(approval, resolve(key_ref))})
    return approval


def save_approval(approval: Approval, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(approval.model_dump(mode="json", exclude_none=True), sort_keys=False)
    )
    return path


def load_approval(path: Path) -> Approval:
    """Read an approval (YAML or JSON); ApprovalError naming the file otherwise."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ApprovalError(f"{path}: cannot read the approval ({exc})") from None
    try:
        return Approval.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ApprovalError(f"{path}: not an approval ({problems})") from None


def verify_approval(
    approval: Approval | None,
    current_plan_hash: str,
    *,
    max_age: timedelta = timedelta(hours=24),
    approvers: Sequence[str] = (),
    key_ref: SecretRef | None = None,
    now: datetime | None = None,
) -> CheckResult:
    """governance.approval: PASS only for an approval of exactly this plan, fresh, by an allowed
    approver, and correctly signed when a key is configured; FAIL (or ERROR: key unavailable)."""
    now = now or datetime.now(UTC)
    common: dict[str, Any] = {
        "id": CHECK_ID,
        "section": SECTION,
        "severity": Severity.BLOCKER,
        "title": "The run was approved, for exactly this plan, recently",
        "threshold": {
            "plan_sha256": current_plan_hash,
            "max_age_h": max_age.total_seconds() / 3600,
            "approvers": list(approvers) or "anyone",
            "signed": key_ref is not None,
        },
    }
    if approval is None:
        return CheckResult(
            **common,
            status=Status.FAIL,
            explanation="no approval was given",
            evidence={"plan_sha256": current_plan_hash},
        )
    record = approval.model_dump(mode="json")
    observed = {
        "plan_sha256": approval.plan_sha256,
        "approver": approval.approver,
        "at": record["at"],
        "age_h": round((now - approval.at).total_seconds() / 3600, 3),
    }
    evidence = {"approval": record, "plan_sha256": current_plan_hash}
    refused = []
    if not hmac.compare_digest(approval.plan_sha256, current_plan_hash):
        refused.append(
            "it approves another plan (plan sha256 "
            f"{approval.plan_sha256[:12]}… ≠ {current_plan_hash[:12]}…): forged, or the "
            "plan changed since it was approved"
        )
    age = now - approval.at
    if age > max_age:
        refused.append(
            f"it is stale: given {age.total_seconds() / 3600:.1f} h ago "
            f"(limit {max_age.total_seconds() / 3600:g} h)"
        )
    elif age < -FUTURE_SKEW:
        refused.append("it is dated in the future")
    if approvers and approval.approver not in approvers:
        refused.append(f"{approval.approver!r} is not an allowed approver")
    if key_ref is not None:
        try:
            key = resolve(key_ref)
        except SecretUnavailable as exc:
            return CheckResult(
                **common,
                status=Status.ERROR,
                observed=observed,
                evidence=evidence,
                explanation=f"cannot check the signature: {exc}",
            )
        if approval.signature is None:
            refused.append("it is not signed, and approvals must be (approval.hmac_key)")
        elif not hmac.compare_digest(approval.signature, signature(approval, key)):
            refused.append("its signature does not verify: forged or edited")
    if refused:
        return CheckResult(
            **common,
            status=Status.FAIL,
            observed=observed,
            evidence=evidence,
            explanation="approval refused: " + "; ".join(refused),
        )
    return CheckResult(
        **common,
        status=Status.PASS,
        observed=observed,
        evidence=evidence,
        explanation=f"approved by {approval.approver} "
        f"{age.total_seconds() / 3600:.1f} h ago" + (f": {approval.note}" if approval.note else ""),
    )


def check_approval(
    settings: ApprovalParams, path: Path | None, current_plan_hash: str, now: datetime | None = None
) -> CheckResult:
    """verify_approval as the `approval` parameters configure it, reading the file at `path`."""
    try:
        approval = load_approval(path) if path is not None else None
    except ApprovalError as exc:
        return CheckResult(
            id=CHECK_ID,
            section=SECTION,
            severity=Severity.BLOCKER,
            title="The run was approved, for exactly this plan, recently",
            status=Status.FAIL,
            explanation=str(exc),
        )
    return verify_approval(
        approval,
        current_plan_hash,
        max_age=timedelta(hours=settings.max_age_h),
        approvers=settings.approvers,
        key_ref=settings.hmac_key,
        now=now,
    )
