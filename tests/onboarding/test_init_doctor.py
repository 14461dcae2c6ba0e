"""`runbook init` on a repository it has never seen, and `runbook doctor` listing every missing
prerequisite at once (real git repositories, real subprocesses, a closed port on 127.0.0.1)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rehearsal.sample_repo import materialize_sample
from runbook.core.parameters import ParameterError, load
from runbook.orchestration.init import init_environment, inspect_repository

ROOT = Path(__file__).resolve().parents[2]


def _checkout_root(tmp_path: Path) -> Path:
    """A runbook checkout with only the shared defaults, so init writes nowhere else."""
    root = tmp_path / "runbook"
    (root / "parameters").mkdir(parents=True)
    (root / "runbooks").mkdir()
    shutil.copy(ROOT / "parameters" / "_base.yaml", root / "parameters" / "_base.yaml")
    return root


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_init_writes_a_valid_file_from_what_the_repository_holds(tmp_path: Path) -> None:
    sample = materialize_sample(tmp_path / "target")
    root = _checkout_root(tmp_path)
    assert init_environment("trial", sample.path, "http://127.0.0.1:8123", root) == 0
    text = (root / "parameters" / "trial.yaml").read_text(encoding="utf-8")
    assert text.startswith("# parameters/trial.yaml, written by `runbook init`")
    params = load("trial", root=root).params
    pre = params.pre_deployment
    assert pre is not None and pre.base_ref == "base"  # the previous release's tag
    by_id = {g.id: g for g in pre.gates}
    assert {
        "code.tests.backend",
        "code.tests.utility",
        "code.architecture",
        "code.lint",
        "code.types",
        "code.format",
    } <= set(by_id)
    assert by_id["code.tests.utility"].cwd == "utility"
    assert by_id["code.architecture"].argv[-1] == "tests/test_architecture.py"
    assert params.contract is not None and params.contract.app == "backend.main:app"
    assert params.deploy is not None and params.deploy.method == "start"
    assert params.target.base_url == "http://127.0.0.1:8123"
    # the smoke steps are the app's own routes, found in its OpenAPI document
    assert params.verify is not None
    assert params.verify.steps[0].path == params.deploy.health.route


def test_init_refuses_to_overwrite_and_a_folder_that_is_no_checkout(tmp_path: Path) -> None:
    sample = materialize_sample(tmp_path / "target")
    root = _checkout_root(tmp_path)
    init_environment("trial", sample.path, "http://127.0.0.1:8123", root)
    with pytest.raises(ParameterError, match="exists: pass --force"):
        init_environment("trial", sample.path, "http://127.0.0.1:8123", root)
    (tmp_path / "plain").mkdir()
    with pytest.raises(ParameterError, match="not a git checkout"):
        init_environment("other", tmp_path / "plain", "http://127.0.0.1:8123", root)


def test_inspection_finds_alembic_tags_and_missing_documents(tmp_path: Path) -> None:
    sample = materialize_sample(tmp_path / "target")
    facts = inspect_repository(sample.path)
    assert facts.alembic_versions is None or facts.alembic_versions.endswith("versions")
    assert facts.tags == ["base"]
    assert facts.app_dir == "." and facts.app_package == "backend"
    assert all(facts.documents.values())  # the sample ships the checklist's five documents


def test_doctor_lists_every_missing_prerequisite_at_once(tmp_path: Path) -> None:
    """staging on a machine without credentials: repo, token, Azure, target, files — all named
    in one report, each with its fix, exit 1."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZURE_", "PIXCRAWLER_", "STAGING_", "RUNBOOK_NO_"))
    }
    port = _closed_port()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook.cli",
            "doctor",
            "--env",
            "staging",
            "--param",
            f"target.base_url=http://127.0.0.1:{port}",
            "--param",
            "pre_deployment.repo=/nonexistent/pixcrawler",
            # no managed-identity probe leaves this machine: an unset static token stands in for
            # "no credential"
            "--param",
            "azure.credential={kind: static-token, token: {env: RUNBOOK_NO_ARM_TOKEN}}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 1, done.stderr
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    for expected in (
        "target repository",
        "secret target.token",
        "Azure credential",
        "target answers",
        "deploy package",
    ):
        assert any(expected in line for line in failing), (expected, out)
    assert out.count("fix:") == len(failing)
    assert "PIXCRAWLER_API_TOKEN" in out and "problem(s)" in done.stderr


