"""Bad inputs through the real CLI (in-process `runbook.cli.main`): each exits 2 (1 for a
`verify` of something that is not a run) and names what is wrong and where, before anything
starts. Covered elsewhere and not repeated: `load()`-level unknown key / wrong type / missing
value / YAML line (tests/backbone/test_params.py), unknown sample defect
(tests/phases/test_pre_deployment_phase.py), an OpenAPI baseline that is not OpenAPI (checked
at run time; tests/contract/test_contract_sources.py asserts "is not an OpenAPI document").
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from runbook.cli import main
from runbook.core.checks import Status
from runbook.phases.pre_deployment.gates.params import Gate
from runbook.phases.pre_deployment.gates.runner import run_gate

ROOT = Path(__file__).resolve().parents[2]
VERIFY = ["run", "--env", "local", "--phase", "verify", "--dry-run"]


def _invalid(capsys, argv: list[str]) -> str:
    """Run the CLI; assert exit 2 and the invalid-input banner; return stderr."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "error: invalid input" in err, err
    return err


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch) -> Path:
    """A throwaway copy of parameters/ and runbooks/, made the checkout via RUNBOOK_ROOT."""
    root = tmp_path / "checkout"
    for folder in ("parameters", "runbooks"):
        shutil.copytree(ROOT / folder, root / folder)
    monkeypatch.setenv("RUNBOOK_ROOT", str(root))
    return root


def _edit_local(root: Path, old: str, new: str) -> Path:
    path = root / "parameters" / "local.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


# --- parameter files -------------------------------------------------------------------------


def test_malformed_yaml_names_the_file_and_line(capsys, checkout: Path) -> None:
    path = _edit_local(checkout, "  timeout_s: 10\n", "  timeout_s: [10\n")
    err = _invalid(capsys, VERIFY)
    assert str(path) in err and "malformed YAML at line" in err


def test_a_file_that_is_not_a_mapping_is_refused(capsys, checkout: Path) -> None:
    (checkout / "parameters" / "local.yaml").write_text("- just\n- a list\n")
    err = _invalid(capsys, VERIFY)
    assert "local.yaml" in err and "top level must be a mapping" in err


def test_unknown_key_in_the_file_names_file_key_and_allowed_keys(capsys, checkout) -> None:
    path = _edit_local(checkout, "  timeout_s: 10\n", "  timeout_s: 10\n  colour: blue\n")
    err = _invalid(capsys, VERIFY)
    assert f"{path}: unknown key 'target.colour'" in err and "allowed here:" in err


def test_wrong_type_in_the_file(capsys, checkout: Path) -> None:
    path = _edit_local(checkout, "  timeout_s: 10\n", "  timeout_s: ten\n")
    err = _invalid(capsys, VERIFY)
    assert f"{path}: key 'target.timeout_s'" in err and "'ten'" in err


def test_missing_required_value_in_the_file(capsys, checkout: Path) -> None:
    path = _edit_local(checkout, "  name: pixcrawler-sandbox\n", "")
    err = _invalid(capsys, VERIFY)
    assert f"{path}: key 'target.name' is required but missing" in err


def test_extends_of_a_missing_base_is_refused(capsys, checkout: Path) -> None:
    _edit_local(checkout, "extends: _base.yaml", "extends: _nowhere.yaml")
    err = _invalid(capsys, VERIFY)
    assert "key 'extends'" in err and "_nowhere.yaml" in err


# --- environment and phase -------------------------------------------------------------------


@pytest.mark.parametrize("env", ["moon", "../etc", "Local"])
def test_unknown_environment_lists_the_known_ones(capsys, env: str) -> None:
    err = _invalid(capsys, ["run", "--env", env, "--dry-run"])
    assert f"unknown environment {env!r}" in err and "known environments: " in err


def test_unknown_phase_lists_the_phases(capsys) -> None:
    err = _invalid(capsys, ["run", "--env", "local", "--phase", "deploy-everything", "--dry-run"])
    assert "unknown phase 'deploy-everything'" in err and "pre-deployment" in err


