"""`coverage_tool: coverage`: a target with coverage.py but not pytest-cov measures coverage in
its own test run (`coverage run -m pytest`, then `coverage json` and `coverage report`), and the
results, the TOTAL agreement and the collection-error handling work as with pytest-cov.

Real tools: two throwaway venvs made with `uv venv` + `uv pip install` (pytest and coverage;
pytest alone), cached under the tmp folder (or RUNBOOK_TEST_COVERAGE_VENVS); skipped when PyPI
cannot be reached."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from runbook.core.checks import CheckResult, Status
from runbook.phases.pre_deployment.gates.coverage_commands import (
    coverage_missing,
    coverage_run_argv,
    report_argvs,
)
from runbook.phases.pre_deployment.gates.layer_coverage import coverage_checks, coverage_reports
from runbook.phases.pre_deployment.gates.params import (
    CODE_QUALITY,
    TEST_COVERAGE,
    CoverageLayer,
    Gate,
    PreDeploymentParams,
)
from runbook.phases.pre_deployment.gates.runner import run_gates

BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
VENVS = {"coverage": ["pytest", "coverage"], "bare": ["pytest"]}
TOTAL = re.compile(r"^TOTAL\s.*?(\d+(?:\.\d+)?)%\s*$", re.M)

LOGIC = """def pick(x):
    if x > 0:
        return "pos"
    if x < 0:
        return "neg"
    return "zero"
"""
OTHER = """def unused(y):
    for i in range(y):
        if i % 2:
            return i
    return None
