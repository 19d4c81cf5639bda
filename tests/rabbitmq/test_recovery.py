"""Faults on a real node: connections killed, the node restarted; nothing confirmed is lost.

These tests drive the throwaway node that ``scripts/test`` starts, through ``rabbitmqctl``
(``MSGBUS_TEST_RABBITMQ_NODE`` and ``MSGBUS_TEST_RABBITMQ_HOME`` name it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from msgbus import errors
from msgbus.values import Delivery, ExchangeType, Properties
from tests.rabbitmq.faults import PERSISTENT, Node, Recorder
from tests.support import Names, wait_until
from transports.rabbitmq import (
    ConnectionState,
    RabbitMQTransport,
    RecoveryPolicy,
)

pytestmark = pytest.mark.rabbitmq

# -- recovery, step by step -----------------------------------------------------------


def test_recovery_redeclares_topology_and_resumes_consumers(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    recorder = Recorder()
    transport = open_transport(connection_listeners=[recorder])
    x, named = names.exchange(), names.queue()
    transport.declare_exchange(x, ExchangeType.FANOUT)
    transport.declare_queue(named, exclusive=True)
    server_named = transport.declare_queue("", exclusive=True).name
    transport.bind_queue(named, x)
    transport.bind_queue(server_named, x)
    got: list[Delivery] = []
    on_named = transport.consume(named, got.append, auto_ack=True)
    on_server_named = transport.consume(server_named, got.append, auto_ack=True)

    node.close_all_connections()
    wait_until(transport, lambda: ConnectionState.RECOVERED in recorder.states())

    assert recorder.states() == [
        ConnectionState.CONNECTED, ConnectionState.LOST, ConnectionState.RECOVERED,
    ]
    renamed = recorder.events[-1].renamed_queues
    assert set(renamed) == {server_named} and renamed[server_named] != server_named
    assert on_named.active and on_server_named.active
    assert on_server_named.queue == renamed[server_named]
    assert "guest:***@" in recorder.events[0].broker
    transport.publish(x, "", b"fanned")
    transport.publish("", server_named, b"by the old name")
    wait_until(transport, lambda: len(got) == 3)
    assert sorted(d.body for d in got) == [b"by the old name", b"fanned", b"fanned"]
    assert {d.consumer_tag for d in got} == {on_named.consumer_tag, on_server_named.consumer_tag}
    transport.close()  # its exclusive queues go with it


def test_restart_redeclares_what_vanished_and_keeps_prefetch(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    recorder = Recorder()
    transport = open_transport(connection_listeners=[recorder])
    source, middle, q = names.exchange("src"), names.exchange("mid"), names.queue()
    transport.declare_exchange(source, ExchangeType.TOPIC)  # none of it durable:
    transport.declare_exchange(middle, ExchangeType.DIRECT)  # a restart wipes it all
    transport.declare_queue(q, arguments={"x-max-length": 100})
    transport.bind_exchange(middle, source, "jobs.*")
    transport.bind_queue(q, middle, "jobs.new")
    got: list[Delivery] = []
    consumer = transport.consume(q, got.append, prefetch=2)

    node.restart()
    wait_until(transport, lambda: ConnectionState.RECOVERED in recorder.states(), timeout=60)

    assert consumer.active
    assert transport.declare_queue(q, passive=True).message_count == 0
    for n in range(5):
        transport.publish(source, "jobs.new", str(n).encode())
    transport.publish(source, "jobs.old", b"not routed")
    wait_until(transport, lambda: len(got) == 2)
    transport.process_events(0.3)
    assert [d.body for d in got] == [b"0", b"1"]  # the prefetch of 2 still holds
    transport.ack(got[-1].delivery_tag, multiple=True)
    wait_until(transport, lambda: len(got) == 4)
    assert transport.declare_queue(q, passive=True).message_count == 1


def test_stale_tag_after_connection_loss_is_ignored_and_redelivered(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names,
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = open_transport()
    q = names.queue()
    transport.declare_queue(q, durable=True)
    transport.publish("", q, b"m", Properties(delivery_mode=PERSISTENT))
    old = transport.get(q)
    assert old is not None
    node.close_all_connections()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transports.rabbitmq"):
        transport.ack(old.delivery_tag)  # discovers the loss, recovers, ignores the tag
    assert any(f"delivery tag {old.delivery_tag} ignored" in r.getMessage()
               for r in caplog.records)
    again = transport.get(q, auto_ack=True)
    assert again is not None and again.redelivered and again.delivery_tag != old.delivery_tag


def test_interrupted_publish_raises_connection_lost_then_works(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    transport = open_transport()
    q = names.queue()
    transport.declare_queue(q, durable=True)
    node.close_all_connections()
    with pytest.raises(errors.ConnectionLost, match="publish it again"):
        transport.publish("", q, b"maybe")
    transport.publish("", q, b"surely")
    assert transport.is_open


def test_republish_unconfirmed_publishes_again(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    transport = open_transport(republish_unconfirmed=True)
    q = names.queue()
    transport.declare_queue(q, durable=True)
    node.close_all_connections()
    transport.publish("", q, b"again", Properties(delivery_mode=PERSISTENT))
    delivery = transport.get(q, auto_ack=True)
    assert delivery is not None and delivery.body == b"again"


def test_recovery_disabled_closes_the_transport(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    recorder = Recorder()
    transport = open_transport(
        recovery=RecoveryPolicy(max_attempts=0), connection_listeners=[recorder]
    )
    q = names.queue()
    transport.declare_queue(q)
    node.close_all_connections()
    with pytest.raises(errors.ConnectionLost):
        transport.declare_queue(q, passive=True)
    assert not transport.is_open
    assert recorder.states()[-2:] == [ConnectionState.LOST, ConnectionState.FAILED]
    with pytest.raises(errors.ConnectionLost, match="is closed"):
        transport.declare_queue(q, passive=True)


def test_bounded_retries_give_up_while_the_node_is_down(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    recorder = Recorder()
    transport = open_transport(
        recovery=RecoveryPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.1),
        connection_listeners=[recorder],
    )
    q = names.queue()
    transport.declare_queue(q)
    node.ctl("stop_app")
    try:
        with pytest.raises(errors.ConnectionLost, match="after 3 attempt"):
            transport.process_events(1.0)
    finally:
        node.ctl("start_app")
        node.ctl("await_startup")
    failed = recorder.events[-1]
    assert (failed.state, failed.attempts) == (ConnectionState.FAILED, 3)
    assert not transport.is_open


def test_failover_to_the_next_host(amqp_url: str, names: Names) -> None:
    import socket
    from urllib.parse import urlsplit, urlunsplit

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    parts = urlsplit(amqp_url)
    userinfo, _, live = parts.netloc.rpartition("@")
    url = urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{dead_port},{live}"))
    with RabbitMQTransport.from_url(url) as transport:
        q = names.queue()
        assert transport.declare_queue(q).name == q


# -- the fault suite: 10,000 persistent messages through repeated faults ---------------


@dataclass
class Tally:
    """What the publisher got confirmed and what the consumer saw."""

    confirmed: set[int] = field(default_factory=set)
    uncertain: set[int] = field(default_factory=set)
    seen: dict[int, list[bool]] = field(default_factory=dict)  # id -> redelivered flags

    def check(self) -> None:
        missing = self.confirmed - self.seen.keys()
        assert not missing, f"{len(missing)} confirmed messages never consumed"
        for number, flags in self.seen.items():
            assert all(flags[1:]), f"message {number} came again without redelivered"
        assert self.seen.keys() <= self.confirmed | self.uncertain


def _run_stream(
    total: int,
    publisher: RabbitMQTransport,
    consumer: RabbitMQTransport,
    queue: str,
    fault: Callable[[], None],
    faults: int,
) -> Tally:
    """Publish and consume ``total`` messages while ``fault`` strikes ``faults`` times.

    The faults are spread over the stream: each time another share of the messages is out,
    a thread strikes, and publishing goes on — slowed down, with the consumer busy — until
    the fault is over, so that it lands amid publishes, deliveries and acks.
    """
    tally = Tally()

    def on_message(delivery: Delivery) -> None:
        number = int(delivery.body)
        tally.seen.setdefault(number, []).append(delivery.redelivered)
        consumer.ack(delivery.delivery_tag)

    handle = consumer.consume(queue, on_message, prefetch=200)
    strike_now = threading.Semaphore(0)
    struck = threading.Event()

    def strike() -> None:
        for _ in range(faults):
            strike_now.acquire()
            fault()
            struck.set()

    striker = threading.Thread(target=strike, daemon=True)
    striker.start()
    thresholds = [total * (n + 1) // (faults + 1) for n in range(faults)]
    props = Properties(delivery_mode=PERSISTENT)
    next_id = 0
    slow = False
    while next_id < total:
        if thresholds and next_id >= thresholds[0]:
            thresholds.pop(0)
            struck.clear()
            strike_now.release()
            slow = True
        number, next_id = next_id, next_id + 1
        try:
            publisher.publish("", queue, str(number).encode(), props)
        except errors.ConnectionLost:
            tally.uncertain.add(number)
            total += 1  # this one may be lost: send another in its place
        else:
            tally.confirmed.add(number)
        if slow:
            consumer.process_events(0.005)
            slow = not struck.is_set()
        elif number % 50 == 0:
            consumer.process_events(0.0)
    while striker.is_alive():  # the last fault may still be under way
        consumer.process_events(0.05)
        publisher.process_events(0.0)
    striker.join()
    publisher.process_events(0.0)
    wait_until(consumer, lambda: tally.confirmed <= tally.seen.keys(), timeout=60)
    consumer.process_events(0.2)
    assert handle.active, "the consumer did not resume by itself"
    return tally


def test_connections_killed_repeatedly(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    publishing, consuming = Recorder(), Recorder()
    publisher = open_transport(connection_listeners=[publishing])
    consumer = open_transport(connection_listeners=[consuming])
    q = names.queue()
    publisher.declare_queue(q, durable=True)
    consumer.declare_queue(q, durable=True)
    tally = _run_stream(10_000, publisher, consumer, q, node.close_all_connections, faults=5)
    tally.check()
    # every fault was noticed (one may catch a connection that had just come back)
    assert consuming.states().count(ConnectionState.RECOVERED) >= 5
    assert publishing.states().count(ConnectionState.RECOVERED) >= 5
    assert ConnectionState.FAILED not in consuming.states() + publishing.states()


def test_node_restarted_mid_stream(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    consuming = Recorder()
    publisher = open_transport()
    consumer = open_transport(connection_listeners=[consuming])
    q = names.queue()
    publisher.declare_queue(q, durable=True)
    consumer.declare_queue(q, durable=True)
    tally = _run_stream(10_000, publisher, consumer, q, node.restart, faults=1)
    tally.check()
    assert consuming.states().count(ConnectionState.RECOVERED) >= 1
