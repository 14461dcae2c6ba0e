"""Secrets never appear in any result, table or error: only as present / absent."""

from __future__ import annotations

import json

from runbook.core.checks import CheckResult
from runbook.phases.environment.envconfig.backend import backend_checks
from runbook.phases.environment.envconfig.drift import drift_table
from runbook.phases.environment.envconfig.params import EnvironmentConfigParams
from runbook.phases.environment.envconfig.sources import collect_variables
from runbook.phases.environment.envconfig.utility import utility_checks

SERVICE = "sk-fake-service-role-0f9e8d7c"
ANON = "anon-fake-key-1a2b3c4d"
DB_PASSWORD = "db-fake-pass-5e6f7a8b"
REDIS_PASSWORD = "redis-fake-pass-9c0d1e2f"
TOKEN = "tok-fake-token-3a4b5c6d"
LEGACY = "legacy-fake-secret-7e8f9a0b"
ALL_SECRETS = [SERVICE, ANON, DB_PASSWORD, REDIS_PASSWORD, TOKEN, LEGACY]


def secret_laden(environment: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": environment,
        "DEBUG": "false",
        "SUPABASE_URL": "https://pixcrawler.supabase.co",
        "SUPABASE_SERVICE_ROLE_KEY": SERVICE,
        "SUPABASE_ANON_KEY": ANON,
        "DATABASE_URL": f"postgresql+asyncpg://pix:{DB_PASSWORD}@db.example.invalid:5432/pix",
        "DATABASE_PASSWORD": DB_PASSWORD,
        # not a secret name, but the URL embeds a password
        "REDIS_URL": f"rediss://:{REDIS_PASSWORD}@localhost:6380/0",
        "SECURITY_ALLOWED_ORIGINS": '["https://app.example.invalid"]',
        # an unknown utility key whose name marks it secret
        "PIXCRAWLER_UTILITY_API_TOKEN": TOKEN,
        "PIXCRAWLER_UTILITY_COMPRESSION__QUALITY": "500",
        # a leftover and a stale name, both declared secret below
        "LEGACY_SECRET_KEY": LEGACY,
    }


PARAMS = EnvironmentConfigParams(
    utility={
        "leftovers": {"LEGACY_SECRET_KEY": "", "QUALITY": "COMPRESSION__QUALITY"},
        "old_variables": ["LEGACY_SECRET_KEY"],
        "expected": {"COMPRESSION__QUALITY": "85"},
    },
    backend={"stale_names": {"LEGACY_SECRET_KEY": "SUPABASE_SERVICE_ROLE_KEY"}},
)


def dump(results: list[CheckResult]) -> str:
    return json.dumps([r.to_payload() for r in results], ensure_ascii=False) + "".join(
        r.summary_line() + r.to_html() for r in results
    )


def assert_no_secret(text: str) -> None:
    for value in ALL_SECRETS:
        assert value not in text


def test_no_secret_in_utility_or_backend_results():
    variables = secret_laden("production")
    results = utility_checks(variables, PARAMS) + backend_checks(variables, PARAMS, "production")
    text = dump(results)
    assert_no_secret(text)
    # the checks still say what they found, by name
    assert "PIXCRAWLER_UTILITY_API_TOKEN" in text
    assert "LEGACY_SECRET_KEY" in text
    by_id = {r.id: r for r in results}
    assert by_id["envconfig.backend.secrets"].observed == {
        "SUPABASE_SERVICE_ROLE_KEY": "•••(set)",
        "SUPABASE_ANON_KEY": "•••(set)",
    }
    assert by_id["envconfig.backend.redis"].status.value == "fail"  # localhost in production


def test_no_secret_in_the_drift_table_or_check():
    table = drift_table(
        {"staging": secret_laden("staging"), "production": {"ENVIRONMENT": "production"}},
        PARAMS,
    )
    assert_no_secret(table.frame.to_string())
    assert_no_secret(table.to_html())
    assert_no_secret(dump([table.check]))
    assert table.frame.loc["SUPABASE_ANON_KEY"].tolist() == ["•••(set)", "(absent)"]


def test_secret_policy_is_a_parameter_and_masks_everywhere():
    url = "https://hidden-project.supabase.co"
    params = EnvironmentConfigParams(
        secrets={"names": ["SUPABASE_URL", "SECURITY_ALLOWED_ORIGINS", "REDIS_URL"]}
    )
    variables = {
        **secret_laden("production"),
        "SUPABASE_URL": url,
        "SECURITY_ALLOWED_ORIGINS": '["http://hidden-origin.example.invalid","http://localhost:1"]',
        "REDIS_URL": "redis://hidden-redis-host.example.invalid:6379",
    }
    results = backend_checks(variables, params, "production")
    text = dump(results)
    for hidden in (url, "hidden-origin", "hidden-redis-host"):
        assert hidden not in text
    assert_no_secret(text)  # the name patterns (KEY, PASSWORD, ...) still apply


def test_invalid_value_of_a_secret_named_utility_variable_is_not_shown():
    params = EnvironmentConfigParams(secrets={"names": ["PIXCRAWLER_UTILITY_COMPRESSION"]})
    raw = '{"quality": "hidden-quality-value"}'
    results = utility_checks({"PIXCRAWLER_UTILITY_COMPRESSION": raw}, params)
    text = dump(results)
    assert "hidden-quality-value" not in text
    assert "PIXCRAWLER_UTILITY_COMPRESSION" in text


def test_no_secret_in_a_load_error(tmp_path):
    (tmp_path / "bad.env").write_text(f"A=1\nSUPABASE_ANON_KEY {ANON}\n", encoding="utf-8")
    _, result = collect_variables(EnvironmentConfigParams(sources=[{"file": "bad.env"}]), tmp_path)
    assert result.status.value == "error"
    assert_no_secret(dump([result]))


def test_scrub_is_a_safety_net_for_values_that_slip_into_a_result():
    from runbook.core.checks import Status
    from runbook.phases.environment.envconfig.masking import scrub

    leaky = CheckResult(
        id="x",
        section="s",
        title="t",
        status=Status.FAIL,
        observed={"v": ANON},
        explanation=f"value {ANON}",
        evidence={"list": [ANON]},
    )
    [clean] = scrub([leaky], {"SUPABASE_ANON_KEY": ANON}, PARAMS.secrets)
    assert_no_secret(dump([clean]))
    assert clean.explanation == "value •••(set)"
