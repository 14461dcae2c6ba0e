"""Pre-Deployment §4 "Old utility configuration methods still work": the candidate's utility
package configured the old ways (a whole group as JSON, the nested `__` variables, the
unprefixed names an earlier release read, an older Python API), each a command run in the
candidate's tree through the gates' machinery (argv with `{run}` / `{python}`, a clean
environment plus the case's variables). The command prints the settings it ended up with as
JSON (its last line); every expected value must be there, so a method the package silently
ignores (it falls back to defaults) fails.

A candidate without the package (`package` not in its tree) is INCONCLUSIVE, never a pass; no
case configured is SKIP. Commands and expectations are parameters
(`pre_deployment.utility_compat`).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from runbook.core.checks import CheckResult, Status
from runbook.phases.pre_deployment.gates.clean_env import gate_environment
from runbook.phases.pre_deployment.gates.params import (
    CompatCase,
    PreDeploymentParams,
    UtilityCompatParams,
)
from runbook.phases.pre_deployment.gates.runner import _execute, expand_argv, worktree_cache
from runbook.providers.git_refs import GitError
from runbook.providers.worktree import candidate_worktree

CHECK_ID = "compat.utility_config"
SECTION = "Pre-Deployment §4 Backward Compatibility Verification"
TITLE = "Old utility configuration methods still work"
_MISSING = object()


def dig(data: Any, dotted: str) -> Any:
    """Follow a dotted path into JSON; _MISSING when it leads nowhere."""
    current = data
    for part in dotted.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _printed_json(text: str) -> Any:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("it printed nothing")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        raise ValueError(f"its last line is not JSON: {lines[-1][:200]!r}") from None


def run_case(
    case: CompatCase, root: Path, pre: PreDeploymentParams, evidence_dir: Path
) -> dict[str, Any]:
    """Run one case in the tree `root`; a row: id, command, exit code, problems (none: taken)."""
    argv = expand_argv(case.argv, root, pre.python, pre.runner)
    out, err = (evidence_dir / f"{CHECK_ID}.{case.id}.{s}" for s in ("stdout.log", "stderr.log"))
    env = gate_environment(case.env, pre.env_passthrough)
    run = _execute(argv, root / case.cwd, env, case.timeout_s, out, err)
    row: dict[str, Any] = {
        "case": case.id,
        "title": case.title,
        "command": shlex.join(argv),
        "env": case.env,
        "exit_code": run.exit_code,
        "problems": [],
        "error": None,
        "stdout": out.name,
        "stderr": err.name,
    }
    if run.start_error or run.timed_out or run.interrupted:
        row["error"] = run.start_error or ("timed out" if run.timed_out else "interrupted")
        return row
    if run.exit_code != 0:
        tail = err.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        row["problems"].append(f"exit {run.exit_code}: {tail[0][:300]}")
        return row
    try:
        printed = _printed_json(out.read_text(errors="replace"))
    except ValueError as exc:
        row["error"] = str(exc)
        return row
    for path, wanted in case.expect.items():
        got = dig(printed, path)
        if got is _MISSING:
            row["problems"].append(f"{path} missing")
        elif got != wanted:
            row["problems"].append(f"{path} is {got!r}, expected {wanted!r}")
    return row


def _result(settings: UtilityCompatParams, status: Status, text: str, **extra: Any) -> CheckResult:
    return CheckResult(
        id=CHECK_ID,
        section=SECTION,
        title=TITLE,
        severity=settings.severity,
        status=status,
        explanation=text,
        threshold={"cases": [c.id for c in settings.cases]},
        **extra,
    )


def judge_rows(
    settings: UtilityCompatParams, rows: list[dict[str, Any]], candidate: dict[str, Any] | None
) -> CheckResult:
    """FAIL when a method's values were not taken, ERROR when a case could not run, else PASS."""
    observed = {
        r["case"]: ("error" if r["error"] else "not taken" if r["problems"] else "taken")
        for r in rows
    }
    evidence = {"cases": rows, "candidate": candidate}
    failed = [f"{r['case']}: {'; '.join(r['problems'])}" for r in rows if r["problems"]]
    broken = [f"{r['case']}: {r['error']}" for r in rows if r["error"]]
    if failed:
        return _result(
            settings,
            Status.FAIL,
            "not taken: " + " | ".join(failed),
            observed=observed,
            evidence=evidence,
        )
    if broken:
        return _result(
            settings,
            Status.ERROR,
            "could not run: " + " | ".join(broken),
            observed=observed,
            evidence=evidence,
        )
    return _result(
        settings,
        Status.PASS,
        f"all {len(rows)} old configuration method(s) taken: " + ", ".join(r["case"] for r in rows),
        observed=observed,
        evidence=evidence,
    )


def utility_compat_check(
    pre: PreDeploymentParams, settings: UtilityCompatParams | None, evidence_dir: Path
) -> CheckResult:
    """compat.utility_config on the candidate (its scratch worktree, or the checkout itself
    when `candidate_ref` is None)."""
    settings = settings or UtilityCompatParams()
    if not settings.cases:
        return _result(
            settings,
            Status.SKIP,
            "no old configuration method is configured "
            "(pre_deployment.utility_compat.cases): nothing was tried",
        )
    evidence_dir.mkdir(parents=True, exist_ok=True)
    if pre.candidate_ref is None:
        return _in_tree(settings, pre, pre.repo, evidence_dir, None)
    try:
        with candidate_worktree(
            pre.repo, pre.candidate_ref, worktree_cache(pre), pre.worktree_keep
        ) as candidate:
            return _in_tree(settings, pre, candidate.root, evidence_dir, candidate.evidence())
    except GitError as exc:
        return _result(
            settings, Status.ERROR, f"cannot check out the candidate {pre.candidate_ref!r}: {exc}"
        )


def _in_tree(
    settings: UtilityCompatParams,
    pre: PreDeploymentParams,
    root: Path,
    evidence_dir: Path,
    candidate: dict[str, Any] | None,
) -> CheckResult:
    if not (root / settings.package).is_dir():
        return _result(
            settings,
            Status.INCONCLUSIVE,
            f"the candidate has no {settings.package}/ package: there is no utility "
            "configuration to try (if the target has none, its parameters leave "
            "pre_deployment.utility_compat out)",
            evidence={"candidate": candidate},
        )
    rows = [run_case(case, root, pre, evidence_dir) for case in settings.cases]
    return judge_rows(settings, rows, candidate)
