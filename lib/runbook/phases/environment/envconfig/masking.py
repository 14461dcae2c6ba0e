"""How a variable's value may be shown: a secret only as present / absent, never its value,
length or a hash; a non-secret URL with its embedded password replaced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from runbook.core.checks import CheckResult
from runbook.phases.environment.envconfig.params import SecretPolicy

PASSWORD_MARK = "•••"
MIN_SCRUB_LENGTH = 4  # shorter values would match ordinary text


def is_secret(name: str, policy: SecretPolicy) -> bool:
    """True when the variable's value must never be shown (by name or by a name pattern)."""
    upper = name.upper()
    if upper in {n.upper() for n in policy.names}:
        return True
    return any(p.upper() in upper for p in policy.patterns)


def redact_url_password(value: str) -> str:
    """`scheme://user:pw@host/...` -> `scheme://user:•••@host/...`; other strings unchanged."""
    if "://" not in value or "@" not in value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return PASSWORD_MARK  # unparseable but looks like a URL with credentials: show nothing
    if parts.password is None:
        return value
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{PASSWORD_MARK}@{host}"))


def display(name: str, value: str | None, policy: SecretPolicy) -> str:
    """What a report may show for a variable: masked for secrets, '(absent)' when unset."""
    if value is None:
        return policy.absent_mark
    if is_secret(name, policy):
        return policy.set_mark if value != "" else policy.absent_mark
    return redact_url_password(value)


def lookup(variables: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """(actual name, value) of `name` in `variables`, exact match first, then case-insensitive."""
    if name in variables:
        return name, variables[name]
    upper = name.upper()
    for key, value in variables.items():
        if key.upper() == upper:
            return key, value
    return None


def present(variables: Mapping[str, str], name: str) -> bool:
    """True when the variable is set to a non-empty value."""
    found = lookup(variables, name)
    return found is not None and found[1].strip() != ""


def scrub(
    results: list[CheckResult], variables: Mapping[str, str], policy: SecretPolicy
) -> list[CheckResult]:
    """Safety net: replace any secret value that reached a result (in any string) by the mark."""
    values = sorted(
        {v for k, v in variables.items() if is_secret(k, policy) and len(v) >= MIN_SCRUB_LENGTH},
        key=len,
        reverse=True,
    )
    if not values:
        return results

    def clean(obj: Any) -> Any:
        if isinstance(obj, str):
            for value in values:
                obj = obj.replace(value, policy.set_mark)
            return obj
        if isinstance(obj, dict):
            return {clean(k): clean(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [clean(v) for v in obj]
        return obj

    return [
        r.model_copy(
            update={
                "observed": clean(r.observed),
                "threshold": clean(r.threshold),
                "explanation": clean(r.explanation),
                "title": clean(r.title),
                "evidence": clean(r.evidence),
            }
        )
        for r in results
    ]
