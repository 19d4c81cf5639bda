"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Channel and connection errors (codes, texts, when they surface), client-side validation,
connection refusals and closes."""

from __future__ import annotations

from typing import Any

import pika
import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- errors --------------------------------------------------------------------------------


def test_channel_errors_codes_and_texts(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        q, x = names.queue(), names.exchange()
        base = w.channel()
        base.queue_declare(q, durable=False)
        base.exchange_declare(x, "direct")
        attempts = {
            "passive missing queue": lambda ch: ch.queue_declare(names.queue("nope"),
                                                                 passive=True),
            "passive missing exchange": lambda ch: ch.exchange_declare(
                names.exchange("nope"), passive=True),
            "inequivalent durable": lambda ch: ch.queue_declare(q, durable=True),
            "inequivalent type": lambda ch: ch.exchange_declare(x, "fanout"),
            "reserved queue": lambda ch: ch.queue_declare("amq.mine"),
            "reserved exchange": lambda ch: ch.exchange_declare("amq.mine", "direct"),
            "delete amq.direct": lambda ch: ch.exchange_delete("amq.direct"),
            "bind default": lambda ch: ch.queue_bind(q, ""),
            "bind missing exchange": lambda ch: ch.queue_bind(q, names.exchange("none")),
            "bind missing queue": lambda ch: ch.queue_bind(names.queue("none"), x),
            "get missing": lambda ch: ch.basic_get(names.queue("none")),
            "consume missing": lambda ch: ch.basic_consume(names.queue("none"), print),
            "bad ttl": lambda ch: ch.queue_declare(names.queue("bad"),
                                                   arguments={"x-message-ttl": "abc"}),
            "negative ttl": lambda ch: ch.queue_declare(names.queue("bad2"),
                                                        arguments={"x-message-ttl": -1}),
            "bad overflow": lambda ch: ch.queue_declare(names.queue("bad3"),
                                                        arguments={"x-overflow": "nope"}),
            "purge missing": lambda ch: ch.queue_purge(names.queue("none")),
            "delete missing queue": lambda ch: ch.queue_delete(names.queue("none")),
            "delete missing exchange": lambda ch: ch.exchange_delete(names.exchange("none")),
            "unknown exchange type": lambda ch: ch.exchange_declare(names.exchange("t"), "foo"),
            "recover requeue false": lambda ch: ch.basic_recover(requeue=False),
        }
        for label, action in attempts.items():
            ch = w.channel(confirm=False)
            w.attempt(label, lambda: action(ch))  # noqa: B023
            w.record(label + " open", (ch.is_open, ch.connection.is_open))
            w.attempt(label + " then", lambda: ch.queue_declare(q, passive=True))  # noqa: B023

    check(scenario, amqp_url, names)


def _publish_internal(w: World, names: Names) -> Any:
    ch = w.channel()
    x = names.exchange("internal")
    ch.exchange_declare(x, "fanout", internal=True)
    return ch.basic_publish(x, "", b"x")


def test_async_errors_surface_on_next_call(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        q = names.queue()
        connection = w.connect()
        ch = connection.channel()
        ch.queue_declare(q)
        w.attempt("publish missing exchange", lambda: ch.basic_publish("nope-x", "k", b"x"))
        w.record("open after publish", ch.is_open)
        w.attempt("next sync call", lambda: ch.queue_declare(q))
        w.attempt("after", lambda: ch.basic_publish("", q, b"x"))
        ch = connection.channel()
        w.attempt("unknown tag", lambda: ch.basic_ack(42))
        w.attempt("next", lambda: ch.basic_get(q))
        ch = connection.channel()
        ch.basic_publish("", q, b"one")
        method, _, _ = ch.basic_get(q)
        ch.basic_ack(method.delivery_tag)
        ch.basic_ack(method.delivery_tag)
        w.attempt("double ack", lambda: ch.queue_declare(q, passive=True))
        ch = connection.channel()
        ch.basic_publish("nope-x", "k", b"x")
        w.attempt("close after failed publish", lambda: ch.close())
        ch = connection.channel()
        ch.basic_publish("", q, b"two")
        ch.basic_consume(q, lambda c, m, p, b: c.basic_ack(m.delivery_tag + 100))
        w.attempt("start_consuming", lambda: ch.start_consuming())
        w.attempt("internal", lambda: _publish_internal(w, names))

    check(scenario, amqp_url, names)


def test_queue_counts_purge_delete(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        w.attempt("declare", lambda: ch.queue_declare(q))
        for i in range(4):
            ch.basic_publish("", q, f"m{i}".encode())
        w.attempt("counts", lambda: ch.queue_declare(q, passive=True))
        w.attempt("get", lambda: ch.basic_get(q, auto_ack=True))
        w.attempt("purge", lambda: ch.queue_purge(q))
        ch.basic_publish("", q, b"x")
        ch.basic_consume(q, lambda *a: None, consumer_tag="held")
        w.attempt("if_unused", lambda: ch.queue_delete(q, if_unused=True))
        ch = w.channel()
        w.attempt("if_empty", lambda: ch.queue_delete(q, if_empty=True))
        ch = w.channel()
        w.attempt("delete", lambda: ch.queue_delete(q))
        w.attempt("empty get", lambda: ch.basic_get(names.queue("fresh")))

    check(scenario, amqp_url, names)


def test_client_side_validation(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel(confirm=False)
        attempts = {
            "exchange int": lambda: ch.basic_publish(1, "k", b"x"),
            "routing key None": lambda: ch.basic_publish("", None, b"x"),
            "body int": lambda: ch.basic_publish("", "k", 5),
            "properties dict": lambda: ch.basic_publish("", "k", b"x", {"a": 1}),
            "priority str": lambda: ch.basic_publish("", "k", b"x",
                                                     pika.BasicProperties(priority="x")),
            "header object": lambda: ch.basic_publish("", "k", b"x", pika.BasicProperties(
                headers={"a": object()})),
            "queue int": lambda: ch.queue_declare(5),
            "queue too long": lambda: ch.queue_declare("a" * 300),
            "bind key int": lambda: ch.queue_bind("q", "amq.direct", 5),
            "prefetch negative": lambda: ch.basic_qos(prefetch_count=-1),
            "prefetch too big": lambda: ch.basic_qos(prefetch_count=70000),
            "ack str": lambda: ch.basic_ack("1"),
            "reject str": lambda: ch.basic_reject("1"),
            "exchange type int": lambda: ch.exchange_declare("x", 5),
            "purge None": lambda: ch.queue_purge(None),
            "delete exchange None": lambda: ch.exchange_delete(None),
            "callback None": lambda: ch.basic_consume("q", None),
        }
        for label, action in attempts.items():
            w.attempt(label, action)
        w.record("still open", (ch.is_open, ch.connection.is_open))
        w.attempt("str body", lambda: ch.basic_publish("", names.queue("none"), "text"))

    check(scenario, amqp_url, names)


def _open(w: World, parameters: Any) -> Any:
    if w.real:
        return pika.BlockingConnection(parameters)
    connection = w.connect()  # the memory world's broker
    connection.close()
    from contrib.pika_compat import BlockingConnection

    return BlockingConnection(parameters, broker=connection.broker)


def test_connection_refusals(amqp_url: str, names: Names) -> None:
    params = pika.URLParameters(amqp_url)

    def scenario(w: World) -> None:
        for label, credentials, vhost in [
            ("bad password", pika.PlainCredentials("guest", "wrong"), "/"),
            ("bad user", pika.PlainCredentials("nobody", "x"), "/"),
            ("bad vhost", pika.PlainCredentials("guest", "guest"), "no-such-vhost"),
        ]:
            p = pika.ConnectionParameters(host=params.host, port=params.port,
                                          virtual_host=vhost, credentials=credentials)
            w.attempt(label, lambda: _open(w, p))  # noqa: B023

    check(scenario, amqp_url, names)


def test_connection_close_requeues_and_exclusive_consumer(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(3):
            ch.basic_publish("", q, f"m{i}".encode())
        holder = w.connect()
        held = holder.channel()
        w.record("get", [held.basic_get(q)[2] for _ in range(2)])
        holder.close()
        w.record("after close", w.get_all(ch, q, ack=False))
        first = w.channel()
        first.basic_consume(q, lambda *a: None, exclusive=True, consumer_tag="only")
        second = w.channel()
        w.attempt("second consumer", lambda: second.basic_consume(q, lambda *a: None))
        third = w.channel()
        w.attempt("exclusive over existing", lambda: third.basic_consume(
            q, lambda *a: None, exclusive=True))

    check(scenario, amqp_url, names)
