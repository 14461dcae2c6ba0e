"""The process environment a gate runs with: the target's, never the runbook's.

A gate starts from nothing but what any command needs (HOME, PATH without the runbook's
virtual environment, the locale, the user, a temp dir, proxies and CA bundles for uv's
downloads), then what parameters hand on by name (`env_passthrough`) and the gate's own `env`.
Everything else of the runbook's run is left out: VIRTUAL_ENV (uv would warn that it does not
match the project's `.venv`), UV_*, PYTHONPATH, PYTHONHOME, COVERAGE_*, the kernel's secrets.
Colours are off (NO_COLOR=1, PY_COLORS=0, TERM=dumb), so logs quote without escape codes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

KEPT = (
    "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SHELL",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
)  # fmt: skip
KEPT_PREFIXES = ("LC_",)
NO_COLOUR = {"NO_COLOR": "1", "PY_COLORS": "0", "TERM": "dumb"}


def runbook_venv_bins(environ: Mapping[str, str] | None = None) -> set[str]:
    """Real paths of the runbook's own virtual environment's bin folders."""
    environ = os.environ if environ is None else environ
    bins: set[str] = set()
    if sys.prefix != sys.base_prefix:
        bins.add(os.path.realpath(Path(sys.prefix) / "bin"))
    if environ.get("VIRTUAL_ENV"):
        bins.add(os.path.realpath(Path(environ["VIRTUAL_ENV"]) / "bin"))
    return bins


def clean_path(path: str, drop: set[str]) -> str:
    """PATH without the folders in `drop` (compared by real path)."""
    kept = [p for p in path.split(os.pathsep) if p and os.path.realpath(p) not in drop]
    return os.pathsep.join(kept)


def _passes(name: str, patterns: Sequence[str]) -> bool:
    return any(name == p or (p.endswith("*") and name.startswith(p[:-1])) for p in patterns)


def gate_environment(
    extra: Mapping[str, str] | None = None,
    passthrough: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one gate: the kept basics, the passed-through names, then `extra`."""
    environ = dict(os.environ if environ is None else environ)
    env = {
        name: value
        for name, value in environ.items()
        if name in KEPT or name.startswith(KEPT_PREFIXES) or _passes(name, passthrough)
    }
    env["PATH"] = clean_path(environ.get("PATH", os.defpath), runbook_venv_bins(environ))
    env.update(NO_COLOUR)
    for name in ("FORCE_COLOR", "CLICOLOR_FORCE"):
        if not _passes(name, passthrough):
            env.pop(name, None)
    env.update(extra or {})
    return env
