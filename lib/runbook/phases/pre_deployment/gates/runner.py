"""Run the checklist's code-quality commands on the candidate and judge what the tools report.

`run_gates` checks the candidate ref out in its cached scratch worktree (`worktree`), then runs
every gate there, `parallel` at a time (gates sharing a `locks` entry one after the other, none
before the gates it `needs` passed). Each gate runs as argv (`shell=False`) in its own process
group, in its own folder of the candidate, with a clean environment (`clean_env`), and its
stdout and stderr are written in full to evidence files (`command` in the evidence is exactly
what ran); beside it, the same runner asks the tool for its version. A pytest gate with
`coverage_tool: coverage` runs under `coverage run` and is followed by `coverage json` and
`coverage report` (`coverage_commands`; each step's argv, exit code and log in the evidence's
`coverage_steps`). A gate that
cannot start, times out (its whole process group is killed) or is interrupted is
`Status.ERROR`; so is a non-zero exit whose report cannot be parsed. A `warning:` a tool
prints never makes an ERROR. Reports are read as `tool_reports` explains.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from runbook.core.checks import CheckResult, Status
from runbook.phases.pre_deployment.gates.clean_env import gate_environment
from runbook.phases.pre_deployment.gates.coverage_commands import (
    combine_argv,
    cov_sources,
    coverage_missing,
    coverage_prefix,
    coverage_run_argv,
    report_argvs,
)
from runbook.phases.pre_deployment.gates.params import (
    DEFAULT_RUNNER,
    PYTHON_PLACEHOLDER,
    RUN_PLACEHOLDER,
    Gate,
    PreDeploymentParams,
)
from runbook.phases.pre_deployment.gates.tool_reports import (
    FindingsReport,
    ReportError,
    meaningful_lines,
    parse_junit,
    parse_mypy_json,
    parse_mypy_text,
    parse_pytest_text,
    parse_ruff_check,
    parse_ruff_format,
    warnings_in,
)
from runbook.providers.git_refs import GitError
from runbook.providers.worktree import Candidate, candidate_worktree

KILL_GRACE_S = 3.0
VERSION_TIMEOUT_S = 60.0
BUDGET_MARGIN_S = 120.0

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
_TOOLS = {"pytest": ("pytest", "py.test"), "ruff-check": ("ruff",), "ruff-format": ("ruff",),
          "mypy": ("mypy",)}  # fmt: skip
_SCHEDULE = {"pytest": 0, "mypy": 1}  # the slow kinds start first
_MYPY_REFUSES = re.compile(r"unrecognized arguments?:.*--output|no such option.*--output", re.I)


@dataclass
class _Outcome:
    status: Status
    observed: Any
    threshold: Any
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)


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


def expand_argv(
    argv: Sequence[str],
    repo: Path,
    python: Sequence[str] | None,
    runner: Sequence[str] = DEFAULT_RUNNER,
) -> list[str]:
    """`argv` with `{run}` replaced by the runner prefix and `{python}` by the interpreter."""
    expanded: list[str] = []
    for item in argv:
        if item == RUN_PLACEHOLDER:
            expanded.extend(expand_argv(runner, repo, python, runner))
        elif item == PYTHON_PLACEHOLDER:
            expanded.extend(python_argv(python, repo))
        else:
            expanded.append(item)
    return expanded


def gate_argv(
    gate: Gate,
    repo: Path,
    evidence_dir: Path,
    python: Sequence[str] | None,
    runner: Sequence[str] = DEFAULT_RUNNER,
    mypy_output: str | None = None,
) -> list[str]:
    """The full argv a gate runs: placeholders expanded, report options appended."""
    argv = expand_argv(gate.argv, repo, python, runner)
    if gate.kind == "pytest":
        if uses_coverage_py(gate):  # `coverage run -m pytest ...`; reports written afterwards
            argv = coverage_run_argv(argv)
        argv.append(f"--junitxml={_report_path(gate, evidence_dir, 'junit.xml')}")
        if gate.coverage_report and not uses_coverage_py(gate):  # json + TOTAL of the same run
            argv += [f"--cov-report=json:{_report_path(gate, evidence_dir, 'coverage.json')}",
                     "--cov-report=term"]  # fmt: skip
    elif gate.kind == "mypy":
        mode = mypy_output or gate.mypy_output
        argv.extend(_MYPY_ARGS["json" if mode == "auto" else mode])
    elif gate.kind == "ruff-check":
        argv.extend(["--output-format=json", "--no-fix"])
    elif gate.kind == "ruff-format" and not {"--check", "--diff"} & set(argv):
        argv.append("--check")
    return argv


def uses_coverage_py(gate: Gate) -> bool:
    """Whether this gate measures coverage with coverage.py's own commands (not pytest-cov)."""
    return gate.kind == "pytest" and gate.coverage_report and gate.coverage_tool == "coverage"


