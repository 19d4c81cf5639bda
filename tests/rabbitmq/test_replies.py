"""Replies to direct reply-to addresses: not waited for, on a channel of their own."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from msgbus import errors
from msgbus.values import Delivery, Properties
from tests.support import Names, wait_until
from transports.rabbitmq import RabbitMQTransport

pytestmark = pytest.mark.rabbitmq
REPLY_TO = "amq.rabbitmq.reply-to"


def _reply_address(caller: RabbitMQTransport, server: RabbitMQTransport, q: str) -> str:
    """The reply-to address the broker gives a request from ``caller``."""
    caller.publish("", q, b"request", Properties(reply_to=REPLY_TO))
    request = None

    def arrived() -> bool:
        nonlocal request
        request = server.get(q, auto_ack=True)
        return request is not None

    wait_until(server, arrived)
    assert request is not None and request.properties.reply_to is not None
    address: str = request.properties.reply_to
    assert address.startswith(REPLY_TO + ".")
    return address


def _caller_and_server(
    amqp_url: str, names: Names, on_reply: Callable[[Delivery], None]
) -> tuple[RabbitMQTransport, RabbitMQTransport, str, str]:
    """A caller consuming its replies with ``on_reply``, a server with a request queue, the
    queue, and the reply-to address of a request the caller sent there."""
    caller, server = RabbitMQTransport.from_url(amqp_url), RabbitMQTransport.from_url(amqp_url)
    q = names.queue()
    server.declare_queue(q)
    caller.consume(REPLY_TO, on_reply, auto_ack=True)
    return caller, server, q, _reply_address(caller, server, q)


def test_a_reply_reaches_its_caller_and_survives_a_channel_error(
    amqp_url: str, names: Names
) -> None:
    replies: list[Delivery] = []
    caller, server, _q, address = _caller_and_server(amqp_url, names, replies.append)
    server.publish("", address, b"one", Properties(correlation_id="1"))
    with pytest.raises(errors.NotFound):  # closes the server's main channel
        server.declare_queue(names.queue("missing"), passive=True)
    server.publish("", address, b"two", Properties(correlation_id="2"))
    wait_until(caller, lambda: len(replies) == 2)
    assert [(r.body, r.properties.correlation_id) for r in replies] == [
        (b"one", "1"), (b"two", "2")
    ]
    caller.close()
    server.close()


def test_a_reply_to_a_caller_gone_is_dropped_quietly(amqp_url: str, names: Names) -> None:
    caller, server, q, address = _caller_and_server(amqp_url, names, lambda _: None)
    caller.close()
    server.publish("", address, b"too late")  # as RabbitMQ confirms it: no error
    server.publish("", q, b"still fine")  # the transport carries on
    assert server.declare_queue(q, passive=True).message_count == 1
    server.close()


def test_a_mandatory_reply_is_confirmed_and_returned(amqp_url: str, names: Names) -> None:
    caller, server, _q, address = _caller_and_server(amqp_url, names, lambda _: None)
    with pytest.raises(errors.Unroutable):  # a reply-to address routes to no queue
        server.publish("", address, b"mandatory", mandatory=True)
    caller.close()
    server.close()
