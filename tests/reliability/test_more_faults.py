"""More faults injected into real `runbook run`s (issue #7): connection resets by the target,
ARM answering 503 + Retry-After inside and beyond the retry budget, Monitor metrics with no
data points, and the disk filling up while a run writes its evidence.

Every run is a real subprocess (CLI, papermill, kernel, sandbox, Azure stand-in). As in
test_faults.py, a module fixture starts the independent runs at once and each test waits for
its own. The disk is "full" by a real operating-system limit, without root: the run is started
with RLIMIT_FSIZE (SIGXFSZ ignored), so a write past that size fails with EFBIG ("File too
large") in the run and every process it starts, exactly where a full disk would fail it.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from launched_runs import NO_INTEGRATION, ROOT, Launched, launch

from runbook.cli import main
from runbook.core import evidence
from runbook.governance.chain import verify_chain

THROTTLE = "rehearsal.azure_standin.faults.throttle"
RESET_ROUTE = "GET /api/v1/auth/me"  # smoke.auth-required and smoke.auth-me use it
# The verify notebook is ~120 kB once executed and ~440 kB rendered to HTML; the manifest,
# report and chain line are far smaller. So 64 kB stops papermill saving the notebook, and
# 256 kB lets the notebook through but stops its HTML rendering.
NOTEBOOK_LIMIT = 64 * 1024
RENDERING_LIMIT = 256 * 1024


def _file_size_limit(limit: int) -> Callable[[], None]:
    """A preexec_fn: files of the child (and its children) cannot grow past `limit` bytes;
    a write past it fails with EFBIG instead of killing the process (SIGXFSZ ignored)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _stop(launched: dict[str, Launched]) -> None:
    for run in launched.values():
        if run.proc.poll() is None:
            run.proc.kill()
        run.proc.communicate()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[dict[str, Launched]]:
    tmp = tmp_path_factory.mktemp("more-faults")
    launched = {
        "reset-route": launch(
            tmp / "reset-route",
            "--phase",
            "verify",
            *NO_INTEGRATION,
            "--param",
            f'rehearsal.sandbox.faults.reset_routes=["{RESET_ROUTE}"]',
        ),
        "reset-share": launch(
            tmp / "reset-share",
            "--phase",
            "verify",
            *NO_INTEGRATION,
            "--param",
            "rehearsal.sandbox.faults.reset_rate=0.5",
            "--param",
            "rehearsal.sandbox.seed=7",
        ),
        "503": launch(
            tmp / "503",
            "--phase",
            "environment",
            "--param",
            f"{THROTTLE}.status=503",
            "--param",
            f"{THROTTLE}.count=1",
            "--param",
            f"{THROTTLE}.retry_after=1",
        ),
        "503-out": launch(
            tmp / "503-out",
            "--phase",
            "environment",
            "--param",
            f"{THROTTLE}.status=503",
            "--param",
            f"{THROTTLE}.count=50",
            "--param",
            f"{THROTTLE}.retry_after=0",
        ),
        "no-data": launch(
            tmp / "no-data",
            "--phase",
            "monitor",
            "--param",
            "rehearsal.azure_standin.monitor.faults.metrics_empty=true",
        ),
        "earlier": launch(tmp / "disk", "--phase", "verify", *NO_INTEGRATION),
    }
    try:
        yield launched
    finally:
        _stop(launched)


@pytest.fixture(scope="module")
def disk_full(runs: dict[str, Launched], tmp_path_factory) -> Iterator[dict[str, Launched]]:
    """Two runs into the outputs folder of an earlier, finished run, with the disk "full" at
    two points: while papermill saves the notebook, and while the notebook is rendered."""
    earlier = runs["earlier"]
    rc, _, err = earlier.finish()
    assert rc == 0, err
    ipython = tmp_path_factory.mktemp("ipython")  # the kernels' history, not the user's
    env = {"IPYTHONDIR": str(ipython)}
    launched = {
        name: launch(
            earlier.outputs,
            "--phase",
            "verify",
            *NO_INTEGRATION,
            extra_env=env,
            preexec=_file_size_limit(limit),
        )
        for name, limit in (("notebook", NOTEBOOK_LIMIT), ("rendering", RENDERING_LIMIT))
    }
    try:
        yield launched
    finally:
        _stop(launched)


def _verifies(run_dir: Path) -> bool:
    return main(["verify", str(run_dir)]) == 0


def _smoke_errors(results: dict[str, dict]) -> dict[str, dict]:
    return {
        i: r
        for i, r in results.items()
        if i.startswith("smoke.") and r["status"] in {"error", "fail"}
    }


