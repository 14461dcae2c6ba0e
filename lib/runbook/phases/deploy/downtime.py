"""Zero downtime, measured: a background probe on the health route during deploy, restart, swap."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx
from pydantic import BaseModel, ConfigDict

from runbook.core.checks import CheckResult, Status
from runbook.phases.deploy.health import judge_health, running_version
from runbook.phases.deploy.params import DeployParams
from runbook.phases.deploy.results import deploy_result
from runbook.providers.http import exchange

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class ProbeRecord(BaseModel):
    """One probe request: when (s since start), answer, latency, error, healthy or not, version."""

    model_config = ConfigDict(extra="forbid")

    t: float
    ts: str
    status: int | None
    latency_ms: float | None
    error: str | None
    ok: bool
    version: Any = None


class ProbeMark(BaseModel):
    """A moment of the deployment (deploy start, swap end, ...) on the probe's clock."""

    model_config = ConfigDict(extra="forbid")

    label: str
    t: float


class ZeroDowntimeProbe:
    """Probes `url` every probe.interval s in a thread; stop() judges 'Zero downtime deployment'."""

    def __init__(self, params: DeployParams, url: str) -> None:
        self.params = params
        self.url = url
        self.records: list[ProbeRecord] = []
        self.marks: list[ProbeMark] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_slot(cls, params: DeployParams, slot: str = "production") -> ZeroDowntimeProbe:
        """A probe on the health route of a slot's app URL (app_urls)."""
        base = params.app_url(slot)
        if base is None:
            raise ValueError(f"no app URL configured for slot {slot!r} (app_urls)")
        return cls(params, base + params.health.route)

    def start(self) -> Self:
        """Start probing in a daemon thread (the clock starts now)."""
        if self._thread is not None:
            raise RuntimeError("the probe was already started")
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="zero-downtime-probe", daemon=True)
        self._thread.start()
        return self

    def mark(self, label: str) -> None:
        """Note a moment of the deployment on the probe's clock (shown on the timeline)."""
        with self._lock:
            self.marks.append(ProbeMark(label=label, t=round(self._elapsed(), 3)))

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _run(self) -> None:
        probe, health = self.params.probe, self.params.health
        with httpx.Client(timeout=probe.request_timeout) as http:
            n = 0
            while not self._stop.is_set():
                t = self._elapsed()
                answer = exchange(http, "GET", self.url)
                record = ProbeRecord(
                    t=round(t, 3),
                    ts=datetime.now(UTC).isoformat(timespec="milliseconds"),
                    status=answer.status,
                    latency_ms=None if answer.elapsed_ms is None else round(answer.elapsed_ms, 2),
                    error=answer.error,
                    ok=judge_health(answer, health, None) is None,
                    version=running_version(answer, health),
                )
                with self._lock:
                    self.records.append(record)
                n += 1
                next_at = self._started + n * probe.interval  # a steady cadence, no drift
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    def wait(self, seconds: float) -> None:
        """Keep probing for `seconds` more (returns early if the probe was stopped)."""
        self._stop.wait(seconds)

    def stop(self) -> CheckResult:
        """Stop probing; PASS only if every request was healthy and at least min_requests ran."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.params.probe.request_timeout + 1)
        labels, probe = self.params.labels, self.params.probe
        with self._lock:
            records = [r.model_dump() for r in self.records]
            marks = [m.model_dump() for m in self.marks]
        failed = [r for r in records if not r["ok"]]
        latencies = sorted(r["latency_ms"] for r in records if r["latency_ms"] is not None)
        observed = {
            "requests": len(records),
            "failed": len(failed),
            "max_latency_ms": latencies[-1] if latencies else None,
            "versions": list(dict.fromkeys(r["version"] for r in records)),
        }
        threshold = {"failed": 0, "min_requests": probe.min_requests}
        evidence = {"url": self.url, "interval_s": probe.interval, "marks": marks,
                    "records": records}  # fmt: skip
        if self._thread is None or not records:
            status, text = Status.INCONCLUSIVE, "the probe made no request"
        elif failed:
            first = failed[0]
            status = Status.FAIL
            text = (
                f"{len(failed)} of {len(records)} health requests failed; first at "
                f"t={first['t']} s: {first['error'] or 'HTTP ' + str(first['status'])}"
            )
        elif len(records) < probe.min_requests:
            status = Status.INCONCLUSIVE
            text = f"only {len(records)} requests (< {probe.min_requests}): too few to tell"
        else:
            status = Status.PASS
            text = f"all {len(records)} health requests answered healthy during the deployment"
        return deploy_result(
            self.params, "zero_downtime", labels.zero_downtime, status,
            section=labels.zero_downtime_section, observed=observed, threshold=threshold,
            explanation=text, evidence=evidence,
        )  # fmt: skip

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._stop.is_set():
            self.stop()


def timeline_figure(
    records: list[ProbeRecord] | list[dict[str, Any]],
    marks: list[ProbeMark] | list[dict[str, Any]],
    *,
    title: str = "Health probe during the deployment",
) -> Figure:
    """A matplotlib Figure: probe latency over time, failures in red, deployment moments marked."""
    from matplotlib.figure import Figure  # here: importing the deploy package stays light

    rows = [r.model_dump() if isinstance(r, ProbeRecord) else r for r in records]
    moments = [m.model_dump() if isinstance(m, ProbeMark) else m for m in marks]
    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    ok = [r for r in rows if r["ok"]]
    bad = [r for r in rows if not r["ok"]]
    ax.plot([r["t"] for r in ok], [r["latency_ms"] for r in ok], "o", ms=3, color="#1a7f37",
            label=f"healthy ({len(ok)})")  # fmt: skip
    if bad:
        ax.plot([r["t"] for r in bad], [r["latency_ms"] or 0 for r in bad], "x", ms=7,
                color="#cf222e", label=f"failed ({len(bad)})")  # fmt: skip
    previous = object()
    for r in rows:  # where the running version changes
        if r["version"] is not None and r["version"] != previous and previous is not None:
            ax.annotate(str(r["version"]), (r["t"], r["latency_ms"] or 0), fontsize=7,
                        xytext=(2, 8), textcoords="offset points")  # fmt: skip
        previous = r["version"]
    for m in moments:
        ax.axvline(m["t"], color="#6e7781", ls="--", lw=1)
        ax.text(m["t"], 1.0, f" {m['label']}", rotation=90, va="top", fontsize=7,
                transform=ax.get_xaxis_transform())  # fmt: skip
    ax.set_xlabel("seconds since the probe started")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig
