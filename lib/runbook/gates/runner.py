"""Run the checklist's code-quality commands in the target repository and judge their reports.

Every gate runs as argv (`shell=False`) in its own process group, with stdout and stderr
written in full to evidence files. A gate that cannot start, times out (its whole process
group is killed) or is interrupted is `Status.ERROR`; so is a non-zero exit whose report
cannot be parsed. Verdicts come from the tools' machine-readable reports (see
`tool_reports`), never from scraping their human-readable text.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.checks import CheckResult, Status
from runbook.gates.params import PYTHON_PLACEHOLDER, Gate, PreDeploymentParams
from runbook.gates.tool_reports import (
    FindingsReport,
    ReportError,
    parse_junit,
    parse_mypy_json,
    parse_mypy_text,
    parse_ruff_json,
)

KILL_GRACE_S = 3.0

_KIND_ARGS: dict[str, list[str]] = {
    "ruff-check": ["--output-format=json", "--no-fix"],
    "ruff-format": ["--check", "--output-format=json"],
    "command": [],
}
_MYPY_ARGS = {
    "json": ["--output=json"],
    "text": ["--show-error-codes", "--no-pretty", "--no-color-output"],
}
_PYTEST_EXIT = {
    2: "pytest was interrupted",
    3: "pytest hit an internal error",
    4: "pytest was called with bad arguments",
    5: "pytest collected no tests",
}


@dataclass
class _Outcome:
    status: Status
    observed: Any
    threshold: Any
    explanation: str
    details: dict[str, Any]


@dataclass
class _Process:
    exit_code: int | None = None
    duration_s: float = 0.0
    start_error: str | None = None
    timed_out: bool = False
    interrupted: bool = False


def python_argv(python: Sequence[str] | None, repo: Path) -> list[str]:
    """The argv prefix `{python}` stands for: the given one (a relative first element is
    resolved against the repository, symlinks kept so a venv stays a venv) or the runbook's
    own interpreter."""
    if not python:
        return [sys.executable]
    first, rest = python[0], list(python[1:])
    if "/" in first and not Path(first).is_absolute():
        first = str(repo.absolute() / first)
    return [first, *rest]


def gate_argv(
    gate: Gate, repo: Path, evidence_dir: Path, python: Sequence[str] | None
) -> list[str]:
    """The full argv a gate runs: placeholders expanded, report options appended."""
    argv: list[str] = []
    for item in gate.argv:
        argv.extend(python_argv(python, repo) if item == PYTHON_PLACEHOLDER else [item])
    if gate.kind == "pytest":
        argv.append(f"--junitxml={_report_path(gate, evidence_dir, 'junit.xml')}")
        if gate.coverage_report:
            argv.append(f"--cov-report=json:{_report_path(gate, evidence_dir, 'coverage.json')}")
    elif gate.kind == "mypy":
        argv.extend(_MYPY_ARGS[gate.mypy_output])
    else:
        argv.extend(_KIND_ARGS[gate.kind])
    return argv


def _report_path(gate: Gate, evidence_dir: Path, suffix: str) -> Path:
    return evidence_dir.absolute() / f"{gate.id}.{suffix}"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the gate's process group, then SIGKILL whatever is left, and reap the leader."""
    _signal_group(proc.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_GRACE_S)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _execute(
    argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float, out: Path, err: Path,
    cancel: threading.Event | None = None,
) -> _Process:
    run = _Process()
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                shell=False,
                start_new_session=True,
            )
        except FileNotFoundError:
            run.start_error = f"{argv[0]!r} was not found"
        except PermissionError:
            run.start_error = f"{argv[0]!r} is not executable"
        except OSError as exc:
            run.start_error = f"{argv[0]!r} could not be started ({exc.strerror or exc})"
        else:
            try:
                run.exit_code = _wait(proc, started + timeout_s, cancel)
            except subprocess.TimeoutExpired:
                run.timed_out = True
                _kill_group(proc)
            except (KeyboardInterrupt, _Cancelled):
                run.interrupted = True
                _kill_group(proc)
            else:  # nothing the gate started may outlive it
                _signal_group(proc.pid, signal.SIGKILL)
    run.duration_s = round(time.monotonic() - started, 3)
    return run


class _Cancelled(Exception):
    """The operator interrupted the run while this gate ran on a worker thread."""