def version_argv(kind: str, argv: Sequence[str]) -> list[str] | None:
    """The same runner asking the gate's tool for its version (None for a plain command)."""
    names = _TOOLS.get(kind, ())
    for index, item in enumerate(argv):
        if Path(item).name in names:
            return [*argv[: index + 1], "--version"]
    return None


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
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    out: Path,
    err: Path,
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


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _last_line(path: Path, limit: int = 300) -> str:
    """The last line of a log that is neither empty nor a warning, escapes stripped."""
    lines = meaningful_lines(_read(path))
    return lines[-1][:limit] if lines else ""


_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Exit|Failure)\b: ")


def _reason(err: Path, out: Path, limit: int = 300) -> str:
    """Why a command failed: the last exception line of a Python traceback in its stderr
    (a tool may print more after it, e.g. SQLAlchemy's "Background on this error" link), else
    its last meaningful line."""
    lines = meaningful_lines(_read(err))
    exception = next((ln for ln in reversed(lines) if _EXCEPTION.match(ln)), None)
    return (exception or _last_line(err) or _last_line(out))[:limit]


def _error(explanation: str, **details: Any) -> _Outcome:
    return _Outcome(Status.ERROR, None, None, explanation, details)


def _shown(items: Sequence[str], limit: int = 5) -> str:
    return ", ".join(items[:limit]) + (" …" if len(items) > limit else "")


