"""Issue 13's walk in a real browser: `runbook lab` (as whoever runs the tests, root in CI),
JupyterLab in the system's headless Chromium driven by Playwright: open 03_deploy of the lab
run, Run All (it stops at the guard: a required sign-off is missing), sign with the widgets,
run the guard and everything below again (GO, no stale error), save, `runbook finish`,
`runbook verify`; the templates stay untouched and stopping the lab leaves no process."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from lab_support import ROOT, processes_in_session, start_lab, started_by, still_running

from runbook.core.checks import CHECK_MIME

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BOUND_MS = 240_000  # kernels, the deploy and the stand-ins on a busy 2-core machine

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no system Chromium (/usr/bin/chromium); .ci/run installs it"
)


def _cell_statuses(path: Path) -> dict[str, str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return {
        o["data"][CHECK_MIME]["id"]: o["data"][CHECK_MIME]["status"]
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if CHECK_MIME in o.get("data", {})
    }


def _accept_kernel(page: Any) -> None:
    """JupyterLab asks once which kernel to start for a notebook it has not seen (the
    notebook's own is preselected): accept it; and decline fetching news (no internet)."""
    dialog = page.locator(".jp-Dialog").filter(has_text="Select Kernel")
    try:
        dialog.get_by_role("button", name="Select", exact=True).click(timeout=60_000)
    except Exception:  # noqa: BLE001 - no dialog: the kernel starts by itself
        pass
    news = page.get_by_role("button", name="No", exact=True)
    if news.count() and news.first.is_visible():
        news.first.click()


def _runbook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
    )  # fmt: skip


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--", "runbooks"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout  # fmt: skip


def test_sign_in_the_browser_deploy_finish_and_verify(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=BOUND_MS)
    before = _git_status()
    mark = uuid.uuid4().hex
    lab = start_lab(
        tmp_path / "outputs",
        "--phase",
        "deploy",
        "--param",
        "signoff.signed={}",
        env={"RUNBOOK_LAB_TEST_MARK": mark},
    )
    try:
        assert lab.run_dir is not None
        notebook = lab.run_dir / "notebooks" / "03_deploy.ipynb"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.set_default_timeout(BOUND_MS)
            page.goto(f"{lab.base_url}/lab/tree/notebooks/03_deploy.ipynb?token={lab.token}")
            expect(page.locator(".jp-Notebook")).to_be_visible()
            _accept_kernel(page)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            # the guard stops Run All: a required sign-off is missing
            expect(page.get_by_text("SignOffPending").first).to_be_visible()
            signs = page.get_by_role("button", name="Sign", exact=True)
            expect(signs).to_have_count(3)
            who = page.get_by_placeholder("your name")
            signs.first.click()  # nobody named: refused
            expect(page.get_by_text("Enter who signs before signing.")).to_be_visible()
            for i in range(3):
                who.nth(i).fill("Ada Lovelace")
                signs.nth(i).click()
            expect(page.get_by_text("Signed:", exact=False)).to_have_count(3)
            records = sorted(p.name for p in (lab.run_dir / "signoffs").glob("*.json"))
            assert records == ["deployment-window.json", "rollback-plan.json", "team-notified.json"]
            # the guard, then everything below it, again
            guard = (
                page.locator(".jp-CodeCell")
                .filter(has=page.locator(".jp-InputArea", has_text="api.stop_if_pending(ctx)"))
                .first
            )
            guard.locator(".jp-InputPrompt").click()
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run Selected Cell and All Below").click()
            expect(page.get_by_role("heading", name="Phase deploy: GO")).to_be_visible()
            expect(page.get_by_text("SignOffPending")).to_have_count(0)
            page.keyboard.press("Control+s")
            deadline = time.monotonic() + BOUND_MS / 1000
            while time.monotonic() < deadline:
                statuses = _cell_statuses(notebook)
                if statuses.get("signoff.team-notified") == "pass" and "deploy.health" in str(
                    statuses
                ):
                    break
                time.sleep(0.5)
            browser.close()
        statuses = _cell_statuses(notebook)
        assert {k: v for k, v in statuses.items() if k.startswith("signoff.")} == {
            "signoff.team-notified": "pass",
            "signoff.deployment-window": "pass",
            "signoff.rollback-plan": "pass",
        }
        finished = _runbook("finish", str(lab.run_dir))
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert finished.stdout.strip().startswith("GO:")
        manifest = json.loads((lab.run_dir / "manifest.json").read_text())
        assert manifest["mode"] == "interactive" and manifest["verdict"] == "GO"
        assert manifest["signoffs"]["signoff.team-notified"]["source"] == "widget"
        assert manifest["signoffs"]["signoff.team-notified"]["by"] == "Ada Lovelace"
        verified = _runbook("verify", str(lab.run_dir))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        running = started_by(lab, mark)
    finally:
        code = lab.stop(signal.SIGINT)
    assert code == 0, lab.output()[-3000:]
    assert processes_in_session(lab.proc.pid) == []
    assert still_running(running) == []
    assert _git_status() == before
