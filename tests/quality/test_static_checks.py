"""The code's own quality gates, run as part of `uv run pytest` (so `.ci/run` runs them): the
import contract (the product never imports the rehearsal), ruff's lint and format, and mypy
with the pydantic plugin on both packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], cwd=ROOT, capture_output=True, text=True, timeout=900
    )


def test_the_product_never_imports_the_rehearsal() -> None:
    done = _run("lint-imports", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", "--no-cache", "lib", "rehearsal/src", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_code_is_formatted() -> None:
    done = _run("ruff", "format", "--check", "--no-cache", "lib", "rehearsal/src", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_no_type_error() -> None:
    done = _run("mypy")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
