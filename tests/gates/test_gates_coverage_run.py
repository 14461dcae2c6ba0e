"""The coverage run is the test run: its total equals pytest-cov's own TOTAL line, the rows say
what was counted, and a run that cannot be trusted says why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gates_support import SampleRun

from runbook.core.checks import Status
from runbook.phases.pre_deployment.gates.layer_coverage import (
    cov_sources,
    coverage_checks,
    coverage_reports,
    displayed,
)
from runbook.phases.pre_deployment.gates.params import (
    CODE_QUALITY,
    TEST_COVERAGE,
    CoverageLayer,
    Gate,
    PreDeploymentParams,
)
from runbook.phases.pre_deployment.gates.runner import run_gates

TOTAL = re.compile(r"^TOTAL\s.*?(\d+(?:\.\d+)?)%\s*$", re.M)


def pytest_cov_total(log: Path) -> float:
    """The percent on pytest-cov's TOTAL line, read here independently of the runbook."""
    (value,) = TOTAL.findall(log.read_text())
    return float(value)


@pytest.mark.parametrize("gate_id", ["code.tests.utility", "code.tests.backend"])
def test_total_agrees_with_pytest_covs_total_line(
    gate_id: str, gate_matrix: dict[str, SampleRun]
) -> None:
    run = gate_matrix["clean"]
    gate = run.results[gate_id]
    line_total = pytest_cov_total(run.evidence_dir / gate.evidence["stdout"])
    total = run.results[f"coverage.total.{gate_id.removeprefix('code.tests.')}"]
    assert total.status is Status.PASS, total.explanation
    assert abs(displayed(total.observed["percent"], 0) - line_total) <= 0.05
    assert total.observed["tool_total"] == line_total
    assert total.evidence["cov_sources"] == [gate_id.removeprefix("code.tests.")]
    assert total.evidence["files"] == len(total.evidence["per_file"]) > 0
    assert f"--cov={gate_id.removeprefix('code.tests.')}" in total.explanation


BRANCHY = """def pick(x):
    if x > 0:
        return "pos"
    if x < 0:
        return "neg"
    return "zero"


def unused(y):
    for i in range(y):
        if i % 2:
            return i
    return None
"""


@pytest.fixture
def branch_project(tmp_path: Path) -> Path:
    repo = tmp_path / "proj"
    (repo / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "logic.py").write_text(BRANCHY)
    (repo / "tests" / "test_logic.py").write_text(
        "from pkg.logic import pick\n\n\ndef test_pick():\n    assert pick(1) == 'pos'\n"
    )
    (repo / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["."]\n'
        'addopts = "-p no:nbval -p no:cacheprovider"\n'
        "[tool.coverage.run]\nbranch = true\n[tool.coverage.report]\nprecision = 2\n"
    )
    return repo


def layer(prefix: str, report: str) -> CoverageLayer:
    return CoverageLayer(id="coverage.pkg", title="pkg", section=f"{TEST_COVERAGE} — pkg",
                         prefix=prefix, threshold_percent=10, report=report)  # fmt: skip


def test_branch_coverage_total_matches_pytest_cov_to_the_hundredth(
    branch_project: Path, tmp_path: Path
) -> None:
    gate = Gate(id="code.tests.pkg", title="t", section=f"{CODE_QUALITY} — t", kind="pytest",
                argv=["{run}", "pytest", "--cov=pkg", "tests"], coverage_report=True)  # fmt: skip
    params = PreDeploymentParams(repo=branch_project, gates=[gate], candidate_ref=None,
                                 runner=["{python}", "-m"],
                                 coverage_layers=[layer("pkg/", "code.tests.pkg")])  # fmt: skip
    evidence = tmp_path / "ev"
    results = run_gates(params, evidence)
    assert results[0].status is Status.PASS, results[0].explanation
    total, pkg = coverage_checks(params, coverage_reports(results, evidence))
    line_total = pytest_cov_total(evidence / results[0].evidence["stdout"])
    assert total.id == "coverage.total.pkg" and total.status is Status.PASS, total.explanation
    assert total.observed["branches"] > 0  # branches count, as in pytest-cov's TOTAL
    assert abs(total.observed["percent"] - line_total) <= 0.05
    assert abs(pkg.observed["percent"] - line_total) <= 0.05  # the same files here


def test_a_target_without_pytest_cov_names_the_missing_plugin(
    branch_project: Path, tmp_path: Path
) -> None:
    # pytest-cov switched off: pytest refuses --cov exactly as where it is not installed
    gate = Gate(id="code.tests.pkg", title="t", section=f"{CODE_QUALITY} — t", kind="pytest",
                argv=["{python}", "-m", "pytest", "-p", "no:pytest_cov", "--cov=pkg", "tests"],
                coverage_report=True)  # fmt: skip
    params = PreDeploymentParams(repo=branch_project, gates=[gate], candidate_ref=None,
                                 coverage_layers=[layer("pkg/", "code.tests.pkg")])  # fmt: skip
    results = run_gates(params, tmp_path / "ev")
    assert results[0].status is Status.ERROR
    assert results[0].explanation.startswith(
        "pytest-cov is not installed in the target's environment"
    )
    rows = coverage_checks(params, coverage_reports(results, tmp_path / "ev"))
    assert [r.status for r in rows] == [Status.ERROR, Status.ERROR]
    assert all("pytest-cov is not installed" in r.explanation for r in rows)


def test_total_disagreeing_with_the_total_line_is_an_error(
    branch_project: Path, tmp_path: Path
) -> None:
    gate = Gate(id="code.tests.pkg", title="t", section=f"{CODE_QUALITY} — t", kind="pytest",
                argv=["{python}", "-m", "pytest", "--cov=pkg", "tests"],
                coverage_report=True)  # fmt: skip
    params = PreDeploymentParams(repo=branch_project, gates=[gate], candidate_ref=None,
                                 coverage_layers=[])  # fmt: skip
    results = run_gates(params, tmp_path / "ev")
    runs = coverage_reports(results, tmp_path / "ev")
    wrong = runs["code.tests.pkg"].model_copy(
        update={"total_line_percent": 12.0, "total_line": "TOTAL 9 2 12.00%"}
    )
    (total,) = coverage_checks(params, {"code.tests.pkg": wrong})
    assert total.status is Status.ERROR and "disagree" in total.explanation


def test_cov_sources_and_display_rounding() -> None:
    assert cov_sources(["pytest", "--cov=app", "--cov", "lib", "--cov", "-q"]) == [
        "app", "lib", ".",
    ]  # fmt: skip
    assert displayed(82.37, 0) == 82 and displayed(99.6, 0) == 99 and displayed(0.2, 0) == 1
    assert displayed(64.444, 1) == 64.4
