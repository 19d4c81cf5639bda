"""The same pika program on RabbitMQ and on the memory facade must observe the same things:
return values, bodies, flags, delivery tags, counts, errors with codes and texts."""

from __future__ import annotations

from typing import Any

import pika
import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- routing --------------------------------------------------------------------------


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


# -- publishing: returns, confirms ------------------------------------------------------


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


# -- consuming, acks, prefetch ----------------------------------------------------------


def test_prefetch_and_ack_multiple(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        ch.confirm_delivery()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(6):
            ch.basic_publish("", q, f"m{i}".encode())
        ch.basic_qos(prefetch_count=2)
        got: list[Any] = []
        ch.basic_consume(q, lambda c, m, p, b: got.append((m.delivery_tag, b, m.redelivered)),
                         consumer_tag="worker")
        w.pump(connection, lambda: len(got) >= 2)
        w.settle(connection)
        w.record("first window", list(got))
        ch.basic_ack(2, multiple=True)
        w.pump(connection, lambda: len(got) >= 4)
        w.settle(connection)
        w.record("second window", list(got))
        ch.basic_nack(0, multiple=True, requeue=True)
        w.pump(connection, lambda: len(got) >= 6)
        w.settle(connection)
        w.record("after nack", list(got))
        w.record("cancel", ch.basic_cancel("worker"))
        ch.close()
        w.record("left", w.get_all(connection.channel(), q))

    check(scenario, amqp_url, names)


def test_requeue_position_reject_and_recover(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(5):
            ch.basic_publish("", q, f"m{i}".encode())
        tags = [ch.basic_get(q)[0].delivery_tag for _ in range(4)]
        w.record("tags", tags)
        ch.basic_reject(tags[1], requeue=True)
        ch.basic_nack(tags[3], requeue=True)
        ch.basic_reject(tags[0], requeue=False)
        w.record("after requeue", w.get_all(ch, q, ack=False))
        w.attempt("recover", lambda: ch.basic_recover(requeue=True))
        w.record("after recover", w.get_all(ch, q))

    check(scenario, amqp_url, names)


def test_channel_close_requeues_unacked(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(3):
            ch.basic_publish("", q, f"m{i}".encode())
        ch.basic_get(q)
        ch.basic_get(q, auto_ack=True)
        ch.close()
        w.record("closed", (ch.is_open, ch.is_closed))
        other = w.channel()
        w.record("left", w.get_all(other, q))

    check(scenario, amqp_url, names)


def test_consume_generator_and_cancel(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        ch.queue_declare(q)
        for i in range(3):
            ch.basic_publish("", q, f"m{i}".encode())
        seen = []
        for method, _, body in ch.consume(q, inactivity_timeout=0.5):
            if method is None:
                break
            seen.append((method.delivery_tag, body))
            if body == b"m1":
                ch.basic_ack(method.delivery_tag, multiple=True)
        w.record("seen", seen)
        w.record("cancel", ch.cancel())
        w.record("left", w.get_all(ch, q))

    check(scenario, amqp_url, names)


def test_consumer_cancelled_when_queue_deleted(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        connection = w.connect()
        ch = connection.channel()
        q = names.queue()
        ch.queue_declare(q)
        cancels: list[Any] = []
        ch.add_on_cancel_callback(cancels.append)
        ch.basic_consume(q, lambda *a: None, consumer_tag="c1")
        w.channel().queue_delete(q)
        w.pump(connection, lambda: bool(cancels))
        w.record("cancels", cancels)
        w.record("tags", ch.consumer_tags)

    check(scenario, amqp_url, names)


def test_consumer_priorities_and_message_priorities(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q = names.queue()
        w.attempt("declare", lambda: ch.queue_declare(q, arguments={"x-max-priority": 5}))
        for i, priority in enumerate([1, 5, None, 3, 9, 0]):
            ch.basic_publish("", q, f"m{i}".encode(), pika.BasicProperties(priority=priority))
        w.record("order", [body for body, _, _ in w.get_all(ch, q)])
        connection = w.connect()
        low, high = connection.channel(), connection.channel()
        low.basic_qos(prefetch_count=1)
        high.basic_qos(prefetch_count=1)
        got: list[Any] = []
        low.basic_consume(q, lambda c, m, p, b: got.append(("low", b)))
        high.basic_consume(q, lambda c, m, p, b: got.append(("high", b)),
                           arguments={"x-priority": 10})
        for i in range(3):
            ch.basic_publish("", q, f"n{i}".encode())
        w.pump(connection, lambda: len(got) >= 2)
        w.settle(connection)
        w.record("consumers", sorted(got))

    check(scenario, amqp_url, names)


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


# -- time, dead-lettering, limits -------------------------------------------------------


def _deaths(headers: Any) -> Any:
    if not headers:
        return headers
    return {k: v for k, v in headers.items()}


def test_ttl_and_dead_lettering(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        dlx, dead = names.exchange("dlx"), names.queue("dead")
        work, short = names.queue("work"), names.queue("short")
        ch.exchange_declare(dlx, "fanout")
        ch.queue_declare(dead)
        ch.queue_bind(dead, dlx)
        ch.queue_declare(work, arguments={"x-dead-letter-exchange": dlx})
        ch.queue_declare(short, arguments={"x-message-ttl": 200, "x-dead-letter-exchange": dlx,
                                           "x-dead-letter-routing-key": "rk"})
        ch.basic_publish("", work, b"rejected", pika.BasicProperties(headers={"h": 1}))
        ch.basic_publish("", work, b"expires", pika.BasicProperties(expiration="200"))
        ch.basic_publish("", work, b"stays")
        ch.basic_publish("", short, b"short")
        method, _, _ = ch.basic_get(work)
        ch.basic_reject(method.delivery_tag, requeue=False)
        w.elapse(0.6)
        w.record("work", w.get_all(ch, work))
        w.record("short", w.get_all(ch, short))
        got = []
        while True:
            method, properties, body = ch.basic_get(dead, auto_ack=True)
            if method is None:
                break
            got.append((body, method.exchange, method.routing_key, properties.expiration,
                        _deaths(properties.headers)))
        w.record("dead", sorted(got, key=lambda item: item[0]))

    check(scenario, amqp_url, names)


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


# -- direct reply-to, properties --------------------------------------------------------


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
    import decimal

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


# -- expiry, dead-letter cycles, exchange graphs ----------------------------------------


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


def test_dead_letter_cycle_and_requeue_count(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        a, b = names.queue("a"), names.queue("b")
        ch.queue_declare(a, arguments={"x-dead-letter-exchange": "",
                                       "x-dead-letter-routing-key": b})
        ch.queue_declare(b, arguments={"x-dead-letter-exchange": "",
                                       "x-dead-letter-routing-key": a})
        ch.basic_publish("", a, b"ping-pong")
        for queue in (a, b, a):
            method, _, _ = w.get_eventually(ch, queue)
            ch.basic_nack(method.delivery_tag, requeue=False)
        method, properties, body = w.get_eventually(ch, b, auto_ack=True)
        deaths = [(d["queue"], d["reason"], d["count"]) for d in properties.headers["x-death"]]
        w.record("deaths", (body, deaths, properties.headers["x-first-death-queue"]))

    check(scenario, amqp_url, names)


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


def test_reject_publish_dlx_under_confirms(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        q, dlq = names.queue("full"), names.queue("dlq")
        ch.queue_declare(dlq)
        ch.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish-dlx",
                                       "x-dead-letter-exchange": "",
                                       "x-dead-letter-routing-key": dlq})
        w.attempt("first", lambda: ch.basic_publish("", q, b"1"))
        w.attempt("second", lambda: ch.basic_publish("", q, b"2"))
        w.record("queue", w.get_all(ch, q))
        got = w.get_eventually(ch, dlq, auto_ack=True)
        w.record("dlq", (got[2], [(d["reason"], d["count"]) for d in got[1].headers["x-death"]]))

    check(scenario, amqp_url, names)
