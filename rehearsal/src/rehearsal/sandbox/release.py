"""Releases of the sandbox: what a deployed package "is" in a rehearsal, switched without restart.

A package's `release.json` (`{"version": "1.1.0", "sandbox": {"slow_route_ms": 400,
"faults": {...}}}`) names the version and the behaviour the sandbox takes on when that package is
deployed to the slot it plays. `PUT /_sandbox/release` switches to it atomically (no await
between the changes, so a request sees either the old release or the new one, never a gap);
knobs a release leaves out come from the sandbox's start-time config, so going back to a healthy
release undoes a regressed one.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rehearsal.sandbox.config import SandboxConfig, SandboxFaults
from rehearsal.sandbox.store import utc_now
from rehearsal.sandbox.traffic import ADMIN_PREFIX, error_envelope

RELEASE_FILE = "release.json"


class ReleaseError(RuntimeError):
    """A package without a valid release.json, or a sandbox that refused or missed a release."""


class ReleaseKnobs(BaseModel):
    """What a release brings (a subset of SandboxConfig); None: the start-time value."""

    model_config = ConfigDict(extra="forbid")

    slow_route_ms: float | None = Field(default=None, ge=0.0, le=600_000)
    faults: SandboxFaults | None = None


class Release(BaseModel):
    """The content of a package's release.json."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1)
    build_id: str | None = None
    sandbox: ReleaseKnobs = Field(default_factory=ReleaseKnobs)


def read_release(package: bytes) -> Release:
    """The Release in a zip package's top-level release.json; raises ReleaseError otherwise."""
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            raw = archive.read(RELEASE_FILE)
    except zipfile.BadZipFile as exc:
        raise ReleaseError(f"the package is not a zip archive: {exc}") from exc
    except KeyError as exc:
        raise ReleaseError(f"the package has no top-level {RELEASE_FILE}") from exc
    try:
        return Release.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise ReleaseError(f"{RELEASE_FILE} is invalid: {exc}") from exc


# -- the admin route inside the sandbox ---------------------------------------------------------
router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)


def _current(request: Request) -> dict[str, Any]:
    state = request.app.state
    if getattr(state, "release", None) is None:
        config: SandboxConfig = state.sandbox.config
        state.release_base = config.model_copy(deep=True)  # what knobs fall back to
        state.release = {
            "version": config.version,
            "build_id": None,
            "sandbox": {
                "slow_route_ms": config.slow_route_ms,
                "faults": config.faults.model_dump(),
            },
            "source": "start",
            "applied_at": utc_now(),
        }
    return state.release


@router.get("/release")
async def get_release_route(request: Request) -> dict[str, Any]:
    """The release the sandbox is playing now."""
    return _current(request)


@router.put("/release", response_model=None)
async def put_release_route(
    request: Request, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse | dict[str, Any]:
    """Become the given release: version (health, OpenAPI info) and knobs switch together."""
    try:
        release = Release.model_validate(body)
    except ValidationError as exc:
        return error_envelope(422, "ValidationError", str(exc))
    _current(request)
    app = request.app
    base: SandboxConfig = app.state.release_base
    runtime = app.state.sandbox
    config: SandboxConfig = runtime.config
    knobs = release.sandbox
    faults = knobs.faults if knobs.faults is not None else base.faults
    slow = knobs.slow_route_ms if knobs.slow_route_ms is not None else base.slow_route_ms
    # one synchronous block: no request is served between these assignments
    config.version = release.version
    config.slow_route_ms = slow
    config.faults = faults
    runtime.injector.replace(faults)
    app.version = release.version
    app.openapi_schema = None  # regenerated with the new info.version on the next request
    app.state.release = {
        "version": release.version,
        "build_id": release.build_id,
        "sandbox": {"slow_route_ms": slow, "faults": faults.model_dump()},
        "source": "release",
        "applied_at": utc_now(),
    }
    return app.state.release


# -- clients (the Azure stand-in uses these to tell a slot's sandbox what was deployed) ---------
def _call(method: str, url: str, timeout: float, body: Any = None) -> dict[str, Any]:
    import httpx  # the sandbox process itself never needs it

    target = f"{url.rstrip('/')}{ADMIN_PREFIX}/release"
    try:
        response = httpx.request(method, target, json=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ReleaseError(f"{method} {target}: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        excerpt = response.text[:300]
        raise ReleaseError(f"{method} {target} answered {response.status_code}: {excerpt}")
    return response.json()


def get_release(url: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """The release the sandbox at `url` plays (version, knobs, source, applied_at)."""
    return _call("GET", url, timeout)


def put_release(url: str, release: Release, *, timeout: float = 5.0) -> dict[str, Any]:
    """Make the sandbox at `url` become `release`; raises ReleaseError if it does not."""
    return _call("PUT", url, timeout, release.model_dump(mode="json"))


def as_release(current: dict[str, Any]) -> Release:
    """A Release from what GET /_sandbox/release answered (to hand it to another sandbox)."""
    return Release.model_validate(
        {k: current[k] for k in ("version", "build_id", "sandbox") if k in current}
    )


def exchange_releases(url_a: str, url_b: str, *, timeout: float = 5.0) -> dict[str, str]:
    """Swap the releases of two sandboxes (a slot swap); returns the versions now at a and b."""
    a, b = (
        as_release(get_release(url_a, timeout=timeout)),
        as_release(get_release(url_b, timeout=timeout)),
    )
    put_release(url_a, b, timeout=timeout)
    try:
        put_release(url_b, a, timeout=timeout)
    except ReleaseError:
        put_release(url_a, a, timeout=timeout)  # undo: both keep what they had
        raise
    return {"a": b.version, "b": a.version}
