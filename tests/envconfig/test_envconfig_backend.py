"""Backend configuration: ENVIRONMENT, production rules, origins, Redis, Supabase, database,
required secrets."""

from __future__ import annotations

import pytest
from envconfig_support import by_id

from runbook.core.checks import Status
from runbook.phases.environment.envconfig.backend import backend_checks
from runbook.phases.environment.envconfig.params import EnvironmentConfigParams

PARAMS = EnvironmentConfigParams()


def run(variables: dict[str, str], environment: str = "production", params=PARAMS) -> dict:
    return by_id(backend_checks(variables, params, environment))


def test_valid_samples_pass(production_vars, staging_vars, development_vars):
    for variables, env in (
        (production_vars, "production"),
        (staging_vars, "staging"),
        (development_vars, "local"),
    ):
        results = run(variables, env)
        bad = {
            k: r.summary_line()
            for k, r in results.items()
            if r.status not in (Status.PASS, Status.SKIP)
        }
        assert bad == {}, (env, bad)
    prod = run(production_vars)
    assert prod["envconfig.backend.debug"].status is Status.PASS
    assert prod["envconfig.backend.origins_production"].status is Status.PASS


@pytest.mark.parametrize("value", ["staging-2", "prod", "Production", ""])
def test_environment_outside_the_allowed_values_fails(production_vars, value):
    result = run({**production_vars, "ENVIRONMENT": value})["envconfig.backend.environment"]
    assert result.status is Status.FAIL
    assert "development, staging, production, test" in result.explanation


def test_environment_must_match_the_runbook_environment(staging_vars):
    result = run(staging_vars, "production")["envconfig.backend.environment"]
    assert result.status is Status.FAIL
    assert "must run as production" in result.explanation
    assert run(staging_vars, "staging")["envconfig.backend.environment"].status is Status.PASS


def test_local_maps_to_development_by_parameter(development_vars):
    assert run(development_vars, "local")["envconfig.backend.environment"].status is Status.PASS
    params = EnvironmentConfigParams(backend={"environment_values": {"local": "test"}})
    result = run(development_vars, "local", params)["envconfig.backend.environment"]
    assert result.status is Status.FAIL


def test_an_unmapped_runbook_environment_is_not_silently_the_expected_value(development_vars):
    result = run(development_vars, "qa")["envconfig.backend.environment"]
    assert result.status is Status.SKIP
    assert "'qa' is not a backend environment" in result.explanation
    assert "environment_values: {qa: <development | staging | production | test>}" in (
        result.explanation
    )
    # an invalid value still fails without a mapping
    bad = run({**development_vars, "ENVIRONMENT": "dev"}, "qa")["envconfig.backend.environment"]
    assert bad.status is Status.FAIL
    mapped = EnvironmentConfigParams(backend={"environment_values": {"qa": "staging"}})
    result = run(development_vars, "qa", mapped)["envconfig.backend.environment"]
    assert result.status is Status.FAIL and "must run as staging" in result.explanation


def test_a_mapping_to_a_value_the_backend_refuses_is_a_parameter_error():
    with pytest.raises(ValueError, match="must be one of"):
        EnvironmentConfigParams(backend={"environment_values": {"qa": "qa"}})


@pytest.mark.parametrize("value", ["true", "1", "yes", "on"])
def test_debug_on_in_production_fails(production_vars, value):
    result = run({**production_vars, "DEBUG": value})["envconfig.backend.debug"]
    assert result.status is Status.FAIL
    assert "on in production" in result.explanation


def test_debug_absent_or_garbage_in_production_fails(production_vars):
    absent = {k: v for k, v in production_vars.items() if k != "DEBUG"}
    assert run(absent)["envconfig.backend.debug"].status is Status.FAIL
    assert (
        run({**production_vars, "DEBUG": "nope"})["envconfig.backend.debug"].status is Status.FAIL
    )


