"""The public face of phase post_deployment (Post-Deployment Tasks): everything its notebook
`runbooks/08_post_deployment.ipynb` calls, and nothing else."""

from __future__ import annotations

from runbook.core.evidence_queries import earlier_runs
from runbook.governance.settlement import settle_inconclusive
from runbook.governance.signoff import signoff_phase
from runbook.orchestration.notebook import start
from runbook.phases.post_deployment.baseline import baseline_checks

__all__ = ["baseline_checks", "earlier_runs", "settle_inconclusive", "signoff_phase", "start"]
