"""Parameter files and --param overrides: every problem names the source, the key and the
expectation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runbook.core import parameters as P

MINIMAL = """\
environment: {env}
target:
  name: t
  base_url: https://api.example.test
  token: {{env: SOME_TOKEN}}
"""


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "parameters").mkdir()
    (tmp_path / "runbooks").mkdir()
    return tmp_path


def write(root: Path, env: str, text: str) -> None:
    (root / "parameters" / f"{env}.yaml").write_text(text)


def problems(excinfo: pytest.ExceptionInfo[P.ParameterError]) -> str:
    return "\n".join(excinfo.value.problems)


def test_shipped_environment_files_validate(repo_root: Path) -> None:
    for env in ["local", "development", "staging", "production"]:
        loaded = P.load(env, root=repo_root)
        assert loaded.params.environment == env


def test_minimal_file_loads_with_defaults(root: Path) -> None:
    write(root, "dev", MINIMAL.format(env="dev"))
    params = P.load("dev", root=root).params
    assert params.execution.cell_timeout_s == 300
    assert params.target.token.env == "SOME_TOKEN"


def test_unknown_key_names_file_key_and_allowed_keys(root: Path) -> None:
    write(root, "dev", MINIMAL.format(env="dev") + "  timeout: 5\n")
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", root=root)
    text = problems(exc)
    assert "dev.yaml" in text and "unknown key 'target.timeout'" in text
    assert "timeout_s" in text  # the allowed keys are listed


def test_wrong_type_names_key_and_expectation(root: Path) -> None:
    write(root, "dev", MINIMAL.format(env="dev") + "  timeout_s: soon\n")
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", root=root)
    assert "key 'target.timeout_s'" in problems(exc) and "number" in problems(exc)
    assert "'soon'" in problems(exc)


def test_missing_required_value(root: Path) -> None:
    write(root, "dev", "environment: dev\ntarget: {name: t, token: {env: X}}\n")
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", root=root)
    assert "key 'target.base_url' is required but missing" in problems(exc)


def test_secret_value_instead_of_reference_is_refused(root: Path) -> None:
    write(root, "dev", MINIMAL.format(env="dev").replace("{env: SOME_TOKEN}", "eyJhbGc.secret"))
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", root=root)
    assert "target.token" in problems(exc)


def test_unknown_environment_lists_known_ones(root: Path) -> None:
    write(root, "dev", MINIMAL.format(env="dev"))
    with pytest.raises(P.ParameterError) as exc:
        P.load("prod", root=root)
    assert "unknown environment 'prod'" in problems(exc) and "dev" in problems(exc)


def test_malformed_yaml_names_file_and_line(root: Path) -> None:
    write(root, "dev", "environment: dev\ntarget: [unclosed\n")
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", root=root)
    assert "dev.yaml: malformed YAML at line" in problems(exc)


@pytest.mark.parametrize(
    "url", ["http://ok.test\nHost: evil", "ftp://x.test", "not a url", "/relative/path"]
)
def test_hostile_or_bad_target_url_is_refused(root: Path, url: str) -> None:
    write(root, "dev", MINIMAL.format(env="dev").replace("https://api.example.test", repr(url)))
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", root=root)
    assert "target.base_url" in problems(exc)


def test_override_sets_nested_value_with_yaml_typing(root: Path) -> None:
    write(root, "dev", MINIMAL.format(env="dev"))
    loaded = P.load("dev", ["target.timeout_s=2.5", "build_id=abc123"], root=root)
    assert loaded.params.target.timeout_s == 2.5
    assert loaded.params.build_id == "abc123"
    assert loaded.overrides == ["target.timeout_s=2.5", "build_id=abc123"]


def test_override_errors_are_attributed_to_the_param(root: Path) -> None:
    write(root, "dev", MINIMAL.format(env="dev"))
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", ["target.timeout_s=-1"], root=root)
    assert problems(exc).startswith("--param target.timeout_s")
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", ["target.colour=blue"], root=root)
    assert "--param target.colour: unknown key" in problems(exc)


@pytest.mark.parametrize("bad", ["novalue", "=5", "a..b=1", "a b=1"])
def test_malformed_override_is_refused(root: Path, bad: str) -> None:
    write(root, "dev", MINIMAL.format(env="dev"))
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", [bad], root=root)
    assert "--param" in problems(exc)


def test_environment_key_must_match_the_file(root: Path) -> None:
    write(root, "dev", MINIMAL.format(env="staging"))
    with pytest.raises(P.ParameterError) as exc:
        P.load("dev", root=root)
    assert "'environment' is 'staging'" in problems(exc)


def test_smoke_step_using_an_uncaptured_name_is_refused(repo_root: Path, tmp_path: Path) -> None:
    shutil.copytree(repo_root / "parameters", tmp_path / "parameters")
    (tmp_path / "runbooks").mkdir()
    with pytest.raises(P.ParameterError) as exc:
        P.load("local", ["verify.steps.3.capture={}"], root=tmp_path)
    assert "project_id" in problems(exc) and "which no earlier step captures" in problems(exc)


def test_public_dump_holds_references_not_values(repo_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("PIXCRAWLER_SANDBOX_TOKEN", "value-that-must-not-appear")
    dumped = P.public_dump(P.load("local", root=repo_root).params)
    assert dumped["target"]["token"] == {"env": "PIXCRAWLER_SANDBOX_TOKEN"}
    assert "value-that-must-not-appear" not in str(dumped)
