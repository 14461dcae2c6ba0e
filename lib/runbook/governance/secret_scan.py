"""Secret scanner of a run directory: the values of the secrets the run resolved, in every
form a file may hold them (raw, JSON-escaped, URL-encoded, HTML-escaped, base64: the forms
`core.masking` masks at capture, so this is the second line), and the
common credential shapes (JWTs, bearer tokens, connection strings with a password, Azure
AccountKey / SharedAccessKey, PEM private keys). gzip files and zip members are scanned
inside. A hit names the file, the kind and the line, never the value.
"""

from __future__ import annotations

import gzip
import html
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.masking import MIN_SECRET_LENGTH, value_forms

CHECK_ID = "runbook.secret-scan"
SECTION = "Runbook execution"
MAX_INNER_BYTES = 64 << 20  # never inflate more than this from one gzip / zip member

KIND_VALUE = "resolved-secret-value"
KIND_JWT = "jwt"
KIND_BEARER = "bearer-token"
KIND_CONNECTION = "connection-string-password"
KIND_ACCOUNT_KEY = "azure-account-key"
KIND_PEM = "pem-private-key"

_JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(rb"(?i)\bbearer(?:\s|%20|\\u0020)+([A-Za-z0-9._~+/=-]{16,})")
_CONNECTION = re.compile(
    rb"\b[A-Za-z][A-Za-z0-9+.-]{1,30}://([^\s:/@'\"<>\\]{1,256}):([^\s@/'\"<>\\]{1,256})@"
    rb"[A-Za-z0-9.\[\]-]+"
)
_ACCOUNT_KEY = re.compile(rb"(?i)\b(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{20,}={0,2})")
_PEM = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:\s|\\r|\\n)*[A-Za-z0-9+/]{32,}")
# what a masked / placeholder password looks like (after URL- and HTML-unescaping)
_MASKED = re.compile(
    r"^(?:[•*xX·…._-]+|<[^<>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{[^{}]*\}|%\([^)]*\)s"
    r"|redacted|REDACTED|masked|MASKED|hidden|secret|password|PASSWORD|pass|pw)$"
)


class SecretHit(BaseModel):
    """One finding: where (file, line) and what kind; never the value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    kind: str
    line: int

    def describe(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}"


def _masked(password: bytes) -> bool:
    text = html.unescape(unquote(password.decode("utf-8", "replace")))
    return bool(_MASKED.match(text))


def _real_token(token: bytes) -> bool:
    """A bearer token that looks real: letters and digits, not a documented placeholder."""
    text = token.decode("ascii", "replace")
    has_digit = any(c.isdigit() for c in text)
    has_alpha = any(c.isalpha() for c in text)
    return has_digit and has_alpha and not _MASKED.match(text)


def _line(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def scan_bytes(name: str, data: bytes, needles: set[bytes]) -> list[SecretHit]:
    """Findings in one blob (`name` is how a hit names it)."""
    hits: dict[tuple[str, int], SecretHit] = {}

    def add(kind: str, offset: int) -> None:
        line = _line(data, offset)
        hits.setdefault((kind, line), SecretHit(file=name, kind=kind, line=line))

    for needle in needles:
        start = data.find(needle)
        if start >= 0:
            add(KIND_VALUE, start)
    for m in _JWT.finditer(data):
        add(KIND_JWT, m.start())
    for m in _BEARER.finditer(data):
        if _real_token(m.group(1)):
            add(KIND_BEARER, m.start())
    for m in _CONNECTION.finditer(data):
        if not _masked(m.group(2)):
            add(KIND_CONNECTION, m.start())
    for m in _ACCOUNT_KEY.finditer(data):
        add(KIND_ACCOUNT_KEY, m.start())
    for m in _PEM.finditer(data):
        add(KIND_PEM, m.start())
    return sorted(hits.values(), key=lambda h: (h.file, h.line, h.kind))


def _blobs(path: Path, name: str) -> Iterator[tuple[str, bytes]]:
    """The file's bytes, plus its inflated content for gzip files and zip members."""
    data = path.read_bytes()
    yield name, data
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                yield f"{name}!", handle.read(MAX_INNER_BYTES)
        except (OSError, EOFError):
            return
    elif data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if not info.is_dir() and info.file_size <= MAX_INNER_BYTES:
                        yield f"{name}!{info.filename}", archive.read(info)
        except (zipfile.BadZipFile, OSError):
            return


def scan_run_dir(run_dir: Path, secret_values: Iterable[str] = ()) -> list[SecretHit]:
    """Every finding under run_dir (values of the run's resolved secrets and credential shapes)."""
    needles: set[bytes] = set()
    for value in secret_values:
        needles |= value_forms(value)
    hits: list[SecretHit] = []
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(run_dir).as_posix()
        for name, blob in _blobs(path, rel):
            hits += scan_bytes(name, blob, needles)
    return hits


def secret_scan_check(run_dir: Path, secret_values: Iterable[str] = ()) -> CheckResult:
    """`runbook.secret-scan`: FAIL on any finding (named by file, line and kind), else PASS."""
    values = [v for v in secret_values if v]
    short = sum(1 for v in values if len(v) < MIN_SECRET_LENGTH)
    if not run_dir.is_dir():
        return CheckResult(
            id=CHECK_ID,
            section=SECTION,
            severity=Severity.BLOCKER,
            title="No secret value appears in the evidence",
            status=Status.ERROR,
            explanation=f"{run_dir} is not a directory: nothing was scanned",
        )
    hits = scan_run_dir(run_dir, values)
    files = sorted({h.file.split("!", 1)[0] for h in hits})
    kinds = sorted({h.kind for h in hits})
    explanation = (
        f"{len(hits)} finding(s) in {', '.join(files)}: {', '.join(kinds)}"
        if hits
        else f"no resolved secret value ({len(values)} scanned) and no credential-shaped string "
        "in any file of the run"
    )
    if short:
        explanation += f"; {short} value(s) shorter than {MIN_SECRET_LENGTH} characters not scanned"
    return CheckResult(
        id=CHECK_ID,
        section=SECTION,
        phase="run",
        severity=Severity.BLOCKER,
        title="No secret value appears in the evidence",
        status=Status.FAIL if hits else Status.PASS,
        observed={"files_with_secrets": files, "findings": len(hits)},
        threshold={"files_with_secrets": []},
        explanation=explanation,
        evidence={
            "hits": [h.model_dump() for h in hits[:200]],
            "secrets_scanned": len(values),
            "kinds_checked": [
                KIND_VALUE,
                KIND_JWT,
                KIND_BEARER,
                KIND_CONNECTION,
                KIND_ACCOUNT_KEY,
                KIND_PEM,
            ],
        },
    )
