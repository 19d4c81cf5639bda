"""Contract: where the transports once differed through the ``Transport`` API, on every
transport — value types of what arrives, what the wire cannot carry, bad timeouts,
a closed transport, a consumer tag in use, channel errors of unconfirmed batches, what
a cancelled consumer had been sent but not shown."""

from __future__ import annotations

import decimal
import logging
import math
from collections.abc import Callable
from typing import Any

import pytest

from msgbus import errors
from msgbus.transport import ConsumerHandle, Transport
from msgbus.values import Delivery, DeliveryMode, Properties, Publication, ReturnedMessage
from tests.support import Names, drain_bodies, wait_until


def test_a_delivery_mode_given_as_an_int_arrives_as_a_delivery_mode(
    unconfirmed: Transport, names: Names
) -> None:
    q = names.queue()
    unconfirmed.declare_queue(q)
    returned: list[ReturnedMessage] = []
    unconfirmed.add_return_callback(returned.append)
    unconfirmed.publish("", q, b"got", Properties(delivery_mode=2))
    unconfirmed.publish("", q, b"consumed", Properties(delivery_mode=1))
    unconfirmed.publish("", names.queue("nowhere"), b"back", Properties(delivery_mode=2),
                        mandatory=True)
    got = unconfirmed.get(q, auto_ack=True)
    assert got is not None
    assert type(got.properties.delivery_mode) is DeliveryMode
    assert got.properties.delivery_mode is DeliveryMode.PERSISTENT
    consumed: list[Delivery] = []
    unconfirmed.consume(q, consumed.append, auto_ack=True)
    wait_until(unconfirmed, lambda: len(consumed) == 1 and len(returned) == 1)
    assert consumed[0].properties.delivery_mode is DeliveryMode.TRANSIENT
    assert returned[0].properties.delivery_mode is DeliveryMode.PERSISTENT


def test_header_decimals_and_64_bit_integers_arrive_as_decoded(
    transport: Transport, names: Names
) -> None:
    q = names.queue()
    transport.declare_queue(q)
    headers = {"price": decimal.Decimal("1.50"), "big": 2**62, "neg": -(2**40),
               "nested": {"list": [2**33, decimal.Decimal("2.500")]}, "small": 7}
    transport.publish("", q, b"x", Properties(headers=headers))
    got = transport.get(q, auto_ack=True)
    assert got is not None and got.properties.headers is not None
    arrived: dict[str, Any] = dict(got.properties.headers)
    assert arrived == headers
    assert str(arrived["price"]) == "1.5"  # the wire carries no trailing zeros
    assert str(arrived["nested"]["list"][1]) == "2.5"
    for value in (arrived["big"], arrived["neg"], arrived["small"], arrived["nested"]["list"][0]):
        assert type(value) is int and repr(value) == repr(int(value))


@pytest.mark.parametrize(
    ("properties", "field", "found"),
    [
        (Properties(priority=300), "properties.priority", "300"),
        (Properties(priority=-1), "properties.priority", "-1"),
        (Properties(delivery_mode=256), "properties.delivery_mode", "256"),
        (Properties(timestamp=-5), "properties.timestamp", "-5"),
        (Properties(timestamp=1.5), "properties.timestamp", "1.5"),  # type: ignore[arg-type]
        (Properties(expiration=100), "properties.expiration", "100"),  # type: ignore[arg-type]
        (Properties(type=b"t"), "properties.type", "b't'"),  # type: ignore[arg-type]
        (Properties(correlation_id="c" * 256), "properties.correlation_id", "256 bytes"),
    ],
    ids=["priority-300", "priority-negative", "delivery-mode-256", "timestamp-negative",
         "timestamp-float", "expiration-int", "type-bytes", "correlation-id-too-long"],
)
def test_properties_the_wire_cannot_carry_are_validation_errors(
    transport: Transport, names: Names, properties: Properties, field: str, found: str
) -> None:
    q = names.queue()
    transport.declare_queue(q)
    with pytest.raises(errors.ValidationError, match=rf"^{field} must .*{found}"):
        transport.publish("", q, b"refused", properties)
    with pytest.raises(errors.ValidationError, match=rf"^publication #1: {field} must"):
        transport.publish_batch([Publication("", q, b"ok"), Publication("", q, b"no", properties)])
    # refused before anything was sent: the transport goes on, nothing arrived
    transport.publish("", q, b"fine", Properties(priority=255, timestamp=2**64 - 1))
    assert drain_bodies(transport, q) == [b"fine"]


@pytest.mark.parametrize("timeout", [-1, -0.5, math.nan, math.inf, "1", True],
                         ids=["minus-one", "negative", "nan", "inf", "str", "bool"])
