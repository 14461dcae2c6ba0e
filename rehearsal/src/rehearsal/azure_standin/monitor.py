"""Azure Monitor routes of the stand-in: platform metrics, Logs queries, metric alert rules.

Nothing here is canned. Metrics and Logs are computed from the real request log of the sandbox
playing the site's production slot (`GET {sandbox_url}/_sandbox/requests`), and CPU / memory from
that sandbox process itself (`/proc/<pid>/stat`, `/proc/<pid>/status`), sampled every
`sample_seconds` by a thread of the stand-in. The sandbox's pid is `MonitorSeed.sandbox_pids[site]`
when given, else found from the sandbox URL's port (the process holding that listening socket,
via /proc/net/tcp and /proc/<pid>/fd), so nothing needs adding to the sandbox.

Metrics (`GET {site id}/providers/Microsoft.Insights/metrics`), per interval bin:
  Requests / Http5xx / Http4xx / Http2xx (Total): requests, 5xx, 4xx, 2xx answers in the bin;
  HttpResponseTime (Average, seconds): mean request duration; none in a bin without requests;
  CpuTime (Total, seconds): CPU seconds the sandbox process used in the bin;
  MemoryWorkingSet (Average/Maximum/Minimum, bytes): its resident set size (VmRSS);
  HealthCheckStatus (Average, %): share of the site's healthCheckPath requests answered < 400.
Logs (`POST /v1/workspaces/{id}/query`): only the runbook's own query shapes, recognised by the
first line `// runbook:<shape>`: requests-per-bin (bin size read from `bin(TimeGenerated, 1m)`),
requests-overall, exceptions-by-type, dependencies-by-type, server-errors, worker-activity and
worker-errors (the role read from `AppRoleName == "<role>"`, the level from
`SeverityLevel >= <n>`, worker-errors' row limit from `take <n>`), custom-metrics. Any other
query is a 400 (`UnsupportedQuery`). The tables they stand for: AppRequests = the sandbox log
(Name `METHOD <route template>`); AppExceptions = one row per 5xx answer, ExceptionType
`SandboxFault.<fault>` (or `InternalServerError`), plus the exceptions of the sandbox's
telemetry (`GET {sandbox_url}/_sandbox/telemetry`: its background worker's, under the
sandbox's worker_role); AppTraces = the traces of that telemetry; AppMetrics = its custom metric
values (what the sandbox really did: crawl jobs started / completed / failed, images,
notifications); AppDependencies = per request under `database_route_prefix` (health routes
excepted) one `postgresql` call and one `Redis` call, lasting at most the request itself (its
duration), failed when the sandbox's component_health fault marks that component `unhealthy`.
Alert rules (`GET .../providers/Microsoft.Insights/metricAlerts`): `MonitorSeed.alert_rules`.

Admin (no token): GET/PUT /_standin/monitor (the whole seed), PUT /_standin/monitor/faults,
PUT /_standin/monitor/alert-rules, GET /_standin/monitor/samples. A stand-in reset returns to
the seed (the config's `monitor` field when it has one, else MonitorSeed()).
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from rehearsal.azure_standin.monitor_seed import (  # noqa: F401
    AlertRuleSeed,
    MonitorFaults,
    MonitorSeed,
    default_alert_rule_seeds,
)

if TYPE_CHECKING:  # runtime imports stay out: config.py may import MonitorSeed from here
    from rehearsal.azure_standin.state import StandinState

ADMIN = "/_standin/monitor"
SITE = (
    "/subscriptions/{subscription}/resourceGroups/{resource_group}"
    "/providers/Microsoft.Web/sites/{site}"
)
ALERTS = (
    "/subscriptions/{subscription}/resourceGroups/{resource_group}"
    "/providers/Microsoft.Insights/metricAlerts"
)


# -- seed --------------------------------------------------------------------------------------
class MonitorError(Exception):
    """An ARM-shaped error answer of a Monitor route."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


