"""`runbook lab`: the notebooks in JupyterLab against an environment."""

from __future__ import annotations

import argparse

NAME = "lab"
HELP = (
    "open the notebooks in JupyterLab against an environment "
    "(for local: with the sandbox and stand-ins running)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True)
    parser.add_argument(
        "--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--no-browser", action="store_true")


def run(args: argparse.Namespace) -> int:
    """JupyterLab's own exit code."""
    from runbook.orchestration.lab import open_lab

    return open_lab(args.env, args.overrides, no_browser=args.no_browser)
