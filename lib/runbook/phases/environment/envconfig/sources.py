"""Loading variables: `.env`-style files and the process environment.

The parser is small and strict: a malformed line is an error naming the file and the line,
never echoing the line (it may hold a secret).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runbook.core.checks import CheckResult, Severity, Status
from runbook.phases.environment.envconfig.params import (
    DRIFT_SECTION,
    EnvironmentConfigParams,
    FileSource,
    ProcessEnvSource,
    VariableSource,
)

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


class EnvFileError(ValueError):
    """A `.env` file that cannot be read; the message names the file and the line."""

    def __init__(self, path: Path, line: int | None, reason: str):
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


def load_env_file(path: str | Path) -> dict[str, str]:
    """Parse a `.env`-style file (KEY=VALUE, quotes, comments, `export`) into a dict."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EnvFileError(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(path, None, f"cannot read: {type(exc).__name__}") from None
    lines = text.splitlines()
    out: dict[str, str] = {}
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith(("export ", "export\t")):
            line = line[len("export") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not sep:
            raise EnvFileError(path, lineno, "expected KEY=VALUE (no '=' found)")
        if not _KEY.fullmatch(key):
            raise EnvFileError(path, lineno, "the name before '=' is not a valid variable name")
        rest = rest.strip()
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            body = rest[1:]
            # a quoted value may run over several lines until its closing quote
            while _closing(body, quote) is None and i < len(lines):
                body += "\n" + lines[i]
                i += 1
            end = _closing(body, quote)
            if end is None:
                raise EnvFileError(
                    path, lineno, f"unterminated {quote} quote in the value of {key}"
                )
            value, tail = body[:end], body[end + 1 :].strip()
            if tail and not tail.startswith("#"):
                raise EnvFileError(
                    path, lineno, f"unexpected text after the closing quote in the value of {key}"
                )
            out[key] = _unescape(value) if quote == '"' else value
        else:
            out[key] = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
    return out


def _closing(body: str, quote: str) -> int | None:
    j = 0
    while j < len(body):
        ch = body[j]
        if ch == "\\" and quote == '"':
            j += 2
            continue
        if ch == quote:
            return j
        j += 1
    return None


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), value)


def process_env(only: Sequence[str]) -> dict[str, str]:
    """The process environment restricted to names matching `only` (fnmatch, case-insensitive)."""
    patterns = [p.upper() for p in only]
    return {
        k: v
        for k, v in os.environ.items()
        if any(fnmatch.fnmatchcase(k.upper(), p) for p in patterns)
    }


def load_variables(sources: Sequence[VariableSource], root: str | Path) -> dict[str, str]:
    """Merge the variables of every source in order (later wins); raises EnvFileError."""
    out: dict[str, str] = {}
    for source in sources:
        if isinstance(source, FileSource):
            file = Path(source.file)
            out.update(load_env_file(file if file.is_absolute() else Path(root) / file))
        elif isinstance(source, ProcessEnvSource):
            out.update(process_env(source.only))
    return out


def describe_source(source: VariableSource) -> str:
    """A short label for a source, e.g. 'file lib/.../production.env' or 'process environment'."""
    if isinstance(source, FileSource):
        return f"file {source.file}"
    return "process environment"


def collect_variables(
    params: EnvironmentConfigParams, root: str | Path
) -> tuple[dict[str, str], CheckResult]:
    """Load this environment's variables; the result is ERROR when a source cannot be read,
    INCONCLUSIVE when the sources give no variable at all (names only, never values)."""
    labels = [describe_source(s) for s in params.sources]
    base: dict[str, Any] = {
        "id": "envconfig.sources",
        "section": DRIFT_SECTION,
        "title": "Environment variables loaded from the configured sources",
        "severity": Severity.BLOCKER,
        "threshold": "at least one variable from the configured sources",
    }
    if not params.sources:
        return {}, CheckResult(
            **base,
            status=Status.ERROR,
            observed="no sources",
            explanation="envconfig.sources is empty: there is nothing to check",
            evidence={"sources": []},
        )
    try:
        variables = load_variables(params.sources, root)
    except EnvFileError as exc:
        return {}, CheckResult(
            **base,
            status=Status.ERROR,
            observed="unreadable source",
            explanation=str(exc),
            evidence={"sources": labels, "error": str(exc)},
        )
    if not variables:
        return {}, CheckResult(
            **base,
            status=Status.INCONCLUSIVE,
            observed="0 variables",
            explanation="the configured sources hold no variable",
            evidence={"sources": labels},
        )
    return variables, CheckResult(
        **base,
        status=Status.PASS,
        observed=f"{len(variables)} variables",
        explanation=f"loaded {len(variables)} variables from {len(labels)} source(s)",
        evidence={"sources": labels, "names": sorted(variables)},
    )


def load_environments(env_files: Mapping[str, str], root: str | Path) -> dict[str, dict[str, str]]:
    """The variables of each named environment, from its file (for the drift table)."""
    return {
        env: load_env_file(Path(f) if Path(f).is_absolute() else Path(root) / f)
        for env, f in env_files.items()
    }
