"""Parameters of the pre-deployment gates, with defaults taken from the checklist.

Checklist: "Pre-Deployment Checklist" §1 Code Quality Verification, §2 Test Coverage
Verification, §3 Documentation Review, and "Environment Configuration" §2 Configuration
Changes ("No database migrations required").

How a gate's argv finds the target's environment (two whole-element placeholders):

- `{run}` is the *runner prefix*: what the checklist writes as `uv run`. It expands to
  `PreDeploymentParams.runner`, default `["uv", "run"]`, so the default gates are exactly the
  checklist's commands (`cd backend && uv run pytest`, `uv run ruff check .`, ...), run in the
  target's own uv environments. A target with another tool changes only the runner, e.g.
  `[poetry, run]`, `[backend/.venv/bin/python, -m]` or `["{python}", "-m"]`.
- `{python}` expands to `PreDeploymentParams.python` (an argv prefix; a relative first element
  is resolved against the candidate's tree). Left unset it is the runbook's own interpreter,
  which suits only the local rehearsal's sample (its dependencies are the runbook's):
  parameters/local.yaml sets `runner: ["{python}", "-m"]`.
- Any other argv is explicit and runs as written (`kind: command` for arbitrary commands).

Where gates run: in a scratch `git worktree` of `candidate_ref` (default HEAD) kept per
repository under `worktree_cache`, so the user's checkout is never written to and the tools'
caches (`worktree_keep`: .venv, .mypy_cache, ...) survive between runs. `candidate_ref: null`
runs them in the checkout as it is. Every gate gets a clean process environment (see
`clean_env`); `env_passthrough` names variables of the runbook's own environment to hand on.

Side by side: `parallel` gates at once (default 2: the checklist's gates are independent
processes — two pytest runs of different packages, ruff and mypy, which only read the tree and
keep separate caches). Gates naming the same entry of `locks` (e.g. a test database both
backend test gates use) never run at once. A gate's `needs` names earlier gates that must PASS
before it starts (e.g. a `kind: command` gate `[{run}, alembic, upgrade, head]` that gives the
test database its schema); gates others need start first, and a gate whose need did not pass
is ERROR without running.

Coverage is measured in the test run itself (`coverage_report: true`), by pytest-cov (default,
`coverage_tool: pytest-cov`, the checklist's `--cov`) or, for a target that has coverage.py but
not pytest-cov, by `coverage_tool: coverage`: `{run} coverage run [--source=…] -m pytest …`,
then `{run} coverage json` and `{run} coverage report` on that run's data (`coverage_commands`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.core.checklist.limits import CatalogueLimit
from runbook.core.checks import Severity
from runbook.phases.pre_deployment.gates.coverage_commands import pytest_index, untranslatable

PYTHON_PLACEHOLDER = "{python}"
RUN_PLACEHOLDER = "{run}"
PLACEHOLDERS = (PYTHON_PLACEHOLDER, RUN_PLACEHOLDER)
DEFAULT_RUNNER = ["uv", "run"]
DEFAULT_WORKTREE_CACHE = None  # the user's cache folder (gates.runner.worktree_cache)
DEFAULT_WORKTREE_KEEP = [".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache"]

CODE_QUALITY = "Pre-Deployment §1 Code Quality Verification"
TEST_COVERAGE = "Pre-Deployment §2 Test Coverage Verification"
DOCUMENTATION = "Pre-Deployment §3 Documentation Review"
CONFIGURATION_CHANGES = "Environment Configuration §2 Configuration Changes"

GateKind = Literal["pytest", "ruff-check", "ruff-format", "mypy", "command"]
CoverageTool = Literal["pytest-cov", "coverage"]

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError("must be lower-case letters, digits, '.', '_' or '-' (it names files)")
    return value


def _whole_placeholders(value: list[str]) -> list[str]:
    for item in value:
        for placeholder in PLACEHOLDERS:
            if placeholder in item and item != placeholder:
                raise ValueError(f"{placeholder} must be a whole argv element, got {item!r}")
    return value


def _check_relative(value: str) -> str:
    path = Path(value)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError("must be a path relative to the repository, without '..'")
    return value


class Gate(BaseModel):
    """One command of the checklist, run in the target repository's own environment."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="stable check id; also names the evidence files")
    title: str
    section: str = Field(description="the checklist section and box this gate proves")
    severity: Severity = Severity.BLOCKER
    kind: GateKind
    argv: list[str] = Field(min_length=1, description="argv, never a shell string")
    cwd: str = Field(default=".", description="working directory, relative to the repository")
    env: dict[str, str] = Field(
        default_factory=dict, description="extra environment variables (only names are recorded)"
    )
    timeout_s: float = Field(default=600.0, gt=0, le=7200)
    coverage_report: bool = Field(
        default=False,
        description="pytest only: this same run writes a coverage JSON report (and the TOTAL "
        "line of the tool that measured it) into the evidence; the --cov sources stay in argv",
    )
    coverage_tool: CoverageTool = Field(
        default="pytest-cov",
        description="pytest with coverage_report only: `pytest-cov` (pytest's --cov options) or "
        "`coverage` (coverage.py: `coverage run -m pytest ...`, then `coverage json` and "
        "`coverage report`), for a target that has coverage but not pytest-cov",
    )
    mypy_output: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="mypy only: `--output json` (mypy >= 1.11), the text format, or auto "
        "(json, then text when this mypy refuses --output)",
    )
    locks: list[str] = Field(
        default_factory=list,
        description="named resources used exclusively (e.g. a test database): gates sharing "
        "one never run side by side",
    )
    needs: list[str] = Field(
        default_factory=list,
        description="ids of earlier gates that must PASS before this one starts (e.g. the "
        "test database's `alembic upgrade head`); if one does not, this gate is ERROR, not run",
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value)

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, value: str) -> str:
        return _check_relative(value)

    @field_validator("argv")
    @classmethod
    def _placeholder_whole(cls, value: list[str]) -> list[str]:
        return _whole_placeholders(value)

    @model_validator(mode="after")
    def _kind_options(self) -> Gate:
        if self.coverage_report and self.kind != "pytest":
            raise ValueError("coverage_report is only for pytest gates")
        if self.coverage_tool == "coverage":
            if not self.coverage_report:
                raise ValueError("coverage_tool: coverage measures coverage only with "
                                 "coverage_report: true")  # fmt: skip
            if pytest_index(self.argv) is None:
                raise ValueError("coverage_tool: coverage runs the argv's pytest under "
                                 "`coverage run -m pytest`: name pytest in argv, e.g. "
                                 "[{run}, pytest, tests/]")  # fmt: skip
            if bad := untranslatable(self.argv):
                raise ValueError(f"{', '.join(bad)}: pytest-cov options, which coverage_tool: "
                                 "coverage cannot pass on (it takes --cov=SOURCE, --cov-branch "
                                 "and --cov-config=FILE; the coverage layers are the "
                                 "thresholds)")  # fmt: skip
        return self


