"""Loading variables: the `.env` parser (real files) and the process environment (a real
subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.core.checks import Status
from runbook.phases.environment.envconfig.params import EnvironmentConfigParams
from runbook.phases.environment.envconfig.sources import (
    EnvFileError,
    collect_variables,
    load_env_file,
    load_environments,
)


def write(tmp_path: Path, text: str, name: str = "vars.env") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_parses_keys_values_quotes_and_comments(tmp_path):
    path = write(
        tmp_path,
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "SPACED = padded value  \n"
        "export EXPORTED=yes\n"
        "INLINE=abc # trailing comment\n"
        "HASH_IN_VALUE=a#b\n"
        "SINGLE='{\"quality\": 70} # kept'\n"
        'DOUBLE="line\\nbreak \\"quoted\\""\n'
        "EMPTY=\n"
        'MULTI="first\n'
        'second"\n'
        'SECURITY_ALLOWED_ORIGINS=\'["https://a","https://b"]\'\n',
    )
    assert load_env_file(path) == {
        "PLAIN": "value",
        "SPACED": "padded value",
        "EXPORTED": "yes",
        "INLINE": "abc",
        "HASH_IN_VALUE": "a#b",
        "SINGLE": '{"quality": 70} # kept',
        "DOUBLE": 'line\nbreak "quoted"',
        "EMPTY": "",
        "MULTI": "first\nsecond",
        "SECURITY_ALLOWED_ORIGINS": '["https://a","https://b"]',
    }


def test_later_duplicate_wins(tmp_path):
    assert load_env_file(write(tmp_path, "A=1\nA=2\n")) == {"A": "2"}


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("A=1\nSUPABASE_ANON_KEY secret-on-a-bad-line\n", 2, "no '=' found"),
        ("A=1\n\n# c\n1BAD=x\n", 4, "not a valid variable name"),
        ('A=1\nB="open quote secret-on-a-bad-line\nC=3\n', 2, "unterminated"),
        ("A='x' secret-on-a-bad-line\n", 1, "after the closing quote"),
    ],
)
def test_malformed_line_names_file_and_line_but_not_its_content(tmp_path, text, line, reason):
    path = write(tmp_path, text)
    with pytest.raises(EnvFileError) as info:
        load_env_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    assert reason in message
    assert "secret-on-a-bad-line" not in message
    assert info.value.line == line and info.value.path == path


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(EnvFileError, match=r"nope\.env: file not found"):
        load_env_file(tmp_path / "nope.env")


def test_collect_from_files_relative_to_root_later_wins(tmp_path):
    write(tmp_path, "A=1\nB=1\n", "base.env")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "B=2\n", "over.env")
    params = EnvironmentConfigParams(sources=[{"file": "base.env"}, {"file": "sub/over.env"}])
    variables, result = collect_variables(params, tmp_path)
    assert variables == {"A": "1", "B": "2"}
    assert result.status is Status.PASS
    assert result.evidence["names"] == ["A", "B"]
    assert "1" not in json.dumps(result.evidence["names"])  # names only


def test_collect_errors_on_a_malformed_file(tmp_path):
    write(tmp_path, "A=1\nBROKEN\n")
    params = EnvironmentConfigParams(sources=[{"file": "vars.env"}])
    variables, result = collect_variables(params, tmp_path)
    assert variables == {}
    assert result.status is Status.ERROR
    assert "vars.env:2" in result.explanation


def test_collect_errors_without_sources_and_is_inconclusive_on_empty(tmp_path):
    _, result = collect_variables(EnvironmentConfigParams(), tmp_path)
    assert result.status is Status.ERROR
    write(tmp_path, "# nothing here\n")
    _, result = collect_variables(EnvironmentConfigParams(sources=[{"file": "vars.env"}]), tmp_path)
    assert result.status is Status.INCONCLUSIVE


def test_process_environment_is_filtered_to_relevant_names(tmp_path):
    script = (
        "import json, sys\n"
        "from runbook.phases.environment.envconfig.params import EnvironmentConfigParams\n"
        "from runbook.phases.environment.envconfig.sources import collect_variables\n"
        "p = EnvironmentConfigParams(sources=[{'process_env': True}])\n"
        "v, r = collect_variables(p, '.')\n"
        "print(json.dumps({'vars': v, 'status': r.status.value}))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "pixcrawler_utility_compression__quality": "80",
        "ENVIRONMENT": "staging",
        "QUALITY": "40",
        "UNRELATED_VARIABLE": "not wanted",
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(out.stdout)
    assert data["status"] == "pass"
    assert data["vars"] == {
        "pixcrawler_utility_compression__quality": "80",
        "ENVIRONMENT": "staging",
        "QUALITY": "40",
    }


def test_load_environments_reads_each_file(repo_root):
    params = EnvironmentConfigParams(
        drift={
            "env_files": {
                "staging": "rehearsal/src/rehearsal/envconfig_samples/staging.env",
                "production": "rehearsal/src/rehearsal/envconfig_samples/production.env",
            }
        }
    )
    loaded = load_environments(params.drift.env_files, repo_root)
    assert loaded["staging"]["ENVIRONMENT"] == "staging"
    assert loaded["production"]["ENVIRONMENT"] == "production"
