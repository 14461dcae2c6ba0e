"""Checks of the utility package's `PIXCRAWLER_UTILITY_*` variables (checklist Environment
Configuration §1, "Utility Package (New Format)").

The utility package silently falls back to defaults on an invalid value, so every value is
validated here, before deploy, against the runbook's own schema (`utility_schema`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.environment.envconfig import utility_schema as schema
from runbook.phases.environment.envconfig.masking import display, lookup, scrub
from runbook.phases.environment.envconfig.params import UTILITY_SECTION, EnvironmentConfigParams
from runbook.phases.environment.envconfig.utility_schema import FieldPath

_MISSING = object()


@dataclass
class _Origin:
    variable: str
    raw: str
    via_json: bool


@dataclass
class _Problem:
    path: FieldPath
    variable: str
    value: str  # already masked for display
    expected: str
    reason: str


@dataclass
class ParsedUtility:
    """The prefixed variables turned into the nested settings tree, with where each came from."""

    data: dict[str, Any] = field(default_factory=dict)
    origins: dict[FieldPath, _Origin] = field(default_factory=dict)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    problems: list[_Problem] = field(default_factory=list)
    overridden: list[dict[str, str]] = field(default_factory=list)

    def origin_of(self, path: FieldPath) -> _Origin | None:
        """The variable that set `path` (itself, or the JSON group holding it)."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.origins:
                return self.origins[path[:n]]
        return None

    def raw_at(self, path: FieldPath) -> Any:
        node: Any = self.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return _MISSING
            node = node[part]
        return node


def _all_names(params: EnvironmentConfigParams) -> list[str]:
    u = params.utility
    names = []

    def walk(model: type[BaseModel], prefix: FieldPath) -> None:
        for name, info in model.model_fields.items():
            path = (*prefix, name)
            names.append(schema.variable_name(path, u.prefix, u.delimiter))
            sub = schema.group_model(info.annotation)
            if sub is not None:
                walk(sub, path)

    walk(schema.UtilitySchema, ())
    return names


def parse_utility(variables: Mapping[str, str], params: EnvironmentConfigParams) -> ParsedUtility:
    """Turn the prefixed variables (case-insensitive prefix, `__` nesting, JSON groups) into
    the nested settings tree, validated against the schema, remembering which variable set what."""
    u = params.utility
    out = ParsedUtility()
    prefixed = [k for k in variables if k.upper().startswith(u.prefix.upper())]
    by_upper: dict[str, list[str]] = {}
    for key in prefixed:
        by_upper.setdefault(key.upper(), []).append(key)
    entries: list[tuple[FieldPath, str]] = []
    known = _all_names(params)
    for upper, keys in sorted(by_upper.items()):
        key = min(keys)
        path = tuple(p.lower() for p in key[len(u.prefix) :].split(u.delimiter))
        if len(keys) > 1:
            out.problems.append(
                _Problem(
                    path=path,
                    variable=key,
                    value=", ".join(sorted(keys)),
                    expected="each variable set once",
                    reason=f"set {len(keys)} times with different letter case "
                    f"({', '.join(sorted(keys))}): which one wins is undefined",
                )
            )
        if any(not p for p in path) or schema.field_at(path) is None:
            out.unknown.append(
                {
                    "variable": key,
                    "value": display(key, variables[key], params.secrets),
                    "did_you_mean": difflib.get_close_matches(upper, known, n=1, cutoff=0.75),
                }
            )
            continue
        entries.append((path, key))
    # whole groups (JSON) first, so a nested variable overrides the group's key, as the utility
    # package does
    for path, key in sorted(entries, key=lambda e: (len(e[0]), e[0])):
        raw = variables[key]
        if schema.is_group(path):
            _merge_group(out, path, key, raw, params)
        else:
            previous = out.origin_of(path)
            if previous is not None and previous.via_json and out.raw_at(path) is not _MISSING:
                out.overridden.append({"variable": key, "overrides_key_in": previous.variable})
            _set(out.data, path, raw)
            out.origins[path] = _Origin(key, raw, via_json=False)
    _validate(out, params)
    return out