def _judge_pytest(gate: Gate, run: _Process, evidence_dir: Path, out: Path, err: Path
                  ) -> _Outcome:  # fmt: skip
    threshold = "0 failed, 0 errors, at least 1 test run"
    code = run.exit_code
    text = parse_pytest_text(_read(out), _read(err))
    details: dict[str, Any] = {}
    if text.cov_total_percent is not None:
        details.update(cov_total_line=text.cov_total_line, cov_total_percent=text.cov_total_percent)
    if text.missing_plugin and code == 4:
        return _error(
            f"{text.missing_plugin} is not installed in the target's environment: pytest refused "
            f"--cov (add {text.missing_plugin} to its test dependencies; or, where coverage.py "
            "is installed, set coverage_tool: coverage; or set coverage_report: false and leave "
            "--cov out of argv)",
            missing_plugin=text.missing_plugin,
        )
    if code in _PYTEST_EXIT and code != 2:
        return _error(f"{_PYTEST_EXIT[code]} (exit {code}): {_last_line(err) or _last_line(out)}"
                      "; nothing was proven")  # fmt: skip
    try:
        report = parse_junit(_report_path(gate, evidence_dir, "junit.xml"))
    except ReportError as exc:
        return _error(f"pytest exited {code} and its report is unusable: {exc}", **details)
    observed = report.model_dump(exclude={"failing"})
    details["failing_tests"] = report.failing
    if text.collection_error_count:
        count = text.collection_error_count
        observed["collection_errors"] = count
        details["collection_errors"] = text.collection_errors
        return _Outcome(
            Status.FAIL, observed, threshold,
            f"tests stopped at collection: {count} error{'s' if count != 1 else ''} in "
            f"{_shown(text.collection_errors) or 'the test modules'}; no test ran",
            details,
        )  # fmt: skip
    bad = report.failed + report.errors
    if bad:
        return _Outcome(
            Status.FAIL,
            observed,
            threshold,
            f"{report.failed} failed, {report.errors} errors of {report.total} tests: "
            f"{_shown(report.failing)}",
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


def _judge_format(run: _Process, out: Path, err: Path) -> _Outcome:
    report = parse_ruff_format(_read(out), _read(err))
    count, code = report.count, run.exit_code
    observed = {"files to reformat": count}
    details: dict[str, Any] = {"files": report.files, "summary_count": report.summary_count}
    if report.errors:
        details["errors"] = report.errors[:50]
    threshold = "0 files to reformat"
    unreadable = f"; ruff could not read {_shown(report.errors, 3)}" if report.errors else ""
    if count and code in (1, 2):
        named = f": {_shown(report.files)}" if report.files else ""
        return _Outcome(Status.FAIL, observed, threshold,
                        f"{count} files to reformat{named}{unreadable}", details)  # fmt: skip
    if code == 0 and not report.errors:
        return _Outcome(Status.PASS, observed, threshold, "ruff format --check: every file "
                        "already formatted", details)  # fmt: skip
    reason = _shown(report.errors, 3) or _last_line(err) or _last_line(out) or "no output"
    return _Outcome(Status.ERROR, observed, threshold,
                    f"ruff format --check exited {code} and named no file to reformat: {reason}",
                    details)  # fmt: skip


def _judge(gate: Gate, run: _Process, evidence_dir: Path, out: Path, err: Path,
           mypy_mode: str) -> _Outcome:  # fmt: skip
    if gate.kind == "pytest":
        return _judge_pytest(gate, run, evidence_dir, out, err)
    if gate.kind == "ruff-format":
        return _judge_format(run, out, err)
    if gate.kind == "command":
        if run.exit_code == 0:
            return _Outcome(Status.PASS, {"exit_code": 0}, "exit code 0", "exited 0")
        return _Outcome(
            Status.FAIL,
            {"exit_code": run.exit_code},
            "exit code 0",
            f"exited {run.exit_code}: {_reason(err, out)}",
        )
    text = _read(out)
    try:
        if gate.kind == "mypy":
            report = parse_mypy_text(text) if mypy_mode == "text" else parse_mypy_json(text)
            if run.exit_code not in (0, 1) and not report.findings:  # 2: usage error or crash
                return _error(f"mypy exited {run.exit_code}: {_last_line(err) or _last_line(out)}")
            return _judge_findings("mypy", "errors", report, run.exit_code)
        if run.exit_code not in (0, 1) and not text.strip().startswith("["):
            return _error(f"ruff check exited {run.exit_code}: "
                          f"{_last_line(err) or _last_line(out)}")  # fmt: skip
        report = parse_ruff_check(text)
    except ReportError as exc:
        return _error(f"exit {run.exit_code}; {exc}; {_last_line(err)}".strip("; "))
    return _judge_findings("ruff check", "violations", report, run.exit_code)


def _tool_version(argv: list[str] | None, cwd: Path, env: dict[str, str],
                  cancel: threading.Event | None) -> str | None:  # fmt: skip
    """The first line `<tool> --version` prints through the gate's runner, or why not."""
    if argv is None:
        return None
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=VERSION_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL,
                              errors="replace")  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__})"
    lines = meaningful_lines(done.stdout) or meaningful_lines(done.stderr)
    if done.returncode != 0 or not lines:
        return f"unknown (exit {done.returncode}: {lines[-1][:120] if lines else 'no output'})"
    return lines[0][:200]


