"""Checklist-form defaults, side-by-side scheduling with locks, and the gates cell's budget
(derived from the gate timeouts, honoured by a real kernel through papermill)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from runbook.core.checks import Status
from runbook.orchestration.phase_exec import GATES_BUDGET, cell_timeout_func
from runbook.phases.pre_deployment.gates.params import CODE_QUALITY, Gate, PreDeploymentParams
from runbook.phases.pre_deployment.gates.runner import (
    BUDGET_MARGIN_S,
    KILL_GRACE_S,
    VERSION_TIMEOUT_S,
    cell_budget_s,
    expand_argv,
    gate_argv,
    run_gates,
)

ROOT = Path(__file__).resolve().parents[2]


def test_default_gates_are_the_checklists_commands(tmp_path: Path) -> None:
    params = PreDeploymentParams(repo=tmp_path)
    assert params.parallel == 2 and params.candidate_ref == "HEAD"
    shown = {g.id: (g.cwd, expand_argv(g.argv, tmp_path, params.python, params.runner))
             for g in params.gates}  # fmt: skip
    assert shown == {
        "code.tests.utility": ("utility", ["uv", "run", "pytest", "--cov=utility"]),
        "code.tests.backend": ("backend", ["uv", "run", "pytest", "--cov=backend",
                                           "--ignore=tests/test_architecture.py"]),
        "code.architecture": ("backend", ["uv", "run", "pytest", "tests/test_architecture.py",
                                          "-v"]),
        "code.lint": (".", ["uv", "run", "ruff", "check", "."]),
        "code.types": (".", ["uv", "run", "mypy", "backend/"]),
        "code.format": (".", ["uv", "run", "ruff", "format", "--check", "."]),
    }  # fmt: skip
    fmt = gate_argv(params.gates[-1], tmp_path, tmp_path, None, params.runner)
    assert "--output-format=json" not in fmt and fmt.count("--check") == 1


def test_runner_prefix_may_use_the_python_placeholder(tmp_path: Path) -> None:
    params = PreDeploymentParams(repo=tmp_path, runner=["{python}", "-m"],
                                 python=["venv/bin/python"])  # fmt: skip
    argv = expand_argv(params.gates[3].argv, tmp_path, params.python, params.runner)
    assert argv == [str(tmp_path / "venv/bin/python"), "-m", "ruff", "check", "."]
    with pytest.raises(ValueError, match="cannot contain"):
        PreDeploymentParams(repo=tmp_path, runner=["{run}"])
    with pytest.raises(ValueError, match="whole argv element"):
        PreDeploymentParams(repo=tmp_path, runner=["x{python}"])


def marking(tmp_path: Path, name: str, seconds: float) -> list[str]:
    script = (f"import pathlib, time; d = pathlib.Path({str(tmp_path)!r});"
              f"(d / '{name}.start').write_text(repr(time.monotonic())); time.sleep({seconds});"
              f"(d / '{name}.end').write_text(repr(time.monotonic()))")  # fmt: skip
    return ["{python}", "-c", script]


def gate(id: str, argv: list[str], **extra: object) -> Gate:
    return Gate.model_validate({"id": id, "title": id, "section": f"{CODE_QUALITY} — t",
                                "kind": "command", "argv": argv, **extra})  # fmt: skip


def test_gates_sharing_a_lock_never_overlap_while_others_run_beside(tmp_path: Path) -> None:
    gates = [gate("db-a", marking(tmp_path, "a", 0.8), locks=["db"]),
             gate("db-b", marking(tmp_path, "b", 0.8), locks=["db"]),
             gate("free", marking(tmp_path, "c", 0.8))]  # fmt: skip
    params = PreDeploymentParams(repo=tmp_path, gates=gates, coverage_layers=[], parallel=2,
                                 candidate_ref=None)  # fmt: skip
    results = run_gates(params, tmp_path / "ev")
    assert [r.status for r in results] == [Status.PASS] * 3
    t = {f.name: float(f.read_text()) for f in tmp_path.glob("*.*") if f.suffix in
         (".start", ".end")}  # fmt: skip
    assert t["b.start"] >= t["a.end"]  # the lock: one after the other
    assert t["c.start"] < t["a.end"]  # the free gate ran beside the first


def test_a_gate_starts_only_after_the_gates_it_needs_passed(tmp_path: Path) -> None:
    """The test database's migration first, then the tests; the free gate runs beside."""
    gates = [gate("free", marking(tmp_path, "c", 0.8)),
             gate("db.migrate", marking(tmp_path, "m", 0.8)),
             gate("code.tests", marking(tmp_path, "t", 0.2), needs=["db.migrate"])]  # fmt: skip
    params = PreDeploymentParams(repo=tmp_path, gates=gates, coverage_layers=[], parallel=2,
                                 candidate_ref=None)  # fmt: skip
    results = run_gates(params, tmp_path / "ev")
    assert [r.status for r in results] == [Status.PASS] * 3
    t = {f.name: float(f.read_text()) for f in tmp_path.glob("*.*") if f.suffix in
         (".start", ".end")}  # fmt: skip
    assert t["t.start"] >= t["m.end"]  # never before its need finished
    assert t["c.start"] < t["m.end"]  # the free gate ran beside the migration
    assert results[2].evidence["needs"] == ["db.migrate"]
    one_slot = params.model_copy(update={"parallel": 1})
    run_gates(one_slot, tmp_path / "ev1")
    t = {f.name: float(f.read_text()) for f in tmp_path.glob("*.*") if f.suffix in
         (".start", ".end")}  # fmt: skip
    assert t["m.end"] <= t["c.start"]  # a needed gate starts first, though listed after


