"""Parsers for what pytest, ruff and mypy report, chosen to be stable across tool versions.

Each parser raises `ReportError` when the report is missing or malformed; the runner turns
that into `Status.ERROR`, never a pass. Text is always read through `strip_ansi`, and a line a
tool prints as `warning: ...` is kept as a warning, never treated as a failure of the tool.

Choices:
- pytest: `--junitxml=<file>`; a test's outcome is the first `failure`/`error`/`skipped` child
  of its `testcase`, a collection error is a `testcase` with an `error` child. From its text:
  the modules that failed at collection ("ERROR collecting <path>") and pytest-cov's TOTAL.
- ruff check: `--output-format=json` (a JSON list, stable since ruff 0.1); a ruff that prints
  text instead is read from its concise `path:row:col: CODE message` lines and "Found N errors".
- ruff format: `--check` and its *text*, not `--output-format=json` (refused by ruff < 0.9,
  "unstable, requires preview" up to 0.14, accepted later): "Would reformat: <path>" lines
  (ruff <= 0.14) or "unformatted: ..." diagnostics followed by ` --> <path>:row:col` (0.15+),
  and the summary "N files would be reformatted" as the count. Exit 1 means files to reformat,
  2 an error (e.g. a file that does not parse). `--check` also guarantees the gate never
  rewrites the target's files (the checklist's bare `ruff format .` would).
- mypy: `--output json` (mypy >= 1.11; one JSON object per line, with `code` and `severity`);
  for an older mypy the text format (`--show-error-codes --no-pretty`) with a strict regex for
  `file:line[:col]: severity: message  [code]` lines, cross-checked with "Found N errors".
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReportError(ValueError):
    """A tool's machine-readable report is missing or cannot be parsed."""


_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    """`text` without terminal escape sequences (colours, cursor moves, hyperlinks)."""
    return _ANSI.sub("", text)


def warnings_in(text: str) -> list[str]:
    """Lines a tool printed as `warning: ...` (never a failure of the tool by themselves)."""
    return [ln.strip() for ln in strip_ansi(text).splitlines() if ln.strip().lower().startswith(
        "warning:")]  # fmt: skip


def meaningful_lines(text: str) -> list[str]:
    """Non-empty lines of a tool's output, escapes stripped, warnings left out."""
    return [ln.strip() for ln in strip_ansi(text).splitlines()
            if ln.strip() and not ln.strip().lower().startswith("warning:")]  # fmt: skip


class PytestReport(BaseModel):
    """Outcome counts and failing test ids from a JUnit XML file."""

    model_config = ConfigDict(extra="forbid")

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failing: list[str] = Field(default_factory=list, description="failed or errored test ids")

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped


class Finding(BaseModel):
    """One diagnostic of ruff or mypy."""

    model_config = ConfigDict(extra="forbid")

    file: str
    line: int | None = None
    code: str
    message: str


class FindingsReport(BaseModel):
    """Diagnostics of a lint/format/type tool, counted by rule or error code."""

    model_config = ConfigDict(extra="forbid")

    findings: list[Finding] = Field(default_factory=list)
    unparsed_lines: list[str] = Field(default_factory=list)
    summary_count: int | None = Field(
        default=None, description="mypy text mode: N of 'Found N errors'"
    )

    @property
    def by_code(self) -> dict[str, int]:
        return dict(sorted(Counter(f.code for f in self.findings).items()))

    @property
    def files(self) -> list[str]:
        return sorted({f.file for f in self.findings})


_COLLECTING = re.compile(r"^_+ ERROR collecting (?P<path>\S+) _+$")
_COLLECTION_SUMMARY = re.compile(r"Interrupted: (?P<count>\d+) errors? during collection")
_COV_TOTAL = re.compile(r"^TOTAL(?:\s+\d+)+\s+(?P<percent>\d+(?:\.\d+)?)%")


class PytestText(BaseModel):
    """What pytest's own text says beyond the JUnit report."""

    model_config = ConfigDict(extra="forbid")

    collection_errors: list[str] = Field(default_factory=list, description="modules")
    collection_error_count: int = 0
    cov_total_line: str | None = None
    cov_total_percent: float | None = None
    missing_plugin: str | None = None