"""


@pytest.fixture(scope="session")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> a venv folder: 'coverage' has pytest and coverage (no pytest-cov), 'bare' pytest."""
    root = Path(os.environ.get("RUNBOOK_TEST_COVERAGE_VENVS")
                or tmp_path_factory.getbasetemp() / "coverage-venvs")  # fmt: skip
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    made: dict[str, Path] = {}
    for name, packages in VENVS.items():
        venv = root / name
        if not (venv / "bin" / "pytest").exists():
            shutil.rmtree(venv, ignore_errors=True)
            for argv in (["uv", "venv", "-q", "--python", BASE_PYTHON, str(venv)],
                         ["uv", "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                          *packages]):  # fmt: skip
                done = subprocess.run(argv, capture_output=True, text=True, env=env,
                                      timeout=300, check=False)  # fmt: skip
                if done.returncode != 0:
                    pytest.fail(f"cannot make the {name} venv: {done.stderr.strip()[-300:]}")
        made[name] = venv
    assert not (made["coverage"] / "bin" / "pytest-cov").exists()
    return made


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny project measured with branches, its tests in a `tests/` folder of `proj/`."""
    repo = tmp_path / "proj"
    (repo / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "logic.py").write_text(LOGIC)
    (repo / "pkg" / "other.py").write_text(OTHER)
    (repo / "tests" / "test_logic.py").write_text(
        "from pkg.logic import pick\n\n\ndef test_pick():\n    assert pick(1) == 'pos'\n"
    )
    (repo / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["."]\naddopts = "-p no:cacheprovider"\n'
        "[tool.coverage.run]\nbranch = true\n[tool.coverage.report]\nprecision = 2\n"
    )
    return repo


def cov_gate(argv: list[str] | None = None, **extra: object) -> Gate:
    return Gate.model_validate({
        "id": "code.tests.pkg", "title": "t", "section": f"{CODE_QUALITY} — t", "kind": "pytest",
        "argv": argv or ["{run}", "pytest", "--cov=pkg", "tests"], "coverage_report": True,
        "coverage_tool": "coverage", **extra})  # fmt: skip


def params_for(repo: Path, gates: list[Gate], venv: Path, **extra: object) -> PreDeploymentParams:
    layers = [CoverageLayer(id="coverage.pkg", title="pkg", section=f"{TEST_COVERAGE} — pkg",
                            prefix="pkg/", threshold_percent=10, report=gates[-1].id)]  # fmt: skip
    return PreDeploymentParams.model_validate({
        "repo": repo, "gates": gates, "candidate_ref": None, "runner": ["{python}", "-m"],
        "python": [str(venv / "bin" / "python")], "coverage_layers": layers, **extra})  # fmt: skip


def run_with_rows(params: PreDeploymentParams, evidence: Path) -> dict[str, CheckResult]:
    results = run_gates(params, evidence)
    rows = coverage_checks(params, coverage_reports(results, evidence))
    return {r.id: r for r in [*results, *rows]}


def test_coverage_py_measures_the_test_run_and_agrees_with_its_report(
    venvs: dict[str, Path], project: Path, tmp_path: Path
) -> None:
    evidence = tmp_path / "ev"
    checks = run_with_rows(params_for(project, [cov_gate()], venvs["coverage"]), evidence)
    gate, total, layer = (checks[i] for i in ("code.tests.pkg", "coverage.total.pkg",
                                              "coverage.pkg"))  # fmt: skip
    python = str(venvs["coverage"] / "bin" / "python")
    assert gate.status is Status.PASS, gate.explanation
    assert gate.observed["passed"] == 1
    # what it ran, said plainly: the gate's pytest under `coverage run`, then the two reports
    assert gate.evidence["argv"][:7] == [
        python,
        "-m",
        "coverage",
        "run",
        "--source=pkg",
        "-m",
        "pytest",
    ]
    assert gate.evidence["command"].startswith(
        f"{python} -m coverage run --source=pkg -m pytest tests --junitxml="
    )
    assert "coverage run -m pytest" in gate.explanation
    steps = gate.evidence["coverage_steps"]
    assert [(s["step"], s["exit_code"]) for s in steps] == [
        ("coverage json", 0),
        ("coverage report", 0),
    ]
    assert steps[0]["argv"][:4] == [python, "-m", "coverage", "json"]
    assert gate.evidence["coverage_version"].startswith("Coverage.py")
    assert gate.evidence["tool_version"].startswith("pytest ")
    assert gate.evidence["coverage_tool"] == "coverage"
    # the total agrees with `coverage report`'s TOTAL, read here independently
    (line_total,) = TOTAL.findall((evidence / steps[1]["log"]).read_text())
    assert total.status is Status.PASS, total.explanation
    assert abs(total.observed["percent"] - float(line_total)) <= 0.05
    assert total.observed["tool_total"] == float(line_total)
    assert total.observed["measured_by"] == "coverage"
    assert total.observed["branches"] > 0
    assert "--source=pkg" in total.explanation
    assert "`coverage report`'s TOTAL" in total.explanation
    assert layer.status is Status.PASS, layer.explanation
    assert not (project / ".coverage").exists()  # the data file stays in the evidence


def test_coverage_beside_a_pytest_executable_and_config_sources(
    venvs: dict[str, Path], project: Path, tmp_path: Path
) -> None:
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text().replace("branch = true", 'source = ["pkg"]')
    )
    pytest_bin = str(venvs["coverage"] / "bin" / "pytest")
    gate = cov_gate([pytest_bin, "tests"])
    checks = run_with_rows(params_for(project, [gate], venvs["coverage"]), tmp_path / "ev")
    result, total = checks["code.tests.pkg"], checks["coverage.total.pkg"]
    assert result.status is Status.PASS, result.explanation
    assert result.evidence["argv"][:4] == [
        str(venvs["coverage"] / "bin" / "coverage"),
        "run",
        "-m",
        "pytest",
    ]
    assert total.status is Status.PASS, total.explanation
    assert "--source=(config)" in total.explanation
    assert total.observed["files"] == 3


def test_pytest_cov_gate_where_only_coverage_is_installed_names_the_alternative(
    venvs: dict[str, Path], project: Path, tmp_path: Path
) -> None:
    gate = cov_gate(coverage_tool="pytest-cov")
    checks = run_with_rows(params_for(project, [gate], venvs["coverage"]), tmp_path / "ev")
    result = checks["code.tests.pkg"]
    assert result.status is Status.ERROR
    explanation = result.explanation
    assert explanation.startswith("pytest-cov is not installed in the target's environment")
    assert "coverage.py is (Coverage.py, version" in explanation
    assert "set coverage_tool: coverage" in explanation
    for row in ("coverage.total.pkg", "coverage.pkg"):
        assert checks[row].status is Status.ERROR
        assert "set coverage_tool: coverage" in checks[row].explanation


@pytest.mark.parametrize("form", ["python -m", "executable", "uv run"])
def test_a_target_without_coverage_is_a_clear_error(
    form: str, venvs: dict[str, Path], project: Path, tmp_path: Path
) -> None:
    bare = venvs["bare"]
    if form == "executable":
        gate, extra = cov_gate([str(bare / "bin" / "pytest"), "--cov=pkg", "tests"]), {}
    elif form == "uv run":
        runner = ["uv", "run", "--no-project", "--python", str(bare / "bin" / "python")]
        gate, extra = cov_gate(), {"runner": runner, "env_passthrough": ["UV_CACHE_DIR"]}
    else:
        gate, extra = cov_gate(), {}
    checks = run_with_rows(params_for(project, [gate], bare, **extra), tmp_path / "ev")
    result = checks["code.tests.pkg"]
    assert result.status is Status.ERROR, result.explanation
    explanation = result.explanation
    assert explanation.startswith(
        "coverage (coverage.py) is not installed in the target's environment"
    )
    assert "coverage run -m pytest` could not start it" in explanation
    assert "coverage_tool: pytest-cov" in explanation
    assert checks["coverage.total.pkg"].status is Status.ERROR
    assert checks["coverage.total.pkg"].explanation == explanation


def test_tests_stopped_at_collection_say_so_in_the_coverage_rows(
    venvs: dict[str, Path], project: Path, tmp_path: Path
) -> None:
    (project / "tests" / "test_broken.py").write_text("import pkg.missing_module\n")
    checks = run_with_rows(params_for(project, [cov_gate()], venvs["coverage"]), tmp_path / "ev")
    result = checks["code.tests.pkg"]
    assert result.status is Status.FAIL
    assert result.explanation.startswith(
        "tests stopped at collection: 1 error in tests/test_broken.py"
    )
    for row in ("coverage.total.pkg", "coverage.pkg"):
        assert checks[row].status is Status.ERROR
        assert "tests stopped at collection" in checks[row].explanation


def test_coverage_json_writing_nothing_makes_the_rows_error(
    venvs: dict[str, Path], project: Path, tmp_path: Path
) -> None:
    gate = cov_gate(["{run}", "pytest", "--cov=nowhere", "tests"])
    checks = run_with_rows(params_for(project, [gate], venvs["coverage"]), tmp_path / "ev")
    assert checks["code.tests.pkg"].status is Status.PASS  # the tests themselves passed
    total = checks["coverage.total.pkg"]
    assert total.status is Status.ERROR
    assert "coverage json -o" in total.explanation
    assert "wrote no report" in total.explanation


def test_coverage_commands_keep_the_runner() -> None:
    assert coverage_run_argv(["uv", "run", "pytest", "--cov=app", "--cov-branch", "tests/"]) == [
        "uv",
        "run",
        "coverage",
        "run",
        "--source=app",
        "--branch",
        "-m",
        "pytest",
        "tests/",
    ]
    assert coverage_run_argv(["poetry", "run", "pytest", "--cov", "a", "--cov", "-q"]) == [
        "poetry",
        "run",
        "coverage",
        "run",
        "--source=a,.",
        "-m",
        "pytest",
        "-q",
    ]
    assert coverage_run_argv(["py", "-m", "pytest", "--cov-config=c.toml"]) == [
        "py",
        "-m",
        "coverage",
        "run",
        "--rcfile=c.toml",
        "-m",
        "pytest",
    ]
    assert report_argvs(["uv", "run", "pytest"], Path("/e/c.json")) == {
        "coverage json": ["uv", "run", "coverage", "json", "-o", "/e/c.json"],
        "coverage report": ["uv", "run", "coverage", "report"],
    }
    assert coverage_missing("error: Failed to spawn: `coverage`\n  Caused by: No such file")
    assert coverage_missing("/v/bin/python: No module named coverage")
    assert not coverage_missing("ModuleNotFoundError: No module named 'coverage_plugin'")


def test_coverage_tool_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="only with coverage_report: true"):
        cov_gate(coverage_report=False)
    with pytest.raises(ValidationError, match="--cov-fail-under=85: pytest-cov options"):
        cov_gate(["{run}", "pytest", "--cov=pkg", "--cov-fail-under=85"])
    with pytest.raises(ValidationError, match="name pytest in argv"):
        cov_gate(["{run}", "make", "test"])
