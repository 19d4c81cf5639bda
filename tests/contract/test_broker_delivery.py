"""Delivery on every transport: round robin, prefetch, consumer priorities, exclusive
consumers, requeue position, redelivery, acks and their errors, direct reply-to."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from msgbus import AccessRefused, Delivery, PreconditionFailed, Properties
from msgbus.transport import Transport
from tests.support import Names, drain_bodies, wait_until


def _fill(t: Transport, queue: str, count: int) -> None:
    for i in range(count):
        t.publish("", queue, str(i).encode())


def test_round_robin_between_consumers(connect: Callable[[], Transport], names: Names) -> None:
    producer, a, b = connect(), connect(), connect()
    queue = names.queue()
    producer.declare_queue(queue)
    got_a: list[bytes] = []
    got_b: list[bytes] = []
    a.consume(queue, lambda d: got_a.append(d.body), auto_ack=True)
    b.consume(queue, lambda d: got_b.append(d.body), auto_ack=True)
    _fill(producer, queue, 6)
    wait_until(a, lambda: len(got_a) == 3)
    wait_until(b, lambda: len(got_b) == 3)
    assert got_a == [b"0", b"2", b"4"] and got_b == [b"1", b"3", b"5"]


def test_prefetch_limits_unacked_per_consumer(transport: Transport, names: Names) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    _fill(transport, queue, 5)
    got: list[Delivery] = []
    transport.consume(queue, got.append, prefetch=2)
    wait_until(transport, lambda: len(got) == 2)
    transport.process_events(0.2)
    assert [d.body for d in got] == [b"0", b"1"]
    transport.ack(got[1].delivery_tag, multiple=True)
    wait_until(transport, lambda: len(got) == 4)
    assert [d.body for d in got] == [b"0", b"1", b"2", b"3"]


def test_consumer_priority_wins_while_it_has_capacity(
    connect: Callable[[], Transport], names: Names
) -> None:
    producer, low, high = connect(), connect(), connect()
    queue = names.queue()
    producer.declare_queue(queue)
    got_low: list[Delivery] = []
    got_high: list[Delivery] = []
    low.consume(queue, got_low.append, prefetch=10)
    high.consume(queue, got_high.append, prefetch=2, arguments={"x-priority": 10})
    _fill(producer, queue, 5)
    wait_until(high, lambda: len(got_high) == 2)
    wait_until(low, lambda: len(got_low) == 3)
    assert [d.body for d in got_high] == [b"0", b"1"]
    assert [d.body for d in got_low] == [b"2", b"3", b"4"]


@pytest.mark.parametrize("settle", ["ack", "nack"])
def test_a_consumer_unblocked_from_its_prefetch_rejoins_at_the_end(
    connect: Callable[[], Transport], names: Names, settle: str
) -> None:
    # a delivery tried while a's prefetch is full blocks a; once it has room again it
    # rejoins the round robin behind b, which was never blocked
    producer, a, b = connect(), connect(), connect()
    queue = names.queue()
    producer.declare_queue(queue)
    _fill(producer, queue, 2)
    got_a: list[Delivery] = []
    got_b: list[Delivery] = []
    a.consume(queue, got_a.append, prefetch=1)
    wait_until(a, lambda: len(got_a) == 1)
    b.consume(queue, got_b.append)
    wait_until(b, lambda: len(got_b) == 1)
    if settle == "ack":
        a.ack(got_a[0].delivery_tag)
    else:
        a.nack(got_a[0].delivery_tag, requeue=True)  # b gets "0" back, redelivered
    a.declare_queue(queue, passive=True)  # the queue has seen the settlement
    if settle == "ack":
        for body in (b"2", b"3"):
            producer.publish("", queue, body)
    wait_until(b, lambda: len(got_b) == 2)
    wait_until(a, lambda: len(got_a) == 1 + (settle == "ack"))
    b.process_events(0.2)
    a.process_events(0.2)
    if settle == "ack":
        assert [d.body for d in got_a] == [b"0", b"3"]
        assert [d.body for d in got_b] == [b"1", b"2"]
    else:
        assert [d.body for d in got_a] == [b"0"]
        assert [(d.body, d.redelivered) for d in got_b] == [(b"1", False), (b"0", True)]


def test_exclusive_consumer_excludes_others(
    connect: Callable[[], Transport], names: Names
) -> None:
    first, second = connect(), connect()
    queue = names.queue()
    first.declare_queue(queue)
    first.consume(queue, lambda d: None, exclusive=True)
    with pytest.raises(AccessRefused) as caught:
        second.consume(queue, lambda d: None)
    assert caught.value.reply_text == (
        f"ACCESS_REFUSED - queue '{queue}' in vhost '/' in exclusive use")


def test_requeued_message_returns_to_its_position_redelivered(
    transport: Transport, names: Names
) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    _fill(transport, queue, 4)
    first, second = transport.get(queue), transport.get(queue)
    assert first is not None and second is not None
    transport.nack(second.delivery_tag, requeue=True)
    transport.reject(first.delivery_tag, requeue=True)
    seen = []
    while (d := transport.get(queue, auto_ack=True)) is not None:
        seen.append((d.body, d.redelivered))
    assert seen == [(b"0", True), (b"1", True), (b"2", False), (b"3", False)]


def test_nack_multiple_and_get_message_count(transport: Transport,
                                            connect: Callable[[], Transport],
                                            names: Names) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    _fill(transport, queue, 3)
    deliveries = [transport.get(queue) for _ in range(3)]
    assert [d.message_count for d in deliveries if d] == [2, 1, 0]
    last = deliveries[-1]
    assert last is not None
    transport.nack(last.delivery_tag, multiple=True, requeue=False)
    assert transport.get(queue) is None
    transport.close()  # what was still unacked would come back now
    assert connect().declare_queue(queue, passive=True).message_count == 0


def test_unknown_and_double_ack_close_the_channel_with_406(
    transport: Transport, names: Names
) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    _fill(transport, queue, 2)
    delivery = transport.get(queue)
    assert delivery is not None
    transport.ack(delivery.delivery_tag)
    with pytest.raises(PreconditionFailed) as caught:
        transport.ack(delivery.delivery_tag)
        # acks are asynchronous in AMQP: the error surfaces by the next call at the latest
        transport.declare_queue(queue, passive=True)
    assert caught.value.reply_text == (
        f"PRECONDITION_FAILED - unknown delivery tag {delivery.delivery_tag}")
    # the transport opened a new channel: still usable, nothing lost
    assert drain_bodies(transport, queue) == [b"1"]


def test_channel_error_requeues_unacked_and_stale_tags_are_ignored(
    transport: Transport, names: Names
) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    _fill(transport, queue, 1)
    delivery = transport.get(queue)
    assert delivery is not None
    with pytest.raises(PreconditionFailed):
        transport.ack(delivery.delivery_tag + 1000)
        transport.declare_queue(queue, passive=True)
    transport.ack(delivery.delivery_tag)  # stale: ignored, never applied to the new channel
    again = transport.get(queue)
    assert again is not None and again.body == b"0" and again.redelivered
    assert again.delivery_tag != delivery.delivery_tag
    transport.ack(again.delivery_tag)
    assert transport.get(queue) is None


def test_close_requeues_unacked_for_other_consumers(
    connect: Callable[[], Transport], names: Names
) -> None:
    first, second = connect(), connect()
    queue = names.queue()
    first.declare_queue(queue)
    _fill(first, queue, 2)
    got: list[Delivery] = []
    first.consume(queue, got.append)
    wait_until(first, lambda: len(got) == 2)
    first.close()
    redelivered = [second.get(queue, auto_ack=True) for _ in range(2)]
    assert [(d.body, d.redelivered) for d in redelivered if d] == [(b"0", True), (b"1", True)]


def test_cancel_keeps_unacked_until_acked(transport: Transport,
                                          connect: Callable[[], Transport],
                                          names: Names) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    _fill(transport, queue, 2)
    got: list[Delivery] = []
    handle = transport.consume(queue, got.append, prefetch=1)
    wait_until(transport, lambda: len(got) == 1)
    handle.cancel()
    assert not handle.active
    info = transport.declare_queue(queue, passive=True)
    assert (info.message_count, info.consumer_count) == (1, 0)
    transport.ack(got[0].delivery_tag)
    assert drain_bodies(transport, queue) == [b"1"]
    transport.close()  # had the ack not settled it, the first message would come back now
    assert connect().declare_queue(queue, passive=True).message_count == 0


def test_deleting_a_queue_cancels_its_consumers(
    connect: Callable[[], Transport], names: Names
) -> None:
    consumer_side, admin = connect(), connect()
    queue = names.queue()
    admin.declare_queue(queue)
    handle = consumer_side.consume(queue, lambda d: None)
    admin.delete_queue(queue)
    wait_until(consumer_side, lambda: not handle.active)


def test_auto_delete_queue_goes_after_its_last_consumer(
    transport: Transport, names: Names
) -> None:
    from msgbus import NotFound

    queue = names.queue()
    transport.declare_queue(queue, auto_delete=True)
    transport.declare_queue(queue, passive=True, auto_delete=True)  # no consumer yet: stays
    handle = transport.consume(queue, lambda d: None)
    handle.cancel()
    with pytest.raises(NotFound):
        transport.declare_queue(queue, passive=True)


def test_direct_reply_to_round_trip(connect: Callable[[], Transport], names: Names) -> None:
    client, server = connect(), connect()
    queue = names.queue("rpc")
    server.declare_queue(queue)
    replies: list[Delivery] = []
    client.consume("amq.rabbitmq.reply-to", replies.append, auto_ack=True)
    client.publish("", queue, b"ping", Properties(reply_to="amq.rabbitmq.reply-to",
                                                  correlation_id="c1"))
    request = server.get(queue, auto_ack=True)
    assert request is not None and request.properties.reply_to is not None
    assert request.properties.reply_to.startswith("amq.rabbitmq.reply-to.")
    server.publish("", request.properties.reply_to, b"pong",
                   Properties(correlation_id=request.properties.correlation_id))
    wait_until(client, lambda: bool(replies))
    assert replies[0].body == b"pong" and replies[0].properties.correlation_id == "c1"


def test_reply_to_without_reply_consumer_is_406(transport: Transport, names: Names) -> None:
    queue = names.queue()
    transport.declare_queue(queue)
    with pytest.raises(PreconditionFailed, match="fast reply consumer does not exist"):
        transport.publish("", queue, b"x", Properties(reply_to="amq.rabbitmq.reply-to"))


def test_every_property_round_trips(transport: Transport, names: Names) -> None:
    import datetime
    import decimal

    queue = names.queue()
    transport.declare_queue(queue)
    headers = {
        "str": "s", "int": 7, "big": 2**40, "neg": -3, "bool": True,
        "none": None, "bytes": b"\x00\x01", "list": [1, "a", [2]],
        "table": {"nested": {"deep": 1}}, "dec": decimal.Decimal("1.25"),
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
    }
    props = Properties(
        content_type="application/json", content_encoding="utf-8", headers=headers,
        delivery_mode=2, priority=3, correlation_id="corr", reply_to="replies",
        expiration="60000", message_id="mid", timestamp=1_700_000_000, type="kind",
        user_id="guest", app_id="app", cluster_id="cl")
    transport.publish("", queue, b"body", props)
    delivery = transport.get(queue, auto_ack=True)
    assert delivery is not None
    assert delivery.properties == props


def test_single_active_consumer_takes_everything_until_it_goes(
    connect: Callable[[], Transport], names: Names
) -> None:
    producer, first, second = connect(), connect(), connect()
    queue = names.queue()
    producer.declare_queue(queue, arguments={"x-single-active-consumer": True})
    got_first: list[bytes] = []
    got_second: list[bytes] = []
    handle = first.consume(queue, lambda d: got_first.append(d.body), auto_ack=True)
    second.consume(queue, lambda d: got_second.append(d.body), auto_ack=True)
    _fill(producer, queue, 3)
    wait_until(first, lambda: len(got_first) == 3)
    handle.cancel()
    producer.publish("", queue, b"after")
    wait_until(second, lambda: got_second == [b"after"])
    first.process_events(0.1)
    assert got_first == [b"0", b"1", b"2"]
