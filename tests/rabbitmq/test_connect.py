"""``msgbus.connect`` with amqp:// URLs, and a transport's lifecycle."""

from __future__ import annotations

import pytest

import msgbus
from msgbus import errors
from tests.support import Names
from transports.rabbitmq import ConnectionEvent, ConnectionState, RabbitMQTransport

pytestmark = pytest.mark.rabbitmq


def test_connect_with_an_amqp_url(amqp_url: str, names: Names) -> None:
    with msgbus.connect(amqp_url) as transport:
        assert isinstance(transport, RabbitMQTransport)
        q = names.queue()
        assert transport.declare_queue(q).name == q
    assert not transport.is_open


def test_msgbus_url_gives_the_default(
    amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MSGBUS_URL", amqp_url)
    transport = msgbus.connect()
    try:
        assert isinstance(transport, RabbitMQTransport)
    finally:
        transport.close()


def test_lifecycle_events_and_calls_after_close(amqp_url: str, names: Names) -> None:
    events: list[ConnectionEvent] = []
    transport = RabbitMQTransport.from_url(amqp_url, connection_listeners=[events.append])
    q = names.queue()
    transport.declare_queue(q)
    consumer = transport.consume(q, lambda d: None)
    transport.close()
    transport.close()  # again: nothing happens
    assert [e.state for e in events] == [ConnectionState.CONNECTED, ConnectionState.CLOSED]
    assert not consumer.active
    with pytest.raises(errors.ConnectionLost, match="is closed"):
        transport.publish("", q, b"x")
    with pytest.raises(errors.ConnectionLost, match="is closed"):
        transport.process_events()


def test_unknown_exchange_type_is_a_connection_error_and_the_transport_reconnects(
    amqp_url: str, names: Names
) -> None:
    events: list[ConnectionEvent] = []
    transport = RabbitMQTransport.from_url(amqp_url, connection_listeners=[events.append])
    q = names.queue()
    transport.declare_queue(q)
    with pytest.raises(errors.CommandInvalid) as info:
        transport.declare_exchange(names.exchange(), "no-such-type")
    assert info.value.reply_text == "COMMAND_INVALID - unknown exchange type 'no-such-type'"
    assert [e.state for e in events][-1] is ConnectionState.RECOVERED
    assert transport.declare_queue(q, passive=True).name == q
    transport.close()
