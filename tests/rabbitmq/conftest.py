"""Fixtures of the RabbitMQ suite: the node under test, and transports that recover."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.rabbitmq.faults import NODE, NODE_HOME, PATIENT, Node
from transports.rabbitmq import RabbitMQTransport


@pytest.fixture
def node(amqp_url: str) -> Iterator[Node]:
    if not NODE or not NODE_HOME:
        pytest.skip(
            "NO RABBITMQ NODE TO CONTROL: fault tests need MSGBUS_TEST_RABBITMQ_NODE and "
            "MSGBUS_TEST_RABBITMQ_HOME (scripts/test sets them for the node it starts)"
        )
    controlled = Node()
    yield controlled
    controlled.ctl("start_app")  # whatever happened, leave the node running
    controlled.ctl("await_startup")


@pytest.fixture
def open_transport(amqp_url: str) -> Iterator[Callable[..., RabbitMQTransport]]:
    opened: list[RabbitMQTransport] = []

    def make(**options: object) -> RabbitMQTransport:
        options.setdefault("recovery", PATIENT)
        transport = RabbitMQTransport.from_url(amqp_url, **options)  # type: ignore[arg-type]
        opened.append(transport)
        return transport

    yield make
    for transport in opened:
        transport.close()
