"""Fault injection: decides, per request, whether the sandbox is slow, failing or down; and
burns CPU in the sandbox process while the cpu_burn_percent knob is on."""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from rehearsal.sandbox.config import SandboxFaults


def route_listed(specs: list[str], method: str, template: str | None, path: str) -> bool:
    """True if one 'METHOD /path' spec names this request (by route template or concrete path)."""
    for spec in specs:
        spec_method, spec_path = spec.split(" ", 1)
        if spec_method not in ("*", method):
            continue
        if spec_path == path or (template is not None and spec_path == template):
            return True
    return False


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request: add latency, and maybe answer an error instead of the route,
    or reset the connection without any answer."""

    latency_ms: float = 0.0
    status: int | None = None  # 500 to fail the request, None to let it through
    reason: str | None = None  # "reset_routes", "fail_routes", "reset_rate" or "error_rate"
    reset: bool = False  # True: close the TCP connection with a RST, no HTTP answer


class CpuBurner:
    """Threads of this process that really use CPU: `percent` of one core in all (above 100,
    one thread per started hundred). Each hashes a buffer (hashlib lets go of the GIL, so the
    API keeps answering) for its share of every 100 ms period and sleeps the rest. `set(0)`
    and `stop()` end every thread within one period."""

    PERIOD_S = 0.1
    _BUFFER = bytes(range(256)) * 256  # 64 KiB: hashed without the GIL

    def __init__(self) -> None:
        self.percent = 0.0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        """Burning threads still alive."""
        return sum(1 for t in self._threads if t.is_alive())

    def set(self, percent: float) -> None:
        """Burn `percent` of one core from now on (0: stop)."""
        with self._lock:
            if percent == self.percent and (percent == 0 or self.threads):
                return
            self._halt()
            self.percent = percent
            if percent <= 0:
                return
            count = max(1, math.ceil(percent / 100))
            share = percent / 100 / count
            self._stop = threading.Event()
            self._threads = [
                threading.Thread(
                    target=self._burn,
                    args=(share, self._stop),
                    name=f"sandbox-cpu-burn-{i}",
                    daemon=True,
                )
                for i in range(count)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self) -> None:
        """Stop burning and wait for the threads to end."""
        with self._lock:
            self._halt()
            self.percent = 0.0

    def _halt(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def _burn(self, share: float, stop: threading.Event) -> None:
        busy = self.PERIOD_S * min(share, 1.0)
        while not stop.is_set():
            began = time.thread_time()
            wall = time.monotonic()
            while time.thread_time() - began < busy and time.monotonic() - wall < 1.0:
                hashlib.sha256(self._BUFFER).digest()
            stop.wait(max(0.0, self.PERIOD_S - (time.monotonic() - wall)))


class FaultInjector:
    """Holds the current fault knobs and a seedable random stream for error_rate, and keeps
    the CPU burner at the cpu_burn_percent knob (`close()` stops it)."""

    def __init__(self, faults: SandboxFaults, seed: int | None) -> None:
        self._seed = seed
        self._faults = faults
        self._rng = random.Random(seed)
        self.burner = CpuBurner()
        self.burner.set(faults.cpu_burn_percent)

    @property
    def faults(self) -> SandboxFaults:
        """The knobs in force."""
        return self._faults

    def replace(self, faults: SandboxFaults) -> SandboxFaults:
        """Put new knobs in force and restart the random stream from the seed."""
        self._faults = faults
        self._rng = random.Random(self._seed)
        self.burner.set(faults.cpu_burn_percent)
        return faults

    def close(self) -> None:
        """Stop what runs beside the requests (the CPU burner)."""
        self.burner.stop()

    def update(self, changes: dict[str, Any]) -> SandboxFaults:
        """Change the given knobs (others keep their value); raises ValidationError if invalid."""
        merged = {**self._faults.model_dump(), **changes}
        return self.replace(SandboxFaults.model_validate(merged))

    def decide(self, method: str, template: str | None, path: str) -> FaultDecision:
        """Latency and failure for one non-admin request (the 'down' knob is checked before).
        Listed routes win over rates; a reset wins over a 500. The random stream is only drawn
        from for a rate above 0, so adding reset_rate=0 changes no seeded error sequence."""
        f = self._faults
        latency = 0.0
        if f.latency_ms > 0 and (
            not f.latency_routes or route_listed(f.latency_routes, method, template, path)
        ):
            latency = f.latency_ms
        if f.reset_routes and route_listed(f.reset_routes, method, template, path):
            return FaultDecision(latency, reason="reset_routes", reset=True)
        if f.fail_routes and route_listed(f.fail_routes, method, template, path):
            return FaultDecision(latency, 500, "fail_routes")
        if f.reset_rate > 0 and self._rng.random() < f.reset_rate:
            return FaultDecision(latency, reason="reset_rate", reset=True)
        if (
            f.error_rate > 0
            and (not f.error_routes or route_listed(f.error_routes, method, template, path))
            and self._rng.random() < f.error_rate
        ):
            return FaultDecision(latency, 500, "error_rate")
        return FaultDecision(latency)
