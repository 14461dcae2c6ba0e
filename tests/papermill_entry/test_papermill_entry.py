"""Plain papermill is an entry point: the papermill CLI itself, in a subprocess, executes
04_verify.ipynb against a real sandbox that this test started (the run starts nothing). A
healthy target exits 0, a faulted one exits non-zero naming the failing check; both leave a
run directory with a manifest `runbook verify` accepts; invalid input is refused before
anything is looked at; `fail_on_verdict=False` only shows the verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "runbooks" / "04_verify.ipynb"
PAPERMILL_TIMEOUT_S = 600  # a busy 2-core machine: a generous bound, not a speed target
FAILING_ROUTE = "GET /api/v1/notifications/"


@pytest.fixture
def team_root(tmp_path: Path) -> Path:
    """A root with the checkout's parameters and notebooks, so outputs/ lands in tmp_path."""
    root = tmp_path / "root"
    root.mkdir()
    for name in ("parameters", "runbooks"):
        (root / name).symlink_to(ROOT / name)
    return root


@pytest.fixture
def sandbox(live_sandbox: Any) -> Iterator[Any]:
    """The module's real sandbox, faults cleared before and after."""
    live_sandbox.reset()
    yield live_sandbox
    live_sandbox.reset()


def papermill(
    root: Path, token: str, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m papermill runbooks/04_verify.ipynb OUT ARGS…` with RUNBOOK_ROOT=root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
    env.update(RUNBOOK_ROOT=str(root), PIXCRAWLER_SANDBOX_TOKEN=token, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "papermill", str(NOTEBOOK), str(root / "out.ipynb"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=PAPERMILL_TIMEOUT_S,
    )


def params_yaml(root: Path, url: str, **more: Any) -> Path:
    """A papermill parameters file: env, and `params` as overrides of parameters/local.yaml."""
    path = root / "papermill-params.yaml"
    data = {"env": "local", "params": {"target": {"base_url": url}, "integration": None}, **more}
    path.write_text(yaml.safe_dump(data))
    return path


def only_run(root: Path) -> Path:
    """The one run directory papermill made under outputs/local/."""
    runs = [p for p in (root / "outputs" / "local").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def runbook_verify(run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", "verify", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=PAPERMILL_TIMEOUT_S,
    )


def test_healthy_target_exits_zero_and_leaves_a_verifiable_run(
    team_root: Path, sandbox: Any, sandbox_token: str
) -> None:
    done = papermill(team_root, sandbox_token, "-f", str(params_yaml(team_root, sandbox.url)))
    assert done.returncode == 0, done.stderr[-4000:]
    run_dir = only_run(team_root)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["entry"] == "papermill"
    assert manifest["verdict"] == "GO"
    assert [p["name"] for p in manifest["phases"]] == ["verify"]
    ids = {r["id"]: r["status"] for r in manifest["results"]}
    assert ids["smoke.health"] == "pass"
    assert ids["runbook.secret-scan"] == "pass"
    assert sorted(manifest["overrides"]) == [
        "integration=null",
        f"target.base_url={json.dumps(sandbox.url)}",
    ]
    checked = runbook_verify(run_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_faulted_target_fails_the_execution_naming_the_check(
    team_root: Path, sandbox: Any, sandbox_token: str
) -> None:
    sandbox.set_faults(fail_routes=[FAILING_ROUTE])
    done = papermill(team_root, sandbox_token, "-p", "env", "local", env_extra={
        "RUNBOOK_OVERRIDES": f"target.base_url={sandbox.url}\nintegration=null"
    })  # fmt: skip
    assert done.returncode != 0
    assert "PhaseNotGo: phase verify is NO-GO" in done.stderr
    assert "smoke.list-notifications: fail" in done.stderr
    run_dir = only_run(team_root)
    assert str(run_dir) in done.stderr  # the error says where the evidence is
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["verdict"] == "NO-GO"
    assert any("smoke.list-notifications" in r for r in manifest["reasons"])
    assert runbook_verify(run_dir).returncode == 0  # the evidence of a NO-GO is kept intact


def test_fail_on_verdict_false_only_shows_the_verdict(
    team_root: Path, sandbox: Any, sandbox_token: str
) -> None:
    sandbox.set_faults(fail_routes=[FAILING_ROUTE])
    path = params_yaml(team_root, sandbox.url, fail_on_verdict=False)
    done = papermill(team_root, sandbox_token, "-f", str(path))
    assert done.returncode == 0, done.stderr[-4000:]
    manifest = json.loads((only_run(team_root) / "manifest.json").read_text())
    assert manifest["verdict"] == "NO-GO"
    out = json.loads((team_root / "out.ipynb").read_text())
    summary = next(c for c in out["cells"] if "ctx.summary(" in "".join(c["source"]))
    assert "NO-GO" in json.dumps(summary["outputs"])
    assert not any(o["output_type"] == "error" for o in summary["outputs"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-p", "env", "nope"], "unknown environment 'nope'"),
        (
            ["-p", "env", "local", "-y", "params: {target: {colour: red}}"],
            "override target.colour: unknown key 'target.colour'",
        ),
        (
            ["-p", "env", "local", "-y", "params: {target: {timeout_s: soon}}"],
            "target.timeout_s",
        ),
    ],
)
def test_invalid_input_is_refused_before_anything_runs(
    team_root: Path, sandbox_token: str, args: list[str], expected: str
) -> None:
    done = papermill(team_root, sandbox_token, *args)
    assert done.returncode != 0
    assert "InvalidInput: invalid input for phase verify" in done.stderr
    assert "nothing was executed" in done.stderr
    assert expected in done.stderr
    assert not (team_root / "outputs").exists()  # no run directory for a refused input


def test_a_cell_that_raises_still_leaves_a_finished_verifiable_run(
    team_root: Path, sandbox: Any, sandbox_token: str
) -> None:
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "ctx.summary(" in c.source)
    nb.cells.insert(at, nbformat.v4.new_code_cell('raise RuntimeError("schema unreadable")'))
    crashing = team_root / "04_verify_crashing.ipynb"
    nbformat.write(nb, crashing)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOK_")}
    env.update(RUNBOOK_ROOT=str(team_root), PIXCRAWLER_SANDBOX_TOKEN=sandbox_token)
    done = subprocess.run(
        [sys.executable, "-m", "papermill", str(crashing), str(team_root / "out.ipynb"),
         "-f", str(params_yaml(team_root, sandbox.url))],
        capture_output=True, text=True, env=env, cwd=team_root, timeout=PAPERMILL_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode != 0
    assert "RuntimeError: schema unreadable" in done.stderr
    run_dir = only_run(team_root)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    results = {r["id"]: r for r in manifest["results"]}
    assert results["runbook.verify.execution"]["status"] == "error"
    assert "RuntimeError: schema unreadable" in results["runbook.verify.execution"]["explanation"]
    assert results["smoke.health"]["status"] == "pass"  # what ran before is kept
    assert manifest["verdict"] == "NO-GO"
    assert runbook_verify(run_dir).returncode == 0
