"""Utility package (new format): values, cross-field rule, unknown keys, leftovers, expected."""

from __future__ import annotations

import json

import pytest
from envconfig_support import by_id, statuses

from runbook.core.checks import Status
from runbook.phases.environment.envconfig.params import (
    CHECKLIST_PRODUCTION_UTILITY,
    EnvironmentConfigParams,
)
from runbook.phases.environment.envconfig.utility import utility_checks

P = "PIXCRAWLER_UTILITY_"


def checks(variables: dict[str, str], **utility) -> dict:
    return by_id(utility_checks(variables, EnvironmentConfigParams(utility=utility)))


def failing(results: dict) -> dict:
    return {k: r for k, r in results.items() if r.status is Status.FAIL}


def test_valid_samples_pass(production_vars, staging_vars, development_vars):
    for variables in (production_vars, staging_vars, development_vars):
        results = checks(variables, expected=dict(CHECKLIST_PRODUCTION_UTILITY))
        values = results["envconfig.utility.values"]
        assert values.status is Status.PASS
        assert results["envconfig.utility.unknown_keys"].status is Status.PASS
        assert results["envconfig.utility.leftovers"].status is Status.PASS
    prod = checks(production_vars, expected=dict(CHECKLIST_PRODUCTION_UTILITY))
    assert prod["envconfig.utility.expected"].status is Status.PASS
    assert prod["envconfig.utility.production_quality"].status is Status.PASS


@pytest.mark.parametrize(
    ("suffix", "value", "result_id", "expected_text"),
    [
        ("COMPRESSION__QUALITY", "500", "compression.quality", "an integer from 0 to 100"),
        (
            "COMPRESSION__FORMAT",
            "WEBP",
            "compression.format",
            "webp, avif, png, jxl (case-sensitive)",
        ),
        (
            "LOGGING__ENVIRONMENT",
            "staging",
            "logging.environment",
            "one of development, production, testing",
        ),
        ("COMPRESSION__ARCHIVE__LEVEL", "22", "compression.archive.level", "from 1 to 19"),
        ("LOGGING__ENVIRONMENT", "test", "logging.environment", "development, production, testing"),
        ("COMPRESSION__ARCHIVE__TYPE", "gzip", "compression.archive.type", "zstd, zip, none"),
        ("COMPRESSION__LOSSLESS", "maybe", "compression.lossless", "a boolean"),
        ("COMPRESSION__WORKERS", "-1", "compression.workers", "an integer ≥ 0"),
        ("LOGGING__BACKUP_COUNT", "0", "logging.backup_count", "from 1 to 100"),
        ("LOGGING__CONSOLE_LEVEL", "LOUD", "logging.console_level", "CRITICAL"),
        ("LOGGING__LOG_FILENAME", "", "logging.log_filename", "a non-empty string"),
    ],
)
def test_invalid_value_fails_naming_variable_value_and_expectation(
    production_vars, suffix, value, result_id, expected_text
):
    variables = {**production_vars, P + suffix: value}
    results = checks(variables)
    fails = failing(results)
    assert list(fails) == [f"envconfig.utility.value.{result_id}"]
    result = fails[f"envconfig.utility.value.{result_id}"]
    assert P + suffix in result.explanation
    assert f"={value}" in result.observed
    assert expected_text in result.threshold
    assert expected_text in result.explanation
    assert "envconfig.utility.values" not in results  # no blanket pass beside a failure


def test_the_four_invalid_values_of_the_invalid_sample_each_fail(invalid_vars):
    results = checks(invalid_vars)
    fails = failing(results)
    for rid, value in [
        ("compression.quality", "500"),
        ("compression.format", "WEBP"),
        ("logging.environment", "staging"),
        ("compression.archive.level", "22"),
    ]:
        result = fails[f"envconfig.utility.value.{rid}"]
        assert result.observed.endswith(f"={value}")
        assert result.evidence["errors"][0]["value"] == value


def test_lower_case_format_and_mixed_case_choices_are_accepted(production_vars):
    variables = {
        **production_vars,
        P + "COMPRESSION__FORMAT": "avif",
        P + "LOGGING__ENVIRONMENT": "Production",  # the utility package lower-cases it
        P + "LOGGING__CONSOLE_LEVEL": "warning",  # and upper-cases levels
    }
    results = checks(variables)
    assert results["envconfig.utility.values"].status is Status.PASS