# -- process sampling (/proc) -------------------------------------------------------------------
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def listening_pid(port: int) -> int | None:
    """The pid of the process holding a listening TCP socket on `port` (Linux /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as fh:
                lines = fh.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            listening = len(fields) > 9 and fields[3] == "0A"
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{entry}/fd/{fd}") in inodes:
                    return int(entry)
            except OSError:
                continue
    return None


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as fh:
        return float(next(ln for ln in fh if ln.startswith("btime ")).split()[1])


def read_process(pid: int) -> tuple[float, int, float] | None:
    """(CPU seconds used so far, resident set bytes, start time as epoch seconds) of a process,
    or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            rest = fh.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            rss = next((ln for ln in fh if ln.startswith("VmRSS:")), None)
        boot = _boot_time()
    except (OSError, IndexError, StopIteration, ValueError):
        return None
    if rss is None:
        return None
    cpu = (int(rest[11]) + int(rest[12])) / _CLK_TCK  # utime + stime, fields 14 and 15
    started = boot + int(rest[19]) / _CLK_TCK  # starttime, field 22
    return cpu, int(rss.split()[1]) * 1024, started


class Sampler:
    """A daemon thread sampling the CPU time and RSS of each site's production sandbox."""

    def __init__(self, runtime: MonitorRuntime) -> None:
        self.runtime = runtime
        # site -> (epoch, pid, CPU seconds so far, RSS bytes or None); a process's first entry
        # is its start (0 CPU seconds, RSS unknown), so CPU per interval is known from the start
        self.samples: dict[str, deque[tuple[float, int, float, int | None]]] = {}
        self._pids: dict[str, tuple[str, int]] = {}  # site -> (url, pid) found by port
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="monitor-sampler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def pid_of(self, site: str, url: str | None) -> int | None:
        pinned = self.runtime.seed.sandbox_pids.get(site)
        if pinned:
            return pinned
        if not url:
            return None
        known = self._pids.get(site)
        if known and known[0] == url and os.path.exists(f"/proc/{known[1]}"):
            return known[1]
        port = urlparse(url).port
        pid = listening_pid(port) if port else None
        if pid is not None:
            self._pids[site] = (url, pid)
        return pid

    def sample_once(self) -> None:
        for site, url in self.runtime.production_sandboxes().items():
            pid = self.pid_of(site, url)
            reading = read_process(pid) if pid else None
            if pid is None or reading is None:
                continue
            series = self.samples.setdefault(site, deque(maxlen=200_000))
            if not series or series[-1][1] != pid:
                series.append((reading[2], pid, 0.0, None))
            series.append((time.time(), pid, reading[0], reading[1]))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception:  # noqa: BLE001 -- a sampling hiccup must not end the sampler
                pass
            self._stop.wait(self.runtime.seed.sample_seconds)