def run_gate(
    gate: Gate,
    repo: Path,
    evidence_dir: Path,
    python: Sequence[str] | None = None,
    cancel: threading.Event | None = None,
    *,
    runner: Sequence[str] = DEFAULT_RUNNER,
    env_passthrough: Sequence[str] = (),
    candidate: Candidate | None = None,
) -> CheckResult:
    """Run one gate in `repo` (the candidate's tree), keep its logs and reports in
    `evidence_dir`, judge its report. Setting `cancel` interrupts it as Ctrl-C would."""
    evidence_dir.mkdir(parents=True, exist_ok=True)
    mypy_mode = "json" if gate.mypy_output == "auto" else gate.mypy_output
    plain = expand_argv(gate.argv, repo, python, runner)  # the command as the gate names it
    argv = gate_argv(gate, repo, evidence_dir, python, runner, mypy_mode)
    out, err = (_report_path(gate, evidence_dir, s) for s in ("stdout.log", "stderr.log"))
    reports = [_report_path(gate, evidence_dir, s) for s in ("junit.xml", "coverage.json")]
    data_file = _report_path(gate, evidence_dir, "coverage")
    for stale in [*reports, data_file, *data_file.parent.glob(f"{data_file.name}.*")]:
        stale.unlink(missing_ok=True)  # a report left by an earlier run must never be judged
    cwd = repo / gate.cwd
    env = gate_environment(gate.env, env_passthrough)
    if gate.coverage_report:  # keep coverage's data file out of the target's tree
        env["COVERAGE_FILE"] = str(data_file)
    evidence: dict[str, Any] = {
        "kind": gate.kind,
        "argv": argv,
        "command": shlex.join(argv),
        "cwd": gate.cwd,
        "env_names": sorted(gate.env),
        "timeout_s": gate.timeout_s,
    }
    if gate.coverage_report:
        evidence.update(coverage_report=True, coverage_tool=gate.coverage_tool,
                        cov_sources=cov_sources(plain))  # fmt: skip
    if gate.needs:
        evidence["needs"] = gate.needs
    if candidate is not None:
        evidence["candidate"] = candidate.evidence()
    started = time.monotonic()
    deadline = started + gate.timeout_s
    steps: list[dict[str, Any]] = []
    probes = _VersionProbes(_version_probes(gate, plain) if cwd.is_dir() else {}, cwd, env)
    if not cwd.is_dir():
        run = _Process(start_error=f"working directory {cwd} does not exist")
        out.write_text("")
        err.write_text(run.start_error or "")
    else:
        run = _execute(argv, cwd, env, gate.timeout_s, out, err, cancel)
        refused = gate.kind == "mypy" and gate.mypy_output == "auto" and run.exit_code == 2
        if refused and _MYPY_REFUSES.search(_read(err) + _read(out)):  # mypy < 1.11
            mypy_mode = "text"
            argv = gate_argv(gate, repo, evidence_dir, python, runner, mypy_mode)
            remaining = max(1.0, deadline - time.monotonic())
            run = _execute(argv, cwd, env, remaining, out, err, cancel)
            evidence.update(argv=argv, command=shlex.join(argv),
                            mypy_output="text (this mypy refuses --output json)")  # fmt: skip
        if uses_coverage_py(gate) and run.exit_code is not None and run.exit_code >= 0 \
                and _junit_written(gate, evidence_dir):  # fmt: skip
            steps = _coverage_py_reports(gate, plain, cwd, env, evidence_dir, deadline, cancel)
            evidence["coverage_steps"] = steps
    evidence.update(
        exit_code=run.exit_code,
        duration_s=round(time.monotonic() - started, 3),
        stdout=out.name,
        stderr=err.name,
    )
    for path in reports:
        if path.is_file():
            evidence["junit" if path.suffix == ".xml" else "coverage_json"] = path.name
    if warnings := warnings_in(_read(err)):
        evidence["tool_warnings"] = warnings[:20]
    if run.start_error:
        outcome = _error(f"the gate could not start: {run.start_error}")
        if uses_coverage_py(gate) and Path(argv[0]).name == "coverage":
            outcome = _missing_coverage_py(argv)
    elif run.timed_out:
        outcome = _error(f"timed out after {gate.timeout_s:g} s; its process group was killed")
    elif run.interrupted:
        evidence["interrupted"] = True
        outcome = _error("interrupted by the operator; its process group was killed")
    elif run.exit_code is not None and run.exit_code < 0:
        outcome = _error(f"killed by signal {-run.exit_code}")
    elif uses_coverage_py(gate) and not _junit_written(gate, evidence_dir) \
            and coverage_missing(_read(err) + _read(out)):  # fmt: skip
        outcome = _missing_coverage_py(argv)
    else:
        outcome = _judge(gate, run, evidence_dir, out, err, mypy_mode)
        if steps:
            outcome = _with_coverage_py(outcome, steps, evidence_dir)
    if outcome.details.get("missing_plugin") == "pytest-cov":
        outcome = _suggest_coverage_py(outcome, plain, cwd, env, cancel)
    if not (run.start_error or run.interrupted):
        versions = probes.result()
        if outcome.details.get("missing_tool") == "coverage":
            versions.pop("coverage_version", None)
        evidence.update(versions)
    evidence.update(outcome.details)
    note = candidate.note() if candidate is not None else ""
    return CheckResult(
        id=gate.id,
        section=gate.section,
        title=gate.title,
        severity=gate.severity,
        status=outcome.status,
        observed=outcome.observed,
        threshold=outcome.threshold,
        explanation=outcome.explanation + (f" ({note})" if note else ""),
        evidence=evidence,
    )


