"""The application layer on a three-node cluster: a producer (single messages and batches) and
a processor on a quorum queue, through a URL of the three nodes, while the node each one is
connected to stops and comes back. The same application code runs on the in-process broker,
which accepts the same quorum-queue declarations (there, nothing stops)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from msgbus import (
    ConnectionLost,
    Exchange,
    GenericConsumer,
    GenericProducer,
    MessageHandler,
    MessageProcessor,
    PublishBatchFailed,
    PublishNacked,
)
from msgbus.transport import Transport
from msgbus.values import Delivery
from tests.app.conftest import pump
from tests.cluster.conftest import PATIENT, QUORUM, Cluster, Recorder
from tests.support import Names
from transports.memory import Broker, MemoryTransport
from transports.rabbitmq import RabbitMQTransport


class Jobs(MessageProcessor):
    """Records the job numbers it handled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.done: set[int] = set()

    @MessageHandler("command", "job")
    def job(self, content: Any) -> None:
        self.done.add(content["parameters"]["args"][0])


class Witness(GenericConsumer):
    """A consumer that records each delivery's body and ``redelivered`` flag."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flags: dict[bytes, list[bool]] = {}

    def start_consuming(self, callback: Callable[[Delivery], None]) -> None:
        def witness(delivery: Delivery) -> None:
            self.flags.setdefault(delivery.body, []).append(delivery.redelivered)
            callback(delivery)
        super().start_consuming(witness)


def _job_number(body: bytes) -> int:
    number: int = json.loads(body)["content"]["parameters"]["args"][0]
    return number


def _send(producer: GenericProducer, numbers: list[int], batch: bool, attempt: list[int]
          ) -> set[int]:
    """Send jobs ``numbers`` until each is confirmed, as an application does: a job that
    raised ``ConnectionLost`` or ``PublishNacked`` (or failed in a batch) is sent again.
    Each send carries a number of its own, so that every copy is a distinct message."""
    confirmed: set[int] = set()
    while numbers:
        attempt[0] += 1
        if batch:
            try:
                with producer.batch(size=len(numbers)):
                    for n in numbers:
                        producer.message_job(n, attempt[0])
                failed: list[int] = []
            except PublishBatchFailed as failure:
                failed = [_job_number(publication.body) for _, publication, _ in failure.failed]
            confirmed.update(set(numbers) - set(failed))
            numbers = failed
        else:
            try:
                producer.message_job(numbers[0], attempt[0])
            except (ConnectionLost, PublishNacked):
                continue
            confirmed.add(numbers.pop(0))
    return confirmed


def _run(make: Callable[[str], Transport], first: str, second: str, queue: str,
         fault: Callable[[int], None]) -> tuple[Jobs, Witness, set[int]]:
    """The application: jobs sent to a quorum queue, 20 at a time, alternately one by one
    and as a batch; ``fault(n)`` runs before the n-th group."""

    class Work(Exchange):
        name = queue  # a durable direct exchange named after the queue
        exchange_type = "direct"

    class Producer(GenericProducer):
        eks = [(Work, "job")]
        persistent = True

    spec = {"name": queue, "flags": {"durable": True, "arguments": QUORUM}}
    witness = Witness(eqk=[(Work, [(spec, "job")])], transport=make(second), prefetch=20)
    processor = Jobs(consumer=witness)
    processor.process_events()
    producer = Producer(transport=make(first))
    confirmed: set[int] = set()
    attempt = [0]
    for group in range(20):
        fault(group)
        numbers = list(range(group * 20, group * 20 + 20))
        confirmed |= _send(producer, numbers, batch=bool(group % 2), attempt=attempt)
        processor.process_events()
    pump(processor, until=lambda: confirmed <= processor.done, timeout=60)
    producer.close()
    return processor, witness, confirmed


@pytest.fixture
def transports() -> Iterator[list[Transport]]:
    made: list[Transport] = []
    yield made
    for transport in made:
        transport.close()


@pytest.mark.cluster
def test_an_application_loses_nothing_when_its_nodes_stop(
    cluster: Cluster, cluster_names: Names, transports: list[Transport]
) -> None:
    a, b, c = cluster.nodes
    recorders = {"producer": Recorder(), "processor": Recorder()}
    order = {"producer": (a, b, c), "processor": (b, c, a)}

    def make(role: str) -> Transport:
        transport = RabbitMQTransport.from_url(
            cluster.url(*order[role]), recovery=PATIENT, connection_listeners=[recorders[role]])
        transports.append(transport)
        return transport

    faults = {5: (cluster.stop, a), 8: (cluster.start, a), 11: (cluster.stop, b),
              14: (cluster.start, b)}

    def fault(group: int) -> None:
        if group in faults:
            act, node = faults[group]
            act(node)

    processor, witness, confirmed = _run(make, "producer", "processor", cluster_names.queue(),
                                         fault)
    cluster_names.exchanges.append(cluster_names.queues[-1])
    assert confirmed == set(range(400))
    assert confirmed <= processor.done
    again = [body for body, flags in witness.flags.items() if not all(flags[1:])]
    assert not again, f"{len(again)} messages came again without redelivered"
    # the producer: from a to b, and from b back to a (up again, the first of its URL);
    # the processor: from b to c, the next of its URL
    assert cluster.path(recorders["producer"])[:3] == [a, b, a], recorders["producer"].events
    assert cluster.path(recorders["processor"])[:2] == [b, c], recorders["processor"].events


def test_the_same_application_runs_on_the_in_process_broker(
    transports: list[Transport]
) -> None:
    broker = Broker()

    def make(_role: str) -> Transport:
        transport = MemoryTransport(broker)
        transports.append(transport)
        return transport

    processor, witness, confirmed = _run(make, "producer", "processor", "jobs", lambda _: None)
    assert confirmed == processor.done == set(range(400))
    assert not any(flag for flags in witness.flags.values() for flag in flags)
    (info,) = [q for q in broker.queues() if q.name == "jobs"]
    assert info.arguments == QUORUM
