"""The public face of phase rollback (Rollback Procedure): everything its notebook
`runbooks/07_rollback.ipynb` calls, and nothing else."""

from __future__ import annotations

from runbook.orchestration.notebook import start
from runbook.phases.rollback.decision import decide, previous_monitor_results
from runbook.phases.rollback.execute import execute_rollback

__all__ = ["decide", "execute_rollback", "previous_monitor_results", "start"]
