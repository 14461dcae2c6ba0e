"""nbval (--nbval-lax) over every runbook notebook, run as a person would open them: default
parameters, against a real sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_notebooks_execute_cleanly_under_nbval(repo_root: Path, live_sandbox, sandbox_token,
                                               tmp_path: Path) -> None:
    notebooks = sorted((repo_root / "runbooks").glob("*.ipynb"))
    assert notebooks, "no notebooks under runbooks/"
    env = dict(os.environ)
    env["PIXCRAWLER_SANDBOX_TOKEN"] = sandbox_token
    env["RUNBOOK_OVERRIDES"] = f"target.base_url={live_sandbox.url}"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         "--nbval-cell-timeout=120", "--rootdir", str(tmp_path), *map(str, notebooks)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
