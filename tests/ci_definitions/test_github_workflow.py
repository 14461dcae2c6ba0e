"""`.github/workflows/runbook.yml`: actionlint finds nothing in it and does find the faults of a
broken copy; it runs staging per release candidate with a matrix, production behind the
`production` environment with its approver recorded, evidence and summaries even on failure;
and what it passes to the runbook validates against the shipped parameter files."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbook.core.parameters import load

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "runbook.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return data


def test_actionlint_finds_nothing(actionlint: Callable[..., dict[str, list[Any]]]) -> None:
    findings = actionlint([WORKFLOW])[str(WORKFLOW)]
    assert findings == [], "\n".join(f"{f['line']}:{f['column']} {f['message']}" for f in findings)


def test_actionlint_catches_a_broken_copy(
    actionlint: Callable[..., dict[str, list[Any]]], tmp_path: Path
) -> None:
    text = WORKFLOW.read_text()
    broken = (
        text.replace("needs: staging # promotion", "needs: stagin # promotion")
        .replace("path: fleet.html", "pth: fleet.html")
        .replace("${{ matrix.env }}/\n", "${{ matrix.environment }}/\n")
    )
    assert broken != text
    copy = tmp_path / "runbook.yml"
    copy.write_text(broken)
    messages = [f["message"] for f in actionlint([copy])[str(copy)]]
    assert any('needs job "stagin" which does not exist' in m for m in messages), messages
    assert any('input "pth" is not defined' in m for m in messages), messages
    assert any('property "environment" is not defined' in m for m in messages), messages


def test_staging_per_release_candidate_and_a_matrix(workflow: dict[Any, Any]) -> None:
    on = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert on["push"]["tags"] == ["v*-rc*"]
    staging = workflow["jobs"]["staging"]
    assert staging["strategy"]["fail-fast"] is False
    assert staging["strategy"]["matrix"]["env"] == ["staging"]
    fleet = workflow["jobs"]["fleet"]
    assert fleet["needs"] == "staging" and fleet["if"] == "always()"
    assert any("runbook summary fleet" in s.get("run", "") for s in fleet["steps"])


def test_production_waits_for_its_environment_and_records_the_approver(
    workflow: dict[Any, Any],
) -> None:
    production = workflow["jobs"]["production"]
    assert production["environment"] == "production"
    assert production["needs"] == "staging"
    runs = [s.get("run", "") for s in production["steps"]]
    assert any("actions/runs/$GITHUB_RUN_ID/approvals" in r for r in runs)
    assert any('echo "RUNBOOK_CI_APPROVER=$approver" >> "$GITHUB_ENV"' in r for r in runs)
    assert any('--by "$RUNBOOK_CI_APPROVER"' in r for r in runs)
    assert "approver_env: RUNBOOK_CI_APPROVER" in production["env"]["SIGNOFF"]


def test_evidence_and_summary_survive_a_failed_verdict(workflow: dict[Any, Any]) -> None:
    for name in ("staging", "production"):
        steps = workflow["jobs"][name]["steps"]
        run = next(s for s in steps if str(s.get("name", "")).startswith("runbook run"))
        assert "continue-on-error" not in run  # the verdict is the job's status
        assert "uv run runbook run" in run["run"]
        upload = next(s for s in steps if s.get("uses") == "actions/upload-artifact@v4")
        summary = next(s for s in steps if s.get("name") == "job summary")
        assert upload["if"] == "always()" and summary["if"] == "always()"
        assert '--markdown >> "$GITHUB_STEP_SUMMARY"' in summary["run"]


def _ci_params(value: str) -> str:
    """A workflow's parameter value with its expressions filled in as a run would."""
    return re.sub(r"\$\{\{[^}]*\}\}", "x", value)


def test_what_it_passes_validates_with_the_shipped_parameters(workflow: dict[Any, Any]) -> None:
    notify = _ci_params(workflow["env"]["NOTIFY"])
    signoff = _ci_params(workflow["jobs"]["production"]["env"]["SIGNOFF"])
    common = ['build_id="abc123"', "deploy.package.path=backend.zip", notify]
    staging = load("staging", common, ROOT).params
    assert staging.notify is not None and staging.notify.teams is not None
    production = load("production", [*common, signoff], ROOT).params
    assert production.signoff is not None and production.signoff.ci is not None
    assert production.signoff.ci.items == ["team-notified", "deployment-window", "rollback-plan"]
