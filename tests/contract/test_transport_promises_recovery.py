"""Both transports recover the same way: the same transport object, kept across a broker
restart and across a connection error, reconnects, declares its topology again, restarts
its consumers and reports it; one that gave up raises ``ConnectionLost`` on every call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from msgbus import errors
from msgbus.recovery import ConnectionEvent, ConnectionState, RecoveryPolicy
from msgbus.transport import Transport
from msgbus.values import Delivery, ExchangeType
from tests.support import Names, wait_until

#: Patient enough to outlast a node restart.
PATIENT = RecoveryPolicy(max_attempts=100, initial_delay=0.1, max_delay=0.5)


@pytest.fixture
def open_transport(transport_kind: str, connect: Callable[[], Transport],
                   request: pytest.FixtureRequest) -> Iterator[Callable[..., Transport]]:
    """Opens a transport with options (``recovery``, ``connection_listeners``) to the
    broker of ``connect`` (and of the ``restart`` fixture)."""
    opened: list[Transport] = []

    def make(**options: Any) -> Transport:
        options.setdefault("recovery", PATIENT)
        made: Transport
        if transport_kind == "memory":
            from transports.memory import MemoryTransport

            made = MemoryTransport(connect().broker, **options)  # type: ignore[attr-defined]
        else:
            from transports.rabbitmq import RabbitMQTransport

            made = RabbitMQTransport.from_url(request.getfixturevalue("amqp_url"), **options)
        opened.append(made)
        return made

    yield make
    for transport in opened:
        transport.close()


def _topology(transport: Transport, names: Names) -> tuple[str, str, list[Delivery]]:
    """An exchange bound to a queue with a consumer: what recovery must bring back."""
    x, q = names.exchange(), names.queue()
    transport.declare_exchange(x, ExchangeType.DIRECT)
    transport.declare_queue(q)
    transport.bind_queue(q, x, "k")
    got: list[Delivery] = []
    transport.consume(q, got.append, auto_ack=True, prefetch=10)
    return x, q, got


def _states(events: list[ConnectionEvent]) -> list[ConnectionState]:
    return [event.state for event in events]


def test_the_same_transport_recovers_from_a_connection_error(
    open_transport: Callable[..., Transport], names: Names
) -> None:
    events: list[ConnectionEvent] = []
    transport = open_transport(connection_listeners=[events.append])
    x, _q, got = _topology(transport, names)

    with pytest.raises(errors.ConnectionClosed) as caught:  # 503 closes the connection
        transport.declare_exchange(names.exchange("bad"), "no-such-type")
    assert caught.value.reply_code == 503

    assert _states(events) == [ConnectionState.CONNECTED, ConnectionState.LOST,
                               ConnectionState.RECOVERED]
    assert isinstance(events[1].error, errors.ConnectionClosed)
    assert events[1].error.reply_code == 503
    assert transport.is_open
    transport.publish(x, "k", b"after the error")
    wait_until(transport, lambda: len(got) == 1)
    assert got[0].body == b"after the error"


def test_a_server_named_queue_comes_back_under_a_new_name_the_old_one_still_works(
    open_transport: Callable[..., Transport], names: Names
) -> None:
    events: list[ConnectionEvent] = []
    transport = open_transport(connection_listeners=[events.append])
    x = names.exchange()
    transport.declare_exchange(x, ExchangeType.FANOUT)
    old = transport.declare_queue("", exclusive=True).name  # goes with its connection
    transport.bind_queue(old, x)
    got: list[Delivery] = []
    consumer = transport.consume(old, got.append, auto_ack=True)

    with pytest.raises(errors.ConnectionClosed):
        transport.declare_exchange(names.exchange("bad"), "no-such-type")

    renamed = events[-1].renamed_queues
    assert events[-1].state is ConnectionState.RECOVERED
    assert set(renamed) == {old} and renamed[old] != old
    assert consumer.active and consumer.queue == renamed[old]
    transport.publish(x, "", b"through the binding")
    transport.publish("", old, b"by the old name")
    wait_until(transport, lambda: len(got) == 2)
    assert sorted(d.body for d in got) == [b"by the old name", b"through the binding"]


def test_the_same_transport_recovers_from_a_broker_restart(
    open_transport: Callable[..., Transport], names: Names, restart: Callable[[], None]
) -> None:
    events: list[ConnectionEvent] = []
    transport = open_transport(connection_listeners=[events.append])
    x, q, got = _topology(transport, names)  # none of it durable: the restart wipes it

    restart()
    wait_until(transport, lambda: ConnectionState.RECOVERED in _states(events), timeout=60)

    assert _states(events) == [ConnectionState.CONNECTED, ConnectionState.LOST,
                               ConnectionState.RECOVERED]
    assert isinstance(events[1].error, errors.TransportError)
    assert transport.declare_queue(q, passive=True).consumer_count == 1
    transport.publish(x, "k", b"after the restart")
    wait_until(transport, lambda: len(got) == 1)
    assert got[0].body == b"after the restart"


def test_a_transport_that_gave_up_raises_connection_lost_on_every_call(
    open_transport: Callable[..., Transport], names: Names
) -> None:
    events: list[ConnectionEvent] = []
    transport = open_transport(recovery=RecoveryPolicy(max_attempts=0),
                               connection_listeners=[events.append])
    q = names.queue()
    transport.declare_queue(q)

    with pytest.raises(errors.ConnectionLost):  # nothing to recover with: it gives up
        transport.declare_exchange(names.exchange("bad"), "no-such-type")

    assert _states(events) == [ConnectionState.CONNECTED, ConnectionState.LOST,
                               ConnectionState.FAILED]
    assert not transport.is_open
    for call in (lambda: transport.process_events(0.5),  # raises: a loop never spins
                 lambda: transport.publish("", q, b"x"),
                 lambda: transport.declare_queue(q),
                 lambda: transport.get(q)):
        with pytest.raises(errors.ConnectionLost):
            call()


def test_process_events_on_a_closed_transport_raises(transport: Transport) -> None:
    transport.close()
    with pytest.raises(errors.ConnectionLost):
        transport.process_events(0.5)
