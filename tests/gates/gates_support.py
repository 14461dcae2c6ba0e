"""Helpers of the gate tests: run every pre-deployment check on a materialized sample."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rehearsal.sample_repo import SampleRepo
from runbook.core.checks import CheckResult
from runbook.phases.pre_deployment.gates.documentation import documentation_checks
from runbook.phases.pre_deployment.gates.layer_coverage import coverage_checks, coverage_reports
from runbook.phases.pre_deployment.gates.migrations import migration_check
from runbook.phases.pre_deployment.gates.params import PreDeploymentParams, checklist_gates
from runbook.phases.pre_deployment.gates.runner import run_gates


@dataclass
class SampleRun:
    """Everything the checks said about one materialized sample."""

    sample: SampleRepo
    params: PreDeploymentParams
    evidence_dir: Path
    results: dict[str, CheckResult]


def sample_params(sample: SampleRepo, mypy_cache: Path, worktrees: Path) -> PreDeploymentParams:
    """Checklist defaults, with mypy's cache kept outside the sample (and shareable) and the
    scratch worktrees in a test folder."""
    gates = [
        g.model_copy(update={"env": {"MYPY_CACHE_DIR": str(mypy_cache)}}) if g.kind == "mypy" else g
        for g in checklist_gates()
    ]
    return sample.params(gates=gates, worktree_cache=worktrees)


def run_all_checks(sample: SampleRepo, work: Path, mypy_cache: Path) -> SampleRun:
    """Every pre-deployment check of this part, on one sample."""
    params = sample_params(sample, mypy_cache, work / "worktrees")
    evidence = work / "evidence"
    results = run_gates(params, evidence)
    results += coverage_checks(params, coverage_reports(results, evidence))
    results += documentation_checks(params)
    results.append(migration_check(params))
    return SampleRun(sample, params, evidence, {r.id: r for r in results})
