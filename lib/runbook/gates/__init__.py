"""Pre-deployment gates: code quality, coverage per layer, documentation, no migrations.

Checklist "Pre-Deployment Checklist" §1–§3 and "Environment Configuration" §2. A notebook
calls one function per step:

    results = run_gates(params, evidence_dir)
    layers = coverage_checks(params, coverage_reports(results, evidence_dir))
    coverage_chart(layers)
    documentation_checks(params)
    migration_check(params)
"""

from runbook.gates.documentation import documentation_checks
from runbook.gates.layer_coverage import coverage_chart, coverage_checks, coverage_reports
from runbook.gates.migrations import migration_check
from runbook.gates.params import CoverageLayer, DocumentSpec, Gate, PreDeploymentParams
from runbook.gates.runner import run_gate, run_gates
from runbook.gates.sample import DEFECTS, SampleRepo, materialize_sample

__all__ = [
    "DEFECTS",
    "CoverageLayer",
    "DocumentSpec",
    "Gate",
    "PreDeploymentParams",
    "SampleRepo",
    "coverage_chart",
    "coverage_checks",
    "coverage_reports",
    "documentation_checks",
    "materialize_sample",
    "migration_check",
    "run_gate",
    "run_gates",
]