# -- runtime ------------------------------------------------------------------------------------
class MonitorRuntime:
    """The Monitor routes' state, re-seeded whenever the stand-in is reset."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._config_ref: object = None
        self._seed = MonitorSeed()
        self.metrics_errors_left: int | None = None
        self.sampler = Sampler(self)

    @property
    def standin(self) -> StandinState:
        return self.app.state.standin

    @property
    def seed(self) -> MonitorSeed:
        config = self.standin.config
        if config is not self._config_ref:  # first use, or the stand-in was reset
            self._config_ref = config
            self.set_seed(getattr(config, "monitor", None) or MonitorSeed())
        return self._seed

    def set_seed(self, seed: MonitorSeed) -> None:
        self._seed = seed.model_copy(deep=True)
        self.metrics_errors_left = seed.faults.metrics_error_count

    def production_sandboxes(self) -> dict[str, str | None]:
        return {name: spec.sandbox_url for name, spec in self.standin.config.sites.items()}


def _runtime(request: Request) -> MonitorRuntime:
    return request.app.state.monitor


router = APIRouter()


# -- time helpers -------------------------------------------------------------------------------
_DURATION = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        raise MonitorError(400, "BadRequest", f"Invalid ISO 8601 duration {text!r}.")
    d, h, m, s = (float(x) if x else 0.0 for x in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise MonitorError(400, "BadRequest", f"Invalid timespan instant {text!r}.") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_timespan(
    text: str | None, default: timedelta = timedelta(hours=1)
) -> tuple[datetime, datetime]:
    """'start/end', 'start/PT1H' or 'PT1H' (ending now) as (start, end) in UTC."""
    now = datetime.now(UTC)
    if not text:
        return now - default, now
    if "/" in text:
        first, second = text.split("/", 1)
        start = _instant(first)
        relative = second.strip().upper().startswith("P")
        end = start + _duration(second) if relative else _instant(second)
    else:
        end, start = now, now - _duration(text)
    if end <= start:
        raise MonitorError(400, "BadRequest", f"Timespan {text!r} ends before it starts.")
    return start, end


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bins(start: datetime, end: datetime, interval: timedelta) -> list[datetime]:
    step = interval.total_seconds()
    first = math.floor(start.timestamp() / step) * step
    out, t = [], first
    while t < end.timestamp():
        out.append(datetime.fromtimestamp(t, UTC))
        t += step
    return out


NO_ANSWER = 0  # the sandbox's log status for a connection reset without an HTTP answer
FRONT_END_BAD_GATEWAY = 502


# -- sandbox data -------------------------------------------------------------------------------
async def _sandbox_log(url: str) -> list[dict[str, Any]]:
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{url.rstrip('/')}/_sandbox/requests", params={"since": 0})
            response.raise_for_status()
            records = response.json()["requests"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise MonitorError(
            503, "ServiceUnavailable", f"Metrics source (sandbox {url}) unavailable: {exc!r}"
        ) from exc
    for r in records:
        r["_t"] = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
        if r["status"] == NO_ANSWER:  # the app dropped the connection: the front end says 502
            r["status"] = FRONT_END_BAD_GATEWAY
    return records


async def _sandbox_telemetry(url: str) -> list[dict[str, Any]]:
    """The sandbox's telemetry items (metrics, traces, exceptions), each with its epoch `_t`."""
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(
                f"{url.rstrip('/')}/_sandbox/telemetry", params={"since": 0}
            )
            response.raise_for_status()
            records = response.json()["telemetry"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise MonitorError(
            503, "ServiceUnavailable", f"Telemetry source (sandbox {url}) unavailable: {exc!r}"
        ) from exc
    for r in records:
        r["_t"] = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp()
    return list(records)


async def _sandbox_faults(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{url.rstrip('/')}/_sandbox/faults")
            response.raise_for_status()
            return dict(response.json())
    except (httpx.HTTPError, ValueError) as exc:
        message = f"sandbox {url} unavailable: {exc!r}"
        raise MonitorError(503, "ServiceUnavailable", message) from exc


def _site_sandbox(runtime: MonitorRuntime, site: str) -> str:
    url = runtime.standin.site(site).sandbox_url
    if not url:
        raise MonitorError(
            400,
            "BadRequest",
            f"No metrics source: the production slot of site '{site}' names no sandbox_url.",
        )
    return url


# -- metrics ------------------------------------------------------------------------------------
_UNITS = {
    "Requests": "Count", "Http5xx": "Count", "Http4xx": "Count", "Http2xx": "Count",
    "HttpResponseTime": "Seconds", "CpuTime": "Seconds", "MemoryWorkingSet": "Bytes",
    "HealthCheckStatus": "Percent",
}  # fmt: skip
_AGGREGATIONS = ("total", "average", "minimum", "maximum", "count")


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "average": sum(values) / len(values),
        "minimum": min(values),
        "maximum": max(values),
        "count": float(len(values)),
    }


def _metric_points(
    name: str,
    bins: list[datetime],
    step: float,
    log: list[dict[str, Any]],
    samples: Iterable[tuple[float, int, float, int | None]],
    health_path: str | None,
) -> list[dict[str, float]]:
    """Every aggregation of one metric for each bin (an empty dict: no value in that bin)."""
    per_bin: list[list[dict[str, Any]]] = [[] for _ in bins]
    origin = bins[0].timestamp() if bins else 0.0
    for r in log:
        i = int((r["_t"] - origin) // step)
        if 0 <= i < len(bins):
            per_bin[i].append(r)
    out: list[dict[str, float]] = []
    if name in ("Requests", "Http5xx", "Http4xx", "Http2xx"):
        lo = {"Requests": 0, "Http5xx": 500, "Http4xx": 400, "Http2xx": 200}[name]
        hi = 1000 if name == "Requests" else lo + 100
        for rows in per_bin:
            n = float(sum(1 for r in rows if lo <= r["status"] < hi))
            out.append({"total": n, "count": float(len(rows))})
        return out
    if name == "HttpResponseTime":
        return [_stats([r["duration_ms"] / 1000 for r in rows]) for rows in per_bin]
    if name == "HealthCheckStatus":
        for rows in per_bin:
            hits = [r for r in rows if health_path and r["path"] == health_path]
            out.append(_stats([100.0 if r["status"] < 400 else 0.0 for r in hits]))
        return out
    series = list(samples)
    if name == "MemoryWorkingSet":
        for b in bins:
            t0 = b.timestamp()
            out.append(
                _stats([float(s[3]) for s in series if s[3] is not None and t0 <= s[0] < t0 + step])
            )
        return out
    if name == "CpuTime":
        for b in bins:
            t0, t1 = b.timestamp(), b.timestamp() + step
            before = [s for s in series if s[0] <= t0]
            inside = [s for s in series if t0 < s[0] <= t1]
            if not inside:
                out.append({})
                continue
            first = before[-1] if before and before[-1][1] == inside[-1][1] else inside[0]
            if first is inside[-1]:
                out.append({})
                continue
            used = max(0.0, inside[-1][2] - first[2])
            out.append({"total": used, "average": used, "count": 1.0})
        return out
    raise MonitorError(
        400,
        "BadRequest",
        f"Failed to find metric configuration for provider: Microsoft.Web, resource Type: sites, "
        f"metric: {name}. Valid metrics: {', '.join(_UNITS)}",
    )


@router.get(SITE + "/providers/Microsoft.Insights/metrics")
async def metrics(request: Request) -> JSONResponse:
    """Platform metrics of a site, computed from its production sandbox's traffic and process."""
    runtime = _runtime(request)
    state = runtime.standin
    p, q = request.path_params, request.query_params
    state.check_scope(p["subscription"], p["resource_group"])
    site = state.site_name(p["site"])
    faults = runtime.seed.faults
    if faults.metrics_error_status is not None and runtime.metrics_errors_left != 0:
        if runtime.metrics_errors_left is not None:
            runtime.metrics_errors_left -= 1
        raise MonitorError(
            faults.metrics_error_status,
            "MetricsUnavailable",
            "The metrics service answered an error (stand-in fault metrics_error_status).",
        )
    names = [n.strip() for n in (q.get("metricnames") or "Requests").split(",") if n.strip()]
    aggregations = [
        a.strip().lower() for a in (q.get("aggregation") or "Average").split(",") if a.strip()
    ]
    if any(a not in _AGGREGATIONS for a in aggregations):
        raise MonitorError(400, "BadRequest", f"Invalid aggregation {q.get('aggregation')!r}.")
    interval_text = q.get("interval") or "PT1M"
    interval = _duration(interval_text)
    if interval.total_seconds() < 60:
        raise MonitorError(400, "BadRequest", f"Invalid interval {interval_text!r}.")
    start, end = parse_timespan(q.get("timespan"))
    bins = _bins(start, end, interval)
    url = _site_sandbox(runtime, site)
    log = [] if faults.metrics_empty else await _sandbox_log(url)
    samples = [] if faults.metrics_empty else list(runtime.sampler.samples.get(site, ()))
    health_path = (state.site(site).site_config or {}).get("healthCheckPath")
    resource_id = (
        f"/subscriptions/{state.config.subscription_id}/resourceGroups/"
        f"{state.config.resource_group}/providers/Microsoft.Web/sites/{site}"
    )
    value = []
    for name in names:
        error_code = faults.metrics_error_codes.get(name)
        if faults.metrics_empty or error_code:
            data: list[dict[str, Any]] = []
        else:
            points = _metric_points(name, bins, interval.total_seconds(), log, samples, health_path)
            data = [
                {"timeStamp": _iso(b), **{a: pt[a] for a in aggregations if a in pt}}
                for b, pt in zip(bins, points, strict=True)
            ]
        value.append({
            "id": f"{resource_id}/providers/Microsoft.Insights/metrics/{name}",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": name, "localizedValue": name},
            "displayDescription": f"{name} of the sandbox playing {site} (stand-in)",
            "errorCode": error_code or "Success",
            **({"errorMessage": f"stand-in fault: {error_code}"} if error_code else {}),
            "unit": _UNITS.get(name, "Unspecified"),
            "timeseries": [] if (faults.metrics_empty or error_code) else [
                {"metadatavalues": [], "data": data}
            ],
        })  # fmt: skip
    return JSONResponse({
        "cost": len(bins) * len(names),
        "timespan": f"{_iso(start)}/{_iso(end)}",
        "interval": interval_text,
        "namespace": "Microsoft.Web/sites",
        "resourceregion": state.site(site).location.replace(" ", "").lower(),
        "value": value,
    })  # fmt: skip


# -- metric alert rules -------------------------------------------------------------------------
def _rule_json(state: StandinState, rule: AlertRuleSeed) -> dict[str, Any]:
    cfg = state.config
    rg_id = f"/subscriptions/{cfg.subscription_id}/resourceGroups/{cfg.resource_group}"
    scopes = rule.scopes or [f"{rg_id}/providers/Microsoft.Web/sites/{s}" for s in cfg.sites]
    criterion: dict[str, Any] = {
        "criterionType": "StaticThresholdCriterion",
        "name": "Metric1",
        "metricName": rule.metric_name,
        "operator": rule.operator,
        "threshold": rule.threshold,
        "timeAggregation": rule.time_aggregation,
        "dimensions": [],
    }
    if rule.metric_namespace:
        criterion["metricNamespace"] = rule.metric_namespace
    return {
        "id": f"{rg_id}/providers/Microsoft.Insights/metricAlerts/{rule.name}",
        "name": rule.name,
        "type": "Microsoft.Insights/metricAlerts",
        "location": "global",
        "tags": {},
        "properties": {
            "description": rule.description,
            "severity": rule.severity,
            "enabled": rule.enabled,
            "scopes": scopes,
            "evaluationFrequency": "PT1M",
            "windowSize": "PT5M",
            "criteria": {
                "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                "allOf": [criterion],
            },
            "autoMitigate": True,
            "actions": [],
        },
    }


@router.get(ALERTS)
async def metric_alerts(request: Request) -> JSONResponse:
    """The metric alert rules of the resource group (from the Monitor seed)."""
    runtime = _runtime(request)
    p = request.path_params
    runtime.standin.check_scope(p["subscription"], p["resource_group"])
    if "api-version" not in request.query_params:
        raise MonitorError(400, "MissingApiVersionParameter", "The api-version is required.")
    rules = [_rule_json(runtime.standin, r) for r in runtime.seed.alert_rules]
    return JSONResponse({"value": rules})


# -- Logs ---------------------------------------------------------------------------------------
_SHAPE = re.compile(r"^\s*//\s*runbook:([a-z0-9-]+)")
_ROLE = re.compile(r"AppRoleName\s*==\s*\"([^\"]*)\"")
_SEVERITY = re.compile(r"SeverityLevel\s*>=\s*(\d+)")
_TAKE = re.compile(r"\|\s*(?:take|limit)\s+(\d+)")
SHAPES = (
    "requests-per-bin",
    "requests-overall",
    "exceptions-by-type",
    "dependencies-by-type",
    "server-errors",
    "worker-activity",
    "worker-errors",
    "custom-metrics",
)
_BIN = re.compile(r"bin\(\s*TimeGenerated\s*,\s*(\d+)\s*([smhd])\s*\)")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _request_summary(rows: list[dict[str, Any]]) -> list[Any]:
    durations = [r["duration_ms"] for r in rows]
    failed = sum(1 for r in rows if r["status"] >= 500)
    return [
        len(rows), failed, failed / len(rows) if rows else None,
        _percentile(durations, 50), _percentile(durations, 95), _percentile(durations, 99),
    ]  # fmt: skip


_SUMMARY_COLUMNS = [
    ("requests", "long"), ("failed", "long"), ("error_rate", "real"),
    ("p50_ms", "real"), ("p95_ms", "real"), ("p99_ms", "real"),
]  # fmt: skip


def _table(columns: list[tuple[str, str]], rows: list[list[Any]]) -> dict[str, Any]:
    return {
        "name": "PrimaryResult",
        "columns": [{"name": n, "type": t} for n, t in columns],
        "rows": rows,
    }


def _workspace_site(runtime: MonitorRuntime, workspace: str) -> str:
    mapping = runtime.seed.log_workspaces
    if mapping:
        if workspace not in mapping:
            raise MonitorError(404, "WorkspaceNotFound", f"Workspace '{workspace}' not found.")
        return runtime.standin.site_name(mapping[workspace])
    sites = list(runtime.standin.config.sites)
    if len(sites) != 1:
        raise MonitorError(404, "WorkspaceNotFound", f"Workspace '{workspace}' maps to no site.")
    return sites[0]


@router.post("/v1/workspaces/{workspace}/query")
async def logs_query(request: Request) -> JSONResponse:
    """Answer the runbook's own Logs query shapes from the sandbox's request log."""
    runtime = _runtime(request)
    seed = runtime.seed
    if seed.faults.logs_error_status is not None:
        raise MonitorError(
            seed.faults.logs_error_status,
            "LogsUnavailable",
            "The Logs service answered an error (stand-in fault logs_error_status).",
        )
    site = _workspace_site(runtime, request.path_params["workspace"])
    try:
        body = await request.json()
        query = str(body["query"])
    except (ValueError, KeyError, TypeError) as exc:
        raise MonitorError(400, "BadArgumentError", "The body must be {query, timespan}.") from exc
    match = _SHAPE.match(query)
    if not match or match.group(1) not in SHAPES:
        raise MonitorError(
            400,
            "UnsupportedQuery",
            "The stand-in is not a KQL engine: it answers only queries whose first line is "
            f"'// runbook:<shape>' with shape one of {', '.join(SHAPES)}.",
        )
    shape = match.group(1)
    start, end = parse_timespan(body.get("timespan"), default=timedelta(days=1))
    url = _site_sandbox(runtime, site)
    if shape in _TELEMETRY_SHAPES:
        items = [
            r
            for r in await _sandbox_telemetry(url)
            if start.timestamp() <= r["_t"] < end.timestamp()
        ]
        return JSONResponse({"tables": [_TELEMETRY_SHAPES[shape](query, items)]})
    log = [r for r in await _sandbox_log(url) if start.timestamp() <= r["_t"] < end.timestamp()]
    if shape == "requests-per-bin":
        found = _BIN.search(query)
        if not found:
            raise MonitorError(
                400, "UnsupportedQuery", "requests-per-bin needs bin(TimeGenerated, <n>[smhd])."
            )
        step = int(found.group(1)) * _UNIT_S[found.group(2)]
        groups: dict[int, list[dict[str, Any]]] = {}
        for r in log:
            groups.setdefault(int(r["_t"] // step * step), []).append(r)
        rows = [
            [_iso(datetime.fromtimestamp(t, UTC)), *_request_summary(groups[t])]
            for t in sorted(groups)
        ]
        table = _table([("TimeGenerated", "datetime"), *_SUMMARY_COLUMNS], rows)
    elif shape == "requests-overall":
        rows = [_request_summary(log)] if log else [[0, 0, None, None, None, None]]
        table = _table(_SUMMARY_COLUMNS, rows)
    elif shape == "exceptions-by-type":
        counts: dict[str, int] = {}
        for r in log:
            if r["status"] >= 500:
                kind = ".".join(["SandboxFault", *r.get("faults", [])[-1:]])
                kind = kind if kind != "SandboxFault" else "InternalServerError"
                counts[kind] = counts.get(kind, 0) + 1
        for item in await _sandbox_telemetry(url):  # the worker's exceptions: same table
            if item["kind"] == "exception" and start.timestamp() <= item["_t"] < end.timestamp():
                counts[item["exception_type"]] = counts.get(item["exception_type"], 0) + 1
        rows = [[k, v] for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
        table = _table([("ExceptionType", "string"), ("count_", "long")], rows)
    elif shape == "server-errors":
        groups5: dict[tuple[str, str], list[float]] = {}
        for r in log:
            if r["status"] >= 500:
                name = f"{r['method']} {r.get('route') or r['path']}"
                groups5.setdefault((name, str(r["status"])), []).append(r["_t"])
        rows = [
            [name, code, len(ts), _iso_ms(min(ts)), _iso_ms(max(ts))]
            for (name, code), ts in groups5.items()
        ]
        rows.sort(key=lambda row: row[3])
        table = _table(
            [
                ("Name", "string"),
                ("ResultCode", "string"),
                ("count_", "long"),
                ("first_seen", "datetime"),
                ("last_seen", "datetime"),
            ],
            rows,
        )
    else:
        health = (await _sandbox_faults(url)).get("component_health") or {}
        calls = [
            r for r in log
            if r["path"].startswith(seed.database_route_prefix)
            and not any(r["path"].startswith(h) for h in seed.health_route_prefixes)
        ]  # fmt: skip
        rows = []
        for kind, component in (("Redis", "redis"), ("postgresql", "database")):
            if not calls:
                continue
            durations = [r["duration_ms"] for r in calls]
            failed = len(calls) if health.get(component) == "unhealthy" else 0
            rows.append([
                kind, len(calls), failed, sum(durations) / len(durations),
                _percentile(durations, 95),
            ])  # fmt: skip
        table = _table(
            [("DependencyType", "string"), ("calls", "long"), ("failed", "long"),
             ("avg_ms", "real"), ("p95_ms", "real")],
            rows,
        )  # fmt: skip
    return JSONResponse({"tables": [table]})


def _iso_ms(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _worker_items(query: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The traces and exceptions of the role the query names (AppRoleName == "<role>")."""
    found = _ROLE.search(query)
    if not found:
        raise MonitorError(
            400, "UnsupportedQuery", 'worker queries need where AppRoleName == "<role>".'
        )
    return [i for i in items if i["kind"] in ("trace", "exception") and i["role"] == found[1]]


def _min_severity(query: str) -> int:
    found = _SEVERITY.search(query)
    if not found:
        raise MonitorError(400, "UnsupportedQuery", "worker queries need SeverityLevel >= <n>.")
    return int(found[1])


def _worker_activity(query: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    mine, level = _worker_items(query, items), _min_severity(query)
    stamps = [i["_t"] for i in mine]
    row = [
        len(mine),
        sum(1 for i in mine if i["severity"] >= level),
        _iso_ms(min(stamps)) if stamps else None,
        _iso_ms(max(stamps)) if stamps else None,
    ]
    return _table(
        [
            ("telemetry", "long"),
            ("errors", "long"),
            ("first_seen", "datetime"),
            ("last_seen", "datetime"),
        ],
        [row],
    )


def _worker_errors(query: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    level = _min_severity(query)
    mine = sorted(
        (i for i in _worker_items(query, items) if i["severity"] >= level), key=lambda i: i["_t"]
    )
    take = _TAKE.search(query)
    if take:
        mine = mine[: int(take[1])]
    rows = [
        [
            _iso_ms(i["_t"]),
            "AppExceptions" if i["kind"] == "exception" else "AppTraces",
            i["severity"],
            i["operation"] or None,
            i["exception_type"] or None,
            i["message"],
        ]
        for i in mine
    ]
    return _table(
        [
            ("TimeGenerated", "datetime"),
            ("ItemType", "string"),
            ("SeverityLevel", "int"),
            ("OperationName", "string"),
            ("ExceptionType", "string"),
            ("Message", "string"),
        ],
        rows,
    )


def _custom_metrics(_: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for i in items:
        if i["kind"] == "metric":
            by_name.setdefault(i["name"], []).append(i)
    rows = [
        [name, len(group), sum(i["value"] for i in group), _iso_ms(max(i["_t"] for i in group))]
        for name, group in sorted(by_name.items())
    ]
    return _table(
        [("Name", "string"), ("records", "long"), ("value_sum", "real"), ("last_seen", "datetime")],
        rows,
    )


_TELEMETRY_SHAPES = {
    "worker-activity": _worker_activity,
    "worker-errors": _worker_errors,
    "custom-metrics": _custom_metrics,
}


# -- admin --------------------------------------------------------------------------------------
admin = APIRouter(prefix=ADMIN)


@admin.get("")
async def get_seed(request: Request) -> dict[str, Any]:
    return _runtime(request).seed.model_dump(mode="json")


async def _replace(request: Request, **changes: Any) -> JSONResponse:
    runtime = _runtime(request)
    try:
        seed = MonitorSeed.model_validate({**runtime.seed.model_dump(), **changes})
    except ValidationError as exc:
        return _error(400, "InvalidMonitorSeed", str(exc))
    runtime.set_seed(seed)
    return JSONResponse(seed.model_dump(mode="json"))


@admin.put("")
async def put_seed(request: Request) -> JSONResponse:
    try:
        seed = MonitorSeed.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return _error(400, "InvalidMonitorSeed", str(exc))
    _runtime(request).set_seed(seed)
    return JSONResponse(seed.model_dump(mode="json"))


@admin.put("/faults")
async def put_faults(request: Request) -> JSONResponse:
    return await _replace(request, faults=await request.json())


@admin.put("/alert-rules")
async def put_alert_rules(request: Request) -> JSONResponse:
    return await _replace(request, alert_rules=await request.json())


@admin.get("/samples")
async def get_samples(request: Request) -> dict[str, Any]:
    runtime = _runtime(request)
    return {
        site: [{"t": t, "pid": pid, "cpu_s": cpu, "rss": rss} for t, pid, cpu, rss in series]
        for site, series in runtime.sampler.samples.items()
    }


def install(app: FastAPI) -> None:
    """Add the Monitor routes to the stand-in app and start sampling the sandbox processes."""
    runtime = MonitorRuntime(app)
    app.state.monitor = runtime
    app.include_router(router)
    app.include_router(admin)

    async def _monitor_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MonitorError)
        return _error(exc.status, exc.code, exc.message)

    app.add_exception_handler(MonitorError, _monitor_error)
    runtime.sampler.start()
