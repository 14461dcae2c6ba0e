"""How a pytest gate measures coverage in its own test run: with pytest-cov or with coverage.py.

`coverage_tool: pytest-cov` (the default) keeps the gate's argv and adds pytest-cov's report
options: `--cov-report=json:<evidence>` and `--cov-report=term` (its TOTAL line).

`coverage_tool: coverage` is for targets that have coverage.py but not pytest-cov (e.g.
`coverage run -m pytest tests/` then `coverage report`). The gate's pytest runs under
`coverage run`: the element naming pytest becomes `coverage run [options] -m pytest`, through
the same runner (`uv run pytest` -> `uv run coverage run -m pytest`, `python -m pytest` ->
`python -m coverage run -m pytest`, `.venv/bin/pytest` -> `.venv/bin/coverage run -m pytest`).
The gate's `--cov` options still name what is measured, translated for coverage.py
(`--cov=app` -> `--source=app`, bare `--cov` -> `--source=.`, `--cov-branch` -> `--branch`,
`--cov-config=F` -> `--rcfile=F`); without them coverage.py reads the target's own
configuration. After the run, the same runner writes `coverage json -o <evidence>` (for the
layers) and `coverage report` (its TOTAL line, which the run's total must agree with), both
from that run's data file — the suite never runs twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

PYTEST_NAMES = ("pytest", "py.test")
COVERAGE = "coverage"
TRANSLATED = ("--cov", "--cov-branch", "--cov-config")  # what coverage mode accepts of --cov*
_MISSING = re.compile(
    r"Failed to spawn: `?coverage\b`?|No module named '?coverage'?\b|"
    r"command not found: coverage|coverage: (?:command )?not found|Command not found: coverage",
    re.I,
)


def pytest_index(argv: Sequence[str]) -> int | None:
    """Index of the argv element that names pytest (`pytest`, `py.test` or a path to one)."""
    for index, item in enumerate(argv):
        if Path(item).name in PYTEST_NAMES:
            return index
    return None


def cov_sources(argv: Sequence[str]) -> list[str]:
    """The `--cov` sources of a pytest argv (`--cov=x` or `--cov x`; bare `--cov` is '.')."""
    sources: list[str] = []
    for index, item in enumerate(argv):
        if item.startswith("--cov="):
            sources.append(item.removeprefix("--cov="))
        elif item == "--cov":
            following = argv[index + 1] if index + 1 < len(argv) else ""
            sources.append(following if following and not following.startswith("-") else ".")
    return sources


def untranslatable(argv: Sequence[str]) -> list[str]:
    """pytest-cov options coverage mode cannot carry over (e.g. --cov-report, --cov-fail-under)."""
    return [item for item in argv if item.startswith("--cov")
            and item.split("=", 1)[0] not in TRANSLATED]  # fmt: skip


def _cov_options(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the argv without its --cov options, coverage.py's options for them)."""
    kept: list[str] = []
    options: list[str] = []
    sources = cov_sources(argv)
    skip_next = False
    for index, item in enumerate(argv):
        if skip_next:
            skip_next = False
            continue
        if item == "--cov":
            following = argv[index + 1] if index + 1 < len(argv) else ""
            skip_next = bool(following) and not following.startswith("-")
        elif item == "--cov-branch":
            options.append("--branch")
        elif item.startswith("--cov-config="):
            options.append(f"--rcfile={item.removeprefix('--cov-config=')}")
        elif not item.startswith("--cov="):
            kept.append(item)
    if sources:
        options.insert(0, f"--source={','.join(sources)}")
    return kept, options


def coverage_prefix(argv: Sequence[str]) -> list[str]:
    """How this argv's runner starts coverage.py: everything before pytest, then `coverage`
    (a path to pytest gives the `coverage` beside it)."""
    index = pytest_index(argv)
    if index is None:
        raise ValueError("no pytest in the gate's argv to run under `coverage run`")
    token = argv[index]
    name = str(Path(token).with_name(COVERAGE)) if "/" in token else COVERAGE
    return [*argv[:index], name]


def rcfile_options(argv: Sequence[str]) -> list[str]:
    """`--rcfile=F` for the report commands when the gate names a coverage config."""
    return [f"--rcfile={i.removeprefix('--cov-config=')}" for i in argv
            if i.startswith("--cov-config=")]  # fmt: skip


def coverage_run_argv(argv: Sequence[str]) -> list[str]:
    """The gate's pytest argv run under `coverage run`, its --cov options translated."""
    kept, options = _cov_options(argv)
    index = pytest_index(kept)
    if index is None:
        raise ValueError("no pytest in the gate's argv to run under `coverage run`")
    return [*coverage_prefix(kept), "run", *options, "-m", "pytest", *kept[index + 1 :]]


def report_argvs(argv: Sequence[str], json_path: Path) -> dict[str, list[str]]:
    """The commands that turn the run's data into evidence: step name -> argv."""
    prefix, rc = coverage_prefix(argv), rcfile_options(argv)
    return {
        "coverage json": [*prefix, "json", *rc, "-o", str(json_path)],
        "coverage report": [*prefix, "report", *rc],
    }


def combine_argv(argv: Sequence[str]) -> list[str]:
    """`coverage combine` through the same runner (for a target configured `parallel = true`)."""
    return [*coverage_prefix(argv), "combine", *rcfile_options(argv)]


def coverage_missing(text: str) -> bool:
    """Whether a runner's output says it could not find coverage.py."""
    return bool(_MISSING.search(text))
