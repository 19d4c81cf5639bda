"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Transactions: commit and rollback, basic.recover inside one, a commit with a refused
publish."""

from __future__ import annotations

import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- transactions --------------------------------------------------------------------------


def test_transactions_commit_and_rollback(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel(confirm=False)
        q = names.queue("tx")
        ch.queue_declare(q)
        for body in (b"a", b"b"):
            ch.basic_publish("", q, body)
        w.attempt("select", ch.tx_select)
        ch.basic_publish("", q, b"rolled back")
        w.attempt("rollback", ch.tx_rollback)
        w.attempt("count after rollback", lambda: ch.queue_declare(q, passive=True))
        ch.basic_publish("", q, b"committed")
        method, _, body = ch.basic_get(q)
        w.record("got", body)
        ch.basic_ack(method.delivery_tag)
        w.attempt("count before commit", lambda: ch.queue_declare(q, passive=True))
        w.attempt("commit", ch.tx_commit)
        w.attempt("count after commit", lambda: ch.queue_declare(q, passive=True))
        method, _, body = ch.basic_get(q)
        ch.basic_ack(method.delivery_tag)
        w.attempt("rollback the ack", ch.tx_rollback)
        w.attempt("confirm on a tx channel", ch.confirm_delivery)
        other = w.channel(confirm=False)
        w.record("left", w.get_all(other, q))
        w.attempt("commit without select", other.tx_commit)

    check(scenario, amqp_url, names)


def test_prefetch_size_is_not_implemented(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel(confirm=False)
        w.attempt("prefetch_size", lambda: ch.basic_qos(prefetch_size=1))
        w.attempt("after", lambda: ch.queue_declare(names.queue()))

    check(scenario, amqp_url, names)


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
