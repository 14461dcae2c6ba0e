"""Parameter models and the sample materializer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from rehearsal.sample_repo import DEFECTS, materialize_sample
from runbook.core.checks import Severity
from runbook.phases.pre_deployment.gates.params import PreDeploymentParams, checklist_gates


def test_defaults_follow_the_checklist(tmp_path: Path) -> None:
    params = PreDeploymentParams(repo=tmp_path)
    assert [g.id for g in params.gates] == [
        "code.tests.utility",
        "code.tests.backend",
        "code.architecture",
        "code.lint",
        "code.types",
        "code.format",
    ]
    assert {
        layer.id: (layer.threshold_percent, layer.severity) for layer in params.coverage_layers
    } == {
        "coverage.utility": (85, Severity.BLOCKER),
        "coverage.backend.endpoints": (90, Severity.WARNING),
        "coverage.backend.services": (85, Severity.WARNING),
        "coverage.backend.repositories": (80, Severity.WARNING),
    }
    assert [d.path for d in params.documents] == [
        "utility/README.md",
        "backend/README.md",
        "backend/ARCHITECTURE.md",
        "backend/api/v1/ENDPOINT_STYLE_GUIDE.md",
        "docs/MIGRATION_GUIDE.md",
    ]
    assert all(
        g.section.startswith("Pre-Deployment §1 Code Quality Verification — ") for g in params.gates
    )
    assert params.python is None and params.base_ref is None


def test_yaml_fragment_validates() -> None:
    fragment = yaml.safe_load(
        """
        repo: /srv/checkouts/pixcrawler
        python: [uv, run, --project, backend, --frozen, python]
        base_ref: v1.4.0
        migrations_dir: backend/alembic/versions
        documents:
          - path: backend/README.md
            section: "Pre-Deployment §3 Documentation Review — README files updated"
        """
    )
    params = PreDeploymentParams.model_validate(fragment)
    assert params.python == ["uv", "run", "--project", "backend", "--frozen", "python"]
    assert len(params.gates) == 6 and len(params.documents) == 1


def test_a_single_python_path_becomes_an_argv(tmp_path: Path) -> None:
    params = PreDeploymentParams(repo=tmp_path, python="backend/.venv/bin/python")  # type: ignore[arg-type]
    assert params.python == ["backend/.venv/bin/python"]


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"surprise": 1}, "Extra inputs are not permitted"),
        ({"python": []}, "must name an interpreter"),
        ({"migrations_dir": "../elsewhere"}, "relative to the repository"),
        (
            {"gates": [{**checklist_gates()[0].model_dump(), "argv": ["x{python}"]}]},
            "whole argv element",
        ),
        (
            {"gates": [{**checklist_gates()[3].model_dump(), "coverage_report": True}]},
            "only for pytest",
        ),
        ({"gates": [checklist_gates()[0].model_dump()] * 2}, "duplicate check ids"),
        (
            {"gates": [checklist_gates()[3].model_dump()]},
            "is not a pytest gate with coverage_report",
        ),
        ({"gates": [{**checklist_gates()[3].model_dump(), "id": "Code Lint"}]}, "lower-case"),
    ],
)
def test_bad_parameters_are_refused(
    tmp_path: Path, update: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        PreDeploymentParams.model_validate({"repo": tmp_path, **update})


def test_materialized_sample_has_a_base_tag_and_history(tmp_path: Path) -> None:
    sample = materialize_sample(tmp_path / "repo", ["new-migration", "lint-error"])
    log = subprocess.run(
        ["git", "-C", str(sample.path), "log", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert log == [
        "Deliberate defects: new-migration, lint-error",
        "Backend architecture refactoring: layers and docs",
        "PixCrawler 1.0 (previous release)",
    ]
    tagged = subprocess.run(
        ["git", "-C", str(sample.path), "rev-parse", "base^{commit}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert tagged == sample.commits["base"]
    assert not (sample.path / "backend" / "tests" / "__pycache__").exists()
    assert sample.defects == ("new-migration", "lint-error")


def test_all_defects_apply_together(tmp_path: Path) -> None:
    sample = materialize_sample(tmp_path / "repo", list(DEFECTS))
    assert set(sample.defects) == set(DEFECTS)
    assert not (sample.path / "backend" / "ARCHITECTURE.md").exists()


def test_unknown_defect_and_non_empty_destination_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown defects"):
        materialize_sample(tmp_path / "a", ["typo-error"])
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        materialize_sample(tmp_path / "b")
    with pytest.raises(FileNotFoundError):
        materialize_sample(tmp_path / "c", source=tmp_path / "nowhere")
