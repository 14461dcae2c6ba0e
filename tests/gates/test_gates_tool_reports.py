"""Parsers, fed with real output of pytest, ruff and mypy generated here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runbook.phases.pre_deployment.gates.tool_reports import (
    ReportError,
    parse_junit,
    parse_mypy_json,
    parse_mypy_text,
    parse_ruff_json,
)

PY = sys.executable


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_junit_counts_every_outcome(tmp_path: Path) -> None:
    (tmp_path / "test_mixed.py").write_text(
        "import pytest\n\n"
        "@pytest.fixture\ndef broken():\n    raise RuntimeError('setup')\n\n"
        "def test_ok():\n    pass\n\n"
        "def test_bad():\n    assert 1 == 2\n\n"
        "def test_setup_error(broken):\n    pass\n\n"
        "@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n\n"
        "class TestGroup:\n    def test_in_class(self):\n        assert False\n"
    )
    done = run([PY, "-m", "pytest", "-p", "no:nbval", "--junitxml=j.xml", "-q"], tmp_path)
    assert done.returncode == 1
    report = parse_junit(tmp_path / "j.xml")
    assert (report.passed, report.failed, report.errors, report.skipped) == (1, 2, 1, 1)
    assert report.failing == [
        "test_mixed::test_bad",
        "test_mixed::test_setup_error",
        "test_mixed.TestGroup::test_in_class",
    ]


def test_junit_missing_or_broken_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="missing"):
        parse_junit(tmp_path / "absent.xml")
    (tmp_path / "cut.xml").write_text("<testsuites><testsuite>")
    with pytest.raises(ReportError, match="not valid XML"):
        parse_junit(tmp_path / "cut.xml")


def test_ruff_check_json_is_counted_by_rule(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("import os\nimport sys\n\nx = None\nif x == None:\n    pass\n")
    done = run(
        [
            PY,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select=F401,E711",
            "--output-format=json",
            "mod.py",
        ],
        tmp_path,
    )
    assert done.returncode == 1
    report = parse_ruff_json(done.stdout)
    assert report.by_code == {"E711": 1, "F401": 2}
    assert report.files == [str(tmp_path / "mod.py")]
    clean = run([PY, "-m", "ruff", "check", "--isolated", "--output-format=json", "--exit-zero",
                 "--select", "E9", "mod.py"], tmp_path)  # fmt: skip
    assert parse_ruff_json(clean.stdout).findings == []


def test_ruff_format_check_json_lists_files(tmp_path: Path) -> None:
    (tmp_path / "ugly.py").write_text("x = {'a':1}\n")
    (tmp_path / "fine.py").write_text('x = {"a": 1}\n')
    done = run(
        [PY, "-m", "ruff", "format", "--isolated", "--check", "--output-format=json", "."], tmp_path
    )
    assert done.returncode == 1
    report = parse_ruff_json(done.stdout, "ruff format")
    assert report.files == [str(tmp_path / "ugly.py")]
    assert report.by_code == {"unformatted": 1}


def test_ruff_text_output_is_not_a_report() -> None:
    with pytest.raises(ReportError, match="did not print a JSON report"):
        parse_ruff_json("Would reformat: ugly.py\n1 file would be reformatted\n")
    with pytest.raises(ReportError, match="not a list"):
        parse_ruff_json('{"files": []}')


MYPY_SOURCE = (
    "import missing_module_xyz\n\n"
    "def f(x: int) -> str:\n    return x\n\n"
    "y: int = 'a'\n"
    "reveal_type(y)\n"
)


@pytest.fixture(scope="module")
def mypy_outputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("mypy")
    (folder / "m.py").write_text(MYPY_SOURCE)
    base = [PY, "-m", "mypy", "--no-incremental", "--cache-dir=/dev/null", "m.py"]
    as_json = run([*base, "--output=json"], folder)
    as_text = run([*base, "--show-error-codes", "--no-pretty", "--no-color-output"], folder)
    assert as_json.returncode == as_text.returncode == 1
    return as_json.stdout, as_text.stdout


def test_mypy_json_counts_errors_by_code(mypy_outputs: tuple[str, str]) -> None:
    report = parse_mypy_json(mypy_outputs[0])
    assert report.by_code == {"assignment": 1, "import-not-found": 1, "return-value": 1}
    assert report.unparsed_lines == []


def test_mypy_text_agrees_with_json(mypy_outputs: tuple[str, str]) -> None:
    text = parse_mypy_text(mypy_outputs[1])
    assert text.by_code == parse_mypy_json(mypy_outputs[0]).by_code
    assert text.summary_count == 3
    assert [f.line for f in text.findings] == [1, 4, 6]


def test_mypy_text_summary_must_match_the_lines(mypy_outputs: tuple[str, str]) -> None:
    tampered = "\n".join(
        line for line in mypy_outputs[1].splitlines() if "return-value" not in line
    )
    with pytest.raises(ReportError, match="reported 3 errors but 2"):
        parse_mypy_text(tampered)


def test_mypy_text_keeps_lines_it_cannot_read() -> None:
    report = parse_mypy_text("m.py:3: error: Bad thing  [misc]\nsomething odd happened\n")
    assert report.by_code == {"misc": 1}
    assert report.unparsed_lines == ["something odd happened"]