def test_debug_is_not_checked_outside_production(development_vars):
    assert run(development_vars, "local")["envconfig.backend.debug"].status is Status.SKIP


@pytest.mark.parametrize(
    "origins",
    [
        '["*"]',
        '["https://app.example.invalid","http://localhost:3000"]',
        '["http://127.0.0.1:8080"]',
        '["https://*.example.invalid"]',
        '["http://[::1]:3000"]',
    ],
)
def test_wildcard_or_local_origin_in_production_fails(production_vars, origins):
    result = run({**production_vars, "SECURITY_ALLOWED_ORIGINS": origins})[
        "envconfig.backend.origins_production"
    ]
    assert result.status is Status.FAIL
    assert "refused in production" in result.explanation


def test_local_origins_allowed_outside_production(development_vars):
    results = run(development_vars, "local")
    assert results["envconfig.backend.origins_production"].status is Status.SKIP
    assert results["envconfig.backend.origins_format"].status is Status.PASS


def test_comma_separated_origins_fail_and_stale_name_is_flagged(invalid_vars):
    results = run(invalid_vars)
    fmt = results["envconfig.backend.origins_format"]
    assert fmt.status is Status.FAIL
    assert "comma-separated" in fmt.explanation
    prod = results["envconfig.backend.origins_production"]
    assert prod.status is Status.FAIL
    assert "http://localhost:3000" in prod.explanation
    stale = results["envconfig.backend.stale_names"]
    assert stale.status is Status.WARN
    assert stale.observed == ["ALLOWED_ORIGINS"]
    assert "SECURITY_ALLOWED_ORIGINS" in stale.explanation


def test_only_the_stale_origins_name_set_fails_format(production_vars):
    variables = {k: v for k, v in production_vars.items() if k != "SECURITY_ALLOWED_ORIGINS"}
    variables["ALLOWED_ORIGINS"] = "https://app.example.invalid"
    result = run(variables)["envconfig.backend.origins_format"]
    assert result.status is Status.FAIL
    assert "stale name ALLOWED_ORIGINS" in result.explanation


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "[::1]", "::1"])
def test_local_redis_host_in_production_fails(production_vars, host):
    result = run({**production_vars, "LIMITER_REDIS_HOST": host})["envconfig.backend.redis"]
    assert result.status is Status.FAIL
    assert "the rate limiter uses Redis on" in result.explanation
    assert "refuses a localhost Redis in production" in result.explanation
    assert "cache" not in result.explanation  # the cache's host is not local


def test_unset_hosts_default_to_localhost_which_production_refuses(production_vars):
    # REDIS_URL alone does not configure the limiter or the cache (backend defaults)
    variables = {
        k: v
        for k, v in production_vars.items()
        if k not in ("LIMITER_REDIS_HOST", "CACHE_REDIS_HOST")
    }
    result = run(variables)["envconfig.backend.redis"]
    assert result.status is Status.FAIL
    assert "LIMITER_REDIS_HOST not set, default localhost" in result.explanation
    assert "CACHE_REDIS_HOST not set, default localhost" in result.explanation


@pytest.mark.parametrize("var", ["LIMITER_ENABLED", "CACHE_ENABLED"])
def test_production_requires_rate_limiting_and_caching_on(production_vars, var):
    result = run({**production_vars, var: "false"})["envconfig.backend.redis"]
    assert result.status is Status.FAIL
    assert f"{var}=false" in result.explanation and "production requires it on" in (
        result.explanation
    )
    garbage = run({**production_vars, var: "perhaps"})["envconfig.backend.redis"]
    assert garbage.status is Status.FAIL and "not a boolean" in garbage.explanation


