""" "No errors in logs" for a log file: the error lines of a window (from a byte offset, or from
a time when the lines carry timestamps) counted against a limit, the first few quoted with every
secret value the run resolved and every credential shape (JWT, bearer token, password in a
connection string, Azure account key, PEM key) replaced by `***`.

    scan = scan_log(path, LogScanParams(), offset=0, secrets=resolved_values(params))
    ctx.check(log_errors_check(LogCheckSpec(...), path, LogScanParams(), secrets=...))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runbook.core.checks import CheckResult, Severity, Status

DEFAULT_ERROR_PATTERN = r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)"
MASK = "***"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_QUOTE_CHARS = 300
# a password in a URL, also without a user name (redis://:password@host)
_URL_PASSWORD = re.compile(
    rb"\b[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/@'\"<>\\]{0,256}:"
    rb"([^\s@/'\"<>\\]{1,256})@"
)


class LogScanParams(BaseModel):
    """How one log is judged: which lines are errors, how many are allowed, what is quoted."""

    model_config = ConfigDict(extra="forbid")

    error_pattern: str = Field(
        DEFAULT_ERROR_PATTERN, description="a line matching this regex is an error line"
    )
    max_errors: int = Field(0, ge=0, description="error lines allowed in the window")
    quote_lines: int = Field(3, ge=0, le=50, description="error lines quoted (scrubbed)")
    timestamp_pattern: str | None = Field(
        None,
        description="regex with a named group 'ts' (ISO-like date and time) that dates a "
        "line; lines without one belong to the line above; None: the window starts at a byte "
        "offset",
    )
    require_lines: bool = Field(
        True,
        description="a window without any line is inconclusive (is the process logging "
        "here?), not a pass",
    )

    @field_validator("error_pattern", "timestamp_pattern")
    @classmethod
    def _compiles(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return value
        try:
            rx = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if info.field_name == "timestamp_pattern" and "ts" not in rx.groupindex:
            raise ValueError(
                "needs a named group 'ts', e.g. ^\\[(?P<ts>\\d{4}-\\d\\d-\\d\\d "
                "\\d\\d:\\d\\d:\\d\\d)"
            )
        return value


@dataclass
class LogScan:
    """What one scan of a log saw (quoted lines are already scrubbed)."""

    path: str
    start_offset: int
    end_offset: int
    since: datetime | None
    lines: int = 0
    errors: int = 0
    quoted: list[str] = field(default_factory=list)
    undated: int = 0
    note: str = ""

    def evidence(self) -> dict[str, Any]:
        return {
            "log": self.path,
            "bytes": [self.start_offset, self.end_offset],
            "since": self.since.isoformat() if self.since else None,
            "lines_in_window": self.lines,
            "error_lines": self.errors,
            "quoted": self.quoted,
            "undated_lines": self.undated,
            **({"note": self.note} if self.note else {}),
        }


def _credential_shapes() -> list[tuple[re.Pattern[bytes], int]]:
    """(regex, group to mask: 0 = the whole match) of the secret scan's credential shapes."""
    from runbook.governance import secret_scan as s

    return [(s._JWT, 0), (s._BEARER, 1), (_URL_PASSWORD, 1), (s._ACCOUNT_KEY, 1), (s._PEM, 0)]


def scrub(line: str, secrets: Iterable[str] = ()) -> str:
    """The line with every form of each secret value and every credential shape masked."""
    from runbook.governance.secret_scan import value_forms

    data = line.encode("utf-8", "replace")
    needles = sorted({f for v in secrets if v for f in value_forms(v)}, key=len, reverse=True)
    for needle in needles:
        data = data.replace(needle, MASK.encode())
    for rx, group in _credential_shapes():
        data = rx.sub(partial(_mask_group, group=group), data)
    return data.decode("utf-8", "replace")


def _mask_group(match: re.Match[bytes], group: int) -> bytes:
    whole = match.group(0)
    if group == 0:
        return MASK.encode()
    start, end = match.span(group)
    base = match.start(0)
    return whole[: start - base] + MASK.encode() + whole[end - base :]


def _parse_ts(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip().replace(",", "."))
    except ValueError:
        return None


def _comparable(since: datetime, stamp: datetime) -> tuple[datetime, datetime]:
    """Naive stamps are local time (as loggers write them); compare like with like."""
    if stamp.tzinfo is None:
        return since.astimezone().replace(tzinfo=None), stamp
    return since, stamp