def test_doctor_passes_when_everything_is_there(tmp_path: Path) -> None:
    """The rehearsal's own prerequisites, all present: exit 0 and no FAIL line."""
    sample = materialize_sample(tmp_path / "target")
    root = _checkout_root(tmp_path)
    init_environment("trial", sample.path, f"http://127.0.0.1:{_closed_port()}", root)
    data = yaml.safe_load((root / "parameters" / "trial.yaml").read_text(encoding="utf-8"))
    env_file = tmp_path / "trial.env"
    env_file.write_text("ENVIRONMENT=development\n", encoding="utf-8")
    data["environment_config"]["variables"]["sources"] = [{"file": str(env_file)}]
    (root / "parameters" / "trial.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    from runbook.orchestration.doctor import diagnose

    env_before = os.environ.get("PIXCRAWLER_API_TOKEN")
    os.environ["PIXCRAWLER_API_TOKEN"] = "doctor-test-token"
    try:
        findings = diagnose(load("trial", root=root).params, root)
    finally:
        if env_before is None:
            os.environ.pop("PIXCRAWLER_API_TOKEN")
        else:
            os.environ["PIXCRAWLER_API_TOKEN"] = env_before
    bad = [f for f in findings if not f.ok]
    assert not bad, bad
    assert any(f.what.startswith("the target imports backend.main:app") for f in findings)


def test_init_finds_a_schema_served_under_a_settings_prefix(tmp_path: Path) -> None:
    """The template style: `FastAPI(openapi_url=f"{settings.API_V1_STR}/openapi.json")` with
    `API_V1_STR: str = "/api/v1"` in another module."""
    repo = tmp_path / "svc"
    (repo / "backend" / "app" / "core").mkdir(parents=True)
    (repo / "backend" / "tests").mkdir()
    (repo / "backend" / "app" / "__init__.py").write_text("")
    (repo / "backend" / "app" / "core" / "__init__.py").write_text("")
    (repo / "backend" / "app" / "core" / "config.py").write_text(
        'class Settings:\n    API_V1_STR: str = "/api/v1"\n'
    )
    (repo / "backend" / "app" / "main.py").write_text(
        "from fastapi import FastAPI\nfrom app.core.config import Settings\nsettings = Settings()"
        '\napp = FastAPI(openapi_url=f"{settings.API_V1_STR}/openapi.json")\n'
    )
    (repo / "backend" / "pyproject.toml").write_text(
        '[project]\nname = "svc"\ndependencies = ["fastapi"]\n'
        '[dependency-groups]\ndev = ["pytest<10", "coverage>=7"]\n'
    )
    (repo / "backend" / "alembic.ini").write_text("[alembic]\nscript_location = app/alembic\n")
    (repo / "backend" / "tests" / "conftest.py").write_text("import pytest\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    facts = inspect_repository(repo)
    assert facts.app == "app.main:app" and facts.app_dir == "backend"
    assert facts.openapi_url == "/api/v1/openapi.json"
    assert facts.test_dirs == ["backend"]
    # coverage.py but no pytest-cov, and a schema only Alembic makes
    root = _checkout_root(tmp_path)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    init_environment("svc", repo, "http://127.0.0.1:8124", root)
    pre = load("svc", root=root).params.pre_deployment
    assert pre is not None
    gates = {g.id: g for g in pre.gates}
    tests = gates["code.tests.backend"]
    assert tests.coverage_tool == "coverage" and tests.needs == ["db.migrate.backend"]
    assert gates["db.migrate.backend"].argv[-2:] == ["upgrade", "head"]
    assert [layer.prefix for layer in pre.coverage_layers] == ["backend/app/"]
