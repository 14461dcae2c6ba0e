"""nbval (--nbval-lax) over every runbook notebook, as a person opens them with `runbook lab`:
default parameters cell, the local stand-ins running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runbook.orchestration.lab import prepared_environment


def test_notebooks_execute_cleanly_under_nbval(repo_root: Path, tmp_path: Path) -> None:
    notebooks = sorted((repo_root / "runbooks").glob("*.ipynb"))
    assert notebooks, "no notebooks under runbooks/"
    with prepared_environment("local", []):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--nbval-lax",
                "-p",
                "no:cacheprovider",
                "-q",
                "-n",
                "0",
                "--nbval-cell-timeout=300",
                "--rootdir",
                str(tmp_path),
                *map(str, notebooks),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
            check=False,
        )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
    assert "failed" not in proc.stdout
