"""The state one sandbox app shares across its requests, kept on `app.state.sandbox`.

Each router is built around it (`routes/`); a reset replaces the store inside, so routes read
`runtime.store` where they use it rather than keeping it across an `await`.
"""

from __future__ import annotations

import os
import uuid

from rehearsal.sandbox.config import SandboxConfig
from rehearsal.sandbox.database import SandboxDatabase
from rehearsal.sandbox.faults import FaultInjector
from rehearsal.sandbox.store import Store
from rehearsal.sandbox.telemetry import TelemetryLog
from rehearsal.sandbox.traffic import FixedWindowRateLimiter, RequestLog

SANDBOX_USER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://pixcrawler.local/sandbox-user"))


class SandboxRuntime:
    """Per-app state: the config, the API token, the store, the fault knobs, the rate limiter,
    the request and telemetry logs and, when configured, the database."""

    def __init__(self, config: SandboxConfig, token: str) -> None:
        if not token:
            raise ValueError("the sandbox needs a non-empty API token")
        self.config = config
        self.token = token
        self.store = Store(user_id=SANDBOX_USER_ID)
        self.injector = FaultInjector(config.faults, config.seed)
        self.limiter = FixedWindowRateLimiter(
            config.rate_limit_per_minute,
            per_key={"token": config.token_rate_limit_per_minute}
            if config.token_rate_limit_per_minute
            else None,
        )
        self.log = RequestLog(config.request_log_size)
        self.telemetry = TelemetryLog(config.request_log_size)
        self.db: SandboxDatabase | None = None
        if config.database_url_env is not None:
            url = os.environ.get(config.database_url_env, "")
            if not url:
                raise ValueError(
                    f"the sandbox's database URL variable {config.database_url_env} is not set"
                )
            self.db = SandboxDatabase(url)

    async def apply_db_faults(self) -> None:
        """Put the database knobs in force (slow statements, held connections)."""
        if self.db is not None:
            faults = self.injector.faults
            self.db.slow_query_ms = faults.db_slow_query_ms
            await self.db.hold(faults.db_hold_connections)

    def reset(self) -> None:
        """Empty the store and the log, restore the configured faults, restart rate windows."""
        self.store = Store(user_id=SANDBOX_USER_ID)
        self.injector.replace(self.config.faults)
        self.limiter.reset()
        self.log.clear()
        self.telemetry.clear()
