"""Contract: consuming, acks, prefetch, cancel and channel errors, on every transport."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from msgbus import errors
from msgbus.transport import Transport
from msgbus.values import Delivery, Properties
from tests.support import Names, wait_until


def _fill(transport: Transport, queue: str, count: int) -> None:
    transport.declare_queue(queue)
    for n in range(count):
        transport.publish("", queue, str(n).encode())


def _settle(transport: Transport, seconds: float = 0.3) -> None:
    """Give a real broker time to deliver whatever it is going to deliver."""
    transport.process_events(seconds)


def _counts(connect: Callable[[], Transport], queue: str) -> int:
    """Ready messages in ``queue`` as seen from a fresh connection."""
    observer = connect()
    try:
        return observer.declare_queue(queue, passive=True).message_count
    finally:
        observer.close()


def test_consume_delivers_in_order(transport: Transport, names: Names) -> None:
    q = names.queue()
    _fill(transport, q, 5)
    got: list[Delivery] = []
    consumer = transport.consume(q, got.append)
    assert consumer.active and consumer.queue == q and consumer.consumer_tag
    wait_until(transport, lambda: len(got) == 5)
    assert [d.body for d in got] == [b"0", b"1", b"2", b"3", b"4"]
    assert {d.consumer_tag for d in got} == {consumer.consumer_tag}
    assert all(not d.redelivered and d.exchange == "" and d.routing_key == q for d in got)
    assert len({d.delivery_tag for d in got}) == 5
    assert all(d.message_count is None for d in got)


def test_callbacks_run_only_inside_process_events(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    got: list[Delivery] = []
    transport.consume(q, got.append, auto_ack=True)
    transport.publish("", q, b"x")
    transport.declare_queue(q, passive=True)
    assert got == []
    wait_until(transport, lambda: len(got) == 1)


def test_consumer_tag_given_by_the_caller(transport: Transport, names: Names) -> None:
    q = names.queue()
    _fill(transport, q, 1)
    got: list[Delivery] = []
    consumer = transport.consume(q, got.append, consumer_tag="my-tag", auto_ack=True)
    assert consumer.consumer_tag == "my-tag"
    wait_until(transport, lambda: len(got) == 1)
    assert got[0].consumer_tag == "my-tag"


def test_consume_from_missing_queue_is_not_found(transport: Transport, names: Names) -> None:
    q = names.queue()
    with pytest.raises(errors.NotFound) as info:
        transport.consume(q, lambda d: None)
    assert info.value.reply_text == f"NOT_FOUND - no queue '{q}' in vhost '/'"


def test_ack_removes_and_unacked_return_redelivered_on_close(
    connect: Callable[[], Transport], names: Names
) -> None:
    first = connect()
    q = names.queue()
    _fill(first, q, 3)
    got: list[Delivery] = []
    first.consume(q, got.append)
    wait_until(first, lambda: len(got) == 3)
    first.ack(got[1].delivery_tag)
    first.close()
    second = connect()
    again: list[Delivery] = []
    second.consume(q, again.append, auto_ack=True)
    wait_until(second, lambda: len(again) == 2)
    assert [(d.body, d.redelivered) for d in again] == [(b"0", True), (b"2", True)]


def test_ack_multiple(connect: Callable[[], Transport], names: Names) -> None:
    transport = connect()
    q = names.queue()
    _fill(transport, q, 4)
    got: list[Delivery] = []
    transport.consume(q, got.append)
    wait_until(transport, lambda: len(got) == 4)
    transport.ack(got[2].delivery_tag, multiple=True)
    transport.close()
    assert _counts(connect, q) == 1


def test_acks_made_in_callbacks_take_effect(
    connect: Callable[[], Transport], names: Names
) -> None:
    # prefetch 1: each message comes only once the one before was acked in its callback
    transport = connect()
    q = names.queue()
    _fill(transport, q, 5)
    got: list[bytes] = []

    def on_message(delivery: Delivery) -> None:
        got.append(delivery.body)
        transport.ack(delivery.delivery_tag)

    transport.consume(q, on_message, prefetch=1)
    wait_until(transport, lambda: len(got) == 5)
    transport.close()
    assert got == [b"0", b"1", b"2", b"3", b"4"]
    assert _counts(connect, q) == 0


def test_ack_in_a_callback_comes_before_what_the_callback_does_next(
    connect: Callable[[], Transport], names: Names
) -> None:
    transport, observer = connect(), connect()
    q, replies = names.queue(), names.queue("replies")
    _fill(transport, q, 3)
    transport.declare_queue(replies)
    seen: list[int] = []

    def on_message(delivery: Delivery) -> None:
        transport.ack(delivery.delivery_tag)
        # a publish after the ack: its queue already counts the ack
        transport.publish("", replies, delivery.body)
        seen.append(transport.declare_queue(q, passive=True).message_count)

    transport.consume(q, on_message, prefetch=1)
    wait_until(transport, lambda: len(seen) == 3)
    wait_until(observer, lambda: observer.declare_queue(replies, passive=True)
               .message_count == 3)
    assert seen == [1, 0, 0]  # the ack let the next message go out before the declare


def test_double_ack_in_a_callback_closes_the_channel(
    transport: Transport, names: Names
) -> None:
    q = names.queue()
    _fill(transport, q, 1)
    failures: list[errors.PreconditionFailed] = []

    def on_message(delivery: Delivery) -> None:
        transport.ack(delivery.delivery_tag)
        try:
            transport.ack(delivery.delivery_tag)
            transport.declare_queue(q, passive=True)
        except errors.PreconditionFailed as error:
            failures.append(error)

    transport.consume(q, on_message)
    try:  # the error may also surface after the callback, as on RabbitMQ
        wait_until(transport, lambda: bool(failures))
    except errors.PreconditionFailed as error:
        failures.append(error)
    assert failures[0].reply_text == "PRECONDITION_FAILED - unknown delivery tag 1"
    assert transport.get(q) is None  # the first ack stood: nothing came back


def test_acks_from_a_worker_thread_and_from_callbacks_together(
    connect: Callable[[], Transport], names: Names
) -> None:
    # every other delivery is acked in its callback, the rest by a worker thread
    import queue as queues
    import threading

    transport = connect()
    q = names.queue()
    _fill(transport, q, 300)
    handoff: queues.Queue[int | None] = queues.Queue()
    got: list[bytes] = []

    def on_message(delivery: Delivery) -> None:
        got.append(delivery.body)
        if len(got) % 2:
            transport.ack(delivery.delivery_tag)
        else:
            handoff.put(delivery.delivery_tag)

    def worker() -> None:
        while (tag := handoff.get()) is not None:
            transport.ack(tag)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        transport.consume(q, on_message, prefetch=10)
        wait_until(transport, lambda: len(got) == 300, timeout=30)
    finally:
        handoff.put(None)
        thread.join()
    transport.close()  # sends what the worker acked and was not sent yet
    assert sorted(got, key=int) == [str(n).encode() for n in range(300)]
    assert _counts(connect, q) == 0


def test_nack_requeues_at_original_position(transport: Transport, names: Names) -> None:
    q = names.queue()
    _fill(transport, q, 3)
    first = transport.get(q)
    assert first is not None and first.body == b"0"
    transport.nack(first.delivery_tag)
    again = transport.get(q, auto_ack=True)
    assert again is not None and (again.body, again.redelivered) == (b"0", True)
    nxt = transport.get(q, auto_ack=True)
    assert nxt is not None and (nxt.body, nxt.redelivered) == (b"1", False)


def test_nack_multiple_without_requeue_discards(
    transport: Transport, connect: Callable[[], Transport], names: Names
) -> None:
    q = names.queue()
    _fill(transport, q, 3)
    got: list[Delivery] = []
    transport.consume(q, got.append)
    wait_until(transport, lambda: len(got) == 3)
    transport.nack(got[1].delivery_tag, multiple=True, requeue=False)
    transport.reject(got[2].delivery_tag, requeue=True)
    redelivered: list[Delivery] = []
    wait_until(transport, lambda: len(got) == 4)
    redelivered.append(got[3])
    assert (redelivered[0].body, redelivered[0].redelivered) == (b"2", True)
    transport.ack(redelivered[0].delivery_tag)
    _settle(transport)
    assert len(got) == 4
    assert transport.declare_queue(q, passive=True).message_count == 0
    transport.close()  # what was still unacked would come back now
    assert connect().declare_queue(q, passive=True).message_count == 0


def test_reject_without_requeue_discards(transport: Transport, connect: Callable[[], Transport],
                                         names: Names) -> None:
    q = names.queue()
    _fill(transport, q, 2)
    first = transport.get(q)
    assert first is not None
    transport.reject(first.delivery_tag, requeue=False)
    rest = transport.get(q, auto_ack=True)
    assert rest is not None and rest.body == b"1"
    assert transport.get(q) is None
    transport.close()  # what was still unacked would come back now
    assert connect().declare_queue(q, passive=True).message_count == 0


def test_prefetch_limits_unacked_deliveries(transport: Transport, names: Names) -> None:
    q = names.queue()
    _fill(transport, q, 5)
    got: list[Delivery] = []
    transport.consume(q, got.append, prefetch=2)
    wait_until(transport, lambda: len(got) == 2)
    _settle(transport)
    assert len(got) == 2
    transport.ack(got[0].delivery_tag)
    wait_until(transport, lambda: len(got) == 3)
    _settle(transport)
    assert len(got) == 3
    transport.ack(got[2].delivery_tag, multiple=True)
    wait_until(transport, lambda: len(got) == 5)
    assert [d.body for d in got] == [b"0", b"1", b"2", b"3", b"4"]


def test_prefetch_is_per_consumer(transport: Transport, names: Names) -> None:
    limited, unlimited = names.queue("limited"), names.queue("unlimited")
    _fill(transport, limited, 4)
    _fill(transport, unlimited, 4)
    few: list[Delivery] = []
    many: list[Delivery] = []
    transport.consume(limited, few.append, prefetch=1)
    transport.consume(unlimited, many.append)
    wait_until(transport, lambda: len(many) == 4 and len(few) == 1)
    _settle(transport)
    assert len(few) == 1


def test_auto_ack_consumer(connect: Callable[[], Transport], names: Names) -> None:
    transport = connect()
    q = names.queue()
    _fill(transport, q, 3)
    got: list[Delivery] = []
    transport.consume(q, got.append, auto_ack=True)
    wait_until(transport, lambda: len(got) == 3)
    transport.close()
    assert _counts(connect, q) == 0


def test_cancel_stops_deliveries_and_keeps_unacked(
    transport: Transport, names: Names
) -> None:
    q = names.queue()
    _fill(transport, q, 1)
    got: list[Delivery] = []
    consumer = transport.consume(q, got.append)
    wait_until(transport, lambda: len(got) == 1)
    consumer.cancel()
    assert not consumer.active
    consumer.cancel()  # again: nothing happens
    transport.publish("", q, b"later")
    _settle(transport)
    assert len(got) == 1
    transport.ack(got[0].delivery_tag)  # still acknowledgeable after the cancel
    later = transport.get(q, auto_ack=True)
    assert later is not None and later.body == b"later"
    assert transport.get(q) is None


def test_deleting_the_queue_cancels_its_consumer(transport: Transport, names: Names) -> None:
    q = names.queue()
    transport.declare_queue(q)
    consumer = transport.consume(q, lambda d: None)
    transport.delete_queue(q)
    wait_until(transport, lambda: not consumer.active)


def test_exclusive_consumer_refuses_a_second_consumer(
    connect: Callable[[], Transport], names: Names
) -> None:
    first, second = connect(), connect()
    q = names.queue()
    first.declare_queue(q)
    first.consume(q, lambda d: None, exclusive=True)
    with pytest.raises(errors.AccessRefused) as info:
        second.consume(q, lambda d: None)
    assert info.value.reply_text == f"ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use"


def test_unknown_delivery_tag_closes_the_channel(transport: Transport, names: Names) -> None:
    q = names.queue()
    _fill(transport, q, 1)
    with pytest.raises(errors.PreconditionFailed) as info:
        transport.ack(99)
        transport.declare_queue(q, passive=True)  # the broker's answer arrives by now
    assert info.value.reply_text == "PRECONDITION_FAILED - unknown delivery tag 99"
    assert transport.declare_queue(q, passive=True).message_count == 1


def test_double_ack_closes_the_channel(transport: Transport, names: Names) -> None:
    q = names.queue()
    _fill(transport, q, 1)
    delivery = transport.get(q)
    assert delivery is not None
    transport.ack(delivery.delivery_tag)
    with pytest.raises(errors.PreconditionFailed) as info:
        transport.ack(delivery.delivery_tag)
        transport.declare_queue(q, passive=True)
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - unknown delivery tag {delivery.delivery_tag}"
    )


def test_channel_error_deactivates_consumers_and_requeues_unacked(
    transport: Transport, names: Names
) -> None:
    q = names.queue()
    _fill(transport, q, 2)
    got: list[Delivery] = []
    consumer = transport.consume(q, got.append)
    wait_until(transport, lambda: len(got) == 2)
    with pytest.raises(errors.NotFound):
        transport.declare_queue(names.queue("missing"), passive=True)
    assert not consumer.active
    again = transport.get(q, auto_ack=True)
    assert again is not None and (again.body, again.redelivered) == (b"0", True)


def test_stale_tags_after_a_channel_error_are_ignored_with_a_warning(
    transport: Transport, names: Names, caplog: pytest.LogCaptureFixture
) -> None:
    q = names.queue()
    _fill(transport, q, 2)
    old = transport.get(q)
    assert old is not None
    with pytest.raises(errors.NotFound):
        transport.declare_queue(names.queue("missing"), passive=True)
    fresh = transport.get(q)  # the new channel's first delivery
    assert fresh is not None and fresh.body == b"0" and fresh.redelivered
    assert fresh.delivery_tag != old.delivery_tag
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        transport.ack(old.delivery_tag)
        transport.nack(old.delivery_tag)
        transport.reject(old.delivery_tag)
    assert sum(str(old.delivery_tag) in r.getMessage() for r in caplog.records) == 3
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    # the stale ack did not touch the new channel's delivery
    assert transport.declare_queue(q, passive=True).message_count == 1
    transport.ack(fresh.delivery_tag)
    last = transport.get(q, auto_ack=True)
    assert last is not None and last.body == b"1"


def test_direct_reply_to(connect: Callable[[], Transport], names: Names) -> None:
    client, server = connect(), connect()
    assert client.supports_direct_reply_to
    requests = names.queue("requests")
    server.declare_queue(requests)
    replies: list[Delivery] = []
    client.consume("amq.rabbitmq.reply-to", replies.append, auto_ack=True)
    client.publish(
        "", requests, b"ping", Properties(reply_to="amq.rabbitmq.reply-to", correlation_id="c1")
    )
    request = server.get(requests, auto_ack=True)
    assert request is not None and request.properties.reply_to is not None
    assert request.properties.reply_to.startswith("amq.rabbitmq.reply-to.")
    server.publish(
        "", request.properties.reply_to, b"pong",
        Properties(correlation_id=request.properties.correlation_id),
    )
    wait_until(client, lambda: len(replies) == 1)
    assert replies[0].body == b"pong" and replies[0].properties.correlation_id == "c1"


def test_message_ttl_expires(
    transport: Transport, names: Names, elapse: Callable[[float], None]
) -> None:
    q = names.queue()
    transport.declare_queue(q)
    transport.publish("", q, b"short", Properties(expiration="50"))
    transport.publish("", q, b"long", Properties(expiration="600000"))
    elapse(0.3)
    kept = transport.get(q, auto_ack=True)
    assert kept is not None and kept.body == b"long"
    assert transport.get(q) is None