def test_prefix_and_names_are_case_insensitive(production_vars):
    variables = {k: v for k, v in production_vars.items() if not k.startswith(P)}
    variables["pixcrawler_utility_compression__quality"] = "101"
    variables["Pixcrawler_Utility_Logging__Use_Json"] = "true"
    results = checks(variables)
    assert results["envconfig.utility.value.compression.quality"].status is Status.FAIL
    assert (
        "pixcrawler_utility_compression__quality=101"
        in results["envconfig.utility.value.compression.quality"].observed
    )
    assert results["envconfig.utility.unknown_keys"].status is Status.PASS


def test_same_variable_in_two_cases_fails():
    variables = {P + "COMPRESSION__QUALITY": "80", P.lower() + "compression__quality": "90"}
    result = checks(variables)["envconfig.utility.value.compression.quality"]
    assert result.status is Status.FAIL
    assert "different letter case" in result.explanation


def test_json_group_is_validated_like_nested_variables():
    ok = checks({P + "COMPRESSION": '{"quality": 70, "format": "png", "archive": {"level": 3}}'})
    assert ok["envconfig.utility.values"].status is Status.PASS
    bad = checks({P + "COMPRESSION": '{"quality": 500, "archive": {"level": 22}}'})
    quality = bad["envconfig.utility.value.compression.quality"]
    assert quality.status is Status.FAIL
    assert P + "COMPRESSION" in quality.explanation and "500" in quality.explanation
    assert bad["envconfig.utility.value.compression.archive.level"].status is Status.FAIL


def test_json_group_not_json_or_not_an_object_fails():
    for raw in ("quality=70", "[70]"):
        result = checks({P + "COMPRESSION": raw})["envconfig.utility.value.compression"]
        assert result.status is Status.FAIL
        assert "JSON object" in result.threshold


def test_nested_variable_overrides_key_of_json_group():
    results = checks(
        {
            P + "COMPRESSION": '{"quality": 500}',
            P + "COMPRESSION__QUALITY": "80",
            P + "LOGGING__ENVIRONMENT": "production",
        },
        expected={"COMPRESSION__QUALITY": "80"},
    )
    assert results["envconfig.utility.values"].status is Status.PASS
    assert results["envconfig.utility.values"].evidence["nested_overrides_json"]
    assert results["envconfig.utility.expected"].status is Status.PASS


def test_unknown_keys_are_flagged_with_a_suggestion(production_vars):
    variables = {
        **production_vars,
        P + "COMPRESSION__QUALTY": "85",
        P + "LOGGING": '{"use_json": true, "CONSOLE_LEVEL": "INFO"}',
    }
    result = checks(variables)["envconfig.utility.unknown_keys"]
    assert result.status is Status.WARN
    assert P + "COMPRESSION__QUALTY" in result.observed
    assert "did you mean PIXCRAWLER_UTILITY_COMPRESSION__QUALITY" in result.explanation
    assert any("CONSOLE_LEVEL" in u for u in result.observed)


def test_unprefixed_leftover_is_flagged(production_vars):
    variables = {**production_vars, "QUALITY": "40", "archive_level": "3"}
    result = checks(variables)["envconfig.utility.leftovers"]
    assert result.status is Status.WARN
    assert set(result.observed) == {"QUALITY", "archive_level"}
    assert "QUALITY=40" in result.explanation
    leftovers = {x["variable"]: x for x in result.evidence["leftovers"]}
    assert leftovers["QUALITY"]["new_format"] == P + "COMPRESSION__QUALITY"
    assert leftovers["QUALITY"]["effect"].startswith("shadowed")


def test_leftover_without_prefixed_counterpart_is_applied_silently():
    result = checks({P + "COMPRESSION__QUALITY": "85", "FORMAT": "png"})[
        "envconfig.utility.leftovers"
    ]
    assert result.status is Status.WARN
    assert "applied silently" in result.explanation


def test_leftover_list_is_a_parameter():
    variables = {P + "COMPRESSION__QUALITY": "85", "QUALITY": "40", "OLD_QUALITY": "1"}
    result = checks(variables, leftovers={"OLD_QUALITY": "COMPRESSION__QUALITY"})[
        "envconfig.utility.leftovers"
    ]
    assert result.observed == ["OLD_QUALITY"]


