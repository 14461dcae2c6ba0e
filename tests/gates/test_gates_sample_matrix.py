"""The clean sample passes every check; each deliberate defect flips exactly its own check."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from gates_support import SampleRun

from rehearsal.sample_repo import DEFECTS
from runbook.core.checks import Status

EXPECTED_IDS = {
    "code.tests.utility",
    "code.tests.backend",
    "code.architecture",
    "code.lint",
    "code.types",
    "code.format",
    "coverage.total.utility",
    "coverage.total.backend",
    "coverage.utility",
    "coverage.backend.endpoints",
    "coverage.backend.services",
    "coverage.backend.repositories",
    "docs.utility-readme-md",
    "docs.backend-readme-md",
    "docs.backend-architecture-md",
    "docs.backend-api-v1-endpoint-style-guide-md",
    "docs.docs-migration-guide-md",
    "config.no-migrations",
}

BACKEND_COVERAGE = {
    "coverage.total.backend",
    "coverage.backend.endpoints",
    "coverage.backend.services",
    "coverage.backend.repositories",
}
# defect -> (the check it must flip, a fragment its explanation must name)
FLIPS: dict[str, tuple[str | None, str]] = {
    "failing-test": ("code.tests.backend", "test_get_project"),
    "lint-error": ("code.lint", "F401"),
    "format-error": ("code.format", "1 files to reformat"),
    "type-error": ("code.types", "return-value"),
    "low-coverage": ("coverage.utility", "is below 85%"),
    "architecture-violation": ("code.architecture", "test_endpoints_do_not_import_repositories"),
    "missing-doc": ("docs.backend-architecture-md", "does not exist"),
    "new-migration": ("config.no-migrations", "new: 0003_add_project_tags.py"),
    "removed-endpoint": (None, ""),  # the OpenAPI diff (another part) catches it, not these
    "doubled-prefix-base": (None, ""),  # the base release only: the contract diff's business
    "collection-error": (
        "code.tests.backend",
        "tests stopped at collection: 1 error in backend/tests/test_project_export.py",
    ),
}
# checks a defect flips besides its own (to ERROR, saying why)
ALSO_FLIPS: dict[str, set[str]] = {"collection-error": BACKEND_COVERAGE}


def test_every_defect_has_an_expectation() -> None:
    assert set(FLIPS) == set(DEFECTS)


def test_clean_sample_passes_every_check(gate_matrix: dict[str, SampleRun]) -> None:
    results = gate_matrix["clean"].results
    assert set(results) == EXPECTED_IDS
    not_passing = {i: (r.status.value, r.explanation) for i, r in results.items()
                   if r.status is not Status.PASS}  # fmt: skip
    assert not_passing == {}


def test_clean_sample_coverage_is_above_every_gate(gate_matrix: dict[str, SampleRun]) -> None:
    results = gate_matrix["clean"].results
    for layer in gate_matrix["clean"].params.coverage_layers:
        observed = results[layer.id].observed
        assert observed["files"] > 0
        assert observed["percent"] >= layer.threshold_percent


def test_clean_evidence_files_are_written(gate_matrix: dict[str, SampleRun]) -> None:
    run = gate_matrix["clean"]
    backend = run.results["code.tests.backend"].evidence
    for key in ("stdout", "stderr", "junit", "coverage_json"):
        assert (run.evidence_dir / backend[key]).is_file(), key
    lint = run.results["code.lint"].evidence
    assert json.loads((run.evidence_dir / lint["stdout"]).read_text()) == []
    assert not (run.sample.path / ".coverage").exists()  # coverage data kept in the evidence


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_defect_flips_exactly_its_check(defect: str, gate_matrix: dict[str, SampleRun]) -> None:
    clean, broken = gate_matrix["clean"].results, gate_matrix[defect].results
    assert set(broken) == EXPECTED_IDS
    flipped = {i for i in EXPECTED_IDS if broken[i].status is not clean[i].status}
    expected_id, fragment = FLIPS[defect]
    also = ALSO_FLIPS.get(defect, set())
    assert flipped == ({expected_id} if expected_id else set()) | also
    for check in also:
        assert broken[check].status is Status.ERROR
        assert "tests stopped at collection" in broken[check].explanation
        assert "did its test gate run" not in broken[check].explanation
    if expected_id:
        result = broken[expected_id]
        assert result.status is Status.FAIL
        assert fragment in result.explanation


def test_removed_endpoint_is_gone_from_the_app_schema(gate_matrix: dict[str, SampleRun]) -> None:
    script = (
        "import json; from backend.main import create_app; "
        "print(json.dumps({p: sorted(o) for p, o in create_app().openapi()['paths'].items()}))"
    )

    def paths(run: SampleRun) -> dict[str, list[str]]:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=run.sample.path,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(done.stdout)

    before, after = paths(gate_matrix["clean"]), paths(gate_matrix["removed-endpoint"])
    assert "delete" in before["/api/v1/projects/{project_id}"]
    assert after["/api/v1/projects/{project_id}"] == ["get"]
    assert {p: o for p, o in before.items() if p != "/api/v1/projects/{project_id}"} == {
        p: o for p, o in after.items() if p != "/api/v1/projects/{project_id}"
    }


def test_failing_test_evidence_names_the_test(gate_matrix: dict[str, SampleRun]) -> None:
    result = gate_matrix["failing-test"].results["code.tests.backend"]
    assert result.observed["failed"] == 1
    assert result.evidence["failing_tests"] == ["backend.tests.test_projects_api::test_get_project"]


def test_low_coverage_measures_the_untested_function(gate_matrix: dict[str, SampleRun]) -> None:
    result = gate_matrix["low-coverage"].results["coverage.utility"]
    per_file = result.evidence["per_file"]["utility/compression.py"]
    assert per_file["statements"] - per_file["covered"] == 23  # describe() and as_rows()
    assert result.observed["percent"] < 85