class CoverageLayer(BaseModel):
    """A layer's statement coverage gate: files under `prefix` in a coverage JSON report."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    section: str
    prefix: str = Field(description="path prefix as the coverage report records it")
    exclude_prefixes: list[str] = Field(default_factory=list)
    threshold_percent: float = Field(ge=0, le=100)
    severity: Severity = Severity.WARNING
    report: str | None = Field(
        default=None, description="id of the pytest gate whose coverage report measures this layer"
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value)

    @field_validator("prefix", "exclude_prefixes")
    @classmethod
    def _prefix(cls, value: str | list[str]) -> str | list[str]:
        for item in [value] if isinstance(value, str) else value:
            if not item or item.startswith("/") or "\\" in item:
                raise ValueError("must be a non-empty relative posix path prefix")
        return value


class DocumentSpec(BaseModel):
    """A document the checklist requires."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="relative to the repository")
    section: str
    severity: Severity = Severity.BLOCKER

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_relative(value)

    @property
    def check_id(self) -> str:
        """e.g. 'docs.backend-architecture-md'."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.path.lower()).strip("-")
        return f"docs.{slug}"


class CompatCase(BaseModel):
    """One old way of configuring the package: a command, its variables, what it must print."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    argv: list[str] = Field(min_length=1, description="argv ({run}/{python} expanded), no shell")
    env: dict[str, str] = Field(default_factory=dict, description="the configuration under test")
    cwd: str = Field(default=".", description="relative to the candidate's tree")
    expect: dict[str, Any] = Field(
        min_length=1, description="dotted path in the printed JSON -> the value it must have"
    )
    timeout_s: float = Field(default=120, gt=0)


class UtilityCompatParams(BaseModel):
    """Where the utility package is and the old configuration methods to try."""

    model_config = ConfigDict(extra="forbid")

    package: str = Field(default="utility", description="its folder in the candidate's tree")
    cases: list[CompatCase] = Field(default_factory=list)
    severity: Severity = Severity.BLOCKER