def scan_log(
    path: Path,
    params: LogScanParams,
    *,
    offset: int = 0,
    since: datetime | None = None,
    secrets: Iterable[str] = (),
) -> LogScan:
    """Count the error lines of `path` from byte `offset` (and, with `since` and a
    `timestamp_pattern`, dated at or after `since`); quote the first `quote_lines`, scrubbed.
    A file shorter than `offset` was truncated or rotated: it is read from its start."""
    secret_list = [s for s in secrets if s]
    size = path.stat().st_size
    note = ""
    if offset > size:
        note = f"the log is shorter ({size} bytes) than the offset {offset}: read from its start"
        offset = 0
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    scan = LogScan(
        path=str(path), start_offset=offset, end_offset=offset + len(data), since=since, note=note
    )
    error_rx = re.compile(params.error_pattern)
    stamp_rx = re.compile(params.timestamp_pattern) if params.timestamp_pattern else None
    dated_ok: bool | None = None  # None: no timestamp seen yet
    leading: list[str] = []  # lines before the first timestamp: as old as the line after them
    for raw in data.decode("utf-8", "replace").splitlines():
        line = _ANSI.sub("", raw)
        if since is not None and stamp_rx is not None:
            found = stamp_rx.search(line)
            stamp = _parse_ts(found.group("ts")) if found else None
            if stamp is not None:
                left, right = _comparable(since, stamp)
                dated_ok = right >= left
                if dated_ok:
                    for earlier in leading:
                        _count(scan, earlier, error_rx, params, secret_list)
                leading = []
            if dated_ok is None:
                leading.append(line)
                continue
            if dated_ok is False:
                continue
        _count(scan, line, error_rx, params, secret_list)
    for undated in leading:  # no timestamp ever: they cannot be dated, so they count
        scan.undated += 1
        _count(scan, undated, error_rx, params, secret_list)
    return scan


def _count(
    scan: LogScan, line: str, error_rx: re.Pattern[str], params: LogScanParams, secrets: list[str]
) -> None:
    scan.lines += 1
    if error_rx.search(line):
        scan.errors += 1
        if len(scan.quoted) < params.quote_lines:
            scan.quoted.append(scrub(line.strip(), secrets)[:_QUOTE_CHARS])


@dataclass(frozen=True)
class LogCheckSpec:
    """The identity of one log check (the checklist box it proves)."""

    id: str
    section: str
    title: str
    what: str  # how the explanation names the log, e.g. "the app's log"
    severity: Severity = Severity.BLOCKER


def log_errors_check(
    spec: LogCheckSpec,
    path: Path,
    params: LogScanParams,
    *,
    offset: int = 0,
    since: datetime | None = None,
    secrets: Iterable[str] = (),
    shown_path: str | None = None,
) -> CheckResult:
    """PASS: at most `max_errors` error lines in the window; FAIL: more (the first few quoted);
    INCONCLUSIVE: no log file, or (require_lines) no line in the window; ERROR: unreadable."""
    threshold = {"max_error_lines": params.max_errors}
    shown = shown_path or str(path)
    base = {
        "log": shown,
        "error_pattern": params.error_pattern,
        "timestamp_pattern": params.timestamp_pattern,
        "since": since.astimezone(UTC).isoformat() if since else None,
        "offset": offset,
    }

    def result(
        status: Status, why: str, observed: Any = None, evidence: dict[str, Any] | None = None
    ) -> CheckResult:
        return CheckResult(
            id=spec.id,
            section=spec.section,
            title=spec.title,
            severity=spec.severity,
            status=status,
            observed=observed,
            threshold=threshold,
            explanation=why,
            evidence={**base, **(evidence or {})},
        )

    if not path.is_file():
        return result(Status.INCONCLUSIVE, f"{spec.what} ({shown}) does not exist: nothing to read")
    try:
        scan = scan_log(path, params, offset=offset, since=since, secrets=secrets)
    except OSError as exc:
        return result(
            Status.ERROR, f"{spec.what} ({shown}) could not be read: {exc.strerror or exc}"
        )
    evidence = {**scan.evidence(), "log": shown}
    observed = {"error_lines": scan.errors, "lines": scan.lines}
    window = (
        f"since {since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        if since and params.timestamp_pattern
        else f"from byte {scan.start_offset}"
    )
    if scan.lines == 0 and params.require_lines:
        return result(
            Status.INCONCLUSIVE,
            f"{spec.what} ({shown}) has no line {window}: nothing shows the process logs there",
            observed,
            evidence,
        )
    if scan.errors > params.max_errors:
        quoted = "; ".join(scan.quoted)
        return result(
            Status.FAIL,
            f"{scan.errors} error line(s) in {spec.what} {window} "
            f"(allowed {params.max_errors})" + (f", e.g. {quoted}" if quoted else ""),
            observed,
            evidence,
        )
    if scan.errors:
        return result(
            Status.PASS,
            f"{scan.errors} error line(s) in {scan.lines} line(s) of "
            f"{spec.what} {window}: within the allowed {params.max_errors}",
            observed,
            evidence,
        )
    return result(
        Status.PASS,
        f"no error line in {scan.lines} line(s) of {spec.what} {window}",
        observed,
        evidence,
    )
