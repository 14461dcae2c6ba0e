"""run_gate: fail closed on anything that cannot run, keep full logs, find the target's python."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from runbook.core.checks import Status
from runbook.phases.pre_deployment.gates.params import CODE_QUALITY, Gate, PreDeploymentParams
from runbook.phases.pre_deployment.gates.runner import run_gate, run_gates


def gate(kind: str, argv: list[str], id: str = "test.gate", **extra: object) -> Gate:
    return Gate.model_validate(
        {"id": id, "title": "a gate", "section": f"{CODE_QUALITY} — test", "kind": kind,
         "argv": argv, **extra}
    )  # fmt: skip


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_missing_binary_is_an_error(tmp_path: Path) -> None:
    result = run_gate(gate("command", ["/nonexistent/ruff", "check"]), tmp_path, tmp_path / "ev")
    assert result.status is Status.ERROR
    assert "could not start" in result.explanation and "/nonexistent/ruff" in result.explanation
    assert result.evidence["exit_code"] is None


def test_missing_python_of_the_target_is_an_error(tmp_path: Path) -> None:
    result = run_gate(
        gate("pytest", ["{python}", "-m", "pytest"]),
        tmp_path,
        tmp_path / "ev",
        [".venv/bin/python"],
    )
    assert result.status is Status.ERROR
    assert str(tmp_path / ".venv/bin/python") in result.explanation


def test_missing_working_directory_is_an_error(tmp_path: Path) -> None:
    result = run_gate(gate("command", ["true"], cwd="backend"), tmp_path, tmp_path / "ev")
    assert result.status is Status.ERROR
    assert "does not exist" in result.explanation


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time;"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pidfile)!r}, 'w').write(str(c.pid));"
        "time.sleep(60)"
    )
    started = time.monotonic()
    result = run_gate(
        gate("command", ["{python}", "-c", script], timeout_s=2.0), tmp_path, tmp_path / "ev"
    )
    assert time.monotonic() - started < 15
    assert result.status is Status.ERROR
    assert "timed out after 2 s" in result.explanation
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child), "the gate's grandchild outlived the timeout"


def test_interruption_is_an_error_and_stops_the_rest(tmp_path: Path) -> None:
    started = tmp_path / "started"
    slow = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(30)"
    params = PreDeploymentParams(
        repo=tmp_path,
        candidate_ref=None,
        parallel=1,
        gates=[
            gate("command", ["{python}", "-c", slow], id="slow"),
            gate("command", ["true"], id="after"),
        ],
        coverage_layers=[],
    )
    main = threading.main_thread().ident
    assert main is not None

    def interrupt_once_the_gate_runs() -> None:  # as Ctrl-C in a notebook would
        deadline = time.monotonic() + 20
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        signal.pthread_kill(main, signal.SIGINT)

    operator = threading.Thread(target=interrupt_once_the_gate_runs)
    operator.start()
    results = run_gates(params, tmp_path / "ev")
    operator.join()
    assert [r.status for r in results] == [Status.ERROR, Status.ERROR]
    assert "interrupted" in results[0].explanation
    assert results[1].explanation == "not run: an earlier gate was interrupted"


def test_command_gate_passes_on_zero_and_fails_otherwise(tmp_path: Path) -> None:
    ok = run_gate(gate("command", ["{python}", "-c", "print('fine')"]), tmp_path, tmp_path / "ev")
    assert ok.status is Status.PASS
    assert (tmp_path / "ev" / ok.evidence["stdout"]).read_text() == "fine\n"
    bad = run_gate(
        gate("command", ["{python}", "-c", "import sys; sys.exit('broken thing')"]),
        tmp_path,
        tmp_path / "ev",
    )
    assert bad.status is Status.FAIL
    assert bad.observed == {"exit_code": 1} and "broken thing" in bad.explanation


def test_nonzero_exit_without_a_report_is_an_error(tmp_path: Path) -> None:
    fake_ruff = ["{python}", "-c", "import sys; print('Something went wrong'); sys.exit(1)"]
    result = run_gate(gate("ruff-check", fake_ruff), tmp_path, tmp_path / "ev")
    assert result.status is Status.ERROR
    assert "printed neither JSON nor findings: Something went wrong" in result.explanation


def test_old_mypy_refusing_json_output_is_an_error(tmp_path: Path) -> None:
    refuses = [
        "{python}",
        "-c",
        "import sys; sys.stderr.write('mypy: error: unrecognized arguments: --output=json\\n');"
        "sys.exit(2)",
    ]
    result = run_gate(gate("mypy", refuses), tmp_path, tmp_path / "ev")
    assert result.status is Status.ERROR
    assert "unrecognized arguments" in result.explanation


def test_pytest_with_no_tests_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    result = run_gate(
        gate("pytest", ["{python}", "-m", "pytest", "tests", "-p", "no:nbval"]),
        tmp_path,
        tmp_path / "ev",
    )
    assert result.status is Status.ERROR
    assert "collected no tests" in result.explanation


def test_pytest_collection_error_fails_with_the_module(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text("import no_such_module\n")
    result = run_gate(
        gate("pytest", ["{python}", "-m", "pytest", "test_broken.py", "-p", "no:nbval"]),
        tmp_path,
        tmp_path / "ev",
    )
    assert result.status is Status.FAIL
    assert result.observed["errors"] == 1
    assert "test_broken" in result.explanation


def test_stale_reports_are_never_judged(tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "test.gate.junit.xml").write_text(
        '<testsuites><testsuite><testcase classname="t" name="ok"/></testsuite></testsuites>'
    )
    result = run_gate(gate("pytest", ["/nonexistent/pytest"]), tmp_path, evidence)
    assert result.status is Status.ERROR
    assert not (evidence / "test.gate.junit.xml").exists()


def test_relative_python_is_the_targets_and_env_values_stay_out_of_evidence(
    tmp_path: Path,
) -> None:
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(sys.executable)
    probe = "import os; v = os.environ['PROBE_TOKEN']; assert v.startswith('abc-') and len(v) == 16"
    result = run_gate(
        gate("command", ["{python}", "-c", probe], env={"PROBE_TOKEN": "abc-secret-value"}),
        tmp_path,
        tmp_path / "ev",
        ["venv/bin/python"],
    )
    assert result.status is Status.PASS
    assert result.evidence["argv"][0] == str(tmp_path / "venv" / "bin" / "python")
    assert result.evidence["env_names"] == ["PROBE_TOKEN"]
    assert "abc-secret-value" not in result.model_dump_json()


@pytest.mark.parametrize("python", [None, [sys.executable]])
def test_python_placeholder_expands(tmp_path: Path, python: list[str] | None) -> None:
    result = run_gate(
        gate("command", ["{python}", "-c", "import sys; print(sys.executable)"]),
        tmp_path,
        tmp_path / "ev",
        python,
    )
    assert result.status is Status.PASS
    assert result.evidence["argv"][0] == sys.executable


def test_mypy_blocking_syntax_error_fails_with_its_code(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("x = (\n")
    result = run_gate(
        gate("mypy", ["{python}", "-m", "mypy", "--cache-dir=/dev/null", "broken.py"]),
        tmp_path,
        tmp_path / "ev",
    )
    assert result.evidence["exit_code"] == 2
    assert result.status is Status.FAIL
    assert result.observed == {"errors": 1, "by_code": {"syntax": 1}}


def _marking(tmp_path: Path, name: str, seconds: float) -> list[str]:
    """A command that records when it starts and ends (monotonic) into name.start / name.end."""
    script = (
        f"import pathlib, time; d = pathlib.Path({str(tmp_path)!r});"
        f"(d / '{name}.start').write_text(repr(time.monotonic())); time.sleep({seconds});"
        f"(d / '{name}.end').write_text(repr(time.monotonic()))"
    )
    return ["{python}", "-c", script]


def test_parallel_gates_overlap_and_keep_their_order(tmp_path: Path) -> None:
    params = PreDeploymentParams(
        repo=tmp_path, parallel=2, coverage_layers=[], candidate_ref=None,
        gates=[gate("command", _marking(tmp_path, n, 1.0), id=n) for n in ("a", "b", "c")],
    )  # fmt: skip
    results = run_gates(params, tmp_path / "ev")
    assert [r.id for r in results] == ["a", "b", "c"]
    assert all(r.status is Status.PASS for r in results)
    t = {f.name: float(f.read_text()) for f in tmp_path.glob("*.start")} | {
        f.name: float(f.read_text()) for f in tmp_path.glob("*.end")
    }
    assert t["b.start"] < t["a.end"] and t["a.start"] < t["b.end"]  # a and b at once
    assert t["c.start"] >= min(t["a.end"], t["b.end"])  # never more than two at once


def test_interrupting_parallel_gates_stops_the_running_ones_and_skips_the_rest(
    tmp_path: Path,
) -> None:
    params = PreDeploymentParams(
        repo=tmp_path, parallel=2, coverage_layers=[], candidate_ref=None,
        gates=[gate("command", _marking(tmp_path, n, 30), id=n) for n in ("a", "b", "c")],
    )  # fmt: skip
    main = threading.main_thread().ident
    assert main is not None

    def interrupt_once_both_run() -> None:
        deadline = time.monotonic() + 20
        while len(list(tmp_path.glob("*.start"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        signal.pthread_kill(main, signal.SIGINT)

    operator = threading.Thread(target=interrupt_once_both_run)
    operator.start()
    started = time.monotonic()
    results = run_gates(params, tmp_path / "ev")
    operator.join()
    assert time.monotonic() - started < 15  # the 30 s commands were stopped
    assert [r.status for r in results] == [Status.ERROR] * 3
    assert all("interrupted" in r.explanation for r in results[:2])
    assert results[2].explanation == "not run: an earlier gate was interrupted"
    assert not list(tmp_path.glob("*.end"))


def test_a_failed_command_quotes_the_exception_not_a_trailing_link(tmp_path: Path) -> None:
    """e.g. `alembic upgrade head`: SQLAlchemy prints a "Background on this error" link after
    the exception; the explanation quotes the exception."""
    script = (
        'import sys; sys.stderr.write(\'Traceback (most recent call last):\\n  File "x"\\n'
        'sqlalchemy.exc.NotSupportedError: extension "uuid-ossp" is not available\\n'
        "[SQL: CREATE EXTENSION]\\n(Background on this error at: https://sqlalche.me/e/20/x)\\n')"
        "; sys.exit(1)"
    )
    result = run_gate(gate("command", ["{python}", "-c", script]), tmp_path, tmp_path / "ev")
    assert result.status is Status.FAIL
    assert result.explanation == (
        'exited 1: sqlalchemy.exc.NotSupportedError: extension "uuid-ossp" is not available'
    )
    plain = run_gate(gate("command", ["{python}", "-c", "import sys; sys.exit('no database')"]),
                     tmp_path, tmp_path / "ev")  # fmt: skip
    assert plain.explanation == "exited 1: no database"