# -- connection resets ---------------------------------------------------------------------
def test_a_route_whose_connection_is_reset_is_no_go_naming_the_reset(runs) -> None:
    run = runs["reset-route"]
    rc, out, err = run.finish()
    assert rc == 1, err
    assert out.strip().splitlines()[-1].startswith("NO-GO: ")
    assert "Traceback" not in err
    failing = _smoke_errors(run.results)
    assert set(failing) == {"smoke.auth-required", "smoke.auth-me"}, failing.keys()
    for result in failing.values():
        assert result["status"] == "error"  # no answer at all: never a pass, not a status
        # the RST reaches the client as ECONNRESET, or as the connection closing before any
        # answer when it lands between two requests of a kept-alive connection
        assert "no HTTP answer" in result["explanation"], result["explanation"]
        assert "Traceback" not in result["explanation"]
        assert result["observed"]["status"] is None
    assert run.results["smoke.health"]["status"] == "pass"  # other routes still answer
    requests = json.loads((run.run_dir / "evidence/sandbox/requests.json").read_text())
    reset = [r for r in requests if "reset_routes" in r["faults"]]
    assert reset and all(r["status"] == 0 and r["path"] == "/api/v1/auth/me" for r in reset)
    assert _verifies(run.run_dir)


def test_a_share_of_connections_reset_is_no_go_and_every_reset_is_named(runs) -> None:
    run = runs["reset-share"]
    rc, _, err = run.finish()
    assert rc == 1, err
    assert run.manifest["verdict"] == "NO-GO"
    assert "Traceback" not in err
    requests = json.loads((run.run_dir / "evidence/sandbox/requests.json").read_text())
    reset = [r for r in requests if "reset_rate" in r["faults"]]
    answered = [r for r in requests if not r["faults"]]
    assert reset and answered  # a share, not all or nothing
    errors = {i: r for i, r in _smoke_errors(run.results).items() if r["status"] == "error"}
    sent = {i: r for i, r in errors.items() if r["evidence"]["exchange"] is not None}
    assert sent, errors
    for result in sent.values():  # its own request was reset (ECONNRESET or closed unanswered)
        assert "no HTTP answer" in result["explanation"], result["explanation"]
    for i in errors.keys() - sent.keys():  # a later step missing what a reset step captured
        assert "not sent" in errors[i]["explanation"], errors[i]["explanation"]
    assert _verifies(run.run_dir)


# -- ARM 503 + Retry-After -------------------------------------------------------------------
def _app_settings(run: Launched) -> dict[str, dict]:
    found = {i: r for i, r in run.results.items() if i.startswith("azure.appsettings")}
    assert found, run.results.keys()
    return found


def test_a_503_with_retry_after_inside_the_retry_budget_still_goes(runs) -> None:
    run = runs["503"]
    rc, _, err = run.finish()
    assert rc == 0, err
    assert run.manifest["verdict"] == "GO"
    assert all(r["status"] == "pass" for r in _app_settings(run).values())
    assert _verifies(run.run_dir)


def test_503_throttling_beyond_the_retry_budget_fails_cleanly_naming_503(runs) -> None:
    run = runs["503-out"]
    rc, _, err = run.finish()
    assert rc == 1, err
    assert run.manifest["verdict"] == "NO-GO"
    for result in _app_settings(run).values():
        assert result["status"] == "error"
        assert "503" in result["explanation"], result["explanation"]
        assert "after retries" in result["explanation"], result["explanation"]
    assert _verifies(run.run_dir)


# -- metrics with no data --------------------------------------------------------------------
def test_metrics_with_no_data_points_are_incomplete_never_a_pass(runs) -> None:
    run = runs["no-data"]
    rc, out, err = run.finish()
    assert rc == 1, err
    assert out.strip().splitlines()[-1].startswith("INCOMPLETE: ")
    assert run.manifest["verdict"] == "INCOMPLETE"
    metrics = {i: r for i, r in run.results.items() if i.startswith("monitor.metrics.")}
    assert "monitor.metrics.error-rate" in metrics and len(metrics) >= 4
    for result in metrics.values():
        assert result["status"] == "inconclusive", (result["id"], result["status"])
        assert "no " in result["explanation"] and "data" in result["explanation"], result[
            "explanation"
        ]
    assert _verifies(run.run_dir)


