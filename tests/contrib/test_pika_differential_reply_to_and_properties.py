"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Direct reply-to (amq.rabbitmq.reply-to) and message properties round trips."""

from __future__ import annotations

import decimal
from typing import Any

import pika
import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- direct reply-to, properties -----------------------------------------------------------


def test_direct_reply_to(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        client = connection.channel()
        server = w.channel()
        q = names.queue("rpc")
        server.queue_declare(q)
        replies: list[Any] = []
        client.basic_consume("amq.rabbitmq.reply-to",
                             lambda c, m, p, b: replies.append((m.routing_key, p, b)),
                             auto_ack=True)
        client.basic_publish("", q, b"ping", pika.BasicProperties(
            reply_to="amq.rabbitmq.reply-to", correlation_id="c1"))
        _method, properties, body = w.get_eventually(server, q, auto_ack=True)  # not confirmed
        w.record("request", (body, properties))
        server.basic_publish("", properties.reply_to, b"pong", pika.BasicProperties(
            correlation_id=properties.correlation_id))
        w.pump(connection, lambda: bool(replies))
        w.record("replies", replies)
        w.attempt("no consumer", lambda: server.basic_publish("", q, b"x", pika.BasicProperties(
            reply_to="amq.rabbitmq.reply-to")))

    check(scenario, amqp_url, names)


def test_properties_round_trip(amqp_url: str, names: Names) -> None:
    import datetime

    properties = pika.BasicProperties(
        content_type="application/json", content_encoding="utf-8",
        headers={"s": "text", "i": 7, "big": 2**40, "neg": -3, "t": True,
                 "n": None, "nested": {"list": [1, "two", {"deep": b"bytes"}]},
                 "d": decimal.Decimal("1.25"),
                 "when": datetime.datetime(2024, 1, 2, 3, 4, 5)},
        delivery_mode=2, priority=3, correlation_id="corr", reply_to="reply",
        expiration="60000", message_id="mid", timestamp=1700000000, type="kind",
        user_id="guest", app_id="app", cluster_id="cluster")

    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        ch.basic_publish("", q, b"body", properties)
        method, got, body = ch.basic_get(q, auto_ack=True)
        w.record("got", (method, vars(got), body))
        w.attempt("wrong user", lambda: ch.basic_publish("", q, b"x", pika.BasicProperties(
            user_id="mallory")))

    check(scenario, amqp_url, names)


# -- direct reply-to -----------------------------------------------------------------------


def test_direct_reply_to_tags_and_mandatory_replies(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        client, server = connection.channel(), w.channel()
        q = names.queue("rpc")
        server.queue_declare(q)
        replies: list[Any] = []
        tag = client.basic_consume(
            "amq.rabbitmq.reply-to", auto_ack=True, on_message_callback=lambda c, m, p, b:
            replies.append((m.routing_key, m.exchange, m.redelivered, m.delivery_tag,
                            p.reply_to, b)))
        client.basic_publish("", q, b"ping", pika.BasicProperties(
            reply_to="amq.rabbitmq.reply-to"))
        _, properties, _ = w.get_eventually(server, q, auto_ack=True)
        token = properties.reply_to
        w.attempt("through amq.direct", lambda: server.basic_publish(
            "amq.direct", token, b"via amq.direct", mandatory=True))
        w.attempt("mandatory reply", lambda: server.basic_publish(
            "", token, b"pong", mandatory=True))
        w.attempt("reply", lambda: server.basic_publish("", token, b"pong again"))
        w.pump(connection, lambda: len(replies) >= 2)
        w.settle(connection)
        w.record("replies (one delivery tag for both)", replies)
        client.basic_cancel(tag)
        w.attempt("reply after cancel", lambda: server.basic_publish(
            "", token, b"late", mandatory=True))

    check(scenario, amqp_url, names)
