"""Read a git repository at a base ref (argv subprocesses, never a shell)."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 60.0


class GitError(RuntimeError):
    """git could not answer (no repository, unknown ref, missing binary, timeout)."""


def git(
    repo: Path, *args: str, check: bool = True, timeout_s: float = GIT_TIMEOUT_S
) -> subprocess.CompletedProcess[bytes]:
    """Run `git -C repo args...`; raises GitError when git fails and `check` is set."""
    argv = ["git", "-C", str(repo), *args]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s, shell=False,
                              check=False)  # fmt: skip
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} timed out after {timeout_s:g} s") from None
    if check and done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(
            f"git {' '.join(args)} failed: {message[-1] if message else done.returncode}"
        )
    return done


def resolve_ref(repo: Path, ref: str) -> str:
    """The commit id a ref names; GitError when it names none."""
    if ref.startswith("-"):
        raise GitError(f"refusing a ref that looks like an option: {ref!r}")
    done = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if done.returncode != 0:
        raise GitError(f"{ref!r} is not a commit in {repo}")
    return done.stdout.decode().strip()


def exists_at(repo: Path, commit: str, path: str) -> bool:
    """Whether `path` is a file at `commit`."""
    return git(repo, "cat-file", "-e", f"{commit}:{path}", check=False).returncode == 0


def changed_since(repo: Path, commit: str, path: str) -> bool:
    """Whether `path` differs between `commit` and the working tree (`git diff --name-only`),
    or is new since `commit`."""
    if not exists_at(repo, commit, path):
        return (repo / path).exists()
    done = git(repo, "diff", "--name-only", commit, "--", path)
    return bool(done.stdout.strip())


def files_at(repo: Path, commit: str, folder: str) -> dict[str, bytes]:
    """Path -> content of the files directly in `folder` at `commit` (git ls-tree, git show)."""
    listing = git(repo, "ls-tree", "--name-only", f"{commit}:{folder}", check=False)
    if listing.returncode != 0:
        return {}
    files: dict[str, bytes] = {}
    for name in listing.stdout.decode().splitlines():
        path = f"{folder.rstrip('/')}/{name}"
        kind = git(repo, "cat-file", "-t", f"{commit}:{path}").stdout.decode().strip()
        if kind == "blob":
            files[path] = git(repo, "show", f"{commit}:{path}").stdout
    return files