def _merge_group(
    out: ParsedUtility, path: FieldPath, key: str, raw: str, params: EnvironmentConfigParams
) -> None:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        value, reason = _MISSING, f"not valid JSON ({exc.msg} at position {exc.pos})"
    else:
        reason = "" if isinstance(value, dict) else f"JSON {type(value).__name__}, not an object"
    if value is _MISSING or not isinstance(value, dict):
        out.problems.append(
            _Problem(
                path=path,
                variable=key,
                value=display(key, raw, params.secrets),
                expected="a JSON object of the group's settings, e.g. '{\"quality\": 85}'",
                reason=reason,
            )
        )
        return
    node = out.data
    for part in path:
        node = node.setdefault(part, {})
    _deep_update(node, value)
    out.origins[path] = _Origin(key, raw, via_json=True)


def _deep_update(target: dict[str, Any], update: dict[str, Any]) -> None:
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            _deep_update(target[k], v)
        else:
            target[k] = v


def _set(data: dict[str, Any], path: FieldPath, value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _validate(parsed: ParsedUtility, params: EnvironmentConfigParams) -> None:
    """Validate the tree against the schema; errors become problems or unknown keys."""
    try:
        schema.UtilitySchema.model_validate(parsed.data)
    except ValidationError as exc:
        for err in exc.errors():
            path = tuple(str(p) for p in err["loc"])
            origin = parsed.origin_of(path)
            variable = origin.variable if origin else ".".join(path)
            if err["type"] == "extra_forbidden":
                parsed.unknown.append(
                    {
                        "variable": f"key {path[-1]!r} inside the JSON of {variable}",
                        "value": None,
                        "did_you_mean": _close_key(path),
                    }
                )
                continue
            if origin is not None and not origin.via_json:
                shown = display(variable, origin.raw, params.secrets)
            else:
                shown = display(variable, json.dumps(err.get("input"), default=str), params.secrets)
                variable = f"{variable} (JSON key {'.'.join(path)})"
            parsed.problems.append(
                _Problem(
                    path=path,
                    variable=variable,
                    value=shown,
                    expected=schema.expectation(path),
                    reason=err["msg"],
                )
            )


def _close_key(path: FieldPath) -> list[str]:
    parent = schema.field_at(path[:-1]) if len(path) > 1 else None
    model = schema.group_model(parent.annotation) if parent else schema.UtilitySchema
    if model is None:
        return []
    return difflib.get_close_matches(path[-1].lower(), list(model.model_fields), n=1, cutoff=0.6)


def effective_value(parsed: ParsedUtility, path: FieldPath) -> tuple[str, Any]:
    """('set', typed) / ('default', typed) / ('invalid', None) for one leaf of the tree."""
    raw = parsed.raw_at(path)
    if raw is _MISSING:
        info = schema.field_at(path)
        assert info is not None
        return "default", info.get_default(call_default_factory=True)
    try:
        return "set", schema.validate_leaf(path, raw)
    except ValidationError:
        return "invalid", None


# -- checks -----------------------------------------------------------------------------------


def _result(id_: str, title: str, status: Status, **kw: Any) -> CheckResult:
    kw.setdefault("severity", Severity.BLOCKER)
    return CheckResult(
        id=f"envconfig.utility.{id_}", section=UTILITY_SECTION, title=title, status=status, **kw
    )


def utility_checks(
    variables: Mapping[str, str], params: EnvironmentConfigParams
) -> list[CheckResult]:
    """Validate the `PIXCRAWLER_UTILITY_*` variables: values, cross-field rule, unknown keys,
    unprefixed leftovers, old variables and this environment's expected values."""
    if not variables:
        return [
            _result(
                "values",
                "Utility variables (new format) are valid",
                Status.INCONCLUSIVE,
                observed="no variables",
                explanation="the variable set is empty: nothing to validate",
            )
        ]
    parsed = parse_utility(variables, params)
    results = [
        *_value_results(parsed, variables, params),
        _production_quality(parsed, params),
        _unknown_result(parsed, params),
        _leftovers_result(variables, parsed, params),
        _old_variables_result(variables, params),
        _expected_result(parsed, params),
    ]
    return scrub(results, variables, params.secrets)


def _value_results(
    parsed: ParsedUtility, variables: Mapping[str, str], params: EnvironmentConfigParams
) -> list[CheckResult]:
    u = params.utility
    if parsed.problems:
        by_path: dict[FieldPath, list[_Problem]] = {}
        for p in parsed.problems:
            by_path.setdefault(p.path, []).append(p)
        out = []
        for path, problems in by_path.items():
            first = problems[0]
            reasons = "; ".join(f"{p.variable}={p.value}: {p.reason}" for p in problems)
            out.append(
                _result(
                    "value." + ".".join(path),
                    f"{first.variable} is valid",
                    Status.FAIL,
                    observed=f"{first.variable}={first.value}",
                    threshold=first.expected,
                    explanation=f"{reasons}; expected {first.expected}. The utility package "
                    "would silently fall back to its defaults.",
                    evidence={
                        "errors": [
                            {
                                "variable": p.variable,
                                "value": p.value,
                                "expected": p.expected,
                                "reason": p.reason,
                            }
                            for p in problems
                        ]
                    },
                )
            )
        return out
    names = sorted(o.variable for o in parsed.origins.values())
    title = "Utility variables (new format) are valid"
    if not names:
        status = Status.FAIL if u.require_present else Status.SKIP
        return [
            _result(
                "values",
                title,
                status,
                observed=f"no {u.prefix}* variable",
                threshold=f"the {u.prefix}* variables are set" if u.require_present else None,
                explanation=(
                    f"no {u.prefix}* variable is set: the new format has not been added"
                    if u.require_present
                    else f"no {u.prefix}* variable is set (optional here): defaults apply"
                ),
            )
        ]
    return [
        _result(
            "values",
            title,
            Status.PASS,
            observed=f"{len(names)} variables valid",
            threshold="every value matches the utility settings schema",
            explanation=f"all {len(names)} {u.prefix}* variables are valid",
            evidence={
                "variables": {n: display(n, variables[n], params.secrets) for n in names},
                "nested_overrides_json": parsed.overridden,
            },
        )
    ]


def _production_quality(parsed: ParsedUtility, params: EnvironmentConfigParams) -> CheckResult:
    u = params.utility
    q_path, e_path = ("compression", "quality"), ("logging", "environment")
    title = (
        f"Compression quality ≥ {u.production_min_quality} when logging environment is production"
    )
    threshold = (
        f"quality ≥ {u.production_min_quality} when "
        f"LOGGING__ENVIRONMENT={u.production_logging_environment}"
    )
    env_state, env = effective_value(parsed, e_path)
    q_state, quality = effective_value(parsed, q_path)
    evidence = {"logging_environment": [env_state, env], "quality": [q_state, quality]}
    if "invalid" in (env_state, q_state):
        return _result(
            "production_quality",
            title,
            Status.SKIP,
            threshold=threshold,
            evidence=evidence,
            observed="not evaluated",
            explanation="cannot evaluate: quality or logging environment is invalid "
            "(see its own failing result)",
        )
    observed = (
        f"LOGGING__ENVIRONMENT={env} ({env_state}), COMPRESSION__QUALITY={quality} ({q_state})"
    )
    if env != u.production_logging_environment:
        return _result(
            "production_quality",
            title,
            Status.PASS,
            threshold=threshold,
            evidence=evidence,
            observed=observed,
            explanation=f"logging environment is {env}: the floor does not apply",
        )
    ok = quality >= u.production_min_quality
    return _result(
        "production_quality",
        title,
        Status.PASS if ok else Status.FAIL,
        threshold=threshold,
        evidence=evidence,
        observed=observed,
        explanation=(
            f"quality {quality} meets the production floor {u.production_min_quality}"
            if ok
            else f"quality {quality} is below {u.production_min_quality} with logging environment "
            "production: the utility package rejects this and silently falls back to defaults"
        ),
    )


def _unknown_result(parsed: ParsedUtility, params: EnvironmentConfigParams) -> CheckResult:
    title = f"No unknown {params.utility.prefix}* keys (likely typos)"
    if not parsed.unknown:
        return _result(
            "unknown_keys",
            title,
            Status.PASS,
            severity=Severity.WARNING,
            observed="none",
            threshold="every key is in the schema",
            explanation="every prefixed variable names a known setting",
        )
    names = [
        u["variable"] + (f" (did you mean {u['did_you_mean'][0]}?)" if u["did_you_mean"] else "")
        for u in parsed.unknown
    ]
    return _result(
        "unknown_keys",
        title,
        Status.WARN,
        severity=Severity.WARNING,
        observed=[u["variable"] for u in parsed.unknown],
        threshold="every key is in the schema",
        explanation="unknown keys are ignored by the utility package, so the intended setting "
        "is not applied: " + "; ".join(names),
        evidence={"unknown": parsed.unknown},
    )


def _leftovers_result(
    variables: Mapping[str, str], parsed: ParsedUtility, params: EnvironmentConfigParams
) -> CheckResult:
    u = params.utility
    title = "No unprefixed leftovers that silently override utility settings"
    found = []
    for legacy, new in u.leftovers.items():
        hit = lookup(variables, legacy)
        if hit is None:
            continue
        name, value = hit
        path = u.field_path(new) if new else None
        shadowed = path is not None and parsed.origin_of(path) is not None
        found.append(
            {
                "variable": name,
                "value": display(name, value, params.secrets),
                "new_format": schema.variable_name(path, u.prefix, u.delimiter) if path else None,
                "effect": "shadowed by the prefixed variable (still a risk if that is removed)"
                if shadowed
                else "applied silently: the prefixed variable is not set",
            }
        )
    if not found:
        return _result(
            "leftovers",
            title,
            Status.PASS,
            severity=Severity.WARNING,
            observed="none",
            threshold="none of the unprefixed names is set",
            explanation=f"none of the {len(u.leftovers)} unprefixed names is set",
            evidence={"checked": sorted(u.leftovers)},
        )
    return _result(
        "leftovers",
        title,
        Status.WARN,
        severity=Severity.WARNING,
        observed=[f["variable"] for f in found],
        threshold="none of the unprefixed names is set",
        explanation="the utility package still reads these unprefixed names: "
        + "; ".join(f"{f['variable']}={f['value']} ({f['effect']})" for f in found)
        + ". Move them to the prefixed form and remove them.",
        evidence={"leftovers": found},
    )


def _old_variables_result(
    variables: Mapping[str, str], params: EnvironmentConfigParams
) -> CheckResult:
    old = params.utility.old_variables
    title = "Old environment variables removed after verification"
    if not old:
        return _result(
            "old_variables",
            title,
            Status.SKIP,
            severity=Severity.WARNING,
            observed=None,
            threshold="none of the old variables is set",
            explanation="no old variables declared (envconfig.utility.old_variables)",
        )
    still = [hit[0] for name in old if (hit := lookup(variables, name)) is not None]
    return _result(
        "old_variables",
        title,
        Status.WARN if still else Status.PASS,
        severity=Severity.WARNING,
        observed=still or "none",
        threshold="none of the old variables is set",
        explanation=(
            "still set (remove after verification): " + ", ".join(still)
            if still
            else f"none of the {len(old)} old variables is set"
        ),
        evidence={"declared": old, "still_set": still},
    )


def _expected_result(parsed: ParsedUtility, params: EnvironmentConfigParams) -> CheckResult:
    u = params.utility
    title = "Utility variables match this environment's expected values"
    if not u.expected:
        return _result(
            "expected",
            title,
            Status.SKIP,
            observed=None,
            threshold=None,
            explanation="no expected values declared (envconfig.utility.expected)",
        )
    rows, bad = [], []
    for name, expected_raw in u.expected.items():
        path = u.field_path(name)
        assert path is not None  # checked when the parameters were validated
        variable = schema.variable_name(path, u.prefix, u.delimiter)
        expected = schema.validate_leaf(path, expected_raw)
        state, value = effective_value(parsed, path)
        origin = parsed.origin_of(path)
        shown = (
            params.secrets.absent_mark
            if state == "default"
            else display(variable, _raw_text(parsed.raw_at(path)), params.secrets)
        )
        if state == "set":
            ok = value == expected
        elif state == "default":
            ok = not u.require_expected_present and value == expected
        else:
            ok = False
        row = {
            "variable": variable,
            "expected": expected_raw,
            "observed": shown,
            "state": state,
            "set_by": origin.variable if origin else None,
            "ok": ok,
        }
        rows.append(row)
        if not ok:
            bad.append(row)
    return _result(
        "expected",
        title,
        Status.FAIL if bad else Status.PASS,
        observed=f"{len(rows) - len(bad)}/{len(rows)} match",
        threshold="every expected variable is set to its expected value",
        explanation=(
            "; ".join(
                f"{r['variable']}: observed {r['observed']} ({r['state']}), "
                f"expected {r['expected']}"
                for r in bad
            )
            if bad
            else f"all {len(rows)} expected values match"
        ),
        evidence={"comparison": rows},
    )


def _raw_text(raw: Any) -> str:
    return raw if isinstance(raw, str) else json.dumps(raw, default=str)
