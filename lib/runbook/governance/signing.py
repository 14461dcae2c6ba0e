"""Ed25519 signatures of run manifests: who produced a run, provable from a copy of it.

The private key is named by a secret reference (`evidence.signing_key: {env: NAME}`) and read
in the orchestrator only; its value is never printed or stored. The variable holds either the
PEM of an unencrypted PKCS#8 key (what `runbook keygen` writes) or the raw 32-byte key in
base64. After `manifest.json` is written, `manifest.sig` is written beside it: a small JSON
object with the algorithm, the public key, its fingerprint, the manifest's sha256 and the
signature over the manifest's exact bytes. `manifest.sig` is not listed in the manifest (it is
made after it); `verify_signature` checks it, and a trusted public key (`runbook verify --key`)
proves who signed.

A fingerprint is "SHA256:" and the unpadded base64 of the sha256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from runbook.core import evidence as ev
from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.evidence import EvidenceParams
from runbook.core.secret_refs import SecretUnavailable, resolve

ALGORITHM = "ed25519"
CHECK_ID = "evidence.signature"
SECTION = "Runbook execution"
SIGNATURE_SCHEMA_VERSION = 1

# what verify_signature found
SIG_VALID = "valid"  # a correct signature (by the trusted key, when one was given)
SIG_UNSIGNED = "unsigned"  # no manifest.sig, and the manifest does not claim one
SIG_MISSING = "missing"  # no manifest.sig, but the manifest says it was signed
SIG_INVALID = "invalid"  # manifest.sig does not verify over manifest.json (an edit)
SIG_OTHER_KEY = "other-key"  # a correct signature, by a key other than the trusted one
SIG_UNREADABLE = "unreadable"  # manifest.sig is not a signature file


class SigningKeyError(ValueError):
    """A key that cannot be used; the message names where it came from, never its value."""


class ManifestSignature(BaseModel):
    """The content of manifest.sig."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SIGNATURE_SCHEMA_VERSION
    algorithm: str = ALGORITHM
    signed_file: str = ev.MANIFEST
    manifest_sha256: str
    public_key: str  # raw 32 bytes, base64
    key_fingerprint: str
    signature: str  # over the exact bytes of manifest.json, base64
    signed_at: str


# -- keys --------------------------------------------------------------------------------------


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """'SHA256:<unpadded base64 of sha256(raw public key)>'."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def raw_public_key(public_key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def private_key_from_text(text: str, source: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8, unencrypted) or base64 of its raw 32 bytes;
    SigningKeyError naming `source` (a reference or a file, never the value) otherwise."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise SigningKeyError(
                f"{source} is not an unencrypted PEM private key (make one with runbook keygen)"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{source} holds a {type(key).__name__}, not an Ed25519 key")
        return key
    raw = _b64(text)
    if raw is None or len(raw) != 32:
        raise SigningKeyError(
            f"{source} is neither a PEM private key nor the base64 of a raw 32-byte Ed25519 key"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A trusted public key from a file: PEM, OpenSSH ('ssh-ed25519 AAAA…') or base64 of the
    raw 32 bytes; SigningKeyError naming the file otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read the public key ({exc.strerror})") from None
    text = data.decode("utf-8", "replace").strip()
    key: Any
    try:
        if text.startswith("-----BEGIN"):
            if "PRIVATE KEY" in text.split("\n", 1)[0]:
                raise SigningKeyError(
                    f"{path} is a private key: give the public key (.pub) to --key"
                )
            key = serialization.load_pem_public_key(data)
        elif text.startswith("ssh-"):
            key = serialization.load_ssh_public_key(data)
        else:
            raw = _b64(text)
            if raw is None or len(raw) != 32:
                raise SigningKeyError(
                    f"{path} is not a public key (PEM, OpenSSH or base64 of 32 raw bytes)"
                )
            key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, SigningKeyError):
            raise
        raise SigningKeyError(f"{path} is not a readable public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


@dataclass(frozen=True)
class KeyPair:
    """Where `generate_key_pair` wrote the keys, and the public key's fingerprint."""

    private_key: Path
    public_key: Path
    fingerprint: str


PRIVATE_KEY_FILE = "runbook-signing.key"
PUBLIC_KEY_FILE = "runbook-signing.pub"


