"""Fixtures of the contract suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from msgbus.transport import Transport


@pytest.fixture
def unconfirmed(
    transport: Transport, transport_kind: str, request: pytest.FixtureRequest
) -> Iterator[Transport]:
    """A second transport to the same broker, with publisher confirms off."""
    made: Transport
    if transport_kind == "memory":
        from transports.memory import MemoryTransport

        made = MemoryTransport(transport.broker, confirm_publishes=False)  # type: ignore[attr-defined]
    else:
        from transports.rabbitmq import RabbitMQTransport

        made = RabbitMQTransport.from_url(
            request.getfixturevalue("amqp_url"), confirm_publishes=False
        )
    yield made
    made.close()
