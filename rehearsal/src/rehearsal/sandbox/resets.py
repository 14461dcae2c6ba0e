"""Connection resets: the sandbox can drop a request's TCP connection with a RST instead of
answering, as a crashed worker or a misbehaving proxy would.

ASGI gives an app no handle on its socket, so the sandbox serves with `ResettableH11Protocol`
(uvicorn's HTTP/1.1 protocol that remembers each open connection's transport by the peer
address ASGI reports as `scope["client"]`); the fault middleware then calls
`reset_connection`, which sets SO_LINGER to 0 and aborts the transport: the kernel sends a RST
and the client sees ECONNRESET, not an HTTP answer and not a clean close.
"""

from __future__ import annotations

import asyncio
import socket
import struct

from starlette.types import Receive, Scope
from uvicorn.protocols.http.h11_impl import H11Protocol

Peer = tuple[str, int]

_open: dict[Peer, asyncio.Transport] = {}  # one sandbox process serves one server
_LINGER_NOW = struct.pack("ii", 1, 0)  # l_onoff=1, l_linger=0: close() sends a RST
_DISCONNECT_WAIT_S = 2.0


class ResettableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, registering each connection's transport while it is open."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.client is not None:
            _open[(str(self.client[0]), int(self.client[1]))] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client is not None:
            _open.pop((str(self.client[0]), int(self.client[1])), None)
        super().connection_lost(exc)


async def reset_connection(scope: Scope, receive: Receive) -> bool:
    """Reset the TCP connection carrying this request (RST, no HTTP answer) and wait until the
    server has seen it go, so nothing answers afterwards. False when the connection is not
    known (e.g. the app is served by another protocol class): the caller must answer then."""
    client = scope.get("client")
    transport = _open.get((str(client[0]), int(client[1]))) if client else None
    if transport is None or transport.is_closing():
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_NOW)
        except OSError:
            pass  # still aborted below: the peer sees the connection drop, maybe as a FIN
    transport.abort()
    await _until_disconnected(receive)
    return True


async def _until_disconnected(receive: Receive) -> None:
    """Drain the request until the server reports the disconnect (bounded wait)."""

    async def drain() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(drain(), _DISCONNECT_WAIT_S)
    except TimeoutError:
        pass
