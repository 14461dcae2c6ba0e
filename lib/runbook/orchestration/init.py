"""`runbook init --env NAME --repo PATH --url URL`: inspect a target repository (its Python
projects and their tests, uv, the FastAPI app's import path, Alembic, the checklist's documents,
git tags) and write `parameters/NAME.yaml`, commented, for a person to read and run.
"""

from __future__ import annotations

import configparser
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbook.core.parameters import ENVIRONMENTS_DIR, ParameterError, load
from runbook.phases.pre_deployment.gates.params import RUN_PLACEHOLDER

_SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    "alembic",
    "migrations",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "site-packages",
    "frontend",
}
_APP = re.compile(r"^(\w+)\s*(?::\s*\w+\s*)?=\s*FastAPI\(", re.MULTILINE)
# a module-level app made by a factory: `app = create_app()`
_FACTORY_APP = re.compile(r"^(app|application|api)\s*(?::\s*\w+\s*)?=\s*[\w.]+\(", re.MULTILINE)
CHECKLIST_DOCUMENTS = (
    "utility/README.md",
    "backend/README.md",
    "backend/ARCHITECTURE.md",
    "backend/api/v1/ENDPOINT_STYLE_GUIDE.md",
    "docs/MIGRATION_GUIDE.md",
)


_OPENAPI_URL = re.compile(r"""openapi_url\s*=\s*f?["']([^"']+)["']""")
_PLACEHOLDER = re.compile(r"\{(?:[\w]+\.)*(\w+)\}")


@dataclass
class RepoFacts:
    """What `inspect_repository` found; every path is relative to the repository."""

    repo: Path
    projects: list[str] = field(default_factory=list)  # folders holding a pyproject.toml
    uv_locked: list[str] = field(default_factory=list)  # folders holding a uv.lock
    test_dirs: list[str] = field(default_factory=list)  # project folders with tests
    architecture_tests: list[str] = field(default_factory=list)
    app: str | None = None  # module:attribute
    app_dir: str | None = None  # where that module imports from
    app_package: str | None = None  # the app's top package (what mypy checks)
    openapi_url: str = "/openapi.json"  # where the app serves its schema
    pixcrawler_settings: bool = False  # its source names PixCrawler's backend settings
    alembic_versions: str | None = None
    documents: dict[str, bool] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)  # newest first
    head_tag: str | None = None
    remote_default: str | None = None


def _walk(repo: Path, pattern: str, depth: int = 4) -> list[Path]:
    found = []
    for path in sorted(repo.rglob(pattern)):
        rel = path.relative_to(repo)
        if len(rel.parts) > depth or _SKIP_DIRS & set(rel.parts[:-1]):
            continue
        found.append(path)
    return found


def _git(repo: Path, *args: str) -> str:
    """git's output in `repo`, or "" when it has none to give (no tags, no remote)."""
    from runbook.providers.git_refs import GitError, git

    try:
        done = git(repo, *args, check=False, timeout_s=30)
    except GitError:
        return ""
    return done.stdout.decode(errors="replace").strip() if done.returncode == 0 else ""


def _rel(path: Path, repo: Path) -> str:
    text = path.relative_to(repo).as_posix()
    return text or "."


def inspect_repository(repo: Path) -> RepoFacts:
    """Read the repository's layout; nothing is run but git."""
    facts = RepoFacts(repo=repo)
    facts.projects = [_rel(p.parent, repo) for p in _walk(repo, "pyproject.toml", 2)]
    facts.uv_locked = [_rel(p.parent, repo) for p in _walk(repo, "uv.lock", 2)]
    # each folder holding a `tests` folder is where the checklist's `cd X && uv run pytest` runs
    facts.test_dirs = sorted(
        {
            _rel(p.parent, repo)
            for p in _walk(repo, "tests", 3)
            if p.is_dir() and "tests" not in p.relative_to(repo).parts[:-1]
        }
    )
    facts.architecture_tests = [_rel(p, repo) for p in _walk(repo, "test_architecture.py")]
    _find_app(repo, facts)
    for ini in _walk(repo, "alembic.ini", 2):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(ini, encoding="utf-8")
            location = parser.get("alembic", "script_location", fallback="alembic")
        except configparser.Error:
            continue
        location = location.replace("%(here)s", ".")
        versions = (ini.parent / location / "versions").resolve()
        if versions.is_dir():
            facts.alembic_versions = _rel(versions, repo.resolve())
            break
    facts.documents = {doc: (repo / doc).is_file() for doc in CHECKLIST_DOCUMENTS}
    facts.tags = [
        t for t in _git(repo, "tag", "--merged", "HEAD", "--sort=-v:refname").splitlines() if t
    ]
    facts.head_tag = _git(repo, "describe", "--tags", "--exact-match", "HEAD") or None
    facts.remote_default = _git(repo, "rev-parse", "--abbrev-ref", "origin/HEAD") or None
    return facts


