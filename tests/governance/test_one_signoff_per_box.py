"""Every checklist box a person signs has exactly one sign-off item, and the post-deployment
tasks are real `governance.signoff` items: signed headlessly (parameters) or by the widget in the
post-deployment phase, never a second, unsignable twin."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from runbook.core.checklist.catalogue import CatalogueBox, load_catalogue
from runbook.core.checks import Status
from runbook.core.parameters import load
from runbook.governance.signoff import HEADLESS_ENV, SignOffParams, signoff_cell, signoff_phase
from runbook.orchestration.notebook import PhaseContext
from runbook.phases.post_deployment.baseline import PostDeploymentParams

HEADLESS = {"environment": "local"}


def signoff_ids_per_mapping(box: CatalogueBox) -> list[list[str]]:
    """The sign-off ids of the box's default mapping and of each environment's own mapping."""
    return [box.signoff, *(m.signoff for m in box.environments.values())]


def boxes_with_two_signoffs(boxes: list[CatalogueBox]) -> list[str]:
    return [box.id for box in boxes if any(len(ids) > 1 for ids in signoff_ids_per_mapping(box))]


def test_no_box_maps_to_two_signoff_items() -> None:
    assert boxes_with_two_signoffs(load_catalogue().boxes) == []


def test_a_box_with_a_twin_signoff_would_be_caught() -> None:
    twin = CatalogueBox(
        id="post-1/x",
        section="Post",
        text="x",
        signoff=["signoff.issues-documented", "post.signoff.document_issues"],
    )
    assert boxes_with_two_signoffs([twin]) == ["post-1/x"]


def test_every_signoff_item_signs_exactly_one_box() -> None:
    items = {i.check_id for i in SignOffParams().items}
    used: dict[str, list[str]] = {}
    for box in load_catalogue().boxes:
        for ref in box.all_signoffs():
            if ref in items:
                used.setdefault(ref, []).append(box.id)
    assert {k: v for k, v in used.items() if len(v) > 1} == {}
    post_boxes = [
        b for b in load_catalogue().boxes if b.section.startswith("Post-Deployment") and b.signoff
    ]
    assert len(post_boxes) == 12
    assert all(len(b.signoff) == 1 and b.signoff[0] in items for b in post_boxes)


def test_the_post_deployment_phase_no_longer_produces_unsignable_twins() -> None:
    with pytest.raises(ValidationError, match="retired"):
        PostDeploymentParams.model_validate({"signoffs": {}})


@pytest.fixture
def post_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PhaseContext:
    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    return PhaseContext("post-deployment", load("local").params, tmp_path)


def test_post_deployment_tasks_are_signed_headlessly(post_ctx: PhaseContext) -> None:
    settings = SignOffParams.model_validate(
        {
            "signed": {
                "lessons-learned": {
                    "by": "Ada",
                    "role": "development-team",
                    "note": "retro notes in the wiki",
                }
            }
        }
    )
    cells = signoff_phase(post_ctx, HEADLESS, settings)
    assert len(cells) == 12 and all(c.widget is None for c in cells)
    signed = post_ctx.results["signoff.lessons-learned"]
    assert signed.status is Status.PASS and signed.observed["source"] == "parameters"
    pending = [r for r in post_ctx.results.values() if r.status is Status.PENDING_SIGN_OFF]
    assert len(pending) == 11
    assert "post.signoff.share_lessons" not in post_ctx.results


def test_a_post_deployment_task_is_signed_by_the_widget(post_ctx: PhaseContext) -> None:
    cell = signoff_cell(post_ctx, "success-notified", None, SignOffParams())
    assert cell.widget is not None
    assert post_ctx.results["signoff.success-notified"].status is Status.PENDING_SIGN_OFF
    cell.widget.who.value = "Grace"
    cell.widget.button.click()
    result = post_ctx.results["signoff.success-notified"]
    assert result.status is Status.PASS and result.observed["source"] == "widget"
    assert result.phase == "post-deployment"
