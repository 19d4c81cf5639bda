"""``GET`` and ``DELETE /api/connections/{name}``: a client's connection looked up by the
name the listing gives it, and closed (``rabbitmqadmin close connection``), on RabbitMQ's
management API and on ours over the served broker: the client hears 320 CONNECTION_FORCED
with the ``X-Reason`` text; an unknown name is a 404."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

import pika
import pika.exceptions
import pytest

from tests.contrib.management.conftest import Http, Side


def _listed_name(http: Http, port: int, until: Callable[[], None]) -> str:
    """The listing's name of the client connection from local ``port`` (RabbitMQ's listing
    lags by its statistics interval)."""
    deadline = time.monotonic() + 30
    while True:
        for listed in http("GET", "/api/connections").json():
            if listed.get("peer_port") == port:
                return str(listed["name"])
        if time.monotonic() > deadline:
            raise AssertionError(f"no connection from port {port} was listed")
        until()


def test_a_connection_is_found_and_closed_with_the_reason_given(side: Side) -> None:
    amqp_url, http = side
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        port = connection._impl._transport._sock.getsockname()[1]
        name = _listed_name(http, port, lambda: connection.process_data_events(0.5))
        path = "/api/connections/" + quote(name, safe="")
        found = http("GET", path)
        assert found.status == 200
        assert found.json()["name"] == name
        assert found.json()["peer_port"] == port
        closed = http("DELETE", path, headers={"X-Reason": "moving to another node"})
        assert closed.status == 204
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as raised:
            connection.process_data_events(5)
            channel.queue_declare("", exclusive=True)
        assert (raised.value.reply_code, raised.value.reply_text) == (
            320, "CONNECTION_FORCED - moving to another node")
        # pika answered the close; the server takes that answer on its own thread (its loop,
        # RabbitMQ's connection process): the connection goes once it has
        deadline = time.monotonic() + 10
        while (status := http("GET", path).status) == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status == 404
    finally:
        if connection.is_open:
            connection.close()


def test_an_unknown_connection_is_not_found(side: Side) -> None:
    _, http = side
    reply = http("DELETE", "/api/connections/" + quote("127.0.0.1:1 -> 127.0.0.1:2", safe=""))
    assert (reply.status, reply.json()) == (
        404, {"error": "Object Not Found", "reason": "Not Found"})