def generate_key_pair(out_dir: Path, *, overwrite: bool = False) -> KeyPair:
    """A new Ed25519 key pair in `out_dir`: the private key as PKCS#8 PEM (mode 0600) and the
    public key as PEM. Refuses (FileExistsError) to replace existing keys unless `overwrite`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    private_path, public_path = out_dir / PRIVATE_KEY_FILE, out_dir / PUBLIC_KEY_FILE
    if not overwrite:
        for path in (private_path, public_path):
            if path.exists():
                raise FileExistsError(f"{path} exists (keys are never replaced silently)")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_key(private_path, private_pem, 0o600, overwrite)
    _write_key(public_path, public_pem, 0o644, overwrite)
    return KeyPair(private_path, public_path, fingerprint(key.public_key()))


def _write_key(path: Path, data: bytes, mode: int, overwrite: bool) -> None:
    """A key file created with its final mode (a private key is never readable by others,
    not even for a moment); exclusively unless `overwrite`."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


# -- signing a run -----------------------------------------------------------------------------


@dataclass
class Signer:
    """What a run will do about signing, decided before its verdict: the key (None: the run
    is not signed), a check result for the run (None when signing is not configured) and the
    record the manifest carries under "signature"."""

    key: Ed25519PrivateKey | None
    check: CheckResult | None
    record: dict[str, Any] | None

    def checks(self) -> list[CheckResult]:
        """The run's `evidence.signature` result, if signing is configured."""
        return [self.check] if self.check is not None else []

    def reasons(self) -> list[str]:
        """Why signing holds the run back (a blocker not passed), for the manifest's reasons."""
        c = self.check
        if c is None or c.severity is not Severity.BLOCKER or c.status is Status.PASS:
            return []
        return [f"{c.id}: {c.status.value} — {c.explanation}"]

    def sign(self, run_dir: Path) -> ManifestSignature | None:
        """Write manifest.sig for the written manifest (nothing without a key)."""
        return sign_manifest(run_dir, self.key) if self.key is not None else None


def prepare_signer(settings: EvidenceParams | None) -> Signer:
    """Resolve the key of `evidence.signing_key`. Not configured: no check, unsigned.
    Unset or unusable: INCONCLUSIVE (a blocker, so the run is INCOMPLETE) when
    `evidence.require_signature`, else a warning; either names the reference, never a value."""
    if settings is None or settings.signing_key is None:  # required implies a key (validated)
        return Signer(None, None, None)
    ref = settings.signing_key.describe()
    severity = Severity.BLOCKER if settings.require_signature else Severity.WARNING
    failed = Status.INCONCLUSIVE if settings.require_signature else Status.WARN
    try:
        key = private_key_from_text(resolve(settings.signing_key), f"evidence.signing_key ({ref})")
    except (SecretUnavailable, SigningKeyError) as exc:
        reason = str(exc)
        if isinstance(exc, SecretUnavailable):
            reason = f"evidence.signing_key: the secret reference {ref} is not set"
        outcome = "cannot be signed" if settings.require_signature else "is not signed"
        return Signer(
            None,
            _check(failed, severity, f"the manifest {outcome}: {reason}"),
            {"signed": False, "required": settings.require_signature, "reason": reason},
        )
    fp = fingerprint(key.public_key())
    return Signer(
        key,
        _check(
            Status.PASS,
            severity,
            f"manifest.json is signed with Ed25519 key {fp} ({ref}) in {ev.SIGNATURE}",
            observed=fp,
        ),
        {"signed": True, "algorithm": ALGORITHM, "key_fingerprint": fp, "file": ev.SIGNATURE},
    )


def _check(
    status: Status, severity: Severity, explanation: str, observed: str | None = None
) -> CheckResult:
    return CheckResult(
        id=CHECK_ID,
        section=SECTION,
        title="The run's manifest is signed (Ed25519)",
        severity=severity,
        status=status,
        observed=observed,
        explanation=explanation,
        phase="run",
    )


def sign_manifest(run_dir: Path, key: Ed25519PrivateKey) -> ManifestSignature:
    """Sign the exact bytes of run_dir/manifest.json and write manifest.sig beside it."""
    data = (run_dir / ev.MANIFEST).read_bytes()
    public = key.public_key()
    sig = ManifestSignature(
        manifest_sha256=hashlib.sha256(data).hexdigest(),
        public_key=raw_public_key(public),
        key_fingerprint=fingerprint(public),
        signature=base64.b64encode(key.sign(data)).decode(),
        signed_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
    )
    ev.write_evidence(run_dir / ev.SIGNATURE, sig.model_dump_json(indent=2) + "\n", sync=True)
    return sig