def _find_app(repo: Path, facts: RepoFacts) -> None:
    """The first module-level `NAME = FastAPI(` (else `app = factory()` in a module that uses
    FastAPI) outside tests, as an import path from its import root."""
    texts, every = {}, {}
    for path in _walk(repo, "*.py", 5):
        rel = path.relative_to(repo)
        if "tests" in rel.parts or path.name.startswith("test_"):
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        every[path] = text
        facts.pixcrawler_settings = facts.pixcrawler_settings or "SUPABASE_URL" in text
        if "FastAPI" in text:
            texts[path] = text
    candidates = [(p, _APP.search(t)) for p, t in texts.items()]
    candidates += [(p, _FACTORY_APP.search(t)) for p, t in texts.items()]
    for path, match in candidates:
        if not match:
            continue
        parts = [path.stem]
        folder = path.parent
        while (folder / "__init__.py").is_file() and folder != repo:
            parts.insert(0, folder.name)
            folder = folder.parent
        facts.app = f"{'.'.join(parts)}:{match.group(1)}"
        facts.openapi_url = _openapi_url(texts[path], every) or facts.openapi_url
        facts.app_dir = _rel(folder, repo)
        facts.app_package = parts[0] if len(parts) > 1 else f"{parts[0]}.py"
        return


def _openapi_url(text: str, texts: dict[Path, str]) -> str | None:
    """`FastAPI(openapi_url=...)` with one level of `{settings.NAME}` filled from a
    `NAME: str = "..."` assignment in the repository (None when it cannot be resolved)."""
    match = _OPENAPI_URL.search(text)
    if not match:
        return None
    url = match.group(1)
    for name in _PLACEHOLDER.findall(url):
        assigned = re.compile(rf"""\b{name}\s*(?::\s*\w+\s*)?=\s*["']([^"']*)["']""")
        value = next((m.group(1) for t in texts.values() if (m := assigned.search(t))), None)
        if value is None:
            return None
        url = re.sub(r"\{(?:[\w]+\.)*" + name + r"\}", value, url)
    return url if url.startswith("/") else None


def base_ref(facts: RepoFacts) -> str | None:
    """The last release: the newest tag that is not HEAD's own, else the remote's default."""
    for tag in facts.tags:
        if tag != facts.head_tag:
            return tag
    return facts.remote_default


UV_RUN = [RUN_PLACEHOLDER]  # the checklist's `uv run` (pre_deployment.runner)


def _declared(folder: Path) -> set[str]:
    """Every requirement name a pyproject.toml declares (dependencies, optional ones and
    dependency groups), normalised: what its locked environment will hold."""
    try:
        data = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return set()
    project = data.get("project") or {}
    specs = list(project.get("dependencies") or [])
    for group in [
        *(project.get("optional-dependencies") or {}).values(),
        *(data.get("dependency-groups") or {}).values(),
    ]:
        specs += [x for x in group if isinstance(x, str)]
    return {
        re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower().replace("_", "-")
        for spec in specs
        if isinstance(spec, str)
    }


def _coverage_tool(facts: RepoFacts, folder: str) -> str | None:
    """pytest-cov when the project declares it, coverage.py when only that, else None."""
    names = _declared(facts.repo / folder) | _declared(facts.repo)
    if "pytest-cov" in names:
        return "pytest-cov"
    return "coverage" if "coverage" in names else None


def _needs_migration(facts: RepoFacts, folder: str) -> bool:
    """Its tests expect the schema Alembic makes: an alembic.ini beside them and a conftest
    that never creates the tables itself."""
    conftest = facts.repo / folder / "tests" / "conftest.py"
    try:
        text = conftest.read_text(encoding="utf-8")
    except OSError:
        text = ""
    return (facts.repo / folder / "alembic.ini").is_file() and "create_all" not in text


