"""Evidence on disk: run directories that never collide, results read back from executed
notebooks, the manifest with a sha256 of every file, the per-environment hash chain, and
`verify`, which recomputes it all.

Layout of a run:  outputs/<env>/<run-id>/{manifest.json, report.html, notebooks/, evidence/}
Chain of an env:  outputs/<env>/chain.jsonl, one line per finished run (append-only).

A file that cannot be written (disk full, file too large, quota) raises EvidenceWriteError
naming it; nothing is left half-written: files are replaced atomically, a chain line is
appended whole or not at all, and a manifest whose chain line failed is taken back, so the run
stays unfinished and every earlier run still verifies.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import secrets as _random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbook.core.checks import CHECK_MIME, CheckResult
from runbook.core.evidence_store import EvidenceStoreParams
from runbook.core.secret_refs import SecretRef

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"  # written after the manifest (runbook.governance.signing)
CHAIN = "chain.jsonl"
MANIFEST_SCHEMA_VERSION = 1
OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class EvidenceParams(BaseModel):
    """Parameters section `evidence`: how a run's evidence is signed (and kept)."""

    model_config = ConfigDict(extra="forbid")

    signing_key: SecretRef | None = Field(
        None,
        description="Ed25519 private key that signs manifest.json (PEM PKCS#8, or the raw "
        "32-byte key in base64), named by a secret reference; `runbook keygen` makes one",
    )
    require_signature: bool = Field(
        False, description="a run that cannot sign its manifest is INCOMPLETE (fail closed)"
    )
    store: EvidenceStoreParams | None = Field(
        None,
        description="Azure Blob Storage container every finished run is copied to (append-only); "
        "`runbook list/verify/rejudge --store ENV` and the promotion gate read it back",
    )

    @model_validator(mode="after")
    def _required_needs_a_key(self) -> EvidenceParams:
        """Requiring a signature without naming the key could only ever fail."""
        if self.require_signature and self.signing_key is None:
            raise ValueError(
                "evidence.require_signature is true but evidence.signing_key names no key "
                "(e.g. signing_key: {env: RUNBOOK_SIGNING_KEY})"
            )
        return self


class EvidenceWriteError(OSError):
    """A file of a run's evidence could not be written. `filename` is its path, `errno` and
    `strerror` the operating system's error; the run cannot finish with trustworthy evidence."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))

    def describe(self) -> str:
        """One line: 'could not write evidence <path>: <OS error>'."""
        return f"could not write evidence {self.filename}: {self.strerror}"


def is_out_of_space(exc: BaseException) -> TypeGuard[OSError]:
    """True for an OSError saying the disk, the file size limit or the quota is exhausted."""
    return isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE


def write_evidence(path: Path, data: str | bytes, *, sync: bool = False, mask: bool = True) -> None:
    """Write a whole file atomically (a temporary file beside it, then rename; parents are
    created). On failure the temporary file is removed, an existing file is left as it was,
    and EvidenceWriteError names `path`. `sync`: fsync before the rename. `mask`: every
    resolved secret value is first replaced by its mask (`core.masking`; False only for a
    file that must hold a secret, e.g. a generated private key)."""
    from runbook.core.masking import mask_bytes

    payload = data.encode("utf-8") if isinstance(data, str) else data
    payload = mask_bytes(payload) if mask else payload
    tmp = path.parent / f".{path.name}.{_random.token_hex(4)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as handle:
            handle.write(payload)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EvidenceWriteError(path, exc) from None


def append_whole(path: Path, line: str) -> None:
    """Append `line` to `path` and fsync it, whole or not at all: after a failed or short
    write the file is cut back to its old length (EvidenceWriteError names `path`)."""
    payload = memoryview(line.encode("utf-8"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        try:
            while payload:
                payload = payload[os.write(fd, payload) :]
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)
            raise EvidenceWriteError(path, exc) from None
    finally:
        os.close(fd)


def new_run_dir(env_dir: Path) -> tuple[str, Path]:
    """Create a fresh run directory; ids sort by time and never collide (mkdir is exclusive)."""
    env_dir.mkdir(parents=True, exist_ok=True)
    while True:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        run_id = f"{stamp}-{_random.token_hex(3)}"
        path = env_dir / run_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return run_id, path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_tree(run_dir: Path) -> dict[str, str]:
    """sha256 of every file under the run directory but the manifest and its signature (which
    are made from it), by relative path."""
    return {
        path.relative_to(run_dir).as_posix(): sha256_file(path)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.relative_to(run_dir).as_posix() not in (MANIFEST, SIGNATURE)
    }


def results_from_notebook(path: Path) -> list[CheckResult]:
    """Every check result a notebook emitted (last one wins for a repeated id). Read as plain
    JSON: validating the whole notebook (nbformat) would cost a second in every kernel."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found: dict[str, CheckResult] = {}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(CHECK_MIME)
            if payload is None:
                continue
            if isinstance(payload, str):
                payload = json.loads(payload)
            result = CheckResult.from_payload(dict(payload))
            found[result.id] = result
    return list(found.values())