def _version_probes(gate: Gate, plain: list[str]) -> dict[str, list[str]]:
    """Evidence key -> the argv asking the gate's tool (and coverage.py) for its version."""
    probes: dict[str, list[str]] = {}
    if (probe := version_argv(gate.kind, plain)) is not None:
        probes["tool_version"] = probe
    if uses_coverage_py(gate):
        probes["coverage_version"] = [*coverage_prefix(plain), "--version"]
    return probes


class _VersionProbes:
    """Version probes run on a thread beside the gate (off its critical path); `result` waits
    for them. A probe takes at most VERSION_TIMEOUT_S."""

    def __init__(self, probes: dict[str, list[str]], cwd: Path, env: dict[str, str]) -> None:
        self._values: dict[str, str | None] = {}
        self._thread = threading.Thread(target=self._run, args=(probes, cwd, env), daemon=True,
                                        name="runbook-gate-version")  # fmt: skip
        self._thread.start()

    def _run(self, probes: dict[str, list[str]], cwd: Path, env: dict[str, str]) -> None:
        for key, argv in probes.items():
            self._values[key] = _tool_version(argv, cwd, env, None)

    def result(self) -> dict[str, str | None]:
        self._thread.join()
        return dict(self._values)


def _junit_written(gate: Gate, evidence_dir: Path) -> bool:
    return _report_path(gate, evidence_dir, "junit.xml").is_file()


def _coverage_py_reports(
    gate: Gate,
    plain: list[str],
    cwd: Path,
    env: dict[str, str],
    evidence_dir: Path,
    deadline: float,
    cancel: threading.Event | None,
) -> list[dict[str, Any]]:
    """After `coverage run -m pytest`: `coverage combine` (only when the target's config wrote
    parallel data files), `coverage json -o <evidence>` and `coverage report`, through the
    gate's runner, on that run's data file. One record per step (argv, exit code, log)."""
    data_file = _report_path(gate, evidence_dir, "coverage")
    commands = report_argvs(plain, _report_path(gate, evidence_dir, "coverage.json"))
    if not data_file.is_file() and any(data_file.parent.glob(f"{data_file.name}.*")):
        commands = {"coverage combine": combine_argv(plain), **commands}
    steps: list[dict[str, Any]] = []
    for name, step_argv in commands.items():
        slug = name.replace(" ", "-")
        log, err_log = (_report_path(gate, evidence_dir, f"{slug}.{s}") for s in ("log", "err.log"))
        remaining = max(5.0, deadline - time.monotonic())
        done = _execute(step_argv, cwd, env, remaining, log, err_log, cancel)
        steps.append(
            {
                "step": name,
                "argv": step_argv,
                "command": shlex.join(step_argv),
                "exit_code": done.exit_code,
                "log": log.name,
                "stderr": err_log.name,
                "why": done.start_error
                or ("timed out" if done.timed_out else None)
                or (_last_line(err_log) or _last_line(log) if done.exit_code else None),
            }
        )
    return steps


