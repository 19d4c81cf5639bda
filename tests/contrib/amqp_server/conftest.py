"""Fixtures of the protocol-level tests: one scenario run against RabbitMQ and against the
embedded server, and the embedded server on its own."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

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
