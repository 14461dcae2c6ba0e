"""Coverage per layer, from real `coverage json` reports produced here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from runbook.core.checks import Severity, Status
from runbook.phases.pre_deployment.gates.layer_coverage import (
    coverage_chart,
    coverage_checks,
    load_coverage,
    merge_coverage,
)
from runbook.phases.pre_deployment.gates.params import (
    TEST_COVERAGE,
    CoverageLayer,
    Gate,
    PreDeploymentParams,
)

FAST = "def fast(x):\n    if x:\n        return 1\n    return 2\n"  # 4 statements
SLOW = "def slow(x):\n    y = x * 2\n    z = y + 1\n    return z\n"  # 4 statements


def measured(repo: Path, cwd: Path, script: str, out: str = "cov.json") -> Path:
    """Run `script` under coverage in `cwd` and write its JSON report."""
    (cwd / "main_script.py").write_text(script)
    for argv in (
        ["run", "--data-file=.cov", "--include=*/app/*", "main_script.py"],
        ["json", "--data-file=.cov", "-o", str(repo / out)],
    ):
        subprocess.run(
            [sys.executable, "-m", "coverage", *argv], cwd=cwd, check=True, timeout=60,
            capture_output=True,
        )  # fmt: skip
    return repo / out


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    for path, text in {
        "app/__init__.py": "",
        "app/endpoints/__init__.py": "",
        "app/endpoints/items.py": FAST,
        "app/services/__init__.py": "",
        "app/services/items.py": SLOW,
        "app/tests/__init__.py": "",
        "app/tests/helper.py": "def h():\n    return 0\n",
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


def layer(layer_id: str, prefix: str, threshold: float, **extra: object) -> CoverageLayer:
    return CoverageLayer.model_validate(
        {"id": layer_id, "title": layer_id, "section": f"{TEST_COVERAGE} — {layer_id}",
         "prefix": prefix, "threshold_percent": threshold, **extra}
    )  # fmt: skip


def params_for(
    repo: Path, layers: list[CoverageLayer], gates: list[Gate] | None = None
) -> PreDeploymentParams:
    return PreDeploymentParams(repo=repo, gates=gates or [], coverage_layers=layers)


CALL_FAST_ONLY = "from app.endpoints.items import fast\nfast(1)\nimport app.services.items\n"


def test_layers_measure_statements_under_their_prefix(app_repo: Path) -> None:
    report = measured(app_repo, app_repo, CALL_FAST_ONLY)
    params = params_for(
        app_repo,
        [
            layer("coverage.endpoints", "app/endpoints/", 70, severity=Severity.BLOCKER),
            layer("coverage.services", "app/services/", 50),
        ],
    )
    endpoints, services = coverage_checks(params, report)
    # fast(1): def, if, return 1 run; `return 2` does not -> 3/4
    assert endpoints.status is Status.PASS
    assert endpoints.observed == {"percent": 75.0, "covered": 3, "statements": 4, "files": 2}
    # only the `def` line of slow() ran -> 1/4
    assert services.status is Status.FAIL and services.severity is Severity.WARNING
    assert services.observed["percent"] == 25.0
    assert "is below 50%" in services.explanation
    assert services.evidence["per_file"]["app/services/items.py"] == {
        "statements": 4, "branches": 0, "covered": 1, "percent": 25.0,
    }  # fmt: skip


def test_excluded_prefixes_are_left_out(app_repo: Path) -> None:
    report = measured(app_repo, app_repo, CALL_FAST_ONLY + "import app.tests.helper\n")
    with_tests, without = coverage_checks(
        params_for(
            app_repo,
            [
                layer("coverage.all", "app/", 0),
                layer("coverage.code", "app/", 0, exclude_prefixes=["app/tests/"]),
            ],
        ),
        report,
    )
    assert "app/tests/helper.py" in with_tests.evidence["per_file"]
    assert "app/tests/helper.py" not in without.evidence["per_file"]


def test_a_layer_with_no_files_is_inconclusive(app_repo: Path) -> None:
    report = measured(app_repo, app_repo, CALL_FAST_ONLY)
    (result,) = coverage_checks(
        params_for(app_repo, [layer("coverage.repos", "app/repos/", 80)]), report
    )
    assert result.status is Status.INCONCLUSIVE
    assert result.observed["files"] == 0


def test_missing_or_broken_report_is_an_error(app_repo: Path) -> None:
    params = params_for(app_repo, [layer("coverage.endpoints", "app/endpoints/", 80)])
    (missing,) = coverage_checks(params, app_repo / "nope.json")
    assert missing.status is Status.ERROR and "does not exist" in missing.explanation
    (app_repo / "bad.json").write_text(json.dumps({"meta": {}}))
    (broken,) = coverage_checks(params, app_repo / "bad.json")
    assert broken.status is Status.ERROR and "unusable" in broken.explanation


def test_layer_reads_its_gates_report_rebased_on_the_gates_cwd(app_repo: Path) -> None:
    # the tests ran inside app/: the report says "endpoints/items.py"
    report = measured(app_repo, app_repo / "app", "from endpoints.items import fast\nfast(0)\n")
    assert "endpoints/items.py" in json.loads(report.read_text())["files"]
    gate = Gate(id="code.tests.app", title="t", section="s", kind="pytest", argv=["pytest"],
                cwd="app", coverage_report=True)  # fmt: skip
    params = params_for(
        app_repo,
        [layer("coverage.endpoints", "app/endpoints/", 70, report="code.tests.app")],
        [gate],
    )
    (result,) = coverage_checks(params, {"code.tests.app": report})
    assert result.status is Status.PASS  # def, if, return 2 -> 3/4
    assert list(result.evidence["per_file"]) == [
        "app/endpoints/__init__.py",
        "app/endpoints/items.py",
    ]
    (absent,) = coverage_checks(params, {"other.gate": report})
    assert absent.status is Status.ERROR
    assert "from gate 'code.tests.app'" in absent.explanation


def test_merged_reports_union_executed_lines(app_repo: Path) -> None:
    one = load_coverage(
        measured(app_repo, app_repo, "from app.endpoints.items import fast\nfast(1)\n", "a.json")
    )
    two = load_coverage(
        measured(app_repo, app_repo, "from app.endpoints.items import fast\nfast(0)\n", "b.json")
    )
    statements, executed = merge_coverage([one, two])["app/endpoints/items.py"]
    assert len(statements) == 4 and executed == statements


def test_chart_draws_a_bar_per_layer(app_repo: Path, tmp_path: Path) -> None:
    report = measured(app_repo, app_repo, CALL_FAST_ONLY)
    results = coverage_checks(
        params_for(
            app_repo,
            [
                layer("coverage.endpoints", "app/endpoints/", 90),
                layer("coverage.services", "app/services/", 20),
                layer("coverage.repos", "app/repos/", 80),
            ],
        ),
        report,
    )
    fig = coverage_chart(results)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert [round(p.get_height(), 1) for p in ax.patches] == [75.0, 25.0, 0.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["endpoints", "services", "repos"]
    assert [t.get_text() for t in ax.texts] == ["75.0%", "25.0%", "no data (inconclusive)"]
    fig.savefig(tmp_path / "chart.png")
    assert (tmp_path / "chart.png").stat().st_size > 1000
