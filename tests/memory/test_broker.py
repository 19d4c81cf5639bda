"""What only the in-memory broker has: isolation, injected time, events, snapshots,
restart of connections, thread safety, input validation."""

from __future__ import annotations

import logging
import threading

import pytest

import msgbus
from msgbus import (
    ConnectionClosed,
    Delivery,
    ManualClock,
    Properties,
    ValidationError,
)
from transports.memory import Broker, BrokerEvent, MemoryTransport, named_broker


def test_brokers_are_isolated() -> None:
    one, two = MemoryTransport(Broker()), MemoryTransport(Broker())
    one.declare_queue("jobs")
    one.publish("", "jobs", b"x")
    assert two.declare_queue("jobs").message_count == 0


def test_connect_urls_pick_named_brokers() -> None:
    a = msgbus.connect("memory://suite-a")
    b = msgbus.connect("memory://suite-a")
    c = msgbus.connect("memory://suite-c")
    assert isinstance(a, MemoryTransport) and isinstance(c, MemoryTransport)
    a.declare_queue("shared")
    a.publish("", "shared", b"hello")
    got = b.get("shared", auto_ack=True)
    assert got is not None and got.body == b"hello"
    assert c.broker is not a.broker
    assert named_broker("suite-a") is a.broker
    for t in (a, b, c):
        t.close()
    with pytest.raises(ValidationError, match="memory://, amqp:// or amqps://"):
        msgbus.connect("redis://localhost")


def test_manual_clock_expires_exactly_when_due() -> None:
    clock = ManualClock()
    transport = MemoryTransport(Broker(clock=clock))
    transport.declare_queue("q", arguments={"x-message-ttl": 1000})
    transport.publish("", "q", b"x")
    clock.advance(0.999)
    assert transport.declare_queue("q", arguments={"x-message-ttl": 1000}).message_count == 1
    clock.advance(0.001)
    assert transport.declare_queue("q", arguments={"x-message-ttl": 1000}).message_count == 0


def test_ttl_zero_delivers_only_to_a_waiting_consumer() -> None:
    transport = MemoryTransport(Broker(clock=ManualClock()))
    transport.declare_queue("q", arguments={"x-message-ttl": 0})
    transport.publish("", "q", b"nobody waits")
    got: list[Delivery] = []
    transport.consume("q", got.append, auto_ack=True)
    transport.publish("", "q", b"consumer waits")
    transport.process_events()
    assert [d.body for d in got] == [b"consumer waits"]


def test_events_tell_a_message_story() -> None:
    broker = Broker(clock=ManualClock())
    events: list[BrokerEvent] = []
    broker.add_listener(events.append)
    t = MemoryTransport(broker)
    t.declare_exchange("logs", "fanout")
    t.declare_queue("dead")
    t.declare_queue("q", arguments={"x-dead-letter-exchange": "",
                                    "x-dead-letter-routing-key": "dead"})
    t.bind_queue("q", "logs")
    t.publish("logs", "", b"m")
    delivery = t.get("q")
    assert delivery is not None
    t.reject(delivery.delivery_tag, requeue=False)
    kinds = [e.kind for e in events]
    assert kinds == ["published", "routed", "delivered", "rejected", "dead-lettered"]
    assert events[1].queues == ("q",)
    assert "dead-lettered" in events[-1].describe()
    broker.remove_listener(events.append)
    t.publish("logs", "", b"unseen")
    assert len(events) == 5


def test_snapshots_count_ready_unacked_and_consumers() -> None:
    broker = Broker()
    t = MemoryTransport(broker)
    t.declare_queue("q", durable=True, arguments={"x-max-length": 10})
    for i in range(3):
        t.publish("", "q", str(i).encode())
    t.get("q")
    t.consume("q", lambda d: None, prefetch=1)
    snap = broker.queue("q")
    assert snap is not None
    assert (snap.messages_ready, snap.messages_unacknowledged, snap.consumers) == (1, 2, 1)
    assert snap.durable and snap.arguments == {"x-max-length": 10}
    assert {x.name for x in broker.exchanges()} >= {"", "amq.direct", "amq.topic", "amq.match"}
    assert any(b.source == "" and b.destination == "q" for b in broker.bindings())
    assert len(broker.connections()) == 1 and broker.channels()[0].consumers == 1


def test_restart_closes_connections_with_connection_forced() -> None:
    broker = Broker()
    lost: list[msgbus.ConnectionEvent] = []
    t = MemoryTransport(broker, connection_listeners=[lost.append])
    t.declare_queue("q")
    broker.restart()
    t.declare_queue("q")  # the transport reconnects
    error = lost[1].error
    assert lost[1].state is msgbus.ConnectionState.LOST and isinstance(error, ConnectionClosed)
    assert error.reply_code == 320


def test_unsupported_header_values_are_refused_by_name() -> None:
    t = MemoryTransport(Broker())
    t.declare_queue("q")
    t.publish("", "q", b"kept")
    with pytest.raises(ValidationError, match=r"headers\['ratio'\] has a value of type float"):
        t.publish("", "q", b"x", Properties(headers={"ratio": 0.5}))
    with pytest.raises(ValidationError, match="message body must be bytes, got str"):
        t.publish("", "q", "text")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="queue name must be a str, got int"):
        t.declare_queue(5)  # type: ignore[arg-type]
    assert t.declare_queue("q").message_count == 1  # nothing lost, channel fine


def test_stale_delivery_tags_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    t = MemoryTransport(Broker())
    t.declare_queue("q")
    t.publish("", "q", b"x")
    delivery = t.get("q")
    assert delivery is not None
    with pytest.raises(msgbus.PreconditionFailed):
        t.ack(999)
    with caplog.at_level(logging.WARNING, logger="transports.memory"):
        t.ack(delivery.delivery_tag)
    assert "belongs to a closed channel" in caplog.text


def test_consumer_thread_and_producer_thread() -> None:
    broker = Broker()
    consumer, producer = MemoryTransport(broker), MemoryTransport(broker)
    consumer.declare_queue("work")
    got: list[bytes] = []
    done = threading.Event()

    def on_message(delivery: Delivery) -> None:
        got.append(delivery.body)
        consumer.ack(delivery.delivery_tag)
        if len(got) == 500:
            done.set()

    consumer.consume("work", on_message, prefetch=10)

    def consume_loop() -> None:
        while not done.is_set():
            consumer.process_events(0.05)

    thread = threading.Thread(target=consume_loop)
    thread.start()
    publishers = [threading.Thread(target=lambda n=n: [
        producer.publish("", "work", f"{n}-{i}".encode()) for i in range(250)]) for n in range(2)]
    for p in publishers:
        p.start()
    for p in publishers:
        p.join()
    assert done.wait(10)
    thread.join()
    assert sorted(got) == sorted(f"{n}-{i}".encode() for n in range(2) for i in range(250))
    assert broker.queue("work") is not None
