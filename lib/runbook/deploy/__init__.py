"""The deploy phase (Deployment Steps §1.1, §2.1, §3.2): package, Kudu zip deploy, restart,
health, slot swap, and a zero-downtime probe running through all of it.
"""

from runbook.lazy_exports import lazy_exports

_EXPORTS = {
    "ChecklistLabels": "runbook.deploy.params",
    "CommandParams": "runbook.deploy.params",
    "DeployParams": "runbook.deploy.params",
    "DeployPlan": "runbook.deploy.planning",
    "DeployRun": "runbook.deploy.sequence",
    "HealthParams": "runbook.deploy.params",
    "KuduParams": "runbook.deploy.params",
    "PackageBuild": "runbook.deploy.package",
    "PackageInfo": "runbook.deploy.package",
    "PackageParams": "runbook.deploy.params",
    "ProbeMark": "runbook.deploy.downtime",
    "ProbeParams": "runbook.deploy.params",
    "ProbeRecord": "runbook.deploy.downtime",
    "ZeroDowntimeProbe": "runbook.deploy.downtime",
    "attach_slot_sandboxes": "runbook.deploy.rehearsal",
    "build_package": "runbook.deploy.package",
    "command_deploy": "runbook.deploy.command",
    "current_deployment": "runbook.deploy.app_service",
    "judge_health": "runbook.deploy.health",
    "list_deployments": "runbook.deploy.app_service",
    "plan": "runbook.deploy.planning",
    "record_deployment": "runbook.deploy.app_service",
    "restart": "runbook.deploy.app_service",
    "run_deploy": "runbook.deploy.sequence",
    "scm_host": "runbook.deploy.zipdeploy",
    "StartParams": "runbook.deploy.params",
    "start_app": "runbook.deploy.local_app",
    "stop_started_apps": "runbook.deploy.local_app",
    "start_slot_sandboxes": "runbook.deploy.rehearsal",
    "swap": "runbook.deploy.app_service",
    "timeline_figure": "runbook.deploy.downtime",
    "wait_healthy": "runbook.deploy.health",
    "zip_deploy": "runbook.deploy.zipdeploy",
    "zip_folder": "runbook.deploy.package",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
