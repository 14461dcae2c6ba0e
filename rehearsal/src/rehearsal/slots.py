"""Local rehearsal wiring: one sandbox per slot, and a stand-in that knows which plays which."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from rehearsal.azure_standin.config import StandinConfig
from rehearsal.sandbox.config import DEFAULT_TOKEN_ENV, SandboxConfig
from rehearsal.sandbox.server import SandboxHandle, start_sandbox
from runbook.phases.deploy.params import PRODUCTION


def start_slot_sandboxes(
    base_config: SandboxConfig,
    token: str,
    token_env: str = DEFAULT_TOKEN_ENV,
    *,
    slots: Sequence[str] = (PRODUCTION, "staging"),
) -> dict[str, SandboxHandle]:
    """Start one sandbox per slot (free ports, same token), in parallel; stop them all on error.
    The database faults stay with the production sandbox: the slots share its PostgreSQL."""
    config = base_config.model_copy(update={"port": 0})
    calm = config.model_copy(
        update={
            "faults": config.faults.model_copy(
                update={"db_hold_connections": 0, "db_slow_query_ms": 0}
            )
        }
    )

    def one(slot: str) -> SandboxHandle:
        return start_sandbox(config if slot == PRODUCTION else calm, token, token_env=token_env)

    with ThreadPoolExecutor(max_workers=len(slots) or 1) as pool:
        futures = {slot: pool.submit(one, slot) for slot in slots}
    handles: dict[str, SandboxHandle] = {}
    errors: list[BaseException] = []
    for slot, future in futures.items():
        try:
            handles[slot] = future.result()
        except Exception as exc:  # noqa: BLE001 - stop the others, then raise the first
            errors.append(exc)
    if errors:
        for handle in handles.values():
            handle.stop()
        raise errors[0]
    return handles


def attach_slot_sandboxes(
    config: StandinConfig, site: str, urls: Mapping[str, str]
) -> StandinConfig:
    """A copy of the stand-in config where each slot of `site` names the sandbox playing it."""
    out = config.model_copy(deep=True)
    spec = out.sites[site]
    for slot, url in urls.items():
        target = spec if slot == PRODUCTION else spec.slots[slot]
        target.sandbox_url = url
    return out
