"""Baselines and generated schemas: files, the target's interpreter, git refs (all real)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from git_support import git
from runbook.core.checks import Status
from runbook.phases.pre_deployment.contract.checks import check_compatibility, import_schema_check
from runbook.phases.pre_deployment.contract.diff import diff_schemas
from runbook.phases.pre_deployment.contract.errors import (
    ContractError,
    InvalidSchema,
    SchemaGenerationError,
)
from runbook.phases.pre_deployment.contract.params import BaselineSource, ContractParams
from runbook.phases.pre_deployment.contract.schema_source import (
    generate_schema,
    load_baseline,
    load_schema_file,
)

FIXTURES = Path(__file__).parent / "fixtures"

FASTAPI_APP = """
from fastapi import FastAPI
print("import-time noise on stdout")

def create_app() -> FastAPI:
    app = FastAPI(title="svc", version="1")

    @app.get("/items")
    def list_items() -> list[int]:
        return []

    @app.post("/items")
    def create_item(name: str) -> int:
        return 1

    return app

app = create_app()
"""

# a light app (anything with .openapi()) keeps the subprocess tests fast
APP_V1 = """
print("import-time noise on stdout")
OK = {"200": {"description": "OK"}}
PATHS = {"/items": {"get": {"responses": OK}, "post": {"responses": OK}}}

class App:
    def openapi(self):
        return {"openapi": "3.1.0", "info": {"title": "svc", "version": "1"}, "paths": PATHS}

app = App()
"""

APP_V2 = """
OK = {"200": {"description": "OK"}}
ITEM_ID = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
PATHS = {
    "/items": {"get": {"responses": OK}},
    "/items/{item_id}": {"get": {"parameters": [ITEM_ID], "responses": OK}},
}

class App:
    def openapi(self):
        return {"openapi": "3.1.0", "info": {"title": "svc", "version": "2"}, "paths": PATHS}

app = App()
"""


def write_app(repo: Path, source: str) -> None:
    (repo / "svc").mkdir(parents=True, exist_ok=True)
    (repo / "svc" / "__init__.py").write_text("")
    (repo / "svc" / "main.py").write_text(source)


def params(**overrides) -> ContractParams:
    return ContractParams(**{"python": sys.executable, "app": "svc.main:app", **overrides})


# -- files ---------------------------------------------------------------------------------


def test_yaml_and_json_baseline_files_load(tmp_path):
    document = load_schema_file(FIXTURES / "pixcrawler_baseline.yaml")
    assert "/api/v1/jobs/" in document["paths"]
    assert load_schema_file(FIXTURES / "pixcrawler_candidate.json")["info"]["version"] == "2.0.0"
    v30 = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}
    (tmp_path / "v30.yml").write_text(yaml.safe_dump(v30))
    assert load_schema_file(tmp_path / "v30.yml") == v30


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("package.json", '{"name": "frontend"}', "is not an OpenAPI document: no 'openapi'"),
        ("list.yaml", "- a\n- b\n", "is not an OpenAPI document: top level is not an object"),
        ("swagger.json", '{"swagger": "2.0", "openapi": "2.0"}', "unsupported OpenAPI version"),
        ("noinfo.json", '{"openapi": "3.1.0", "paths": {}}', "'info' is a required property"),
        ("garbage.json", "{not json", "is neither JSON nor YAML"),
    ],
)
def test_a_baseline_that_is_not_openapi_is_an_error_naming_the_file(
    tmp_path, name, content, fragment
):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidSchema) as caught:
        load_baseline(params(baseline=BaselineSource(file=path)))
    assert fragment in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_or_unconfigured_baseline_is_a_contract_error(tmp_path):
    with pytest.raises(ContractError, match="cannot be read"):
        load_schema_file(tmp_path / "absent.json")
    with pytest.raises(ContractError, match="no baseline configured"):
        load_baseline(params())
    diff, results = check_compatibility(params(), {"openapi": "3.1.0"})
    assert diff is None
    assert [r.status for r in results] == [Status.ERROR] * 3
    assert all("no baseline configured" in r.explanation for r in results)


# -- generation by import ------------------------------------------------------------------


def test_generate_schema_from_a_fastapi_app_and_its_factory(tmp_path):
    write_app(tmp_path, FASTAPI_APP)
    by_app = generate_schema(tmp_path, params())
    by_factory = generate_schema(tmp_path, params(app="svc.main:create_app"))
    assert by_app == by_factory
    assert set(by_app["paths"]["/items"]) == {"get", "post"}


def test_relative_interpreter_path_is_resolved_in_the_target_repo(tmp_path):
    write_app(tmp_path, APP_V1)
    wrapper = tmp_path / ".venv" / "bin" / "python"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    document = generate_schema(tmp_path, ContractParams(app="svc.main:app"))  # .venv/bin/python
    assert "/items" in document["paths"]
    result = import_schema_check(ContractParams(app="svc.main:app"), tmp_path)
    assert result.status is Status.PASS
    assert result.observed["operations"] == 2
    assert result.evidence["info"] == {"title": "svc", "version": "1"}


def test_import_failure_is_an_error_with_stderr_tail_and_no_secret(tmp_path):
    secret = "sk-live-0123456789"
    (tmp_path / "broken.py").write_text(
        "import os\nraise RuntimeError('bad settings: key=' + os.environ['SVC_API_KEY'])\n"
    )
    p = params(app="broken:app", generate_env={"SVC_API_KEY": secret})
    with pytest.raises(SchemaGenerationError) as caught:
        generate_schema(tmp_path, p)
    message = str(caught.value)
    assert "RuntimeError: bad settings: key=<$SVC_API_KEY>" in message
    assert secret not in message
    result = import_schema_check(p, tmp_path)
    assert result.status is Status.ERROR
    assert secret not in json.dumps(result.to_payload())


def test_missing_interpreter_and_timeout_are_errors(tmp_path):
    write_app(tmp_path, APP_V1)
    with pytest.raises(SchemaGenerationError, match=r"interpreter .*no-such-python does not exist"):
        generate_schema(tmp_path, params(python=str(tmp_path / "no-such-python")))
    with pytest.raises(SchemaGenerationError, match="cannot run no-such-tool"):
        generate_schema(tmp_path, params(python=["no-such-tool", "run", "python"]))
    (tmp_path / "sleepy.py").write_text("import time\ntime.sleep(5)\n")
    with pytest.raises(SchemaGenerationError, match="timed out"):
        generate_schema(tmp_path, params(app="sleepy:app", generate_timeout_s=0.5))


def test_an_object_without_openapi_is_an_error(tmp_path):
    (tmp_path / "notapp.py").write_text("value = 42\n")
    with pytest.raises(SchemaGenerationError, match="notapp:value is a int: neither an app"):
        generate_schema(tmp_path, params(app="notapp:value"))


# -- baseline at a git ref -----------------------------------------------------------------


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repo: v0 has no app, v1 has GET+POST /items; the working tree has v2."""
    repo = tmp_path / "target"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README.md").write_text("target\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v0")
    git(repo, "tag", "v0")
    write_app(repo, APP_V1)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "v1")
    write_app(repo, APP_V2)  # uncommitted candidate
    return repo


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list").splitlines() if line]


