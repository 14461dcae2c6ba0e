"""`azure-pipelines.yml` and its templates (`ci/azure/`) held to a strict model of the schema
(see azure_pipeline_model for why not Microsoft's own), which refuses a broken copy; staging per
release candidate with a matrix, production as a deployment job on an approval-gated
environment with its approver recorded, evidence and summaries even on failure; and what it
passes to the runbook validates against the shipped parameter files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure_pipeline_model import Deployment, Job, Pipeline, StepsTemplate, TemplateStep, parse_step
from pydantic import ValidationError

from runbook.core.parameters import load

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "azure-pipelines.yml"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.model_validate(_load(PIPELINE))


def _all_steps(pipeline: Pipeline) -> list[tuple[str, dict[str, Any]]]:
    """(job, raw step) of every job, templates expanded once."""
    out = []
    for stage in pipeline.stages:
        for job in stage.jobs:
            steps = job.steps if isinstance(job, Job) else job.strategy.runOnce.deploy.steps
            name = job.job if isinstance(job, Job) else job.deployment
            for step in steps:
                if "template" in step:
                    out += [(name, s) for s in _load(ROOT / step["template"])["steps"]]
                else:
                    out.append((name, step))
    return out


def test_the_pipeline_and_its_templates_fit_the_schema(pipeline: Pipeline) -> None:
    templates = {step["template"] for _, step in _raw_steps(pipeline) if "template" in step}
    assert templates == {"ci/azure/setup.yml", "ci/azure/evidence.yml"}
    for template in templates:
        StepsTemplate.model_validate(_load(ROOT / template))
    for _, step in _all_steps(pipeline):
        parse_step(step)


def _raw_steps(pipeline: Pipeline) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for stage in pipeline.stages:
        for job in stage.jobs:
            steps = job.steps if isinstance(job, Job) else job.strategy.runOnce.deploy.steps
            out += [("", s) for s in steps]
    return out


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: d["stages"][1].update(dependsOn="stagin"), "unknown stage stagin"),
        (lambda d: d["stages"][0]["jobs"][0].update(runsOn="ubuntu"), "runsOn"),
        (
            lambda d: d["stages"][0]["jobs"][1]["steps"][1]["inputs"].update(targetPth="x"),
            "unknown ['targetPth']",
        ),
        (lambda d: d["stages"][1]["jobs"][0].pop("environment"), "environment"),
        (lambda d: d["stages"][0]["jobs"][0]["steps"].append({"bsh": "echo"}), "exactly one of"),
    ],
)
def test_a_broken_copy_is_refused(breakage: Any, message: str) -> None:
    data = _load(PIPELINE)
    breakage(data)
    with pytest.raises((ValidationError, ValueError), match=re.escape(message)):
        Pipeline.model_validate(data)


def test_staging_per_release_candidate_with_a_matrix(pipeline: Pipeline) -> None:
    assert pipeline.trigger is not None and not isinstance(pipeline.trigger, (str, list))
    assert pipeline.trigger.tags is not None and pipeline.trigger.tags.include == ["v*-rc*"]
    staging = pipeline.stages[0]
    runbook, fleet = staging.jobs
    assert isinstance(runbook, Job) and runbook.strategy is not None
    assert runbook.strategy.matrix == {"staging": {"RUNBOOK_ENV": "staging"}}
    assert isinstance(fleet, Job) and fleet.dependsOn == "runbook" and fleet.condition == "always()"
    assert any("##vso[task.uploadsummary]" in (s.get("bash") or "") for s in fleet.steps)


def test_production_is_a_deployment_on_a_gated_environment(pipeline: Pipeline) -> None:
    production = pipeline.stages[1]
    assert production.dependsOn == "staging" and production.condition == "succeeded()"
    (job,) = production.jobs
    assert isinstance(job, Deployment) and job.environment == "pixcrawler-production"
    bash = [s.get("bash") or "" for s in job.strategy.runOnce.deploy.steps]
    assert any("_apis/pipelines/approvals" in b and "approver.py" in b for b in bash)
    assert any("task.setvariable variable=RUNBOOK_CI_APPROVER" in b for b in bash)
    assert any('--by "$RUNBOOK_CI_APPROVER"' in b for b in bash)


def test_evidence_and_summary_survive_a_failed_verdict(pipeline: Pipeline) -> None:
    evidence = _load(ROOT / "ci" / "azure" / "evidence.yml")["steps"]
    assert [s["condition"] for s in evidence] == ["always()", "always()"]
    assert "##vso[task.uploadsummary]" in evidence[0]["bash"]
    assert evidence[1]["task"] == "PublishPipelineArtifact@1"
    for job, step in _all_steps(pipeline):
        if "runbook run --env" in (step.get("bash") or ""):
            assert "continueOnError" not in step, job  # the verdict is the job's result
    users = [s for _, s in _raw_steps(pipeline) if s.get("template") == "ci/azure/evidence.yml"]
    assert len(users) == 2 and isinstance(TemplateStep.model_validate(users[0]), TemplateStep)


def test_the_approver_is_read_from_the_approvals_api() -> None:
    import subprocess
    import sys

    data = {
        "value": [
            {"status": "approved", "pipeline": {"owner": {"id": 41}},
             "steps": [{"status": "approved", "actualApprover": {"uniqueName": "old@x"}}]},
            {"status": "pending", "pipeline": {"owner": {"id": 42}}, "steps": []},
            {"status": "approved", "pipeline": {"owner": {"id": 42}},
             "steps": [{"status": "approved", "actualApprover": {"uniqueName": "lead@x"}}]},
        ]
    }  # fmt: skip

    def who(build: str) -> str:
        done = subprocess.run(
            [sys.executable, str(ROOT / "ci" / "azure" / "approver.py"), build],
            input=json.dumps(data), capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    assert who("42") == "lead@x"
    assert who("43") == ""  # no approval of this run: the step fails (fail closed)


def test_what_it_passes_validates_with_the_shipped_parameters() -> None:
    variables = {v["name"]: v["value"] for v in _load(PIPELINE)["variables"] if "name" in v}
    fill = lambda text: re.sub(r"\$\([^)]*\)", "x", text)  # noqa: E731
    common = ['build_id="abc123"', "deploy.package.path=backend.zip", fill(variables["NOTIFY"])]
    assert load("staging", common, ROOT).params.notify is not None
    production = load("production", [*common, fill(variables["SIGNOFF"])], ROOT).params
    assert production.signoff is not None and production.signoff.ci is not None
    assert production.signoff.ci.system == "azure-pipelines"