def test_outside_production_redis_defaults_are_fine_and_never_claim_rate_limiting_is_off(
    development_vars,
):
    # nothing Redis-related set: the backend's defaults (on, localhost) apply
    bare = {k: v for k, v in development_vars.items() if "REDIS" not in k}
    result = run(bare, "local")["envconfig.backend.redis"]
    assert result.status is Status.PASS
    assert "rate limiter on (LIMITER_ENABLED not set, default true)" in result.explanation
    assert "disabled" not in result.explanation
    off = run({**bare, "LIMITER_ENABLED": "false"}, "local")["envconfig.backend.redis"]
    assert off.status is Status.PASS
    assert "rate limiter off (LIMITER_ENABLED=false; allowed outside production)" in (
        off.explanation
    )


def test_redis_uses_are_parameters(production_vars):
    params = EnvironmentConfigParams(
        backend={"redis_uses": [{"name": "broker", "host_var": "BROKER_HOST"}]}
    )
    result = run(production_vars, params=params)["envconfig.backend.redis"]
    assert result.status is Status.FAIL and "the broker uses Redis on localhost" in (
        result.explanation
    )
    ok = run({**production_vars, "BROKER_HOST": "redis.example.invalid"}, params=params)[
        "envconfig.backend.redis"
    ]
    assert ok.status is Status.PASS


def test_production_rules_apply_when_environment_variable_says_production(development_vars):
    variables = {**development_vars, "ENVIRONMENT": "production"}
    results = run(variables, "local")
    assert results["envconfig.backend.debug"].status is Status.FAIL
    assert results["envconfig.backend.redis"].status is Status.FAIL


@pytest.mark.parametrize(
    "url",
    [
        "http://pixcrawler.supabase.co",
        "https://pixcrawler.supabase.co/",
        "https://pix_crawler.supabase.co",
        "https://pixcrawler.supabase.com",
        "https://your-project.supabase.co.evil.example",
    ],
)
def test_supabase_url_pattern(production_vars, url):
    result = run({**production_vars, "SUPABASE_URL": url})["envconfig.backend.supabase_url"]
    assert result.status is Status.FAIL
    assert "does not match" in result.explanation


def test_database_url_or_parts(production_vars):
    no_db = {k: v for k, v in production_vars.items() if k != "DATABASE_URL"}
    result = run(no_db)["envconfig.backend.database"]
    assert result.status is Status.FAIL
    assert "DATABASE_HOST" in result.explanation
    parts = {
        **no_db,
        "DATABASE_HOST": "db.example.invalid",
        "DATABASE_USER": "pix",
        "DATABASE_PASSWORD": "fake-db-part-password",
    }
    assert run(parts)["envconfig.backend.database"].status is Status.PASS
    partial = {**no_db, "DATABASE_HOST": "db.example.invalid", "DATABASE_USER": "pix"}
    result = run(partial)["envconfig.backend.database"]
    assert result.status is Status.FAIL
    assert "missing: DATABASE_PASSWORD" in result.explanation


@pytest.mark.parametrize("name", ["SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_ANON_KEY"])
def test_required_secret_absent_or_empty_fails(production_vars, name):
    absent = {k: v for k, v in production_vars.items() if k != name}
    for variables in (absent, {**production_vars, name: ""}):
        result = run(variables)["envconfig.backend.secrets"]
        assert result.status is Status.FAIL
        assert result.observed[name] == "(absent)"
        assert name in result.explanation


def test_empty_variable_set_is_inconclusive():
    [result] = backend_checks({}, PARAMS, "production")
    assert result.status is Status.INCONCLUSIVE


def test_backend_section_quotes_the_checklist(production_vars):
    for result in backend_checks(production_vars, PARAMS, "production"):
        assert "Backend Configuration (No Changes)" in result.section


def test_backend_checks_switched_off_are_one_skip_saying_why() -> None:
    from runbook.phases.environment.envconfig.backend import backend_checks as checks
    from runbook.phases.environment.envconfig.params import EnvironmentConfigParams

    params = EnvironmentConfigParams.model_validate({"sources": [], "backend": {"enabled": False}})
    [only] = checks({"ENVIRONMENT": "local"}, params, "trial")
    assert only.status.value == "skip" and "backend.enabled: false" in only.explanation
