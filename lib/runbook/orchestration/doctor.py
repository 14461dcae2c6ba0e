"""`runbook doctor --env NAME`: every prerequisite of a run of that environment, checked before
the run and reported all at once, each problem with its fix. Nothing is changed; secret values
are resolved to test them and never shown.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from runbook.core.parameters import Parameters
from runbook.core.secret_refs import SecretUnavailable, iter_refs, resolve


@dataclass(frozen=True)
class Finding:
    """One prerequisite: met or not, what was seen, and how to fix it when not."""

    ok: bool
    what: str
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        mark = "ok  " if self.ok else "FAIL"
        out = [f"{mark} {self.what}: {self.detail}"]
        if not self.ok and self.fix:
            out.append(f"     fix: {self.fix}")
        return out


def _ok(what: str, detail: str) -> Finding:
    return Finding(True, what, detail)


def _bad(what: str, detail: str, fix: str) -> Finding:
    return Finding(False, what, detail, fix)


def _repo(params: Parameters, root: Path) -> Path | None:
    pre = params.pre_deployment
    if pre is None:
        return None
    return pre.repo if pre.repo.is_absolute() else root / pre.repo


def check_repository(params: Parameters, root: Path) -> list[Finding]:
    """The target repository is a git checkout and its base ref resolves."""
    repo = _repo(params, root)
    if repo is None:
        return []
    what = "target repository"
    if not repo.is_dir():
        return [
            _bad(
                what,
                f"{repo} is not a folder",
                f"clone the target there, or set pre_deployment.repo in "
                f"parameters/{params.environment}.yaml (or --param pre_deployment.repo=PATH)",
            )
        ]
    head = _commit(repo, "HEAD")
    if head is None:
        return [
            _bad(
                what,
                f"{repo} is not a git repository with a commit",
                "point pre_deployment.repo at the checkout's top folder",
            )
        ]
    out = [_ok(what, f"{repo} at {head[:12]}")]
    base = params.pre_deployment.base_ref if params.pre_deployment else None
    if base:
        found = _commit(repo, base)
        out.append(
            _ok("base ref", f"{base} = {found[:12]}")
            if found
            else _bad(
                "base ref",
                f"{base!r} does not resolve in {repo}",
                f"`git -C {repo} fetch --tags origin`, or set pre_deployment.base_ref to the last "
                "release's tag",
            )
        )
    return out


def _commit(repo: Path, ref: str) -> str | None:
    """The commit `ref` names in `repo`, or None (no repository, no such ref, no git)."""
    from runbook.providers.git_refs import GitError, resolve_ref

    try:
        return resolve_ref(repo, ref)
    except GitError:
        return None


def check_tools(params: Parameters) -> list[Finding]:
    """The programs the gates and the development deploy start are on PATH."""
    wanted: set[str] = set()
    pre = params.pre_deployment
    if pre is not None:
        wanted |= {g.argv[0] for g in pre.gates if not g.argv[0].startswith("{")}
        if pre.python:
            wanted.add(pre.python[0])
    if params.deploy is not None and params.deploy.start is not None:
        wanted.add(params.deploy.start.argv[0])
    wanted.add("git")
    out = []
    for tool in sorted(t for t in wanted if "/" not in t):
        where = shutil.which(tool)
        out.append(
            _ok(f"program {tool}", where)
            if where
            else _bad(
                f"program {tool}",
                "not found on PATH",
                "install it (uv: `pip install uv`), or change the gate's argv in the parameters",
            )
        )
    return out


def check_secrets(params: Parameters) -> list[Finding]:
    """Every secret reference the parameters name is set (values are never shown)."""
    out = []
    for path, ref in iter_refs(params):
        try:
            resolve(ref)
        except SecretUnavailable:
            out.append(
                _bad(
                    f"secret {path}",
                    f"{ref.describe()} is not set",
                    f"export {ref.env}=… (from your secret store) before the run; "
                    "without it the checks that need it say INCOMPLETE",
                )
            )
        else:
            out.append(_ok(f"secret {path}", f"{ref.describe()} is set"))
    return out


def check_files(params: Parameters, root: Path) -> list[Finding]:
    """Files the parameters name: env files, drift files, the deploy package."""
    out = []
    cfg = params.environment_config
    if cfg is not None:
        for source in cfg.variables.sources:
            path = getattr(source, "file", None)
            if path is not None:
                out.append(
                    _file(
                        f"variables file {path}",
                        root / path,
                        "write the variables about to be applied there, or change "
                        "environment_config.variables.sources",
                    )
                )
        drift = getattr(cfg.variables, "drift", None)
        for env, path in (getattr(drift, "env_files", None) or {}).items():
            out.append(
                _file(
                    f"{env} variables for the drift table",
                    root / path,
                    "give each environment's file, or drop it from "
                    "environment_config.variables.drift.env_files",
                )
            )
    dp = params.deploy
    if dp is not None and dp.method == "zip" and dp.package is not None:
        if dp.package.path:
            out.append(
                _file(
                    "deploy package",
                    root / dp.package.path,
                    "build the zip (CI artifact) and pass --param deploy.package.path=PATH",
                )
            )
        elif dp.package.source_dir:
            out.append(
                _file(
                    "deploy package folder",
                    root / dp.package.source_dir,
                    "set deploy.package.source_dir to the folder to zip",
                )
            )
    return out


def _file(what: str, path: Path, fix: str) -> Finding:
    return _ok(what, str(path)) if path.exists() else _bad(what, f"{path} does not exist", fix)


def check_app_import(params: Parameters, root: Path) -> list[Finding]:
    """The target's interpreter imports the app and generates its OpenAPI document (every
    missing setting named at once)."""
    repo = _repo(params, root)
    if params.contract is None or repo is None or not repo.is_dir():
        return []
    from runbook.phases.pre_deployment.contract.schema_source import generate_schema

    what = f"the target imports {params.contract.app}"
    try:
        schema = generate_schema(repo, params.contract)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, with its reason
        return [
            _bad(
                what,
                " ".join(str(exc).split())[:600],
                "install the target's environment (`uv sync` in its project), and give "
                "the settings it needs at import in contract.generate_env",
            )
        ]
    return [_ok(what, f"OpenAPI {schema.get('openapi')} with {len(schema.get('paths', {}))} paths")]


def check_target(params: Parameters) -> list[Finding]:
    """The target URL answers; the test user's token is accepted. For a development deploy
    that starts the app, the address must be free instead."""
    import httpx

    base = params.target.base_url.rstrip("/")
    if params.deploy is not None and params.deploy.method == "start":
        from runbook.phases.deploy.local_app import address_in_use

        busy = address_in_use(base)
        return [
            _bad(
                "target address",
                f"something already answers at {base}",
                "stop it: the run starts the app from the checkout on this address",
            )
            if busy
            else _ok("target address", f"{base} is free for the app the run starts")
        ]
    out = []
    try:
        answer = httpx.get(
            base + _health_path(params),
            timeout=params.target.timeout_s,
            verify=params.target.verify_tls,
        )
        out.append(_ok("target answers", f"{answer.request.url} → HTTP {answer.status_code}"))
    except httpx.HTTPError as exc:
        return [
            _bad(
                "target answers",
                f"{base}: {type(exc).__name__}: {exc}",
                "check target.base_url, the network (VPN) and that the app is running",
            )
        ]
    path = _auth_path(params)
    try:
        token = resolve(params.target.token)
    except SecretUnavailable:
        return out  # reported by check_secrets
    if path:
        answer = httpx.get(
            base + path,
            timeout=params.target.timeout_s,
            verify=params.target.verify_tls,
            headers={"Authorization": f"Bearer {token}"},
        )
        ok = answer.status_code == 200
        out.append(
            _ok("test-user token", f"GET {path} → HTTP 200")
            if ok
            else _bad(
                "test-user token",
                f"GET {path} with the token → HTTP {answer.status_code}",
                f"get a fresh access token of the environment's test user into "
                f"{params.target.token.env}",
            )
        )
    return out


def _health_path(params: Parameters) -> str:
    steps = params.verify.steps if params.verify else []
    public = [s for s in steps if not s.auth and s.method == "GET" and "{" not in s.path]
    return public[0].path if public else "/"


def _auth_path(params: Parameters) -> str | None:
    steps = params.verify.steps if params.verify else []
    authed = [
        s
        for s in steps
        if s.auth and s.method == "GET" and "{" not in s.path and s.expect_status == 200
    ]
    return authed[0].path if authed else None


def check_azure(params: Parameters) -> list[Finding]:
    """The Azure credential gets a token for ARM, and the site can be read."""
    if params.azure is None:
        return []
    from runbook.providers.azure.clients import build_credential
    from runbook.providers.azure.errors import describe_azure_error

    azure = params.azure
    what = "Azure credential"
    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)  # its own multi-line warning
    try:
        credential = build_credential(azure.credential, scope=azure.arm_scope)
        credential.get_token(azure.arm_scope)
    except Exception as exc:  # noqa: BLE001 - DefaultAzureCredential raises several kinds
        failure = describe_azure_error(exc)
        return [
            _bad(
                what,
                failure.message.split(" Attempted credentials")[0][:300],
                "`az login` (or a managed identity / AZURE_CLIENT_ID, AZURE_TENANT_ID, "
                "AZURE_CLIENT_SECRET in CI) with read access to "
                f"{azure.resource_group}/{azure.site}",
            )
        ]
    return [_ok(what, f"a token for {azure.arm_scope}")]


def check_workers(params: Parameters) -> list[Finding]:
    """Redis answers PING and the Celery broker accepts a connection."""
    workers = params.workers
    if workers is None:
        return []
    out = []
    if workers.redis is not None:
        out.append(_probe_url("Redis", workers.redis.url, _redis_ping))
    celery = getattr(workers, "celery", None)
    if celery is not None and getattr(celery, "broker", None) is not None:
        out.append(_probe_url("Celery broker", celery.broker, _redis_ping))
    return out


def _probe_url(what: str, service: object, probe: Callable[[str], None]) -> Finding:
    from runbook.phases.monitoring.workers.endpoints import resolve_url

    try:
        url = resolve_url(service)  # type: ignore[arg-type]
    except SecretUnavailable as exc:
        return _bad(what, str(exc), "export the variable holding its URL")
    if not url.value.startswith(("redis://", "rediss://")):
        return _ok(what, f"{url.shown} (not Redis: not probed)")
    try:
        probe(url.value)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the finding
        return _bad(what, url.scrub(f"{url.shown}: {exc}"), "start it, or fix its URL")
    return _ok(what, f"{url.shown} answers PING")


def _redis_ping(value: str) -> None:
    import redis

    client = redis.Redis.from_url(value, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    finally:
        client.close()


def check_governance(params: Parameters, root: Path) -> list[Finding]:
    """An approval of the current plan and a fresh GO of the same build in staging exist."""
    out = []
    if params.approval is not None and params.approval.required:
        path = root / params.approval.file if params.approval.file else None
        if path is None or not path.is_file():
            out.append(
                _bad(
                    "approval",
                    f"no approval file{f' at {path}' if path else ''}",
                    f"`runbook plan --env {params.environment}`, then `runbook approve "
                    f"--env {params.environment} <sha256> --by NAME`",
                )
            )
        else:
            out.append(_ok("approval", f"{path} exists (the run checks it is of this plan)"))
    if params.promotion is not None:
        from runbook.governance.promotion import gate_from_params

        decision = gate_from_params(root / "outputs", params.promotion, params.build_id, None)
        out.append(
            _ok("promotion", decision.result().explanation)
            if decision.allowed
            else _bad(
                "promotion",
                decision.result().explanation,
                f"run staging first with the same --param build_id={params.build_id or 'ID'} "
                "until it is GO",
            )
        )
    return out


def diagnose(params: Parameters, root: Path) -> list[Finding]:
    """Every prerequisite, checked side by side where they wait on the network."""
    cheap = [
        *check_repository(params, root),
        *check_tools(params),
        *check_secrets(params),
        *check_files(params, root),
        *check_governance(params, root),
    ]
    slow: list[Callable[[], list[Finding]]] = [
        lambda: check_target(params),
        lambda: check_azure(params),
        lambda: check_workers(params),
        lambda: check_app_import(params, root),
    ]
    with ThreadPoolExecutor(max_workers=len(slow)) as pool:
        found = [f for part in pool.map(lambda fn: fn(), slow) for f in part]
    return cheap + found


def report(findings: list[Finding], env: str) -> int:
    """Print every finding; 0 when a run could start with everything it needs, else 1."""
    for finding in findings:
        for line in finding.lines():
            print(line)
    problems = [f for f in findings if not f.ok]
    if problems:
        print(
            f"\n{len(problems)} problem(s): a run of {env!r} now would be INCOMPLETE or refused",
            file=sys.stderr,
        )
        return 1
    print(f"\nready: every prerequisite of a run of {env!r} is met")
    return 0