# --- --param: malformed, wrong type, unknown key, thresholds, URLs, headers --------------------


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("nonsense", "expected key=value"),
        ("=5", "is not a dotted key"),
        ("target..timeout_s=5", "is not a dotted key"),
        ("target.timeout_s=[1", "is not valid YAML"),
        ("target.timeout_s=abc", "key 'target.timeout_s'"),
        ("target.colour=blue", "unknown key 'target.colour'"),
        ("target.token=plain-secret-value", "key 'target.token'"),
        ("target.name=null", "key 'target.name'"),
        ("execution.cell_timeout_s=0", "greater than 0"),
    ],
)
def test_malformed_or_mistyped_param_names_the_param(capsys, param: str, expected: str) -> None:
    err = _invalid(capsys, [*VERIFY, "--param", param])
    assert "--param" in err and expected in err, err


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("performance.gates.p95_ms=-1", "greater than 0"),
        ("performance.gates.error_rate=2", "less than or equal to 1"),
        ("performance.gates.p95_ms=1500", "rollback_p95_ms (1000.0) is below p95_ms (1500.0)"),
        ("performance.gates.rollback_error_rate=0.001", "rollback_error_rate (0.001) is below"),
        ("deploy.kudu.timeout=-1", "greater than 0"),
        ("monitor.window=PT0S", "interval must not be longer than the window"),
    ],
)
def test_negative_or_inverted_thresholds_are_refused(capsys, param: str, expected: str) -> None:
    key = param.split("=", 1)[0]
    err = _invalid(capsys, [*VERIFY, "--param", param])
    assert f"--param {key}" in err and expected in err, err


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("target.base_url=not-a-url", "absolute http:// or https:// URL"),
        ("target.base_url=ftp://files.example.com", "absolute http:// or https:// URL"),
        ('target.base_url="http://a.example.com/\\nHost: evil"', "newlines or control characters"),
        ("azure.arm_endpoint=management", "absolute http:// or https:// URL"),
        ('target.headers={X-Trace: "a\\r\\nSet-Cookie: x=1"}', "contains whitespace, a newline"),
    ],
)
def test_non_url_and_hostile_values_are_refused(capsys, param: str, expected: str) -> None:
    key = param.split("=", 1)[0]
    err = _invalid(capsys, [*VERIFY, "--param", param])
    assert f"--param {key}" in err and expected in err, err


# --- checks that need the run itself (still before anything starts) --------------------------


def test_an_unset_secret_is_named_in_the_plan_not_refused(
    capsys, monkeypatch, tmp_path: Path
) -> None:
    """What an unset secret hides only the run can tell (its checks end INCOMPLETE): the plan
    names it, and nothing refuses the input."""
    monkeypatch.delenv("PIXCRAWLER_API_TOKEN", raising=False)
    assert (
        main(
            [
                "run",
                "--env",
                "staging",
                "--phase",
                "verify",
                "--dry-run",
                "--outputs",
                str(tmp_path),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "not set now" in err and "target.token ($PIXCRAWLER_API_TOKEN)" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("repo", ["/nonexistent/pixcrawler", "/tmp/x; touch {canary}"])
def test_a_missing_repository_is_invalid_input_and_never_reaches_a_shell(
    capsys, monkeypatch, tmp_path: Path, repo: str
) -> None:
    canary = tmp_path / "PWNED"
    repo = repo.format(canary=canary)
    monkeypatch.setenv("PIXCRAWLER_API_TOKEN", "t-" + "x" * 20)
    outputs = tmp_path / "outputs"
    err = _invalid(
        capsys,
        [
            "run",
            "--env",
            "staging",
            "--phase",
            "pre-deployment",
            "--param",
            f"pre_deployment.repo={repo}",
            "--outputs",
            str(outputs),
        ],
    )
    assert "key 'pre_deployment.repo'" in err and repo in err and "is not a folder" in err
    assert not canary.exists() and not outputs.exists()


def test_gates_run_argv_lists_so_metacharacters_stay_literal(tmp_path: Path) -> None:
    repo = tmp_path / "repo; touch PWNED"
    repo.mkdir()
    gate = Gate(
        id="hostile",
        title="t",
        section="s",
        kind="command",
        argv=[
            "{python}",
            "-c",
            "import os, sys; print(os.getcwd()); print(sys.argv[1])",
            "$(touch PWNED); `touch PWNED`",
        ],
    )
    result = run_gate(gate, repo, tmp_path / "evidence", python=[sys.executable])
    assert result.status is Status.PASS, result.explanation
    out = (tmp_path / "evidence" / "hostile.stdout.log").read_text()
    assert str(repo) in out and "$(touch PWNED); `touch PWNED`" in out
    assert not (repo / "PWNED").exists() and not (tmp_path / "PWNED").exists()


# --- verify ----------------------------------------------------------------------------------


def test_verify_of_a_missing_run_directory_fails_naming_it(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-run"
    assert main(["verify", str(missing)]) == 1
    out = capsys.readouterr().out
    assert f"{missing}: no such run directory" in out


def test_verify_chain_of_an_environment_without_runs_fails(capsys, tmp_path: Path) -> None:
    assert main(["verify", "--chain", "local", "--outputs", str(tmp_path)]) == 1
    assert "no runs for environment 'local'" in capsys.readouterr().out


def test_verify_without_a_run_or_chain_is_invalid(capsys) -> None:
    assert main(["verify"]) == 2
    assert "give a RUN_DIR or --chain ENV" in capsys.readouterr().err
