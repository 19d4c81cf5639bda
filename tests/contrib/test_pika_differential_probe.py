"""Differential scenarios found by probing where features meet: length limits and waiting
consumers, expiry behind messages that do not expire, expiry in priority queues,
transactions with basic.recover and with refused publishes. Each once differed between
RabbitMQ and the memory facade."""

from __future__ import annotations

import itertools
from typing import Any

import pika
import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq

# -- length limits ------------------------------------------------------------------------


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


# -- expiry -------------------------------------------------------------------------------


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


# -- transactions -------------------------------------------------------------------------


def test_recover_leaves_what_a_transaction_acknowledged(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel(confirm=False)
        q = names.queue()
        ch.queue_declare(q)
        for i in range(3):
            ch.basic_publish("", q, f"m{i}".encode())
        ch.tx_select()
        tags = [ch.basic_get(q)[0].delivery_tag for _ in range(3)]
        ch.basic_ack(tags[0])
        ch.basic_nack(tags[1], requeue=False)
        w.attempt("recover", lambda: ch.basic_recover(requeue=True))
        w.attempt("after recover", lambda: ch.queue_declare(q, passive=True))
        w.attempt("commit", ch.tx_commit)
        w.attempt("after commit", lambda: ch.queue_declare(q, passive=True))
        w.record("left", w.get_all(ch, q, ack=False))
        w.attempt("rollback", ch.tx_rollback)
        w.attempt("after rollback", lambda: ch.queue_declare(q, passive=True))

    check(scenario, amqp_url, names)


def test_a_commit_with_a_refused_publish_fails(amqp_url: str, names: Names) -> None:
    # every publish and acknowledgement of the transaction is applied, then the commit
    # fails and closes the channel (whose unacknowledged messages go back)
    def scenario(w: World) -> None:
        ch = w.channel(confirm=False)
        full, work, dlq = names.queue("full"), names.queue("work"), names.queue("dlq")
        ch.queue_declare(dlq)
        ch.queue_declare(full, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
        ch.queue_declare(work)
        for i in range(3):
            ch.basic_publish("", work, f"w{i}".encode())
        ch.tx_select()
        ch.basic_ack(ch.basic_get(work)[0].delivery_tag)
        ch.basic_nack(ch.basic_get(work)[0].delivery_tag, requeue=True)
        ch.basic_get(work)
        ch.basic_publish("", full, b"fits")
        ch.basic_publish("", full, b"refused")
        ch.basic_publish("", work, b"published")
        w.attempt("commit", ch.tx_commit)
        w.record("open", (ch.is_open, ch.connection.is_open))
        other = w.channel(confirm=False)
        w.record("full", w.get_all(other, full))
        w.record("work", w.get_all(other, work))
        dlx = names.queue("dlx")
        other.queue_declare(dlx, arguments={"x-max-length": 0, "x-overflow": "reject-publish-dlx",
                                            "x-dead-letter-exchange": "",
                                            "x-dead-letter-routing-key": dlq})
        other.tx_select()
        other.basic_publish("", dlx, b"dead-lettered")
        w.attempt("commit, dead-lettered", other.tx_commit)
        w.attempt("commit again", other.tx_commit)
        w.elapse(0.2)
        w.record("dlq", w.get_all(w.channel(), dlq))

    check(scenario, amqp_url, names)


# -- quorum queues ------------------------------------------------------------------------


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