def _gates(facts: RepoFacts) -> list[dict[str, object]]:
    """The checklist's §1 commands, placed where this repository keeps what they check; the
    coverage tool the target declares; its migration before tests that need the schema."""
    code = "Pre-Deployment §1 Code Quality Verification"
    gates: list[dict[str, object]] = []
    for folder in facts.test_dirs:
        name = "root" if folder == "." else folder.replace("/", "-")
        cov = (
            f"--cov={facts.app_package}"
            if folder == facts.app_dir
            and facts.app_package
            and not facts.app_package.endswith(".py")
            else "--cov=."
        )
        tool = _coverage_tool(facts, folder)
        arch = [
            t
            for t in facts.architecture_tests
            if (t.split("/tests/")[0] if "/tests/" in t else ".") == folder
        ]
        argv = [
            *UV_RUN,
            "pytest",
            *([cov] if tool else []),
            *(f"--ignore={t[len(folder) + 1 :] if folder != '.' else t}" for t in arch),
        ]
        gate: dict[str, object] = {
            "id": f"code.tests.{name}",
            "section": code,
            "kind": "pytest",
            "title": f"All tests pass locally: cd {folder} && uv run pytest",
            "argv": argv,
            "cwd": folder,
            "coverage_report": tool is not None,
            "locks": [f"{name}-tests"],
        }
        if tool == "coverage":
            gate["coverage_tool"] = "coverage"
        if _needs_migration(facts, folder):
            gates.append(
                {
                    "id": f"db.migrate.{name}",
                    "section": code,
                    "kind": "command",
                    "title": f"Test database at the newest migration: cd {folder} && "
                    "uv run alembic upgrade head",
                    "argv": [*UV_RUN, "alembic", "upgrade", "head"],
                    "cwd": folder,
                    "locks": [f"{name}-tests"],
                }
            )
            gate["needs"] = [f"db.migrate.{name}"]
        gates.append(gate)
    for test in facts.architecture_tests:
        folder = test.split("/tests/")[0] if "/tests/" in test else "."
        inner = test[len(folder) + 1 :] if folder != "." else test
        name = "root" if folder == "." else folder.replace("/", "-")
        gates.append(
            {
                "id": "code.architecture",
                "section": code,
                "kind": "pytest",
                "title": f"Architecture tests pass: cd {folder} && uv run pytest {inner}",
                "argv": [*UV_RUN, "pytest", inner],
                "cwd": folder,
                "locks": [f"{name}-tests"],
            }
        )
    lint_dir = facts.app_dir or "."
    gates.append(
        {
            "id": "code.lint",
            "section": code,
            "kind": "ruff-check",
            "title": "Linting passes with no errors: uv run ruff check .",
            "argv": [*UV_RUN, "ruff", "check", "."],
            "cwd": lint_dir,
        }
    )
    if facts.app_package:
        gates.append(
            {
                "id": "code.types",
                "section": code,
                "kind": "mypy",
                "title": f"Type checking passes: uv run mypy {facts.app_package}",
                "argv": [*UV_RUN, "mypy", facts.app_package],
                "cwd": lint_dir,
            }
        )
    gates.append(
        {
            "id": "code.format",
            "section": code,
            "kind": "ruff-format",
            "title": "Code formatted correctly: uv run ruff format --check .",
            "argv": [*UV_RUN, "ruff", "format", "--check", "."],
            "cwd": lint_dir,
        }
    )
    return gates


def _layers(facts: RepoFacts, gates: list[dict[str, object]]) -> list[dict[str, object]]:
    """§2 "coverage ≥ 85 %" for each tested project: its app package where it holds the app,
    else the whole project (the checklist's per-layer lines need PixCrawler's layout)."""
    layers = []
    for gate in gates:
        if not gate.get("coverage_report"):
            continue
        folder = str(gate["cwd"])
        inside = facts.app_package if folder == (facts.app_dir or ".") else None
        inside = inside if inside and not inside.endswith(".py") else None
        # coverage reports name files from the repository's root
        prefix = "/".join(p for p in (folder if folder != "." else "", inside or "") if p) + "/"
        if prefix == "/":
            continue  # tests at the root with no package: no layer to name
        layers.append(
            {
                "id": f"coverage.{str(gate['id']).split('.')[-1]}",
                "title": f"Coverage of {prefix or 'everything'} ≥ 85%",
                "section": "Pre-Deployment §2 Test Coverage Verification",
                "prefix": prefix,
                "threshold_percent": 85,
                "report": gate["id"],
            }
        )
    return layers


