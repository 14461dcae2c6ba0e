"""Serve the stand-in over TLS and announce readiness with one JSON line on stdout."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import uvicorn

from rehearsal.azure_standin.app import build_app
from rehearsal.azure_standin.config import StandinConfig
from rehearsal.azure_standin.tls import DEFAULT_HOSTS, generate_tls

READY_EVENT = "ready"


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


async def _watch_parent(server: uvicorn.Server, parent_pid: int) -> None:
    """Stop when the process that started us is gone (no orphan survives its parent)."""
    while not server.should_exit:
        if os.getppid() != parent_pid:
            server.should_exit = True
            return
        await asyncio.sleep(0.25)


async def _serve(
    server: uvicorn.Server, sock: socket.socket, ready: dict, parent_pid: int | None
) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    watcher: asyncio.Task[None] | None = None
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started:
        print(json.dumps(ready), flush=True)
        print(
            f"Azure stand-in serving {ready['url']} (ARM for App Service); "
            f"clients trust {ready['ca_bundle']}; admin at {ready['url']}/_standin/state",
            file=sys.stderr,
            flush=True,
        )
        if parent_pid is not None:
            watcher = asyncio.create_task(_watch_parent(server, parent_pid))
    await task
    if watcher is not None:
        watcher.cancel()


def serve(
    config: StandinConfig,
    workdir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    parent_pid: int | None = None,
    tls_hosts: tuple[str, ...] = DEFAULT_HOSTS,
) -> None:
    """Make TLS files in `workdir`, bind `host:port` (0: a free port), serve until stopped."""
    tls = generate_tls(workdir / "tls", tls_hosts)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    ready = {
        "event": READY_EVENT,
        "url": f"https://{url_host}:{bound_port}",
        "ca_bundle": str(tls.ca_bundle),
        "pid": os.getpid(),
    }
    uv_config = uvicorn.Config(
        build_app(config),
        ssl_certfile=str(tls.certfile),
        ssl_keyfile=str(tls.keyfile),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,  # idle keep-alive clients must not delay a stop
    )
    server = uvicorn.Server(uv_config)
    try:
        asyncio.run(_serve(server, sock, ready, parent_pid))
    finally:
        sock.close()
        sys.stdout.flush()
