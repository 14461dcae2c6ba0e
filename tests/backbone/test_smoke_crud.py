"""'CRUD operations work for all resources': the shared smoke steps create, read, update
(PATCH) and delete projects, datasets and crawl jobs against the real sandbox, each step judged
on what the sandbox really stored; a broken update fails its own step."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from runbook.core import parameters as P
from runbook.core.checklist.catalogue import load_catalogue
from runbook.core.checks import Status
from runbook.phases.verify.smoke import SmokeParams, SmokeSession

RESOURCES = ("project", "dataset", "job")
VERBS = ("create", "read", "update", "delete")


@pytest.fixture()
def session(repo_root: Path, live_sandbox, sandbox_token: str, monkeypatch):
    monkeypatch.setenv("PIXCRAWLER_SANDBOX_TOKEN", sandbox_token)
    live_sandbox.set_faults(fail_routes=[], down=False, latency_ms=0)
    loaded = P.load("local", [f"target.base_url={live_sandbox.url}"], root=repo_root)
    s = SmokeSession(loaded.params.verify, loaded.params.target)
    yield s
    live_sandbox.set_faults(fail_routes=[])
    s.close()


def _get(base: str, path: str) -> httpx.Response:
    token = os.environ["PIXCRAWLER_SANDBOX_TOKEN"]
    return httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_the_box_maps_to_a_create_read_update_delete_step_per_resource(repo_root: Path) -> None:
    box = load_catalogue().box("steps-2.2/crud-operations-work-for-all-resources")
    wanted = {f"smoke.{verb}-{res}" for res in RESOURCES for verb in VERBS}
    assert wanted <= set(box.checks) and box.unproved is None
    steps = P.load("local", root=repo_root).params.verify
    assert isinstance(steps, SmokeParams) and steps.unknown_ids(sorted(wanted)) == []
    methods = {s.id: s.method for s in steps.steps}
    assert {methods[f"smoke.update-{r}"] for r in RESOURCES} == {"PATCH"}


def test_each_resource_is_created_read_updated_and_deleted(session, live_sandbox) -> None:
    base = live_sandbox.url
    for step in (
        "smoke.create-project",
        "smoke.create-dataset",
        "smoke.create-job",
        "smoke.read-project",
        "smoke.read-dataset",
        "smoke.read-job",
    ):
        assert session.step(step).status is Status.PASS, session.outcomes[step].explanation
    for res, route in (("project", "projects"), ("dataset", "datasets"), ("job", "jobs")):
        assert session.step(f"smoke.update-{res}").status is Status.PASS
        stored = _get(base, f"/api/v1/{route}/{session.captures[f'{res}_id']}").json()
        changed = "name" if res == "job" else "description"
        assert stored[changed] == {"job": "runbook-smoke-job-renamed"}.get(
            res, "updated by the deployment runbook"
        )
    for res, route in (("job", "jobs"), ("dataset", "datasets"), ("project", "projects")):
        assert session.step(f"smoke.delete-{res}").status is Status.PASS
        assert _get(base, f"/api/v1/{route}/{session.captures[f'{res}_id']}").status_code == 404
    assert session.cleanup().status is Status.PASS  # the safety net finds them gone (404)


def test_a_failing_update_fails_its_step_only(session, live_sandbox) -> None:
    for step in ("smoke.create-project", "smoke.create-dataset"):
        assert session.step(step).status is Status.PASS
    live_sandbox.set_faults(fail_routes=["PATCH /api/v1/datasets/{dataset_id}"])
    update = session.step("smoke.update-dataset")
    assert update.status is Status.FAIL and "answered 500" in update.explanation
    assert session.step("smoke.update-project").status is Status.PASS
    live_sandbox.set_faults(fail_routes=[])
    session.cleanup()


def test_a_read_that_returns_another_resource_fails(session, live_sandbox) -> None:
    assert session.step("smoke.create-project").status is Status.PASS
    mine, other = session.captures["project_id"], _post_project(live_sandbox.url)
    steps = session.params.steps
    i = next(i for i, s in enumerate(steps) if s.id == "smoke.read-project")
    assert steps[i].expect_json["id"] == "{project_id}"  # compared with the captured id
    steps[i] = steps[i].model_copy(update={"path": f"/api/v1/projects/{other}"})
    result = session.step("smoke.read-project")
    assert result.status is Status.FAIL
    assert f"'id' is {other}, expected {mine}" in result.explanation
    session.cleanup()


def _post_project(base: str) -> int:
    token = os.environ["PIXCRAWLER_SANDBOX_TOKEN"]
    r = httpx.post(
        base + "/api/v1/projects/",
        json={"name": "other"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 201
    return int(r.json()["id"])
