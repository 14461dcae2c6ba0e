"""The sample target repository (`samples/pixcrawler/` beside this module) as a git repository
with history.

`materialize_sample` lays out three commits: the previous release (tagged `base`: the two
READMEs in their old short form, the three architecture/migration documents not written yet),
this release (the documents as the sample ships them), then, if any are asked for, the
deliberate defects. Each defect is a small, realistic edit that should flip exactly one
pre-deployment check; the names are a public contract.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from runbook.phases.pre_deployment.gates.params import PreDeploymentParams

SAMPLE_SOURCE = Path(__file__).resolve().with_name("samples") / "pixcrawler"
BASE_TAG = "base"
SAMPLE_RUNNER = ["{python}", "-m"]  # the sample's dependencies are the runbook's own

# documents this release updated (base: title only) and wrote (absent at base)
_UPDATED_DOCS = ("utility/README.md", "backend/README.md")
_NEW_DOCS = (
    "backend/ARCHITECTURE.md",
    "backend/api/v1/ENDPOINT_STYLE_GUIDE.md",
    "docs/MIGRATION_GUIDE.md",
)
_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".coverage*"
)
_GIT_IDENTITY = [
    "-c", "user.name=Runbook Sample",
    "-c", "user.email=sample@pixcrawler.invalid",
    "-c", "commit.gpgsign=false",
    "-c", "tag.gpgsign=false",
    "-c", "core.hooksPath=/dev/null",
]  # fmt: skip


class SampleRepo(BaseModel):
    """A materialized sample: where it is, its base ref and which defects it carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    base_ref: str = BASE_TAG
    defects: tuple[str, ...] = ()
    commits: dict[str, str]

    def params(self, **updates: object) -> PreDeploymentParams:
        """Checklist-default parameters pointing at this sample, its tools run by the runbook's
        own interpreter (`runner: ["{python}", "-m"]`, as parameters/local.yaml has it); fields
        may be overridden."""
        return PreDeploymentParams.model_validate(
            {"repo": self.path, "base_ref": self.base_ref, "runner": SAMPLE_RUNNER, **updates}
        )


def _edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise RuntimeError(f"sample defect out of date: {path} does not contain {old!r} once")
    file.write_text(text.replace(old, new), encoding="utf-8")


def _failing_test(repo: Path) -> None:
    _edit(
        repo,
        "backend/tests/test_projects_api.py",
        'assert client.get("/api/v1/projects/99").status_code == 404',
        'assert client.get("/api/v1/projects/99").status_code == 400',
    )


def _lint_error(repo: Path) -> None:
    _edit(
        repo,
        "utility/compression.py",
        "from collections.abc import Mapping\n",
        "import sys\nfrom collections.abc import Mapping\n",
    )


def _format_error(repo: Path) -> None:
    _edit(
        repo,
        "utility/compression.py",
        'TRUE_WORDS = ("1", "true", "yes", "on")',
        "TRUE_WORDS = ('1', 'true', 'yes', 'on')",
    )


def _type_error(repo: Path) -> None:
    _edit(
        repo,
        "backend/services/project_service.py",
        "def count(self) -> int:",
        "def count(self) -> str:",
    )


_UNTESTED = '''

def describe(settings: CompressionSettings) -> str:
    """A one-line description of the settings (no test covers it)."""
    parts = [f"format={settings.format}"]
    if settings.lossless:
        parts.append("lossless")
    else:
        parts.append(f"quality={settings.quality}")
    if settings.workers == 0:
        parts.append("workers=auto")
    else:
        parts.append(f"workers={settings.workers}")
    summary = ", ".join(parts)
    if len(summary) > 80:
        summary = summary[:77] + "..."
    return summary


def as_rows(settings: CompressionSettings) -> list[tuple[str, str]]:
    """The settings as (name, value) rows for a table (no test covers it either)."""
    rows = []
    rows.append(("quality", str(settings.quality)))
    rows.append(("format", settings.format))
    if settings.lossless:
        rows.append(("lossless", "yes"))
    else:
        rows.append(("lossless", "no"))
    if settings.workers:
        rows.append(("workers", str(settings.workers)))
    else:
        rows.append(("workers", "auto"))
    width = max(len(name) for name, _ in rows)
    rows = [(name.ljust(width), value) for name, value in rows]
    return rows
'''


def _low_coverage(repo: Path) -> None:
    file = repo / "utility" / "compression.py"
    file.write_text(file.read_text(encoding="utf-8") + _UNTESTED, encoding="utf-8")


def _architecture_violation(repo: Path) -> None:
    path = "backend/api/v1/endpoints/projects.py"
    _edit(
        repo,
        path,
        "from backend.api.dependencies import get_project_service\n",
        "from backend.api.dependencies import get_project_repository, get_project_service\n"
        "from backend.repositories.project_repository import InMemoryProjectRepository\n",
    )
    _edit(
        repo,
        path,
        "def list_projects(service: Service) -> list[Project]:\n"
        '    """Every project, oldest first."""\n'
        "    return service.list_projects()\n",
        "def list_projects(\n"
        "    repository: Annotated[InMemoryProjectRepository, Depends(get_project_repository)],\n"
        ") -> list[Project]:\n"
        '    """Every project, oldest first (straight from the repository)."""\n'
        "    return repository.list_all()\n",
    )


