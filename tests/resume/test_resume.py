"""`runbook resume` for real: a whole local run killed (SIGKILL to its process group) while the
monitor phase executes, then resumed from its run directory: a verdict, the five earlier phases
reused byte for byte and not executed again, the evidence verifying and chained; a parameters
change refused, and what `--force` goes ahead with recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.core import evidence as ev
from runbook.orchestration.phase_plan import BY_NAME
from runbook.orchestration.resume import (
    ResumeRefused,
    incomplete_reason,
    plan_resume,
    read_stopped,
)
from waiting import wait_for

TOKEN = "tok-" + os.urandom(9).hex()
EARLIER = ["pre-deployment", "environment", "deploy", "verify", "performance"]
LATER = ["monitor", "rollback", "post-deployment", "success-criteria"]
# a whole local run takes minutes on a busy 2-core machine: generous readiness bounds
RUN_BOUND_S = 1500.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PIXCRAWLER_SANDBOX_TOKEN"}}
    env["PIXCRAWLER_SANDBOX_TOKEN"] = TOKEN
    return env


def runbook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
        env=_env(),
    )


def run_dir_of(proc: subprocess.CompletedProcess[str]) -> Path:
    _verdict, path = proc.stdout.strip().splitlines()[-1].split(": ", 1)
    return Path(path)


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def _kill_orphans() -> None:
    """What the killed run started outside its process group (the rehearsal's PostgreSQL
    daemonizes) outlives it: end those processes, found by this module's token in their
    environment, by their ids."""
    marker = f"PIXCRAWLER_SANDBOX_TOKEN={TOKEN}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `runbook run --env local` killed with SIGKILL (its whole process group) as soon as
    the monitor phase's notebook is being executed; its run directory."""
    outputs = tmp_path_factory.mktemp("outputs")
    log = (tmp_path_factory.mktemp("log") / "stderr.txt").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "run", "--env", "local", "--outputs", str(outputs)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=_env(),
        start_new_session=True,
    )
    try:
        found = wait_for(
            lambda: (
                next(iter((outputs / "local").glob("*/notebooks/06_monitor.ipynb")), None)
                or (proc.poll() is not None and "ended")
            ),
            "the monitor phase executing",
            RUN_BOUND_S,
        )
        assert found != "ended", Path(log.name).read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=120)
        log.close()
        _kill_orphans()
    run_dir = found.parents[1]
    assert not (run_dir / "manifest.json").exists()  # killed: no manifest, not chained
    return run_dir


@pytest.fixture(scope="module")
def resumed(killed: Path) -> tuple[subprocess.CompletedProcess[str], Path, dict[str, bytes]]:
    before = {p.relative_to(killed).as_posix(): p.read_bytes() for p in killed.rglob("*")
              if p.is_file()}  # fmt: skip
    proc = runbook("resume", str(killed))
    return proc, run_dir_of(proc) if proc.returncode in (0, 1) else killed, before


def test_a_killed_run_records_what_resume_needs_and_which_phases_completed(killed: Path) -> None:
    record = json.loads((killed / "run.json").read_text())
    assert record["request"]["env"] == "local"
    assert len(record["parameters_sha256"]) == 64
    assert set(record["runbook"]["notebooks"]) >= set(EARLIER + LATER)
    stopped = read_stopped(killed)
    assert [n for n in EARLIER if incomplete_reason(stopped, BY_NAME[n]) is None] == EARLIER
    assert incomplete_reason(stopped, BY_NAME["monitor"]) is not None


def test_the_resumed_run_reaches_a_verdict_reusing_the_five_earlier_phases(resumed) -> None:
    proc, run_dir, _ = resumed
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("GO: ")
    m = manifest(run_dir)
    assert m["verdict"] == "GO"
    resume = m["resume"]
    assert [r["phase"] for r in resume["reused"]] == EARLIER
    assert resume["re_executed"] == LATER
    assert resume["forced"] is None
    assert resume["stopped_run"]["verdict"] == "UNFINISHED"
    assert [p["name"] for p in m["phases"]] == EARLIER + LATER
    for line in EARLIER:  # reused, not executed: no progress line says it started
        assert f"] {line} …" not in proc.stderr
    for line in LATER:
        assert f"] {line} …" in proc.stderr
    ids = {r["id"]: r["status"] for r in m["results"]}
    assert ids["runbook.resume.target"] == "pass"


def test_the_reused_notebooks_are_byte_identical_and_the_stopped_run_untouched(
    resumed, killed: Path
) -> None:
    proc, run_dir, before = resumed
    assert proc.returncode == 0, proc.stderr[-4000:]
    reused = manifest(run_dir)["resume"]["reused"]
    for entry in reused:
        copy = (run_dir / entry["notebook"]).read_bytes()
        assert copy == (killed / entry["notebook"]).read_bytes()
        assert entry["sha256"] == ev.sha256_file(run_dir / entry["notebook"])
    now = {p.relative_to(killed).as_posix(): p.read_bytes() for p in killed.rglob("*")
           if p.is_file()}  # fmt: skip
    assert now == before


def test_the_resumed_run_verifies_and_the_chain_holds(resumed, killed: Path) -> None:
    proc, run_dir, _ = resumed
    assert proc.returncode == 0, proc.stderr[-4000:]
    one = runbook("verify", str(run_dir))
    assert one.returncode == 0, one.stdout
    chain = runbook("verify", "--chain", "local", "--outputs", str(killed.parents[1]))
    assert chain.returncode == 0, chain.stdout
    assert f"unfinished run (no manifest, not judged): {killed.name}" in chain.stdout


def test_a_parameters_change_is_refused_and_force_records_it(resumed, killed: Path) -> None:
    """The refusal through the CLI; what `--force` goes ahead with, from the same planning
    `runbook resume --force` uses (executing it again would only repeat the resume above,
    whose manifest carries the same `record()`)."""
    env_dir = killed.parent
    runs = set(env_dir.iterdir())
    refused = runbook("resume", str(killed), "--param", "performance.duration_s=3")
    assert refused.returncode == 2
    assert "performance.duration_s" in refused.stderr and "--force" in refused.stderr
    assert set(env_dir.iterdir()) == runs  # nothing started, no run directory
    forced = plan_resume(killed, force=True, overrides=["performance.duration_s=3"])
    assert any("performance.duration_s" in d for d in forced.forced)
    assert [p.name for p in forced.reused] == EARLIER
    record = forced.record()
    assert any("performance.duration_s" in d for d in record["forced"]["differences"])
    assert set(env_dir.iterdir()) == runs  # planning alone writes nothing


def test_a_directory_without_run_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResumeRefused, match=r"run\.json"):
        read_stopped(tmp_path)
