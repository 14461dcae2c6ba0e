"""The candidate under test: a scratch `git worktree` of one commit, kept per repository.

The gates never run in the user's checkout: `candidate_worktree` checks the candidate ref out
(detached) in `<cache>/<repo-hash>/tree`, reusing the worktree of an earlier run of the same
repository — only its tracked files are reset and its untracked files cleaned, except the
environments and tool caches named in `keep` (.venv, .mypy_cache, ...), which is what makes a
second run fast. The checkout's uncommitted changes are listed (they are not tested). A lock
file keeps two runs of the same repository out of each other's worktree; cache entries of
repositories that no longer exist are removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from runbook.providers.git_refs import GitError, git, resolve_ref

CHECKOUT_TIMEOUT_S = 600.0
LOCK_WAIT_S = 600.0
SHOWN_CHANGES = 20


class Candidate(BaseModel):
    """Where the gates run and what they test."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str
    commit: str
    root: Path  # the candidate's copy of the target repository (gates' cwd is relative to it)
    worktree: Path
    reused: bool
    uncommitted: list[str]  # `git status --porcelain` lines of the user's checkout

    def evidence(self) -> dict[str, Any]:
        """What the results record about the tested candidate."""
        return {
            "ref": self.ref,
            "commit": self.commit,
            "worktree": str(self.worktree),
            "worktree_reused": self.reused,
            "uncommitted_in_checkout": len(self.uncommitted),
            "uncommitted_examples": self.uncommitted[:SHOWN_CHANGES],
        }

    def note(self) -> str:
        """'' or one sentence saying the checkout's uncommitted changes were not tested."""
        if not self.uncommitted:
            return ""
        return (f"tested commit {self.commit[:12]} ({self.ref}); the checkout's "
                f"{len(self.uncommitted)} uncommitted changes were not tested")  # fmt: skip


def repo_key(toplevel: Path) -> str:
    """The cache folder name of a repository: a hash of its absolute path."""
    return hashlib.sha256(str(toplevel).encode()).hexdigest()[:16]


def _toplevel(repo: Path) -> Path:
    if not repo.is_dir():
        raise GitError(f"the repository {repo} does not exist")
    done = git(repo, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise GitError(f"{repo} is not a git repository (the gates test a committed candidate)")
    return Path(done.stdout.decode().strip()).resolve()


def _common_dir(repo: Path) -> Path | None:
    done = git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir", check=False)
    return Path(done.stdout.decode().strip()).resolve() if done.returncode == 0 else None


def _uncommitted(repo: Path) -> list[str]:
    done = git(repo, "status", "--porcelain", "--untracked-files=normal", "--", ".", check=False)
    return [line for line in done.stdout.decode(errors="replace").splitlines() if line.strip()]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise GitError(f"another run holds {path} (waited {LOCK_WAIT_S:g} s)") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prune_cache(cache: Path) -> list[Path]:
    """Remove cache entries whose repository no longer exists (and nobody holds); returns them."""
    removed: list[Path] = []
    for entry in sorted(cache.glob("*/source")):
        folder = entry.parent
        try:
            source = Path(entry.read_text().strip())
        except OSError:
            continue
        if source.exists():
            continue
        with (folder / ".lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(folder / "tree", ignore_errors=True)
            entry.unlink(missing_ok=True)
        removed.append(folder)
    return removed


def _reset(tree: Path, commit: str, keep: Sequence[str]) -> None:
    git(tree, "checkout", "--quiet", "--force", "--detach", commit, timeout_s=CHECKOUT_TIMEOUT_S)
    excludes = [arg for pattern in keep for arg in ("-e", pattern)]
    git(tree, "clean", "-ffdxq", *excludes, timeout_s=CHECKOUT_TIMEOUT_S)


@contextmanager
def candidate_worktree(
    repo: Path, ref: str, cache: Path, keep: Sequence[str] = ()
) -> Iterator[Candidate]:
    """The candidate `ref` of `repo` checked out in its cached scratch worktree, locked while
    the caller uses it; GitError (with a sentence a person understands) when it cannot be."""
    toplevel = _toplevel(repo)
    inside = repo.resolve().relative_to(toplevel)
    commit = resolve_ref(repo, ref)
    uncommitted = _uncommitted(repo)
    cache = cache.absolute()
    cache.mkdir(parents=True, exist_ok=True)
    prune_cache(cache)
    folder = cache / repo_key(toplevel)
    tree = folder / "tree"
    with _locked(folder / ".lock"):
        (folder / "source").write_text(str(toplevel))
        reused = tree.is_dir() and _common_dir(tree) == _common_dir(toplevel)
        if reused:
            try:
                _reset(tree, commit, keep)
            except GitError:
                reused = False
        if not reused:
            shutil.rmtree(tree, ignore_errors=True)
            git(toplevel, "worktree", "prune")
            git(toplevel, "worktree", "add", "--quiet", "--detach", "--force", str(tree), commit,
                timeout_s=CHECKOUT_TIMEOUT_S)  # fmt: skip
        yield Candidate(ref=ref, commit=commit, root=tree / inside, worktree=tree,
                        reused=reused, uncommitted=uncommitted)  # fmt: skip