def test_a_gate_whose_need_failed_is_an_error_not_run(tmp_path: Path) -> None:
    gates = [gate("db.migrate", ["{python}", "-c", "import sys; sys.exit('no database')"]),
             gate("code.tests", ["{python}", "-c", "open('ran', 'w')"], needs=["db.migrate"]),
             gate("after", ["true"], needs=["code.tests"])]  # fmt: skip
    params = PreDeploymentParams(repo=tmp_path, gates=gates, coverage_layers=[], parallel=2,
                                 candidate_ref=None)  # fmt: skip
    migrate, tests, after = run_gates(params, tmp_path / "ev")
    assert migrate.status is Status.FAIL
    assert tests.status is Status.ERROR and not (tmp_path / "ran").exists()
    assert tests.explanation == ("not run: it needs db.migrate to pass first, which is FAIL: "
                                 "exited 1: no database")  # fmt: skip
    assert after.status is Status.ERROR and "needs code.tests" in after.explanation


def test_needs_name_earlier_gates(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'code.tests' needs \['db.migrate'\]"):
        PreDeploymentParams(
            repo=tmp_path,
            coverage_layers=[],
            gates=[
                gate("code.tests", ["true"], needs=["db.migrate"]),
                gate("db.migrate", ["true"]),
            ],
        )


def test_budget_covers_a_chain_of_needs(tmp_path: Path) -> None:
    gates = [gate("a", ["true"], timeout_s=100), gate("b", ["true"], timeout_s=100, needs=["a"]),
             gate("c", ["true"], timeout_s=100, needs=["b"])]  # fmt: skip
    params = PreDeploymentParams(repo=tmp_path, gates=gates, coverage_layers=[], parallel=2)
    each = 100 + VERSION_TIMEOUT_S + 2 * KILL_GRACE_S
    assert cell_budget_s(params) == pytest.approx(3 * each / 2 + 3 * each + BUDGET_MARGIN_S,
                                                  abs=0.1)  # fmt: skip


def test_budget_covers_every_timeout_shared_over_the_slots(tmp_path: Path) -> None:
    gates = [gate("a", ["true"], timeout_s=100, locks=["db"]),
             gate("b", ["true"], timeout_s=100, locks=["db"]),
             gate("c", ["true"], timeout_s=300)]  # fmt: skip
    params = PreDeploymentParams(repo=tmp_path, gates=gates, coverage_layers=[], parallel=2)
    each = VERSION_TIMEOUT_S + 2 * KILL_GRACE_S
    total = 500 + 3 * each
    chain = max(300 + each, 200 + 2 * each)
    assert cell_budget_s(params) == pytest.approx(total / 2 + chain + BUDGET_MARGIN_S, abs=0.1)
    default = PreDeploymentParams(repo=tmp_path)
    assert cell_budget_s(default) > sum(g.timeout_s for g in default.gates) / default.parallel


def test_timeout_func_gives_only_the_gates_cell_its_budget() -> None:
    timeout = cell_timeout_func(120, {GATES_BUDGET: 3000.5})
    gates_cell = nbformat.v4.new_code_cell(
        "x", metadata={"runbook": {"timeout_budget": GATES_BUDGET}}
    )
    assert timeout(gates_cell) == 3001
    assert timeout(nbformat.v4.new_code_cell("y")) == 120
    unknown = nbformat.v4.new_code_cell("z", metadata={"runbook": {"timeout_budget": "other"}})
    assert timeout(unknown) == 120


def test_the_pre_deployment_notebook_marks_its_gates_cell() -> None:
    nb = nbformat.read(ROOT / "runbooks" / "01_pre_deployment.ipynb", as_version=4)
    marked = [c for c in nb.cells if c.metadata.get("runbook", {}).get("timeout_budget")]
    assert [c.metadata["runbook"]["timeout_budget"] for c in marked] == [GATES_BUDGET]
    assert "run_gates" in marked[0].source


def test_a_real_kernel_lets_the_budgeted_cell_outlive_the_cell_timeout(tmp_path: Path) -> None:
    import papermill
    from nbclient.exceptions import CellTimeoutError

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    nb.cells = [
        nbformat.v4.new_code_cell("import time; time.sleep(4); print('budgeted cell done')",
                                  metadata={"runbook": {"timeout_budget": GATES_BUDGET}}),
        nbformat.v4.new_code_cell("time.sleep(30)"),
    ]  # fmt: skip
    source = tmp_path / "in.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(CellTimeoutError) as caught:
        papermill.execute_notebook(
            str(source), str(tmp_path / "out.ipynb"), kernel_name="python3",
            execution_timeout=2, progress_bar=False, start_timeout=120,
            timeout_func=cell_timeout_func(2, {GATES_BUDGET: 120}),
        )  # fmt: skip
    assert "time.sleep(30)" in str(caught.value)  # the plain cell hit the 2 s timeout
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert "budgeted cell done" in out.cells[0].outputs[0]["text"]  # 4 s > 2 s, it finished
