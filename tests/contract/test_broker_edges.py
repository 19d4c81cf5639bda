"""Edge cases every transport must get right as RabbitMQ 3.10 does: argument checks,
redeclares, publish checks, the x-death history, and expiry uncovered by a fetch."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest

from msgbus import Delivery, PreconditionFailed, Properties, Unroutable
from msgbus.transport import Transport
from tests.support import Names, wait_until


def get_soon(transport: Transport, queue: str, timeout: float = 5.0) -> Delivery:
    """basic.get until a message comes (RabbitMQ dead-letters asynchronously)."""
    deadline = time.monotonic() + timeout
    while (delivery := transport.get(queue)) is None:
        assert time.monotonic() < deadline, f"nothing arrived in {queue}"
        time.sleep(0.02)
    return delivery


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"x-message-ttl": 2**40}, "{value_too_large,1099511627776}"),
        ({"x-overflow": b"drop-head"}, "{unacceptable_type,binary}"),
        ({"x-queue-version": 3}, '"unsupported queue version \'3\'"'),
        ({"x-message-ttl": "a", "x-expires": "b"}, None),
    ],
)
def test_invalid_queue_arguments_are_406_with_rabbitmqs_reason(
    transport: Transport, names: Names, arguments: dict[str, Any], reason: str | None
) -> None:
    queue = names.queue()
    with pytest.raises(PreconditionFailed) as caught:
        transport.declare_queue(queue, arguments=arguments)
    if reason is None:  # several invalid: x-expires is checked first
        assert caught.value.reply_text.startswith(
            f"PRECONDITION_FAILED - invalid arg 'x-expires' for queue '{queue}'")
    else:
        assert caught.value.reply_text == (
            f"PRECONDITION_FAILED - invalid arg '{next(iter(arguments))}' for queue '{queue}' "
            f"in vhost '/': {reason}")


def test_argument_of_another_queue_type_and_non_durable_quorum_queue(
    transport: Transport, names: Names
) -> None:
    queue = names.queue()
    with pytest.raises(PreconditionFailed, match=(
            f"invalid arg 'x-delivery-limit' for queue '{queue}' in vhost '/' of queue type "
            "rabbit_classic_queue$")):
        transport.declare_queue(queue, arguments={"x-delivery-limit": 3})
    with pytest.raises(PreconditionFailed, match=(
            f"invalid property 'non-durable' for queue '{queue}' in vhost '/'$")):
        transport.declare_queue(queue, arguments={"x-queue-type": "quorum"})


def test_classic_queue_type_is_the_default_on_redeclare(transport: Transport,
                                                        names: Names) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    assert transport.declare_queue(queue, arguments={"x-queue-type": "classic"}).name == queue
    other = names.queue("other")  # arguments are compared in RabbitMQ's order
    transport.declare_queue(other, arguments={"x-message-ttl": 5, "x-max-length": 5})
    with pytest.raises(PreconditionFailed, match=(
            f"inequivalent arg 'x-message-ttl' for queue '{other}' in vhost '/': received "
            "'6' but current is '5'")):
        transport.declare_queue(other, arguments={"x-max-length": 6, "x-message-ttl": 6})


@pytest.mark.parametrize(
    ("expiration", "reason"),
    [("10abc", '{leftover_string,"abc"}'), (" 10", "no_integer"),
     ("315360000001", "{value_too_large,315360000001}")],
)
def test_invalid_expiration_is_406(transport: Transport, names: Names, expiration: str,
                                   reason: str) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    with pytest.raises(PreconditionFailed) as caught:
        transport.publish("", queue, b"x", Properties(expiration=expiration))
    assert caught.value.reply_text == (
        f"PRECONDITION_FAILED - invalid expiration '{expiration}': {reason}")


def test_x_death_tables_through_a_chain_of_queues(transport: Transport, names: Names) -> None:
    queues = [names.queue(f"q{i}") for i in range(5)]
    for here, there in itertools.pairwise(queues):
        transport.declare_queue(here, arguments={"x-dead-letter-exchange": "",
                                                 "x-dead-letter-routing-key": there})
    transport.declare_queue(queues[-1])
    transport.publish("", queues[0], b"m", Properties(headers={"z": 1, "a": 2, "CC": ["x"]}))
    for q in queues[:-1]:
        transport.reject(get_soon(transport, q).delivery_tag, requeue=False)
    delivery = get_soon(transport, queues[-1])
    headers = dict(delivery.properties.headers or {})
    assert list(headers) == ["a", "x-death", "x-first-death-exchange", "x-first-death-queue",
                             "x-first-death-reason", "z"]  # sorted; CC gone with the key
    deaths = headers["x-death"]
    # RabbitMQ groups the older tables by queue and reason, which turns their order round
    assert [d["queue"] for d in deaths] == [queues[3], queues[1], queues[0], queues[2]]
    assert list(deaths[0]) == ["count", "exchange", "queue", "reason", "routing-keys", "time"]
    assert list(deaths[2]) == ["count", "reason", "queue", "time", "exchange", "routing-keys"]
    assert deaths[2]["routing-keys"] == [queues[0], "x"]
    assert all(d["count"] == 1 for d in deaths)


def test_dead_lettering_without_a_routing_key_keeps_cc(
    transport: Transport, names: Names, elapse: Callable[[float], None]
) -> None:
    source, cc, dead = names.queue("source"), names.queue("cc"), names.queue("dead")
    transport.declare_queue(dead)
    transport.declare_queue(cc)
    transport.declare_queue(source, arguments={"x-dead-letter-exchange": "amq.direct",
                                               "x-message-ttl": 50})
    transport.bind_queue(dead, "amq.direct", source)
    transport.publish("", source, b"m", Properties(headers={"CC": [cc]}))
    elapse(0.3)
    delivery = get_soon(transport, dead)
    headers = dict(delivery.properties.headers or {})
    assert headers["CC"] == [cc]
    assert headers["x-death"][0]["routing-keys"] == [source, cc]
    assert get_soon(transport, cc).body == b"m"  # the CC copy, as published


def test_a_get_drops_the_expired_messages_it_uncovers(
    transport: Transport, names: Names, elapse: Callable[[float], None]
) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    transport.publish("", queue, b"long", Properties(expiration="60000"))
    for _ in range(2):
        transport.publish("", queue, b"short", Properties(expiration="100"))
    elapse(0.3)
    delivery = transport.get(queue)
    assert delivery is not None and delivery.body == b"long"
    assert delivery.message_count == 0
    assert transport.declare_queue(queue, passive=True).message_count == 0


def test_quorum_queue_counts_deliveries_and_requeues_to_the_back(
    transport: Transport, names: Names
) -> None:
    queue = names.queue()
    transport.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
    for body in (b"m0", b"m1", b"m2"):
        transport.publish("", queue, body)
    first = get_soon(transport, queue)
    assert dict(first.properties.headers or {}) == {"x-delivery-count": 0}
    transport.nack(first.delivery_tag, requeue=True)
    time.sleep(0.1)  # RabbitMQ applies the return asynchronously
    got = []
    while (delivery := transport.get(queue, auto_ack=True)) is not None:
        got.append((delivery.body, delivery.redelivered,
                    dict(delivery.properties.headers or {})["x-delivery-count"]))
    assert got == [(b"m1", False, 0), (b"m2", False, 0), (b"m0", True, 1)]


def test_a_mandatory_direct_reply_is_returned_yet_delivered(
    connect: Callable[[], Transport], names: Names
) -> None:
    client, server = connect(), connect()
    queue = names.queue("rpc")
    server.declare_queue(queue)
    replies: list[Delivery] = []
    client.consume("amq.rabbitmq.reply-to", replies.append, auto_ack=True)
    client.publish("", queue, b"ping", Properties(reply_to="amq.rabbitmq.reply-to"))
    request = get_soon(server, queue)
    assert request.properties.reply_to is not None
    with pytest.raises(Unroutable):  # RabbitMQ routes a reply to no queue
        server.publish("", request.properties.reply_to, b"pong", mandatory=True)
    wait_until(client, lambda: bool(replies))
    assert [r.body for r in replies] == [b"pong"]
