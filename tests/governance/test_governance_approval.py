"""Approval bound to the plan: the plan hash is stable and moves with anything that changes
what a run does; a fresh approval of the plan is accepted, a forged, stale, unsigned or
edited one is refused."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from governance_support import ROOT

from runbook.core.checks import Status
from runbook.core.parameters import load
from runbook.core.secret_refs import SecretRef
from runbook.governance.approval import (
    ApprovalError,
    ApprovalParams,
    build_plan,
    check_approval,
    create_approval,
    load_approval,
    plan_hash,
    save_approval,
    verify_approval,
    write_plan,
)
from runbook.orchestration.phase_plan import select

PHASES = ["deploy", "verify", "performance"]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout's parameters, runbooks and release folder (to edit safely)."""
    root = tmp_path_factory.mktemp("checkout")
    for name in [
        "parameters",
        "runbooks",
        "rehearsal/src/rehearsal/samples/releases/release-1.1.0",
    ]:
        shutil.copytree(ROOT / name, root / name)
    return root


def _hash(root: Path, overrides: list[str] | None = None) -> str:
    return plan_hash(load("local", overrides, root).params, select(root, PHASES), root)


def test_the_plan_hash_is_stable_and_moves_with_what_will_run(
    checkout: Path, tmp_path: Path
) -> None:
    base = _hash(checkout)
    assert _hash(checkout) == base
    assert _hash(checkout, ["performance.gates.p95_ms=150"]) != base
    assert (
        plan_hash(load("local", [], checkout).params, select(checkout, PHASES[:2]), checkout)
        != base
    )
    release = checkout / "rehearsal/src/rehearsal/samples/releases/release-1.1.0"
    victim = next(p for p in sorted(release.rglob("*")) if p.is_file())
    original = victim.read_bytes()
    victim.write_bytes(original + b"\n# changed\n")
    try:
        assert _hash(checkout) != base  # the package to deploy is part of the plan
    finally:
        victim.write_bytes(original)
    nb = checkout / "runbooks" / "04_verify.ipynb"
    data = json.loads(nb.read_text())
    for i, cell in enumerate(data["cells"]):  # cell ids and metadata are not what runs
        cell["id"] = f"renamed-{i}"
        cell.setdefault("metadata", {})["collapsed"] = True
    nb.write_text(json.dumps(data))
    assert _hash(checkout) == base
    data["cells"][-1]["source"] = "print('something else')"
    nb.write_text(json.dumps(data))
    assert _hash(checkout) != base
    shutil.copy(ROOT / "runbooks" / "04_verify.ipynb", nb)
    assert _hash(checkout) == base

    plan = build_plan(load("local", [], checkout).params, select(checkout, PHASES), checkout)
    digest = write_plan(plan, tmp_path / "plan")
    assert digest == base == (tmp_path / "plan" / "plan.sha256").read_text().strip()
    written = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert written["parameters"]["target"]["token"] == {"env": "PIXCRAWLER_SANDBOX_TOKEN"}
    assert (tmp_path / "plan" / "notebooks" / "04_verify.ipynb").is_file()
    injected = [
        c
        for c in json.loads((tmp_path / "plan/notebooks/04_verify.ipynb").read_text())["cells"]
        if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    assert len(injected) == 1 and "run_dir" not in "".join(injected[0]["source"])


def test_fresh_approval_accepted_forged_and_stale_refused(tmp_path: Path) -> None:
    plan = "a" * 64
    fresh = create_approval(plan, "tech-lead@pixcrawler", "window Tue 10:00")
    ok = verify_approval(fresh, plan, max_age=timedelta(hours=24))
    assert ok.status is Status.PASS and "tech-lead@pixcrawler" in ok.explanation

    forged = verify_approval(fresh, "b" * 64, max_age=timedelta(hours=24))
    assert forged.status is Status.FAIL and "another plan" in forged.explanation

    old = create_approval(plan, "tech-lead", at=datetime.now(UTC) - timedelta(hours=25))
    stale = verify_approval(old, plan, max_age=timedelta(hours=24))
    assert stale.status is Status.FAIL and "stale" in stale.explanation

    future = create_approval(plan, "tech-lead", at=datetime.now(UTC) + timedelta(hours=2))
    assert verify_approval(future, plan).status is Status.FAIL
    assert verify_approval(None, plan).status is Status.FAIL
    wrong_person = verify_approval(fresh, plan, approvers=["cto"])
    assert wrong_person.status is Status.FAIL and "not an allowed approver" in (
        wrong_person.explanation
    )


def test_approval_files_and_signatures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = "c" * 64
    key = SecretRef(env="GOV_TEST_APPROVAL_KEY")
    monkeypatch.setenv(key.env, "k-" + "9" * 30)
    settings = ApprovalParams(max_age_h=1, hmac_key=key)
    signed = save_approval(create_approval(plan, "cto", "ok", key_ref=key), tmp_path / "a.yaml")
    assert "k-999" not in signed.read_text()
    assert check_approval(settings, signed, plan).status is Status.PASS

    edited = load_approval(signed).model_copy(update={"approver": "intern"})
    save_approval(edited, tmp_path / "edited.yaml")
    result = check_approval(settings, tmp_path / "edited.yaml", plan)
    assert result.status is Status.FAIL and "signature does not verify" in result.explanation

    unsigned = save_approval(create_approval(plan, "cto"), tmp_path / "unsigned.yaml")
    assert "not signed" in check_approval(settings, unsigned, plan).explanation
    assert check_approval(ApprovalParams(), unsigned, plan).status is Status.PASS

    monkeypatch.delenv(key.env)
    assert check_approval(settings, signed, plan).status is Status.ERROR

    naive = f"plan_sha256: {plan}\napprover: x\nat: 2025-01-01 10:00\n"  # no time zone
    (tmp_path / "naive.yaml").write_text(naive)
    with pytest.raises(ApprovalError, match=r"naive\.yaml"):
        load_approval(tmp_path / "naive.yaml")
    assert check_approval(ApprovalParams(), tmp_path / "naive.yaml", plan).status is Status.FAIL
