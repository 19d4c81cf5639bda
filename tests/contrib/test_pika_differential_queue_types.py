"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Quorum and stream queues: declarations and refusals, where returned messages go, delivery
counts and limits, single active consumers."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.contrib.pika_scenarios import Action, World, check, declare, each_on_its_own_channel
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- declarations --------------------------------------------------------------------------


def test_quorum_and_stream_declarations(amqp_url: str, names: Names) -> None:
    quorum, stream = {"x-queue-type": "quorum"}, {"x-queue-type": "stream"}

    def scenario(w: World) -> None:
        each_on_its_own_channel(w, {
            "server-named quorum": lambda ch: ch.queue_declare("", durable=True,
                                                               arguments=quorum),
            "server-named stream": lambda ch: ch.queue_declare("", durable=True,
                                                               arguments=stream),
            "server-named unknown type": lambda ch: ch.queue_declare(
                "", arguments={"x-queue-type": "bad"}),
            "quorum non-durable": declare(names, "q0", arguments=quorum),
            "quorum auto-delete": declare(names, "q1", auto_delete=True, arguments=quorum),
            "quorum exclusive": declare(names, "q2", exclusive=True, durable=True,
                                        arguments=quorum),
            "quorum priority": declare(names, "q3", durable=True,
                                       arguments={**quorum, "x-max-priority": 5}),
            "quorum lazy": declare(names, "q4", durable=True,
                                   arguments={**quorum, "x-queue-mode": "lazy"}),
            "quorum group size 0": declare(names, "q5", durable=True,
                                           arguments={**quorum,
                                                      "x-quorum-initial-group-size": 0}),
            "quorum strategy": declare(names, "q6", durable=True,
                                       arguments={**quorum, "x-dead-letter-strategy": "x"}),
            "quorum locator": declare(names, "q7", durable=True,
                                      arguments={**quorum, "x-queue-leader-locator": "x"}),
            "stream ttl": declare(names, "s0", durable=True,
                                  arguments={**stream, "x-message-ttl": 5}),
            "stream max-age": declare(names, "s1", durable=True,
                                      arguments={**stream, "x-max-age": "5x"}),
            "stream segment": declare(names, "s2", durable=True, arguments={
                **stream, "x-stream-max-segment-size-bytes": 4_000_000_000}),
            "quorum": declare(names, "q8", durable=True, arguments=quorum),
        })
        ch = w.channel(confirm=False)
        q = names.queues[-1]
        w.attempt("redeclare quorum as classic", lambda: ch.queue_declare(q, durable=True))
        ch = w.channel(confirm=False)
        w.attempt("redeclare quorum", lambda: ch.queue_declare(q, durable=True,
                                                               arguments=quorum))

    check(scenario, amqp_url, names)


# -- quorum and stream queues --------------------------------------------------------------


QUORUM = {"x-queue-type": "quorum"}


def _bodies_and_counts(w: World, ch: Any, q: str) -> list[Any]:
    got = []
    while True:
        method, properties, body = ch.basic_get(q, auto_ack=True)
        if method is None:
            return got
        got.append((body, method.redelivered, method.message_count, properties.headers))


