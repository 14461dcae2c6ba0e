"""The app import on real history: the target's venv as given, a baseline imported in isolation
from a clean worktree (real venvs with real .pth files, real git repos), settings named at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from git_support import git
from runbook.core.checks import Status
from runbook.phases.pre_deployment.contract.checks import check_compatibility, import_schema_check
from runbook.phases.pre_deployment.contract.errors import (
    ImportLeak,
    MissingSettings,
    SchemaGenerationError,
)
from runbook.phases.pre_deployment.contract.params import BaselineSource, ContractParams
from runbook.phases.pre_deployment.contract.schema_source import (
    generate_schema,
    generate_schema_info,
    load_baseline_info,
)

RUNBOOK_SITE = sysconfig.get_paths()["purelib"]  # fastapi and pydantic, for the test venvs


def commit(repo: Path, message: str, tag: str | None = None) -> None:
    git(repo, "add", ".")
    git(repo, "commit", "-qm", message)
    if tag:
        git(repo, "tag", tag)


def make_venv(where: Path, pth: str) -> Path:
    """A real venv (its bin/python a symlink to the bare interpreter) whose site-packages has
    one .pth file with `pth` in it; returns the venv's bin/python, unresolved."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = next(where.glob("lib/python*/site-packages"))
    (site / "_test_paths.pth").write_text(pth)
    return where / "bin" / "python"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


FASTAPI_APP = """
from fastapi import FastAPI
{imports}

app = FastAPI(title="svc", version="{version}")

for route in {paths}:
    app.add_api_route(route, lambda: {{}}, methods=["GET"], name=route.strip("/") or "root")
"""


def app_source(paths: str, version: str = "1", imports: str = "") -> str:
    return FASTAPI_APP.format(paths=paths, version=version, imports=imports)


def repo_with_exclusions(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    write(path / ".git" / "info" / "exclude", ".venv/\nvendor/\ntools/\n")  # never committed
    return path


# -- the interpreter -----------------------------------------------------------------------


def test_venv_interpreter_is_run_as_given_not_through_its_symlink(tmp_path):
    repo = repo_with_exclusions(tmp_path / "target")
    write(tmp_path / "vendor" / "venv_marker.py", "IN_VENV = True\n")
    write(repo / "backend" / "svc" / "__init__.py", "")
    write(
        repo / "backend" / "svc" / "main.py",
        app_source('["/api/v1/items/"]', imports="import venv_marker"),
    )
    venv_python = make_venv(repo / "backend" / ".venv", f"{tmp_path / 'vendor'}\n{RUNBOOK_SITE}\n")
    assert venv_python.is_symlink() and venv_python.resolve() != venv_python
    # the bare interpreter behind the symlink cannot import the app: only the venv can
    bare = subprocess.run(
        [str(venv_python.resolve()), "-I", "-c", "import venv_marker"],
        capture_output=True,
        check=False,
    )
    assert bare.returncode != 0

    python = "backend/.venv/bin/python"
    params = ContractParams(app="svc.main:app", app_dir="backend", python=python)
    imported = generate_schema_info(repo, params)
    assert "/api/v1/items/" in imported.document["paths"]
    assert imported.interpreter == [str(repo / "backend" / ".venv" / "bin" / "python")]
    assert imported.module_file == str(repo / "backend" / "svc" / "main.py")
    result = import_schema_check(params, repo)
    assert result.status is Status.PASS
    assert result.evidence["interpreter"] == imported.interpreter


def test_argv_prefix_runs_from_the_checkout_root(tmp_path):
    repo = repo_with_exclusions(tmp_path / "target")
    write(repo / "backend" / "svc" / "__init__.py", "")
    write(repo / "backend" / "svc" / "main.py", app_source('["/a/"]'))
    make_venv(repo / "backend" / ".venv", f"{RUNBOOK_SITE}\n")
    # a launcher in the repo, then a path relative to the checkout root: like `uv run ... python`
    write(repo / "tools" / "run", '#!/bin/sh\necho "launcher ran in $(pwd)" >&2\nexec "$@"\n')
    (repo / "tools" / "run").chmod(0o755)
    params = ContractParams(
        app="svc.main:app", app_dir="backend", python=["tools/run", "backend/.venv/bin/python"]
    )
    imported = generate_schema_info(repo, params)
    assert imported.interpreter == [str(repo / "tools" / "run"), "backend/.venv/bin/python"]
    assert imported.cwd == str(repo)
    assert "/a/" in imported.document["paths"]
    with pytest.raises(SchemaGenerationError, match=r"contract\.python is empty"):
        generate_schema(repo, params.model_copy(update={"python": []}))


def test_the_import_gets_a_clean_environment_and_no_bytecode_in_the_checkout(tmp_path, monkeypatch):
    repo = repo_with_exclusions(tmp_path / "target")
    write(repo / "svc" / "__init__.py", "")
    write(
        repo / "svc" / "main.py",
        "import os, json\nfrom fastapi import FastAPI\n"
        "SEEN = {k: os.environ.get(k) for k in ('PYTHONPATH', 'VIRTUAL_ENV', 'RUNBOOK_ONLY', "
        "'GIVEN')}\napp = FastAPI(title=json.dumps(SEEN))\n",
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "runbook-venv"))
    monkeypatch.setenv("RUNBOOK_ONLY", "a variable of the runbook's own process")
    params = ContractParams(app="svc.main:app", python=None, generate_env={"GIVEN": "yes"})
    title = generate_schema(repo, params)["info"]["title"]
    assert json.loads(title) == {
        "PYTHONPATH": None,
        "VIRTUAL_ENV": None,
        "RUNBOOK_ONLY": None,
        "GIVEN": "yes",
    }
    assert not list(repo.rglob("__pycache__"))


