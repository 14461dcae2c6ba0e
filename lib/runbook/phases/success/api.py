"""The public face of phase success (Success Criteria): everything its notebook
`runbooks/09_success_criteria.ipynb` calls, and nothing else."""

from __future__ import annotations

from runbook.orchestration.notebook import start
from runbook.phases.rollback.decision import previous_monitor_results
from runbook.phases.rollback.params import RollbackParams
from runbook.phases.success.criteria import success_verdict

__all__ = ["RollbackParams", "previous_monitor_results", "start", "success_verdict"]
