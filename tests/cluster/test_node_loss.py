"""A node of a three-node cluster goes away, with ``Transport`` used directly: clients move
to another node, quorum queues keep their messages, classic queues on the lost node are
unreachable, and nothing confirmed is lost."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from msgbus import errors
from msgbus.recovery import ConnectionState
from msgbus.values import Delivery, DeliveryMode, Properties, Publication
from tests.cluster.conftest import PATIENT, QUORUM, Cluster, Recorder
from tests.support import Names, drain_bodies, wait_until
from transports.rabbitmq import RabbitMQTransport, RecoveryPolicy

pytestmark = pytest.mark.cluster

PERSISTENT = Properties(delivery_mode=DeliveryMode.PERSISTENT)


@pytest.fixture
def opened() -> Iterator[list[RabbitMQTransport]]:
    transports: list[RabbitMQTransport] = []
    yield transports
    for transport in transports:
        transport.close()


def _connect(opened: list[RabbitMQTransport], url: str, **options: object
             ) -> tuple[RabbitMQTransport, Recorder]:
    recorder = Recorder()
    options.setdefault("recovery", PATIENT)
    transport = RabbitMQTransport.from_url(
        url, connection_listeners=[recorder], **options)
    opened.append(transport)
    return transport, recorder


@dataclass
class Tally:
    """What the producer got confirmed, and what the consumer saw.

    Each publish of a message has a body of its own (``number.attempt``): a copy published
    again is a new message, which arrives without ``redelivered``; one delivered again
    must carry it.
    """

    confirmed: set[int] = field(default_factory=set)
    seen: dict[bytes, list[bool]] = field(default_factory=dict)  # body -> redelivered flags
    attempts: int = 0

    def body(self, number: int) -> bytes:
        self.attempts += 1
        return b"%d.%d" % (number, self.attempts)

    def processed(self) -> set[int]:
        return {int(body.partition(b".")[0]) for body in self.seen}

    def on_delivery(self, transport: RabbitMQTransport) -> Callable[[Delivery], None]:
        def record(delivery: Delivery) -> None:
            self.seen.setdefault(delivery.body, []).append(delivery.redelivered)
            transport.ack(delivery.delivery_tag)
        return record

    def check(self) -> None:
        missing = self.confirmed - self.processed()
        assert not missing, f"{len(missing)} confirmed messages never consumed"
        again = [body for body, flags in self.seen.items() if not all(flags[1:])]
        assert not again, f"messages {again[:10]} came again without redelivered"


def _publish(producer: RabbitMQTransport, queue: str, numbers: list[int], tally: Tally,
             batch: bool) -> None:
    """Publish ``numbers`` until each is confirmed: what a producer does with a message
    that raised ``ConnectionLost`` or ``PublishNacked`` is publish it again."""
    while numbers:
        if batch:
            try:
                producer.publish_batch(
                    [Publication("", queue, tally.body(n), PERSISTENT) for n in numbers])
                failed: list[int] = []
            except errors.PublishBatchFailed as failure:
                failed = [numbers[index] for index, _, _ in failure.failed]
            tally.confirmed.update(set(numbers) - set(failed))
            numbers = failed
        else:
            try:
                producer.publish("", queue, tally.body(numbers[0]), PERSISTENT)
            except (errors.ConnectionLost, errors.PublishNacked):
                continue
            tally.confirmed.add(numbers.pop(0))


def test_producer_and_consumer_move_when_their_nodes_stop(
    cluster: Cluster, cluster_names: Names, opened: list[RabbitMQTransport]
) -> None:
    a, b, c = cluster.nodes
    producer, producing = _connect(opened, cluster.url(a, b, c))
    consumer, consuming = _connect(opened, cluster.url(b, c, a))
    q = cluster_names.queue()
    producer.declare_queue(q, durable=True, arguments=QUORUM)
    consumer.declare_queue(q, durable=True, arguments=QUORUM)
    tally = Tally()
    handle = consumer.consume(q, tally.on_delivery(consumer), prefetch=50)
    # the faults strike from another thread while publishing and consuming go on: each
    # once another 100 messages are out and the one before is over
    faults = [(cluster.stop, a), (cluster.start, a), (cluster.stop, b), (cluster.start, b)]
    striker: threading.Thread | None = None
    start = 0
    while faults or striker is None or striker.is_alive() or start % 100:
        if start % 100 == 0 and faults and (striker is None or not striker.is_alive()):
            act, node = faults.pop(0)
            striker = threading.Thread(target=act, args=(node,), daemon=True)
            striker.start()
        numbers = list(range(start, start + 10))
        if start % 20:
            _publish(producer, q, numbers, tally, batch=True)
        else:
            for number in numbers:
                _publish(producer, q, [number], tally, batch=False)
        consumer.process_events(0.0)
        start += 10
    striker.join()
    wait_until(consumer, lambda: tally.confirmed <= tally.processed(), timeout=60)
    tally.check()
    assert handle.active
    # where each one went: the producer from a to b, then from b back to a (the first of
    # its URL, up again); the consumer from b to c, the next in its URL. (A cluster may
    # close a connection once more as a queue's leader moves: it comes back where it was.)
    assert cluster.path(producing)[:3] == [a, b, a], producing.events
    assert cluster.path(consuming)[:2] == [b, c], consuming.events
    assert all("guest:***@" in e.broker for e in producing.events + consuming.events)


def test_a_quorum_queue_keeps_its_messages_when_its_leader_stops(
    cluster: Cluster, cluster_names: Names, opened: list[RabbitMQTransport]
) -> None:
    q = cluster_names.queue()
    producer, _ = _connect(opened, cluster.url())
    producer.declare_queue(q, durable=True, arguments=QUORUM)
    producer.publish_batch([Publication("", q, b"%d" % n, PERSISTENT) for n in range(100)])
    leader = cluster.leader(q)
    cluster.stop(leader)
    other = next(n for n in cluster.nodes if n is not leader)
    reader, _ = _connect(opened, other.own_url, recovery=RecoveryPolicy())
    reader.declare_queue(q, durable=True, arguments=QUORUM)  # its count may read 0 a moment
    bodies: list[bytes] = []

    def take() -> bool:
        # a get may meet the leader's move: RabbitMQ closes the connection (541); should
        # that happen more often than the call reconnects, it raises: get again
        with contextlib.suppress(errors.ConnectionLost):
            while (delivery := reader.get(q, auto_ack=True)) is not None:
                bodies.append(delivery.body)
        return len(bodies) >= 100

    wait_until(reader, take)
    assert bodies == [b"%d" % n for n in range(100)]
    assert cluster.leader(q) is not leader


def test_a_classic_queue_on_a_stopped_node_is_unreachable(
    cluster: Cluster, cluster_names: Names, opened: list[RabbitMQTransport]
) -> None:
    a, _, c = cluster.nodes
    q = cluster_names.queue()
    on_c, _ = _connect(opened, c.own_url)
    on_c.declare_queue(q, durable=True)  # a classic queue lives on the node that declared it
    on_c.publish("", q, b"kept", PERSISTENT)
    cluster.stop(c)
    other, _ = _connect(opened, cluster.url(a))
    # RabbitMQ's text (in the moment the node goes down, the second one)
    texts = (f"home node '{c.name}' of durable queue '{q}' in vhost '/' is down or inaccessible",
             f"queue '{q}' in vhost '/' process is stopped by supervisor")
    down = "NOT_FOUND - (?:" + "|".join(re.escape(text) for text in texts) + ")"
    with pytest.raises(errors.NotFound, match=down):
        other.declare_queue(q, durable=True)
    with pytest.raises(errors.NotFound, match=down):
        other.declare_queue(q, passive=True)
    with pytest.raises(errors.NotFound, match=down):
        other.get(q)
    with pytest.raises(errors.NotFound, match=down):
        other.consume(q, lambda delivery: None)
    with pytest.raises(errors.Unroutable, match="312 NO_ROUTE"):
        other.publish("", q, b"mandatory", PERSISTENT, mandatory=True)
    with pytest.raises(errors.PublishBatchFailed) as batch:
        other.publish_batch([Publication("", q, b"mandatory", PERSISTENT)], mandatory=True)
    assert isinstance(batch.value.failed[0][2], errors.Unroutable)
    # not mandatory: RabbitMQ confirms the message, and drops it
    other.publish("", q, b"confirmed and dropped", PERSISTENT)
    cluster.start(c)
    assert drain_bodies(other, q) == [b"kept"]


def test_unacked_messages_come_back_redelivered_when_the_consumers_node_stops(
    cluster: Cluster, cluster_names: Names, opened: list[RabbitMQTransport]
) -> None:
    a, b, c = cluster.nodes
    q = cluster_names.queue()
    consumer, consuming = _connect(opened, cluster.url(b, c, a))
    consumer.declare_queue(q, durable=True, arguments=QUORUM)
    consumer.publish_batch([Publication("", q, b"%d" % n, PERSISTENT) for n in range(10)])
    held: list[Delivery] = []
    consumer.consume(q, held.append, prefetch=10)
    wait_until(consumer, lambda: len(held) == 10)
    assert not any(d.redelivered for d in held)
    cluster.stop(b)  # with the ten messages unacknowledged
    wait_until(consumer, lambda: len(held) == 20, timeout=60)
    again = held[10:]
    assert sorted(d.body for d in again) == sorted(d.body for d in held[:10])
    assert all(d.redelivered for d in again)
    for delivery in again:
        consumer.ack(delivery.delivery_tag)
    assert cluster.path(consuming)[:2] == [b, c], consuming.events
    consumer.process_events(0.1)
    assert consumer.declare_queue(q, passive=True).message_count == 0


@pytest.mark.parametrize("republish", [False, True], ids=["raise", "republish"])
def test_a_broker_close_with_541_is_a_lost_connection(
    cluster: Cluster, cluster_names: Names, opened: list[RabbitMQTransport], republish: bool
) -> None:
    a = cluster.nodes[0]
    q = cluster_names.queue()
    producer, producing = _connect(opened, cluster.url(a), republish_unconfirmed=republish)
    producer.declare_queue(q, durable=True, arguments=QUORUM)
    consumer, _ = _connect(opened, cluster.url(a))
    got: list[Delivery] = []
    handle = consumer.consume(q, got.append, auto_ack=True)
    producer.publish("", q, b"before", PERSISTENT)
    wait_until(consumer, lambda: len(got) == 1)
    cluster.kill_channels(a)  # every connection to a closes with 541 INTERNAL_ERROR
    if republish:
        producer.publish("", q, b"after", PERSISTENT)
    else:
        with pytest.raises(errors.ConnectionLost, match="publish it again"):
            producer.publish("", q, b"maybe", PERSISTENT)
        producer.publish("", q, b"after", PERSISTENT)
    wait_until(consumer, lambda: got[-1].body == b"after")
    assert handle.active
    lost = producing.of(ConnectionState.LOST)
    assert len(lost) == 1 and isinstance(lost[0].error, errors.InternalError)
    assert lost[0].error.reply_code == 541
    assert [cluster.reached(e) for e in producing.of(ConnectionState.RECOVERED)] == [a]
    assert producer.is_open
