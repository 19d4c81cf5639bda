"""What survives a broker restart, on every transport (a node restart on RabbitMQ)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from msgbus import DeliveryMode, NotFound, Properties
from msgbus.transport import Transport
from tests.support import Names

PERSISTENT = Properties(delivery_mode=DeliveryMode.PERSISTENT)


def test_restart_keeps_durable_entities_and_persistent_messages(
    connect: Callable[[], Transport], names: Names, restart: Callable[[], None]
) -> None:
    before = connect()
    durable_x, transient_x = names.exchange("durable"), names.exchange("transient")
    durable_q, transient_q = names.queue("durable"), names.queue("transient")
    before.declare_exchange(durable_x, "direct", durable=True)
    before.declare_exchange(transient_x, "direct")
    before.declare_queue(durable_q, durable=True)
    before.declare_queue(transient_q)
    before.bind_queue(durable_q, durable_x, "k")
    before.bind_queue(transient_q, durable_x, "k")
    before.publish(durable_x, "k", b"persistent-1", PERSISTENT)
    before.publish(durable_x, "k", b"transient")
    before.publish(durable_x, "k", b"persistent-2", PERSISTENT)
    unacked = before.get(durable_q)
    assert unacked is not None and unacked.body == b"persistent-1"

    restart()

    after = connect()
    after.declare_exchange(durable_x, "direct", passive=True)
    for missing in (lambda: after.declare_exchange(transient_x, "direct", passive=True),
                    lambda: after.declare_queue(transient_q, passive=True)):
        with pytest.raises(NotFound):
            missing()
    assert after.declare_queue(durable_q, passive=True).message_count == 2
    first = after.get(durable_q, auto_ack=True)
    second = after.get(durable_q, auto_ack=True)
    assert first is not None and second is not None
    assert (first.body, first.redelivered) == (b"persistent-1", True)
    assert (second.body, second.redelivered) == (b"persistent-2", False)
    after.publish(durable_x, "k", b"binding survived")
    last = after.get(durable_q, auto_ack=True)
    assert last is not None and last.body == b"binding survived"


def test_restart_takes_auto_delete_queues_with_their_last_consumer(
    connect: Callable[[], Transport], names: Names, restart: Callable[[], None]
) -> None:
    # the shutdown closes the consumer's connection: its auto-delete queue goes with it;
    # a durable auto-delete queue that never had a consumer stays, with its messages
    before, consumer = connect(), connect()
    consumed, never = names.queue("consumed"), names.queue("never")
    for queue in (consumed, never):
        before.declare_queue(queue, durable=True, auto_delete=True)
        before.publish("", queue, b"kept?", PERSISTENT)
    consumer.consume(consumed, lambda delivery: None, prefetch=1)
    consumer.process_events(0.2)

    restart()

    after = connect()
    assert after.declare_queue(never, passive=True).message_count == 1
    with pytest.raises(NotFound):
        after.declare_queue(consumed, passive=True)
