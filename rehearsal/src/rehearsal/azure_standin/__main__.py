"""`python -m rehearsal.azure_standin serve [--config FILE] [--port N] [--workdir DIR]`."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rehearsal.azure_standin.config import EXAMPLE_CONFIG, load_standin_config
from rehearsal.azure_standin.server import serve


def main(argv: list[str] | None = None) -> int:
    """Command line entry: run the stand-in in the foreground until Ctrl-C / SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m rehearsal.azure_standin")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the Azure ARM stand-in over TLS")
    p.add_argument("--config", type=Path, default=EXAMPLE_CONFIG, help="StandinConfig YAML/JSON")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--workdir", type=Path, default=None, help="where the TLS files go")
    p.add_argument("--parent-pid", type=int, default=None, help="exit when this parent is gone")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="azure-standin-"))
    try:
        serve(
            load_standin_config(args.config),
            workdir,
            host=args.host,
            port=args.port,
            parent_pid=args.parent_pid,
        )
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has already shut down cleanly
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