def test_process_events_refuses_a_timeout_that_is_no_number_of_seconds(
    transport: Transport, names: Names, timeout: Any
) -> None:
    q = names.queue()
    transport.declare_queue(q)
    got: list[Delivery] = []
    transport.consume(q, got.append, auto_ack=True)
    with pytest.raises(errors.ValidationError, match=r"^timeout must be None or a finite"):
        transport.process_events(timeout)
    transport.publish("", q, b"x")
    transport.process_events(None)  # a message is pending: returns once it ran
    assert [d.body for d in got] == [b"x"]


def test_a_closed_transport_raises_connection_lost_and_ignores_settlements(
    transport: Transport, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"x")
    delivery = transport.get(q)
    assert delivery is not None
    consumer = transport.consume(q, lambda d: None)
    transport.close()
    transport.close()  # again: nothing happens
    assert not transport.is_open and not consumer.active
    consumer.cancel()
    calls = {
        "declare_queue": lambda: transport.declare_queue(q),
        "publish": lambda: transport.publish("", q, b"y"),
        "publish_batch": lambda: transport.publish_batch([Publication("", q, b"y")]),
        "get": lambda: transport.get(q),
        "consume": lambda: transport.consume(q, lambda d: None),
        "process_events": lambda: transport.process_events(0.0),
    }
    for name, call in calls.items():
        with pytest.raises(errors.ConnectionLost, match=r"the transport to .* is closed"):
            call()
            pytest.fail(f"{name} after close() did not raise")
    transport.publish_batch([])  # nothing to send
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        transport.ack(delivery.delivery_tag)
        transport.nack(delivery.delivery_tag)
        transport.reject(delivery.delivery_tag)
    warned = [r for r in caplog.records if str(delivery.delivery_tag) in r.getMessage()]
    assert len(warned) == 3 and all(r.levelno == logging.WARNING for r in warned)


def test_a_consumer_tag_in_use_on_the_transport_is_a_validation_error(
    transport: Transport, names: Names
) -> None:
    q = names.queue()
    transport.declare_queue(q)
    got: list[Delivery] = []
    first = transport.consume(q, got.append, consumer_tag="mine", auto_ack=True)
    with pytest.raises(errors.ValidationError, match=r"^consumer tag 'mine' is already in use$"):
        transport.consume(q, lambda d: None, consumer_tag="mine")
    # nothing reached the broker: the first consumer and the transport carry on
    assert first.active and transport.is_open
    assert transport.declare_queue(q, passive=True).consumer_count == 1
    transport.publish("", q, b"x")
    wait_until(transport, lambda: len(got) == 1)
    assert got[0].consumer_tag == "mine"


def test_without_confirms_a_channel_error_in_a_batch_is_raised_as_publish_raises_it(
    unconfirmed: Transport, names: Names
) -> None:
    q = names.queue()
    unconfirmed.declare_queue(q)
    missing = names.exchange("missing")
    with pytest.raises(errors.NotFound) as info:
        unconfirmed.publish_batch([Publication("", q, b"first"), Publication(missing, "k", b"lost"),
                                   Publication("", q, b"dropped")])
        # unconfirmed messages are not waited for: the error arrives by the next call
        unconfirmed.declare_queue(q, passive=True)
    assert info.value.reply_text == f"NOT_FOUND - no exchange '{missing}' in vhost '/'"
    assert drain_bodies(unconfirmed, q) == [b"first"]


def test_cancel_requeues_what_the_callback_has_not_seen_and_keeps_what_it_has(
    connect: Callable[[], Transport], names: Names
) -> None:
    transport = connect()
    q = names.queue()
    transport.declare_queue(q)
    for n in range(5):
        transport.publish("", q, b"%d" % n)
    seen: list[Delivery] = []
    handles: list[ConsumerHandle] = []

    def callback(delivery: Delivery) -> None:
        seen.append(delivery)
        if len(seen) == 2:
            handles[0].cancel()

    handles.append(transport.consume(q, callback))  # no prefetch: all five are sent to it
    wait_until(transport, lambda: len(seen) == 2)
    transport.process_events(0.3)
    assert [d.body for d in seen] == [b"0", b"1"] and not handles[0].active
    # the three it never saw are back in the queue, redelivered; the two it saw wait
    observer = connect()
    rest: list[Delivery] = []

    def take() -> bool:
        delivery = observer.get(q, auto_ack=True)
        if delivery is not None:
            rest.append(delivery)
        return len(rest) == 3

    wait_until(transport, take)
    assert [(d.body, d.redelivered) for d in rest] == [(b"2", True), (b"3", True), (b"4", True)]
    assert observer.declare_queue(q, passive=True).message_count == 0
    transport.ack(seen[1].delivery_tag, multiple=True)
    transport.close()
    assert observer.get(q) is None  # acknowledged, so not back with the close
