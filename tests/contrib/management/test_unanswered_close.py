"""A connection closed over the management API whose client never answers the close
(amqpstorm marks itself closed and sends no close-ok): RabbitMQ 3.10 keeps it listed, and
``GET /api/connections/{name}`` finds it, until it gives up waiting (the heartbeat
timeout, 30 s at most) and resets the socket. The same on RabbitMQ and on ours over the
served broker, with a raw client that stays silent."""

from __future__ import annotations

import time
from urllib.parse import quote

import pika.frame

from tests.contrib.amqp_server.wire import RESET, S, Wire
from tests.contrib.management.conftest import Http, Side

HEARTBEAT = 2  # seconds: how long the server waits for the close-ok
HEARTBEAT_FRAME = b"\x08\x00\x00\x00\x00\x00\x00\xce"



def _listed(http: Http, wire: Wire) -> str:
    """The listing's name of ``wire``'s connection (RabbitMQ's listing lags by its
    statistics interval: the client sends heartbeats meanwhile)."""
    port = wire.sock.getsockname()[1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for listed in http("GET", "/api/connections").json():
            if listed.get("peer_port") == port:
                return str(listed["name"])
        wire.send(HEARTBEAT_FRAME)
        time.sleep(0.2)
    raise AssertionError(f"no connection from port {port} was listed")


def test_a_closed_connection_stays_found_until_the_close_times_out(side: Side) -> None:
    amqp_url, http = side
    with Wire(amqp_url) as wire:
        wire.open(heartbeat=HEARTBEAT)
        wire.channel(1)
        name = _listed(http, wire)
        path = "/api/connections/" + quote(name, safe="")
        assert http("DELETE", path).status == 204
        close = wire.frame()
        while isinstance(close, pika.frame.Heartbeat):
            close = wire.frame()
        close = close.method
        assert isinstance(close, S.Connection.Close)
        assert (close.reply_code, close.reply_text) == (
            320, "CONNECTION_FORCED - Closed via management plugin")
        # no close-ok: the connection is still there to be asked for
        found = http("GET", path)
        assert (found.status, found.json()["name"]) == (200, name)
        assert name in [listed["name"] for listed in http("GET", "/api/connections").json()]
        assert wire.until_end(timeout=HEARTBEAT * 3)[-1] == RESET
