"""The nack storm: a quorum queue's leader node dies, and the channels that publish to the
queue in the moment after (the producer's, reconnected to another node) are nacked.

On RabbitMQ 3.10 such a channel nacks every later publish to that queue until the dead node
returns, while a channel opened a moment later is served by the new leader. The transport
leaves a channel it was nacked on (and a batch's confirm channel), so a producer that
publishes a nacked message again after a pause, pausing longer each time — what the README
asks of it — gets through while the old leader is still down.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from msgbus import errors
from msgbus.values import DeliveryMode, Properties, Publication
from tests.cluster.conftest import PATIENT, QUORUM, Cluster, Node
from tests.support import Names, drain_bodies
from transports.rabbitmq import RabbitMQTransport

pytestmark = pytest.mark.cluster

PERSISTENT = Properties(delivery_mode=DeliveryMode.PERSISTENT)
#: Publishing a message again this many times at most, pausing 0.1 s, 0.2 s, 0.4 s, ...
#: (13 s in all): the old leader stays down all along, and the storm must end before.
ATTEMPTS = 8


def _pause(attempt: int) -> None:
    """The producer's back-off before it publishes refused messages again."""
    time.sleep(0.1 * 2**attempt)


@pytest.fixture
def producer_on_dead_leader(
    cluster: Cluster, cluster_names: Names
) -> Iterator[tuple[RabbitMQTransport, str, Node]]:
    """A producer connected to the leader of a quorum queue, which is then killed."""
    q = cluster_names.queue()
    with RabbitMQTransport.from_url(cluster.url()) as setup:
        setup.declare_queue(q, durable=True, arguments=QUORUM)
    leader = cluster.leader(q)
    producer = RabbitMQTransport.from_url(cluster.url(leader), recovery=PATIENT)
    producer.declare_queue(q, durable=True, arguments=QUORUM)
    producer.publish("", q, b"before", PERSISTENT)
    cluster.kill(leader)
    yield producer, q, leader
    producer.close()


def _remaining(cluster: Cluster, dead: Node, q: str) -> list[bytes]:
    assert dead in cluster.down  # nothing here waited for the old leader to return
    with RabbitMQTransport.from_url(cluster.url(*cluster.up())) as reader:
        return drain_bodies(reader, q)


def test_single_publishes_get_through_while_the_old_leader_is_down(
    cluster: Cluster, producer_on_dead_leader: tuple[RabbitMQTransport, str, Node]
) -> None:
    producer, q, dead = producer_on_dead_leader
    refused: list[type[Exception]] = []
    for n in range(20):
        for attempt in range(ATTEMPTS):
            try:
                producer.publish("", q, b"%d" % n, PERSISTENT)
                break
            except (errors.ConnectionLost, errors.PublishNacked) as exc:
                refused.append(type(exc))  # not confirmed: publish it again
                _pause(attempt)
        else:
            pytest.fail(f"message {n} was refused {ATTEMPTS} times: {refused}")
    bodies = _remaining(cluster, dead, q)
    assert bodies[0] == b"before"
    assert set(bodies) == {b"before", *(b"%d" % n for n in range(20))}


def test_a_nacked_batch_gets_through_when_published_again(
    cluster: Cluster, producer_on_dead_leader: tuple[RabbitMQTransport, str, Node]
) -> None:
    producer, q, dead = producer_on_dead_leader
    batch = [Publication("", q, b"%d" % n, PERSISTENT) for n in range(50)]
    refused: list[set[type[Exception]]] = []
    for attempt in range(ATTEMPTS):
        try:
            producer.publish_batch(batch)
            break
        except errors.PublishBatchFailed as failure:  # publish the refused ones again
            refused.append({type(error) for _, _, error in failure.failed})
            batch = [publication for _, publication, _ in failure.failed]
            _pause(attempt)
    else:
        pytest.fail(f"the batch was refused {ATTEMPTS} times: {refused}")
    bodies = _remaining(cluster, dead, q)
    assert set(bodies) == {b"before", *(b"%d" % n for n in range(50))}
