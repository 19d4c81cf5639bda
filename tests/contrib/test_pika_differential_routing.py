"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Routing: direct, fanout, topic and headers exchanges, exchange-to-exchange bindings and
alternate exchanges, bindings to missing ends."""

from __future__ import annotations

import pika
import pytest

from tests.contrib.pika_scenarios import World, check, each_on_its_own_channel
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- routing -------------------------------------------------------------------------------


def test_direct_and_fanout_routing(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        direct, fanout = names.exchange("direct"), names.exchange("fanout")
        q1, q2 = names.queue("q1"), names.queue("q2")
        w.attempt("declare direct", lambda: ch.exchange_declare(direct, "direct"))
        w.attempt("declare fanout", lambda: ch.exchange_declare(fanout, "fanout"))
        w.attempt("q1", lambda: ch.queue_declare(q1))
        w.attempt("q2", lambda: ch.queue_declare(q2))
        ch.queue_bind(q1, direct, "red")
        ch.queue_bind(q2, direct, "blue")
        ch.queue_bind(q2, direct, "red")
        ch.queue_bind(q1, fanout, "ignored")
        ch.queue_bind(q2, fanout)
        for key in ("red", "blue", "green"):
            ch.basic_publish(direct, key, key.encode())
        ch.basic_publish(fanout, "whatever", b"fan")
        ch.basic_publish("", q1, b"default")
        w.attempt("redeclare counts", lambda: ch.queue_declare(q1, passive=True))
        w.record("q1", w.get_all(ch, q1))
        w.record("q2", w.get_all(ch, q2))

    check(scenario, amqp_url, names)


def test_topic_routing(amqp_url: str, names: Names) -> None:
    patterns = ["a.#", "#.b", "*.b", "a.*.c", "#", "a.#.c", "", "*", "a..b", "#.#"]
    keys = ["a", "a.b", "b", "x.b", "a.x.c", "a.x.y.c", "", "a..b", "a.b.c.b"]

    def scenario(w: World) -> None:
        ch = w.channel()
        x = names.exchange("topic")
        ch.exchange_declare(x, "topic")
        queues = []
        for i, pattern in enumerate(patterns):
            q = names.queue(f"p{i}")
            ch.queue_declare(q)
            ch.queue_bind(q, x, pattern)
            queues.append(q)
        for key in keys:
            ch.basic_publish(x, key, key.encode() or b"<empty>")
        for pattern, q in zip(patterns, queues, strict=False):
            w.record(pattern, [body for body, _, _ in w.get_all(ch, q)])

    check(scenario, amqp_url, names)


def test_headers_routing(amqp_url: str, names: Names) -> None:
    bindings = [
        {"x-match": "all", "a": 1, "b": "two"},
        {"x-match": "any", "a": 1, "c": True},
        {"x-match": "all"},
        {"x-match": "any", "x-custom": "v"},
        {"x-match": "all-with-x", "x-custom": "v"},
        {"a": 1},
    ]
    messages = [
        {"a": 1, "b": "two"}, {"a": 1}, {"c": True}, {"b": "two"}, None, {"x-custom": "v"},
        {"a": 2, "b": "two", "c": True},
    ]

    def scenario(w: World) -> None:
        ch = w.channel()
        x = names.exchange("headers")
        ch.exchange_declare(x, "headers")
        queues = []
        for i, arguments in enumerate(bindings):
            q = names.queue(f"h{i}")
            ch.queue_declare(q)
            ch.queue_bind(q, x, "", arguments=arguments)
            queues.append(q)
        for i, headers in enumerate(messages):
            ch.basic_publish(x, "", f"m{i}".encode(), pika.BasicProperties(headers=headers))
        for i, q in enumerate(queues):
            w.record(f"binding {i}", [body for body, _, _ in w.get_all(ch, q)])

    check(scenario, amqp_url, names)


def test_exchange_to_exchange_and_alternate_exchange(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        top, mid, alt = names.exchange("top"), names.exchange("mid"), names.exchange("alt")
        qa, qb = names.queue("a"), names.queue("unrouted")
        ch.exchange_declare(alt, "fanout")
        ch.exchange_declare(top, "topic", arguments={"alternate-exchange": alt})
        ch.exchange_declare(mid, "direct")
        w.attempt("e2e bind", lambda: ch.exchange_bind(mid, top, "k.#"))
        ch.queue_declare(qa)
        ch.queue_declare(qb)
        ch.queue_bind(qa, mid, "k.1")
        ch.queue_bind(qa, top, "k.*")  # a second path: still one copy
        ch.queue_bind(qb, alt)
        for key in ("k.1", "k.2", "zzz"):
            ch.basic_publish(top, key, key.encode())
        w.record("a", w.get_all(ch, qa))
        w.record("alt", w.get_all(ch, qb))
        w.attempt("unbind", lambda: ch.exchange_unbind(mid, top, "k.#"))
        ch.basic_publish(top, "k.1", b"after unbind")
        w.record("a after", w.get_all(ch, qa))

    check(scenario, amqp_url, names)


# -- exchange graphs -----------------------------------------------------------------------


def test_exchange_bindings_diamond_and_cycle(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        top, left, right = names.exchange("top"), names.exchange("l"), names.exchange("r")
        q = names.queue()
        for x in (top, left, right):
            ch.exchange_declare(x, "fanout")
        ch.exchange_bind(left, top)
        ch.exchange_bind(right, top)
        ch.exchange_bind(top, right)  # a cycle
        ch.queue_declare(q)
        ch.queue_bind(q, left)
        ch.queue_bind(q, right)
        ch.basic_publish(top, "", b"once")
        w.record("copies", w.get_all(ch, q))
        w.attempt("delete if_unused", lambda: ch.exchange_delete(left, if_unused=True))

    check(scenario, amqp_url, names)


# -- bindings ------------------------------------------------------------------------------


def test_bindings_missing_ends_and_exclusive_queues(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        x, q, excl = names.exchange("x"), names.queue("q"), names.queue("excl")
        owner = w.channel()
        owner.exchange_declare(x, "direct")
        owner.queue_declare(q)
        owner.queue_declare(excl, exclusive=True)
        owner.queue_bind(excl, x, "bound")
        each_on_its_own_channel(w, {
            "both ends missing": lambda ch: ch.queue_bind(names.queue("nq"),
                                                          names.exchange("nx"), "k"),
            "exchange bind, both missing": lambda ch: ch.exchange_bind(
                names.exchange("nd"), names.exchange("ns"), "k"),
            "exchange bind, destination missing": lambda ch: ch.exchange_bind(
                names.exchange("nd2"), x, "k"),
            "unbind missing queue": lambda ch: ch.queue_unbind(names.queue("nq2"), x, "k"),
            "unbind missing exchange": lambda ch: ch.queue_unbind(q, names.exchange("nx2")),
            "unbind missing binding": lambda ch: ch.queue_unbind(q, x, "nothere"),
            "unbind from default": lambda ch: ch.queue_unbind(q, "", q),
            "exchange unbind, missing": lambda ch: ch.exchange_unbind(
                names.exchange("nd3"), names.exchange("ns3"), "k"),
            "bind another's exclusive queue": lambda ch: ch.queue_bind(excl, x, "k"),
            "bind it with a bad x-match": lambda ch: ch.queue_bind(
                excl, "amq.headers", arguments={"x-match": "bad"}),
            "unbind it, no such binding": lambda ch: ch.queue_unbind(excl, x, "k"),
            "unbind it, bound": lambda ch: ch.queue_unbind(excl, x, "bound"),
        })

    check(scenario, amqp_url, names)
