"""Celery health through the broker (checklist "Monitoring and Alerting" §4 Celery Monitoring;
Deployment Steps §3.3 "Check Celery worker status", §3.4 "Celery queue length normal" and
"No Celery worker failures", §2.5 "Celery workers stable").

Workers are seen through control broadcasts (ping, then stats/active of those that answered);
queue length by LLEN on a Redis broker; task success/failure rates from the Redis result
backend (or, without one, from task events); average duration only from task events. See
`workers.task_outcomes` for what each source can and cannot see. A worker on the
solo pool cannot answer control commands while it runs a task (prefork workers can), so a
busy solo worker counts as not answering.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis
from kombu.exceptions import KombuError
from redis.backoff import NoBackoff
from redis.retry import Retry

from runbook.core.checks import CheckResult, Severity, Status
from runbook.core.secret_refs import SecretUnavailable
from runbook.phases.monitoring.workers.check_specs import CheckSpec, worst
from runbook.phases.monitoring.workers.endpoints import ResolvedUrl, resolve_url
from runbook.phases.monitoring.workers.params import CeleryParams, WorkersParams
from runbook.phases.monitoring.workers.task_outcomes import (
    TaskOutcomes,
    listen_events,
    read_result_backend,
)
from runbook.providers.celery import inspection_app, ping_workers

_S4 = "Monitoring and Alerting §4 Celery Monitoring"
WORKERS = CheckSpec(
    "celery.active_workers",
    f"{_S4} — Active workers (Deployment Steps §3.3: Check Celery worker status)",
    "Celery workers answer",
)
QUEUE = CheckSpec(
    "celery.queue_length",
    f"{_S4} — Queue length (Deployment Steps §3.4: Celery queue length normal)",
    "Celery queue length",
)
SUCCESS = CheckSpec(
    "celery.task_success_rate", f"{_S4} — Task success rate", "Celery task success rate"
)
FAILURE = CheckSpec(
    "celery.task_failure_rate", f"{_S4} — Task failure rate", "Celery task failure rate"
)
DURATION = CheckSpec(
    "celery.average_task_duration",
    f"{_S4} — Average task duration",
    "Celery average task duration",
    Severity.WARNING,
)
WORKER_FAILURES = CheckSpec(
    "celery.worker_failures",
    "Deployment Steps §3.4 Monitor Production — Alerts: No Celery worker failures "
    "(§2.5 Celery workers stable)",
    "No Celery worker failures",
)
CELERY_SPECS = (WORKERS, QUEUE, SUCCESS, FAILURE, DURATION, WORKER_FAILURES)

REDIS_SCHEMES = ("redis", "rediss")
STATS_KEYS = ("pid", "uptime", "total", "prefetch_count")
POOL_KEYS = ("implementation", "max-concurrency", "processes")
# kombu's Redis transport stores priority p > 0 of queue q under q + sep + p
DEFAULT_PRIORITY_STEPS = (0, 3, 6, 9)
DEFAULT_SEP = "\x06\x16"


@dataclass
class CeleryObservation:
    """Everything read through the broker and the result backend, errors included (scrubbed)."""

    broker: dict[str, str]
    app: str
    broker_error: str | None = None
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    unanswered_inspect: list[str] = field(default_factory=list)
    queues: dict[str, int] = field(default_factory=dict)
    queue_keys: dict[str, dict[str, int]] = field(default_factory=dict)
    queue_error: str | None = None
    results: TaskOutcomes | None = None
    results_error: str | None = None
    events: TaskOutcomes | None = None
    events_error: str | None = None
    listening: threading.Event | None = field(default=None, repr=False)

    def evidence(self) -> dict[str, Any]:
        return {"app": self.app, "broker": self.broker}


def celery_checks(params: WorkersParams) -> list[CheckResult]:
    """Active workers, queue length, success/failure rates, average duration and worker
    failures, seen through the broker; SKIP when no broker is configured."""
    if params.celery is None:
        why = "no Celery broker configured ('celery' section absent in this environment)"
        return [spec.skip(why) for spec in CELERY_SPECS]
    p = params.celery
    try:
        broker = resolve_url(p.broker)
        backend = resolve_url(p.result_backend) if p.result_backend is not None else None
    except SecretUnavailable as exc:
        return [spec.error(f"cannot build the Celery URLs: {exc}") for spec in CELERY_SPECS]
    obs = observe_celery(p, broker, backend)
    return [
        _active_workers(obs, p),
        _queue_length(obs, p),
        _success_rate(obs, p),
        _failure_rate(obs, p),
        _average_duration(obs, p),
        _worker_failures(obs, p),
    ]


def observe_celery(
    p: CeleryParams, broker: ResolvedUrl, backend: ResolvedUrl | None
) -> CeleryObservation:
    """Ping/inspect the workers, read queue lengths and task outcomes (listening to task
    events meanwhile, when asked); never raises."""
    obs = CeleryObservation(broker=broker.evidence(), app=p.app)
    listener = None
    if p.events_window_s > 0:
        listener = threading.Thread(target=_listen, args=(p, broker, obs), daemon=True)
        subscribed = threading.Event()
        obs.listening = subscribed
        listener.start()
        subscribed.wait(p.connect_timeout_s)  # events of tasks finishing from here on count
    try:
        _observe(p, broker, backend, obs)
    finally:
        if listener is not None:
            listener.join(p.events_window_s + p.connect_timeout_s + 5)
            if listener.is_alive():
                obs.events_error = "the event listener did not finish in time"
    return obs


def _listen(p: CeleryParams, broker: ResolvedUrl, obs: CeleryObservation) -> None:
    try:
        obs.events = listen_events(
            broker.value,
            window_s=p.events_window_s,
            transport_options=p.broker_transport_options,
            connect_timeout_s=p.connect_timeout_s,
            subscribed=obs.listening,
        )
    except (KombuError, OSError, redis.RedisError) as exc:
        obs.events_error = broker.scrub(f"{type(exc).__name__}: {exc}")
    finally:
        if obs.listening is not None:
            obs.listening.set()


def _observe(
    p: CeleryParams, broker: ResolvedUrl, backend: ResolvedUrl | None, obs: CeleryObservation
) -> None:
    app = inspection_app(
        broker.value,
        transport_options=p.broker_transport_options,
        control_exchange=p.control_exchange,
        connect_timeout_s=p.connect_timeout_s,
    )
    try:
        _inspect_workers(app, p, obs)
    except (KombuError, OSError, redis.RedisError) as exc:
        obs.broker_error = broker.scrub(f"{type(exc).__name__}: {exc}")
        return
    finally:
        app.close()
    try:
        _read_queues(broker, p, obs)
    except (redis.RedisError, OSError, ValueError) as exc:
        obs.queue_error = broker.scrub(f"{type(exc).__name__}: {exc}")
    if backend is not None:
        try:
            obs.results = read_result_backend(
                backend.value,
                key_prefix=p.result_key_prefix,
                window_s=p.window_s,
                max_keys=p.max_result_keys,
                timeout_s=p.connect_timeout_s,
            )
        except (redis.RedisError, OSError, ValueError) as exc:
            obs.results_error = backend.scrub(f"{type(exc).__name__}: {exc}")


def _inspect_workers(app: Any, p: CeleryParams, obs: CeleryObservation) -> None:
    replies = ping_workers(app, p.timeout_s)
    for name, reply in sorted(replies.items()):
        obs.workers[name] = {"ping": reply.get("ok", reply) if isinstance(reply, dict) else reply}
    if not replies:
        return
    names = sorted(replies)
    inspect = app.control.inspect(destination=names, timeout=p.timeout_s, limit=len(names))
    stats = inspect.stats() or {}
    active = inspect.active() or {}
    for name in names:
        worker = obs.workers[name]
        if name not in stats:
            obs.unanswered_inspect.append(name)
            continue
        raw = stats[name]
        # only chosen fields: stats()['broker'] would carry the broker password
        worker.update({k: raw.get(k) for k in STATS_KEYS if k in raw})
        worker["pool"] = {
            k: raw.get("pool", {}).get(k) for k in POOL_KEYS if k in raw.get("pool", {})
        }
        tasks = active.get(name, [])
        worker["active"] = [
            {"id": t.get("id"), "name": t.get("name"), "time_start": t.get("time_start")}
            for t in tasks
        ]


def _read_queues(broker: ResolvedUrl, p: CeleryParams, obs: CeleryObservation) -> None:
    scheme = urlsplit(broker.value).scheme
    if scheme not in REDIS_SCHEMES:
        raise ValueError(f"queue length is read only on a Redis broker; this one is '{scheme}'")
    opts = p.broker_transport_options
    prefix = str(opts.get("global_keyprefix", ""))
    sep = str(opts.get("sep", DEFAULT_SEP))
    steps = opts.get("priority_steps", DEFAULT_PRIORITY_STEPS)
    client = redis.Redis.from_url(
        broker.value,
        socket_timeout=p.connect_timeout_s,
        socket_connect_timeout=p.connect_timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    try:
        for queue in p.queues:
            keys = [
                f"{prefix}{queue}{sep}{step}" if step else f"{prefix}{queue}"
                for step in sorted(set(steps))
            ]
            lengths = {key.replace(sep, "<sep>"): int(client.llen(key)) for key in keys}
            obs.queue_keys[queue] = lengths
            obs.queues[queue] = sum(lengths.values())
    finally:
        client.close()


# -- the checks -------------------------------------------------------------------------------


def _missing_expected(obs: CeleryObservation, p: CeleryParams) -> list[str]:
    return [
        w
        for w in p.expected_workers
        if not any(name == w or name.startswith(w) for name in obs.workers)
    ]


def _active_workers(obs: CeleryObservation, p: CeleryParams) -> CheckResult:
    ev = {
        **obs.evidence(),
        "workers": obs.workers,
        "timeout_s": p.timeout_s,
        "expected_workers": p.expected_workers,
    }
    threshold = {"min_workers": p.min_workers, "expected_workers": p.expected_workers}
    if obs.broker_error:
        return WORKERS.error(
            f"broker unreachable: {obs.broker_error}", {**ev, "error": obs.broker_error}
        )
    count, missing = len(obs.workers), _missing_expected(obs, p)
    busy = sum(len(w.get("active", [])) for w in obs.workers.values())
    problems = []
    if count < p.min_workers:
        problems.append(
            f"{count} worker(s) answered ping within {p.timeout_s:g} s, fewer than {p.min_workers}"
        )
    if missing:
        problems.append(f"expected worker(s) did not answer: {missing}")
    if problems:
        return WORKERS.result(
            Status.FAIL, "; ".join(problems), observed=count, threshold=threshold, evidence=ev
        )
    return WORKERS.result(
        Status.PASS,
        f"{count} worker(s) answered ping ({busy} task(s) running): {sorted(obs.workers)}",
        observed=count,
        threshold=threshold,
        evidence=ev,
    )


def _queue_length(obs: CeleryObservation, p: CeleryParams) -> CheckResult:
    ev = {**obs.evidence(), "queues": obs.queues, "keys": obs.queue_keys}
    threshold = {"warn_above": p.queue_length_warn, "fail_above": p.max_queue_length}
    if obs.broker_error:
        return QUEUE.error(f"broker unreachable: {obs.broker_error}", ev)
    if obs.queue_error:
        return QUEUE.error(f"could not read the queue lengths: {obs.queue_error}", ev)
    statuses = []
    for length in obs.queues.values():
        if length > p.max_queue_length:
            statuses.append(Status.FAIL)
        elif p.queue_length_warn is not None and length > p.queue_length_warn:
            statuses.append(Status.WARN)
        else:
            statuses.append(Status.PASS)
    status = worst(*statuses)
    text = ", ".join(f"{q}: {n} waiting" for q, n in obs.queues.items())
    word = {
        Status.PASS: "within limits",
        Status.WARN: "above the warning line",
        Status.FAIL: f"above {p.max_queue_length}",
    }[status]
    return QUEUE.result(
        status, f"{text} ({word})", observed=obs.queues, threshold=threshold, evidence=ev
    )


def _outcomes(
    obs: CeleryObservation, p: CeleryParams, spec: CheckSpec
) -> tuple[TaskOutcomes | None, CheckResult | None]:
    """The outcomes the rate checks judge (result backend first, else events), or the
    non-judging result (ERROR / INCONCLUSIVE) explaining why there are none."""
    ev = obs.evidence()
    if obs.broker_error:
        return None, spec.error(f"broker unreachable: {obs.broker_error}", ev)
    if p.result_backend is not None:
        if obs.results_error:
            return None, spec.error(f"could not read the result backend: {obs.results_error}", ev)
        source = obs.results
    elif p.events_window_s > 0:
        if obs.events_error:
            return None, spec.error(f"could not listen to task events: {obs.events_error}", ev)
        source = obs.events
    else:
        totals = {name: w.get("total") for name, w in obs.workers.items()}
        return None, spec.result(
            Status.INCONCLUSIVE,
            "no result backend configured and events_window_s is 0: the "
            "broker alone does not record task outcomes (worker totals count accepted tasks "
            "only)",
            evidence={**ev, "accepted_since_worker_start": totals},
        )
    assert source is not None
    if source.finished == 0:
        return None, spec.result(
            Status.INCONCLUSIVE,
            f"no finished tasks seen in the {source.source} over {source.window_s:g} s",
            evidence={**ev, "outcomes": source.summary()},
        )
    return source, None


def _success_rate(obs: CeleryObservation, p: CeleryParams) -> CheckResult:
    out, early = _outcomes(obs, p, SUCCESS)
    if early is not None:
        return early
    assert out is not None
    rate = round(out.succeeded / out.finished, 4)
    ok = rate >= p.min_success_rate
    return SUCCESS.result(
        Status.PASS if ok else Status.FAIL,
        f"{out.succeeded} of {out.finished} finished tasks succeeded = {rate:g}"
        f" ({out.source}, {out.window_s:g} s)",
        observed=rate,
        threshold=f">= {p.min_success_rate:g}",
        evidence={**obs.evidence(), "outcomes": out.summary()},
    )


def _failure_rate(obs: CeleryObservation, p: CeleryParams) -> CheckResult:
    out, early = _outcomes(obs, p, FAILURE)
    if early is not None:
        return early
    assert out is not None
    rate = round(out.failed / out.finished, 4)
    if rate > p.failure_rate_max:
        status = Status.FAIL
    elif rate > p.failure_rate_warn:
        status = Status.WARN
    else:
        status = Status.PASS
    return FAILURE.result(
        status,
        f"{out.failed} of {out.finished} finished tasks failed = "
        f"{rate:g} ({out.source}, {out.window_s:g} s); failure types "
        f"{out.failure_types}",
        observed=rate,
        threshold={"warn_above": p.failure_rate_warn, "fail_above": p.failure_rate_max},
        evidence={**obs.evidence(), "outcomes": out.summary()},
    )


def _average_duration(obs: CeleryObservation, p: CeleryParams) -> CheckResult:
    ev = obs.evidence()
    threshold = f"<= {p.max_average_duration_s:g} s"
    if obs.broker_error:
        return DURATION.error(f"broker unreachable: {obs.broker_error}", ev)
    if p.events_window_s <= 0:
        return DURATION.result(
            Status.INCONCLUSIVE,
            "durations are only in task events and "
            "events_window_s is 0 (the result backend stores no start time)",
            threshold=threshold,
            evidence=ev,
        )
    if obs.events_error:
        return DURATION.error(f"could not listen to task events: {obs.events_error}", ev)
    assert obs.events is not None
    ev["outcomes"] = obs.events.summary()
    durations = obs.events.durations_s
    if not durations:
        return DURATION.result(
            Status.INCONCLUSIVE,
            f"no task finished with a known duration while listening {p.events_window_s:g} s",
            threshold=threshold,
            evidence=ev,
        )
    mean = round(sum(durations) / len(durations), 4)
    ok = mean <= p.max_average_duration_s
    return DURATION.result(
        Status.PASS if ok else Status.FAIL,
        f"mean {mean:g} s over {len(durations)} task(s) (max "
        f"{max(durations):.4g} s) {'within' if ok else 'above'} "
        f"{p.max_average_duration_s:g} s",
        observed=mean,
        threshold=threshold,
        evidence=ev,
    )


def _worker_failures(obs: CeleryObservation, p: CeleryParams) -> CheckResult:
    ev = {
        **obs.evidence(),
        "workers": sorted(obs.workers),
        "unanswered_inspect": obs.unanswered_inspect,
        "worker_failure_exceptions": p.worker_failure_exceptions,
    }
    if obs.broker_error:
        return WORKER_FAILURES.error(f"broker unreachable: {obs.broker_error}", ev)
    problems = []
    if not obs.workers:
        problems.append(f"no worker answered ping within {p.timeout_s:g} s")
    missing = _missing_expected(obs, p)
    if missing:
        problems.append(f"expected worker(s) missing: {missing}")
    bad_pings = {n: w["ping"] for n, w in obs.workers.items() if w.get("ping") != "pong"}
    if bad_pings:
        problems.append(f"worker(s) answered ping with something other than pong: {bad_pings}")
    if obs.unanswered_inspect:
        problems.append(f"worker(s) answered ping but not stats: {obs.unanswered_inspect}")
    seen: dict[str, dict[str, int]] = {}
    for out in (obs.results, obs.events):
        if out is None:
            continue
        lost = {t: n for t, n in out.failure_types.items() if t in p.worker_failure_exceptions}
        seen[out.source] = lost
        if lost:
            problems.append(f"task failures caused by the worker in the {out.source}: {lost}")
    ev["worker_failure_tasks"] = seen
    if problems:
        return WORKER_FAILURES.result(
            Status.FAIL,
            "; ".join(problems),
            observed=len(obs.workers),
            threshold="no failures",
            evidence=ev,
        )
    looked = ", ".join(seen) or "no task outcome source"
    return WORKER_FAILURES.result(
        Status.PASS,
        f"{len(obs.workers)} worker(s) answer ping and "
        f"stats; no worker-failure exceptions ({looked})",
        observed=len(obs.workers),
        threshold="no failures",
        evidence=ev,
    )
