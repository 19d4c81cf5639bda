"""Contract: publishing, ``get``, properties, publisher confirms and returns, on every transport."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from msgbus import errors
from msgbus.transport import Transport
from msgbus.values import Delivery, DeliveryMode, ExchangeType, Properties, ReturnedMessage
from tests.support import Names, wait_until

#: Every basic property set, with a header table of every value type pika can carry.
ALL_PROPERTIES = Properties(
    content_type="application/json",
    content_encoding="utf-8",
    headers={
        "str": "text ü",
        "int": 7,
        "negative": -42,
        "big": 2**40,
        "bool": True,
        "bytes": b"\x00\xff",
        "none": None,
        "list": [1, "two", [3], {"four": 4}],
        "table": {"inner": {"deep": "yes", "n": 0}},
    },
    delivery_mode=DeliveryMode.PERSISTENT,
    priority=5,
    correlation_id="corr-1",
    reply_to="reply.queue",
    expiration="60000",
    message_id="msg-1",
    timestamp=1_700_000_123,
    type="order.created",
    user_id="guest",
    app_id="msgbus-tests",
    cluster_id="cluster-a",
)


def test_publish_then_get(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"first")
    transport.publish("", q, b"second")
    delivery = transport.get(q)
    assert delivery is not None
    assert (delivery.body, delivery.exchange, delivery.routing_key) == (b"first", "", q)
    assert delivery.redelivered is False
    assert delivery.consumer_tag is None
    assert delivery.message_count == 1
    assert delivery.properties == Properties()
    transport.ack(delivery.delivery_tag)
    second = transport.get(q, auto_ack=True)
    assert second is not None and second.body == b"second" and second.message_count == 0
    assert second.delivery_tag != delivery.delivery_tag
    assert transport.get(q) is None


def test_get_from_missing_queue_is_not_found(transport: Transport, names: Names) -> None:
    q = names.queue()
    with pytest.raises(errors.NotFound) as info:
        transport.get(q)
    assert info.value.reply_text == f"NOT_FOUND - no queue '{q}' in vhost '/'"


def test_empty_body(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"")
    delivery = transport.get(q, auto_ack=True)
    assert delivery is not None and delivery.body == b""


def test_all_properties_round_trip_through_get(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q, arguments={"x-max-priority": 10})
    transport.publish("", q, b"{}", ALL_PROPERTIES)
    delivery = transport.get(q, auto_ack=True)
    assert delivery is not None
    assert delivery.properties == ALL_PROPERTIES
    assert isinstance(delivery.properties.delivery_mode, DeliveryMode)
    assert delivery.properties.persistent


def test_all_properties_round_trip_through_consume(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q, arguments={"x-max-priority": 10})
    transport.publish("", q, b"{}", ALL_PROPERTIES)
    got: list[Delivery] = []
    transport.consume(q, got.append, auto_ack=True)
    wait_until(transport, lambda: len(got) == 1)
    assert got[0].properties == ALL_PROPERTIES
    assert got[0].properties.delivery_mode is DeliveryMode.PERSISTENT


def test_transient_delivery_mode(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"x", Properties(delivery_mode=DeliveryMode.TRANSIENT))
    delivery = transport.get(q, auto_ack=True)
    assert delivery is not None
    assert delivery.properties.delivery_mode is DeliveryMode.TRANSIENT
    assert not delivery.properties.persistent


def test_publish_to_missing_exchange_is_not_found_and_channel_recovers(
    transport: Transport, names: Names
) -> None:
    x, q = names.exchange(), names.queue()
    with pytest.raises(errors.NotFound) as info:
        transport.publish(x, "k", b"lost")
    assert info.value.reply_text == f"NOT_FOUND - no exchange '{x}' in vhost '/'"
    transport.declare_queue(q)
    transport.publish("", q, b"kept")
    delivery = transport.get(q, auto_ack=True)
    assert delivery is not None and delivery.body == b"kept"


def test_confirmed_publish_is_visible_to_another_connection(
    connect: Callable[[], Transport], names: Names
) -> None:
    publisher, reader = connect(), connect()
    q = names.queue()
    publisher.declare_queue(q, durable=True)
    for n in range(20):
        publisher.publish("", q, str(n).encode(), Properties(delivery_mode=2))
    assert reader.declare_queue(q, passive=True).message_count == 20


def test_unroutable_without_mandatory_is_dropped(transport: Transport, names: Names) -> None:
    x, q = names.exchange(), names.queue()
    transport.declare_exchange(x, ExchangeType.DIRECT)
    transport.declare_queue(q)
    transport.bind_queue(q, x, "somewhere")
    returned: list[ReturnedMessage] = []
    transport.add_return_callback(returned.append)
    transport.publish(x, "nowhere", b"dropped")  # no error: nobody asked for a return
    transport.publish(x, "somewhere", b"routed")
    delivery = transport.get(q, auto_ack=True)
    assert delivery is not None and delivery.body == b"routed"
    assert transport.get(q) is None
    transport.process_events(0)
    assert returned == []


def test_mandatory_unroutable_raises_with_confirms(transport: Transport, names: Names) -> None:
    x = names.exchange()
    transport.declare_exchange(x, ExchangeType.DIRECT)
    with pytest.raises(errors.Unroutable) as info:
        transport.publish(x, "nowhere", b"returned", mandatory=True)
    assert (info.value.exchange, info.value.routing_key) == (x, "nowhere")
    assert (info.value.reply_code, info.value.reply_text) == (312, "NO_ROUTE")
    q = names.queue()
    transport.declare_queue(q)
    transport.bind_queue(q, x, "somewhere")
    transport.publish(x, "somewhere", b"routed", mandatory=True)  # routable: no error
    delivery = transport.get(q, auto_ack=True)
    assert delivery is not None and delivery.body == b"routed"
    assert transport.get(q) is None  # the returned one went nowhere


def test_mandatory_to_default_exchange_and_missing_queue(
    transport: Transport, names: Names
) -> None:
    q = names.queue()
    with pytest.raises(errors.Unroutable) as info:
        transport.publish("", q, b"x", mandatory=True)
    assert (info.value.exchange, info.value.routing_key, info.value.reply_code) == ("", q, 312)
    transport.declare_queue(q)
    transport.publish("", q, b"y", mandatory=True)  # the queue exists now: no error
    assert transport.declare_queue(q, passive=True).message_count == 1


def test_nacked_publish_raises(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    transport.publish("", q, b"fits")
    with pytest.raises(errors.PublishNacked) as info:
        transport.publish("", q, b"overflows")
    assert (info.value.exchange, info.value.routing_key) == ("", q)
    assert transport.declare_queue(q, passive=True).message_count == 1


def test_returns_go_to_callbacks_without_confirms(
    unconfirmed: Transport, names: Names
) -> None:
    x = names.exchange()
    unconfirmed.declare_exchange(x, ExchangeType.TOPIC)
    returned: list[ReturnedMessage] = []
    also: list[ReturnedMessage] = []
    unconfirmed.add_return_callback(returned.append)
    unconfirmed.add_return_callback(also.append)
    props = Properties(message_id="m1", headers={"h": 1})
    unconfirmed.publish(x, "no.route", b"back", props, mandatory=True)  # does not raise
    unconfirmed.publish(x, "no.route", b"silently dropped")
    wait_until(unconfirmed, lambda: len(returned) == 1)
    assert returned == also
    message = returned[0]
    assert (message.body, message.exchange, message.routing_key) == (b"back", x, "no.route")
    assert (message.reply_code, message.reply_text) == (312, "NO_ROUTE")
    assert message.properties == props
    unconfirmed.process_events(0.2)
    assert len(returned) == 1


def test_publish_without_confirms_arrives(unconfirmed: Transport, names: Names) -> None:
    q = names.queue()
    unconfirmed.declare_queue(q)
    for n in range(10):
        unconfirmed.publish("", q, str(n).encode())
    bodies: list[bytes] = []
    unconfirmed.consume(q, lambda d: bodies.append(d.body), auto_ack=True)
    wait_until(unconfirmed, lambda: len(bodies) == 10)
    assert bodies == [str(n).encode() for n in range(10)]


def test_header_value_amqp_cannot_carry_is_a_validation_error(
    transport: Transport, names: Names
) -> None:
    q = names.queue()
    transport.declare_queue(q)
    with pytest.raises(errors.ValidationError):
        transport.publish("", q, b"x", Properties(headers={"when": object()}))
    transport.publish("", q, b"y")
    assert transport.declare_queue(q, passive=True).message_count == 1
