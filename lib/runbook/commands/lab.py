"""`runbook lab`: a run executed by a person in JupyterLab."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.commands import EXIT_FAILED, EXIT_INVALID
from runbook.orchestration.phase_plan import PHASES

NAME = "lab"
HELP = (
    "start a run executed in JupyterLab: a run directory with the parameterized notebooks "
    "(for local: with the stand-ins running); finish it with `runbook finish RUN_DIR`"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="environment: parameters/<env>.yaml")
    parser.add_argument(
        "--phase",
        action="append",
        dest="phases",
        metavar="NAME",
        help="only this phase's notebook (repeatable); phases: "
        + ", ".join(p.name for p in PHASES),
    )
    parser.add_argument(
        "--param", action="append", dest="overrides", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--outputs", type=Path, help="where run directories go (default outputs/)")
    parser.add_argument("--approval", type=Path, help="approval file of this exact plan")
    parser.add_argument(
        "--port", type=int, default=8888, help="JupyterLab's port (0: any free port)"
    )
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument(
        "--token-ref",
        metavar="$NAME",
        help="take JupyterLab's token from this environment variable (default: a random "
        "token, printed with the URL)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=180.0,
        metavar="SECONDS",
        help="how long JupyterLab may take to answer",
    )


def run(args: argparse.Namespace) -> int:
    """0 after a requested stop or JupyterLab's clean exit; 2 for invalid input (nothing was
    started); 1 when JupyterLab could not start."""
    from runbook.core.parameters import ParameterError
    from runbook.orchestration.lab import LabError, LabOptions, open_lab
    from runbook.orchestration.phase_plan import UnknownPhase

    options = LabOptions(
        env=args.env,
        overrides=args.overrides,
        phases=args.phases,
        outputs=args.outputs,
        approval=args.approval,
        port=args.port,
        ip=args.ip,
        no_browser=args.no_browser,
        token_ref=args.token_ref,
        ready_timeout_s=args.ready_timeout,
    )
    try:
        return open_lab(options)
    except (ParameterError, UnknownPhase) as exc:
        print(f"error: invalid input, nothing was started:\n  - {_lines(exc)}", file=sys.stderr)
        return EXIT_INVALID
    except LabError as exc:
        print(f"error: {exc}; everything started was stopped", file=sys.stderr)
        return EXIT_FAILED


def _lines(exc: Exception) -> str:
    problems = getattr(exc, "problems", None)
    return "\n  - ".join(problems) if problems else str(exc)
