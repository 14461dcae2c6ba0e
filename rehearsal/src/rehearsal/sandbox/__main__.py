"""Command line: `python -m rehearsal.sandbox serve | set-faults` (also `runbook sandbox`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import sys

import uvicorn
from pydantic import ValidationError

from rehearsal.sandbox.config import DEFAULT_TOKEN_ENV, SandboxConfig

_stop_signals: list[int] = []  # SIGINT/SIGTERM received outside uvicorn's own handlers


def _emit(event: dict[str, object]) -> None:
    print(json.dumps(event), flush=True)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # is TCP, and without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def _serve(config: SandboxConfig, token: str, exit_with_parent: bool) -> None:
    from rehearsal.sandbox.app import create_app
    from rehearsal.sandbox.resets import ResettableH11Protocol

    parent = os.getppid()
    sock = _bind(config.host, config.port)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config, token),
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            http=ResettableH11Protocol,  # lets the reset_* fault knobs send a TCP RST
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        server.should_exit = server.should_exit or bool(_stop_signals)
        if serving.done():
            await serving  # startup failed: re-raise its error
            if _stop_signals:
                return
            raise RuntimeError("sandbox server stopped before it started")
        await asyncio.sleep(0.01)
    host = f"[{config.host}]" if ":" in config.host else config.host
    _emit({"event": "ready", "url": f"http://{host}:{port}", "pid": os.getpid()})

    while not serving.done():
        if _stop_signals or (exit_with_parent and os.getppid() != parent):
            server.should_exit = True  # asked to stop, or our parent died: no orphans
        await asyncio.sleep(0.2)
    await serving


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        config = SandboxConfig.model_validate_json(args.config_json or "{}")
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        config = SandboxConfig.model_validate({**config.model_dump(), **overrides})
    except ValidationError as exc:
        print(f"invalid sandbox config: {exc}", file=sys.stderr)
        return 2
    problem = config.database_problem()
    if problem:
        print(f"invalid sandbox config: {problem}", file=sys.stderr)
        return 2
    token = os.environ.get(args.token_env, "")
    if not token:
        token = secrets.token_urlsafe(24)
        print(
            f"{args.token_env} is not set; this sandbox accepts a throwaway token for this run:\n"
            f"  export {args.token_env}={token}",
            file=sys.stderr,
            flush=True,
        )
    # uvicorn handles SIGINT/SIGTERM while it serves and re-raises them after its graceful
    # shutdown; outside that window ours record them, so a signal always means a clean stop.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: _stop_signals.append(signum))
    try:
        asyncio.run(_serve(config, token, args.exit_with_parent))
    except OSError as exc:
        print(f"sandbox could not listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    _emit({"event": "stopped", "pid": os.getpid()})
    return 0


def _cmd_set_faults(args: argparse.Namespace) -> int:
    from rehearsal.sandbox.server import SandboxError, set_faults

    try:
        changes = json.loads(args.json)
        if not isinstance(changes, dict):
            raise TypeError("--json must be a JSON object")
        faults = set_faults(args.url, changes, timeout=args.timeout)
    except (ValueError, TypeError, SandboxError) as exc:
        print(f"set-faults failed: {exc}", file=sys.stderr)
        return 1
    print(faults.model_dump_json())
    return 0


def build_parser(prog: str = "python -m rehearsal.sandbox") -> argparse.ArgumentParser:
    """The sandbox command line (serve, set-faults)."""
    parser = argparse.ArgumentParser(prog=prog, description="PixCrawler-compatible local sandbox")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the sandbox in the foreground")
    serve.add_argument("--host", help="interface to bind (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (0 = a free one; default from config: 8765)")
    serve.add_argument("--config-json", help="SandboxConfig as JSON")
    serve.add_argument(
        "--token-env",
        default=DEFAULT_TOKEN_ENV,
        help=f"environment variable holding the API token (default {DEFAULT_TOKEN_ENV})",
    )
    serve.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the parent process goes away"
    )
    serve.set_defaults(func=_cmd_serve)

    faults = sub.add_parser("set-faults", help="change the fault knobs of a running sandbox")
    faults.add_argument("--url", required=True, help="sandbox base URL, e.g. http://127.0.0.1:8765")
    faults.add_argument("--json", required=True, help="changes, e.g. '{\"error_rate\": 0.1}'")
    faults.add_argument("--timeout", type=float, default=5.0)
    faults.set_defaults(func=_cmd_set_faults)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m rehearsal.sandbox") -> int:
    """Run the sandbox command line; returns the exit code."""
    args = build_parser(prog).parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
