"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Declarations: queue arguments and their validation, redeclare equivalence, exchange
declare and delete edges, predeclared exchanges, names, exclusive and auto-delete queues."""

from __future__ import annotations

import decimal
from typing import Any

import pika
import pytest

from tests.contrib.pika_scenarios import World, check, declare, each_on_its_own_channel
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- exclusive and auto-delete queues ------------------------------------------------------


def test_exclusive_and_auto_delete_queues(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q, auto = names.queue("excl"), names.queue("auto")
        ch.queue_declare(q, exclusive=True)
        other = w.channel()
        w.attempt("other declare", lambda: other.queue_declare(q, exclusive=True))
        other = w.channel()
        w.attempt("other get", lambda: other.basic_get(q))
        w.attempt("server named", lambda: ch.queue_declare("", exclusive=True))
        ch.queue_declare(auto, auto_delete=True)
        tag = ch.basic_consume(auto, lambda *a: None)
        w.attempt("still there", lambda: ch.queue_declare(auto, passive=True))
        ch.basic_cancel(tag)
        w.attempt("gone", lambda: ch.queue_declare(auto, passive=True))
        w.connections[0].close()
        w.attempt("exclusive gone", lambda: w.channel().queue_declare(q, passive=True))

    check(scenario, amqp_url, names)


# -- queue.declare arguments ---------------------------------------------------------------


def test_queue_argument_validation(amqp_url: str, names: Names) -> None:
    arguments: dict[str, dict[str, Any]] = {
        "ttl str": {"x-message-ttl": "1000"},
        "ttl bool": {"x-message-ttl": True},
        "ttl zero": {"x-message-ttl": 0},
        "ttl ten years": {"x-message-ttl": 315360000000},
        "ttl over ten years": {"x-message-ttl": 2**40},
        "ttl decimal": {"x-message-ttl": decimal.Decimal("1.5")},
        "ttl void": {"x-message-ttl": None},
        "expires 0": {"x-expires": 0},
        "expires -1": {"x-expires": -1},
        "expires too large": {"x-expires": 2**40},
        "max-length -1": {"x-max-length": -1},
        "max-length 0": {"x-max-length": 0},
        "max-length-bytes str": {"x-max-length-bytes": "x"},
        "overflow int": {"x-overflow": 1},
        "overflow bytes": {"x-overflow": b"drop-head"},
        "overflow upper case": {"x-overflow": "DROP-HEAD"},
        "dlx int": {"x-dead-letter-exchange": 1},
        "dlx bytes": {"x-dead-letter-exchange": b"abc"},
        "dlx missing exchange": {"x-dead-letter-exchange": "does-not-exist"},
        "dlrk without dlx": {"x-dead-letter-routing-key": "k"},
        "dlrk int": {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": 5},
        "priority 255": {"x-max-priority": 255},
        "priority 256": {"x-max-priority": 256},
        "priority huge": {"x-max-priority": 2**62},
        "mode int": {"x-queue-mode": 1},
        "mode bytes": {"x-queue-mode": b"lazy"},
        "mode unknown": {"x-queue-mode": "bad"},
        "mode non-ascii": {"x-queue-mode": "é"},
        "type int": {"x-queue-type": 1},
        "type unknown": {"x-queue-type": "bad"},
        "single active int": {"x-single-active-consumer": 1},
        "single active str": {"x-single-active-consumer": "true"},
        "version 2": {"x-queue-version": 2},
        "version 3": {"x-queue-version": 3},
        "version str": {"x-queue-version": "1"},
        "version -1": {"x-queue-version": -1},
        "master locator ok": {"x-queue-master-locator": "min-masters"},
        "master locator unknown": {"x-queue-master-locator": "bad"},
        "master locator int": {"x-queue-master-locator": 5},
        "unknown x-arg": {"x-foo": "bar"},
        "quorum-only arg": {"x-delivery-limit": 5},
        "stream-only arg": {"x-max-age": "1D"},
        "two foreign args": {"x-delivery-limit": 1, "x-max-age": "1D"},
        "foreign arg and bad ttl": {"x-delivery-limit": 1, "x-message-ttl": "a"},
        "bad expires before bad ttl": {"x-message-ttl": "a", "x-expires": "b"},
        "bad type before bad ttl": {"x-message-ttl": "a", "x-queue-type": "bad"},
        "bad dlx before bad ttl": {"x-message-ttl": "a", "x-dead-letter-exchange": 5},
        "long reason": {"x-queue-mode": "z" * 300},
    }

    def scenario(w: World) -> None:
        each_on_its_own_channel(w, {
            label: declare(names, f"a{i}", arguments=value)
            for i, (label, value) in enumerate(arguments.items())})

    check(scenario, amqp_url, names)


def test_queue_redeclare_equivalence(amqp_url: str, names: Names) -> None:
    cases: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("classic type vs none", {}, {"arguments": {"x-queue-type": "classic"}}),
        ("none vs classic type", {"arguments": {"x-queue-type": "classic"}}, {}),
        ("ttl differs", {"arguments": {"x-message-ttl": 1000}},
         {"arguments": {"x-message-ttl": 2000}}),
        ("ttl dropped", {"arguments": {"x-message-ttl": 1000}}, {}),
        ("invalid ttl on redeclare", {}, {"arguments": {"x-message-ttl": "abc"}}),
        ("number vs string", {"arguments": {"x-max-length": 5}},
         {"arguments": {"x-max-length": "5"}}),
        ("unknown args differ", {"arguments": {"x-foo": 1}}, {"arguments": {"x-foo": 2}}),
        ("str vs bytes", {"arguments": {"x-dead-letter-exchange": "abc"}},
         {"arguments": {"x-dead-letter-exchange": b"abc"}}),
        ("bool vs int", {"arguments": {"x-max-priority": 1}},
         {"arguments": {"x-max-priority": True}}),
        ("decimal vs int", {"arguments": {"x-max-priority": 1}},
         {"arguments": {"x-max-priority": decimal.Decimal(1)}}),
        ("checked in order", {"arguments": {"x-message-ttl": 5, "x-max-length": 5}},
         {"arguments": {"x-max-length": 6, "x-message-ttl": 6}}),
        ("expires before ttl", {"arguments": {"x-message-ttl": 5, "x-expires": 100000}},
         {"arguments": {"x-message-ttl": 6, "x-expires": 200000}}),
        ("master locator", {"arguments": {"x-queue-master-locator": "min-masters"}},
         {"arguments": {"x-queue-master-locator": "random"}}),
        ("exclusive durable", {"exclusive": True, "durable": True},
         {"exclusive": True, "durable": False}),
        ("exclusive vs not", {"exclusive": True}, {}),
        ("not vs exclusive", {}, {"exclusive": True}),
        ("durable before arguments", {"durable": True},
         {"arguments": {"x-message-ttl": 5}}),
    ]

    def scenario(w: World) -> None:
        for i, (label, first, second) in enumerate(cases):
            q = names.queue(f"r{i}")
            ch = w.channel(confirm=False)
            w.attempt(label + " first", lambda: ch.queue_declare(q, **first))  # noqa: B023
            w.attempt(label, lambda: ch.queue_declare(q, **second))  # noqa: B023
            w.record(label + " open", (ch.is_open, ch.connection.is_open))

    check(scenario, amqp_url, names)


# -- exchanges and names -------------------------------------------------------------------


def test_exchange_declare_and_delete_edges(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        x = names.exchange("x")
        w.channel().exchange_declare(x, "direct")
        each_on_its_own_channel(w, {
            "default exchange, unknown type": lambda ch: ch.exchange_declare("", "foo"),
            "default exchange, passive": lambda ch: ch.exchange_declare("", passive=True),
            "type that is a word": lambda ch: ch.exchange_declare(names.exchange("t1"), "bar"),
            "type that is no word": lambda ch: ch.exchange_declare(names.exchange("t2"),
                                                                   "zzqx-nope"),
            "type in capitals": lambda ch: ch.exchange_declare(names.exchange("t3"), "Fanout"),
            "empty type": lambda ch: ch.exchange_declare(names.exchange("t4"), ""),
            "plugin type": lambda ch: ch.exchange_declare(names.exchange("t5"),
                                                          "x-delayed-message"),
            "unknown type, existing exchange": lambda ch: ch.exchange_declare(x, "nope-type"),
            "passive ignores type": lambda ch: ch.exchange_declare(x, "fanout", passive=True),
            "amq.direct as declared": lambda ch: ch.exchange_declare("amq.direct", "direct",
                                                                     durable=True),
            "amq.direct not durable": lambda ch: ch.exchange_declare("amq.direct", "direct"),
            "new amq. exchange": lambda ch: ch.exchange_declare("amq.zzq", "direct"),
            "delete missing amq. exchange": lambda ch: ch.exchange_delete("amq.zzq"),
            "delete default": lambda ch: ch.exchange_delete(""),
            "alternate int, new": lambda ch: ch.exchange_declare(
                names.exchange("ae1"), "direct", arguments={"alternate-exchange": 5}),
            "alternate bytes, new": lambda ch: ch.exchange_declare(
                names.exchange("ae2"), "direct", arguments={"alternate-exchange": b"abc"}),
            "alternate int, existing": lambda ch: ch.exchange_declare(
                x, "direct", arguments={"alternate-exchange": 5}),
            "other argument, existing": lambda ch: ch.exchange_declare(
                x, "direct", arguments={"foo": "abc"}),
            "type and durable differ": lambda ch: ch.exchange_declare(x, "fanout",
                                                                      durable=True),
        })

    check(scenario, amqp_url, names)


def test_the_trace_exchange_exists_and_is_internal(amqp_url: str, names: Names) -> None:
    # RabbitMQ 3.10 predeclares amq.rabbitmq.trace in every vhost: a durable internal topic
    # exchange that the firehose tracer publishes to and clients may only bind to
    trace = "amq.rabbitmq.trace"

    def scenario(w: World) -> None:
        q = names.queue("traced")
        each_on_its_own_channel(w, {
            "passive": lambda ch: ch.exchange_declare(trace, passive=True),
            "as declared": lambda ch: ch.exchange_declare(trace, "topic", durable=True,
                                                          internal=True),
            "not internal": lambda ch: ch.exchange_declare(trace, "topic", durable=True),
            "other type": lambda ch: ch.exchange_declare(trace, "direct", durable=True,
                                                         internal=True),
            "publish": lambda ch: (ch.confirm_delivery(), ch.basic_publish(trace, "k", b"m")),
            "bind a queue": lambda ch: (ch.queue_declare(q), ch.queue_bind(q, trace, "#"))[1],
            "bind it to another exchange": lambda ch: ch.exchange_bind(
                "amq.topic", trace, "#"),
            "delete": lambda ch: ch.exchange_delete(trace),
        })

    check(scenario, amqp_url, names)


def test_names_lose_cr_and_lf(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        x, q = names.exchange("x"), names.queue("q")
        each_on_its_own_channel(w, {
            "declare exchange": lambda ch: ch.exchange_declare(x + "\r\n", "fanout"),
            "passive exchange": lambda ch: ch.exchange_declare(x + "\n", passive=True),
            "declare queue": lambda ch: ch.queue_declare(q),
            "bind": lambda ch: ch.queue_bind(q + "\n", x + "\r"),
            "publish keeps them": lambda ch: ch.basic_publish(x + "\n", "", b"x"),
            "get keeps them": lambda ch: ch.basic_get(q + "\n"),
            "purge keeps them": lambda ch: ch.queue_purge(q + "\n"),
        })
        ch = w.channel()
        ch.basic_publish(x, "", b"routed")
        w.record("routed", w.get_all(ch, q))
        w.attempt("unbind", lambda: ch.queue_unbind(q + "\r", x + "\n"))
        ch.basic_publish(x, "", b"not routed")
        w.record("after unbind", w.get_all(ch, q))
        w.attempt("delete exchange", lambda: ch.exchange_delete("\n" + x))
        w.attempt("gone", lambda: w.channel().exchange_declare(x, passive=True))

    check(scenario, amqp_url, names)


def test_empty_queue_name_is_the_last_declared_queue(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        each_on_its_own_channel(w, {
            "consume": lambda ch: ch.basic_consume("", lambda *a: None),
            "get": lambda ch: ch.basic_get(""),
            "purge": lambda ch: ch.queue_purge(""),
            "delete": lambda ch: ch.queue_delete(""),
            "bind": lambda ch: ch.queue_bind("", "amq.direct", "k"),
            "unbind": lambda ch: ch.queue_unbind("", "amq.direct", "k"),
        })
        q, other = names.queue("q"), names.queue("other")
        ch = w.channel()
        ch.queue_declare(other)
        ch.queue_declare(q)
        ch.basic_publish("", q, b"m1")
        w.attempt("get", lambda: ch.basic_get("", auto_ack=True))
        w.attempt("bind, key defaults to the queue name", lambda: ch.queue_bind("", "amq.direct"))
        ch.basic_publish("amq.direct", q, b"m2")
        w.attempt("purge", lambda: ch.queue_purge(""))
        w.attempt("passive is not expanded", lambda: ch.queue_declare("", passive=True))
        ch = w.channel()
        ch.queue_declare(other, passive=True)
        w.attempt("a passive declare counts", lambda: ch.queue_delete(""))
        w.attempt("deleted", lambda: w.channel().queue_declare(other, passive=True))

    check(scenario, amqp_url, names)


def test_declaring_the_direct_reply_to_queue(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        each_on_its_own_channel(w, {
            "declare": lambda ch: ch.queue_declare("amq.rabbitmq.reply-to"),
            "passive": lambda ch: ch.queue_declare("amq.rabbitmq.reply-to", passive=True),
            "get": lambda ch: ch.basic_get("amq.rabbitmq.reply-to"),
            "declare a made-up reply queue": lambda ch: ch.queue_declare(
                "amq.rabbitmq.reply-to.abc", passive=True),
        })
        client, server = w.channel(), w.channel()
        client.basic_consume("amq.rabbitmq.reply-to", lambda *a: None, auto_ack=True)
        q = names.queue("rpc")
        server.queue_declare(q)
        client.basic_publish("", q, b"ping", pika.BasicProperties(
            reply_to="amq.rabbitmq.reply-to"))
        _, properties, _ = server.basic_get(q, auto_ack=True)
        w.attempt("the client's reply queue", lambda: server.queue_declare(
            properties.reply_to, passive=True))
        client.close()
        w.attempt("after its channel closed", lambda: server.queue_declare(
            properties.reply_to, passive=True))

    check(scenario, amqp_url, names)