def _wait(proc: subprocess.Popen[bytes], deadline: float, cancel: threading.Event | None) -> int:
    """proc's exit code; TimeoutExpired past `deadline`; _Cancelled once `cancel` is set."""
    while True:
        remaining = deadline - time.monotonic()
        try:
            return proc.wait(timeout=max(0.0, min(remaining, 0.1) if cancel else remaining))
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                raise _Cancelled from None
            if time.monotonic() >= deadline:
                raise


def _last_line(path: Path, limit: int = 300) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:limit] if lines else ""


def _error(explanation: str, **details: Any) -> _Outcome:
    return _Outcome(Status.ERROR, None, None, explanation, details)


def _judge_pytest(gate: Gate, run: _Process, evidence_dir: Path) -> _Outcome:
    threshold = "0 failed, 0 errors, at least 1 test run"
    code = run.exit_code
    if code in _PYTEST_EXIT and code != 2:
        return _error(f"{_PYTEST_EXIT[code]} (exit {code}); nothing was proven")
    try:
        report = parse_junit(_report_path(gate, evidence_dir, "junit.xml"))
    except ReportError as exc:
        return _error(f"pytest exited {code} and its report is unusable: {exc}")
    observed = report.model_dump(exclude={"failing"})
    details = {"failing_tests": report.failing}
    bad = report.failed + report.errors
    if bad:
        shown = ", ".join(report.failing[:5]) + (" …" if len(report.failing) > 5 else "")
        return _Outcome(
            Status.FAIL,
            observed,
            threshold,
            f"{report.failed} failed, {report.errors} errors of {report.total} tests: {shown}",
            details,
        )
    if code == 2:
        return _error(f"{_PYTEST_EXIT[2]} (exit 2) with no failing test in its report", **details)
    if code != 0:
        return _Outcome(
            Status.FAIL,
            observed,
            threshold,
            f"pytest exited {code} although no test failed (e.g. a coverage floor); see the log",
            details,
        )
    if report.total == 0 or report.passed == 0:
        return _error("pytest ran no test that passed (all skipped or none collected)", **details)
    return _Outcome(
        Status.PASS,
        observed,
        threshold,
        f"{report.passed} passed, {report.skipped} skipped",
        details,
    )


def _judge_findings(
    tool: str, what: str, report: FindingsReport, exit_code: int | None
) -> _Outcome:
    observed = {what: len(report.findings), "by_code": report.by_code}
    details: dict[str, Any] = {
        "findings": [f.model_dump() for f in report.findings[:200]],
        "files": report.files,
    }
    if report.unparsed_lines:
        details["unparsed_lines"] = report.unparsed_lines[:50]
    threshold = f"0 {what}"
    if report.findings:
        top = ", ".join(f"{code}×{n}" for code, n in report.by_code.items())
        return _Outcome(
            Status.FAIL,
            observed,
            threshold,
            f"{len(report.findings)} {what} in {len(report.files)} files ({top})",
            details,
        )
    if exit_code != 0:
        return _Outcome(
            Status.ERROR,
            observed,
            threshold,
            f"{tool} exited {exit_code} but reported no {what}; see its log",
            details,
        )
    return _Outcome(Status.PASS, observed, threshold, f"{tool}: no {what}", details)


def _judge(gate: Gate, run: _Process, evidence_dir: Path, out: Path, err: Path) -> _Outcome:
    if gate.kind == "pytest":
        return _judge_pytest(gate, run, evidence_dir)
    if gate.kind == "command":
        if run.exit_code == 0:
            return _Outcome(Status.PASS, {"exit_code": 0}, "exit code 0", "exited 0", {})
        return _Outcome(
            Status.FAIL,
            {"exit_code": run.exit_code},
            "exit code 0",
            f"exited {run.exit_code}: {_last_line(err) or _last_line(out)}",
            {},
        )
    text = out.read_text(errors="replace")
    try:
        if gate.kind == "mypy":
            if gate.mypy_output == "json":
                report = parse_mypy_json(text)
            else:
                report = parse_mypy_text(text)
            if run.exit_code not in (0, 1) and not report.findings:  # 2: usage error or crash
                return _error(f"mypy exited {run.exit_code}: {_last_line(err) or _last_line(out)}")
            return _judge_findings("mypy", "errors", report, run.exit_code)
        tool = "ruff check" if gate.kind == "ruff-check" else "ruff format --check"
        if run.exit_code not in (0, 1) and not text.strip().startswith("["):
            return _error(f"{tool} exited {run.exit_code}: {_last_line(err) or _last_line(out)}")
        report = parse_ruff_json(text, tool)
    except ReportError as exc:
        return _error(f"exit {run.exit_code}; {exc}; {_last_line(err)}".strip("; "))
    what = "violations" if gate.kind == "ruff-check" else "files to reformat"
    return _judge_findings(tool, what, report, run.exit_code)


