"""Real git in tests: one helper for every test that builds a repository in a tmp folder."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a throwaway identity; its stdout, stripped (raises on failure)."""
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-C", str(repo), *args],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
