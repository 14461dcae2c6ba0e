"""Gates test the committed candidate in a cached scratch worktree, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from git_support import git
from rehearsal.sample_repo import SAMPLE_RUNNER, materialize_sample
from runbook.core.checks import Status
from runbook.phases.pre_deployment.gates.clean_env import gate_environment, runbook_venv_bins
from runbook.phases.pre_deployment.gates.params import CODE_QUALITY, Gate, PreDeploymentParams
from runbook.phases.pre_deployment.gates.runner import run_gates
from runbook.providers.worktree import prune_cache, repo_key

BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def gate(argv: list[str], id: str = "probe", **extra: object) -> Gate:
    return Gate.model_validate({"id": id, "title": id, "section": f"{CODE_QUALITY} — t",
                                "kind": "command", "argv": argv, **extra})  # fmt: skip


def params(repo: Path, cache: Path, gates: list[Gate], **extra: object) -> PreDeploymentParams:
    return PreDeploymentParams.model_validate({"repo": repo, "worktree_cache": cache,
                                               "gates": gates, "coverage_layers": [],
                                               "runner": SAMPLE_RUNNER, **extra})  # fmt: skip


WRITE_AND_REPORT = (
    "import os, pathlib; pathlib.Path('written-by-the-gate.txt').write_text('x');"
    "print(os.getcwd()); print(pathlib.Path('backend/services/project_service.py').read_text())"
)


def test_gates_run_in_a_worktree_and_never_write_to_the_checkout(tmp_path: Path) -> None:
    sample = materialize_sample(tmp_path / "repo")
    before = git(sample.path, "status", "--porcelain", "--ignored")
    (result,) = run_gates(params(sample.path, tmp_path / "cache",
                                 [gate(["{python}", "-c", WRITE_AND_REPORT])]),
                          tmp_path / "ev")  # fmt: skip
    assert result.status is Status.PASS, result.explanation
    cwd = (tmp_path / "ev" / "probe.stdout.log").read_text().splitlines()[0]
    assert Path(cwd).is_relative_to(tmp_path / "cache")
    assert not (sample.path / "written-by-the-gate.txt").exists()
    assert git(sample.path, "status", "--porcelain", "--ignored") == before
    candidate = result.evidence["candidate"]
    assert candidate["commit"] == git(sample.path, "rev-parse", "HEAD")
    assert candidate["ref"] == "HEAD" and candidate["uncommitted_in_checkout"] == 0


def test_uncommitted_changes_are_named_and_not_tested(tmp_path: Path) -> None:
    sample = materialize_sample(tmp_path / "repo")
    service = sample.path / "backend/services/project_service.py"
    service.write_text(service.read_text() + "\nUNCOMMITTED_MARKER = 1\n")
    (result,) = run_gates(params(sample.path, tmp_path / "cache",
                                 [gate(["{python}", "-c", WRITE_AND_REPORT])]),
                          tmp_path / "ev")  # fmt: skip
    assert "UNCOMMITTED_MARKER" not in (tmp_path / "ev" / "probe.stdout.log").read_text()
    assert result.evidence["candidate"]["uncommitted_in_checkout"] == 1
    assert (
        "backend/services/project_service.py"
        in result.evidence["candidate"]["uncommitted_examples"][0]
    )
    assert "1 uncommitted changes were not tested" in result.explanation


def test_worktree_is_reused_keeping_caches_and_cleaning_the_rest(tmp_path: Path) -> None:
    sample = materialize_sample(tmp_path / "repo")
    leave = ("import pathlib; pathlib.Path('.mypy_cache').mkdir(exist_ok=True);"
             "pathlib.Path('.mypy_cache/kept').write_text('warm');"
             "pathlib.Path('junk.txt').write_text('stale')")  # fmt: skip
    look = ("import pathlib; print(pathlib.Path('.mypy_cache/kept').exists(),"
            "pathlib.Path('junk.txt').exists())")  # fmt: skip
    first = run_gates(params(sample.path, tmp_path / "cache", [gate(["{python}", "-c", leave])]),
                      tmp_path / "ev1")[0]  # fmt: skip
    assert first.evidence["candidate"]["worktree_reused"] is False
    second = run_gates(params(sample.path, tmp_path / "cache", [gate(["{python}", "-c", look])]),
                       tmp_path / "ev2")[0]  # fmt: skip
    assert second.evidence["candidate"]["worktree_reused"] is True
    assert second.evidence["candidate"]["worktree"] == first.evidence["candidate"]["worktree"]
    assert (tmp_path / "ev2" / "probe.stdout.log").read_text().strip() == "True False"


def test_candidate_ref_selects_the_commit_tested(tmp_path: Path) -> None:
    sample = materialize_sample(tmp_path / "repo")
    has_doc = "import pathlib; print(pathlib.Path('backend/ARCHITECTURE.md').exists())"
    (result,) = run_gates(params(sample.path, tmp_path / "cache",
                                 [gate(["{python}", "-c", has_doc])], candidate_ref="base"),
                          tmp_path / "ev")  # fmt: skip
    assert result.evidence["candidate"]["commit"] == sample.commits["base"]
    assert (tmp_path / "ev" / "probe.stdout.log").read_text().strip() == "False"


def test_no_repository_or_unknown_ref_makes_every_gate_an_error(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    gates = [gate(["true"], id="a"), gate(["true"], id="b")]
    results = run_gates(params(tmp_path / "plain", tmp_path / "cache", gates), tmp_path / "ev")
    assert [r.status for r in results] == [Status.ERROR, Status.ERROR]
    assert "is not a git repository" in results[0].explanation
    sample = materialize_sample(tmp_path / "repo")
    (bad,) = run_gates(params(sample.path, tmp_path / "cache", gates[:1], candidate_ref="v9.9"),
                       tmp_path / "ev")  # fmt: skip
    assert bad.status is Status.ERROR and "'v9.9' is not a commit" in bad.explanation


def test_cache_entries_of_vanished_repositories_are_pruned(tmp_path: Path) -> None:
    gone = materialize_sample(tmp_path / "gone")
    kept = materialize_sample(tmp_path / "kept")
    for sample in (gone, kept):
        run_gates(params(sample.path, tmp_path / "cache", [gate(["true"])]), tmp_path / "ev")
    subprocess.run(["rm", "-rf", str(gone.path)], check=True)
    removed = prune_cache(tmp_path / "cache")
    assert [p.name for p in removed] == [repo_key(gone.path.resolve())]
    assert (tmp_path / "cache" / repo_key(kept.path.resolve()) / "tree").is_dir()


def test_gate_environment_keeps_the_basics_and_drops_the_runbooks_own() -> None:
    venv_bin = str(Path(sys.prefix) / "bin")
    outside = {
        "HOME": "/home/u", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PATH": os.pathsep.join([venv_bin, "/usr/bin", "/bin"]),
        "VIRTUAL_ENV": sys.prefix, "UV_PROJECT_ENVIRONMENT": "/x", "UV_PYTHON": "/py",
        "PYTHONPATH": "/work/main/lib", "COVERAGE_PROCESS_START": "/x/.coveragerc",
        "PIXCRAWLER_SANDBOX_TOKEN": "secret-value", "FORCE_COLOR": "1", "CI_JOB_TOKEN": "t",
    }  # fmt: skip
    env = gate_environment({"EXTRA": "1"}, ["CI_*"], outside)
    assert env["HOME"] == "/home/u" and env["LANG"] == "C.UTF-8" and env["LC_ALL"] == "C.UTF-8"
    assert env["PATH"] == os.pathsep.join(["/usr/bin", "/bin"])
    for dropped in (
        "VIRTUAL_ENV",
        "UV_PROJECT_ENVIRONMENT",
        "UV_PYTHON",
        "PYTHONPATH",
        "COVERAGE_PROCESS_START",
        "PIXCRAWLER_SANDBOX_TOKEN",
        "FORCE_COLOR",
    ):
        assert dropped not in env, dropped
    assert env["CI_JOB_TOKEN"] == "t" and env["EXTRA"] == "1" and env["NO_COLOR"] == "1"
    assert os.path.realpath(venv_bin) in runbook_venv_bins(outside)


def test_a_gate_sees_none_of_the_runbooks_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", "/nowhere")
    monkeypatch.setenv("PYTHONPATH", "/work/main/lib")
    monkeypatch.setenv("COVERAGE_FILE", "/tmp/elsewhere")
    monkeypatch.setenv("PASSED_ON", "yes")
    sample = materialize_sample(tmp_path / "repo")
    show = "import json, os; print(json.dumps(dict(os.environ)))"
    (result,) = run_gates(params(sample.path, tmp_path / "cache", [gate(["{python}", "-c", show])],
                                 env_passthrough=["PASSED_ON"]), tmp_path / "ev")  # fmt: skip
    import json

    seen = json.loads((tmp_path / "ev" / "probe.stdout.log").read_text())
    assert not {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "COVERAGE_FILE"} & set(seen)
    assert seen["PASSED_ON"] == "yes" and result.status is Status.PASS
    assert str(Path(sys.prefix) / "bin") not in seen["PATH"].split(os.pathsep)


def test_uv_run_in_a_gate_does_not_warn_about_the_runbooks_virtual_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.10"\n'
    )
    uv_env = {"UV_PYTHON": BASE_PYTHON, "UV_PYTHON_DOWNLOADS": "never", "UV_OFFLINE": "1"}
    argv = ["uv", "run", "python", "-c", "import sys; print(sys.prefix)"]
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    # what the gate avoids: uv run with the runbook's VIRTUAL_ENV inherited warns
    raw = subprocess.run(argv, cwd=project, env={**os.environ, **uv_env}, capture_output=True,
                         text=True, timeout=300, check=True)  # fmt: skip
    assert "VIRTUAL_ENV" in raw.stderr
    (result,) = run_gates(
        params(project, tmp_path / "cache", [gate(argv, env=uv_env)], candidate_ref=None),
        tmp_path / "ev",
    )
    assert result.status is Status.PASS, result.explanation
    assert "VIRTUAL_ENV" not in (tmp_path / "ev" / "probe.stderr.log").read_text()
    prefix = (tmp_path / "ev" / "probe.stdout.log").read_text().strip()
    assert Path(prefix) == project / ".venv"


def test_default_worktrees_live_outside_every_project_so_no_parent_config_leaks_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A target without its own pytest section, tested in a worktree under the runbook's
    checkout, would run under the runbook's `[tool.pytest.ini_options]` (seen on the
    full-stack-fastapi-template: `-n 2` refused). The default cache is the user's."""
    from runbook.core.parameters import project_root
    from runbook.phases.pre_deployment.gates.runner import worktree_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    repo = tmp_path / "plain"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "test_one.py").write_text("def test_one():\n    assert True\n")
    git(tmp_path, "init", "-q", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one test, no pytest configuration")
    pytest_gate = Gate.model_validate(
        {
            "id": "tests",
            "title": "t",
            "kind": "pytest",
            "section": f"{CODE_QUALITY} — t",
            "argv": ["{run}", "pytest", "-p", "no:cacheprovider"],
        }
    )
    p = PreDeploymentParams.model_validate(
        {"repo": repo, "gates": [pytest_gate], "coverage_layers": [], "runner": SAMPLE_RUNNER}
    )
    cache = worktree_cache(p)
    assert cache.is_relative_to(tmp_path / "xdg")
    assert not cache.is_relative_to(project_root())
    (result,) = run_gates(p, tmp_path / "ev")
    assert result.status is Status.PASS, result.explanation
    out = (tmp_path / "ev" / "tests.stdout.log").read_text()
    assert str(project_root() / "pyproject.toml") not in out and "configfile" not in out
