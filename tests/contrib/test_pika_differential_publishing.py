"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Publishing: mandatory returns, confirms, and the checks basic.publish makes (properties,
in RabbitMQ's order, CC and BCC)."""

from __future__ import annotations

from typing import Any

import pika
import pytest

from tests.contrib.pika_scenarios import Action, World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- publishing: returns, confirms ---------------------------------------------------------


def test_mandatory_return_and_confirms(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        returned: list[Any] = []
        ch.add_on_return_callback(lambda c, m, p, b: returned.append((m, p, b)))
        ch.basic_publish("amq.direct", "nowhere", b"lost", pika.BasicProperties(
            message_id="m1"), mandatory=True)
        w.pump(connection, lambda: bool(returned))
        w.record("returned", returned)
        confirm = connection.channel()
        confirm.confirm_delivery()
        w.attempt("unroutable", lambda: confirm.basic_publish(
            "amq.direct", "nowhere", b"x", mandatory=True))
        w.attempt("not mandatory", lambda: confirm.basic_publish("amq.direct", "nowhere", b"y"))
        q = names.queue("full")
        confirm.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
        w.attempt("fits", lambda: confirm.basic_publish("", q, b"1"))
        w.attempt("nacked", lambda: confirm.basic_publish("", q, b"2"))
        w.record("kept", w.get_all(confirm, q))

    check(scenario, amqp_url, names)


# -- basic.publish checks ------------------------------------------------------------------


def test_publish_property_checks(amqp_url: str, names: Names) -> None:
    expirations = ["0", "abc", "-1", "315360000000", "315360000001", "99999999999999999999",
                   "10abc", " 10", "10 ", "+10", "", "1e3", "1.5", "0010", "-0", "1_000"]
    headers: dict[str, Any] = {
        "CC string": {"CC": "somewhere"}, "CC bytes": {"CC": [b"somewhere"]},
        "BCC string": {"BCC": "somewhere"}, "CC void": {"CC": None}, "CC table": {"CC": {}},
    }

    def scenario(w: World) -> None:
        q = names.queue("q")
        w.channel().queue_declare(q)
        attempts: dict[str, Action] = {}
        for expiration in expirations:
            attempts[f"expiration {expiration!r}"] = lambda ch, e=expiration: ch.basic_publish(
                "", q, e.encode() or b"empty", pika.BasicProperties(expiration=e))
        for mode in (0, 1, 2, 3, 255):
            attempts[f"delivery mode {mode}"] = lambda ch, m=mode: ch.basic_publish(
                "", q, b"mode", pika.BasicProperties(delivery_mode=m))
        for label, value in headers.items():
            attempts[label] = lambda ch, h=value: ch.basic_publish(
                "", q, b"cc", pika.BasicProperties(headers=h))
        for label, action in attempts.items():
            ch = w.channel()
            w.attempt(label, lambda: action(ch))  # noqa: B023
            w.record(label + " open", ch.is_open)
        w.elapse(0.1)
        w.record("left", w.get_all(w.channel(), q))

    check(scenario, amqp_url, names)


def test_publish_checks_in_rabbitmqs_order(amqp_url: str, names: Names) -> None:
    def props(**kwargs: Any) -> Any:
        return pika.BasicProperties(**kwargs)

    cases = {
        "reply-to before user_id": props(reply_to="amq.rabbitmq.reply-to", user_id="mallory"),
        "user_id before expiration": props(user_id="mallory", expiration="abc"),
        "expiration before delivery mode": props(expiration="abc", delivery_mode=5),
        "CC before delivery mode": props(delivery_mode=5, headers={"CC": "x"}),
        "CC before BCC": props(headers={"BCC": "y", "CC": "x"}),
    }

    def scenario(w: World) -> None:
        q = names.queue()
        w.channel().queue_declare(q)
        for label, properties in cases.items():
            ch = w.channel()
            w.attempt(label, lambda: ch.basic_publish("", q, b"x", properties))  # noqa: B023

    check(scenario, amqp_url, names)


def test_cc_and_bcc_route_only_their_strings(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        a, b = names.queue("a"), names.queue("b")
        ch = w.channel()
        ch.queue_declare(a)
        ch.queue_declare(b)
        for label, headers in [("bytes", {"CC": [b.encode()]}), ("int", {"CC": [1, b]}),
                               ("nested", {"CC": [[b]]}), ("twice", {"CC": [a, a, b]}),
                               ("BCC", {"BCC": [b], "x": 1}), ("lower case", {"cc": [b]})]:
            ch.basic_publish("", a, label.encode(), pika.BasicProperties(headers=headers))
        for q in (a, b):
            got = []
            while True:
                method, properties, body = ch.basic_get(q, auto_ack=True)
                if method is None:
                    break
                got.append((body, properties.headers))
            w.record(q, got)

    check(scenario, amqp_url, names)
