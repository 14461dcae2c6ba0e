"""The public face of phase verify (smoke, integration, security sweep): everything its notebook
`runbooks/04_verify.ipynb` calls, and nothing else."""

from __future__ import annotations

from runbook.orchestration.notebook import start
from runbook.phases.verify.integration import run_all
from runbook.phases.verify.smoke import SmokeParams, SmokeSession
from runbook.phases.verify.unauth_sweep import sweep

__all__ = ["SmokeParams", "SmokeSession", "run_all", "start", "sweep"]
