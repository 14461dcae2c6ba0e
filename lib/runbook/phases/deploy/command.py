"""Development deploy (Deployment Steps §1.1): run one command, argv list, no shell."""

from __future__ import annotations

import subprocess
import time

from runbook.core.checks import CheckResult, Status
from runbook.phases.deploy.params import DeployParams
from runbook.phases.deploy.results import deploy_result

TAIL = 4000


def command_deploy(params: DeployParams) -> CheckResult:
    """Run params.command; PASS on exit 0, FAIL otherwise, ERROR if it cannot start or times out."""
    title = params.labels.deployed
    spec = params.command
    if spec is None:
        return deploy_result(params, "command", title, Status.ERROR,
                             explanation="no command is configured")  # fmt: skip
    evidence: dict = {"argv": spec.argv, "cwd": spec.cwd, "timeout_s": spec.timeout}
    began = time.monotonic()
    try:
        done = subprocess.run(
            spec.argv, cwd=spec.cwd, capture_output=True, text=True, timeout=spec.timeout,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        evidence["stdout_tail"] = _tail(exc.stdout)
        evidence["stderr_tail"] = _tail(exc.stderr)
        return deploy_result(
            params, "command", title, Status.ERROR, evidence=evidence,
            threshold=f"exit code 0 within {spec.timeout:g} s",
            explanation=f"the command did not finish within {spec.timeout:g} s",
        )  # fmt: skip
    except OSError as exc:
        return deploy_result(params, "command", title, Status.ERROR, evidence=evidence,
                             explanation=f"the command could not start: {exc}")  # fmt: skip
    seconds = round(time.monotonic() - began, 3)
    evidence.update(exit_code=done.returncode, seconds=seconds,
                    stdout_tail=_tail(done.stdout), stderr_tail=_tail(done.stderr))  # fmt: skip
    status = Status.PASS if done.returncode == 0 else Status.FAIL
    return deploy_result(
        params, "command", title, status,
        observed={"exit_code": done.returncode, "seconds": seconds}, threshold="exit code 0",
        explanation=f"`{' '.join(spec.argv)}` exited {done.returncode} after {seconds} s",
        evidence=evidence,
    )  # fmt: skip


def _tail(text: str | bytes | None) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text[-TAIL:]
