"""Azure Database for PostgreSQL flexible servers of the stand-in: their Azure Monitor platform
metrics, computed from a REAL PostgreSQL (the one the rehearsal runs), never canned.

Which server is which PostgreSQL: `RUNBOOK_STANDIN_POSTGRES_SERVERS`, read when the stand-in
starts, is `name=VARIABLE[,name=VARIABLE…]`: flexible server `name` is the PostgreSQL whose
libpq URL is in the environment variable VARIABLE (read at each sample, so it may be set late);
`PUT /_standin/postgres/servers/{name}` (admin, no token) adds or replaces one with
{url | url_env, storage_bytes, memory_bytes, cores}. A stand-in reset keeps them.

A thread samples each server every `sample_seconds` (1 s), connecting afresh each time as a
client would:
  active_connections: client backends in pg_stat_activity (the sampler's own left out);
  connections_failed: the sampler's connection attempts the server refused (a full pool, a
    password, a server down) - PostgreSQL itself keeps no count of refused connections;
  cpu_percent: CPU the server's processes used since the last sample (/proc: the postmaster's
    own and reaped children's time plus each live backend's) over the elapsed time × cores;
  memory_percent: the postmaster's resident set plus each backend's private anonymous memory
    (RssAnon, so shared buffers count once), of `memory_bytes` (default: the machine's);
  storage_used: Σ pg_database_size over the server's databases; storage_percent: of
    `storage_bytes` (the provisioned storage, default 32 GiB: Azure's smallest).
Metrics (`GET {server id}/providers/Microsoft.Insights/metrics`) bin those samples per interval
with the aggregations asked for (connections_failed: a Total, 0 in a sampled bin without
failures); a bin without samples has no value, as Azure answers for a server that was down.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rehearsal.azure_standin.faults import ADMIN_PREFIX, arm_error
from rehearsal.azure_standin.state import StandinError, StandinState

SERVERS_ENV = "RUNBOOK_STANDIN_POSTGRES_SERVERS"
SERVER = (
    "/subscriptions/{subscription}/resourceGroups/{resource_group}"
    "/providers/Microsoft.DBforPostgreSQL/flexibleServers/{server}"
)
ADMIN = f"{ADMIN_PREFIX}/postgres"
MARK = "/* runbook:database */"  # the runbook's own statements: left out of what is judged
APPLICATION_NAME = "runbook-azure-standin"
GIB = 1024**3
UNITS = {
    "active_connections": "Count",
    "connections_failed": "Count",
    "cpu_percent": "Percent",
    "memory_percent": "Percent",
    "storage_percent": "Percent",
    "storage_used": "Bytes",
}
AGGREGATIONS = ("total", "average", "minimum", "maximum", "count")

CONNECTIONS_SQL = f"""
SELECT {MARK} count(*) AS n FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND (backend_type = 'client backend' OR (backend_type IS NULL AND usename IS NOT NULL))"""
STORAGE_SQL = (
    f"SELECT {MARK} coalesce(sum(pg_database_size(datname)), 0)::bigint AS bytes "
    "FROM pg_database WHERE has_database_privilege(datname, 'CONNECT')"
)


class ServerSpec(BaseModel):
    """One flexible server: where its PostgreSQL is and what it was provisioned with."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="libpq URL (admin only; never shown)")
    url_env: str | None = Field(None, description="environment variable holding the URL")
    storage_bytes: int = Field(32 * GIB, gt=0, description="provisioned storage")
    memory_bytes: int | None = Field(None, gt=0, description="None: the machine's MemTotal")
    cores: int | None = Field(None, ge=1, description="None: the CPUs this machine gives us")

    @model_validator(mode="after")
    def _one_source(self) -> ServerSpec:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        return self

    def resolved_url(self) -> str | None:
        return self.url if self.url is not None else os.environ.get(self.url_env or "") or None

    def shown(self) -> dict[str, Any]:
        return {**self.model_dump(exclude={"url"}), "url": "(set)" if self.url else None}


@dataclass
class Sample:
    """One sample of a server (None: not read this time)."""

    t: float
    active_connections: int | None = None
    failed: int = 0
    cpu_percent: float | None = None
    memory_percent: float | None = None
    storage_used: float | None = None
    storage_percent: float | None = None


def servers_from_env(text: str | None) -> dict[str, ServerSpec]:
    """`name=VARIABLE,…` as server specs (ValueError naming a malformed part)."""
    out: dict[str, ServerSpec] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, env = part.partition("=")
        if not sep or not name.strip() or not env.strip():
            raise ValueError(f"{SERVERS_ENV}: {part!r} is not name=VARIABLE")
        out[name.strip().lower()] = ServerSpec(url_env=env.strip())
    return out


# -- /proc readings ------------------------------------------------------------------------------
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        return fh.read().rsplit(")", 1)[1].split()


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        line = next((ln for ln in fh if ln.startswith(key + ":")), None)
    return int(line.split()[1]) if line else 0


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                kids += [int(x) for x in fh.read().split()]
    except OSError:
        return []
    return kids


