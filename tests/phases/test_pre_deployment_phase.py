"""Phase "pre-deployment" end to end on the materialized sample target."""

from __future__ import annotations

from pathlib import Path

from phase_runs import run_phases


def test_clean_sample_is_go_with_every_gate(tmp_path: Path) -> None:
    run = run_phases(tmp_path, "pre-deployment")
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    ids = set(run.results)
    assert {
        "code.tests.utility",
        "code.tests.backend",
        "code.architecture",
        "code.lint",
        "code.types",
        "code.format",
    } <= ids
    assert all(r["status"] == "pass" for r in run.results.values()), run.failing()
    assert {"docs.openapi_schema", "docs.swagger_ui", "docs.redoc", "compat.api_contracts"} <= ids
    # full logs of every command are kept as evidence
    logs = list((run.run_dir / "evidence" / "pre-deployment").glob("*.log"))
    assert len(logs) >= 6


def test_deliberate_defects_flip_exactly_their_checks(tmp_path: Path) -> None:
    run = run_phases(
        tmp_path,
        "pre-deployment",
        "environment",
        params=(
            "rehearsal.sample_target.defects=[lint-error, missing-doc, new-migration, "
            "removed-endpoint]",
        ),
    )
    assert run.proc.returncode == 1
    assert run.manifest["verdict"] == "NO-GO"
    failing = run.failing()
    assert "code.lint" in failing and "config.no-migrations" in failing
    assert any(i.startswith("docs.") for i in failing)
    assert {"compat.api_contracts", "compat.no_breaking_public_api"} <= failing
    assert (
        "DELETE /api/v1/projects/{project_id}" in run.results["compat.api_contracts"]["explanation"]
    )
    untouched = ("code.tests", "code.architecture", "code.types", "code.format")
    assert not any(i.startswith(untouched) for i in failing)


def test_unknown_defect_is_invalid_input(tmp_path: Path) -> None:
    run_args = ("rehearsal.sample_target.defects=[melted-server]",)
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "runbook.cli",
            "run",
            "--env",
            "local",
            "--outputs",
            str(tmp_path),
            "--param",
            run_args[0],
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "melted-server" in proc.stderr
