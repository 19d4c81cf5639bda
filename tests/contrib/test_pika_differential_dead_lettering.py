"""The same pika program on RabbitMQ and on the memory facade (see pika_scenarios.py).
Dead-lettering: TTL, rejects and overflow dead-letter, x-death histories, cycles, CC and
BCC on dead-lettered messages, reject-publish-dlx under confirms."""

from __future__ import annotations

import itertools
from typing import Any

import pika
import pytest

from tests.contrib.pika_scenarios import World, check
from tests.support import Names

pytestmark = pytest.mark.rabbitmq


# -- dead-lettering ------------------------------------------------------------------------


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


def _death_summary(properties: Any) -> Any:
    headers = properties.headers or {}
    return (list(headers), [(d["queue"], d["reason"], d["count"], list(d))
                            for d in headers.get("x-death", [])])


def test_x_death_history_through_a_chain_of_queues(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        queues = [names.queue(f"q{i}") for i in range(5)]
        for here, there in itertools.pairwise(queues):
            ch.queue_declare(here, arguments={"x-dead-letter-exchange": "",
                                              "x-dead-letter-routing-key": there})
        ch.queue_declare(queues[-1])
        ch.basic_publish("", queues[0], b"m", pika.BasicProperties(
            headers={"z": 1, "a": 2, "CC": ["nowhere"]}, expiration="60000"))
        for i, q in enumerate(queues[:-1]):
            method, properties, _ = w.get_eventually(ch, q)
            w.record(f"in {i}", (_death_summary(properties), properties.expiration))
            ch.basic_reject(method.delivery_tag, requeue=False)
        _, properties, _ = w.get_eventually(ch, queues[-1], auto_ack=True)
        w.record("at the end", properties.headers)
        ch.basic_publish("", queues[1], b"again", pika.BasicProperties(
            headers=properties.headers))
        for q in queues[1:-1]:
            method, _, _ = w.get_eventually(ch, q)
            ch.basic_reject(method.delivery_tag, requeue=False)
        _, properties, _ = w.get_eventually(ch, queues[-1], auto_ack=True)
        w.record("second round", _death_summary(properties))

    check(scenario, amqp_url, names)


def test_dead_lettering_keeps_cc_without_a_routing_key(amqp_url: str, names: Names) -> None:
    def scenario(w: World) -> None:
        ch = w.channel()
        dlx = names.exchange("dlx")
        ch.exchange_declare(dlx, "topic")
        a, b, dead = names.queue("a"), names.queue("b"), names.queue("dead")
        ch.queue_declare(a, arguments={"x-dead-letter-exchange": dlx, "x-message-ttl": 100})
        ch.queue_declare(b, arguments={"x-dead-letter-exchange": dlx,
                                       "x-dead-letter-routing-key": "to.dead"})
        ch.queue_declare(dead)
        ch.queue_bind(b, dlx, "rk.#")
        ch.queue_bind(dead, dlx, "to.dead")
        ch.basic_publish("", a, b"m", pika.BasicProperties(
            headers={"CC": ["rk.cc"], "BCC": ["rk.bcc"]}, expiration="50000", priority=3,
            delivery_mode=2))
        w.elapse(0.4)
        for q in (b, dead):
            method, properties, body = w.get_eventually(ch, q)
            w.record(q, (method, properties, body))
            if method is not None:
                ch.basic_reject(method.delivery_tag, requeue=False)

    check(scenario, amqp_url, names)


def test_bcc_keys_stay_with_a_dead_lettered_message(amqp_url: str, names: Names) -> None:
    # BCC keys leave the headers but stay among the message's routing keys: x-death does
    # not list them, yet a dead-letter exchange without a dead-letter routing key routes by
    # them
    def scenario(w: World) -> None:
        ch = w.channel()
        dlx = names.exchange("dlx")
        ch.exchange_declare(dlx, "direct")
        caught = {key: names.queue(f"caught-{key}") for key in ("main", "cc", "bcc")}
        for key, queue in caught.items():
            ch.queue_declare(queue)
            ch.queue_bind(queue, dlx, key)
        for dlrk in (None, "main"):
            source = names.queue(f"source-{dlrk}")
            arguments: dict[str, Any] = {"x-dead-letter-exchange": dlx}
            if dlrk is not None:
                arguments["x-dead-letter-routing-key"] = dlrk
            ch.queue_declare(source, arguments=arguments)
            ch.basic_publish("", source, b"m", pika.BasicProperties(
                headers={"CC": ["cc"], "BCC": ["bcc"]}))
            method, properties, _ = ch.basic_get(source)
            w.record("headers at the consumer", sorted(properties.headers))
            ch.basic_reject(method.delivery_tag, requeue=False)
            for key, queue in caught.items():
                got = w.get_eventually(ch, queue, auto_ack=True, timeout=1.0)
                if got[0] is not None:
                    death = got[1].headers["x-death"][0]
                    w.record(f"{dlrk}: caught by {key}", (
                        got[0].routing_key, death["routing-keys"], sorted(got[1].headers)))
                else:
                    w.record(f"{dlrk}: caught by {key}", None)

    check(scenario, amqp_url, names)
