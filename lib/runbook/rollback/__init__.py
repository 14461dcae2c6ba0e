"""The rollback phase ("Rollback Procedures"): decide from evidence whether to roll back, roll
back (only when allowed) and verify it, and leave the post-rollback actions for sign-off."""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "CriterionRow": "runbook.rollback.decision",
    "FunctionalityCriterion": "runbook.rollback.params",
    "MetricCriterion": "runbook.rollback.params",
    "MonitorEvidence": "runbook.rollback.params",
    "RollbackCriteria": "runbook.rollback.params",
    "RollbackDecision": "runbook.rollback.decision",
    "RollbackMetrics": "runbook.rollback.params",
    "RollbackParams": "runbook.rollback.params",
    "RollbackPlan": "runbook.rollback.execute",
    "SecurityFlag": "runbook.rollback.params",
    "SourceRef": "runbook.rollback.sources",
    "decide": "runbook.rollback.decision",
    "earlier_runs": "runbook.rollback.sources",
    "execute_rollback": "runbook.rollback.execute",
    "plan_rollback": "runbook.rollback.execute",
    "post_rollback_actions": "runbook.rollback.execute",
    "previous_monitor_results": "runbook.rollback.decision",
    "read_values": "runbook.rollback.sources",
    "verify_functionality": "runbook.rollback.execute",
    "verify_metrics": "runbook.rollback.execute",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