def parse_pytest_text(stdout: str, stderr: str = "") -> PytestText:
    """Modules that failed at collection, pytest-cov's TOTAL line, and a refused --cov."""
    found = PytestText()
    for line in meaningful_lines(stdout):
        if match := _COLLECTING.match(line):
            found.collection_errors.append(match["path"])
        elif match := _COLLECTION_SUMMARY.search(line):
            found.collection_error_count = int(match["count"])
        elif match := _COV_TOTAL.match(line):
            found.cov_total_line = line
            found.cov_total_percent = float(match["percent"])
    found.collection_error_count = max(found.collection_error_count, len(found.collection_errors))
    for line in meaningful_lines(stderr):
        if "unrecognized arguments" in line and "--cov" in line:
            found.missing_plugin = "pytest-cov"
    return found


def parse_junit(path: Path) -> PytestReport:
    """Counts and failing ids from a pytest JUnit XML report."""
    if not path.is_file():
        raise ReportError(f"pytest wrote no JUnit report ({path.name} is missing)")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ReportError(f"the JUnit report {path.name} is not valid XML: {exc}") from None
    if root.tag not in {"testsuites", "testsuite"}:
        raise ReportError(f"the JUnit report {path.name} has root <{root.tag}>, not <testsuite>")
    report = PytestReport()
    for case in root.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        test_id = f"{classname}::{name}" if classname else name
        outcome = next(
            (child.tag for child in case if child.tag in {"failure", "error", "skipped"}), None
        )
        if outcome == "failure":
            report.failed += 1
            report.failing.append(test_id)
        elif outcome == "error":
            report.errors += 1
            report.failing.append(test_id)
        elif outcome == "skipped":
            report.skipped += 1
        else:
            report.passed += 1
    return report


def _json_list(text: str, tool: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{tool} did not print a JSON report: {exc}") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ReportError(f"{tool}'s JSON report is not a list of objects")
    return data


_RUFF_CONCISE = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<column>\d+): (?P<code>[A-Z]+[0-9]+) (?P<message>.*)$"
)
_RUFF_FOUND = re.compile(r"^Found (?P<count>\d+) errors?\b")


def parse_ruff_check(text: str) -> FindingsReport:
    """Violations from `ruff check --output-format=json`, or from its concise text lines when
    this ruff printed text (cross-checked with "Found N errors")."""
    text = strip_ansi(text)
    if text.lstrip().startswith("["):
        return parse_ruff_json(text, "ruff check")
    report = FindingsReport()
    for line in meaningful_lines(text):
        if found := _RUFF_FOUND.match(line):
            report.summary_count = int(found["count"])
        elif match := _RUFF_CONCISE.match(line):
            report.findings.append(
                Finding(
                    file=match["file"],
                    line=int(match["line"]),
                    code=match["code"],
                    message=match["message"],
                )
            )
        elif not line.startswith(("All checks passed", "[*]", "No fixes available")):
            report.unparsed_lines.append(line)
    if not report.findings and report.summary_count is None and report.unparsed_lines:
        raise ReportError(
            f"ruff check printed neither JSON nor findings: {report.unparsed_lines[0]}"
        )
    if report.summary_count is not None and report.summary_count != len(report.findings):
        raise ReportError(f"ruff check reported {report.summary_count} errors but "
                          f"{len(report.findings)} were parsed")  # fmt: skip
    return report


_WOULD_REFORMAT = re.compile(r"^Would reformat: (?P<file>.+)$")
_POINTER = re.compile(r"^-->\s*(?P<file>.+?):(?P<line>\d+):\d+$")
_FORMAT_SUMMARY = re.compile(r"^(?P<count>\d+) files? would be reformatted\b")
_FORMAT_CLEAN = re.compile(r"^\d+ files? (?:already formatted|left unchanged)\b")


