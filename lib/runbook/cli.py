"""The `runbook` command: one subcommand per module of `runbook.commands`.

Exit codes: 0 GO (or success), 1 NO-GO / INCOMPLETE / verification failed, 2 invalid input.
"""

from __future__ import annotations

import argparse
import sys

from runbook.commands import EXIT_INVALID, Command, load_commands
from runbook.core.parameters import ParameterError
from runbook.orchestration.phase_plan import UnknownPhase


def _parser(commands: list[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runbook",
        description="The PixCrawler deployment checklist as executable, evidence-producing "
        "notebooks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in commands:
        command.add_arguments(sub.add_parser(command.NAME, help=command.HELP))
    sandbox = sub.add_parser(
        "sandbox",
        help="the local PixCrawler-compatible target (see docs/sandbox.md)",
        add_help=False,
    )
    sandbox.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch to the command's module, and turn invalid input into exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        return _sandbox(argv[1:])
    commands = load_commands()
    args = _parser(commands).parse_args(argv)
    by_name = {c.NAME: c for c in commands}
    try:
        return by_name[args.command].run(args)
    except (ParameterError, UnknownPhase) as exc:
        print("error: invalid input, nothing was executed:", file=sys.stderr)
        for line in getattr(exc, "problems", [str(exc)]):
            print(f"  - {line}", file=sys.stderr)
        return EXIT_INVALID


def _sandbox(rest: list[str]) -> int:
    """`runbook sandbox …` is the rehearsal's own command line, when it is installed."""
    from runbook.orchestration.local_services import installed_provider

    local = installed_provider()
    if local is None:
        print(
            "error: `runbook sandbox` comes with the rehearsal package "
            "(pixcrawler-runbook-rehearsal), which is not installed",
            file=sys.stderr,
        )
        return EXIT_INVALID
    return local.command(rest, prog="runbook sandbox")


if __name__ == "__main__":
    raise SystemExit(main())
