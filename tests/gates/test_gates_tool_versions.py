"""Gates read output that is stable across tool versions, record each tool's version, and a
tool's warning never makes an ERROR. Parsers are fed real output of real ruff runs; a second,
older ruff is installed from PyPI into a throwaway venv (cached per version under the tmp
folder) to prove the ruff-format gate works where `--output-format` is refused or unstable."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from gates_support import SampleRun

from runbook.core.checks import Status
from runbook.phases.pre_deployment.gates.params import CODE_QUALITY, Gate
from runbook.phases.pre_deployment.gates.runner import run_gate
from runbook.phases.pre_deployment.gates.tool_reports import (
    parse_ruff_check,
    parse_ruff_format,
    parse_ruff_json,
    strip_ansi,
)

BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
OLD_RUFFS = ("0.6.9", "0.14.0")  # refuses --output-format on format / calls it unstable


def gate(kind: str, argv: list[str], id: str = "test.gate", **extra: object) -> Gate:
    return Gate.model_validate({"id": id, "title": id, "section": f"{CODE_QUALITY} — t",
                                "kind": kind, "argv": argv, **extra})  # fmt: skip


@pytest.fixture(scope="session")
def old_ruff(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """version -> a venv's python with that ruff (skipped when PyPI cannot be reached)."""
    root = Path(os.environ.get("RUNBOOK_TEST_RUFF_CACHE") or tmp_path_factory.getbasetemp()
                / "ruff-venvs")  # fmt: skip
    pythons: dict[str, Path] = {}
    for version in OLD_RUFFS:
        venv = root / version
        python = venv / "bin" / "python"
        if not (venv / "bin" / "ruff").exists():
            shutil.rmtree(venv, ignore_errors=True)
            env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
            env.pop("VIRTUAL_ENV", None)
            for argv in (["uv", "venv", "-q", "--python", BASE_PYTHON, str(venv)],
                         ["uv", "pip", "install", "-q", "--python", str(python),
                          f"ruff=={version}"]):  # fmt: skip
                done = subprocess.run(argv, capture_output=True, text=True, env=env,
                                      timeout=300, check=False)  # fmt: skip
                if done.returncode != 0:
                    pytest.fail(f"cannot install ruff {version}: {done.stderr.strip()[-300:]}")
        pythons[version] = python
    return pythons


@pytest.fixture
def unformatted(tmp_path: Path) -> Path:
    (tmp_path / "ugly.py").write_text("x = {'a':1}\n")
    (tmp_path / "fine.py").write_text("y = 1\n")
    return tmp_path


def ruff_format(python: Path | str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "ruff", "format", "--check", *extra, "."],
                          cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip


def test_format_text_of_this_ruff_is_parsed(unformatted: Path) -> None:
    done = ruff_format(sys.executable, unformatted)
    assert done.returncode == 1
    report = parse_ruff_format(done.stdout, done.stderr)
    assert report.count == 1 and report.files == ["ugly.py"] and report.summary_count == 1
    (unformatted / "broken.py").write_text("def f(:\n")
    broken = ruff_format(sys.executable, unformatted)
    assert broken.returncode == 2
    with_error = parse_ruff_format(broken.stdout, broken.stderr)
    assert with_error.files == ["ugly.py"] and with_error.errors
    assert "broken.py" in with_error.errors[0]


@pytest.mark.parametrize("version", OLD_RUFFS)
def test_format_text_of_an_older_ruff_is_parsed(
    version: str, old_ruff: dict[str, Path], unformatted: Path
) -> None:
    done = ruff_format(old_ruff[version], unformatted)
    assert "Would reformat: ugly.py" in done.stdout  # the older text format, really
    report = parse_ruff_format(done.stdout, done.stderr)
    assert report.count == 1 and report.files == ["ugly.py"]


