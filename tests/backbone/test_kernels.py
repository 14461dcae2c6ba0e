"""Kernels warmed ahead of their phase: what a warm kernel has imported, that a notebook run in
it cannot tell (same folder, counts, namespace), that unused kernels are shut down, and that
the phases' steps run pre-deployment beside environment but nothing beside the load probe."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import nbformat
import papermill
import pytest

from runbook.orchestration import phase_plan as ph
from runbook.orchestration.kernels import (
    BackgroundLane,
    KernelPool,
    KernelRecipe,
    notebook_imports,
    start_warm_kernel,
    warm_code,
)

ROOT = Path(__file__).resolve().parents[2]


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_notebook_imports_are_the_top_level_imports_of_code_cells(tmp_path: Path) -> None:
    nb = _notebook(
        tmp_path / "in.ipynb",
        "from runbook.phases.deploy import api\nimport json as j, colorsys",
        "%matplotlib inline\nimport wave",  # not plain Python: skipped
        "def f():\n    import zipfile\nfrom . import nothing",
    )
    assert notebook_imports(nb) == [
        "runbook.phases.deploy.api",
        "runbook.phases.deploy",
        "json",
        "colorsys",
    ]


def test_warm_code_imports_and_leaves_no_names_behind() -> None:
    space: dict = {}
    exec(warm_code(["colorsys", "no_such_module_anywhere", "colorsys"]), space)
    import sys

    assert "colorsys" in sys.modules
    assert [k for k in space if not k.startswith("__")] == []


def test_a_notebook_in_a_warm_kernel_runs_as_in_a_fresh_one(tmp_path: Path) -> None:
    source = _notebook(
        tmp_path / "in.ipynb",
        "import os, sys\n"
        "print(os.getcwd(), 'colorsys' in sys.modules, "
        "sorted(k for k in globals() if k.startswith('_rb')))",
        "6 * 7",
    )
    kernel = start_warm_kernel(
        KernelRecipe("python3", tmp_path, ("--IPKernelApp.log_level=ERROR",), ("colorsys",))
    )
    pid = kernel.manager.provisioner.process.pid
    try:
        papermill.execute_notebook(
            str(source),
            str(tmp_path / "out.ipynb"),
            kernel_name="python3",
            km=kernel.manager,
            progress_bar=False,
        )
    finally:
        kernel.close()
    out = json.loads((tmp_path / "out.ipynb").read_text())
    cells = [c for c in out["cells"] if c["cell_type"] == "code"]
    assert cells[0]["outputs"][0]["text"] == [f"{tmp_path} True []\n"]
    assert [c["execution_count"] for c in cells] == [1, 2]  # the warm-up was silent
    assert cells[1]["outputs"][0]["execution_count"] == 2
    assert not _alive(pid)


def test_a_kernel_prepared_for_a_phase_that_does_not_run_is_shut_down() -> None:
    lane = BackgroundLane()
    pool = KernelPool(lane)
    pool.prepare("verify", KernelRecipe("python3", ROOT))
    kernel = pool.take("verify", timeout_s=180)  # a generous bound: CI's machine is busy
    assert kernel is not None, pool.missed
    pid = kernel.manager.provisioner.process.pid
    assert _alive(pid)
    kernel.close()
    pool.prepare("deploy", KernelRecipe("python3", ROOT))
    future = pool._ahead["deploy"]
    warmed = future.result(timeout=180)
    other = warmed.manager.provisioner.process.pid
    pool.close()  # not taken: shut down
    lane.quiet()
    deadline = time.monotonic() + 10
    while _alive(other) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid) and not _alive(other)
    assert pool.take("nothing-prepared", timeout_s=1) is None


def test_a_kernel_that_cannot_start_is_not_used() -> None:
    lane = BackgroundLane()
    pool = KernelPool(lane)
    pool.prepare("verify", KernelRecipe("no-such-kernel-spec", ROOT))
    assert pool.take("verify", timeout_s=30) is None  # papermill then starts (and reports) it


def test_quiet_waits_for_everything_already_in_the_background() -> None:
    lane = BackgroundLane()
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.5)
        finished.set()

    lane.submit(slow)
    lane.quiet()
    assert finished.is_set()
    lane.close_when_idle()


def test_pre_deployment_runs_beside_environment_and_nothing_beside_performance() -> None:
    steps = [[p.name for p in s] for s in ph.steps(list(ph.PHASES))]
    assert steps[0] == ["pre-deployment", "environment"]
    assert ["performance"] in steps and ["deploy"] in steps  # alone: quiet / changes target
    assert [name for step in steps for name in step] == [p.name for p in ph.PHASES]
    only = [
        [p.name for p in s] for s in ph.steps([ph.BY_NAME["environment"], ph.BY_NAME["verify"]])
    ]
    assert only == [["environment"], ["verify"]]


@pytest.mark.parametrize("phase", ph.PHASES, ids=lambda p: p.name)
def test_every_phase_warms_modules_that_exist(phase: ph.Phase) -> None:
    import importlib.util

    for name in (*notebook_imports(phase.path(ROOT)), *phase.warm):
        top = name.split(".")[0]
        assert importlib.util.find_spec(top) is not None, name


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _flaky_kernelspec(tmp_path: Path, deaths: int) -> Path:
    """A kernelspec whose first `deaths` starts die at once (as a kernel that lost its port
    does), then a real ipykernel."""
    spec = tmp_path / "share" / "jupyter" / "kernels" / "flaky"
    spec.mkdir(parents=True)
    starts = tmp_path / "starts.log"
    script = tmp_path / "flaky_kernel.py"
    script.write_text(
        "import pathlib, sys\n"
        f"log = pathlib.Path({str(starts)!r})\n"
        "n = len(log.read_text().splitlines()) if log.exists() else 0\n"
        "log.write_text(log.read_text() + 'start\\n' if log.exists() else 'start\\n')\n"
        f"if n < {deaths}:\n    sys.exit(1)\n"
        "from ipykernel import kernelapp\nkernelapp.launch_new_instance()\n"
    )
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, str(script), "-f", "{connection_file}"],
                "display_name": "flaky",
                "language": "python",
            }
        )
    )
    return starts


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path: Path, monkeypatch) -> None:
    starts = _flaky_kernelspec(tmp_path, deaths=1)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    kernel = start_warm_kernel(KernelRecipe("flaky", ROOT, start_timeout_s=60))
    try:
        assert starts.read_text().splitlines() == ["start", "start"]
    finally:
        kernel.close()


def test_a_kernel_that_never_starts_is_an_error_after_three_tries(
    tmp_path: Path, monkeypatch
) -> None:
    starts = _flaky_kernelspec(tmp_path, deaths=99)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    with pytest.raises(RuntimeError, match="died before replying to kernel_info"):
        start_warm_kernel(KernelRecipe("flaky", ROOT, start_timeout_s=60))
    assert len(starts.read_text().splitlines()) == 3


def test_papermills_own_kernel_that_dies_at_start_is_started_again(
    tmp_path: Path, monkeypatch
) -> None:
    from runbook.orchestration.phase_exec import _execute_with_start_retry

    starts = _flaky_kernelspec(tmp_path, deaths=1)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    nb = _notebook(tmp_path / "in.ipynb", "print(6 * 7)")
    _execute_with_start_retry(
        papermill.execute_notebook,
        True,
        str(nb),
        str(tmp_path / "out.ipynb"),
        kernel_name="flaky",
        progress_bar=False,
        start_timeout=60,
    )
    out = json.loads((tmp_path / "out.ipynb").read_text())
    assert out["cells"][0]["outputs"][0]["text"] == ["42\n"]
    assert starts.read_text().splitlines() == ["start", "start"]
