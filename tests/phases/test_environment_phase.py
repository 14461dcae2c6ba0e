"""Phase "environment" end to end: variables, drift, live App Settings via the stand-in."""

from __future__ import annotations

from pathlib import Path

from phase_runs import run_phases

INVALID = "rehearsal/src/rehearsal/envconfig_samples/production-invalid.env"


def test_clean_local_environment_is_go(tmp_path: Path) -> None:
    run = run_phases(tmp_path, "environment")
    assert run.proc.returncode == 0, run.proc.stderr
    r = run.results
    assert r["azure.appsettings.pixcrawler-sandbox"]["status"] == "pass"
    assert r["azure.appsettings.pixcrawler-sandbox.staging"]["status"] == "pass"
    assert r["envconfig.utility.values"]["status"] == "pass"


def test_invalid_utility_values_each_fail_with_the_reason(tmp_path: Path) -> None:
    run = run_phases(
        tmp_path,
        "environment",
        params=(f"environment_config.variables.sources=[{{file: {INVALID}}}]",),
    )
    assert run.proc.returncode == 1
    r = run.results
    explanations = {i: x["explanation"] for i, x in r.items() if x["status"] == "fail"}
    assert "500" in explanations["envconfig.utility.value.compression.quality"]
    assert "WEBP" in explanations["envconfig.utility.value.compression.format"]
    assert "staging" in explanations["envconfig.utility.value.logging.environment"]
    assert "22" in explanations["envconfig.utility.value.compression.archive.level"]
    assert "envconfig.backend.origins_format" in explanations
    assert run.manifest["verdict"] == "NO-GO"


def test_app_settings_drift_is_found_through_the_sdk(tmp_path: Path) -> None:
    run = run_phases(
        tmp_path,
        "environment",
        params=(
            'rehearsal.azure_standin.sites.pixcrawler-sandbox.app_settings.DEBUG="true"',
            "rehearsal.azure_standin.sites.pixcrawler-sandbox.app_settings.SUPABASE_SERVICE_ROLE_KEY=drifted",
        ),
    )
    assert run.proc.returncode == 1
    site = run.results["azure.appsettings.pixcrawler-sandbox"]
    assert site["status"] == "fail"
    assert "DEBUG" in site["explanation"] and "SUPABASE_SERVICE_ROLE_KEY" in site["explanation"]
    assert run.results["azure.appsettings.pixcrawler-sandbox.staging"]["status"] == "pass"
    # neither the drifted nor the expected secret value is anywhere in the run
    for path in run.run_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"placeholder-service-role-key" not in data, path
    for path in (run.run_dir / "notebooks").iterdir():
        assert b"drifted" not in path.read_bytes(), path