@pytest.mark.parametrize("version", [*OLD_RUFFS, "venv"])
def test_format_gate_works_with_every_ruff(
    version: str, old_ruff: dict[str, Path], unformatted: Path, tmp_path: Path
) -> None:
    python = sys.executable if version == "venv" else str(old_ruff[version])
    result = run_gate(gate("ruff-format", ["{python}", "-m", "ruff", "format", "."]),
                      unformatted, tmp_path / "ev", [python])  # fmt: skip
    assert result.status is Status.FAIL, result.explanation
    assert result.explanation == "1 files to reformat: ugly.py"
    assert result.observed == {"files to reformat": 1}
    assert "--check" in result.evidence["argv"]
    assert result.evidence["tool_version"].startswith("ruff ")
    if version != "venv":
        assert result.evidence["tool_version"] == f"ruff {version}"
    (unformatted / "ugly.py").write_text('x = {"a": 1}\n')
    clean = run_gate(gate("ruff-format", ["{python}", "-m", "ruff", "format", "--check", "."]),
                     unformatted, tmp_path / "ev", [python])  # fmt: skip
    assert clean.status is Status.PASS, clean.explanation


def test_unstable_output_format_warning_is_no_error(
    old_ruff: dict[str, Path], unformatted: Path, tmp_path: Path
) -> None:
    """Finding 1 of the issue: ruff 0.14 warns that --output-format is unstable for the
    formatter and prints text; that is a FAIL with the count, never an ERROR."""
    argv = ["{python}", "-m", "ruff", "format", "--check", "--output-format=json", "."]
    result = run_gate(gate("ruff-format", argv), unformatted, tmp_path / "ev",
                      [str(old_ruff["0.14.0"])])  # fmt: skip
    assert result.status is Status.FAIL, result.explanation
    assert result.explanation == "1 files to reformat: ugly.py"
    assert any("unstable" in w for w in result.evidence["tool_warnings"])
    assert "\x1b" not in result.model_dump_json()


def test_ansi_escapes_never_reach_an_explanation(tmp_path: Path) -> None:
    shout = ("import sys; sys.stderr.write('warning: \\x1b[33mslow disk\\x1b[0m\\n"
             "\\x1b[1;31merror\\x1b[0m: it broke\\n'); sys.exit(3)")  # fmt: skip
    result = run_gate(gate("command", ["{python}", "-c", shout]), tmp_path, tmp_path / "ev")
    assert result.status is Status.FAIL
    assert result.explanation == "exited 3: error: it broke"
    assert result.evidence["tool_warnings"] == ["warning: slow disk"]
    assert strip_ansi("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x1b[2Kok") == "link ok"


def test_ruff_check_text_fallback_agrees_with_its_json(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("import os\nimport sys\n\nx = None\nif x == None:\n    pass\n")
    base = [sys.executable, "-m", "ruff", "check", "--isolated", "--select=F401,E711", "mod.py"]

    def run(*extra: str) -> str:
        return subprocess.run([*base, *extra], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, check=False).stdout  # fmt: skip

    as_json = parse_ruff_json(run("--output-format=json"))
    as_text = parse_ruff_check(run("--output-format=concise"))
    assert as_text.by_code == as_json.by_code == {"E711": 1, "F401": 2}
    assert as_text.summary_count == 3


def test_old_mypy_without_json_output_falls_back_to_text(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "mypy"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "if '--version' in sys.argv: print('mypy 1.8.0 (compiled: yes)'); sys.exit(0)\n"
        "if any(a.startswith('--output') for a in sys.argv):\n"
        "    sys.stderr.write('usage: mypy [-h]\\nmypy: error: unrecognized arguments: "
        "--output=json\\n'); sys.exit(2)\n"
        "print('app.py:3: error: Incompatible return value type  [return-value]')\n"
        "print('Found 1 error in 1 file (checked 2 source files)')\n"
        "sys.exit(1)\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    result = run_gate(gate("mypy", [str(fake), "."]), tmp_path, tmp_path / "ev")
    assert result.status is Status.FAIL, result.explanation
    assert result.observed == {"errors": 1, "by_code": {"return-value": 1}}
    assert result.evidence["mypy_output"].startswith("text")
    assert result.evidence["tool_version"] == "mypy 1.8.0 (compiled: yes)"
    assert "--show-error-codes" in result.evidence["argv"]


def test_every_sample_gate_records_its_tools_version(gate_matrix: dict[str, SampleRun]) -> None:
    results = gate_matrix["clean"].results
    expected = {"code.tests.utility": "pytest ", "code.tests.backend": "pytest ",
                "code.architecture": "pytest ", "code.lint": "ruff ", "code.types": "mypy ",
                "code.format": "ruff "}  # fmt: skip
    for check, prefix in expected.items():
        assert results[check].evidence["tool_version"].startswith(prefix), check