def _with_coverage_py(outcome: _Outcome, steps: list[dict[str, Any]], evidence_dir: Path
                      ) -> _Outcome:  # fmt: skip
    """The test outcome with coverage.py's TOTAL line (from `coverage report`), the report's
    problems, and a note saying how coverage was measured."""
    details = dict(outcome.details)
    report = next((s for s in steps if s["step"] == "coverage report"), None)
    if report is not None:
        text = parse_pytest_text(_read(evidence_dir / report["log"]))
        if text.cov_total_percent is not None:
            details.update(cov_total_line=text.cov_total_line,
                           cov_total_percent=text.cov_total_percent)  # fmt: skip
    json_step = next((s for s in steps if s["step"] == "coverage json"), None)
    if json_step is not None and not (evidence_dir / _json_name(json_step)).is_file():
        details["coverage_problem"] = (
            f"`{json_step['command']}` exited {json_step['exit_code']}"
            f" and wrote no report: {json_step['why'] or 'no output'}"
        )
    how = "coverage measured by coverage.py: coverage run -m pytest, then coverage json/report"
    return _Outcome(outcome.status, outcome.observed, outcome.threshold,
                    f"{outcome.explanation} ({how})", details)  # fmt: skip


def _json_name(step: dict[str, Any]) -> str:
    argv = step["argv"]
    return Path(argv[argv.index("-o") + 1]).name


def _missing_coverage_py(argv: Sequence[str]) -> _Outcome:
    at = next((i for i, a in enumerate(argv) if Path(a).name == "coverage"), 0)
    return _error(
        f"coverage (coverage.py) is not installed in the target's environment: "
        f"`{shlex.join(argv[: at + 2])} -m pytest` could not start it (add coverage to its test "
        "dependencies, or set coverage_tool: pytest-cov where pytest-cov is installed)",
        missing_tool="coverage",
    )


def _suggest_coverage_py(outcome: _Outcome, plain: list[str], cwd: Path, env: dict[str, str],
                         cancel: threading.Event | None) -> _Outcome:  # fmt: skip
    """A refused --cov: say whether coverage.py is there to measure with instead."""
    try:
        version = _tool_version([*coverage_prefix(plain), "--version"], cwd, env, cancel)
    except ValueError:
        version = None
    if version and not version.startswith("unknown"):
        explanation = (
            "pytest-cov is not installed in the target's environment, so pytest refused --cov; "
            f"coverage.py is ({version}): set coverage_tool: coverage on this gate to measure "
            "with `coverage run -m pytest`, or add pytest-cov to its test dependencies"
        )
        return _Outcome(outcome.status, outcome.observed, outcome.threshold, explanation,
                        {**outcome.details, "coverage_available": version})  # fmt: skip
    return outcome


def cell_budget_s(params: PreDeploymentParams) -> float:
    """How long the notebook cell running `run_gates` may take at most: every gate's timeout
    (plus its version probe and kill grace) shared over `parallel` slots, plus the longest
    chain of gates that must run one after another (one gate, or all gates of one lock), plus
    a margin for the worktree checkout."""
    cost = {g.id: g.timeout_s + VERSION_TIMEOUT_S + 2 * KILL_GRACE_S for g in params.gates}
    if not cost:
        return BUDGET_MARGIN_S
    chains = [max(cost.values())]
    for lock in {lock for g in params.gates for lock in g.locks}:
        chains.append(sum(cost[g.id] for g in params.gates if lock in g.locks))
    after: dict[str, float] = {}  # a gate's cost plus its longest chain of needs
    for gate in params.gates:  # needs name earlier gates only
        after[gate.id] = cost[gate.id] + max((after[n] for n in gate.needs), default=0.0)
    chains.append(max(after.values()))
    return round(sum(cost.values()) / params.parallel + max(chains) + BUDGET_MARGIN_S, 1)


