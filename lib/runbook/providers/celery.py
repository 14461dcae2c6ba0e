"""The runbook's own Celery client, built on the broker URL only to broadcast control
commands (ping / inspect) and listen to events: it never imports the application's tasks."""

from __future__ import annotations

from typing import Any

from celery import Celery


def inspection_app(
    broker_url: str,
    *,
    transport_options: dict[str, Any] | None = None,
    control_exchange: str = "celery",
    connect_timeout_s: float = 5.0,
) -> Celery:
    """A Celery client on `broker_url` that fails fast instead of retrying forever."""
    app = Celery("runbook-inspect", broker=broker_url, set_as_current=False)
    options = {
        "socket_connect_timeout": connect_timeout_s,
        "socket_timeout": connect_timeout_s,
        "max_retries": 0,
        **(transport_options or {}),
    }  # no reconnect loop
    app.conf.update(
        broker_connection_timeout=connect_timeout_s,
        broker_connection_retry=False,
        broker_connection_max_retries=0,
        broker_transport_options=options,
        control_exchange=control_exchange,
        broker_heartbeat=0,
    )
    return app


def ping_workers(
    app: Celery, timeout_s: float, destination: list[str] | None = None
) -> dict[str, Any]:
    """{worker name: its reply} for every worker answering `ping` within `timeout_s`.
    Raises kombu's OperationalError when the broker cannot be reached."""
    replies = app.control.ping(
        destination=destination, timeout=timeout_s, limit=len(destination) if destination else None
    )
    merged: dict[str, Any] = {}
    for reply in replies or []:
        merged.update(reply)
    return merged
