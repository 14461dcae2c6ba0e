"""Governance through the CLI, as a reviewer uses it: plan -> approve -> run, the promotion
gate at run time, and `verify --chain` over a real history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

APPROVAL = "approval.required=true"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PIXCRAWLER_SANDBOX_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_a_run_needs_an_approval_of_exactly_its_plan(tmp_path: Path) -> None:
    out = str(tmp_path / "outputs")
    refused = cli(
        "run", "--env", "local", "--phase", "verify", "--param", APPROVAL, "--outputs", out
    )
    assert refused.returncode == 2 and "approval refused" in refused.stderr

    plan = cli(
        "plan",
        "--env",
        "local",
        "--phase",
        "verify",
        "--param",
        APPROVAL,
        "--out",
        str(tmp_path / "plan"),
    )
    digest = plan.stdout.strip().splitlines()[-1]
    assert plan.returncode == 0 and len(digest) == 64

    forged = tmp_path / "forged.yaml"
    cli("approve", "--env", "local", "0" * 64, "--by", "mallory", "--out", str(forged))
    bad = cli(
        "run",
        "--env",
        "local",
        "--phase",
        "verify",
        "--param",
        APPROVAL,
        "--approval",
        str(forged),
        "--outputs",
        out,
    )
    assert bad.returncode == 2 and "approval refused" in bad.stderr

    good = tmp_path / "approval.yaml"
    assert (
        cli("approve", "--env", "local", digest, "--by", "alice", "--out", str(good)).returncode
        == 0
    )
    ok = cli(
        "run",
        "--env",
        "local",
        "--phase",
        "verify",
        "--param",
        APPROVAL,
        "--approval",
        str(good),
        "--outputs",
        out,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    run_dir = Path(ok.stdout.strip().splitlines()[-1].split(": ", 1)[1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["plan_sha256"] == digest
    approval = next(r for r in manifest["results"] if r["id"] == "governance.approval")
    assert approval["status"] == "pass"

    # a different plan (another parameter) is not covered by that approval
    other = cli(
        "run",
        "--env",
        "local",
        "--phase",
        "verify",
        "--param",
        APPROVAL,
        "--param",
        "target.timeout_s=9",
        "--approval",
        str(good),
        "--outputs",
        out,
    )
    assert other.returncode == 2 and "approval refused" in other.stderr


def test_promotion_needs_fresh_evidence_or_a_recorded_override(tmp_path: Path) -> None:
    out = str(tmp_path / "outputs")
    gate = (
        "--param",
        "promotion.from_environments=[staging]",
        "--param",
        "promotion.require_phases=[verify]",
        "--param",
        "build_id=b-42",
    )
    refused = cli("run", "--env", "local", "--phase", "verify", *gate, "--outputs", out)
    assert refused.returncode == 2 and "promotion gate" in refused.stderr

    overridden = cli(
        "run",
        "--env",
        "local",
        "--phase",
        "verify",
        *gate,
        "--outputs",
        out,
        "--override-promotion",
        "alice",
        "staging is down for maintenance",
    )
    assert overridden.returncode == 0, overridden.stderr[-2000:]
    run_dir = Path(overridden.stdout.strip().splitlines()[-1].split(": ", 1)[1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "alice" in json.dumps(manifest["promotion"])
    assert "maintenance" in json.dumps(manifest["promotion"])

    chain_ok = cli("verify", "--chain", "local", "--outputs", out)
    assert chain_ok.returncode == 0, chain_ok.stdout
    manifest_path = run_dir / "manifest.json"
    manifest_path.write_text(manifest_path.read_text().replace('"GO"', '"GO "', 1))
    broken = cli("verify", "--chain", "local", "--outputs", out)
    assert broken.returncode == 1 and run_dir.name in broken.stdout