def notebook_error(path: Path) -> str | None:
    """The first error output of an executed notebook, as 'Name: message', or None (also when
    the notebook is missing or cannot be read, e.g. cut short by a full disk)."""
    if not path.is_file():
        return None
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - unreadable: no error output to name
        return None
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')}"
    return None


@contextmanager
def env_lock(env_dir: Path) -> Iterator[None]:
    """Serialise chain updates of one environment across processes."""
    env_dir.mkdir(parents=True, exist_ok=True)
    with (env_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_chain(env_dir: Path) -> list[dict[str, Any]]:
    path = env_dir / CHAIN
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> str:
    """Hash the run's files, chain to the environment's previous manifest, write the manifest
    and append it to the chain. Returns the manifest's sha256. Raises EvidenceWriteError when
    either cannot be written; then neither is: the chain is as it was and the run has no
    manifest (an unfinished run, which `verify_chain` lists but does not count as a break)."""
    env_dir = run_dir.parent
    with env_lock(env_dir):
        chain = read_chain(env_dir)
        manifest = dict(manifest)
        manifest["schema_version"] = MANIFEST_SCHEMA_VERSION
        manifest["previous_manifest_sha256"] = chain[-1]["manifest_sha256"] if chain else None
        manifest["files"] = hash_tree(run_dir)
        data = json.dumps(manifest, indent=2, sort_keys=False, default=str).encode()
        write_evidence(run_dir / MANIFEST, data, sync=True)
        digest = sha256_file(run_dir / MANIFEST)  # what was written (masking may change bytes)
        line = {
            "run_id": manifest.get("run_id"),
            "manifest_sha256": digest,
            "previous_manifest_sha256": manifest["previous_manifest_sha256"],
            "verdict": manifest.get("verdict"),
            "finished_at": manifest.get("finished_at"),
        }
        try:
            append_whole(env_dir / CHAIN, json.dumps(line) + "\n")
        except EvidenceWriteError:
            (run_dir / MANIFEST).unlink(missing_ok=True)  # unfinished, not a run off the chain
            raise
    return digest


@dataclass
class VerifyReport:
    """What `verify_files` / `verify` found: empty lists mean the run is intact. `files` is
    the number of files its manifest lists."""

    run_dir: Path
    edited: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        return not (self.edited or self.removed or self.added or self.problems)

    def lines(self) -> list[str]:
        out = [f"edited: {p}" for p in self.edited]
        out += [f"removed: {p}" for p in self.removed]
        out += [f"added: {p}" for p in self.added]
        return out + self.problems


def verify_files(run_dir: Path) -> VerifyReport:
    """A run directory on its own, wherever it is: every file its manifest lists is there with
    the same sha256, and no other file is (the manifest and manifest.sig aside)."""
    report = VerifyReport(run_dir=run_dir)
    if not run_dir.is_dir():
        report.problems.append(f"{run_dir}: no such run directory")
        return report
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file():
        report.problems.append(f"{MANIFEST} is missing: the run did not finish or was altered")
        return report
    try:
        recorded = json.loads(manifest_path.read_bytes())["files"]
        if not isinstance(recorded, dict):
            raise TypeError("its 'files' is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{MANIFEST} is not a valid manifest ({exc})")
        return report
    actual = hash_tree(run_dir)
    report.files = len(recorded)
    report.edited = sorted(p for p in recorded if p in actual and actual[p] != recorded[p])
    report.removed = sorted(p for p in recorded if p not in actual)
    report.added = sorted(p for p in actual if p not in recorded)
    return report


@dataclass(frozen=True)
class ChainPosition:
    """Where a manifest stands in a chain file: its entry's line (1-based; None when absent),
    how many entries the file has, and the problem found (None: the entry matches)."""

    chain_file: Path
    line: int | None
    entries: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def locate_in_chain(chain_file: Path, manifest_raw: bytes) -> ChainPosition:
    """Find a run's entry in `chain_file` by the run id of `manifest_raw` (the manifest's exact
    bytes) and check it: the entry records the manifest's sha256 and previous manifest, every
    line up to it follows the line before (none edited, removed or inserted there), and no
    later line names the run again."""
    try:
        manifest = json.loads(manifest_raw)
        run_id = manifest["run_id"]
    except (ValueError, KeyError, TypeError):
        return ChainPosition(chain_file, None, 0, f"{MANIFEST} is not a valid manifest")
    try:
        text = chain_file.read_text(encoding="utf-8")
    except OSError as exc:
        return ChainPosition(chain_file, None, 0, f"{chain_file}: cannot read ({exc.strerror})")
    lines = [(n, _chain_entry(line)) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    total = len(lines)
    previous: str | None = None
    for index, (number, entry) in enumerate(lines):
        if entry is None:
            return ChainPosition(chain_file, None, total, f"line {number} is not a chain entry")
        if entry.get("previous_manifest_sha256") != previous:
            return ChainPosition(
                chain_file,
                None,
                total,
                f"line {number} does not follow the line before it (a line was edited, "
                "removed or inserted)",
            )
        if entry.get("run_id") == run_id:
            again = [
                n for n, e in lines[index + 1 :] if e is not None and e.get("run_id") == run_id
            ]
            if again:
                return ChainPosition(
                    chain_file, number, total, f"the run appears again at line {again[0]}"
                )
            return _judge_entry(chain_file, number, total, entry, manifest, manifest_raw)
        previous = entry["manifest_sha256"]
    return ChainPosition(chain_file, None, total, f"run {run_id} is not in {chain_file}")


def _chain_entry(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    ok = isinstance(entry, dict) and isinstance(entry.get("manifest_sha256"), str)
    return entry if ok else None


def _judge_entry(
    chain_file: Path,
    number: int,
    entries: int,
    entry: dict[str, Any],
    manifest: dict[str, Any],
    manifest_raw: bytes,
) -> ChainPosition:
    if entry["manifest_sha256"] != hashlib.sha256(manifest_raw).hexdigest():
        return ChainPosition(
            chain_file,
            number,
            entries,
            f"{MANIFEST} differs from the manifest recorded at line {number} (its sha256)",
        )
    if manifest.get("previous_manifest_sha256") != entry.get("previous_manifest_sha256"):
        return ChainPosition(
            chain_file,
            number,
            entries,
            f"{MANIFEST} chains to another previous manifest than line {number}",
        )
    return ChainPosition(chain_file, number, entries, None)


def verify(run_dir: Path) -> VerifyReport:
    """A run where it was written: its files against its manifest (`verify_files`) and its
    manifest against the chain of the environment folder it sits in, which must name it."""
    report = verify_files(run_dir)
    manifest_path = run_dir / MANIFEST
    if report.problems or not manifest_path.is_file():
        return report
    raw = manifest_path.read_bytes()
    chain_file = run_dir.parent / CHAIN
    if not chain_file.is_file():
        run_id = json.loads(raw).get("run_id")
        report.problems.append(f"{MANIFEST}: run {run_id} is not in {chain_file}")
        return report
    position = locate_in_chain(chain_file, raw)
    if position.problem is not None:
        report.problems.append(f"{CHAIN}: {position.problem}")
    return report


def list_runs(outputs: Path, env: str | None = None) -> list[dict[str, Any]]:
    """Past runs, newest first, with their verdicts (an unfinished run shows as such)."""
    rows = []
    envs = [outputs / env] if env else sorted(p for p in outputs.iterdir() if p.is_dir())
    for env_dir in envs:
        if not env_dir.is_dir() or env_dir.name in {"interactive", "plans", "rejudge"}:
            continue
        for run_dir in env_dir.iterdir():
            if not run_dir.is_dir():
                continue
            manifest_path = run_dir / MANIFEST
            row: dict[str, Any] = {
                "environment": env_dir.name,
                "run_id": run_dir.name,
                "verdict": "UNFINISHED",
                "started_at": None,
                "phases": "",
                "path": str(run_dir),
            }
            if manifest_path.is_file():
                try:
                    m = json.loads(manifest_path.read_text())
                    row.update(
                        verdict=m.get("verdict"),
                        started_at=m.get("started_at"),
                        phases=",".join(p["name"] for p in m.get("phases", [])),
                    )
                except (ValueError, KeyError, TypeError):
                    row["verdict"] = "UNREADABLE"
            rows.append(row)
    return sorted(rows, key=lambda r: r["run_id"], reverse=True)


def previous_manifests(
    env_dir: Path, *, phase: str | None = None, exclude_run: str | None = None
) -> list[dict[str, Any]]:
    """Finished manifests of an environment, newest first (optionally only runs that executed
    `phase`, and never `exclude_run`): where earlier baselines and monitor evidence come from."""
    out = []
    for entry in reversed(read_chain(env_dir)):
        run_id = entry.get("run_id")
        path = env_dir / str(run_id) / MANIFEST
        if run_id == exclude_run or not path.is_file():
            continue
        manifest = json.loads(path.read_text())
        if phase and not any(
            p.get("name") == phase and p.get("status") == "completed"
            for p in manifest.get("phases", [])
        ):
            continue
        out.append(manifest)
    return out
