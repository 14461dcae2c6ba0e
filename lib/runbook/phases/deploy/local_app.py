"""Development deploy (Deployment Steps §1.1): start the app from the target's checkout in its
own environment (`cd backend && uv run uvicorn backend.main:app`), wait until it answers, and
read its log. The process outlives the deploy notebook's kernel (its own session) so the later
phases can look at it; the run stops it at the end (`stop_started_apps`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from runbook.core.checks import CheckResult, Status
from runbook.core.secret_refs import SecretRef, SecretUnavailable, resolve
from runbook.phases.deploy.params import DeployParams, StartParams
from runbook.phases.deploy.results import deploy_result

PROCESS_FILE = "app-process.json"
LOG_FILE = "app.log"


def app_environment(spec: StartParams) -> dict[str, str]:
    """The app's process environment: a clean one, as the gates get (never the runbook's venv,
    kernel or secrets), plus `spec.env_passthrough` by name and `spec.env` (secret references
    resolved here, never recorded)."""
    from runbook.phases.pre_deployment.gates.clean_env import gate_environment

    extra = {
        name: resolve(value) if isinstance(value, SecretRef) else value
        for name, value in spec.env.items()
    }
    return gate_environment(extra, spec.env_passthrough)


def _argv(spec: StartParams, base_url: str) -> list[str]:
    url = urlsplit(base_url)
    port = str(url.port or (443 if url.scheme == "https" else 80))
    return [
        a.replace("{host}", url.hostname or "127.0.0.1").replace("{port}", port) for a in spec.argv
    ]


def address_in_use(base_url: str) -> bool:
    """True when something already accepts connections at the URL's host and port."""
    url = urlsplit(base_url)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=1):
            return True
    except OSError:
        return False


def start_app(params: DeployParams, workdir: Path) -> tuple[CheckResult, subprocess.Popen | None]:
    """Start the app (PASS: started; ERROR: could not start or something else already answers
    at its address). Its output goes to `workdir/app.log`; `workdir/app-process.json` records
    the process so the run can stop it."""
    spec, base = params.start, params.app_url("production")
    title = params.labels.started
    if spec is None or base is None:
        return deploy_result(
            params,
            "start",
            title,
            Status.ERROR,
            explanation="method 'start' needs 'start' and a target URL",
        ), None
    cwd = Path(spec.repo or ".") / spec.cwd
    argv = _argv(spec, base)
    evidence: dict[str, Any] = {
        "argv": argv,
        "cwd": str(cwd),
        "log": f"evidence/{workdir.name}/{LOG_FILE}",
        "env_names": sorted(spec.env),
    }
    if address_in_use(base):
        return deploy_result(
            params,
            "start",
            title,
            Status.ERROR,
            evidence=evidence,
            explanation=f"something already answers at {base}: stop it first, or the checks "
            "would look at that process instead of this checkout",
        ), None
    if not cwd.is_dir():
        return deploy_result(
            params,
            "start",
            title,
            Status.ERROR,
            evidence=evidence,
            explanation=f"the app's folder {cwd} does not exist",
        ), None
    try:
        env = app_environment(spec)
    except SecretUnavailable as exc:
        return deploy_result(
            params,
            "start",
            title,
            Status.INCONCLUSIVE,
            evidence=evidence,
            explanation=f"cannot start the app: {exc}",
        ), None
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / LOG_FILE).open("wb")
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        return deploy_result(
            params,
            "start",
            title,
            Status.ERROR,
            evidence=evidence,
            explanation=f"`{' '.join(argv)}` could not start: {exc}",
        ), None
    finally:
        log.close()
    (workdir / PROCESS_FILE).write_text(
        json.dumps({"pid": proc.pid, "argv": argv}), encoding="utf-8"
    )
    evidence["pid"] = proc.pid
    return deploy_result(
        params,
        "start",
        title,
        Status.PASS,
        observed={"pid": proc.pid},
        evidence=evidence,
        explanation=f"started `{' '.join(argv)}` in {cwd}",
    ), proc


def still_running(params: DeployParams, proc: subprocess.Popen, workdir: Path) -> CheckResult:
    """ "All services started successfully": the process is still alive after the health wait."""
    code = proc.poll()
    if code is None:
        return deploy_result(
            params,
            "running",
            params.labels.started,
            Status.PASS,
            observed="running",
            threshold="running",
            explanation=f"the app (pid {proc.pid}) is running",
        )
    return deploy_result(
        params,
        "running",
        params.labels.started,
        Status.FAIL,
        observed=f"exited {code}",
        threshold="running",
        explanation=f"the app exited with code {code}: {_tail(workdir / LOG_FILE)}",
    )


def docs_checks(params: DeployParams) -> list[CheckResult]:
    """ "API documentation accessible": each of `start.doc_pages` answers 200 with HTML (JSON
    for a .json page, which must also be an OpenAPI document)."""
    spec, base = params.start, params.app_url("production")
    pages = spec.doc_pages if spec else ["/docs"]
    return [_page_check(params, f"{base}{page}", page) for page in pages]


def _page_check(params: DeployParams, url: str, page: str) -> CheckResult:
    key = "docs." + (page.strip("/").replace("/", "-").replace(".", "-") or "root")
    title = f"API documentation accessible: {page}"
    wants_json = page.endswith(".json")
    threshold = f"HTTP 200 {'OpenAPI JSON' if wants_json else 'HTML'}"
    try:
        answer = httpx.get(url, timeout=params.health.request_timeout)
    except httpx.HTTPError as exc:
        return deploy_result(
            params,
            key,
            title,
            Status.ERROR,
            threshold=threshold,
            explanation=f"no answer from {url}: {exc}",
        )
    kind = answer.headers.get("content-type", "")
    ok = answer.status_code == 200 and ("json" in kind if wants_json else "html" in kind)
    if ok and wants_json:
        try:
            ok = "openapi" in answer.json()
        except ValueError:
            ok = False
    return deploy_result(
        params,
        key,
        title,
        Status.PASS if ok else Status.FAIL,
        observed={"status": answer.status_code, "content_type": kind},
        threshold=threshold,
        explanation=f"{page} answered {answer.status_code} {kind}",
    )


def log_check(params: DeployParams, workdir: Path) -> CheckResult:
    """ "No errors in logs": the app's log, from its first byte, has no line matching
    `start.error_pattern` (the first few quoted with the run's secrets masked)."""
    from runbook.core.logscan import LogCheckSpec, LogScanParams, log_errors_check
    from runbook.core.secret_refs import resolved_values

    spec = params.start or StartParams()
    check = LogCheckSpec(
        id=f"{params.id_prefix}.logs",
        section=params.labels.section,
        title="No errors in logs",
        what="the app's log",
    )
    scan = LogScanParams(error_pattern=spec.error_pattern)  # an empty log proves nothing
    return log_errors_check(
        check,
        workdir / LOG_FILE,
        scan,
        secrets=resolved_values(spec),
        shown_path=f"evidence/{workdir.name}/{LOG_FILE}",
    )


def stop_started_apps(run_dir: Path, grace_s: float = 10.0) -> list[int]:
    """Stop every app a deploy of this run started (SIGTERM to its session, then SIGKILL)."""
    stopped = []
    for record in run_dir.glob(f"evidence/*/{PROCESS_FILE}"):
        try:
            pid = int(json.loads(record.read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, KeyError):
            continue
        if _signal(pid, signal.SIGTERM):
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            _signal(pid, signal.SIGKILL)
            stopped.append(pid)
    return stopped


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pid, sig)  # the app leads its own session: its workers go with it
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"
