"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Message TTL, queue expiry and length limits: what expires when, what a fetch uncovers,
what restarts a queue's expiry, overflow modes and waiting consumers."""

from __future__ import annotations

from typing import Any

import pika
import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- length limits -------------------------------------------------------------------------


def test_max_length_overflow_modes(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel(confirm=False)
        dlx_q = names.queue("dlq")
        ch.queue_declare(dlx_q)
        modes = {"drop-head": {}, "reject-publish": {},
                 "reject-publish-dlx": {"x-dead-letter-exchange": "",
                                        "x-dead-letter-routing-key": dlx_q}}
        for mode, extra in modes.items():
            q = names.queue(mode)
            ch.queue_declare(q, arguments={"x-max-length": 2, "x-overflow": mode, **extra})
            for i in range(4):
                ch.basic_publish("", q, f"{mode}-{i}".encode())
            w.record(mode, [body for body, _, _ in w.get_all(ch, q)])
        b = names.queue("bytes")
        ch.queue_declare(b, arguments={"x-max-length-bytes": 10})
        for _ in range(4):
            ch.basic_publish("", b, b"12345")
        w.record("bytes", w.get_all(ch, b))
        w.elapse(0.2)  # dead-lettering is asynchronous on RabbitMQ
        w.record("dlq", [body for body, _, _ in w.get_all(ch, dlx_q)])

    check(scenario, amqp_url, names)


def test_overflow_refuses_a_publish_before_a_waiting_consumer(amqp_url: str,
                                                             names: Names) -> None:
    # RabbitMQ checks x-max-length(-bytes) before it looks for a consumer: a message that
    # alone is over the limit is refused (reject-publish) or dead-lettered
    # (reject-publish-dlx) though a consumer waits, and delivered under drop-head
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        ch.confirm_delivery()
        dlq = names.queue("dlq")
        ch.queue_declare(dlq)
        got: list[bytes] = []
        for mode in ("drop-head", "reject-publish", "reject-publish-dlx"):
            for limit in ({"x-max-length": 0}, {"x-max-length-bytes": 3}):
                label = f"{mode} {next(iter(limit))}"
                q = names.queue(label.replace(" ", "-"))
                ch.queue_declare(q, arguments={**limit, "x-overflow": mode,
                                               "x-dead-letter-exchange": "",
                                               "x-dead-letter-routing-key": dlq})
                ch.basic_consume(q, lambda c, m, p, b: got.append(b), auto_ack=True)
                body = label.encode()
                w.attempt(label, lambda: ch.basic_publish("", q, body))  # noqa: B023
                w.settle(connection)
                w.record(label + " consumed", sorted(got))
        w.elapse(0.2)  # dead-lettering is asynchronous on RabbitMQ
        w.record("dead-lettered", [body for body, _, _ in w.get_all(ch, dlq)])

    check(scenario, amqp_url, names)


# -- expiry --------------------------------------------------------------------------------


def test_queue_expiry_and_lower_ttl_wins(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        expiring, ttl = names.queue("expiring"), names.queue("ttl")
        ch.queue_declare(expiring, arguments={"x-expires": 300})
        ch.queue_declare(ttl, arguments={"x-message-ttl": 5000})
        ch.basic_publish("", ttl, b"short", pika.BasicProperties(expiration="100"))
        ch.basic_publish("", ttl, b"long", pika.BasicProperties(expiration="100000"))
        w.elapse(0.8)
        w.attempt("expired queue", lambda: ch.queue_declare(expiring, passive=True))
        ch = w.channel()
        w.record("ttl", w.get_all(ch, ttl))

    check(scenario, amqp_url, names)


def test_expired_messages_a_fetch_uncovers_are_dropped(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        ch.basic_publish("", q, b"long", pika.BasicProperties(expiration="60000"))
        ch.basic_publish("", q, b"short", pika.BasicProperties(expiration="100"))
        ch.basic_publish("", q, b"short too", pika.BasicProperties(expiration="100"))
        w.elapse(0.3)
        w.attempt("before", lambda: ch.queue_declare(q, passive=True))
        method, _, body = ch.basic_get(q)
        w.record("get", (method, body))
        w.attempt("after", lambda: ch.queue_declare(q, passive=True))

    check(scenario, amqp_url, names)


def test_a_passive_declare_restarts_queue_expiry(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        passive, published = names.queue("passive"), names.queue("published")
        for q in (passive, published):
            ch.queue_declare(q, arguments={"x-expires": 600})
        w.elapse(0.4)
        ch.queue_declare(passive, passive=True)
        ch.basic_publish("", published, b"x")
        w.elapse(0.4)
        w.attempt("after a passive declare", lambda: w.channel().queue_declare(
            passive, passive=True))
        w.attempt("after a publish", lambda: w.channel().queue_declare(
            published, passive=True))

    check(scenario, amqp_url, names)


def test_what_restarts_queue_expiry(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        queues = {k: names.queue(k) for k in ("closed", "empty get", "purged", "bound")}
        for q in queues.values():
            ch.queue_declare(q, arguments={"x-expires": 800})
        ch.basic_publish("", queues["closed"], b"m")
        holder = w.channel()
        w.elapse(0.3)
        holder.basic_get(queues["closed"])
        ch.basic_get(queues["empty get"])
        w.elapse(0.3)
        holder.close()  # a channel going away with unacked messages restarts it
        ch.queue_purge(queues["purged"])
        ch.queue_bind(queues["bound"], "amq.fanout")
        w.elapse(0.6)
        for label, q in queues.items():
            w.attempt(label, lambda: w.channel().queue_declare(q, passive=True))  # noqa: B023

    check(scenario, amqp_url, names)


def test_expired_messages_behind_a_lasting_head(amqp_url: str, names: Names) -> None:
    # a message that expired behind one without expiry stays until a fetch uncovers it, and
    # then goes: basic.get does not count it, a consumer is not given it
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        ch.confirm_delivery()
        fetched, consumed = names.queue("fetched"), names.queue("consumed")
        for q in (fetched, consumed):
            ch.queue_declare(q)
            ch.basic_publish("", q, b"lasting")
            ch.basic_publish("", q, b"short", pika.BasicProperties(expiration="50"))
            ch.basic_publish("", q, b"kept")
        w.elapse(0.3)
        w.attempt("before the fetch", lambda: ch.queue_declare(fetched, passive=True))
        method, _, body = ch.basic_get(fetched)
        w.record("fetched", (body, method.message_count))
        w.attempt("after the fetch", lambda: ch.queue_declare(fetched, passive=True))
        got: list[bytes] = []
        ch.basic_consume(consumed, lambda c, m, p, b: got.append(b), auto_ack=True)
        w.pump(connection, lambda: len(got) >= 2)
        w.settle(connection)
        w.record("consumed", got)

    check(scenario, amqp_url, names)


def test_a_fetch_sets_the_expiry_of_the_new_head(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q, other = names.queue("q"), names.queue("other")
        ch.queue_declare(q)
        ch.queue_declare(other)
        ch.basic_publish("", q, b"lasting")
        ch.basic_publish("", q, b"short", pika.BasicProperties(expiration="500"))
        ch.basic_publish("", q, b"kept")
        ch.basic_publish("", other, b"o", pika.BasicProperties(expiration="100"))
        w.elapse(0.2)
        w.attempt("other expired", lambda: ch.queue_declare(other, passive=True))
        method, _, body = ch.basic_get(q, auto_ack=True)
        w.record("fetched", (body, method.message_count))
        w.elapse(0.6)
        w.attempt("the new head expired", lambda: ch.queue_declare(q, passive=True))

    check(scenario, amqp_url, names)


def test_a_priority_queue_expires_from_its_highest_priority_down(amqp_url: str,
                                                                names: Names) -> None:
    # RabbitMQ drops expired messages level by level from the highest priority and stops at
    # the first message that has not expired: expired ones below it still count
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        ch.confirm_delivery()
        queues = {k: names.queue(k) for k in ("fetched", "consumed", "later")}
        for q in queues.values():
            ch.queue_declare(q, arguments={"x-max-priority": 5})
        for q in (queues["fetched"], queues["consumed"]):
            ch.basic_publish("", q, b"low short", pika.BasicProperties(
                priority=1, expiration="100"))
            ch.basic_publish("", q, b"high", pika.BasicProperties(priority=5))
            ch.basic_publish("", q, b"high long", pika.BasicProperties(
                priority=5, expiration="60000"))
            ch.basic_publish("", q, b"low", pika.BasicProperties(priority=1))
        later = queues["later"]
        ch.basic_publish("", later, b"high", pika.BasicProperties(priority=5))
        ch.basic_publish("", later, b"low short", pika.BasicProperties(
            priority=1, expiration="400"))
        ch.basic_publish("", later, b"low", pika.BasicProperties(priority=1))
        method, _, body = ch.basic_get(later, auto_ack=True)
        w.record("later: fetched", (body, method.message_count))
        w.elapse(0.7)
        for label, q in queues.items():
            w.attempt(label, lambda: ch.queue_declare(q, passive=True))  # noqa: B023
        w.record("fetched", w.get_all(ch, queues["fetched"]))
        got: list[Any] = []
        ch.basic_consume(queues["consumed"], lambda c, m, p, b: got.append(b), auto_ack=True)
        w.pump(connection, lambda: len(got) >= 3)
        w.settle(connection)
        w.record("consumed", got)

    check(scenario, amqp_url, names)


def test_expiry_through_a_chain_of_queues_keeps_time(amqp_url: str, names: Names) -> None:
    # a message that expires in one queue arrives in the next when it expired: one wait
    # may cover several hops, and an expiry cycle ends with the message dropped
    def scenario(w: World) -> None:
        ch = w.channel()
        chain = [names.queue(f"hop{i}") for i in range(5)]
        for here, there, ttl in zip(chain, chain[1:], (100, 150, 100, 2000), strict=False):
            ch.queue_declare(here, arguments={"x-message-ttl": ttl,
                                              "x-dead-letter-exchange": "",
                                              "x-dead-letter-routing-key": there})
        ch.queue_declare(chain[-1])
        a, b = names.queue("cycle-a"), names.queue("cycle-b")
        for here, there in ((a, b), (b, a)):
            ch.queue_declare(here, arguments={"x-message-ttl": 100,
                                              "x-dead-letter-exchange": "",
                                              "x-dead-letter-routing-key": there})
        ch.basic_publish("", chain[0], b"along")
        ch.basic_publish("", a, b"round")
        w.elapse(0.9)
        for q in (*chain, a, b):
            w.attempt(q, lambda: ch.queue_declare(q, passive=True))  # noqa: B023
        w.elapse(2.0)
        _, properties, body = w.get_eventually(ch, chain[-1], auto_ack=True)
        w.record("at the end", (body, [(d["queue"], d["reason"], d["count"])
                                       for d in properties.headers["x-death"]]))

    check(scenario, amqp_url, names)
