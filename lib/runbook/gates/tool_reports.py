"""Parsers for the machine-readable reports of pytest, ruff and mypy.

Each parser reads what the tool wrote for machines (JUnit XML, ruff's JSON, mypy's JSON lines)
and raises `ReportError` when the report is missing or malformed; the runner turns that into
`Status.ERROR`, never a pass.

Choices:
- pytest: `--junitxml=<file>`; a test's outcome is the first `failure`/`error`/`skipped` child
  of its `testcase`, a collection error is a `testcase` with an `error` child.
- ruff check: `--output-format=json` (a JSON list of violations).
- ruff format: `--check --output-format=json` (ruff 0.17 prints the same JSON list, one
  "unformatted" entry per file it would change). `--check` also guarantees the gate never
  rewrites the target's files (the checklist's bare `ruff format .` would). Preferred over
  `--diff`, whose unified diff would have to be scraped for file names, and over the
  "Would reformat: path" text; a ruff too old for `--output-format` on `format` refuses the
  option and the gate is an ERROR, never a pass.
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
