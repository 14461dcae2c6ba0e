"""Pre-deployment gates: code quality, coverage per layer, documentation, no migrations.

Checklist "Pre-Deployment Checklist" §1–§3 and "Environment Configuration" §2. A notebook
calls one function per step:

    results = run_gates(params, evidence_dir)
    layers = coverage_checks(params, coverage_reports(results, evidence_dir))
    coverage_chart(layers)
    documentation_checks(params)
    migration_check(params)
"""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "CoverageLayer": "runbook.gates.params",
    "DEFECTS": "runbook.gates.sample",
    "DocumentSpec": "runbook.gates.params",
    "Gate": "runbook.gates.params",
    "PreDeploymentParams": "runbook.gates.params",
    "SampleRepo": "runbook.gates.sample",
    "coverage_chart": "runbook.gates.layer_coverage",
    "coverage_checks": "runbook.gates.layer_coverage",
    "coverage_reports": "runbook.gates.layer_coverage",
    "documentation_checks": "runbook.gates.documentation",
    "materialize_sample": "runbook.gates.sample",
    "migration_check": "runbook.gates.migrations",
    "run_gate": "runbook.gates.runner",
    "run_gates": "runbook.gates.runner",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
