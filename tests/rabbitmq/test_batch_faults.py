"""``publish_batch`` when the connection goes: nothing confirmed is lost, nothing unconfirmed
goes unreported (or, with ``republish_unconfirmed``, it is published again)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from msgbus import errors
from msgbus.values import Properties, Publication
from tests.rabbitmq.faults import PERSISTENT, Node, Recorder
from tests.support import Names, drain_bodies
from transports.rabbitmq import ConnectionState, RabbitMQTransport

pytestmark = pytest.mark.rabbitmq

DURABLE = Properties(delivery_mode=PERSISTENT)
BIG = 40_000  # long enough for rabbitmqctl to cut it off midway


def batch_of(queue: str, count: int) -> list[Publication]:
    return [Publication("", queue, b"%d" % i, DURABLE) for i in range(count)]


def test_a_batch_cut_off_names_every_message_then_the_transport_works(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    transport = open_transport()
    q = names.queue()
    transport.declare_queue(q, durable=True)
    node.close_all_connections()
    with pytest.raises(errors.PublishBatchFailed) as info:
        transport.publish_batch(batch_of(q, 5))
    assert [index for index, _m, _e in info.value.failed] == [0, 1, 2, 3, 4]
    assert {type(error) for _i, _m, error in info.value.failed} == {errors.ConnectionLost}
    assert "publish it again" in str(info.value)
    transport.publish_batch(batch_of(q, 2))
    assert drain_bodies(transport, q) == [b"0", b"1"]


def test_republish_unconfirmed_publishes_a_cut_off_batch_again(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    transport = open_transport(republish_unconfirmed=True)
    q = names.queue()
    transport.declare_queue(q, durable=True)
    node.close_all_connections()
    transport.publish_batch(batch_of(q, 5))
    assert drain_bodies(transport, q) == [b"0", b"1", b"2", b"3", b"4"]


def _cut_off_midway(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names,
    **options: object,
) -> tuple[str, RabbitMQTransport, int, errors.PublishBatchFailed | None]:
    """A batch that RabbitMQ cuts off once 1,000 of it are queued: (queue, transport, size of
    the batch, the error it raised). rabbitmqctl takes a second or more to act, and a busy
    machine may publish the whole batch meanwhile: then it is tried again, three times as
    long."""
    for size in (BIG, 3 * BIG, 9 * BIG):
        recorder = Recorder()
        transport = open_transport(connection_listeners=[recorder], **options)
        q = names.queue(f"batch-of-{size}")  # a queue of its own for each try
        transport.declare_queue(q, durable=True)
        watcher = open_transport()

        def kill_when_under_way(q: str = q, watcher: RabbitMQTransport = watcher) -> None:
            while watcher.declare_queue(q, durable=True, passive=True).message_count < 1_000:
                pass
            node.close_all_connections()

        killer = threading.Thread(target=kill_when_under_way, daemon=True)
        killer.start()
        failure = None
        try:
            transport.publish_batch(batch_of(q, size))
        except errors.PublishBatchFailed as exc:
            failure = exc
        killer.join(60)
        if ConnectionState.LOST in recorder.states():
            return q, transport, size, failure
    raise AssertionError("every batch ended before RabbitMQ cut its connection off")


def test_a_batch_cut_off_midway_reports_exactly_what_is_not_confirmed(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    q, transport, size, failure = _cut_off_midway(node, open_transport, names)
    assert failure is not None
    named = {index for index, _m, _e in failure.failed}
    assert {type(error) for _i, _m, error in failure.failed} == {errors.ConnectionLost}
    arrived = [int(body) for body in drain_bodies(transport, q)]
    confirmed = set(range(size)) - named
    assert confirmed <= set(arrived)  # nothing confirmed is lost
    assert 0 < len(confirmed) < size
    assert arrived == sorted(arrived)


def test_republish_unconfirmed_completes_a_batch_cut_off_midway(
    node: Node, open_transport: Callable[..., RabbitMQTransport], names: Names
) -> None:
    q, transport, size, failure = _cut_off_midway(
        node, open_transport, names, republish_unconfirmed=True)
    assert failure is None
    arrived = [int(body) for body in drain_bodies(transport, q)]
    assert set(arrived) == set(range(size))  # at least once
