"""On a real local run: the manifest's checklist section, the report's checklist view (after the
verdict, before the checks, linked to the evidence cells) and rejudge recomputing it."""

from __future__ import annotations

import re
from pathlib import Path

from runbook.core.checklist import load_catalogue
from runbook.core.checklist.view import BoxState, ChecklistView


def test_the_local_run_is_go_and_records_every_box(local_run) -> None:
    assert local_run.manifest["verdict"] == "GO", local_run.stderr[-2000:]
    section = local_run.manifest["checklist"]
    assert [b["id"] for b in section["boxes"]] == [b.id for b in load_catalogue().boxes]
    assert section["total"] == 193 == sum(section["counts"].values())
    view = ChecklistView.from_manifest(section)
    assert view.counts == section["counts"]
    states = {b.id: b.state for b in view.boxes}
    assert states["steps-1.2/health-endpoint-responds-get-health"] is BoxState.PROVED
    assert states["steps-3.1/team-notified-of-deployment"] is BoxState.SIGNED
    assert states["steps-3.5/week-2-normal-monitoring"] is BoxState.PROVED  # planned + alerts
    # the rehearsal's PostgreSQL (the sandbox's store) is read by the database checks
    assert states["monitoring-2/slow-query-log"] is BoxState.PROVED
    assert states["monitoring-2/connection-pool-usage"] is BoxState.PROVED
    assert states["post-1/update-deployment-documentation"] is BoxState.PENDING
    assert states["rollback-1/rollback-initiated"] is BoxState.NOT_APPLICABLE
    assert section["counts"]["failed"] == 0
    signed = next(b for b in view.boxes if b.id == "steps-3.1/team-notified-of-deployment")
    assert signed.signed_by == ["rehearsal (tech-lead)"]


def test_report_opens_with_the_verdict_then_the_checklist_linked_to_cells(local_run) -> None:
    page = (local_run.run_dir / "report.html").read_text(encoding="utf-8")
    verdict, checklist, checks = (
        page.index('class="verdict"'),
        page.index("<h2>Checklist"),
        page.index("<h2>Checks"),
    )
    assert verdict < checklist < checks
    assert local_run.manifest["checklist"]["coverage"] in page
    row = re.search(r"<tr id='box-steps-2.4/api-response-times-lt-200ms-p95'>.*?</tr>", page)
    assert row and "proved" in row.group(0)
    links = re.findall(
        r"href='(notebooks/05_performance\.html)#(check-perf\.p95\.[^']+)'", row.group(0)
    )
    assert links
    rendered = (local_run.run_dir / links[0][0]).read_text(encoding="utf-8")
    for _, anchor in links:
        assert f'id="{anchor}"' in rendered.replace("&#x27;", "'")


def test_rejudge_recomputes_the_checklist_view(local_run) -> None:
    from runbook.governance.rejudge import rejudge

    report = rejudge(Path(local_run.run_dir), ["performance.gates.p95_ms=0.001"])
    changed = {c["id"]: (c["old"], c["new"]) for c in report.checklist["changed"]}
    assert changed["steps-2.4/api-response-times-lt-200ms-p95"] == ("proved", "failed")
    assert report.checklist["old_counts"] == local_run.manifest["checklist"]["counts"]
    assert report.checklist["new_counts"]["failed"] > 0
    assert any(line.startswith("checklist box steps-2.4/") for line in report.lines())