class FormatReport(FindingsReport):
    """`ruff format --check`: files it would reformat, files it could not read, the count."""

    errors: list[str] = Field(default_factory=list)

    @property
    def count(self) -> int:
        """Files to reformat: ruff's own summary when it printed one."""
        return max(self.summary_count or 0, len(self.findings))


def parse_ruff_format(stdout: str, stderr: str = "") -> FormatReport:
    """Files `ruff format --check` would reformat, from its text in any ruff version."""
    report = FormatReport()
    pending: str | None = None  # the header of a diagnostic waiting for its ` --> path`
    clean = False
    for line in meaningful_lines(stdout) + meaningful_lines(stderr):
        if match := _WOULD_REFORMAT.match(line):
            report.findings.append(Finding(file=match["file"], code="unformatted",
                                           message="would be reformatted"))  # fmt: skip
        elif match := _FORMAT_SUMMARY.match(line):
            report.summary_count = int(match["count"])
        elif _FORMAT_CLEAN.match(line):
            clean = True
        elif line.startswith("error:"):
            report.errors.append(line.removeprefix("error:").strip())
        elif (match := _POINTER.match(line)) and pending is not None:
            if pending.startswith("unformatted:"):
                report.findings.append(Finding(file=match["file"], line=int(match["line"]),
                                               code="unformatted",
                                               message="would be reformatted"))  # fmt: skip
            else:
                report.errors.append(f"{match['file']}:{match['line']}: {pending}")
            pending = None
        elif re.match(r"^[a-z][a-z0-9-]*: ", line) and not line.startswith("-->"):
            pending = line
    if report.summary_count is None and clean:
        report.summary_count = 0
    return report


def parse_ruff_json(text: str, tool: str = "ruff") -> FindingsReport:
    """Violations from `ruff check --output-format=json` or `ruff format --check ... json`."""
    report = FindingsReport()
    for item in _json_list(text, tool):
        try:
            location = item.get("location") or {}
            report.findings.append(
                Finding(
                    file=str(item["filename"]),
                    line=location.get("row"),
                    code=str(item.get("code") or item.get("name") or "unknown"),
                    message=str(item.get("message", "")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"{tool}'s JSON entry has no usable filename: {exc}") from None
    return report


_MYPY_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<column>\d+):)?(?:\d+:\d+:)? "
    r"(?P<severity>error|note|warning): (?P<message>.*?)(?:  \[(?P<code>[a-z][a-z0-9-]*)\])?$"
)
_MYPY_SUMMARY = re.compile(
    r"^Found (?P<count>\d+) errors? in \d+ files? \(checked \d+ source files?\)$"
)
_MYPY_SUCCESS = re.compile(r"^Success: no issues found in \d+ source files?$")


def parse_mypy_json(text: str) -> FindingsReport:
    """Errors from `mypy --output json` (notes are not errors)."""
    report = FindingsReport()
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise TypeError("not an object")
            severity = item["severity"]
            finding = Finding(
                file=str(item["file"]),
                line=item.get("line"),
                code=str(item.get("code") or "misc"),
                message=str(item["message"]),
            )
        except (ValueError, KeyError, TypeError):
            report.unparsed_lines.append(line)
            continue
        if severity == "error":
            report.findings.append(finding)
    return report


def parse_mypy_text(text: str) -> FindingsReport:
    """Errors from mypy's text output with `--show-error-codes --no-pretty`."""
    report = FindingsReport()
    for line in text.splitlines():
        if not line.strip() or _MYPY_SUCCESS.match(line):
            continue
        summary = _MYPY_SUMMARY.match(line)
        if summary:
            report.summary_count = int(summary["count"])
            continue
        match = _MYPY_LINE.match(line)
        if not match:
            report.unparsed_lines.append(line)
            continue
        if match["severity"] == "error":
            report.findings.append(
                Finding(
                    file=match["file"],
                    line=int(match["line"]),
                    code=match["code"] or "misc",
                    message=match["message"],
                )
            )
    if report.summary_count is not None and report.summary_count != len(report.findings):
        raise ReportError(
            f"mypy reported {report.summary_count} errors but {len(report.findings)} error "
            f"lines were parsed"
        )
    return report