def run_gate(
    gate: Gate, repo: Path, evidence_dir: Path, python: Sequence[str] | None = None,
    cancel: threading.Event | None = None,
) -> CheckResult:
    """Run one gate in `repo`, keep its logs and reports in `evidence_dir`, judge its report.
    Setting `cancel` interrupts it as Ctrl-C would (for gates run on worker threads)."""
    evidence_dir.mkdir(parents=True, exist_ok=True)
    argv = gate_argv(gate, repo, evidence_dir, python)
    out, err = (_report_path(gate, evidence_dir, s) for s in ("stdout.log", "stderr.log"))
    reports = [_report_path(gate, evidence_dir, s) for s in ("junit.xml", "coverage.json")]
    for stale in reports:  # a report left by an earlier run must never be judged
        stale.unlink(missing_ok=True)
    cwd = repo / gate.cwd
    env = {**os.environ, **gate.env}
    if gate.coverage_report:  # keep coverage's data file out of the target's working tree
        env["COVERAGE_FILE"] = str(_report_path(gate, evidence_dir, "coverage"))
    evidence: dict[str, Any] = {
        "kind": gate.kind,
        "argv": argv,
        "cwd": gate.cwd,
        "env_names": sorted(gate.env),
        "timeout_s": gate.timeout_s,
    }
    if not cwd.is_dir():
        run = _Process(start_error=f"working directory {cwd} does not exist")
        out.write_text("")
        err.write_text(run.start_error or "")
    else:
        run = _execute(argv, cwd, env, gate.timeout_s, out, err, cancel)
    evidence.update(
        exit_code=run.exit_code,
        duration_s=run.duration_s,
        stdout=out.name,
        stderr=err.name,
    )
    for path in reports:
        if path.is_file():
            evidence["junit" if path.suffix == ".xml" else "coverage_json"] = path.name
    if run.start_error:
        outcome = _error(f"the gate could not start: {run.start_error}")
    elif run.timed_out:
        outcome = _error(f"timed out after {gate.timeout_s:g} s; its process group was killed")
    elif run.interrupted:
        evidence["interrupted"] = True
        outcome = _error("interrupted by the operator; its process group was killed")
    elif run.exit_code is not None and run.exit_code < 0:
        outcome = _error(f"killed by signal {-run.exit_code}")
    else:
        outcome = _judge(gate, run, evidence_dir, out, err)
    evidence.update(outcome.details)
    return CheckResult(
        id=gate.id,
        section=gate.section,
        title=gate.title,
        severity=gate.severity,
        status=outcome.status,
        observed=outcome.observed,
        threshold=outcome.threshold,
        explanation=outcome.explanation,
        evidence=evidence,
    )


def run_gates(params: PreDeploymentParams, evidence_dir: Path) -> list[CheckResult]:
    """Run every gate, `params.parallel` at a time, results in the gates' order; after an
    interruption (Ctrl-C) the running gates are stopped and those not yet started are ERROR,
    not silently absent."""
    done: dict[int, CheckResult] = {}
    queue = list(enumerate(params.gates))
    cancel = threading.Event()
    with ThreadPoolExecutor(params.parallel, thread_name_prefix="runbook-gate") as pool:
        running: dict[Future[CheckResult], int] = {}
        while running or (queue and not cancel.is_set()):
            while queue and len(running) < params.parallel and not cancel.is_set():
                index, gate = queue.pop(0)
                running[pool.submit(run_gate, gate, params.repo, evidence_dir, params.python,
                                    cancel)] = index  # fmt: skip
            try:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:  # reaches this thread only: stop the gates' processes
                cancel.set()
                continue
            for future in finished:
                result = future.result()
                done[running.pop(future)] = result
                if result.evidence.get("interrupted"):
                    cancel.set()
    for index, gate in queue:
        done[index] = CheckResult(
            id=gate.id, section=gate.section, title=gate.title, severity=gate.severity,
            status=Status.ERROR, explanation="not run: an earlier gate was interrupted",
            evidence={"argv": gate.argv, "cwd": gate.cwd},
        )  # fmt: skip
    return [done[i] for i in range(len(params.gates))]
