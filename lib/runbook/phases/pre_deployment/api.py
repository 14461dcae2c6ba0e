"""The public face of phase pre_deployment (Pre-Deployment Checklist): everything its notebook
`runbooks/01_pre_deployment.ipynb` calls, and nothing else."""

from __future__ import annotations

from runbook.core.checklist import team_checklist_check
from runbook.orchestration.notebook import start
from runbook.phases.pre_deployment.contract.checks import (
    check_compatibility,
    import_schema_check,
    schema_checks,
)
from runbook.phases.pre_deployment.contract.schema_source import generate_schema
from runbook.phases.pre_deployment.gates.documentation import documentation_checks
from runbook.phases.pre_deployment.gates.layer_coverage import (
    coverage_chart,
    coverage_checks,
    coverage_reports,
)
from runbook.phases.pre_deployment.gates.runner import run_gates
from runbook.phases.pre_deployment.gates.utility_compat import utility_compat_check

__all__ = [
    "check_compatibility",
    "coverage_chart",
    "coverage_checks",
    "coverage_reports",
    "documentation_checks",
    "generate_schema",
    "import_schema_check",
    "run_gates",
    "schema_checks",
    "start",
    "team_checklist_check",
    "utility_compat_check",
]
