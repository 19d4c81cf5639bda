"""Differential scenarios found by probing more corners: how a channel settles the deliveries
of several consumers at once, what a channel's global prefetch counts, and what a node
restart keeps (auto-delete exchanges bound to transient entities, exclusive queues, quorum
queues). Each once differed between RabbitMQ and the memory facade."""

from __future__ import annotations

from typing import Any

import pika
import pika.exceptions
import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq

# -- settling the deliveries of several consumers ----------------------------------------

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


# -- global prefetch ----------------------------------------------------------------------


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


# -- what a restart keeps -----------------------------------------------------------------

def _passive(w: World, label: str, kind: str, name: str) -> None:
    ch = w.channel()
    declare = ch.exchange_declare if kind == "exchange" else ch.queue_declare
    w.attempt(label, lambda: declare(name, passive=True))


def test_a_restart_forgets_transient_bindings_without_auto_deleting(amqp_url: str,
                                                                   names: Names) -> None:
    # the shutdown closes the connections first, which deletes their exclusive queues and
    # the auto-delete queues that lose their last consumer, as a connection close does: a
    # durable auto-delete exchange left without bindings goes too. The other transient
    # queues, exchanges and bindings are just forgotten: a durable auto-delete exchange that
    # was bound only to them stays, with no bindings, until it loses one again
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        ch.confirm_delivery()
        ad = {label: names.exchange(label) for label in (
            "to-transient-queue", "to-transient-exchange", "to-transient-and-exclusive",
            "to-exclusive", "chain-to-exclusive", "to-consumed", "to-transient-and-durable")}
        for x in ad.values():
            ch.exchange_declare(x, "fanout", durable=True, auto_delete=True)
        transient_q, durable_q, consumed = (names.queue("transient"), names.queue("durable"),
                                            names.queue("consumed"))
        ch.queue_declare(transient_q)
        ch.queue_declare(durable_q, durable=True)
        ch.queue_declare(consumed, durable=True, auto_delete=True)
        exclusive = ch.queue_declare("", exclusive=True).method.queue
        transient_x, transient_ad_x = names.exchange("tx"), names.exchange("tx-ad")
        ch.exchange_declare(transient_x, "fanout")
        ch.exchange_declare(transient_ad_x, "fanout", auto_delete=True)
        ch.queue_bind(transient_q, ad["to-transient-queue"])
        ch.exchange_bind(transient_x, ad["to-transient-exchange"])
        ch.queue_bind(transient_q, ad["to-transient-and-exclusive"])
        ch.queue_bind(exclusive, ad["to-transient-and-exclusive"])
        ch.queue_bind(exclusive, ad["to-exclusive"])
        ch.exchange_bind(transient_ad_x, ad["chain-to-exclusive"])
        ch.queue_bind(exclusive, transient_ad_x)
        ch.queue_bind(consumed, ad["to-consumed"])
        ch.queue_bind(transient_q, ad["to-transient-and-durable"])
        ch.queue_bind(durable_q, ad["to-transient-and-durable"])
        ch.basic_consume(consumed, lambda *a: None)

        w.restart()

        for label, x in ad.items():
            _passive(w, label, "exchange", x)
        for label, q in (("durable queue", durable_q), ("consumed queue", consumed)):
            _passive(w, label, "queue", q)
        ch = w.channel()
        for label in ("to-transient-queue", "to-transient-and-durable"):
            w.attempt(f"publish to {label}", lambda: ch.basic_publish(
                ad[label], "", label.encode(), mandatory=True))  # noqa: B023
        w.record("durable queue", w.get_all(ch, durable_q))
        for verb, label in (("bind", "to-transient-queue"), ("unbind", "to-transient-queue"),
                            ("unbind", "to-transient-and-durable")):
            ch = ch if ch.is_open else w.channel()
            call = ch.queue_bind if verb == "bind" else ch.queue_unbind
            w.attempt(f"{verb} {label}", lambda: call(durable_q, ad[label]))  # noqa: B023
        for label in ("to-transient-queue", "to-transient-exchange",
                      "to-transient-and-durable"):
            _passive(w, f"{label}, after an unbind", "exchange", ad[label])

    check(scenario, amqp_url, names)


def test_a_quorum_queue_keeps_its_transient_messages_over_a_restart(amqp_url: str,
                                                                   names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        quorum, classic = names.queue("quorum"), names.queue("classic")
        ch.queue_declare(quorum, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_declare(classic, durable=True)
        for q in (quorum, classic):
            for i in range(4):
                ch.basic_publish("", q, f"m{i}".encode(),
                                 pika.BasicProperties(delivery_mode=2 if i % 2 else 1))
        holder = w.channel()
        for q in (quorum, classic):
            holder.basic_get(q)  # unacked at the restart
            returned = holder.basic_get(q)[0]
            holder.basic_nack(returned.delivery_tag, requeue=True)

        w.restart()

        ch = w.channel()
        for q in (quorum, classic):
            w.attempt(q, lambda: ch.queue_declare(q, passive=True))  # noqa: B023
            left = []
            while True:
                method, properties, body = ch.basic_get(q, auto_ack=True)
                if method is None:
                    break
                left.append((body, method.redelivered, method.message_count, properties))
            w.record(f"{q} left", left)

    check(scenario, amqp_url, names)
