"""The hash chain of an environment, verified end to end: `chain.jsonl` line by line against
every run's manifest, and every run's files against its manifest (`evidence.verify`).

What breaks a link, in chain order:
- a chain line that is not JSON, or repeats a run;
- a line whose previous_manifest_sha256 is not the line before it's manifest_sha256
  (a line reordered, edited, removed or inserted in chain.jsonl);
- a run directory or manifest gone (a run removed);
- a manifest whose sha256 is not the one in its line (a manifest edited), or whose own
  previous_manifest_sha256 / run_id / verdict disagree with its line;
- a run whose files no longer match its manifest (edited, removed or added files);
- a run whose signature does not hold (manifest.sig missing where the manifest says it was
  signed, or not by the trusted key when one is given: `runbook verify --chain ENV --key`).
And outside the chain: a finished run directory (with a manifest) that no line names
(a run inserted). Run directories without a manifest are unfinished runs, listed, not breaks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runbook.core import evidence as ev
from runbook.governance import signing

KIND_MALFORMED = "malformed-line"
KIND_DUPLICATE = "duplicate-run"
KIND_LINK = "broken-link"  # the line does not follow the previous line
KIND_REMOVED = "run-removed"
KIND_MANIFEST_EDITED = "manifest-edited"
KIND_MISMATCH = "manifest-disagrees"
KIND_FILES = "files-altered"
KIND_INSERTED = "run-not-in-chain"
KIND_SIGNATURE = "signature"


@dataclass(frozen=True)
class ChainProblem:
    """One broken link: where (chain line, 1-based; None outside the chain), which run, what."""

    line: int | None
    run_id: str | None
    kind: str
    detail: str

    def describe(self) -> str:
        where = f"line {self.line}" if self.line is not None else "outside the chain"
        return f"{where} (run {self.run_id}): {self.kind}: {self.detail}"


@dataclass
class ChainReport:
    """Everything `verify_chain` found; `first_broken` is the earliest problem in chain order."""

    env_dir: Path
    runs: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken(self) -> ChainProblem | None:
        in_chain = [p for p in self.problems if p.line is not None]
        if in_chain:
            return min(in_chain, key=lambda p: p.line or 0)
        return self.problems[0] if self.problems else None

    def lines(self) -> list[str]:
        out = [p.describe() for p in self.problems]
        return out + [f"unfinished run (no manifest, not judged): {r}" for r in self.unfinished]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_lines(env_dir: Path, report: ChainReport) -> list[tuple[int, dict[str, Any]]]:
    path = env_dir / ev.CHAIN
    if not path.is_file():
        return []
    entries = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if not text.strip():
            continue
        try:
            entry = json.loads(text)
            if (
                not isinstance(entry, dict)
                or not entry.get("run_id")
                or not isinstance(entry.get("manifest_sha256"), str)
            ):
                raise ValueError("not a chain entry")
        except ValueError as exc:
            report.problems.append(
                ChainProblem(
                    number, None, KIND_MALFORMED, f"{ev.CHAIN} line is not a chain entry ({exc})"
                )
            )
            continue
        entries.append((number, entry))
    return entries


def _check_entry(
    env_dir: Path,
    number: int,
    entry: dict[str, Any],
    previous: str | None,
    report: ChainReport,
    trusted: Ed25519PublicKey | None,
) -> None:
    run_id = str(entry["run_id"])

    def problem(kind: str, detail: str) -> None:
        report.problems.append(ChainProblem(number, run_id, kind, detail))

    if entry.get("previous_manifest_sha256") != previous:
        problem(
            KIND_LINK,
            "its previous_manifest_sha256 is not the manifest_sha256 of the line "
            "before it: a line was reordered, edited, inserted or removed",
        )
    run_dir = env_dir / run_id
    manifest_path = run_dir / ev.MANIFEST
    if not run_dir.is_dir() or not manifest_path.is_file():
        problem(
            KIND_REMOVED,
            f"{run_id}/{ev.MANIFEST} is gone"
            if run_dir.is_dir()
            else f"the run directory {run_id} is gone",
        )
        return
    raw = manifest_path.read_bytes()
    if _sha256(raw) != entry["manifest_sha256"]:
        problem(
            KIND_MANIFEST_EDITED,
            f"{run_id}/{ev.MANIFEST} does not hash to the chain's manifest_sha256",
        )
    try:
        manifest = json.loads(raw)
    except ValueError:
        problem(KIND_MANIFEST_EDITED, f"{run_id}/{ev.MANIFEST} is not JSON")
        return
    if manifest.get("run_id") != run_id:
        problem(KIND_MISMATCH, f"the manifest names run {manifest.get('run_id')!r}")
    if manifest.get("previous_manifest_sha256") != entry.get("previous_manifest_sha256"):
        problem(
            KIND_MISMATCH,
            "the manifest chains to a different previous manifest than its "
            "line (a run inserted or moved)",
        )
    if "verdict" in entry and manifest.get("verdict") != entry.get("verdict"):
        problem(
            KIND_MISMATCH,
            f"the line says {entry.get('verdict')!r}, the manifest {manifest.get('verdict')!r}",
        )
    files = ev.verify(run_dir)
    altered = (
        [f"edited: {p}" for p in files.edited]
        + [f"removed: {p}" for p in files.removed]
        + [f"added: {p}" for p in files.added]
    )
    if altered:
        problem(KIND_FILES, "; ".join(altered))
    signature = signing.verify_signature(run_dir, trusted)
    if not signature.ok:
        problem(KIND_SIGNATURE, signature.detail)


def verify_chain(env_dir: Path, trusted: Ed25519PublicKey | None = None) -> ChainReport:
    """Walk chain.jsonl and every run directory of one environment; name every broken link.
    `trusted`: every run must also be signed by this key."""
    env_dir = Path(env_dir)
    report = ChainReport(env_dir=env_dir)
    if not env_dir.is_dir():
        report.problems.append(
            ChainProblem(None, None, KIND_REMOVED, f"{env_dir}: no such environment directory")
        )
        return report
    with ev.env_lock(env_dir):  # a run finishing now writes its manifest and line together
        entries = _read_lines(env_dir, report)
        seen: set[str] = set()
        previous: str | None = None
        for number, entry in entries:
            run_id = str(entry["run_id"])
            if run_id in seen:
                report.problems.append(
                    ChainProblem(
                        number, run_id, KIND_DUPLICATE, "the run appears twice in the chain"
                    )
                )
            seen.add(run_id)
            _check_entry(env_dir, number, entry, previous, report, trusted)
            previous = entry["manifest_sha256"]
        report.runs = len(entries)
        for run_dir in sorted(p for p in env_dir.iterdir() if p.is_dir()):
            if run_dir.name.startswith(".") or run_dir.name in seen:
                continue
            if (run_dir / ev.MANIFEST).is_file():
                report.problems.append(
                    ChainProblem(
                        None,
                        run_dir.name,
                        KIND_INSERTED,
                        "a finished run directory that no line of the chain names",
                    )
                )
            else:
                report.unfinished.append(run_dir.name)
    return report
