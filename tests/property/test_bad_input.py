"""Bad input on every transport: a call with an argument of the wrong type or value fails
with a clear msgbus error, and nothing already there is lost: the queue keeps its messages,
the transport goes on working."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgbus import Exchange, GenericApplication, GenericProducer, MessageProcessor, Properties
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


class _X(Exchange):
    name = "bad-input-x"
    durable = False


class _Producer(GenericProducer):
    eks = [(_X, "k")]


@pytest.fixture
def app_transport() -> Transport:
    from transports.memory import Broker, MemoryTransport

    return MemoryTransport(Broker())


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bad_application_arguments_name_the_argument(
    app_transport: Transport, data: st.DataObject
) -> None:
    """``eqk``, ``_eks`` and ``_key`` of the wrong shape raise a ValidationError that names
    the argument (never a TypeError from unpacking), and nothing is declared or sent."""
    kind = data.draw(st.sampled_from(["eqk", "add_eqk", "_eks", "_key"]), label="argument")
    producer = _Producer(transport=app_transport)
    queue = app_transport.declare_queue("", exclusive=True).name
    app_transport.bind_queue(queue, _X.name, "k")
    with pytest.raises(ValidationError) as caught:
        if kind == "eqk":
            MessageProcessor(eqk=data.draw(s.bad_eqks(_X)), transport=app_transport)
        elif kind == "add_eqk":
            MessageProcessor(transport=app_transport).add_eqk(data.draw(s.bad_eqks(_X)))
        elif kind == "_eks":
            producer.message_echo(1, _eks=data.draw(s.bad_ekses(_X)))
        else:
            key = data.draw(s._not_str.filter(lambda v: v is not None))
            producer.message_echo(1, _key=key)
    assert kind.lstrip("_").replace("add_", "") in str(caught.value)
    assert app_transport.declare_queue(queue, passive=True).message_count == 0
    producer.message_echo("fine")  # the producer goes on working
    assert app_transport.declare_queue(queue, passive=True).message_count == 1


@pytest.mark.parametrize(
    ("make", "names"),
    [
        (lambda: MessageProcessor(eqk=5), "eqk"),
        (lambda: MessageProcessor(eqk=(_X, [("q", "k")])), "put it in a list"),
        (lambda: _Producer(transport=_memory()).message_echo(_eks=5), "_eks"),
        (lambda: _Producer(transport=_memory()).message_echo(_eks="eks"), "_eks"),
        (lambda: _memory("x"), "broker"),
        (lambda: _connect("amqp://[::1/"), "IPv6"),
        (lambda: MessageProcessor(transport=5), "transport"),
        (lambda: _Producer(transport=_memory(), encoder=5), "encoder"),
        (lambda: _Producer(transport=_memory(), clock=5), "clock"),
        (lambda: MessageProcessor(fingerprint=5, transport=_memory()), "fingerprint"),
        (lambda: GenericApplication("app", groups=5, transport=_memory()), "groups"),
    ],
    ids=["eqk=5", "flat eqk", "_eks=5", "_eks='eks'", "MemoryTransport('x')", "amqp://[::1/",
         "transport=5", "encoder=5", "clock=5", "fingerprint=5", "groups=5"],
)
def test_the_issue_examples(make: Any, names: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(names)):
        make()


def _memory(broker: Any = None) -> Transport:
    from transports.memory import Broker, MemoryTransport

    return MemoryTransport(Broker() if broker is None else broker)


def _connect(url: str) -> Transport:
    import msgbus

    return msgbus.connect(url)
