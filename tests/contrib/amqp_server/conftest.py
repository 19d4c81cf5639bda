"""Fixtures of the protocol-level tests: one scenario run against RabbitMQ and against the
embedded server, and the embedded server on its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pika
import pytest

from tests.contrib.amqp_server.wire import normalise

Observed = list[tuple[Any, ...]]
Scenario = Callable[[str, str], Observed]


class Differential:
    """``same(scenario)`` runs ``scenario(url, tag)`` against RabbitMQ, then against the
    embedded server, and asserts that both observed the same frames. ``tag`` is a name
    unique to this test (the same on both servers, so names compare equal)."""

    def __init__(self, rabbitmq_url: str, embedded_url: str, tag: str) -> None:
        self.rabbitmq_url = rabbitmq_url
        self.embedded_url = embedded_url
        self.tag = tag

    def run(self, scenario: Scenario) -> tuple[Observed, Observed]:
        theirs = normalise(scenario(self.rabbitmq_url, self.tag))
        ours = normalise(scenario(self.embedded_url, self.tag))
        return theirs, ours

    def same(self, scenario: Scenario) -> Observed:
        theirs, ours = self.run(scenario)
        assert ours == theirs, "the embedded server (left) answers otherwise than RabbitMQ"
        return ours


@pytest.fixture
def differential(amqp_url: str, msgbus_amqp_url: str) -> Differential:
    return Differential(amqp_url, msgbus_amqp_url, f"wire-{uuid.uuid4().hex[:10]}")


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for ``predicate`` (something the server's loop does on its own thread)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.005)


def round_trip(url: str, queue: str) -> bytes:
    """A fresh pika client declares ``queue``, publishes one message with confirms and
    gets it back: the server is up and serving."""
    body = f"round trip {uuid.uuid4().hex}".encode()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_declare(queue, auto_delete=False)
        channel.basic_publish("", queue, body)
        method, _, got = channel.basic_get(queue, auto_ack=True)
        assert method is not None and got == body
        channel.queue_delete(queue)
    finally:
        connection.close()
    return got
