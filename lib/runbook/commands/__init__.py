"""The `runbook` subcommands, one module each.

A command module has `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int` (the exit
code); it imports what it needs inside `run`, so `runbook --help` stays fast. To add a command,
write its module and name it in `COMMANDS`.
"""

from __future__ import annotations

import argparse
from importlib import import_module
from types import ModuleType
from typing import Protocol, cast

EXIT_OK = 0
EXIT_FAILED = 1  # NO-GO / INCOMPLETE / verification failed / evidence could not be written
EXIT_INVALID = 2  # invalid input: nothing was executed

COMMANDS = (
    "run",
    "resume",
    "plan",
    "approve",
    "verify",
    "summary",
    "keygen",
    "rejudge",
    "schedule",
    "list_runs",
    "store",
    "lab",
    "finish",
    "doctor",
    "init",
    "trends",
    "diff",
)


class Command(Protocol):
    """What `runbook.cli` needs of a command module."""

    NAME: str
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def load_commands() -> list[Command]:
    """Every command module, in `COMMANDS` order."""
    modules: list[ModuleType] = [import_module(f"{__name__}.{name}") for name in COMMANDS]
    return [cast(Command, m) for m in modules]
