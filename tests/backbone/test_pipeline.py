"""A run as a pipeline: prepare is pure (it validates everything and starts nothing), the
environment stage starts only what the plan asks for and stops all of it, and every stage's
output is what the next one takes."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from runbook.core.evidence import sha256_file
from runbook.core.parameters import ParameterError
from runbook.governance.signoff import HEADLESS_ENV
from runbook.orchestration.pipeline import (
    RunRequest,
    enter_environment,
    parameters_sha256,
    prepare,
    run_record,
)

ROOT = Path(__file__).resolve().parents[2]


def _children() -> set[int]:
    """PIDs of this process's children (from /proc)."""
    mine, out = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == mine:
                out.add(int(entry.name))
    return out


def test_prepare_validates_and_starts_nothing(tmp_path: Path) -> None:
    environ, children = dict(os.environ), _children()
    plan = prepare(RunRequest(env="local", root=ROOT, outputs=tmp_path / "outputs"))
    assert [p.name for p in plan.selected][:2] == ["pre-deployment", "environment"]
    assert plan.local is not None  # local.yaml rehearses: the rehearsal will start services
    assert {"azure", "workers", "database"} <= plan.uses
    assert dict(os.environ) == environ
    assert _children() == children
    assert not (tmp_path / "outputs").exists()


def test_prepare_names_every_problem_at_once(tmp_path: Path) -> None:
    with pytest.raises(ParameterError) as raised:
        prepare(
            RunRequest(
                env="local",
                root=ROOT,
                outputs=tmp_path,
                overrides=[
                    "rehearsal.sample_target.defects=[melted-server]",
                    "pre_deployment=null",
                ],
            )
        )
    text = "\n".join(raised.value.problems)
    assert "melted-server" in text
    assert "needs the key 'pre_deployment'" in text


def test_a_real_environment_has_no_local_services(tmp_path: Path) -> None:
    plan = prepare(RunRequest(env="staging", root=ROOT, outputs=tmp_path, dry_run=True))
    assert plan.local is None


def test_the_environment_stage_starts_the_plan_and_close_stops_it(tmp_path: Path) -> None:
    plan = prepare(RunRequest(env="local", root=ROOT, outputs=tmp_path, phases=["verify"]))
    before = plan.loaded.params.target.base_url
    headless = os.environ.get(HEADLESS_ENV)
    environment = enter_environment(plan, lambda line: None)
    try:
        url = environment.params.target.base_url
        assert url != before  # re-pointed at the sandbox the rehearsal started
        assert httpx.get(f"{url}/health", timeout=30).status_code == 200
        assert os.environ.get(HEADLESS_ENV) == "1"
        assert environment.services is not None and environment.services.started
    finally:
        environment.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=5)
    assert os.environ.get(HEADLESS_ENV) == headless


def test_the_run_record_holds_what_a_resume_compares(tmp_path: Path) -> None:
    plan = prepare(RunRequest(env="local", root=ROOT, outputs=tmp_path, phases=["verify"]))
    record = run_record(plan, "run-1", "2026-12-06T16:00:00.000+00:00")
    assert record["request"]["phases"] == ["verify"]
    assert record["request"]["overrides"] == []
    assert record["parameters_sha256"] == parameters_sha256(plan.loaded.params)
    assert record["runbook"]["notebooks"] == {
        "verify": sha256_file(ROOT / "runbooks/04_verify.ipynb")
    }
    assert record["parameters"]["target"]["token"] == {"env": "PIXCRAWLER_SANDBOX_TOKEN"}
    changed = prepare(
        RunRequest(env="local", root=ROOT, outputs=tmp_path, phases=["verify"],
                   overrides=["performance.duration_s=3"])
    )  # fmt: skip
    assert parameters_sha256(changed.loaded.params) != record["parameters_sha256"]
    assert not tmp_path.joinpath("local").exists()  # making the record writes nothing
