"""Drift between environments: every variable × environment, secrets masked, differences
highlighted, and a check that production carries what staging carries.

Without the other environments' files the check is SKIP, naming what is missing, and the
table shows a one-row "nothing to compare" frame (never an exception on empty data)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.environment.envconfig.masking import display, is_secret, scrub
from runbook.phases.environment.envconfig.params import DRIFT_SECTION, EnvironmentConfigParams
from runbook.phases.environment.envconfig.sources import EnvFileError, load_environments

NOTHING = "(nothing to compare)"

DIFF_COLOUR = "#fff1c2"  # a value that differs from the reference environment
ABSENT_COLOUR = "#ffd7d5"  # absent where another environment has it
ROW_COLOUR = "#ffe6a8"


@dataclass
class DriftTable:
    """The variable × environment table (masked), its differing rows and the drift check."""

    frame: pd.DataFrame
    differing: list[str]
    secret_rows: list[str]
    reference: str | None
    check: CheckResult
    absent_mark: str = "(absent)"
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.frame.empty

    def empty_frame(self) -> pd.DataFrame:
        """The one-row frame shown when there is nothing to compare, saying why."""
        return pd.DataFrame(
            {"drift": [self.check.explanation or "no environments given"]},
            index=pd.Index([NOTHING], name="variable"),
        )

    def styler(self) -> Styler:
        """A pandas Styler: differing rows and cells highlighted, secret rows in grey italics."""
        frame = self.frame
        if frame.empty:
            return (
                self.empty_frame()
                .style.set_caption(html.escape(f"Drift: {self.check.status.value}"))
                .set_table_styles(
                    [{"selector": "td, th", "props": "padding:2px 8px;font-family:monospace"}]
                )
            )
        ref = self.reference if self.reference in frame.columns else None

        def cell_styles(row: pd.Series) -> list[str]:
            styles = []
            base = row[ref] if ref else row.iloc[0]
            for value in row:
                css = []
                if row.name in self.differing:
                    if value == self.absent_mark:
                        css.append(f"background-color:{ABSENT_COLOUR}")
                    elif value != base:
                        css.append(f"background-color:{DIFF_COLOUR}")
                if row.name in self.secret_rows:
                    css.append("color:#6e7781;font-style:italic")
                styles.append(";".join(css))
            return styles

        def index_styles(index: pd.Index) -> list[str]:
            return [
                f"background-color:{ROW_COLOUR};font-weight:bold" if n in self.differing else ""
                for n in index
            ]

        caption = (
            f"{len(frame.index)} variables × {len(frame.columns)} environments — "
            f"{len(self.differing)} differ (highlighted); secrets shown only as set / absent"
        )
        return (
            frame.style.apply(cell_styles, axis=1)
            .apply_index(index_styles, axis=0)
            .set_caption(html.escape(caption))
            .set_table_styles(
                [
                    {"selector": "td, th", "props": "padding:2px 8px;font-family:monospace"},
                    {"selector": "caption", "props": "caption-side:top;font-weight:bold"},
                ]
            )
        )

    def to_html(self) -> str:
        """The styled table as HTML (for the notebook or a report)."""
        return self.styler().to_html()

    def _repr_html_(self) -> str:
        return self.to_html()


def drift_frame(
    env_vars: Mapping[str, Mapping[str, str]], params: EnvironmentConfigParams
) -> pd.DataFrame:
    """Every variable (rows) × environment (columns), secrets as set/absent marks."""
    policy = params.secrets
    names = sorted({name for variables in env_vars.values() for name in variables})
    data = {
        env: [display(n, variables.get(n), policy) for n in names]
        for env, variables in env_vars.items()
    }
    frame = pd.DataFrame(data, index=pd.Index(names, name="variable"), columns=list(env_vars))
    return frame


def environment_drift(params: EnvironmentConfigParams, root: str | Path) -> DriftTable:
    """The drift table of the configured env files (what the notebook shows): SKIP when drift
    is off, ERROR naming the file when one cannot be read; never raises for empty data."""
    if not params.drift.enabled:
        return drift_table({}, params)
    try:
        env_vars = load_environments(params.drift.env_files, root)
    except EnvFileError as exc:
        check = CheckResult(
            **_check_base(params),
            status=Status.ERROR,
            observed="unreadable env file",
            explanation=str(exc),
            evidence={"env_files": params.drift.env_files},
        )
        return _table_of({}, params, check)
    return drift_table(env_vars, params)


def drift_table(
    env_vars: Mapping[str, Mapping[str, str]], params: EnvironmentConfigParams
) -> DriftTable:
    """Build the masked variable × environment table, its styled HTML and the drift check."""
    return _table_of(env_vars, params, drift_check(env_vars, params))


def _table_of(
    env_vars: Mapping[str, Mapping[str, str]], params: EnvironmentConfigParams, check: CheckResult
) -> DriftTable:
    frame = drift_frame(env_vars, params)
    differing = [n for n in frame.index if frame.loc[n].nunique() > 1]
    secret_rows = [n for n in frame.index if is_secret(n, params.secrets)]
    reference = params.drift.reference
    return DriftTable(
        frame=frame,
        differing=differing,
        secret_rows=secret_rows,
        reference=reference if reference in frame.columns else None,
        check=check,
        absent_mark=params.secrets.absent_mark,
    )


def _check_base(params: EnvironmentConfigParams) -> dict[str, Any]:
    d = params.drift
    return {
        "id": "envconfig.drift",
        "section": DRIFT_SECTION,
        "title": f"{d.target} carries the variables of {d.reference}, without unexpected drift",
        "severity": Severity.BLOCKER,
        "threshold": (
            f"every {d.reference} variable set in {d.target}; non-secret values equal except "
            + (", ".join(d.expected_differences) or "none")
        ),
    }


def drift_check(
    env_vars: Mapping[str, Mapping[str, str]], params: EnvironmentConfigParams
) -> CheckResult:
    """FAIL when a variable of the reference (staging) is missing in the target (production);
    WARN when a non-secret value differs outside the declared expected differences."""
    d, policy = params.drift, params.secrets
    base = _check_base(params)
    if not d.enabled:
        return CheckResult(
            **base,
            status=Status.SKIP,
            explanation="drift between environments is off "
            "(environment_config.variables.drift.enabled: false)",
        )
    missing_envs = [e for e in (d.reference, d.target) if e not in env_vars]
    if missing_envs:
        given = ", ".join(env_vars)
        return CheckResult(
            **base,
            status=Status.SKIP,
            observed=f"no variables for {', '.join(missing_envs)}",
            explanation=f"drift needs the env files of {', '.join(missing_envs)}; "
            + (f"given only: {given}" if given else "none given")
            + " (environment_config.variables.drift.env_files)",
            evidence={"environments": list(env_vars), "missing": missing_envs},
        )
    ref, tgt = env_vars[d.reference], env_vars[d.target]
    empty = [e for e, v in ((d.reference, ref), (d.target, tgt)) if not v]
    if empty:
        return CheckResult(
            **base,
            status=Status.INCONCLUSIVE,
            observed=f"no variables in {', '.join(empty)}",
            explanation=f"cannot compare: {', '.join(empty)} has no variables",
            evidence={"environments": list(env_vars)},
        )
    excused = {n.upper() for n in d.expected_differences}
    allowed_missing = {n.upper() for n in d.allowed_missing}
    missing = sorted(n for n in ref if n not in tgt and n.upper() not in allowed_missing)
    only_target = sorted(n for n in tgt if n not in ref)
    differing: list[dict[str, str]] = []
    excused_hits: list[dict[str, str]] = []
    for n in sorted(set(ref) & set(tgt)):
        if is_secret(n, policy) or ref[n] == tgt[n]:
            continue
        row = {
            "variable": n,
            d.reference: display(n, ref[n], policy),
            d.target: display(n, tgt[n], policy),
        }
        (excused_hits if n.upper() in excused else differing).append(row)
    evidence = {
        "reference": d.reference,
        "target": d.target,
        "missing_in_target": missing,
        "only_in_target": only_target,
        "differing": differing,
        "expected_differences": excused_hits,
    }
    parts = []
    if missing:
        parts.append(f"set in {d.reference} but missing in {d.target}: {', '.join(missing)}")
    if differing:
        parts.append(
            "differ: "
            + "; ".join(f"{r['variable']} ({r[d.reference]} → {r[d.target]})" for r in differing)
        )
    if only_target:
        parts.append(f"only in {d.target}: {', '.join(only_target)}")
    status = Status.FAIL if missing else Status.WARN if (differing or only_target) else Status.PASS
    result = CheckResult(
        **base,
        status=status,
        observed={
            "missing_in_target": len(missing),
            "differing": len(differing),
            "only_in_target": len(only_target),
        },
        explanation="; ".join(parts)
        or f"{d.target} matches {d.reference} apart from the expected differences",
        evidence=evidence,
    )
    for variables in env_vars.values():
        [result] = scrub([result], variables, policy)
    return result
