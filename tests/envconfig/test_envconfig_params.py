"""Parameters: the example YAML validates, runs end to end on the sample files, and bad
parameters are refused with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from runbook.core.checks import Status
from runbook.phases.environment.envconfig.backend import backend_checks
from runbook.phases.environment.envconfig.drift import drift_table
from runbook.phases.environment.envconfig.params import DEFAULT_LEFTOVERS, EnvironmentConfigParams
from runbook.phases.environment.envconfig.sources import collect_variables, load_environments
from runbook.phases.environment.envconfig.utility import utility_checks

EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "rehearsal/src/rehearsal/envconfig_samples/envconfig-params.example.yaml"
)


def example() -> dict[str, EnvironmentConfigParams]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return {env: EnvironmentConfigParams.model_validate(block) for env, block in data.items()}


@pytest.mark.parametrize("environment", ["local", "staging", "production"])
def test_example_parameters_run_clean_on_the_samples(repo_root, environment):
    params = example()[environment]
    variables, loaded = collect_variables(params, repo_root)
    assert loaded.status is Status.PASS
    results = [
        *utility_checks(variables, params),
        *backend_checks(variables, params, environment),
        drift_table(load_environments(params.drift.env_files, repo_root), params).check,
    ]
    blocking = [r.summary_line() for r in results if r.status in (Status.FAIL, Status.ERROR)]
    assert blocking == []
    warned = [r.summary_line() for r in results if r.status is Status.WARN]
    assert warned == []


def test_production_parameters_fail_the_invalid_sample(repo_root):
    data = example()["production"].model_dump()
    data["sources"] = [{"file": "rehearsal/src/rehearsal/envconfig_samples/production-invalid.env"}]
    params = EnvironmentConfigParams.model_validate(data)
    variables, _ = collect_variables(params, repo_root)
    results = utility_checks(variables, params) + backend_checks(variables, params, "production")
    failed = {r.id for r in results if r.status is Status.FAIL}
    assert {
        "envconfig.utility.value.compression.quality",
        "envconfig.utility.value.compression.format",
        "envconfig.utility.value.logging.environment",
        "envconfig.utility.value.compression.archive.level",
        "envconfig.utility.expected",
        "envconfig.backend.origins_format",
        "envconfig.backend.origins_production",
    } <= failed


def test_unknown_parameter_keys_are_refused():
    with pytest.raises(ValidationError):
        EnvironmentConfigParams.model_validate({"utility": {"quality_floor": 70}})
    with pytest.raises(ValidationError):
        EnvironmentConfigParams.model_validate({"sources": [{"file": "a.env", "extra": 1}]})


def test_expected_values_outside_the_schema_are_refused_with_the_reason():
    with pytest.raises(ValidationError, match="COMPRESSION__QUALITY='500' is invalid"):
        EnvironmentConfigParams.model_validate(
            {"utility": {"expected": {"COMPRESSION__QUALITY": "500"}}}
        )
    with pytest.raises(ValidationError, match="'COMPRESSION__QUALTY' is not a utility setting"):
        EnvironmentConfigParams.model_validate(
            {"utility": {"expected": {"COMPRESSION__QUALTY": "85"}}}
        )


def test_default_leftovers_cover_the_unprefixed_names_of_the_reference():
    for name in ("QUALITY", "FORMAT", "ARCHIVE_LEVEL", "WORKERS", "PIXCRAWLER_USE_JSON"):
        assert name in DEFAULT_LEFTOVERS
    assert DEFAULT_LEFTOVERS["ARCHIVE_LEVEL"] == "COMPRESSION__ARCHIVE__LEVEL"