def server_usage(postmaster: int) -> tuple[float, int] | None:
    """(CPU seconds the server has used, its memory in bytes) from /proc; None if unreadable."""
    try:
        fields = _stat(postmaster)
        cpu = sum(int(fields[i]) for i in (11, 12, 13, 14)) / _CLK_TCK  # u, s, cu, cs time
        memory = _status_kib(postmaster, "VmRSS") * 1024
    except (OSError, IndexError, ValueError):
        return None
    for kid in _children(postmaster):
        try:
            fields = _stat(kid)
            cpu += (int(fields[11]) + int(fields[12])) / _CLK_TCK
            memory += _status_kib(kid, "RssAnon") * 1024
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile: its time is in the postmaster's reaped-children time
    return cpu, memory


def _parent(pid: int) -> int | None:
    try:
        return _status_kib(pid, "PPid") or None
    except (OSError, ValueError):
        return None


def _cores() -> int:
    """The CPUs this machine lets us run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _mem_total() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            line = next(ln for ln in fh if ln.startswith("MemTotal:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        return None


# -- sampling ------------------------------------------------------------------------------------
class PostgresRuntime:
    """The servers, their samples, and the thread taking them."""

    def __init__(self, servers: dict[str, ServerSpec], sample_seconds: float = 1.0) -> None:
        self.servers = servers
        self.sample_seconds = sample_seconds
        self.samples: dict[str, deque[Sample]] = {}
        self._last_cpu: dict[str, tuple[float, float, int]] = {}  # name -> (t, cpu s, pid)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="postgres-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, spec in list(self.servers.items()):
                try:
                    self.sample(name, spec)
                except Exception:  # noqa: BLE001 -- a sampling hiccup must not end the sampler
                    pass
            self._stop.wait(self.sample_seconds)

    def sample(self, name: str, spec: ServerSpec) -> Sample:
        """Connect once, read the server, record the sample."""
        now = time.time()
        out = Sample(t=now)
        url = spec.resolved_url()
        series = self.samples.setdefault(name, deque(maxlen=200_000))
        if url is None:
            return out  # not known yet (the variable is not set): no sample, no failure
        try:
            conn = psycopg.connect(
                url, connect_timeout=5, autocommit=True, application_name=APPLICATION_NAME
            )
        except psycopg.Error:
            out.failed = 1
            series.append(out)
            return out
        with conn:
            out.active_connections = int(conn.execute(CONNECTIONS_SQL).fetchone()[0])  # type: ignore[index]
            used = float(conn.execute(STORAGE_SQL).fetchone()[0])  # type: ignore[index]
            backend = int(conn.execute(f"SELECT {MARK} pg_backend_pid()").fetchone()[0])  # type: ignore[index]
            postmaster = _parent(backend)  # while the backend lives: it exits with the connection
        out.storage_used = used
        out.storage_percent = 100.0 * used / spec.storage_bytes
        usage = server_usage(postmaster) if postmaster else None
        if usage is not None and postmaster is not None:
            cpu, memory = usage
            memory_total = spec.memory_bytes or _mem_total()
            if memory_total:
                out.memory_percent = 100.0 * memory / memory_total
            last = self._last_cpu.get(name)
            if last is not None and last[2] == postmaster and now > last[0]:
                cores = spec.cores or _cores()
                share = max(0.0, cpu - last[1]) / (now - last[0]) / cores
                out.cpu_percent = min(100.0, 100.0 * share)
            self._last_cpu[name] = (now, cpu, postmaster)
        series.append(out)
        return out


# -- the metrics route ---------------------------------------------------------------------------
def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise StandinError(400, "BadRequest", f"Invalid timespan instant {text!r}.") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _duration(text: str) -> timedelta:
    from runbook.phases.monitoring.params import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise StandinError(400, "BadRequest", f"Invalid ISO 8601 duration {text!r}.") from exc


def timespan_bounds(text: str | None) -> tuple[datetime, datetime]:
    """'start/end', 'start/PT1H' or 'PT1H' (ending now), as ARM reads a timespan."""
    now = datetime.now(UTC)
    if not text:
        return now - timedelta(hours=1), now
    if "/" not in text:
        return now - _duration(text), now
    first, second = text.split("/", 1)
    start = _parse_time(first)
    end = (
        start + _duration(second) if second.strip().upper().startswith("P") else _parse_time(second)
    )
    if end <= start:
        raise StandinError(400, "BadRequest", f"Timespan {text!r} ends before it starts.")
    return start, end


def bin_points(
    metric: str, samples: list[Sample], start: datetime, end: datetime, step: float
) -> list[tuple[datetime, dict[str, float]]]:
    """Every aggregation of `metric` per interval bin (an empty dict: no value there)."""
    first = math.floor(start.timestamp() / step) * step
    out = []
    t = first
    while t < end.timestamp():
        inside = [s for s in samples if t <= s.t < t + step]
        if metric == "connections_failed":
            agg = (
                {"total": float(sum(s.failed for s in inside)), "count": float(len(inside))}
                if inside
                else {}
            )
        else:
            values = [float(v) for v in (getattr(s, metric) for s in inside) if v is not None]
            agg = (
                {
                    "average": sum(values) / len(values),
                    "minimum": min(values),
                    "maximum": max(values),
                    "total": sum(values),
                    "count": float(len(values)),
                }
                if values
                else {}
            )
        out.append((datetime.fromtimestamp(t, UTC), agg))
        t += step
    return out


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


router = APIRouter()


def _runtime(request: Request) -> PostgresRuntime:
    return request.app.state.postgres


@router.get(SERVER + "/providers/Microsoft.Insights/metrics")
async def metrics(request: Request) -> JSONResponse:
    """Platform metrics of a flexible server, binned from the samples of its real PostgreSQL."""
    state: StandinState = request.app.state.standin
    runtime = _runtime(request)
    p, q = request.path_params, request.query_params
    state.check_scope(p["subscription"], p["resource_group"])
    name = p["server"].lower()
    if name not in runtime.servers:
        raise StandinError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.DBforPostgreSQL/flexibleServers/"
            f"{p['server']}' under resource group '{p['resource_group']}' "
            "was not found.",
        )
    names = [n.strip() for n in (q.get("metricnames") or "cpu_percent").split(",") if n.strip()]
    unknown = [n for n in names if n not in UNITS]
    if unknown:
        raise StandinError(
            400,
            "BadRequest",
            f"Failed to find metric configuration for "
            f"provider: Microsoft.DBforPostgreSQL, resource Type: flexibleServers,"
            f" metric: {unknown[0]}. Valid metrics: {', '.join(UNITS)}",
        )
    aggregations = [a.strip().lower() for a in (q.get("aggregation") or "Average").split(",")]
    if any(a not in AGGREGATIONS for a in aggregations):
        raise StandinError(400, "BadRequest", f"Invalid aggregation {q.get('aggregation')!r}.")
    interval_text = q.get("interval") or "PT1M"
    step = _duration(interval_text).total_seconds()
    if step < 60:
        raise StandinError(400, "BadRequest", f"Invalid interval {interval_text!r}.")
    start, end = timespan_bounds(q.get("timespan"))
    samples = list(runtime.samples.get(name, ()))
    resource = (
        f"/subscriptions/{state.config.subscription_id}/resourceGroups/"
        f"{state.config.resource_group}/providers/Microsoft.DBforPostgreSQL/"
        f"flexibleServers/{p['server']}"
    )
    value = []
    for metric in names:
        points = bin_points(metric, samples, start, end, step)
        value.append(
            {
                "id": f"{resource}/providers/Microsoft.Insights/metrics/{metric}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": metric, "localizedValue": metric},
                "displayDescription": (
                    f"{metric} of the PostgreSQL playing {p['server']} (stand-in)"
                ),
                "errorCode": "Success",
                "unit": UNITS[metric],
                "timeseries": [
                    {
                        "metadatavalues": [],
                        "data": [
                            {"timeStamp": _iso(b), **{a: agg[a] for a in aggregations if a in agg}}
                            for b, agg in points
                        ],
                    }
                ],
            }
        )
    return JSONResponse(
        {
            "cost": len(names),
            "timespan": f"{_iso(start)}/{_iso(end)}",
            "interval": interval_text,
            "namespace": "Microsoft.DBforPostgreSQL/flexibleServers",
            "resourceregion": "westeurope",
            "value": value,
        }
    )


admin = APIRouter(prefix=ADMIN)


@admin.get("")
async def get_servers(request: Request) -> dict[str, Any]:
    runtime = _runtime(request)
    return {
        "sample_seconds": runtime.sample_seconds,
        "servers": {
            n: {**s.shown(), "samples": len(runtime.samples.get(n, ()))}
            for n, s in runtime.servers.items()
        },
    }


@admin.put("/servers/{name}")
async def put_server(name: str, request: Request) -> JSONResponse:
    try:
        spec = ServerSpec.model_validate(await request.json())
    except (ValidationError, ValueError) as exc:
        return arm_error(400, "InvalidServer", str(exc))
    runtime = _runtime(request)
    runtime.servers[name.lower()] = spec
    runtime.samples.pop(name.lower(), None)
    return JSONResponse(spec.shown())


def install(app: FastAPI) -> None:
    """Add the flexible-server metrics routes and start sampling the configured servers."""
    runtime = PostgresRuntime(servers_from_env(os.environ.get(SERVERS_ENV)))
    app.state.postgres = runtime
    app.include_router(router)
    app.include_router(admin)
    runtime.thread.start()
