"""Bad input on every transport: a call with an argument of the wrong type or value fails
with a clear msgbus error, and nothing already there is lost: the queue keeps its messages,
the transport goes on working."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgbus import Properties
from msgbus.errors import AMQPError, ValidationError
from msgbus.transport import Transport
from tests.property import strategies as s
from tests.support import Names, drain_bodies


@pytest.fixture
def prepared(transport: Transport, names: Names) -> tuple[Transport, str, str]:
    queue, exchange = names.queue(), names.exchange()
    transport.declare_queue(queue)
    transport.declare_exchange(exchange, "headers")
    transport.bind_queue(queue, exchange, "", {"x-match": "any", "a": 1})
    for body in (b"one", b"two"):
        transport.publish("", queue, body)
    return transport, queue, exchange


def _call(transport: Transport, queue: str, exchange: str, name: str,
          args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name == "publish_headers":
        transport.publish(exchange, "", b"x", Properties(headers=args[0]))
    else:
        getattr(transport, name)(*args, **kwargs)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bad_arguments_fail_clearly_and_lose_nothing(
    prepared: tuple[Transport, str, str], data: st.DataObject
) -> None:
    transport, queue, exchange = prepared
    name, args, kwargs = data.draw(s.bad_calls(queue, exchange), label="call")
    with pytest.raises((ValidationError, AMQPError)) as caught:
        _call(transport, queue, exchange, name, args, kwargs)
    assert str(caught.value), "the error says what was wrong"
    if isinstance(caught.value, ValidationError):
        assert isinstance(caught.value, ValueError)  # client-side: also a ValueError
    # the transport goes on working, and the queue still holds what it held, in order
    assert transport.declare_queue(queue, passive=True).message_count == 2
    bodies = drain_bodies(transport, queue)
    assert bodies == [b"one", b"two"]
    for body in bodies:
        transport.publish("", queue, body)