def test_old_variables_are_flagged_when_declared(production_vars):
    assert checks(production_vars)["envconfig.utility.old_variables"].status is Status.SKIP
    declared = ["COMPRESSION_QUALITY", "LOG_LEVEL"]
    result = checks(production_vars, old_variables=declared)["envconfig.utility.old_variables"]
    assert result.status is Status.WARN
    assert result.observed == ["LOG_LEVEL"]
    clean = {k: v for k, v in production_vars.items() if k != "LOG_LEVEL"}
    assert (
        checks(clean, old_variables=declared)["envconfig.utility.old_variables"].status
        is Status.PASS
    )


def test_quality_floor_in_production():
    base = {P + "LOGGING__ENVIRONMENT": "production"}
    low = checks({**base, P + "COMPRESSION__QUALITY": "60"})
    result = low["envconfig.utility.production_quality"]
    assert result.status is Status.FAIL
    assert "60" in result.explanation and "70" in result.explanation
    assert (
        checks({**base, P + "COMPRESSION__QUALITY": "70"})[
            "envconfig.utility.production_quality"
        ].status
        is Status.PASS
    )
    dev = checks({P + "LOGGING__ENVIRONMENT": "development", P + "COMPRESSION__QUALITY": "60"})
    assert dev["envconfig.utility.production_quality"].status is Status.PASS
    # the floor is a parameter
    strict = checks({**base, P + "COMPRESSION__QUALITY": "75"}, production_min_quality=80)
    assert strict["envconfig.utility.production_quality"].status is Status.FAIL


def test_quality_floor_not_evaluated_when_a_value_is_invalid():
    results = checks({P + "LOGGING__ENVIRONMENT": "staging", P + "COMPRESSION__QUALITY": "60"})
    assert results["envconfig.utility.production_quality"].status is Status.SKIP


def test_expected_values_are_compared_typed(production_vars):
    expected = dict(CHECKLIST_PRODUCTION_UTILITY)
    variables = {
        **production_vars,
        P + "COMPRESSION__LOSSLESS": "False",
        P + "COMPRESSION__QUALITY": "90",
    }
    result = checks(variables, expected=expected)["envconfig.utility.expected"]
    assert result.status is Status.FAIL
    bad = [r for r in result.evidence["comparison"] if not r["ok"]]
    assert [r["variable"] for r in bad] == [P + "COMPRESSION__QUALITY"]  # False == false
    assert "observed 90" in result.explanation and "expected 85" in result.explanation


def test_expected_variable_absent_fails_unless_allowed():
    variables = {P + "COMPRESSION__QUALITY": "85"}
    expected = {"COMPRESSION__QUALITY": "85", "PIXCRAWLER_UTILITY_COMPRESSION__FORMAT": "webp"}
    result = checks(variables, expected=expected)["envconfig.utility.expected"]
    assert result.status is Status.FAIL
    assert "COMPRESSION__FORMAT: observed (absent)" in result.explanation
    relaxed = checks(variables, expected=expected, require_expected_present=False)
    assert relaxed["envconfig.utility.expected"].status is Status.PASS  # the default is webp


def test_no_prefixed_variables_fails_when_required():
    results = checks({"ENVIRONMENT": "production"})
    assert results["envconfig.utility.values"].status is Status.FAIL
    optional = checks({"ENVIRONMENT": "development"}, require_present=False)
    assert optional["envconfig.utility.values"].status is Status.SKIP


def test_empty_variable_set_is_inconclusive():
    [result] = utility_checks({}, EnvironmentConfigParams())
    assert result.status is Status.INCONCLUSIVE


def test_results_carry_the_checklist_section_and_are_json(invalid_vars):
    for result in utility_checks(invalid_vars, EnvironmentConfigParams()):
        assert result.section.startswith("Environment Configuration §1")
        assert "Utility Package (New Format)" in result.section
        json.dumps(result.to_payload())


def test_statuses_of_the_invalid_sample_are_stable(invalid_vars):
    s = statuses(utility_checks(invalid_vars, EnvironmentConfigParams()))
    assert s["envconfig.utility.production_quality"] is Status.SKIP
    assert s["envconfig.utility.leftovers"] is Status.PASS
