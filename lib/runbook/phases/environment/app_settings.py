"""Live App Settings check: what the App Service (and its slot) holds against what is expected.

Checklist: "Environment Configuration §1", "Deployment Steps §2.1 Environment variables updated",
"§3.2 Environment variables verified". Secret values are compared in-process and never shown.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from azure.mgmt.web import WebSiteManagementClient
from pydantic import BaseModel, ConfigDict, Field

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.secret_refs import SecretRef
from runbook.providers.azure.clients import web_client
from runbook.providers.azure.errors import describe_azure_error, failure_is_blind
from runbook.providers.azure.params import AppSettingsParams, AzureParams, ExpectedValue, Target

SecretVerdict = Literal["matches", "differs", "missing", "unresolved-reference"]
_URL_USERINFO = re.compile(r"(://[^/\s:@]*:)[^@/\s]*@")


class SettingsDiff(BaseModel):
    """The comparison of one site's (or slot's) settings with the expected ones (JSON-safe)."""

    model_config = ConfigDict(extra="forbid")

    missing: list[str] = Field(default_factory=list)
    unexpected: list[str] = Field(default_factory=list)
    different: list[dict[str, Any]] = Field(default_factory=list)
    matched: list[str] = Field(default_factory=list)
    secrets: dict[str, SecretVerdict] = Field(default_factory=dict)
    unresolved_references: list[dict[str, str]] = Field(default_factory=list)
    ignored_present: list[str] = Field(default_factory=list)


def _shown(value: str) -> str:
    """A non-secret value as evidence may show it: passwords inside URLs are masked."""
    return _URL_USERINFO.sub(r"\1***@", value)


def _equal_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def compare_app_settings(
    observed: Mapping[str, str],
    expected: Mapping[str, ExpectedValue],
    settings: AppSettingsParams,
    *,
    environ: Mapping[str, str] | None = None,
) -> SettingsDiff:
    """Missing / unexpected / different settings; secrets compared via their env references."""
    env = os.environ if environ is None else environ
    diff = SettingsDiff()
    for name in sorted(expected):
        want = expected[name]
        secret = settings.is_secret(name) or isinstance(want, SecretRef)
        if name not in observed:
            diff.missing.append(name)
            if secret:
                diff.secrets[name] = "missing"
            continue
        have = observed[name]
        if isinstance(want, SecretRef):
            reference = env.get(want.env)
            if not reference:
                diff.secrets[name] = "unresolved-reference"
                diff.unresolved_references.append({"name": name, "secret_env": want.env})
                continue
            same = _equal_secret(have, reference)
        else:
            same = _equal_secret(have, want) if secret else have == want
        if same:
            diff.matched.append(name)
            if secret:
                diff.secrets[name] = "matches"
        elif secret:
            diff.secrets[name] = "differs"
            ref = want.env if isinstance(want, SecretRef) else "key vault reference"
            diff.different.append({"name": name, "secret": True, "expected_ref": ref})
        else:
            assert isinstance(want, str)  # a SecretRef always makes the setting secret
            diff.different.append(
                {"name": name, "secret": False, "expected": _shown(want), "observed": _shown(have)}
            )
    for name in sorted(set(observed) - set(expected)):
        (diff.ignored_present if settings.is_ignored(name) else diff.unexpected).append(name)
    return diff


def read_app_settings(
    client: WebSiteManagementClient, params: AzureParams, slot: str | None
) -> dict[str, str]:
    """The app settings of params.site (slot None) or of its deployment slot `slot`."""
    if slot is None:
        result = client.web_apps.list_application_settings(params.resource_group, params.site)
    else:
        result = client.web_apps.list_application_settings_slot(
            params.resource_group, params.site, slot
        )
    return dict(result.properties or {})


def _target_evidence(params: AzureParams, slot: str | None) -> dict[str, Any]:
    return {
        "subscription_id": params.subscription_id,
        "resource_group": params.resource_group,
        "site": params.site,
        "slot": slot or "production",
        "arm_endpoint": params.arm_endpoint,
    }


def _label(params: AzureParams, slot: str | None) -> str:
    return f"site {params.site!r}" + (f" slot {slot!r}" if slot else "")


def _result(
    settings: AppSettingsParams, params: AzureParams, slot: str | None, **fields: Any
) -> CheckResult:
    suffix = f".{slot}" if slot else ""
    return CheckResult(
        id=f"{settings.id_prefix}.{params.site}{suffix}",
        section=settings.section,
        title=f"App settings of {_label(params, slot)} match the expected values",
        severity=Severity.BLOCKER,
        **fields,
    )


def _threshold(settings: AppSettingsParams) -> str:
    rule = "0 missing, 0 different"
    return rule + (", 0 unexpected" if settings.on_unexpected == "fail" else "")


def settings_result(
    diff: SettingsDiff, params: AzureParams, settings: AppSettingsParams, slot: str | None
) -> CheckResult:
    """The CheckResult for one compared site or slot."""
    counts = {
        "missing": len(diff.missing),
        "different": len(diff.different),
        "unexpected": len(diff.unexpected),
        "matched": len(diff.matched),
    }
    problems = []
    if diff.missing:
        problems.append(f"missing: {', '.join(diff.missing)}")
    if diff.different:
        problems.append(f"different: {', '.join(d['name'] for d in diff.different)}")
    unexpected_text = f"unexpected: {', '.join(diff.unexpected)}" if diff.unexpected else ""
    unresolved_text = (
        "secret references not set in this process: "
        + ", ".join(f"{u['name']} ({u['secret_env']})" for u in diff.unresolved_references)
        if diff.unresolved_references
        else ""
    )
    if problems or (diff.unexpected and settings.on_unexpected == "fail"):
        status = Status.FAIL
    elif diff.unresolved_references:
        status = Status.ERROR
    elif diff.unexpected:
        status = Status.WARN
    else:
        status = Status.PASS
    parts = problems + [t for t in (unexpected_text, unresolved_text) if t]
    explanation = (
        f"{_label(params, slot)}: " + "; ".join(parts)
        if parts
        else f"{_label(params, slot)}: all {counts['matched']} expected settings match"
    )
    evidence = {
        "target": _target_evidence(params, slot),
        **diff.model_dump(mode="json"),
        "counts": counts,
        "on_unexpected": settings.on_unexpected,
    }
    return _result(
        settings,
        params,
        slot,
        status=status,
        observed=counts,
        threshold=_threshold(settings),
        explanation=explanation,
        evidence=evidence,
    )


def _error_result(
    params: AzureParams, settings: AppSettingsParams, slot: str | None, message: str, **extra: Any
) -> CheckResult:
    blind = failure_is_blind(extra.get("failure"))
    return _result(
        settings,
        params,
        slot,
        status=Status.INCONCLUSIVE if blind else Status.ERROR,
        observed=None,
        threshold=_threshold(settings),
        explanation=message,
        evidence={"target": _target_evidence(params, slot), **extra},
    )


def check_app_settings(
    params: AzureParams,
    settings: AppSettingsParams,
    *,
    expected: Mapping[str, ExpectedValue | dict[str, str]] | None = None,
    client: WebSiteManagementClient | None = None,
) -> list[CheckResult]:
    """One CheckResult per target (production, and the slot when params.slot is set)."""
    if expected is not None:
        data = settings.model_dump()
        data["expected"] = dict(expected)
        settings = AppSettingsParams.model_validate(data)
    slots: list[str | None] = []
    if "production" in settings.targets:
        slots.append(None)
    if "slot" in settings.targets and params.slot:
        slots.append(params.slot)
    if not slots:
        return [
            _error_result(
                params,
                settings,
                params.slot,
                "nothing to check: targets name only 'slot' but no slot is given",
            )
        ]
    if not settings.expected:
        return [
            _error_result(params, settings, s, "no expected settings were given: nothing to prove")
            for s in slots
        ]
    if client is None:
        try:
            client = web_client(params)
        except Exception as exc:  # noqa: BLE001 -- fail closed: any build failure is an ERROR
            failure = describe_azure_error(exc)
            return [
                _error_result(
                    params,
                    settings,
                    s,
                    f"cannot build the App Service client for {_label(params, s)}: "
                    f"{failure.message}",
                    failure=failure.model_dump(),
                )
                for s in slots
            ]
    results = []
    for slot in slots:
        try:
            observed = read_app_settings(client, params, slot)
        except Exception as exc:  # noqa: BLE001 -- fail closed: any SDK failure is an ERROR
            failure = describe_azure_error(exc)
            results.append(
                _error_result(
                    params,
                    settings,
                    slot,
                    f"could not read the app settings of {_label(params, slot)} at "
                    f"{params.arm_endpoint}: {failure.reason}: {failure.message}",
                    failure=failure.model_dump(),
                )
            )
            continue
        kind: Target = "slot" if slot else "production"
        diff = compare_app_settings(observed, settings.expected_for(kind), settings)
        results.append(settings_result(diff, params, settings, slot))
    return results