def render(env: str, url: str, facts: RepoFacts, repo_arg: str) -> str:
    """The parameters file's text: YAML with a comment before each section saying what was
    found and what a person should still decide."""
    base = base_ref(facts)
    lines = [
        f"# parameters/{env}.yaml, written by `runbook init` from {facts.repo}.",
        "# Read it, fix what it could not know, then `runbook doctor --env "
        f"{env}` lists whatever is still missing.",
        "extends: _base.yaml",
        f"environment: {env}",
        f"description: {facts.repo.name} (made by runbook init)",
        "",
        "target:",
        f"  name: {facts.repo.name}",
        f"  base_url: {url}",
        "  token: {env: PIXCRAWLER_API_TOKEN}   # a test user's bearer token; unset: the "
        "authenticated checks say INCOMPLETE",
        "",
        f"# Found: Python projects {facts.projects or 'none'}; uv.lock in "
        f"{facts.uv_locked or 'none'}; tests in {facts.test_dirs or 'none'}.",
        f"# Base ref: {'newest earlier tag' if base in facts.tags else 'the remote default'} "
        f"({base or 'none found: set pre_deployment.base_ref and contract.baseline'}); "
        f"tags seen: {', '.join(facts.tags[:5]) or 'none'}.",
    ]
    gates = _gates(facts)
    pre: dict[str, object] = {
        "repo": repo_arg,
        "base_ref": base,
        "gates": gates,
        "coverage_layers": _layers(facts, gates),
    }
    if facts.alembic_versions:
        pre["migrations_dir"] = facts.alembic_versions
    missing_docs = [d for d, ok in facts.documents.items() if not ok]
    lines.append(
        "# Documents the checklist names (§3), missing here: "
        + (", ".join(missing_docs) or "none")
        + ". The checks stay: a missing one fails."
    )
    if not facts.alembic_versions:
        lines.append("# No Alembic versions folder found: set migrations_dir.")
    if any(str(g["id"]).startswith("db.migrate") for g in gates):
        lines.append(
            "# Its tests need the schema Alembic makes: db.migrate runs first, and both "
            "use the database its settings name. Point them at a test database (a "
            "gate's env, e.g. POSTGRES_DB: app_test): tests may empty tables."
        )
    lines.append(_yaml({"pre_deployment": pre}))
    lines.append("")
    if facts.app:
        venv = _interpreter(facts)
        routes = _paths(facts, venv)
        health = next((p for p in routes if "health" in p), None)
        lines.append(
            f"# The app {facts.app} imports from {facts.app_dir}; its OpenAPI schema is "
            "generated with the target's own interpreter."
        )
        lines.append(
            "# Settings the app needs at import go in generate_env (secrets as "
            "{env: NAME}); `runbook doctor` names every missing one."
        )
        contract = {
            "app": facts.app,
            "app_dir": facts.app_dir,
            "python": venv,
            "openapi_path": facts.openapi_url,
            **({"baseline": {"git_ref": base}} if base else {}),
            "public_path_prefixes": ["/"],
            "generate_env": {},
            "live_docs": "after-deploy",
        }
        lines.append(_yaml({"contract": contract}).rstrip())
        lines.append("")
        lines.append(
            "# Deployment Steps §1.1: the run starts the app from the checkout on "
            "target.base_url's port, checks health, /docs and its log, and stops it."
        )
        deploy: dict[str, Any] = {
            "method": "start",
            "start": {
                "argv": ["uv", "run", "uvicorn", facts.app, "--host", "{host}", "--port", "{port}"],
                "cwd": facts.app_dir,
            },
            "health": {"route": health or "/docs", "expected_json": {}, "version_field": None},
        }
        deploy["start"]["doc_pages"] = [facts.openapi_url, "/docs", "/redoc"]
        lines.append(_yaml({"deploy": deploy}))
        lines.append("")
        lines.append(
            f"# Smoke tests: the app's own routes ({len(routes)} GET routes without "
            "parameters found); PixCrawler's steps would not apply. Every secured "
            "operation is also tried without a token (it must refuse)."
        )
        steps = [
            {
                "id": "smoke.health",
                "title": f"Health endpoint responds: GET {health or '/docs'}",
                "method": "GET",
                "path": health or "/docs",
                "auth": False,
                "expect_status": 200,
            },
            {
                "id": "smoke.openapi",
                "title": f"OpenAPI schema generates: GET {facts.openapi_url}",
                "method": "GET",
                "path": facts.openapi_url,
                "auth": False,
                "expect_status": 200,
                "expect_keys": ["openapi", "paths"],
            },
            {
                "id": "smoke.docs",
                "title": "API documentation accessible: GET /docs",
                "method": "GET",
                "path": "/docs",
                "auth": False,
                "expect_status": 200,
                "expect_content_type": "text/html",
            },
        ]
        # FastAPI's own security schemes refuse with 401 or 403 and {"detail": ...}
        sweep = {"schema_path": facts.openapi_url, "expect_status": [401, 403], "envelope": None}
        lines.append(_yaml({"verify": {"steps": steps, "unauthenticated": sweep}}))
        lines.append("")
        perf = [{"path": health or "/openapi.json", "auth": False}]
        lines.append(_yaml({"performance": {"routes": perf, "detailed_health_path": None}}))
    else:
        lines.append(
            "# No `app = FastAPI(` found: set contract.app (module:attribute) and "
            "contract.app_dir by hand, and how the app starts (deploy)."
        )
        lines.append(_yaml({"deploy": {"method": "zip", "package": {"path": "backend.zip"}}}))
    lines += [
        "",
        "environment_config:",
        "  variables:",
        "    sources:",
        f"      - file: {_env_file(facts, repo_arg)}",
        "    utility: {require_present: false}",
        *(
            []
            if facts.pixcrawler_settings
            else [
                "    # no SUPABASE_URL in its source: PixCrawler's backend-settings checks do not "
                "apply",
                "    backend: {enabled: false}",
            ]
        ),
        "    drift: {env_files: {}}",
        "",
        "# Azure App Service: uncomment for a deployed environment (DefaultAzureCredential).",
        "# azure: {subscription_id: ..., resource_group: ..., site: ..., credential: {kind: "
        "default}}",
        "",
    ]
    return "\n".join(lines) + "\n"


