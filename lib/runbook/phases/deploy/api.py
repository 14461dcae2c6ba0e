"""The public face of phase deploy (Deployment Steps: deploy): everything its notebook
`runbooks/03_deploy.ipynb` calls, and nothing else."""

from __future__ import annotations

from runbook.governance.signoff import signoff_phase, stop_if_pending
from runbook.orchestration.notebook import start
from runbook.phases.deploy.downtime import timeline_figure
from runbook.phases.deploy.planning import plan
from runbook.phases.deploy.sequence import run_deploy
from runbook.phases.monitoring import schedule

__all__ = [
    "plan",
    "run_deploy",
    "schedule",
    "signoff_phase",
    "start",
    "stop_if_pending",
    "timeline_figure",
]