def test_baseline_at_git_ref_diffs_against_the_working_tree(repo):
    p = params(baseline=BaselineSource(git_ref="v1"))
    baseline = load_baseline(p, repo)
    candidate = generate_schema(repo, p)
    assert "post" in baseline["paths"]["/items"] and "post" not in candidate["paths"]["/items"]
    diff = diff_schemas(baseline, candidate)
    assert [(d.kind.value, d.operation) for d in diff.breaking] == [
        ("operation-removed", "POST /items")
    ]
    assert [(d.kind.value, d.operation) for d in diff.compatible] == [
        ("operation-added", "GET /items/{item_id}")
    ]
    assert len(worktrees(repo)) == 1  # the temporary worktree was removed


def test_unknown_git_ref_is_an_error(repo):
    with pytest.raises(ContractError, match="cannot check out git ref 'v9'"):
        load_baseline(params(baseline=BaselineSource(git_ref="v9")), repo)
    assert len(worktrees(repo)) == 1


def test_ref_schema_must_come_from_the_checkout_not_the_working_tree(repo, monkeypatch):
    # at v0 the app does not exist; PYTHONPATH would silently import the working tree's app
    monkeypatch.setenv("PYTHONPATH", str(repo))
    p = params(baseline=BaselineSource(git_ref="v0"), generate_env={"PYTHONPATH": str(repo)})
    with pytest.raises(SchemaGenerationError, match=r"git ref 'v0'.*No module named 'svc'"):
        load_baseline(p, repo)
    assert len(worktrees(repo)) == 1


def test_ref_baseline_of_an_app_in_a_monorepo_subdirectory(tmp_path):
    mono = tmp_path / "mono"
    api = mono / "services" / "api"
    api.mkdir(parents=True)
    git(mono, "init", "-q")
    write_app(api, APP_V1)
    git(mono, "add", ".")
    git(mono, "commit", "-qm", "v1")
    write_app(api, APP_V2)
    baseline = load_baseline(params(baseline=BaselineSource(git_ref="HEAD")), api)
    assert set(baseline["paths"]["/items"]) == {"get", "post"}
    assert len(worktrees(mono)) == 1


def test_ref_baseline_outside_git_is_an_error(tmp_path):
    with pytest.raises(ContractError, match="not inside a git repository"):
        load_baseline(params(baseline=BaselineSource(git_ref="v1")), tmp_path)


def test_ref_baseline_needs_the_repo():
    with pytest.raises(ContractError, match="needs the target repository"):
        load_baseline(params(baseline=BaselineSource(git_ref="v1")))


def test_check_compatibility_end_to_end_with_git_ref(repo):
    p = params(baseline=BaselineSource(git_ref="v1"))
    diff, results = check_compatibility(p, generate_schema(repo, p), repo)
    assert diff is not None
    assert [r.status for r in results] == [Status.FAIL, Status.FAIL, Status.WARN]
    assert os.path.exists(repo / "svc" / "main.py")