# -- settings the app needs at import ------------------------------------------------------

SETTINGS_APP = """
from pydantic_settings import BaseSettings, SettingsConfigDict
from fastapi import FastAPI

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SVC_")
    project_name: str
    postgres_server: str
    postgres_port: int = 5432
    first_superuser: str
    first_superuser_password: str

settings = Settings()
app = FastAPI(title=settings.project_name)
"""


def test_every_missing_setting_is_named_in_one_line(tmp_path, monkeypatch):
    write(tmp_path / "svc" / "__init__.py", "")
    write(tmp_path / "svc" / "main.py", SETTINGS_APP)
    monkeypatch.setenv("SVC_PROJECT_NAME", "in the runbook's environment only: not passed")
    params = ContractParams(
        app="svc.main:app", python=None, generate_env={"SVC_POSTGRES_PORT": "five-four-three-two"}
    )
    with pytest.raises(MissingSettings) as caught:
        generate_schema(tmp_path, params)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.missing == [
        "SVC_PROJECT_NAME",
        "SVC_POSTGRES_SERVER",
        "SVC_FIRST_SUPERUSER",
        "SVC_FIRST_SUPERUSER_PASSWORD",
    ]
    assert "missing: SVC_PROJECT_NAME, SVC_POSTGRES_SERVER, SVC_FIRST_SUPERUSER, " in message
    assert "invalid: SVC_POSTGRES_PORT (" in message
    assert "contract.generate_env" in message
    result = import_schema_check(params, tmp_path)
    assert result.status is Status.ERROR
    assert result.explanation == message
    assert result.evidence["missing_settings"] == caught.value.missing


def test_settings_are_given_by_value_or_by_secret_reference(tmp_path, monkeypatch):
    write(tmp_path / "svc" / "__init__.py", "")
    write(tmp_path / "svc" / "main.py", SETTINGS_APP)
    settings = {
        "SVC_PROJECT_NAME": "svc",
        "SVC_POSTGRES_SERVER": "localhost",
        "SVC_FIRST_SUPERUSER": "admin@example.invalid",
        "SVC_FIRST_SUPERUSER_PASSWORD": {"env": "CONTRACT_TEST_SUPERUSER_PASSWORD"},
    }
    params = ContractParams.model_validate(
        {"app": "svc.main:app", "python": None, "generate_env": settings}
    )
    with pytest.raises(SchemaGenerationError, match=r"\$CONTRACT_TEST_SUPERUSER_PASSWORD"):
        generate_schema(tmp_path, params)
    monkeypatch.setenv("CONTRACT_TEST_SUPERUSER_PASSWORD", "s3cret-value-123")
    assert generate_schema(tmp_path, params)["info"]["title"] == "svc"


# -- the baseline, in isolation from the current checkout ----------------------------------

SHARED_V1 = 'PATHS = ["/api/v1/items/", "/api/v1/users/"]\n'
SHARED_V2 = 'ROUTES = ["/api/v1/items/", "/api/v1/users/", "/api/v1/tags/"]\n'


