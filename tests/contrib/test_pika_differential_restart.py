"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
What a node restart keeps: transient and durable entities, bindings, exclusive queues,
quorum queues' messages."""

from __future__ import annotations

import pika
import pika.exceptions
import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- what a restart keeps ------------------------------------------------------------------


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
