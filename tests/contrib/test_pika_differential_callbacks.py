"""The same pika consumer program on RabbitMQ and on the memory facade: acks and cancels
made in consumer callbacks, deliveries already on their way, a generator taking a backlog."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


def _wait_until_ready(w: World, channel: Any, queue: str, count: int,
                      timeout: float = 10.0) -> None:
    """On RabbitMQ, where queues work asynchronously, ask (passive declares) until ``queue``
    has ``count`` messages ready, for ``timeout`` seconds at most; the memory broker is
    there already. The scenario then records what it sees, whatever that is."""
    if not w.real:
        return
    deadline = time.monotonic() + timeout
    while (channel.queue_declare(queue, passive=True).method.message_count != count
           and time.monotonic() < deadline):
        time.sleep(0.01)


def test_acks_made_in_consumer_callbacks(amqp_url: str, names: Names) -> None:
    # acks made by callbacks, each followed by a publish; then a bad ack: the deliveries
    # the client received before the channel closed still reach the callback
    def scenario(w: World) -> None:
        q, out = names.queue(), names.queue("out")
        connection = w.connect()
        ch = connection.channel()
        ch.queue_declare(q)
        ch.queue_declare(out)
        for i in range(4):
            ch.basic_publish("", q, b"%d" % i)
        ch.basic_qos(prefetch_count=1)
        seen: list[Any] = []

        def on_message(c: Any, method: Any, _properties: Any, body: bytes) -> None:
            seen.append(body)
            c.basic_ack(method.delivery_tag)
            c.basic_publish("", out, body)
            if len(seen) == 4:
                c.stop_consuming()

        ch.basic_consume(q, on_message)
        w.attempt("consuming", lambda: ch.start_consuming())
        w.record("seen", seen)
        for i in range(3):
            ch.basic_publish("", q, b"late %d" % i)
        ch.basic_qos(prefetch_count=3)
        late: list[Any] = []
        probe = w.channel(confirm=False)  # on a connection of its own

        def on_late(c: Any, method: Any, _properties: Any, body: bytes) -> None:
            late.append((body, method.redelivered))
            if len(late) == 1:
                # once the queue has handed all three to the channel, a synchronous call
                # on the channel returns after the other two reached the client, before
                # the bad ack that closes the channel; their callbacks do no I/O, so the
                # client cannot see the close before it has dispatched them
                _wait_until_ready(w, probe, q, 0)
                c.basic_qos(prefetch_count=3)
                c.basic_ack(method.delivery_tag + 100)

        ch.basic_consume(q, on_late)
        w.attempt("consuming again", lambda: ch.start_consuming())
        w.record("late", late)
        w.record("channel open", ch.is_open)
        other = connection.channel()
        w.settle(connection, 0.0)
        _wait_until_ready(w, other, q, len(late))  # the closed channel's are requeued
        w.record("left", w.get_all(other, q))
        w.record("out", w.get_all(other, out))

    check(scenario, amqp_url, names)


def test_cancel_from_a_callback_with_deliveries_waiting(amqp_url: str, names: Names) -> None:
    # deliveries already sent but not yet dispatched: an auto-ack consumer gets them back
    # from basic_cancel, a manual-ack one has them requeued
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        for auto_ack in (True, False):
            q = names.queue(f"auto-{auto_ack}")
            ch.queue_declare(q)
            for i in range(5):
                ch.basic_publish("", q, b"%d" % i)
            seen: list[Any] = []
            returned: list[Any] = []

            def on_message(c: Any, method: Any, _properties: Any, body: bytes,
                           seen: list[Any] = seen, returned: list[Any] = returned) -> None:
                seen.append((body, method.redelivered))
                if len(seen) == 1:
                    w.elapse(1.0)  # the rest arrive meanwhile
                elif len(seen) == 2:
                    returned.extend(b for _, _, b in c.basic_cancel(method.consumer_tag))

            ch.basic_consume(q, on_message, auto_ack=auto_ack)
            w.attempt("consuming", lambda: ch.start_consuming())
            w.record("seen", seen)
            w.record("returned", returned)
            w.settle(connection)
            w.record("left", w.get_all(ch, q))

    check(scenario, amqp_url, names)


def test_consume_generator_takes_a_backlog(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(6):
            ch.basic_publish("", q, b"%d" % i)
        got = []
        for method, _properties, body in ch.consume(q, inactivity_timeout=1.0):
            if method is None:
                break
            got.append((body, method.delivery_tag, method.redelivered))
            ch.basic_ack(method.delivery_tag)
            if len(got) == 4:
                break
        w.record("got", got)
        w.record("requeued", ch.cancel())
        w.record("left", w.get_all(ch, q))

    check(scenario, amqp_url, names)
