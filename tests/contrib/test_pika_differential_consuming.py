"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Consuming: prefetch, acks (multiple), requeue position, recover, cancels, consumer
priorities and arguments, how a channel settles the deliveries of several consumers, and
what global prefetch counts."""

from __future__ import annotations

from typing import Any

import pika
import pika.exceptions
import pytest

from tests.contrib.pika_scenarios import Action, World, check, each_on_its_own_channel
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- consuming, acks, prefetch -------------------------------------------------------------


def test_prefetch_and_ack_multiple(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        ch.confirm_delivery()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(6):
            ch.basic_publish("", q, f"m{i}".encode())
        ch.basic_qos(prefetch_count=2)
        got: list[Any] = []
        ch.basic_consume(q, lambda c, m, p, b: got.append((m.delivery_tag, b, m.redelivered)),
                         consumer_tag="worker")
        w.pump(connection, lambda: len(got) >= 2)
        w.settle(connection)
        w.record("first window", list(got))
        ch.basic_ack(2, multiple=True)
        w.pump(connection, lambda: len(got) >= 4)
        w.settle(connection)
        w.record("second window", list(got))
        ch.basic_nack(0, multiple=True, requeue=True)
        w.pump(connection, lambda: len(got) >= 6)
        w.settle(connection)
        w.record("after nack", list(got))
        w.record("cancel", ch.basic_cancel("worker"))
        ch.close()
        w.record("left", w.get_all(connection.channel(), q))

    check(scenario, amqp_url, names)


def test_requeue_position_reject_and_recover(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(5):
            ch.basic_publish("", q, f"m{i}".encode())
        tags = [ch.basic_get(q)[0].delivery_tag for _ in range(4)]
        w.record("tags", tags)
        ch.basic_reject(tags[1], requeue=True)
        ch.basic_nack(tags[3], requeue=True)
        ch.basic_reject(tags[0], requeue=False)
        w.record("after requeue", w.get_all(ch, q, ack=False))
        w.attempt("recover", lambda: ch.basic_recover(requeue=True))
        w.record("after recover", w.get_all(ch, q))

    check(scenario, amqp_url, names)


def test_channel_close_requeues_unacked(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(3):
            ch.basic_publish("", q, f"m{i}".encode())
        ch.basic_get(q)
        ch.basic_get(q, auto_ack=True)
        ch.close()
        w.record("closed", (ch.is_open, ch.is_closed))
        other = w.channel()
        w.record("left", w.get_all(other, q))

    check(scenario, amqp_url, names)


def test_consume_generator_and_cancel(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(3):
            ch.basic_publish("", q, f"m{i}".encode())
        seen = []
        for method, _, body in ch.consume(q, inactivity_timeout=0.5):
            if method is None:
                break
            seen.append((method.delivery_tag, body))
            if body == b"m1":
                ch.basic_ack(method.delivery_tag, multiple=True)
        w.record("seen", seen)
        w.record("cancel", ch.cancel())
        w.record("left", w.get_all(ch, q))

    check(scenario, amqp_url, names)


def test_consumer_cancelled_when_queue_deleted(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        q = names.queue()
        ch.queue_declare(q)
        cancels: list[Any] = []
        ch.add_on_cancel_callback(cancels.append)
        ch.basic_consume(q, lambda *a: None, consumer_tag="c1")
        w.channel().queue_delete(q)
        w.pump(connection, lambda: bool(cancels))
        w.record("cancels", cancels)
        w.record("tags", ch.consumer_tags)

    check(scenario, amqp_url, names)


def test_consumer_priorities_and_message_priorities(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        w.attempt("declare", lambda: ch.queue_declare(q, arguments={"x-max-priority": 5}))
        for i, priority in enumerate([1, 5, None, 3, 9, 0]):
            ch.basic_publish("", q, f"m{i}".encode(), pika.BasicProperties(priority=priority))
        w.record("order", [body for body, _, _ in w.get_all(ch, q)])
        connection = w.connect()
        low, high = connection.channel(), connection.channel()
        low.basic_qos(prefetch_count=1)
        high.basic_qos(prefetch_count=1)
        got: list[Any] = []
        low.basic_consume(q, lambda c, m, p, b: got.append(("low", b)))
        high.basic_consume(q, lambda c, m, p, b: got.append(("high", b)),
                           arguments={"x-priority": 10})
        for i in range(3):
            ch.basic_publish("", q, f"n{i}".encode())
        w.pump(connection, lambda: len(got) >= 2)
        w.settle(connection)
        w.record("consumers", sorted(got))

    check(scenario, amqp_url, names)


def test_per_consumer_qos_lifts_the_channel_limit(amqp_url: str, names: Names) -> None:
    orders: list[list[Any]] = [
        [(3, True), (2, False), "a", "b"],
        [(2, False), (3, True), "a", "b"],
        [(3, True), "a", (1, False), "b"],
        [(3, True), (0, True), "a", "b"],
        [(1, False), "a", (3, True), "b", (0, False)],
    ]

    def scenario(w: World) -> None:
        for n, order in enumerate(orders):
            connection = w.connect()
            ch = connection.channel()
            ch.confirm_delivery()
            queues = {"a": names.queue(f"a{n}"), "b": names.queue(f"b{n}")}
            for label, q in queues.items():
                ch.queue_declare(q)
                for i in range(6):
                    ch.basic_publish("", q, f"{label}{i}".encode())
            got: list[bytes] = []
            for step in order:
                if isinstance(step, str):
                    ch.basic_consume(queues[step], lambda c, m, p, b: got.append(b))  # noqa: B023
                else:
                    ch.basic_qos(prefetch_count=step[0], global_qos=step[1])
                w.settle(connection)
                w.record(f"{n}: {step}", len(got))
            connection.close()

    check(scenario, amqp_url, names)


# -- consumer arguments --------------------------------------------------------------------


def test_consumer_argument_validation(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        q = names.queue("q")
        w.channel().queue_declare(q)

        def consume(arguments: dict[str, Any]) -> Action:
            return lambda ch: ch.basic_consume(q, lambda *a: None, arguments=arguments)

        each_on_its_own_channel(w, {
            "priority str": consume({"x-priority": "5"}),
            "priority 64-bit": consume({"x-priority": 2**40}),
            "priority negative": consume({"x-priority": -5}),
            "priority bool": consume({"x-priority": True}),
            "priority void": consume({"x-priority": None}),
            "stream offset on a classic queue": consume({"x-stream-offset": "first"}),
            "cancel on failover str": consume({"x-cancel-on-ha-failover": "yes"}),
            "cancel on failover bool": consume({"x-cancel-on-ha-failover": True}),
            "unknown argument": consume({"x-foo": 1}),
        })

    check(scenario, amqp_url, names)


# -- settling the deliveries of several consumers ------------------------------------------


#: (consumers as (tag, x-priority), messages, steps); every consumer has a prefetch of one
#: (``prefetch`` steps change it), a step is ("ack" | "nack" | "reject", tag, multiple),
#: ("recover",), ("commit",) or ("tx",)
SETTLE_CASES: dict[str, tuple[list[tuple[str, int]], int, list[tuple[Any, ...]]]] = {
    "ack multiple": ([("a", 0), ("c", 0)], 5, [("ack", 1, False), ("ack", 0, True)]),
    "ack multiple, three": ([("c", 0), ("b", 0), ("a", 0)], 7,
                            [("ack", 2, False), ("ack", 0, True)]),
    "ack multiple, priorities": ([("b", 10), ("a", 0)], 5,
                                 [("ack", 2, False), ("ack", 0, True)]),
    "nack multiple, requeue": ([("a", 0), ("c", 0)], 5,
                               [("ack", 1, False), ("nack", 0, True)]),
    "reject multiple, drop": ([("a", 0), ("c", 0)], 5,
                              [("ack", 1, False), ("reject", 0, True)]),
    "recover": ([("a", 0), ("c", 0)], 5, [("ack", 1, False), ("recover",)]),
    "ack multiple in a transaction": ([("a", 0), ("c", 0)], 5,
                                      [("ack", 1, False), ("tx",), ("ack", 0, True),
                                       ("commit",)]),
    "single acks": ([("a", 0), ("c", 0)], 5,
                    [("ack", 1, False), ("ack", 2, False), ("ack", 3, False)]),
}


def _quiet(w: World, connection: Any, got: list[Any]) -> None:
    """Take deliveries until none has come for a while (on RabbitMQ; at once on memory)."""
    seen = -1
    while seen != len(got):
        seen = len(got)
        w.settle(connection, 0.5)
        if not w.real:
            return


def _settle_step(ch: Any, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "ack":
        ch.basic_ack(step[1], multiple=step[2])
    elif kind in ("nack", "reject"):
        ch.basic_nack(step[1], multiple=step[2], requeue=kind == "nack")
    elif kind == "recover":
        ch.basic_recover(requeue=True)
    elif kind == "tx":
        ch.tx_select()
    else:
        ch.tx_commit()


def _record_steps(w: World, connection: Any, ch: Any, got: list[Any], label: str,
                  steps: Any) -> None:
    """Record the first deliveries, then what each settlement step brings."""
    _quiet(w, connection, got)
    w.record(f"{label}: first", list(got))
    for step in steps:
        seen = len(got)
        _settle_step(ch, step)
        _quiet(w, connection, got)
        w.record(f"{label}: {step}", got[seen:])


def test_several_consumers_are_settled_one_consumer_at_a_time(amqp_url: str,
                                                             names: Names) -> None:
    # RabbitMQ's channel settles an ack (nack, recover) of several consumers' deliveries
    # with one call per queue and consumer, in consumer tag order; the queue serves the
    # consumer the first call unblocked before it takes the next call
    def scenario(w: World) -> None:
        publisher = w.channel()
        for n, (label, (consumers, count, steps)) in enumerate(SETTLE_CASES.items()):
            q = names.queue(f"s{n}")
            publisher.queue_declare(q)
            for i in range(count):
                publisher.basic_publish("", q, f"m{i}".encode())
            connection = w.connect()
            ch = connection.channel()
            ch.basic_qos(prefetch_count=1)
            got: list[Any] = []
            for tag, priority in consumers:
                ch.basic_consume(q, lambda c, m, p, b: got.append(  # noqa: B023
                    (m.consumer_tag, b, m.delivery_tag, m.redelivered)),
                    consumer_tag=tag, arguments={"x-priority": priority})
            _record_steps(w, connection, ch, got, label, steps)
            w.record(f"{label}: left", w.get_all(publisher, q, ack=False))
            connection.close()

    check(scenario, amqp_url, names)


# -- global prefetch -----------------------------------------------------------------------


def test_global_prefetch_starts_from_every_unacked_delivery(amqp_url: str,
                                                           names: Names) -> None:
    # a global basic.qos on an unlimited channel counts all its unacked deliveries, those
    # of basic.get too, whose acks never lower the count; a second basic.qos keeps it
    def scenario(w: World) -> None:
        publisher = w.channel()
        q = names.queue()
        publisher.queue_declare(q)
        for i in range(10):
            publisher.basic_publish("", q, f"m{i}".encode())
        connection = w.connect()
        ch = connection.channel()
        fetched = [ch.basic_get(q)[0].delivery_tag for _ in range(2)]
        ch.basic_qos(prefetch_count=3, global_qos=True)
        got: list[Any] = []
        ch.basic_consume(q, lambda c, m, p, b: got.append((b, m.delivery_tag)))
        w.pump(connection, lambda: bool(got))
        _quiet(w, connection, got)
        w.record("consumed", list(got))
        for tag in fetched:
            ch.basic_ack(tag)
        _quiet(w, connection, got)
        w.record("after acking the fetched", list(got))
        ch.basic_ack(got[0][1])
        w.pump(connection, lambda: len(got) > 1)
        _quiet(w, connection, got)
        w.record("after acking a consumed one", list(got))
        ch.basic_qos(prefetch_count=3, global_qos=True)
        _quiet(w, connection, got)
        w.record("after the same basic.qos", list(got))
        ch.basic_qos(prefetch_count=0, global_qos=True)
        ch.basic_qos(prefetch_count=3, global_qos=True)  # counts from the unacked again
        _quiet(w, connection, got)
        w.record("after lifting and setting it again", list(got))

    check(scenario, amqp_url, names)


#: (per-consumer prefetch, global prefetch, consumer tags, messages, steps): cases whose
#: outcome on RabbitMQ does not depend on timing: the global limit is reached by a refused
#: delivery (the queue is suspended) and each step settles one consumer's deliveries, or
#: the limit is never reached
MIXED_CASES: dict[str, tuple[int, int, list[str], int, list[tuple[Any, ...]]]] = {
    "suspended": (1, 2, ["c", "a", "b"], 6, [("ack", 1, False), ("ack", 3, False)]),
    "suspended, three consumers": (1, 2, ["a", "b", "c"], 9,
                                   [("ack", 1, False), ("ack", 2, False), ("ack", 3, False)]),
    "suspended, nack": (2, 3, ["b", "a", "c"], 12, [("ack", 2, True), ("nack", 3, False)]),
    "suspended by one consumer": (3, 2, ["a", "b"], 8,
                                  [("ack", 1, False), ("ack", 2, False), ("ack", 4, True)]),
    "under the limit, nack multiple": (1, 5, ["c", "a"], 8,
                                       [("ack", 2, False), ("nack", 0, True)]),
}


def test_global_and_per_consumer_prefetch_together(amqp_url: str, names: Names) -> None:
    # the channel's limiter counts the acks before the queues ask it again, but a queue it
    # refused (suspended) serves none of the channel's consumers until the limiter resumes
    # it: the consumers a settle unblocks block again, in the order the queue tried them,
    # and the queue serves them in that order once resumed
    def scenario(w: World) -> None:
        publisher = w.channel()
        for n, (label, (prefetch, limit, tags, count, steps)) in enumerate(
                MIXED_CASES.items()):
            q = names.queue(f"m{n}")
            publisher.queue_declare(q)
            for i in range(count):
                publisher.basic_publish("", q, f"m{i}".encode())
            connection = w.connect()
            ch = connection.channel()
            ch.basic_qos(prefetch_count=prefetch)
            ch.basic_qos(prefetch_count=limit, global_qos=True)
            got: list[Any] = []
            for tag in tags:
                ch.basic_consume(q, lambda c, m, p, b: got.append(  # noqa: B023
                    (m.consumer_tag, b, m.delivery_tag)), consumer_tag=tag)
            _record_steps(w, connection, ch, got, label, steps)
            connection.close()

    check(scenario, amqp_url, names)


def test_global_prefetch_stops_an_auto_ack_consumer(amqp_url: str, names: Names) -> None:
    # RabbitMQ asks the channel's limiter before every delivery: once the channel's count
    # reaches the global prefetch, an auto-ack consumer waits too (its deliveries count
    # nothing, so once the count is below the limit it takes all)
    def scenario(w: World) -> None:
        publisher = w.channel()
        acked, auto = names.queue("acked"), names.queue("auto")
        for q in (acked, auto):
            publisher.queue_declare(q)
            for i in range(3):
                publisher.basic_publish("", q, f"{q[-4:]}{i}".encode())
        connection = w.connect()
        ch = connection.channel()
        ch.basic_qos(prefetch_count=1, global_qos=True)
        got: list[Any] = []
        tag = ch.basic_consume(acked, lambda c, m, p, b: got.append((b, m.delivery_tag)))
        w.pump(connection, lambda: bool(got))
        ch.basic_consume(auto, lambda c, m, p, b: got.append((b, m.delivery_tag)),
                         auto_ack=True)
        _quiet(w, connection, got)
        w.record("the limit is reached", list(got))
        ch.basic_cancel(tag)
        ch.basic_ack(got[0][1])
        w.pump(connection, lambda: len(got) >= 4)
        _quiet(w, connection, got)
        w.record("below the limit", list(got))

    check(scenario, amqp_url, names)