def test_quorum_queue_returns_and_delivery_counts(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue("q")
        ch.queue_declare(q, durable=True, arguments=QUORUM)
        for i in range(4):
            ch.basic_publish("", q, f"m{i}".encode())
        first, second = ch.basic_get(q), ch.basic_get(q)
        w.record("gets", [(m, p.headers, b) for m, p, b in (first, second)])
        ch.basic_nack(second[0].delivery_tag, requeue=True)  # to the back
        ch.basic_reject(first[0].delivery_tag, requeue=True)
        w.elapse(0.3)
        w.record("after nack and reject", _bodies_and_counts(w, ch, q))
        for i in range(3):
            ch.basic_publish("", q, f"n{i}".encode())
        closing = w.channel()
        closing.basic_get(q)
        closing.close()  # returned to the front
        w.elapse(0.3)
        w.record("taken", ch.basic_get(q)[2])
        ch.basic_recover(requeue=True)  # to the back
        w.elapse(0.3)
        w.record("after close and recover", _bodies_and_counts(w, ch, q))

    check(scenario, amqp_url, names)


def test_quorum_queue_consumers_limits_and_refusals(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        ch.confirm_delivery()
        q, dead = names.queue("q"), names.queue("dead")
        ch.queue_declare(dead)
        ch.queue_declare(q, durable=True, arguments={
            **QUORUM, "x-delivery-limit": 1, "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead})
        for i in range(4):
            ch.basic_publish("", q, f"m{i}".encode())
        got: list[Any] = []
        ch.basic_qos(prefetch_count=2)
        ch.basic_consume(q, lambda c, m, p, b: got.append((m.delivery_tag, m.redelivered, b,
                                                           p.headers)), consumer_tag="c")
        w.pump(connection, lambda: len(got) >= 2)
        w.settle(connection)
        w.record("deliveries", list(got))
        ch.basic_cancel("c")
        w.attempt("cancelled, messages unacked", lambda: ch.queue_declare(q, passive=True))
        ch.basic_nack(0, multiple=True, requeue=True)
        w.elapse(0.3)
        for _ in range(2):  # m0 comes back a second time: past its limit
            method, properties, body = w.get_eventually(ch, q)
            w.record("get", (method, properties.headers if properties else None, body))
            if method is not None:
                ch.basic_nack(method.delivery_tag, requeue=body != b"m0")
        w.elapse(0.3)
        w.record("dead", w.get_eventually(ch, dead, auto_ack=True))
        full = names.queue("full")
        ch.queue_declare(full, durable=True, arguments={**QUORUM, "x-max-length": 2,
                                                        "x-overflow": "reject-publish"})
        for i in range(4):
            w.attempt(f"publish {i} to a full queue", lambda: ch.basic_publish(
                "", full, f"{i}".encode()))  # noqa: B023
        sac = names.queue("sac")
        ch.queue_declare(sac, durable=True, arguments={**QUORUM,
                                                       "x-single-active-consumer": True})
        w.attempt("get with a single active consumer", lambda: ch.basic_get(sac))
        other = w.channel()
        other.basic_qos(prefetch_count=5, global_qos=True)
        w.attempt("global qos", lambda: other.basic_consume(q, lambda *a: None))

    check(scenario, amqp_url, names)


def test_stream_queue_refusals(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        q = names.queue("stream")
        ch = w.channel()
        ch.queue_declare(q, durable=True, arguments={"x-queue-type": "stream"})
        for i in range(2):
            ch.basic_publish("", q, f"m{i}".encode())
        w.attempt("a stream counts no messages", lambda: ch.queue_declare(q, passive=True))

        def consume(prefetch: int, global_qos: bool = False, **kwargs: Any) -> Action:
            def action(ch: Any) -> Any:
                if prefetch:
                    ch.basic_qos(prefetch_count=prefetch, global_qos=global_qos)
                return ch.basic_consume(q, lambda *a: None, **kwargs)
            return action

        each_on_its_own_channel(w, {
            "get": lambda ch: ch.basic_get(q),
            "purge": lambda ch: ch.queue_purge(q),
            "consume without prefetch": consume(0),
            "consume with global prefetch": consume(10, global_qos=True),
            "consume with auto-ack": consume(10, auto_ack=True),
            "offset without digits": consume(10, arguments={"x-stream-offset": "bogus"}),
            "offset with a bad unit": consume(10, arguments={"x-stream-offset": "5x"}),
            "priority as a string": consume(10, arguments={"x-priority": "1"}),
            "cancel on failover": consume(10, arguments={"x-cancel-on-ha-failover": True}),
        })

    check(scenario, amqp_url, names)


# -- quorum queues -------------------------------------------------------------------------


@pytest.mark.parametrize("leaves_by", ["basic.cancel", "channel.close"])
def test_a_quorum_queue_hands_over_to_the_next_single_active_consumer_at_once(
        amqp_url: str, names: Names, leaves_by: str) -> None:
    # a classic queue waits for its next event; a quorum queue serves the new active
    # consumer when the old one goes, before the messages of a closing channel come back
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        ch.confirm_delivery()
        for queue_type in ("classic", "quorum"):
            q = names.queue(queue_type)
            ch.queue_declare(q, durable=True, arguments={"x-queue-type": queue_type,
                                                         "x-single-active-consumer": True})
            first, second = connection.channel(), connection.channel()
            first.basic_qos(prefetch_count=2)
            second.basic_qos(prefetch_count=4)
            got: list[Any] = []
            for label, channel in (("first", first), ("second", second)):
                channel.basic_consume(q, consumer_tag=label, on_message_callback=(
                    lambda c, m, p, b, label=label, got=got: got.append(
                        (label, b, m.redelivered))))
            for i in range(6):
                ch.basic_publish("", q, f"m{i}".encode())
            w.pump(connection, lambda: len(got) >= 2)  # noqa: B023
            w.settle(connection)
            w.record(f"{queue_type}: before", sorted(got))
            if leaves_by == "basic.cancel":
                first.basic_cancel("first")
            else:
                first.close()
            w.pump(connection, lambda: len(got) >= 6, timeout=1.0)  # noqa: B023
            w.settle(connection)
            w.record(f"{queue_type}: after {leaves_by}", sorted(got))
            w.attempt(f"{queue_type}: counts", lambda: ch.queue_declare(
                q, passive=True))  # noqa: B023

    check(scenario, amqp_url, names)


def test_a_quorum_queue_takes_reject_publish_dlx_for_drop_head(amqp_url: str,
                                                              names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q, dlq = names.queue("q"), names.queue("dlq")
        ch.queue_declare(dlq)
        w.attempt("declare", lambda: ch.queue_declare(q, durable=True, arguments={
            "x-queue-type": "quorum", "x-max-length": 1, "x-overflow": "reject-publish-dlx",
            "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}))
        for i in range(3):
            w.attempt(f"publish {i}", lambda: ch.basic_publish(
                "", q, f"m{i}".encode()))  # noqa: B023
        w.record("queue", w.get_all(ch, q))
        w.elapse(0.3)  # dead-lettering is asynchronous on RabbitMQ
        dead = [w.get_eventually(ch, dlq, auto_ack=True) for _ in range(2)]
        w.record("dead-lettered", [(body, properties.headers["x-death"][0]["reason"])
                                   for method, properties, body in dead if method])

    check(scenario, amqp_url, names)


def test_exclusive_consumers_on_single_active_and_quorum_queues(amqp_url: str,
                                                               names: Names) -> None:
    # a classic queue with a single active consumer refuses every exclusive consumer; a
    # quorum queue ignores the flag, and its declare-ok counts only its active consumer
    def scenario(w: World) -> None:
        for queue_type, single_active in itertools.product(("classic", "quorum"),
                                                           (False, True)):
            label = f"{queue_type}{' single active' if single_active else ''}"
            q = names.queue(label.replace(" ", "-"))
            w.channel().queue_declare(q, durable=True, arguments={
                "x-queue-type": queue_type, "x-single-active-consumer": single_active})
            for i, exclusive in enumerate((True, False, True)):
                ch = w.channel()
                w.attempt(f"{label}: consumer {i}, exclusive={exclusive}",
                          lambda: ch.basic_consume(  # noqa: B023
                              q, lambda *a: None, exclusive=exclusive,  # noqa: B023
                              consumer_tag=f"c{i}"))  # noqa: B023
                w.settle(ch.connection)
                w.record(f"{label}: open", ch.is_open)
                w.attempt(f"{label}: counts", lambda: w.channel().queue_declare(
                    q, passive=True))  # noqa: B023

    check(scenario, amqp_url, names)