# -- checking a signature ----------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureFinding:
    """What `verify_signature` found: a SIG_* status, the signing key's fingerprint (when a
    signature was read), the trusted key's (when one was given), and one sentence."""

    status: str
    detail: str
    key_fingerprint: str | None = None
    trusted_fingerprint: str | None = None

    @property
    def ok(self) -> bool:
        """Valid, or unsigned when nobody asked for a signature (no trusted key given)."""
        if self.status == SIG_VALID:
            return True
        return self.status == SIG_UNSIGNED and self.trusted_fingerprint is None


def verify_signature(run_dir: Path, trusted: Ed25519PublicKey | None = None) -> SignatureFinding:
    """Check manifest.sig against manifest.json's exact bytes and, with `trusted`, that the
    trusted key made it. Without `trusted`, an unsigned run is fine unless its manifest says it
    was signed; with it, unsigned is a failure."""
    want = fingerprint(trusted) if trusted is not None else None
    manifest_path, sig_path = run_dir / ev.MANIFEST, run_dir / ev.SIGNATURE
    try:
        data = manifest_path.read_bytes()
    except OSError:
        return SignatureFinding(SIG_INVALID, f"{ev.MANIFEST} cannot be read", None, want)
    claimed = _claimed_signer(data)
    if not sig_path.is_file():
        if claimed:
            return SignatureFinding(
                SIG_MISSING,
                f"{ev.SIGNATURE} is missing, but {ev.MANIFEST} says it was signed by key {claimed}",
                claimed,
                want,
            )
        detail = "none: the manifest is not signed"
        if want is not None:
            detail = f"none: the manifest is not signed, so key {want} cannot have signed it"
        return SignatureFinding(SIG_UNSIGNED, detail, None, want)
    try:
        sig = ManifestSignature.model_validate_json(sig_path.read_bytes())
        if sig.algorithm != ALGORITHM:
            raise ValueError(f"algorithm {sig.algorithm!r} is not {ALGORITHM}")
        raw = _b64(sig.public_key)
        signature = _b64(sig.signature)
        if raw is None or len(raw) != 32 or signature is None:
            raise ValueError("its public key or signature is not base64 of the right length")
        signer = Ed25519PublicKey.from_public_bytes(raw)
    except (ValidationError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0]
        return SignatureFinding(
            SIG_UNREADABLE, f"{ev.SIGNATURE} is not a signature file ({first})", None, want
        )
    actual = fingerprint(signer)
    if actual != sig.key_fingerprint:
        return SignatureFinding(
            SIG_INVALID,
            f"{ev.SIGNATURE} names key {sig.key_fingerprint} but carries key {actual}",
            actual,
            want,
        )
    try:
        signer.verify(signature, data)
    except InvalidSignature:
        return SignatureFinding(
            SIG_INVALID,
            f"the signature by key {actual} does not match {ev.MANIFEST}: the manifest was "
            "changed after it was signed",
            actual,
            want,
        )
    if want is not None and actual != want:
        return SignatureFinding(
            SIG_OTHER_KEY,
            f"signed by key {actual}, not by the trusted key {want}: re-signed or produced "
            "by someone else",
            actual,
            want,
        )
    if claimed and claimed != actual:
        return SignatureFinding(
            SIG_OTHER_KEY,
            f"signed by key {actual}, but {ev.MANIFEST} says it was signed by {claimed}",
            actual,
            want,
        )
    if want is not None:
        return SignatureFinding(SIG_VALID, f"OK, Ed25519 by the trusted key {actual}", actual, want)
    return SignatureFinding(
        SIG_VALID,
        f"valid Ed25519 signature by key {actual} (not compared with a trusted key: give "
        "--key to prove who signed)",
        actual,
        want,
    )


def _claimed_signer(manifest_bytes: bytes) -> str | None:
    """The key fingerprint the manifest itself records under "signature", if any."""
    try:
        record = json.loads(manifest_bytes).get("signature")
    except (ValueError, AttributeError):
        return None
    if isinstance(record, dict) and record.get("signed"):
        value = record.get("key_fingerprint")
        return str(value) if value else None
    return None