# -- disk full while writing evidence --------------------------------------------------------
def _assert_stopped_cleanly(run: Launched, written: str) -> None:
    """Non-zero, no verdict line, one line naming the file and the OS error, no traceback, the
    run left unfinished, and every earlier run of the outputs folder still verifying."""
    rc, out, err = run.finish()
    assert rc == 1, err
    assert out.strip() == "", out  # no "GO: ..." (nor any verdict line): there is no verdict
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: could not write evidence "), err
    assert f"/notebooks/{written}: File too large" in last, last
    unfinished = Path(last.removeprefix("error: could not write evidence ").split(": ")[0])
    run_dir = unfinished.parents[1]
    assert run_dir.parent == run.outputs / "local"
    assert not (run_dir / "manifest.json").exists()
    assert not list(run_dir.rglob("*.tmp"))
    chain = verify_chain(run.outputs / "local")
    assert chain.ok, chain.lines()
    assert run_dir.name in chain.unfinished
    assert main(["verify", "--chain", "local", "--outputs", str(run.outputs)]) == 0


def test_disk_full_while_the_notebook_is_saved_stops_the_run_cleanly(runs, disk_full) -> None:
    _assert_stopped_cleanly(disk_full["notebook"], "04_verify.ipynb")
    earlier = runs["earlier"]
    assert _verifies(earlier.run_dir)
    assert [e["run_id"] for e in evidence.read_chain(earlier.outputs / "local")] == [
        earlier.manifest["run_id"]
    ]


def test_disk_full_while_the_notebook_is_rendered_stops_the_run_cleanly(runs, disk_full) -> None:
    _assert_stopped_cleanly(disk_full["rendering"], "04_verify.html")
    assert _verifies(runs["earlier"].run_dir)


_WRITE_MANIFEST = """
import json, sys
from pathlib import Path
from runbook.core import evidence as ev
run_dir = Path(sys.argv[1])
try:
    ev.write_manifest(run_dir, {"run_id": run_dir.name, "verdict": "GO", "results": []})
except ev.EvidenceWriteError as exc:
    print(json.dumps({"error": exc.describe()}))
else:
    print(json.dumps({"error": None}))
"""


def _finished_runs(env_dir: Path, count: int) -> None:
    for _ in range(count):
        _, run_dir = evidence.new_run_dir(env_dir)
        (run_dir / "report.html").write_text("<p>ok</p>")
        evidence.write_manifest(run_dir, {"run_id": run_dir.name, "verdict": "GO"})


def _write_manifest_limited(run_dir: Path, limit: int) -> str | None:
    """write_manifest in a child whose files cannot grow past `limit`; its error, if any."""
    proc = subprocess.run(
        [sys.executable, "-c", _WRITE_MANIFEST, str(run_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        preexec_fn=_file_size_limit(limit),
        check=False,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)["error"]


def test_a_manifest_that_does_not_fit_leaves_no_manifest_and_an_intact_chain(
    tmp_path: Path,
) -> None:
    env_dir = tmp_path / "local"
    _finished_runs(env_dir, 2)
    chain_before = (env_dir / "chain.jsonl").read_bytes()
    _, run_dir = evidence.new_run_dir(env_dir)
    (run_dir / "report.html").write_text("<p>partial</p>")
    error = _write_manifest_limited(run_dir, 200)  # any manifest is larger
    assert error == f"could not write evidence {run_dir / 'manifest.json'}: File too large"
    assert sorted(p.name for p in run_dir.iterdir()) == ["report.html"]  # no temporary file
    assert (env_dir / "chain.jsonl").read_bytes() == chain_before
    report = verify_chain(env_dir)
    assert report.ok and report.unfinished == [run_dir.name], report.lines()


def test_a_chain_line_cut_short_by_a_full_disk_is_taken_back_with_its_manifest(
    tmp_path: Path,
) -> None:
    env_dir = tmp_path / "local"
    _finished_runs(env_dir, 12)  # the chain is now larger than one manifest
    chain_before = (env_dir / "chain.jsonl").read_bytes()
    _, run_dir = evidence.new_run_dir(env_dir)
    (run_dir / "report.html").write_text("<p>ok</p>")
    # room for the manifest and for 40 bytes of the chain line: a short write, then EFBIG
    error = _write_manifest_limited(run_dir, len(chain_before) + 40)
    assert error == f"could not write evidence {env_dir / 'chain.jsonl'}: File too large"
    assert (env_dir / "chain.jsonl").read_bytes() == chain_before  # no half line
    assert not (run_dir / "manifest.json").exists()  # taken back: not a run off the chain
    report = verify_chain(env_dir)
    assert report.ok and report.runs == 12 and report.unfinished == [run_dir.name], report.lines()
    for earlier in (p for p in env_dir.iterdir() if p.is_dir() and p != run_dir):
        assert evidence.verify(earlier).ok
