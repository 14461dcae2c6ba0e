"""The local stand-ins a rehearsal needs: the PixCrawler sandbox and the Azure stand-in.

`start_local_services` starts what the parameters ask for, gives each a fresh token through
the environment variable its secret reference names, and returns parameters that point at
them. Real environments have neither section, so nothing starts.
"""

from __future__ import annotations

import os
import secrets as _random
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.params import ParameterError, Parameters


@dataclass
class LocalServices:
    """Handles of what was started (for request logs and fault knobs)."""

    sandbox: Any = None
    standin: Any = None
    slot_sandboxes: dict[str, Any] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)


def start_local_services(params: Parameters, stack: ExitStack, say: Callable[[str], None],
                         uses: set[str] | None = None) -> tuple[Parameters, LocalServices]:
    """Start the configured stand-ins (stopped when `stack` closes); return re-pointed params.
    `uses` limits the Azure stand-in ("azure") and the sample repository ("sample") to runs
    whose phases need them; None starts everything configured."""
    services = LocalServices()
    if params.local_environment:
        if params.sandbox is None:
            raise ParameterError(["'local_environment' is only allowed in a file that also "
                                  "configures the local 'sandbox' (it holds rehearsal values)"])
        for name, value in params.local_environment.items():
            os.environ.setdefault(name, value)
    if params.sandbox is not None:
        from runbook.sandbox.server import start_sandbox

        token_env = params.target.token.env
        # the sandbox accepts the token already exported under that name, else a fresh one
        os.environ[token_env] = os.environ.get(token_env) or _random.token_urlsafe(24)
        say(f"starting the local sandbox (version {params.sandbox.version}) …")
        services.sandbox = stack.enter_context(
            start_sandbox(params.sandbox, os.environ[token_env], token_env=token_env))
        params = params.model_copy(update={"target": params.target.model_copy(
            update={"base_url": services.sandbox.url})})
        services.started.append(f"sandbox at {services.sandbox.url}")
    everything = {"azure", "sample", "workers"}
    wanted = everything if uses is None else uses
    if params.azure_standin is not None and "azure" in wanted:
        slot_urls = _start_slot_sandboxes(params, services, stack)
        params, services.standin = _start_standin(params, stack, slot_urls)
        services.started.append(f"Azure stand-in at {services.standin.url}")
    if params.workers is not None and params.sandbox is not None and "workers" in wanted:
        from runbook.workers.local import start_rehearsal_workers

        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-workers-")))
        start_rehearsal_workers(params.workers, stack, folder, exercise_tasks=3)
        services.started.append("redis-server and a Celery worker (rehearsal)")
    if params.sample_target is not None and "sample" in wanted:
        params = _materialize_sample(params, stack)
        services.started.append(f"sample target repository in {params.pre_deployment.repo}"
                                + (f" with defects {params.sample_target.defects}"
                                   if params.sample_target.defects else ""))
    for line in services.started:
        say(f"started {line}")
    return params, services


def _materialize_sample(params: Parameters, stack: ExitStack) -> Parameters:
    from runbook.gates.sample import materialize_sample

    if params.pre_deployment is None:
        raise ParameterError(["'sample_target' needs a 'pre_deployment' section to point at it"])
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-sample-")))
    try:
        sample = materialize_sample(workdir / "pixcrawler", params.sample_target.defects)
    except ValueError as exc:
        raise ParameterError([f"sample_target.defects: {exc}"]) from None
    pre = params.pre_deployment.model_copy(update={"repo": sample.path,
                                                   "base_ref": sample.base_ref})
    return params.model_copy(update={"pre_deployment": pre})


def _start_slot_sandboxes(params: Parameters, services: LocalServices,
                          stack: ExitStack) -> dict[str, str]:
    """For a zip deploy rehearsal: the sandbox already started plays the production slot, one
    more sandbox per deployment slot plays that slot. Returns slot -> URL."""
    if services.sandbox is None or params.deploy is None or params.deploy.method != "zip":
        return {}
    from runbook.deploy.rehearsal import start_slot_sandboxes

    slots = [s for s in [params.azure.slot if params.azure else None,
                         params.deploy.target_slot] if s and s != "production"]
    token_env = params.target.token.env
    extra = start_slot_sandboxes(params.sandbox, os.environ[token_env], token_env,
                                 slots=tuple(dict.fromkeys(slots)))
    for handle in extra.values():
        stack.enter_context(handle)
    services.slot_sandboxes = extra
    services.started += [f"sandbox for slot {s} at {h.url}" for s, h in extra.items()]
    return {"production": services.sandbox.url, **{s: h.url for s, h in extra.items()}}


def _start_standin(params: Parameters, stack: ExitStack,
                   slot_urls: dict[str, str]) -> tuple[Parameters, Any]:
    from runbook.azure_standin import start_standin
    from runbook.deploy.rehearsal import attach_slot_sandboxes

    azure = params.azure
    if azure is None or azure.credential.kind != "static-token" or azure.credential.token is None:
        raise ParameterError(["'azure_standin' needs 'azure.credential' to be "
                              "{kind: static-token, token: {env: NAME}}"])
    token_env = azure.credential.token.env
    os.environ[token_env] = os.environ.get(token_env) or _random.token_urlsafe(24)
    config = params.azure_standin.model_copy(update={"accept_token_env": token_env})
    if slot_urls:
        config = attach_slot_sandboxes(config, azure.site, slot_urls)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-standin-")))
    handle = stack.enter_context(start_standin(config, workdir))
    azure = azure.model_copy(update={"arm_endpoint": handle.url.rstrip("/"),
                                     "ca_bundle": str(handle.ca_bundle)})
    update: dict[str, Any] = {"azure": azure}
    if params.deploy is not None and params.deploy.method == "zip":
        kudu = params.deploy.kudu.model_copy(
            update={"scm_url": f"{handle.url.rstrip('/')}/{{scm_host}}"})
        update["deploy"] = params.deploy.model_copy(
            update={"kudu": kudu, "app_urls": {**params.deploy.app_urls, **slot_urls}})
    if params.monitor is not None and params.monitor.logs is not None:
        logs = params.monitor.logs.model_copy(update={"endpoint": handle.url.rstrip("/")})
        update["monitor"] = params.monitor.model_copy(update={"logs": logs})
    return params.model_copy(update=update), handle
