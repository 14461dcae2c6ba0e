"""Checklist "Environment Configuration §2 Configuration Changes": no database migrations.

The Alembic versions folder at the base ref (`git ls-tree` / `git show`) is compared with the
working tree: any new, removed or changed migration file fails. Revision ids and their
`down_revision`s are read with `ast` (the files are never imported) to report the heads.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from runbook.core.checks import CheckResult, Status
from runbook.phases.pre_deployment.gates.params import CONFIGURATION_CHANGES, PreDeploymentParams
from runbook.providers.git_refs import GitError, files_at, resolve_ref

CHECK_ID = "config.no-migrations"
SECTION = f"{CONFIGURATION_CHANGES} — No database migrations required"


class Revision(BaseModel):
    """What an Alembic migration file declares."""

    model_config = ConfigDict(extra="forbid")

    revision: str
    down_revisions: list[str]


def parse_revision(source: str | bytes, filename: str = "<migration>") -> Revision:
    """`revision` and `down_revision` of a migration file, read from its module-level
    assignments (plain or annotated); ValueError when there is no literal revision id."""
    tree = ast.parse(source, filename=filename)
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in {"revision", "down_revision"}:
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                raise ValueError(f"{filename}: {target.id} is not a literal") from None
    revision = values.get("revision")
    if not isinstance(revision, str) or not revision:
        raise ValueError(f"{filename}: no literal `revision = '...'`")
    down = values.get("down_revision")
    if down is None:
        downs: list[str] = []
    elif isinstance(down, str):
        downs = [down]
    elif isinstance(down, (tuple, list)) and all(isinstance(d, str) for d in down):
        downs = list(down)
    else:
        raise ValueError(f"{filename}: down_revision is neither None, a string nor strings")
    return Revision(revision=revision, down_revisions=downs)


def heads(revisions: list[Revision]) -> list[str]:
    """Revisions that no other revision revises."""
    revised = {d for r in revisions for d in r.down_revisions}
    return sorted(r.revision for r in revisions if r.revision not in revised)


def _parse_all(files: dict[str, bytes]) -> tuple[dict[str, Revision], dict[str, str]]:
    parsed: dict[str, Revision] = {}
    problems: dict[str, str] = {}
    for path, content in sorted(files.items()):
        try:
            parsed[path] = parse_revision(content, path)
        except (SyntaxError, ValueError) as exc:
            problems[path] = str(exc)
    return parsed, problems


def _working_tree_files(repo: Path, folder: str) -> dict[str, bytes]:
    return {
        f"{folder.rstrip('/')}/{p.name}": p.read_bytes()
        for p in sorted((repo / folder).glob("*.py"))
        if p.is_file()
    }


def migration_check(params: PreDeploymentParams) -> CheckResult:
    """FAIL when the migrations folder differs from the base ref; ERROR when it cannot tell."""
    folder = params.migrations_dir

    def result(status: Status, explanation: str, **extra: object) -> CheckResult:
        return CheckResult(
            id=CHECK_ID,
            section=SECTION,
            title="No database migrations required (schema unchanged)",
            severity=params.migrations_severity,
            status=status,
            observed=extra.pop("observed", None),
            threshold="no new, removed or changed migration file",
            explanation=explanation,
            evidence={"migrations_dir": folder, "base_ref": params.base_ref, **extra},
        )

    if params.base_ref is None:
        return result(Status.ERROR, "no base ref given: nothing to compare the migrations with")
    if not (params.repo / folder).is_dir():
        return result(Status.ERROR, f"{folder} is not a folder in {params.repo} (wrong path?)")
    try:
        base = resolve_ref(params.repo, params.base_ref)
        before = {p: c for p, c in files_at(params.repo, base, folder).items() if p.endswith(".py")}
    except GitError as exc:
        return result(Status.ERROR, f"cannot read the base ref: {exc}")
    now = _working_tree_files(params.repo, folder)
    added = sorted(set(now) - set(before))
    removed = sorted(set(before) - set(now))
    changed = sorted(p for p in set(now) & set(before) if now[p] != before[p])
    parsed_before, problems_before = _parse_all(before)
    parsed_now, problems_now = _parse_all(now)
    heads_before = heads(list(parsed_before.values()))
    heads_now = heads(list(parsed_now.values()))
    observed = {
        "added": added,
        "removed": removed,
        "changed": changed,
        "heads_base": heads_before,
        "heads_now": heads_now,
    }
    details = {
        "base": base,
        "observed": observed,
        "revisions_base": {p: r.model_dump() for p, r in parsed_before.items()},
        "revisions_now": {p: r.model_dump() for p, r in parsed_now.items()},
        "unparsed": {**problems_before, **problems_now},
    }
    if added or removed or changed:
        parts = [
            f"{label}: {', '.join(Path(p).name for p in paths)}"
            for label, paths in (("new", added), ("removed", removed), ("changed", changed))
            if paths
        ]
        return result(
            Status.FAIL,
            f"migrations differ from {params.base_ref} ({'; '.join(parts)}); heads "
            f"{heads_before} -> {heads_now}: the schema changes",
            **details,
        )
    if problems_before or problems_now:
        return result(
            Status.ERROR,
            f"cannot read the revision of {sorted({**problems_before, **problems_now})}",
            **details,
        )
    if not now:
        return result(Status.ERROR, f"{folder} holds no migration at all (wrong path?)", **details)
    return result(
        Status.PASS,
        f"{len(now)} migration files identical to {params.base_ref}; heads {heads_now}",
        **details,
    )