def _yaml(data: dict[str, object]) -> str:
    return yaml.safe_dump(
        data, sort_keys=False, width=100, allow_unicode=True, default_flow_style=None
    ).rstrip()


def _interpreter(facts: RepoFacts) -> list[str] | str | None:
    """How to run the target's own Python: through uv when it locks its environment (the
    baseline's worktree then gets its own), else an existing venv, else None (say so)."""
    if facts.uv_locked:
        return ["uv", "run", "--frozen", "--project", facts.app_dir or ".", "python"]
    for folder in [facts.app_dir or ".", "."]:
        candidate = facts.repo / folder / ".venv" / "bin" / "python"
        if candidate.exists():
            return (Path(folder) / ".venv" / "bin" / "python").as_posix()
    return None


def _paths(facts: RepoFacts, interpreter: list[str] | str | None) -> list[str]:
    """The app's GET routes without path parameters, from its own OpenAPI (empty when the app
    cannot be imported yet: `runbook doctor` says why)."""
    if not facts.app:
        return []
    from runbook.phases.pre_deployment.contract.params import ContractParams
    from runbook.phases.pre_deployment.contract.schema_source import generate_schema

    try:
        schema = generate_schema(
            facts.repo,
            ContractParams(
                app=facts.app,
                app_dir=facts.app_dir or ".",
                python=interpreter,
                generate_timeout_s=120,
            ),
        )
    except Exception:  # noqa: BLE001 - best effort: the file says what to fill in
        return []
    return [p for p, ops in (schema.get("paths") or {}).items() if "get" in ops and "{" not in p]


def _env_file(facts: RepoFacts, repo_arg: str) -> str:
    for name in (".env", "backend/.env", ".env.example"):
        if (facts.repo / name).is_file():
            return f"{repo_arg.rstrip('/')}/{name}"
    return f"{repo_arg.rstrip('/')}/.env   # not found: write the variables to apply there"


def init_environment(env: str, repo: Path, url: str, root: Path, *, force: bool = False) -> int:
    """Write parameters/<env>.yaml for `repo` and validate it; 0 on success, 2 on bad input."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", env) or env.startswith("_"):
        raise ParameterError([f"--env {env!r}: use lower-case letters, digits and '-'"])
    target = root / ENVIRONMENTS_DIR / f"{env}.yaml"
    if target.exists() and not force:
        raise ParameterError([f"{target} exists: pass --force to replace it"])
    repo = repo.expanduser()
    if not (repo / ".git").exists():
        raise ParameterError([f"--repo {repo}: not a git checkout (no .git)"])
    facts = inspect_repository(repo.resolve())
    repo_arg = str(repo.resolve())
    text = render(env, url, facts, repo_arg)
    previous = target.read_text(encoding="utf-8") if target.exists() else None
    target.parent.mkdir(parents=True, exist_ok=True)  # a team's repository may have none yet
    target.write_text(text, encoding="utf-8")
    try:
        load(env, root=root)
    except ParameterError as exc:
        if previous is None:
            target.unlink()
        else:
            target.write_text(previous, encoding="utf-8")
        raise ParameterError(
            ["the file init wrote does not validate (a bug):", *exc.problems]
        ) from None
    print(f"wrote {target}")
    print(
        f"  app: {facts.app or 'not found'} (from {facts.app_dir or '?'}); base ref: "
        f"{base_ref(facts) or 'none'}; tests in: {', '.join(facts.test_dirs) or 'none'}; "
        f"alembic: {facts.alembic_versions or 'none'}"
    )
    print(f"next: uv run runbook doctor --env {env}", file=sys.stderr)
    return 0
