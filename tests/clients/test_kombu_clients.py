"""kombu on py-amqp over the wire (py-amqp logs in with AMQPLAIN): Producer and Consumer
through a direct exchange, SimpleQueue, and ``ensure``/``ensure_connection`` bringing a
publish back after the broker closed the connection."""

from __future__ import annotations

from typing import Any

import amqp.exceptions
import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue

from tests.clients.conftest import WAIT, Unique


def test_producer_and_consumer(server_url: str, unique: Unique) -> None:
    exchange = Exchange(unique.exchange(), type="direct", durable=False)
    queue = Queue(unique(), exchange, routing_key="jobs", durable=False)
    with Connection(server_url, connect_timeout=WAIT) as connection:
        assert connection.transport_cls == "amqp"
        producer = Producer(connection, exchange=exchange, serializer="json")
        for n in range(5):
            producer.publish({"n": n, "name": "café"}, routing_key="jobs", declare=[queue],
                             headers={"attempt": 1}, priority=3)
        producer.publish({"n": 99}, routing_key="elsewhere")  # routed nowhere, dropped
        got: list[Any] = []

        def on_message(body: Any, message: Any) -> None:
            got.append((body, message.headers, message.properties.get("priority"),
                        message.content_type, message.delivery_info["routing_key"]))
            message.ack()

        with Consumer(connection, queues=[queue], callbacks=[on_message], accept=["json"],
                      prefetch_count=2):
            while len(got) < 5:
                connection.drain_events(timeout=WAIT)
        assert [body for body, *_ in got] == [{"n": n, "name": "café"} for n in range(5)]
        for _, *rest in got:
            assert rest == [{"attempt": 1}, 3, "application/json", "jobs"]
        with pytest.raises(TimeoutError):
            connection.drain_events(timeout=0.2)
        assert queue(connection.default_channel).queue_declare(passive=True).message_count == 0


def test_simple_queue(server_url: str, unique: Unique) -> None:
    name = unique()
    with Connection(server_url, connect_timeout=WAIT) as connection:
        simple = connection.SimpleQueue(name, serializer="json")
        try:
            for n in range(3):
                simple.put({"n": n})
            first = simple.get(block=True, timeout=WAIT)
            assert first.payload == {"n": 0}
            first.requeue()  # back to the queue's head; 1 and 2 are already on their way
            rest = []
            for _ in range(3):
                message = simple.get(block=True, timeout=WAIT)
                rest.append((message.payload, message.delivery_info["redelivered"]))
                message.ack()
            assert rest == [({"n": 1}, False), ({"n": 2}, False), ({"n": 0}, True)]
            with pytest.raises(simple.Empty):
                simple.get(block=True, timeout=0.2)
            assert simple.qsize() == 0
        finally:
            simple.close()


def test_ensure_reconnects_after_the_broker_closed_the_connection(
        server_url: str, unique: Unique) -> None:
    queue = Queue(unique(), durable=False)
    with Connection(server_url, connect_timeout=WAIT) as connection:
        connection.ensure_connection(max_retries=3)
        producer = Producer(connection, serializer="json")
        producer.publish({"n": 1}, routing_key=queue.name, declare=[queue])

        with pytest.raises(amqp.exceptions.InvalidCommand) as error:
            connection.default_channel.exchange_declare(unique.exchange(), "no-such")
        assert error.value.reply_code == 503
        assert "COMMAND_INVALID - unknown exchange type 'no-such'" in str(error.value)

        errors: list[Exception] = []
        publish = connection.ensure(producer, producer.publish, max_retries=3,
                                    errback=lambda exc, _interval: errors.append(exc))
        publish({"n": 2}, routing_key=queue.name)
        assert len(errors) == 1  # one failed attempt, then a reconnect and a retry

        simple = connection.SimpleQueue(queue)
        try:
            bodies = []
            for _ in range(2):
                message = simple.get(block=True, timeout=WAIT)
                bodies.append(message.payload)
                message.ack()
            assert bodies == [{"n": 1}, {"n": 2}]
        finally:
            simple.close()


def test_confirmed_publishes_and_a_nack(server_url: str, unique: Unique) -> None:
    """py-amqp's ``confirm_publish``: each publish waits for the broker's ack; a queue that
    rejects publishes when full answers with a nack (``MessageNacked``)."""
    full = Queue(unique("full"), durable=False,
                 queue_arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    with Connection(server_url, connect_timeout=WAIT,
                    transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection, serializer="json")
        producer.publish({"n": 1}, routing_key=full.name, declare=[full])
        producer.publish({"n": 2}, routing_key=full.name)
        with pytest.raises(amqp.exceptions.MessageNacked):
            producer.publish({"n": 3}, routing_key=full.name)
        assert full(connection.default_channel).queue_declare(passive=True).message_count == 2