@pytest.fixture
def monorepo(tmp_path) -> Path:
    """backend/ imports the sibling package shared/shared_lib, installed *editable* in the
    target's venv (a .pth pointing into the current checkout). v1 has PATHS, today ROUTES."""
    repo = repo_with_exclusions(tmp_path / "mono")
    write(repo / "shared" / "shared_lib" / "__init__.py", SHARED_V1)
    write(repo / "backend" / "svc" / "__init__.py", "")
    write(
        repo / "backend" / "svc" / "main.py",
        app_source("PATHS", "1", "from shared_lib import PATHS"),
    )
    commit(repo, "v1", tag="v1")
    write(repo / "shared" / "shared_lib" / "__init__.py", SHARED_V2)
    write(
        repo / "backend" / "svc" / "main.py",
        app_source("ROUTES", "2", "from shared_lib import ROUTES"),
    )
    commit(repo, "v2")
    make_venv(repo / ".venv", f"{repo / 'shared'}\n{RUNBOOK_SITE}\n")
    return repo


def mono_params(**overrides) -> ContractParams:
    defaults = {
        "app": "svc.main:app",
        "app_dir": "backend",
        "python": ".venv/bin/python",
        "baseline": BaselineSource(git_ref="v1"),
    }
    return ContractParams(**{**defaults, **overrides})


def test_baseline_imports_its_own_sibling_package_not_the_editable_install(monorepo):
    # what went wrong before: the v1 app against today's editable shared_lib cannot import
    assert "PATHS" not in (monorepo / "shared" / "shared_lib" / "__init__.py").read_text()
    baseline, source = load_baseline_info(mono_params(), monorepo)
    assert sorted(baseline["paths"]) == ["/api/v1/items/", "/api/v1/users/"]
    assert source["remapped_paths"] == [str(monorepo / "shared")]
    assert Path(source["module_file"]).name == "main.py"
    assert not Path(source["module_file"]).is_relative_to(monorepo)
    candidate = generate_schema(monorepo, mono_params())
    diff, results = check_compatibility(mono_params(), candidate, monorepo)
    assert [(d.kind.value, d.operation) for d in diff.differences] == [
        ("operation-added", "GET /api/v1/tags/")
    ]
    assert [r.status for r in results] == [Status.PASS] * 3


def test_a_file_of_the_current_checkout_loaded_anyway_is_named(monorepo):
    # a startup hook that only the current checkout has, imported by a .pth before the app
    write(monorepo / "tools" / "candidate_hook.py", "HOOKED = True\n")
    site = next((monorepo / ".venv").glob("lib/python*/site-packages"))
    (site / "_hook.pth").write_text(f"{monorepo / 'tools'}\nimport candidate_hook\n")
    with pytest.raises(ImportLeak) as caught:
        load_baseline_info(mono_params(), monorepo)
    hook = str(monorepo / "tools" / "candidate_hook.py")
    assert caught.value.files == [hook]
    assert hook in str(caught.value) and "git ref 'v1'" in str(caught.value)
    _, results = check_compatibility(mono_params(), {"openapi": "3.1.0"}, monorepo)
    assert [r.status for r in results] == [Status.ERROR] * 3
    assert hook in results[0].explanation


def test_a_baseline_needing_packages_the_environment_lacks_says_how_to_build_its_own(monorepo):
    write(monorepo / "backend" / "svc" / "main.py", app_source('["/a/"]', "0", "import passlib"))
    commit(monorepo, "v0 needs passlib", tag="v0")
    params = mono_params(baseline=BaselineSource(git_ref="v0"))
    with pytest.raises(SchemaGenerationError) as caught:
        load_baseline_info(params, monorepo)
    first_line = str(caught.value).splitlines()[0]
    assert "No module named 'passlib' (at backend/svc/main.py:" in first_line
    assert "contract.baseline_python" in first_line
    # baseline_python is what the baseline import runs with
    other = monorepo / "tools" / "other-python"
    venv_python = monorepo / ".venv" / "bin" / "python"
    write(other, f'#!/bin/sh\necho "other python" >&2\nexec "{venv_python}" "$@"\n')
    other.chmod(0o755)
    _, source = load_baseline_info(mono_params(baseline_python=str(other)), monorepo)
    assert source["interpreter"] == [str(other)]
