"""Where Celery task outcomes can be seen from outside the application, and what each sees.

- Redis result backend (`read_result_backend`): the `celery-task-meta-*` keys whose `date_done`
  falls in the window. Sees every finished task that stores a result (SUCCESS, FAILURE,
  REVOKED, with the exception type of failures; the task name only with `result_extended`).
  Cannot see tasks with `ignore_result`, results already expired (`result_expires`), or any
  duration (the meta has no start time).
- Task events (`listen_events`): what workers publish while we listen (`task-received`,
  `task-started`, `task-succeeded` with its `runtime`, `task-failed`). Sees durations, but
  only of tasks finishing during the listening window, and only from workers sending events
  (`celery worker -E`, or `worker_send_task_events=True`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from runbook.providers.celery import inspection_app

READY_STATES = ("SUCCESS", "FAILURE", "REVOKED")
MGET_CHUNK = 500


@dataclass
class TaskOutcomes:
    """Counts (and, from events, durations) of tasks that finished in a window."""

    source: str
    window_s: float
    succeeded: int = 0
    failed: int = 0
    revoked: int = 0
    other_states: dict[str, int] = field(default_factory=dict)
    failure_types: dict[str, int] = field(default_factory=dict)
    by_task: dict[str, dict[str, int]] = field(default_factory=dict)
    durations_s: list[float] = field(default_factory=list)
    durations_by_task: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    scanned: int = 0

    @property
    def finished(self) -> int:
        """Tasks in a ready state (success, failure, revoked)."""
        return self.succeeded + self.failed + self.revoked

    def count(self, state: str, name: str | None, exc_type: str | None = None) -> None:
        """Record one finished (or otherwise seen) task."""
        if state == "SUCCESS":
            self.succeeded += 1
        elif state == "FAILURE":
            self.failed += 1
            key = exc_type or "unknown"
            self.failure_types[key] = self.failure_types.get(key, 0) + 1
        elif state == "REVOKED":
            self.revoked += 1
        else:
            self.other_states[state] = self.other_states.get(state, 0) + 1
            return
        per = self.by_task.setdefault(name or "(name not recorded)", {})
        per[state] = per.get(state, 0) + 1

    def add_duration(self, name: str | None, seconds: float) -> None:
        self.durations_s.append(seconds)
        self.durations_by_task.setdefault(name or "(name not seen)", []).append(seconds)

    def summary(self) -> dict[str, Any]:
        """JSON-able evidence (durations summarized per task, not listed one by one)."""
        per_duration = {
            name: {"count": len(v), "mean_s": round(sum(v) / len(v), 4), "max_s": round(max(v), 4)}
            for name, v in self.durations_by_task.items()
        }
        return {
            "source": self.source,
            "window_s": self.window_s,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "revoked": self.revoked,
            "other_states": self.other_states,
            "failure_types": self.failure_types,
            "by_task": self.by_task,
            "durations": per_duration,
            "scanned": self.scanned,
            "notes": self.notes,
        }


def _parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # naive = UTC in Celery


def _exc_type(result: Any) -> str | None:
    if isinstance(result, dict) and isinstance(result.get("exc_type"), str):
        return result["exc_type"]
    return None


def read_result_backend(
    url: str,
    *,
    key_prefix: str,
    window_s: float,
    max_keys: int,
    timeout_s: float,
    now: datetime | None = None,
) -> TaskOutcomes:
    """Outcomes of the results stored in a Redis result backend with `date_done` in the last
    `window_s` seconds (at most `max_keys` keys read). Raises redis errors on failure."""
    out = TaskOutcomes(source="redis result backend", window_s=window_s)
    since = (now or datetime.now(UTC)) - timedelta(seconds=window_s)
    client = redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    try:
        keys: list[bytes] = []
        for key in client.scan_iter(match=f"{key_prefix}*", count=1000):
            keys.append(key)
            if len(keys) >= max_keys:
                out.notes.append(
                    f"stopped after {max_keys} result keys (max_result_keys): counts are a sample"
                )
                break
        unreadable = outside = 0
        for start in range(0, len(keys), MGET_CHUNK):
            for raw in client.mget(keys[start : start + MGET_CHUNK]):
                if raw is None:
                    continue  # expired between SCAN and MGET
                out.scanned += 1
                try:
                    meta = json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    unreadable += 1
                    continue
                if not isinstance(meta, dict):
                    unreadable += 1
                    continue
                done = _parse_date(meta.get("date_done"))
                state = str(meta.get("status", "UNKNOWN"))
                if state in READY_STATES and (done is None or done < since):
                    outside += 1
                    continue
                out.count(state, meta.get("name"), _exc_type(meta.get("result")))
        if unreadable:
            out.notes.append(
                f"{unreadable} result(s) not JSON (another result_serializer?): not counted"
            )
        out.notes.append(f"{outside} finished result(s) outside the window not counted")
    finally:
        client.close()
    return out


def listen_events(
    broker_url: str,
    *,
    window_s: float,
    transport_options: dict[str, Any],
    connect_timeout_s: float,
    subscribed: threading.Event | None = None,
) -> TaskOutcomes:
    """Outcomes and durations of tasks finishing while listening `window_s` seconds to the
    workers' task events (`subscribed` is set once listening). Raises kombu/OS errors when
    the broker cannot be reached."""
    out = TaskOutcomes(source="task events", window_s=window_s)
    names: dict[str, str] = {}
    started: dict[str, float] = {}
    seen_types: dict[str, int] = {}

    def on_event(event: dict[str, Any]) -> None:
        kind, uuid = str(event.get("type", "")), str(event.get("uuid", ""))
        seen_types[kind] = seen_types.get(kind, 0) + 1
        if kind in ("task-received", "task-sent") and event.get("name"):
            names[uuid] = str(event["name"])
        elif kind == "task-started":
            started[uuid] = float(event.get("timestamp", 0.0))
        elif kind == "task-succeeded":
            out.count("SUCCESS", names.get(uuid))
            if isinstance(event.get("runtime"), (int, float)):
                out.add_duration(names.get(uuid), float(event["runtime"]))
        elif kind == "task-failed":
            out.count("FAILURE", names.get(uuid), _exception_type(event.get("exception")))
            if uuid in started and isinstance(event.get("timestamp"), (int, float)):
                out.add_duration(names.get(uuid), float(event["timestamp"]) - started[uuid])
        elif kind == "task-revoked":
            out.count("REVOKED", names.get(uuid))

    app = inspection_app(
        broker_url, transport_options=transport_options, connect_timeout_s=connect_timeout_s
    )
    with app.connection_for_read() as conn:
        receiver = app.events.Receiver(conn, handlers={"*": on_event})
        receiver.connect_max_retries = 0  # fail at once on an unreachable broker
        deadline = time.monotonic() + window_s
        with receiver.consumer_context() as (connection, _channel, _consumers):
            if subscribed is not None:
                subscribed.set()
            while (left := deadline - time.monotonic()) > 0:
                try:
                    connection.drain_events(timeout=min(left, 0.5))
                except TimeoutError:  # socket.timeout is TimeoutError since 3.10
                    continue
    out.notes.append(f"event types seen: {seen_types or 'none'}")
    if not seen_types:
        out.notes.append("no events at all: do the workers send events (`celery worker -E`)?")
    return out


def _exception_type(text: Any) -> str | None:
    """'ValueError(...)' -> 'ValueError' (events carry the exception's repr)."""
    if not isinstance(text, str) or not text:
        return None
    head = text.split("(", 1)[0].split(":", 1)[0].strip()
    return head or None