class PreDeploymentParams(BaseModel):
    """Everything the pre-deployment gates need to know about the target repository."""

    model_config = ConfigDict(extra="forbid")

    repo: Path = Field(description="the target repository checkout")
    runner: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RUNNER),
        description="argv prefix for {run}: how the target runs its own tools (checklist: "
        "`uv run`); may contain {python}",
    )
    python: list[str] | None = Field(
        default=None, description="argv prefix for {python}; None = the runbook's own interpreter"
    )
    candidate_ref: str | None = Field(
        default="HEAD",
        description="the commit the gates test, checked out in a scratch worktree; None = run "
        "in the checkout as it is (it may then be written to)",
    )
    worktree_cache: Path | None = Field(
        default=DEFAULT_WORKTREE_CACHE,
        description="folder of the per-repository scratch worktrees, kept between runs so the "
        "tools' caches are warm (relative: to the runbook checkout). None: "
        "$XDG_CACHE_HOME/pixcrawler-runbook/worktrees (else ~/.cache/…), outside every "
        "project, so a target's tools never find a parent folder's configuration (a pytest, "
        "ruff or mypy section of the runbook's own pyproject.toml)",
    )
    worktree_keep: list[str] = Field(
        default_factory=lambda: list(DEFAULT_WORKTREE_KEEP),
        description="ignored folders kept in the worktree between runs (gitignore patterns): "
        "environments and tool caches; everything else untracked is cleaned",
    )
    env_passthrough: list[str] = Field(
        default_factory=list,
        description="variables of the runbook's environment handed to every gate (NAME, or a "
        "PREFIX_* pattern); everything else is left out",
    )
    base_ref: str | None = Field(
        default=None,
        description="git ref of the last release (docs changed? migrations unchanged?)",
    )
    gates: list[Gate] = Field(default_factory=lambda: checklist_gates())
    parallel: int = Field(
        default=2,
        ge=1,
        le=16,
        description="gates run at once (each has its own reports and COVERAGE_FILE); gates "
        "sharing a `locks` entry still run one after the other",
    )
    coverage_layers: list[CoverageLayer] = Field(default_factory=lambda: checklist_layers())
    documents: list[DocumentSpec] = Field(default_factory=lambda: checklist_documents())
    utility_compat: UtilityCompatParams | None = Field(
        default=None,
        description="Pre-Deployment §4 'Old utility configuration methods still "
        "work' (gates.utility_compat); None: not tried (SKIP)",
    )
    migrations_dir: str = Field(default="alembic/versions", description="Alembic versions folder")
    migrations_severity: Severity = Severity.BLOCKER

    @field_validator("migrations_dir")
    @classmethod
    def _migrations(cls, value: str) -> str:
        return _check_relative(value)

    @field_validator("python", mode="before")
    @classmethod
    def _python_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("runner")
    @classmethod
    def _runner(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must name a command prefix, e.g. [uv, run]")
        if RUN_PLACEHOLDER in value:
            raise ValueError(f"cannot contain {RUN_PLACEHOLDER} itself")
        return _whole_placeholders(value)

    @field_validator("candidate_ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or value.startswith("-")):
            raise ValueError("must be a git ref such as HEAD, a branch, a tag or a commit")
        return value

    @field_validator("python")
    @classmethod
    def _python_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must name an interpreter (or be left unset)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PreDeploymentParams:
        ids = [g.id for g in self.gates] + [layer.id for layer in self.coverage_layers]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate check ids: {duplicates}")
        earlier: set[str] = set()
        for gate in self.gates:
            if unknown := [n for n in gate.needs if n not in earlier]:
                raise ValueError(
                    f"gate {gate.id!r} needs {unknown}: `needs` names gates listed before it "
                    f"(known so far: {sorted(earlier) or 'none'})"
                )
            earlier.add(gate.id)
        reporting = {g.id for g in self.gates if g.coverage_report}
        for layer in self.coverage_layers:
            if layer.report is not None and layer.report not in reporting:
                raise ValueError(
                    f"coverage layer {layer.id!r} reads report {layer.report!r}, "
                    f"which is not a pytest gate with coverage_report: true"
                )
        return self


def checklist_gates() -> list[Gate]:
    """§1's commands as the checklist writes them (`{run}` is `uv run` by default), each in
    its own folder of a repository laid out like PixCrawler.

    Two deliberate differences: the backend test gate leaves out the architecture tests, which
    are their own box (one broken rule flips one check), and `ruff format` runs with `--check`
    (the gate never rewrites the tree). The test gates measure coverage in the same run
    (`--cov`), so the suite never runs twice; the two backend gates share `locks: [backend-tests]`
    (a real backend's tests may share a database) and so never run side by side.
    """
    run = RUN_PLACEHOLDER
    return [
        Gate(
            id="code.tests.utility",
            title="All tests pass locally: utility",
            section=f"{CODE_QUALITY} — All tests pass locally",
            kind="pytest",
            cwd="utility",
            argv=[run, "pytest", "--cov=utility"],
            coverage_report=True,
        ),
        Gate(
            id="code.tests.backend",
            title="All tests pass locally: backend",
            section=f"{CODE_QUALITY} — All tests pass locally",
            kind="pytest",
            cwd="backend",
            argv=[run, "pytest", "--cov=backend", "--ignore=tests/test_architecture.py"],
            coverage_report=True,
            locks=["backend-tests"],
        ),
        Gate(
            id="code.architecture",
            title="Architecture tests pass",
            section=f"{CODE_QUALITY} — Architecture tests pass",
            kind="pytest",
            cwd="backend",
            argv=[run, "pytest", "tests/test_architecture.py", "-v"],
            locks=["backend-tests"],
        ),
        Gate(
            id="code.lint",
            title="Linting passes with no errors",
            section=f"{CODE_QUALITY} — Linting passes with no errors",
            kind="ruff-check",
            argv=[run, "ruff", "check", "."],
        ),
        Gate(
            id="code.types",
            title="Type checking passes",
            section=f"{CODE_QUALITY} — Type checking passes",
            kind="mypy",
            argv=[run, "mypy", "backend/"],
        ),
        Gate(
            id="code.format",
            title="Code formatted correctly",
            section=f"{CODE_QUALITY} — Code formatted correctly",
            kind="ruff-format",
            argv=[run, "ruff", "format", "--check", "."],
        ),
    ]


def checklist_layers() -> list[CoverageLayer]:
    """§2's four coverage gates: utility is a blocker, the backend layers are targets."""
    return [
        CoverageLayer(
            id="coverage.utility",
            title="Utility package coverage ≥ 85%",
            section=f"{TEST_COVERAGE} — Utility package coverage ≥ 85%",
            prefix="utility/",
            exclude_prefixes=["utility/tests/"],
            threshold_percent=CatalogueLimit("coverage_utility")(),
            severity=Severity.BLOCKER,
            report="code.tests.utility",
        ),
        CoverageLayer(
            id="coverage.backend.endpoints",
            title="Backend endpoints coverage ≥ 90% (target)",
            section=f"{TEST_COVERAGE} — Backend endpoints coverage ≥ 90% (target)",
            prefix="backend/api/v1/endpoints/",
            threshold_percent=CatalogueLimit("coverage_endpoints")(),
            report="code.tests.backend",
        ),
        CoverageLayer(
            id="coverage.backend.services",
            title="Backend services coverage ≥ 85% (target)",
            section=f"{TEST_COVERAGE} — Backend services coverage ≥ 85% (target)",
            prefix="backend/services/",
            threshold_percent=CatalogueLimit("coverage_services")(),
            report="code.tests.backend",
        ),
        CoverageLayer(
            id="coverage.backend.repositories",
            title="Backend repositories coverage ≥ 80% (target)",
            section=f"{TEST_COVERAGE} — Backend repositories coverage ≥ 80% (target)",
            prefix="backend/repositories/",
            threshold_percent=CatalogueLimit("coverage_repositories")(),
            report="code.tests.backend",
        ),
    ]


def checklist_documents() -> list[DocumentSpec]:
    """The five documents §3 names."""
    readme = f"{DOCUMENTATION} — README files updated"
    architecture = f"{DOCUMENTATION} — Architecture documentation complete"
    migration = f"{DOCUMENTATION} — Migration guide reviewed"
    return [
        DocumentSpec(path="utility/README.md", section=readme),
        DocumentSpec(path="backend/README.md", section=readme),
        DocumentSpec(path="backend/ARCHITECTURE.md", section=architecture),
        DocumentSpec(path="backend/api/v1/ENDPOINT_STYLE_GUIDE.md", section=architecture),
        DocumentSpec(path="docs/MIGRATION_GUIDE.md", section=migration),
    ]