def _missing_doc(repo: Path) -> None:
    (repo / "backend" / "ARCHITECTURE.md").unlink()


_MIGRATION = '''"""add project tags

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-20 09:00:00
"""

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("tags", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("projects", "tags")
'''


def _new_migration(repo: Path) -> None:
    (repo / "alembic" / "versions" / "0003_add_project_tags.py").write_text(
        _MIGRATION, encoding="utf-8"
    )


def _removed_endpoint(repo: Path) -> None:
    _edit(
        repo,
        "backend/api/v1/endpoints/projects.py",
        '''

@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project_id: int, service: Service) -> None:
    """Delete a project, or 404."""
    try:
        service.delete_project(project_id)
    except ProjectNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
''',
        "",
    )
    _edit(
        repo,
        "backend/tests/test_projects_api.py",
        """

def test_delete_project(client: TestClient) -> None:
    client.post("/api/v1/projects/", json={"name": "birds"})
    assert client.delete("/api/v1/projects/1").status_code == 204
    assert client.delete("/api/v1/projects/1").status_code == 404
""",
        "",
    )


_UNIMPORTABLE_TEST = '''"""Tests of the project export, whose module this release renamed."""

import importlib

exporter = importlib.import_module("backend.services.project_export")


def test_export_format_is_json() -> None:
    assert exporter.FORMAT == "json"
'''


def _collection_error(repo: Path) -> None:
    (repo / "backend" / "tests" / "test_project_export.py").write_text(
        _UNIMPORTABLE_TEST, encoding="utf-8"
    )


def _doubled_prefix_base(repo: Path) -> None:
    """The base release served its API under a doubled prefix, /api/api/v1, fixed since: the
    `base` tag moves to a sibling commit of this release that still has the bug."""
    with tempfile.TemporaryDirectory(prefix="sample-base-") as tmp:
        base = Path(tmp) / "base"
        _git(repo, "worktree", "add", "--quiet", "--detach", str(base), BASE_TAG)
        _edit(base, "backend/main.py", 'prefix="/api/v1"', 'prefix="/api/api/v1"')
        _git(base, "commit", "--quiet", "--all", "-m", "PixCrawler 1.0 as released")
        _git(repo, "tag", "--force", BASE_TAG, _git(base, "rev-parse", "HEAD"))
        _git(repo, "worktree", "remove", "--force", str(base))


DEFECTS: dict[str, Callable[[Path], None]] = {
    "failing-test": _failing_test,
    "lint-error": _lint_error,
    "format-error": _format_error,
    "type-error": _type_error,
    "low-coverage": _low_coverage,
    "architecture-violation": _architecture_violation,
    "missing-doc": _missing_doc,
    "new-migration": _new_migration,
    "removed-endpoint": _removed_endpoint,
    "collection-error": _collection_error,
    "doubled-prefix-base": _doubled_prefix_base,
}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *_GIT_IDENTITY, "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def materialize_sample(
    dest: Path, defects: Sequence[str] = (), *, source: Path | None = None
) -> SampleRepo:
    """Copy the sample into `dest` (absent or empty) as a git repository: base release
    (tag `base`), this release, then the requested defects as a third commit."""
    unknown = [d for d in defects if d not in DEFECTS]
    if unknown:
        raise ValueError(f"unknown defects {unknown}; known: {sorted(DEFECTS)}")
    source = source or SAMPLE_SOURCE
    if not (source / "backend").is_dir():
        raise FileNotFoundError(f"no sample repository at {source}")
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    shutil.copytree(source, dest, ignore=_IGNORE, dirs_exist_ok=True)

    for doc in _UPDATED_DOCS:  # the previous release: short READMEs, no architecture docs
        title = (source / doc).read_text(encoding="utf-8").splitlines()[0]
        (dest / doc).write_text(f"{title}\n\nSee the code.\n", encoding="utf-8")
    for doc in _NEW_DOCS:
        (dest / doc).unlink()
    _git(dest, "init", "--quiet", "--initial-branch=main")
    commits = {"base": _commit(dest, "PixCrawler 1.0 (previous release)")}
    _git(dest, "tag", BASE_TAG)

    for doc in (*_UPDATED_DOCS, *_NEW_DOCS):
        shutil.copy2(source / doc, dest / doc)
    commits["release"] = _commit(dest, "Backend architecture refactoring: layers and docs")

    for name in dict.fromkeys(defects):
        DEFECTS[name](dest)
    if defects:
        commits["defects"] = _commit(dest, f"Deliberate defects: {', '.join(defects)}")
    return SampleRepo(path=dest, defects=tuple(dict.fromkeys(defects)), commits=commits)
