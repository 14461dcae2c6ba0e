"""Checks of the backend's own variables (checklist Environment Configuration §1,
"Backend Configuration (No Changes)"). Secrets are reported only as present or absent."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.environment.envconfig.masking import display, is_secret, lookup, present, scrub
from runbook.phases.environment.envconfig.params import (
    BACKEND_SECTION,
    BackendParams,
    EnvironmentConfigParams,
    RedisUse,
)

_BOOL = TypeAdapter(bool)


class _Vars:
    """The variables of one environment as this module reads them: case-insensitive names,
    and every value shown through the secret policy."""

    def __init__(self, variables: Mapping[str, str], params: EnvironmentConfigParams):
        self.variables = variables
        self.params = params

    def raw(self, name: str) -> str | None:
        hit = lookup(self.variables, name)
        return None if hit is None else hit[1]

    def shown(self, name: str) -> str:
        return display(name, self.raw(name), self.params.secrets)

    def present(self, name: str) -> bool:
        return present(self.variables, name)

    def secret(self, name: str) -> bool:
        return is_secret(name, self.params.secrets)

    def part(self, name: str, part: Any) -> Any:
        """A piece of a value (a host, an origin): hidden when the whole variable is secret."""
        return self.params.secrets.set_mark if self.secret(name) else part

    def presence(self, name: str) -> str:
        s = self.params.secrets
        return s.set_mark if self.present(name) else s.absent_mark


def _result(id_: str, title: str, status: Status, **kw: Any) -> CheckResult:
    kw.setdefault("severity", Severity.BLOCKER)
    return CheckResult(
        id=f"envconfig.backend.{id_}", section=BACKEND_SECTION, title=title, status=status, **kw
    )


def backend_checks(
    variables: Mapping[str, str], params: EnvironmentConfigParams, environment: str
) -> list[CheckResult]:
    """Validate the backend variables of one runbook environment (e.g. 'production')."""
    if not params.backend.enabled:
        return [
            _result(
                "environment",
                "Backend variables verified",
                Status.SKIP,
                explanation="not applicable: the backend checks know PixCrawler's "
                "settings and are off for this target (backend.enabled: false)",
            )
        ]
    if not variables:
        return [
            _result(
                "environment",
                "Backend variables present",
                Status.INCONCLUSIVE,
                observed="no variables",
                explanation="the variable set is empty: nothing to validate",
            )
        ]
    v = _Vars(variables, params)
    b = params.backend
    expected_env = b.expected_environment(environment)
    production = (
        expected_env in b.production_environments
        or v.raw(b.environment_var) in b.production_environments
    )
    results = [
        _environment(v, b, expected_env, environment),
        _debug(v, b, production),
        _origins_format(v, b),
        _origins_production(v, b, production),
        _stale_names(v, b),
        _redis(v, b, production),
        _supabase_url(v, b),
        _database(v, b),
        _secrets(v, b),
    ]
    return scrub(results, variables, params.secrets)


def _environment(v: _Vars, b: BackendParams, expected: str | None, environment: str) -> CheckResult:
    name = b.environment_var
    value = v.raw(name)
    allowed = ", ".join(b.allowed_environments)
    title = f"{name} is one of {allowed} and matches this environment"
    common = {
        "observed": f"{name}={v.shown(name)}",
        "threshold": f"{name}={expected}" if expected else f"{name} one of {allowed}",
        "evidence": {
            "variable": name,
            "value": v.shown(name),
            "expected": expected,
            "allowed": b.allowed_environments,
            "runbook_environment": environment,
        },
    }
    if value is None:
        return _result(
            "environment", title, Status.FAIL, **common, explanation=f"{name} is not set"
        )
    if value not in b.allowed_environments:
        return _result(
            "environment",
            title,
            Status.FAIL,
            **common,
            explanation=f"{name}={v.shown(name)} is not one of {allowed}: the backend refuses "
            "to start",
        )
    if expected is None:
        return _result(
            "environment",
            title,
            Status.SKIP,
            **common,
            explanation=f"{name}={v.shown(name)} is an allowed value, but which one the runbook "
            f"environment {environment!r} must carry is not known ({environment!r} is not a "
            f"backend environment): set environment_config.variables.backend."
            f"environment_values: {{{environment}: <{' | '.join(b.allowed_environments)}>}}",
        )
    if value != expected:
        return _result(
            "environment",
            title,
            Status.FAIL,
            **common,
            explanation=f"{name}={v.shown(name)}, but this environment must run as {expected}",
        )
    return _result(
        "environment", title, Status.PASS, **common, explanation=f"{name}={expected} as expected"
    )


def _debug(v: _Vars, b: BackendParams, production: bool) -> CheckResult:
    name = b.debug_var
    value = v.raw(name)
    title = f"{name}=false in production"
    common = {
        "observed": f"{name}={v.shown(name)}",
        "threshold": f"{name}=false (production)",
        "evidence": {"variable": name, "value": v.shown(name), "production": production},
    }
    if not production:
        return _result(
            "debug", title, Status.SKIP, **common, explanation="applies to production only"
        )
    if value is None:
        return _result(
            "debug",
            title,
            Status.FAIL,
            **common,
            explanation=f"{name} is not set: production must set {name}=false explicitly",
        )
    try:
        debug = _BOOL.validate_python(value)
    except ValidationError:
        return _result(
            "debug",
            title,
            Status.FAIL,
            **common,
            explanation=f"{name}={v.shown(name)} is not a boolean",
        )
    return _result(
        "debug",
        title,
        Status.FAIL if debug else Status.PASS,
        **common,
        explanation=f"{name} is on in production" if debug else f"{name} is off",
    )


def _parse_origins(raw: str) -> tuple[list[str] | None, str]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        if "," in raw or "://" in raw or raw.strip() == "*":
            return None, "a comma-separated (or bare) string, not a JSON list"
        return None, "not JSON"
    if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
        return None, f"JSON {type(value).__name__}, not a list of strings"
    return value, ""


def _origins_format(v: _Vars, b: BackendParams) -> CheckResult:
    name = b.origins_var
    raw = v.raw(name)
    title = f"{name} is a JSON list"
    threshold = f"""{name}='["https://a","https://b"]'"""
    if raw is None:
        stale = [s for s, new in b.stale_names.items() if new == name and v.raw(s) is not None]
        hint = f" (the stale name {', '.join(stale)} is set instead)" if stale else ""
        return _result(
            "origins_format",
            title,
            Status.FAIL,
            observed="(absent)",
            threshold=threshold,
            evidence={"variable": name, "stale_set": stale},
            explanation=f"{name} is not set{hint}",
        )
    origins, reason = _parse_origins(raw)
    common = {"threshold": threshold, "evidence": {"variable": name, "value": v.shown(name)}}
    if origins is None:
        return _result(
            "origins_format",
            title,
            Status.FAIL,
            observed=f"{name}={v.shown(name)}",
            **common,
            explanation=f"{name} is {reason}: the backend fails to parse it",
        )
    return _result(
        "origins_format",
        title,
        Status.PASS,
        observed=v.shown(name),
        **common,
        explanation=f"a JSON list of {len(origins)} origin(s)",
    )


def _is_local_host(host: str | None, b: BackendParams) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host in {h.lower() for h in b.local_hosts}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origins_production(v: _Vars, b: BackendParams, production: bool) -> CheckResult:
    name = b.origins_var
    raw = v.raw(name)
    title = f"No wildcard or localhost origin in {name} in production"
    threshold = "no '*' and no localhost / loopback origin"
    if not production:
        return _result(
            "origins_production",
            title,
            Status.SKIP,
            threshold=threshold,
            explanation="applies to production only",
        )
    origins, reason = _parse_origins(raw) if raw is not None else (None, "not set")
    if origins is None:
        # best effort: name the refused entries of an unparseable list too
        entries = [o.strip() for o in (raw or "").split(",") if o.strip()]
        bad = [o for o in entries if "*" in o or _is_local_host(_host(o), b)]
        bad = [v.part(name, o) for o in bad]
        refused = f"; refused entries in it: {', '.join(bad)}" if bad else ""
        return _result(
            "origins_production",
            title,
            Status.FAIL,
            observed=f"{name}={v.shown(name)}",
            threshold=threshold,
            evidence={"variable": name, "value": v.shown(name), "refused": bad},
            explanation=f"{name} is {reason}: the origins cannot be verified{refused}",
        )
    bad = [v.part(name, o) for o in origins if "*" in o or _is_local_host(_host(o), b)]
    origins = [v.part(name, o) for o in origins]
    return _result(
        "origins_production",
        title,
        Status.FAIL if bad else Status.PASS,
        observed=bad or origins,
        threshold=threshold,
        evidence={"variable": name, "origins": origins, "refused": bad},
        explanation=(
            f"refused in production: {', '.join(bad)}"
            if bad
            else f"{len(origins)} origin(s), none wildcard or local"
        ),
    )


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _stale_names(v: _Vars, b: BackendParams) -> CheckResult:
    title = "No stale backend variable names (the backend does not read them)"
    found = [
        {"variable": old, "value": v.shown(old), "use": new}
        for old, new in b.stale_names.items()
        if v.raw(old) is not None
    ]
    return _result(
        "stale_names",
        title,
        Status.WARN if found else Status.PASS,
        severity=Severity.WARNING,
        observed=[f["variable"] for f in found] or "none",
        threshold="none of " + ", ".join(b.stale_names),
        explanation=(
            "; ".join(f"{f['variable']} is stale, the backend reads {f['use']}" for f in found)
            if found
            else "no stale names set"
        ),
        evidence={"stale": found},
    )


def _redis_use(
    v: _Vars, b: BackendParams, use: RedisUse, production: bool
) -> tuple[dict[str, Any], str | None, str]:
    """(observed, problem or None, description) of one use of Redis."""
    raw_enabled = v.raw(use.enabled_var) if use.enabled_var else None
    observed: dict[str, Any] = {}
    if raw_enabled is None:
        enabled: bool | None = use.enabled_default
        said = (
            f"{use.enabled_var} not set, default {str(use.enabled_default).lower()}"
            if use.enabled_var
            else "always on"
        )
    else:
        try:
            enabled = _BOOL.validate_python(raw_enabled)
        except ValidationError:
            enabled = None
        said = f"{use.enabled_var}={v.shown(use.enabled_var or '')}"
    raw_host = v.raw(use.host_var)
    real_host = raw_host if raw_host else use.host_default
    host = v.part(use.host_var, real_host) if raw_host else real_host
    where = (
        f"{use.host_var}={host}"
        if raw_host
        else (f"{use.host_var} not set, default {use.host_default}")
    )
    local = _is_local_host(real_host, b)
    observed = {"enabled": enabled, "host": host, "local": local}
    if enabled is None:
        return observed, f"{said} is not a boolean", ""
    if not enabled:
        if production:
            return observed, (f"the {use.name} is off ({said}): production requires it on"), ""
        return observed, None, f"{use.name} off ({said}; allowed outside production)"
    if local and production:
        return (
            observed,
            (
                f"the {use.name} uses Redis on {host} ({where}): the backend refuses "
                "a localhost Redis in production"
            ),
            "",
        )
    suffix = " (local, allowed outside production)" if local else ""
    return observed, None, f"{use.name} on ({said}), Redis at {host}{suffix}"


def _redis(v: _Vars, b: BackendParams, production: bool) -> CheckResult:
    names = ", ".join(u.name for u in b.redis_uses) or "none"
    title = f"Redis per use ({names}): on, and not on localhost in production"
    threshold = "production: every use enabled, its host set and not local; elsewhere: any"
    if not b.redis_uses:
        return _result(
            "redis",
            title,
            Status.SKIP,
            threshold=threshold,
            explanation="no Redis use configured (backend.redis_uses)",
        )
    observed, problems, fine = {}, [], []
    for use in b.redis_uses:
        observed[use.name], problem, description = _redis_use(v, b, use, production)
        if problem:
            problems.append(problem)
        else:
            fine.append(description)
    return _result(
        "redis",
        title,
        Status.FAIL if problems else Status.PASS,
        observed=observed,
        threshold=threshold,
        evidence={
            "uses": [u.model_dump() for u in b.redis_uses],
            "observed": observed,
            "production": production,
        },
        explanation="; ".join(problems) if problems else "; ".join(fine),
    )


def _supabase_url(v: _Vars, b: BackendParams) -> CheckResult:
    name = b.supabase_url_var
    raw = v.raw(name)
    title = f"{name} is a Supabase project URL"
    common = {
        "observed": v.shown(name),
        "threshold": b.supabase_url_pattern,
        "evidence": {"variable": name, "value": v.shown(name)},
    }
    if raw is None:
        return _result(
            "supabase_url", title, Status.FAIL, **common, explanation=f"{name} is not set"
        )
    ok = re.fullmatch(b.supabase_url_pattern, raw) is not None
    return _result(
        "supabase_url",
        title,
        Status.PASS if ok else Status.FAIL,
        **common,
        explanation=f"{name} matches"
        if ok
        else f"{name}={v.shown(name)} does not match {b.supabase_url_pattern}",
    )


def _database(v: _Vars, b: BackendParams) -> CheckResult:
    title = f"{b.database_url_var} (or {' + '.join(b.database_parts)}) present"
    presence = {n: v.presence(n) for n in [b.database_url_var, *b.database_parts]}
    url_ok = v.present(b.database_url_var)
    missing_parts = [n for n in b.database_parts if not v.present(n)]
    if url_ok:
        status, why = Status.PASS, f"{b.database_url_var} is set"
    elif not missing_parts:
        status, why = Status.PASS, f"{' + '.join(b.database_parts)} are set"
    else:
        status = Status.FAIL
        why = (
            f"neither {b.database_url_var} nor all of the parts are set "
            f"(missing: {', '.join(missing_parts)})"
        )
    return _result(
        "database",
        title,
        status,
        observed=presence,
        threshold=f"{b.database_url_var}, or all of {', '.join(b.database_parts)}",
        evidence={"presence": presence},
        explanation=why,
    )


def _secrets(v: _Vars, b: BackendParams) -> CheckResult:
    presence = {n: v.presence(n) for n in b.required_secrets}
    missing = [n for n in b.required_secrets if not v.present(n)]
    return _result(
        "secrets",
        "Required secrets present",
        Status.FAIL if missing else Status.PASS,
        observed=presence,
        threshold="all set: " + ", ".join(b.required_secrets),
        evidence={"presence": presence},
        explanation=("absent or empty: " + ", ".join(missing))
        if missing
        else f"all {len(presence)} required secrets are set (values not shown)",
    )
