"""Print who approved this pipeline run's environment check, from the JSON of Azure DevOps'
Approvals REST API (`_apis/pipelines/approvals?$expand=steps`) on standard input; nothing
when no approval of the run is approved (the pipeline step then fails: fail closed).

Usage: curl … | python3 ci/azure/approver.py BUILD_ID
"""

from __future__ import annotations

import json
import sys
from typing import Any


def approver(data: dict[str, Any], build_id: str) -> str:
    """The unique name of the last approver of an approved approval of run `build_id`."""
    names = []
    for approval in data.get("value", []):
        owner = (approval.get("pipeline") or {}).get("owner") or {}
        if str(owner.get("id")) != build_id or approval.get("status") != "approved":
            continue
        for step in approval.get("steps", []):
            who = step.get("actualApprover") or step.get("assignedApprover") or {}
            if step.get("status") == "approved" and who.get("uniqueName"):
                names.append(str(who["uniqueName"]))
    return names[-1] if names else ""


if __name__ == "__main__":
    print(approver(json.load(sys.stdin), sys.argv[1]))