def _not_run(gate: Gate, why: str, **evidence: Any) -> CheckResult:
    return CheckResult(
        id=gate.id, section=gate.section, title=gate.title, severity=gate.severity,
        status=Status.ERROR, explanation=why,
        evidence={"argv": gate.argv, "cwd": gate.cwd, **evidence},
    )  # fmt: skip


def worktree_cache(params: PreDeploymentParams) -> Path:
    """The folder of the scratch worktrees: the parameter (relative: under the runbook
    checkout), else the user's cache folder, outside any project's configuration."""
    if params.worktree_cache is None:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "pixcrawler-runbook" / "worktrees"
    if params.worktree_cache.is_absolute():
        return params.worktree_cache
    from runbook.core.parameters import project_root  # the parameters package imports this one

    return project_root() / params.worktree_cache


def run_gates(params: PreDeploymentParams, evidence_dir: Path) -> list[CheckResult]:
    """Run every gate on the candidate (a scratch worktree of `candidate_ref`, or the checkout
    itself when it is None), results in the gates' order. A candidate that cannot be checked
    out makes every gate an ERROR saying why."""
    if params.candidate_ref is None:
        return _run_all(params, params.repo, evidence_dir, None)
    try:
        with candidate_worktree(params.repo, params.candidate_ref, worktree_cache(params),
                                params.worktree_keep) as candidate:  # fmt: skip
            return _run_all(params, candidate.root, evidence_dir, candidate)
    except GitError as exc:
        return [
            _not_run(
                g,
                f"cannot check out the candidate {params.candidate_ref!r}: {exc}",
                candidate={"ref": params.candidate_ref},
            )
            for g in params.gates
        ]


def _run_all(params: PreDeploymentParams, root: Path, evidence_dir: Path,
             candidate: Candidate | None) -> list[CheckResult]:  # fmt: skip
    """`params.parallel` gates at a time, never two holding the same lock, none before the
    gates it `needs` passed (a gate whose need did not pass is ERROR, not run); gates others
    need start first, then the slow kinds. After an interruption (Ctrl-C) the running gates
    are stopped and those not yet started are ERROR, not silently absent."""
    done: dict[int, CheckResult] = {}
    index_of = {g.id: i for i, g in enumerate(params.gates)}
    needed = {n for g in params.gates for n in g.needs}
    queue = sorted(
        enumerate(params.gates),
        key=lambda item: (item[1].id not in needed, _SCHEDULE.get(item[1].kind, 2)),
    )
    cancel = threading.Event()
    one = partial(run_gate, repo=root, evidence_dir=evidence_dir, python=params.python,
                  cancel=cancel, runner=params.runner, env_passthrough=params.env_passthrough,
                  candidate=candidate)  # fmt: skip
    with ThreadPoolExecutor(params.parallel, thread_name_prefix="runbook-gate") as pool:
        running: dict[Future[CheckResult], int] = {}
        while running or (queue and not cancel.is_set()):
            for index, gate in list(queue):  # a need that did not pass: never start
                failed = [done[index_of[n]] for n in gate.needs if index_of[n] in done
                          and done[index_of[n]].status is not Status.PASS]  # fmt: skip
                if failed:
                    queue.remove((index, gate))
                    done[index] = _not_run(gate, _need_failed(failed[0]), needs=gate.needs)
            held = {lock for i in running.values() for lock in params.gates[i].locks}
            while len(running) < params.parallel and not cancel.is_set():
                ready = [item for item in queue if not held & set(item[1].locks)
                         and all(index_of[n] in done for n in item[1].needs)]  # fmt: skip
                if not ready:
                    break
                queue.remove(ready[0])
                index, gate = ready[0]
                held |= set(gate.locks)
                running[pool.submit(one, gate)] = index
            if not running:
                continue  # everything left waits on a gate just judged; look again
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
        done[index] = _not_run(gate, "not run: an earlier gate was interrupted")
    return [done[i] for i in range(len(params.gates))]


def _need_failed(need: CheckResult) -> str:
    return (
        f"not run: it needs {need.id} to pass first, which is {need.status.value.upper()}: "
        f"{need.explanation[:200]}"
    )
