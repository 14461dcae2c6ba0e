"""Drift across environments: the masked table, its highlighted HTML and the drift check."""

from __future__ import annotations

import re

from runbook.core.checks import Status
from runbook.phases.environment.envconfig.drift import (
    ABSENT_COLOUR,
    DIFF_COLOUR,
    ROW_COLOUR,
    drift_table,
    environment_drift,
)
from runbook.phases.environment.envconfig.params import EnvironmentConfigParams

PARAMS = EnvironmentConfigParams()


def envs(staging: dict[str, str], production: dict[str, str]) -> dict[str, dict[str, str]]:
    return {"staging": staging, "production": production}


def test_frame_is_variable_by_environment_with_secrets_masked(
    development_vars, staging_vars, production_vars
):
    table = drift_table(
        {"development": development_vars, "staging": staging_vars, "production": production_vars},
        PARAMS,
    )
    frame = table.frame
    assert list(frame.columns) == ["development", "staging", "production"]
    assert set(frame.index) == set(development_vars) | set(staging_vars) | set(production_vars)
    assert frame.loc["SUPABASE_ANON_KEY"].tolist() == ["•••(set)"] * 3
    assert frame.loc["DATABASE_URL"].tolist() == ["•••(set)"] * 3
    assert frame.loc["ENVIRONMENT"].tolist() == ["development", "staging", "production"]
    # a URL's embedded password is never shown, even under a non-secret name
    assert "staging-fake-redis-password" not in frame.loc["REDIS_URL", "staging"]
    assert frame.loc["REDIS_URL", "staging"].startswith("rediss://:•••@")
    for variables in (development_vars, staging_vars, production_vars):
        for name in ("SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "DATABASE_URL"):
            assert variables[name] not in frame.to_string()
            assert variables[name] not in table.to_html()


def css_of(html: str) -> dict[str, str]:
    """Map each CSS selector id suffix (e.g. 'row1_col1', 'level0_row1') to its declarations."""
    out: dict[str, str] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", html.split("</style>")[0]):
        for sel in selectors.split(","):
            m = re.search(r"#T_\w+?_((?:level\d+_)?row\d+(?:_col\d+)?)\s*$", sel.strip())
            if m:
                out[m.group(1)] = out.get(m.group(1), "") + body.replace(" ", "")
    return out


def test_html_highlights_the_differing_row_and_cell():
    staging = {"ENVIRONMENT": "staging", "DEBUG": "false", "LOG_LEVEL": "INFO"}
    production = {"ENVIRONMENT": "production", "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    table = drift_table(envs(staging, production), PARAMS)
    assert table.differing == ["ENVIRONMENT", "LOG_LEVEL"]
    css = css_of(table.to_html())
    index = list(table.frame.index)
    log, debug = index.index("LOG_LEVEL"), index.index("DEBUG")
    assert f"background-color:{DIFF_COLOUR}" in css[f"row{log}_col1"]
    assert f"background-color:{ROW_COLOUR}" in css[f"level0_row{log}"]
    assert f"row{debug}_col1" not in css and f"level0_row{debug}" not in css
    assert "2 differ" in table.to_html()


def test_absent_cell_is_highlighted_as_absent():
    table = drift_table(envs({"A": "1", "B": "2"}, {"A": "1"}), PARAMS)
    row = list(table.frame.index).index("B")
    assert table.frame.loc["B", "production"] == "(absent)"
    assert f"background-color:{ABSENT_COLOUR}" in css_of(table.to_html())[f"row{row}_col1"]


def test_check_passes_when_only_expected_differences(staging_vars, production_vars):
    params = EnvironmentConfigParams(
        drift={
            "expected_differences": [
                "ENVIRONMENT",
                "SUPABASE_URL",
                "REDIS_URL",
                "LIMITER_REDIS_HOST",
                "CACHE_REDIS_HOST",
                "SECURITY_ALLOWED_ORIGINS",
            ]
        }
    )
    check = drift_table(envs(staging_vars, production_vars), params).check
    assert check.status is Status.PASS, check.explanation
    assert {r["variable"] for r in check.evidence["expected_differences"]} == {
        "ENVIRONMENT",
        "SUPABASE_URL",
        "REDIS_URL",
        "LIMITER_REDIS_HOST",
        "CACHE_REDIS_HOST",
        "SECURITY_ALLOWED_ORIGINS",
    }


def test_check_warns_on_undeclared_non_secret_difference():
    staging = {"ENVIRONMENT": "staging", "LOG_LEVEL": "INFO", "SUPABASE_ANON_KEY": "fake-one"}
    production = {
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "DEBUG",
        "SUPABASE_ANON_KEY": "fake-two",
    }
    check = drift_table(envs(staging, production), PARAMS).check
    assert check.status is Status.WARN
    assert [r["variable"] for r in check.evidence["differing"]] == ["LOG_LEVEL"]
    assert "LOG_LEVEL (INFO → DEBUG)" in check.explanation
    assert "SUPABASE_ANON_KEY" not in check.explanation  # secrets compare by presence only


def test_check_fails_when_staging_variable_missing_in_production():
    staging = {
        "ENVIRONMENT": "staging",
        "REDIS_URL": "redis://r.example.invalid:6379",
        "SUPABASE_ANON_KEY": "x1-fake",
    }
    production = {"ENVIRONMENT": "production"}
    check = drift_table(envs(staging, production), PARAMS).check
    assert check.status is Status.FAIL
    assert check.evidence["missing_in_target"] == ["REDIS_URL", "SUPABASE_ANON_KEY"]
    allowed = EnvironmentConfigParams(drift={"allowed_missing": ["REDIS_URL", "SUPABASE_ANON_KEY"]})
    assert drift_table(envs(staging, production), allowed).check.status is Status.PASS


def test_check_skips_naming_what_is_missing_when_an_environment_is_not_given(
    staging_vars, development_vars
):
    check = drift_table({"staging": staging_vars}, PARAMS).check
    assert check.status is Status.SKIP
    assert check.explanation.startswith(
        "drift needs the env files of production; given only: staging"
    )
    table = drift_table({}, PARAMS)
    assert table.check.status is Status.SKIP
    assert table.check.explanation.startswith(
        "drift needs the env files of staging, production; none given"
    )
    # the empty table renders: one row saying there is nothing to compare, and why
    page = table.to_html()
    assert "(nothing to compare)" in page and "none given" in page
    assert "(nothing to compare)" in table._repr_html_()
    one = drift_table({"development": development_vars}, PARAMS)
    assert one.check.status is Status.SKIP and "(absent)" not in one.to_html()


def test_drift_can_be_turned_off(staging_vars, production_vars, repo_root_dir):
    off = EnvironmentConfigParams(
        drift={"enabled": False, "env_files": {"staging": "does/not/exist.env"}}
    )
    table = environment_drift(off, repo_root_dir)
    assert table.check.status is Status.SKIP and "enabled: false" in table.check.explanation
    assert "(nothing to compare)" in table.to_html()
    assert drift_table(envs(staging_vars, production_vars), off).check.status is Status.SKIP


def test_environment_drift_reads_the_files_and_names_an_unreadable_one(repo_root_dir):
    samples = "rehearsal/src/rehearsal/envconfig_samples"
    params = EnvironmentConfigParams(
        drift={
            "env_files": {
                "staging": f"{samples}/staging.env",
                "production": f"{samples}/production.env",
            }
        }
    )
    table = environment_drift(params, repo_root_dir)
    assert list(table.frame.columns) == ["staging", "production"]
    assert table.check.status is Status.WARN  # hosts and URLs differ, not declared here
    broken = EnvironmentConfigParams(drift={"env_files": {"staging": "nope/staging.env"}})
    table = environment_drift(broken, repo_root_dir)
    assert table.check.status is Status.ERROR and "nope/staging.env" in table.check.explanation
    assert "file not found" in table.to_html()


def test_check_inconclusive_when_an_environment_has_no_variables(staging_vars):
    check = drift_table(envs(staging_vars, {}), PARAMS).check
    assert check.status is Status.INCONCLUSIVE


def test_reference_and_target_are_parameters(development_vars, staging_vars):
    params = EnvironmentConfigParams(drift={"reference": "development", "target": "staging"})
    check = drift_table({"development": development_vars, "staging": staging_vars}, params).check
    assert check.evidence["reference"] == "development"
    assert check.status is Status.WARN  # e.g. DEBUG and quality differ, and are not declared
