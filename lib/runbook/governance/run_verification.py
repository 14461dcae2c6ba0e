"""One run directory verified wherever it is: its files against its manifest (always), its
manifest against a hash chain (when one is at hand: given, or the chain.jsonl of the folder it
sits in), and its signature (when it has one, or when a trusted public key is given). Each part
says what it checked, so a reviewer can tell a moved run (standalone, OK) from a forged one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from runbook.core import evidence as ev
from runbook.governance import signing

CHAIN_OK = "ok"
CHAIN_FAILED = "failed"
CHAIN_NONE = "not-available"


@dataclass(frozen=True)
class ChainFinding:
    """The chain part: CHAIN_OK / CHAIN_FAILED / CHAIN_NONE and the sentence to show."""

    status: str
    detail: str
    position: ev.ChainPosition | None = None


@dataclass(frozen=True)
class RunVerification:
    """Everything `verify_run_dir` found about one run directory."""

    run_dir: Path
    files: ev.VerifyReport
    chain: ChainFinding
    signature: signing.SignatureFinding | None  # None: not checked (the files did not verify)

    @property
    def ok(self) -> bool:
        """Files intact, no chain problem, and the signature fine (see SignatureFinding.ok)."""
        return (
            self.files.ok
            and self.chain.status != CHAIN_FAILED
            and (self.signature is None or self.signature.ok)
        )

    def failed_parts(self) -> list[str]:
        """The parts that did not hold: 'files vs manifest', 'chain', 'signature'."""
        out = [] if self.files.ok else ["files vs manifest"]
        out += ["chain"] if self.chain.status == CHAIN_FAILED else []
        return out + (["signature"] if self.signature and not self.signature.ok else [])

    @property
    def standalone(self) -> bool:
        return self.chain.status == CHAIN_NONE

    def lines(self) -> list[str]:
        """One line per part ('files vs manifest: …', 'chain: …', 'signature: …'), each file
        problem on its own line below the first."""
        if self.files.ok:
            out = [f"files vs manifest: OK ({self.files.files} files, every sha256 equal)"]
        else:
            out = ["files vs manifest: FAILED"] + [f"  {line}" for line in self.files.lines()]
        out.append(f"chain: {self.chain.detail}")
        if self.signature is not None:
            out.append(f"signature: {self.signature.detail}")
        return out


def verify_run_dir(
    run_dir: Path,
    chain: Path | None = None,
    public_key: Path | None = None,
    *,
    find_chain: bool = True,
) -> RunVerification:
    """Verify a run directory on its own, against `chain` (a chain.jsonl; None: the one beside
    the run directory, if any and `find_chain`), and its signature (by `public_key`, a trusted
    public key file, when given). Raises signing.SigningKeyError for an unusable key file."""
    run_dir = Path(run_dir)
    trusted = signing.load_public_key(public_key) if public_key is not None else None
    files = ev.verify_files(run_dir)
    manifest = run_dir / ev.MANIFEST
    if not manifest.is_file() or any("not a valid manifest" in p for p in files.problems):
        return RunVerification(
            run_dir, files, ChainFinding(CHAIN_NONE, "not checked: no readable manifest"), None
        )
    raw = manifest.read_bytes()
    return RunVerification(
        run_dir,
        files,
        _chain_finding(run_dir, raw, chain, find_chain),
        signing.verify_signature(run_dir, trusted),
    )


def _chain_finding(
    run_dir: Path, manifest_raw: bytes, chain: Path | None, find_chain: bool
) -> ChainFinding:
    if chain is None:
        beside = run_dir.parent / ev.CHAIN
        if not (find_chain and beside.is_file()):
            return ChainFinding(CHAIN_NONE, "not available — verified standalone")
        if not _chain_of(run_dir, manifest_raw, beside):
            return ChainFinding(
                CHAIN_NONE,
                f"not available — {beside} is another chain (the run was copied beside it); "
                "verified standalone (--chain-file to check against it)",
            )
        chain = beside
    if not chain.is_file():
        return ChainFinding(CHAIN_FAILED, f"FAILED: {chain}: no such chain file")
    position = ev.locate_in_chain(chain, manifest_raw)
    if position.problem is not None:
        return ChainFinding(CHAIN_FAILED, f"FAILED ({chain}): {position.problem}", position)
    return ChainFinding(
        CHAIN_OK, f"OK (entry {position.line} of {position.entries} in {chain})", position
    )


def _chain_of(run_dir: Path, manifest_raw: bytes, chain: Path) -> bool:
    """Whether the chain beside a run is the run's own: it sits in an environment folder of the
    run's environment (`outputs/<env>/`, where a run missing from the chain is an insertion), or
    it names the run. A copy dropped beside an unrelated chain is judged on its own."""
    try:
        manifest = json.loads(manifest_raw)
        environment, run_id = manifest.get("environment"), manifest.get("run_id")
    except (ValueError, AttributeError):
        return True  # not a manifest: the chain check reports it
    if run_dir.parent.name == environment:
        return True
    try:
        text = chain.read_text(encoding="utf-8")
    except OSError:
        return True  # unreadable: the chain check reports it
    return f'"run_id": "{run_id}"' in text or f'"run_id":"{run_id}"' in text
